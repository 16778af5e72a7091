// IP assignment (PROTOCOL-VL2.md §9): pool walk from the member address, .255 skipped, routes decide the
// prefix, manual assignments, rfc4193 and 6plane derivations, IPv6 pools.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { planConfig } from '../../service/controller/config-plan.js';
import { FileDb } from '../../service/controller/file-db.js';
import {
  allocateIpv4,
  allocateIpv6,
  formatCidr,
  formatIp,
  type Ip,
  ipKey,
  parseCidr,
  parseIp,
  type Route,
  rfc4193Address,
  sixPlaneAddress,
} from '../../service/controller/ip.js';
import type { JsonObject } from '../../service/controller/json.js';
import { applyNetworkPost, initMember } from '../../service/controller/records.js';
import { controllerVector } from '../helpers/controller-fixtures.js';

const NWID = 0x29077f37cd90d431n;
const A = 0x664dc8ba71;
const B = 0xcaf2d0093e;
const pool = (s: string, e: string) => ({ start: parseIp(s)!, end: parseIp(e)! });
const route = (target: string, via?: string): Route => ({
  target: parseCidr(target)!,
  via: via ? parseIp(via)! : null,
});
const none = () => false;

test('the vector pool gives A 10.77.0.91/24 and B 10.77.0.216/24', (t) => {
  const pools = [pool('10.77.0.10', '10.77.0.250')];
  const routes = [route('10.77.0.0/24')];
  t.is(formatCidr(allocateIpv4(pools, routes, A, none)!), '10.77.0.91/24');
  t.is(formatCidr(allocateIpv4(pools, routes, B, none)!), '10.77.0.216/24');
  // Live example: 0x5220bbf4 mod 253 = 18 → 10.6.0.19 in 10.6.0.1-254.
  t.is(
    formatCidr(allocateIpv4([pool('10.6.0.1', '10.6.0.254')], [route('10.6.0.0/24')], 0x385220bbf4, none)!),
    '10.6.0.19/24',
  );
});

test('taken addresses and .255 are skipped; no route or a zero-prefix route gives nothing', (t) => {
  const pools = [pool('10.77.0.10', '10.77.0.250')];
  const routes = [route('10.77.0.0/24')];
  const taken = new Set(['10.77.0.91', '10.77.0.92']);
  t.is(formatIp(allocateIpv4(pools, routes, A, (ip: Ip) => taken.has(ipKey(ip)))!.ip), '10.77.0.93');
  // A pool whose walk lands on .255 moves on.
  const p255 = [pool('10.1.0.250', '10.1.1.10')];
  const start = 0x0a0100fa;
  const addrFor255 = 0x0a0100ff - start; // counter mod len = 5 → 10.1.0.255
  t.is(formatIp(allocateIpv4(p255, [route('10.1.0.0/16')], addrFor255, none)!.ip), '10.1.1.0');
  t.is(allocateIpv4(pools, [], A, none), undefined);
  t.is(allocateIpv4(pools, [route('10.99.0.0/24')], A, none), undefined);
  t.is(allocateIpv4([pool('10.77.0.250', '10.77.0.10')], routes, A, none), undefined, 'end < start skipped');
  t.is(allocateIpv4([pool('0.0.0.0', '10.77.0.10')], routes, A, none), undefined, 'start 0.0.0.0 skipped');
  t.is(formatIp(allocateIpv4([pool('10.77.0.7', '10.77.0.7')], routes, A, none)!.ip), '10.77.0.7', 'one-address pool');
});

test('rfc4193 and 6plane addresses match the live examples', (t) => {
  t.is(formatCidr(rfc4193Address(0x385220bbf4d0bfe5n, 0x385220bbf4)), 'fd38:5220:bbf4:d0bf:e599:9338:5220:bbf4/88');
  t.is(formatCidr(sixPlaneAddress(0x385220bbf4d0bfe5n, 0x385220bbf4)), 'fccc:829f:5e38:5220:bbf4::1/40');
});

test('IPv6 pool: the member address goes into the low 64 bits first', (t) => {
  const pools = [pool('fd11::', 'fd11::ffff:ffff:ffff:ffff')];
  const routes = [route('fd11::/64')];
  t.is(formatCidr(allocateIpv6(pools, routes, 0x385220bbf4, none, () => 7n)!), 'fd11::38:5220:bbf4/64');
  // A route with a via does not count; a small pool is tried at random.
  t.is(
    allocateIpv6(pools, [route('fd11::/64', 'fd11::1')], 0x385220bbf4, none, () => 7n),
    undefined,
  );
  const small = allocateIpv6([pool('fd11::10', 'fd11::20')], routes, A, none, () => 5n)!;
  t.is(formatIp(small.ip), 'fd11::15');
});

function plan(networkBody: JsonObject, member: JsonObject, address = A, allocated: string[] = []) {
  const network = applyNetworkPost(undefined, NWID, networkBody, 1);
  network.revision = 1;
  return planConfig({
    network,
    member,
    newMember: false,
    networkId: NWID,
    address,
    now: 1000,
    rulesEngineRevision: 1n,
    allocated: new Set(allocated),
    activeBridges: [],
    random64: () => 3n,
  });
}

test('plan: the vector network gives A its pool address and records it in ipAssignments', (t) => {
  const body = JSON.parse(controllerVector('api-requests.txt').split('\n')[3]!);
  const member = initMember({}, 1);
  const p = plan(body, member);
  t.deepEqual(p.staticIps.map(formatCidr), ['10.77.0.91/24']);
  t.deepEqual(member.ipAssignments, ['10.77.0.91']);
  t.deepEqual(
    p.routes.map((r) => formatCidr(r.target)),
    ['10.77.0.0/24'],
  );
  t.is(p.flags, 0x02);
  t.is(p.mtu, 2800);
  t.is(p.multicastLimit, 32);
  t.is(p.credentialTimeMaxDelta, 1_800_000);
  t.is(p.type, 0);
  // A second request keeps the same address and adds nothing.
  const again = plan(body, member, A, ['10.77.0.91']);
  t.deepEqual(again.staticIps.map(formatCidr), ['10.77.0.91/24']);
  t.deepEqual(member.ipAssignments, ['10.77.0.91']);
});

test('plan: order rfc4193, 6plane, manual, pools; manual IPs take the most specific route; noAutoAssignIps', (t) => {
  const body = {
    v4AssignMode: { zt: true },
    v6AssignMode: { zt: true, '6plane': true, rfc4193: true },
    ipAssignmentPools: [
      { ipRangeStart: '10.5.0.10', ipRangeEnd: '10.5.0.20' },
      { ipRangeStart: 'fd11::', ipRangeEnd: 'fd11::ffff:ffff:ffff:ffff' },
    ],
    routes: [{ target: '10.5.0.0/16' }, { target: '10.5.0.0/24' }, { target: 'fd11::/64' }],
  };
  const member = initMember({ ipAssignments: ['10.5.0.77', '192.168.1.1'] }, 1);
  const p = plan(body, member);
  t.deepEqual(p.staticIps.map(formatCidr), [
    formatCidr(rfc4193Address(NWID, A)),
    formatCidr(sixPlaneAddress(NWID, A)),
    '10.5.0.77/24',
    'fd11::66:4dc8:ba71/64',
  ]);
  t.is(p.flags, 0x02 | 0x04);
  t.deepEqual(member.ipAssignments, ['10.5.0.77', '192.168.1.1', 'fd11::66:4dc8:ba71']);
  const quiet = initMember({ noAutoAssignIps: true, ipAssignments: ['10.5.0.77'] }, 1);
  t.deepEqual(plan(body, quiet).staticIps.map(formatCidr), ['10.5.0.77/24']);
});

test('plan: tags and capabilities, defaults added to the member, legacy members get accept-all only', (t) => {
  const body = {
    rules: [{ type: 'ACTION_DROP' }],
    tags: [
      { id: 1000, default: 2 },
      { id: 1001, default: null },
    ],
    capabilities: [
      { id: 7, default: true, rules: [{ type: 'ACTION_ACCEPT' }] },
      { id: 3, rules: [] },
    ],
  };
  const network = applyNetworkPost(undefined, NWID, body, 1);
  const member = initMember({ tags: [[1001, 9]], capabilities: [3] }, 1);
  const inputs = {
    network,
    member,
    newMember: true,
    networkId: NWID,
    address: A,
    now: 5,
    rulesEngineRevision: 1n,
    allocated: new Set<string>(),
    activeBridges: [B, 0x1111111111],
    random64: () => 1n,
  };
  const p = planConfig(inputs);
  t.deepEqual(p.tags, [
    { id: 1000, value: 2 },
    { id: 1001, value: 9 },
  ]);
  t.deepEqual(member.tags, [
    [1001, 9],
    [1000, 2],
  ]);
  t.deepEqual(
    p.capabilities.map((c) => c.id),
    [3, 7],
  );
  t.deepEqual(member.capabilities, [3, 7]);
  t.deepEqual(p.specialists, [0x1111111111n | 0x0000020000000000n, BigInt(B) | 0x0000020000000000n]);
  t.is(p.rules.length, 1);
  const legacy = planConfig({ ...inputs, member: initMember({}, 1), rulesEngineRevision: 0n });
  t.deepEqual(legacy.rules, [{ not: false, or: false, type: 'ACTION_ACCEPT' }]);
  t.deepEqual(legacy.tags, []);
  t.deepEqual(legacy.capabilities, []);
});

test('3000 members drawing from one pool get distinct addresses (allocation index in the store)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netcon-pool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { db } = await FileDb.open(dir);
  const hex = '29077f37cd90d431';
  const network = applyNetworkPost(
    undefined,
    NWID,
    {
      v4AssignMode: { zt: true },
      ipAssignmentPools: [{ ipRangeStart: '10.1.0.1', ipRangeEnd: '10.1.15.254' }],
      routes: [{ target: '10.1.0.0/20' }],
    },
    1,
  );
  await db.saveNetwork(network);
  const seen = new Set<string>();
  const started = Date.now();
  let x = 0x1234567;
  for (let i = 0; i < 3000; i++) {
    x = (x * 48271) % 0x7fffffff;
    const address = x * 256 + (i & 0xff);
    const member = initMember({ id: address.toString(16).padStart(10, '0'), nwid: hex }, 1);
    const p = planConfig({
      network,
      member,
      newMember: true,
      networkId: NWID,
      address,
      now: 1,
      rulesEngineRevision: 1n,
      allocated: { has: (ip) => db.isAllocated(hex, ip) },
      activeBridges: [],
      random64: () => 0n,
    });
    t.is(p.staticIps.length, 1);
    const ip = formatIp(p.staticIps[0]!.ip);
    t.false(seen.has(ip), ip);
    seen.add(ip);
    t.true(db.isAllocated(hex, ip) === false);
    void db.saveMember(member);
  }
  await db.flush();
  t.log(`3000 allocations in ${Date.now() - started} ms`);
  t.true(db.isAllocated(hex, [...seen][0]!));
});
