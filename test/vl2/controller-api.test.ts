// The controller's JSON API against ZeroTier One 1.14.1's answers (vectors/controller): shapes, key order,
// defaults, re-rendering of posted values, status codes and empty bodies.
import test from 'ava';
import { EmbeddedController } from '../../service/controller/controller.js';
import { decodeNetworkConfig } from '../../service/core/vl2/network-config.js';
import type { ApiRequest, ApiResponse, Method } from '../../service/daemon/api.js';
import {
  controllerVector,
  METADATA_1_14_1,
  RecordingSender,
  tempHome,
  vectorIdentity,
} from '../helpers/controller-fixtures.js';

const R = vectorIdentity('node-R');
const NWID = '29077f37cd90d431';
const NWID_N = 0x29077f37cd90d431n;
const CREATE_BODY = JSON.parse(controllerVector('api-requests.txt').split('\n')[3]!);
const CREATE_RESPONSE = controllerVector('api-requests.txt').split('\n')[5]!;

async function setup(t: Parameters<typeof tempHome>[0], start = 1_795_300_912_191) {
  const clock = { now: start };
  const { controller } = await EmbeddedController.open({ home: tempHome(t), identity: R, clock: () => clock.now });
  const call = async (method: Method, path: string, body?: unknown): Promise<ApiResponse> => {
    const req: ApiRequest = { method, segments: path.split('/').filter((s) => s.length > 0), body };
    const r = await controller.route(req);
    if (!r) throw new Error(`no route for ${method} ${path}`);
    return r;
  };
  return { controller, clock, call };
}

test('network created at a fixed ID and time equals the 1.14.1 creation response byte for byte', async (t) => {
  const { call } = await setup(t);
  const r = await call('POST', `/controller/network/${NWID}`, CREATE_BODY);
  t.is(r.status, 200);
  t.is(r.text, CREATE_RESPONSE);
  t.is((await call('GET', `/controller/network/${NWID}`)).text, CREATE_RESPONSE);
  t.deepEqual(
    JSON.parse((await call('GET', `/controller/network/${NWID}`)).text!),
    JSON.parse(controllerVector(`controller-network-${NWID}.json`)),
  );
  t.deepEqual(
    JSON.parse((await call('GET', '/controller/network')).text!),
    JSON.parse(controllerVector('controller-network-list.json')),
  );
});

test('POST <address>______ creates a fresh ID under this controller; another address is 400 with no body', async (t) => {
  const { call } = await setup(t);
  const r = await call('POST', '/controller/network/29077f37cd______', CREATE_BODY);
  t.is(r.status, 200);
  const n = JSON.parse(r.text!);
  t.regex(n.id, /^29077f37cd[0-9a-f]{6}$/);
  t.not(n.id, '29077f37cd000000');
  t.is(n.nwid, n.id);
  t.is(n.revision, 1);
  const expected = JSON.parse(CREATE_RESPONSE);
  t.deepEqual({ ...n, id: NWID, nwid: NWID }, expected);
  const bad = await call('POST', '/controller/network/664dc8ba71______', CREATE_BODY);
  t.is(bad.status, 400);
  t.is(bad.text, '');
  const plain = await call('POST', '/controller/network', { name: 'x' });
  t.regex(JSON.parse(plain.text!).id, /^29077f37cd/);
  t.is(JSON.parse((await call('GET', '/controller/network')).text!).length, 2);
});

test('GET /controller is the tab-indented text of 1.14.1', async (t) => {
  const { call } = await setup(t, 1_795_301_114_233);
  const r = await call('GET', '/controller');
  t.is(r.status, 200);
  t.is(r.text, `${JSON.stringify(JSON.parse(controllerVector('controller.json')), null, '\t')}\n`);
});

test('members: authorize by API, list, get, 404 with an empty body, delete', async (t) => {
  const { call, clock } = await setup(t);
  await call('POST', `/controller/network/${NWID}`, CREATE_BODY);
  t.is((await call('GET', `/controller/network/${NWID}/member/664dc8ba71`)).status, 404);
  t.is((await call('GET', `/controller/network/${NWID}/member/664dc8ba71`)).text, '');
  t.is((await call('GET', `/controller/network/0000000000000001/member`)).status, 404);
  t.is(
    (await call('POST', `/controller/network/0000000000000001/member/664dc8ba71`, { authorized: true })).status,
    404,
  );

  // B in the capture: authorized through the API before its first request.
  clock.now = 1_795_300_974_405;
  const b = await call('POST', `/controller/network/${NWID}/member/caf2d0093e`, { authorized: true });
  t.is(b.status, 200);
  const expectB = JSON.parse(controllerVector(`controller-network-${NWID}-member-caf2d0093e.json`));
  const gotB = JSON.parse(b.text!);
  t.deepEqual(
    Object.keys(gotB),
    Object.keys(expectB).filter((k) => k !== 'identity'),
  );
  for (const k of [
    'authorized',
    'lastAuthorizedCredentialType',
    'lastAuthorizedTime',
    'creationTime',
    'nwid',
    'objtype',
  ])
    t.deepEqual(gotB[k], expectB[k], k);
  t.is(gotB.revision, 1);
  t.deepEqual(gotB.ipAssignments, []);
  t.is(gotB.vMajor, -1);

  t.deepEqual(JSON.parse((await call('GET', `/controller/network/${NWID}/member`)).text!), { caf2d0093e: 1 });
  // Same body again: nothing changes, revision stays.
  t.is(
    JSON.parse((await call('POST', `/controller/network/${NWID}/member/caf2d0093e`, { authorized: true })).text!)
      .revision,
    1,
  );
  const del = await call('DELETE', `/controller/network/${NWID}/member/caf2d0093e`);
  t.is(del.status, 200);
  t.is(JSON.parse(del.text!).id, 'caf2d0093e');
  t.is((await call('DELETE', `/controller/network/${NWID}/member/caf2d0093e`)).status, 404);
  t.deepEqual(JSON.parse((await call('GET', `/controller/network/${NWID}/member`)).text!), {});
});

test('deauthorizing records the time; authorizing sets the api credential type', async (t) => {
  const { call, clock } = await setup(t);
  await call('POST', `/controller/network/${NWID}`, CREATE_BODY);
  clock.now += 1000;
  const a = JSON.parse(
    (await call('POST', `/controller/network/${NWID}/member/664dc8ba71`, { authorized: true })).text!,
  );
  t.is(a.lastAuthorizedTime, clock.now);
  t.is(a.lastAuthorizedCredentialType, 'api');
  clock.now += 1000;
  const d = JSON.parse(
    (await call('POST', `/controller/network/${NWID}/member/664dc8ba71`, { authorized: false })).text!,
  );
  t.false(d.authorized);
  t.is(d.lastDeauthorizedTime, clock.now);
  t.is(d.lastAuthorizedTime, a.lastAuthorizedTime);
  t.is(d.revision, 2);
});

test('values that would change what a network means get 400 naming the field, and nothing is stored', async (t) => {
  const { call } = await setup(t);
  await call('POST', `/controller/network/${NWID}`, CREATE_BODY);
  await call('POST', `/controller/network/${NWID}/member/664dc8ba71`, { authorized: true });
  const before = (await call('GET', `/controller/network/${NWID}`)).text;
  const memberBefore = (await call('GET', `/controller/network/${NWID}/member/664dc8ba71`)).text;
  const cases: [Record<string, unknown>, string][] = [
    [{ rules: 'x' }, 'rules'],
    [{ rules: { type: 'ACTION_ACCEPT' } }, 'rules'],
    [{ rules: [{ type: 'BOGUS' }] }, 'rules[0].type'],
    [{ rules: [{ type: 'ACTION_ACCEPT' }, 'not an object'] }, 'rules[1]'],
    [{ rules: [{ not: true }] }, 'rules[0].type'],
    [{ rules: [{ type: 'ACTION_PRIORITY' }] }, 'rules[0].type'],
    [{ rules: [{ type: 'MATCH_IPV4_DEST', ip: '10.1.2.3' }, { type: 'ACTION_DROP' }] }, 'rules[0].ip'],
    [{ rules: [{ type: 'MATCH_IPV4_DEST', ip: 'fd00::/8' }] }, 'rules[0].ip'],
    [{ rules: [{ type: 'MATCH_IP_DEST_PORT_RANGE', start: 'ssh' }] }, 'rules[0].start'],
    [{ rules: [{ type: 'MATCH_IP_DEST_PORT_RANGE', start: 80, end: 22 }] }, 'rules[0].end'],
    [{ rules: [{ type: 'MATCH_ETHERTYPE', etherType: 70000 }] }, 'rules[0].etherType'],
    [{ rules: [{ type: 'MATCH_MAC_SOURCE', mac: 'nope' }] }, 'rules[0].mac'],
    [{ rules: [{ type: 'ACTION_TEE', address: 'zz' }] }, 'rules[0].address'],
    [{ rules: [{ type: 'ACTION_ACCEPT', not: 'maybe' }] }, 'rules[0].not'],
    [{ rules: [{ type: 'MATCH_ETHERTYPE', etherType: 2048, not: 'yes' }] }, 'rules[0].not'],
    [{ capabilities: [{ id: 1, rules: [{ type: 'BOGUS' }] }] }, 'capabilities[0].rules[0].type'],
    [{ routes: 'x' }, 'routes'],
    [{ routes: [{ target: 'nonsense' }] }, 'routes[0].target'],
    [{ routes: [{ target: '10.6.0.0/33' }] }, 'routes[0].target'],
    [{ routes: [{ target: '10.6.0.0' }] }, 'routes[0].target'],
    [{ routes: [{ target: 'fd00::/8', via: '10.5.0.1' }] }, 'routes[0].via'],
    [{ routes: ['x'] }, 'routes[0]'],
    [{ ipAssignmentPools: [{ ipRangeStart: '10.5.0.10' }] }, 'ipAssignmentPools[0].ipRangeEnd'],
    [{ ipAssignmentPools: [{ ipRangeStart: '10.5.0.10', ipRangeEnd: 'fd00::ff' }] }, 'ipAssignmentPools[0].ipRangeEnd'],
    [{ ipAssignmentPools: [{ ipRangeStart: 'x', ipRangeEnd: '10.5.0.1' }] }, 'ipAssignmentPools[0].ipRangeStart'],
    [
      { ipAssignmentPools: [{ ipRangeStart: '10.5.0.20', ipRangeEnd: '10.5.0.10' }] },
      'ipAssignmentPools[0].ipRangeEnd',
    ],
    [{ private: 'nope' }, 'private'],
    [{ multicastLimit: 'many' }, 'multicastLimit'],
    [{ v4AssignMode: 5 }, 'v4AssignMode'],
    [{ v6AssignMode: 'rfc4193,bogus' }, 'v6AssignMode'],
  ];
  for (const [body, field] of cases) {
    const r = await call('POST', `/controller/network/${NWID}`, { name: 'changed', ...body });
    t.is(r.status, 400, JSON.stringify(body));
    t.is(JSON.parse(r.text!).field, field, JSON.stringify(body));
  }
  t.is((await call('GET', `/controller/network/${NWID}`)).text, before, 'the network is unchanged');
  for (const [body, field] of [
    [{ ipAssignments: ['bogus'] }, 'ipAssignments[0]'],
    [{ ipAssignments: [5] }, 'ipAssignments[0]'],
    [{ ipAssignments: '10.0.0.1' }, 'ipAssignments'],
    [{ authorized: 'nope' }, 'authorized'],
    [{ tags: [[5]] }, 'tags[0]'],
  ] as [Record<string, unknown>, string][]) {
    const r = await call('POST', `/controller/network/${NWID}/member/664dc8ba71`, { name: 'changed', ...body });
    t.is(r.status, 400, JSON.stringify(body));
    t.is(JSON.parse(r.text!).field, field, JSON.stringify(body));
  }
  t.is(
    (await call('GET', `/controller/network/${NWID}/member/664dc8ba71`)).text,
    memberBefore,
    'the member is unchanged',
  );
  // A network created with a bad body does not exist afterwards.
  const created = await call('POST', `/controller/network/${NWID.slice(0, 10)}______`, { rules: 'x' });
  t.is(created.status, 400);
  t.deepEqual(JSON.parse((await call('GET', '/controller/network')).text!), [NWID]);
});

test('network fields are coerced and re-rendered as ZeroTier One does', async (t) => {
  const { call } = await setup(t);
  const r = await call('POST', `/controller/network/${NWID}`, {
    name: 42,
    private: 0,
    enableBroadcast: 'false',
    multicastLimit: '16',
    mtu: 99999,
    remoteTraceTarget: 'short',
    v4AssignMode: 'zt',
    v6AssignMode: 'rfc4193,6plane,6plane',
    routes: [
      { target: '10.5.0.0/16', via: null },
      { target: '192.168.50.0/24', via: '10.5.0.1' },
      { target: 'fd00::/8', via: '' },
    ],
    ipAssignmentPools: [
      { ipRangeStart: '10.5.0.10', ipRangeEnd: '10.5.0.20' },
      { ipRangeStart: 'fd00:0000::1', ipRangeEnd: 'fd00::ff' },
    ],
    tags: [
      { id: 1001, default: 9 },
      { id: 1000, default: null },
    ],
    capabilities: [
      { id: 7, default: true, rules: [{ type: 'ACTION_ACCEPT' }] },
      { id: 3, rules: [] },
    ],
    authTokens: { abc: 0, neg: -1, str: 'x' },
    dns: { domain: 'example.zt', servers: ['10.5.0.1'] },
  });
  const n = JSON.parse(r.text!);
  t.is(n.name, '42');
  t.false(n.private);
  t.false(n.enableBroadcast);
  t.is(n.multicastLimit, 16);
  t.is(n.mtu, 10000);
  t.is(n.remoteTraceTarget, null);
  t.deepEqual(n.v4AssignMode, { zt: true });
  t.deepEqual(n.v6AssignMode, { '6plane': true, rfc4193: true, zt: false });
  t.deepEqual(n.routes, [
    { target: '10.5.0.0/16', via: null },
    { target: '192.168.50.0/24', via: '10.5.0.1' },
    { target: 'fd00::/8', via: null },
  ]);
  t.deepEqual(n.ipAssignmentPools, [
    { ipRangeEnd: '10.5.0.20', ipRangeStart: '10.5.0.10' },
    { ipRangeEnd: 'fd00::ff', ipRangeStart: 'fd00::1' },
  ]);
  t.deepEqual(n.tags, [
    { default: null, id: 1000 },
    { default: 9, id: 1001 },
  ]);
  t.deepEqual(
    n.capabilities.map((c: { id: number; default: boolean }) => [c.id, c.default]),
    [
      [3, false],
      [7, true],
    ],
  );
  t.deepEqual(n.authTokens, { abc: 0 });
  t.deepEqual(n.dns, { domain: 'example.zt', servers: ['10.5.0.1'] });
  // An object v6AssignMode keeps only the keys given; a non-object authTokens becomes [null].
  const n2 = JSON.parse(
    (await call('POST', `/controller/network/${NWID}`, { v6AssignMode: { zt: true }, authTokens: 5, mtu: 5 })).text!,
  );
  t.deepEqual(n2.v6AssignMode, { zt: true });
  t.deepEqual(n2.authTokens, [null]);
  t.is(n2.mtu, 1280);
  t.is(n2.revision, 2);
  t.is(n2.name, '42');
});

test('member fields are coerced: tags sorted (last wins), capabilities sorted unique, IPs canonical', async (t) => {
  const { call } = await setup(t);
  await call('POST', `/controller/network/${NWID}`, CREATE_BODY);
  const m = JSON.parse(
    (
      await call('POST', `/controller/network/${NWID}/member/664dc8ba71`, {
        tags: [
          [1001, 9],
          [1000, 2],
          [1001, 3],
        ],
        capabilities: [7, 7, 3],
        ipAssignments: ['10.77.0.5', 'fd00:0:0::1234', '10.77.0.6/24'],
        name: 'laptop',
        activeBridge: 1,
        noAutoAssignIps: 'true',
        remoteTraceTarget: '0123456789',
        authenticationURL: 'https://example',
      })
    ).text!,
  );
  t.deepEqual(m.tags, [
    [1000, 2],
    [1001, 3],
  ]);
  t.deepEqual(m.capabilities, [3, 7]);
  t.deepEqual(m.ipAssignments, ['10.77.0.5', 'fd00::1234', '10.77.0.6']);
  t.is(m.name, 'laptop');
  t.true(m.activeBridge);
  t.true(m.noAutoAssignIps);
  t.is(m.remoteTraceTarget, '0123456789');
  t.false('authenticationURL' in m);
  const empty = await call('POST', `/controller/network/${NWID}/member/664dc8ba71`);
  t.is(empty.status, 500);
});

test('DELETE of a network returns it and removes it with its members', async (t) => {
  const { call } = await setup(t);
  await call('POST', `/controller/network/${NWID}`, CREATE_BODY);
  await call('POST', `/controller/network/${NWID}/member/664dc8ba71`, { authorized: true });
  const d = await call('DELETE', `/controller/network/${NWID}`);
  t.is(d.status, 200);
  t.is(d.text, CREATE_RESPONSE);
  t.is((await call('GET', `/controller/network/${NWID}`)).status, 404);
  t.is((await call('GET', `/controller/network/${NWID}/member/664dc8ba71`)).status, 404);
  t.is((await call('DELETE', `/controller/network/${NWID}`)).status, 404);
  t.deepEqual(JSON.parse((await call('GET', '/controller/network')).text!), []);
});

test('unstable listings carry counts; unknown paths fall through to other handlers', async (t) => {
  const { call, controller } = await setup(t);
  await call('POST', `/controller/network/${NWID}`, CREATE_BODY);
  await call('POST', `/controller/network/${NWID}/member/664dc8ba71`, { authorized: true });
  await call('POST', `/controller/network/${NWID}/member/caf2d0093e`, {});
  const u = JSON.parse((await call('GET', '/unstable/controller/network')).text!);
  t.deepEqual(u.meta, { networkCount: 1 });
  t.deepEqual(u.data[0].meta, { authorizedMemberCount: 1, totalMemberCount: 2 });
  const m = JSON.parse((await call('GET', `/unstable/controller/network/${NWID}/member`)).text!);
  t.deepEqual(m.meta, { authorizedCount: 1, totalCount: 2 });
  t.is(m.data.length, 2);
  t.is(await controller.route({ method: 'GET', segments: ['status'], body: undefined }), undefined);
  t.is(
    await controller.route({ method: 'GET', segments: ['controller', 'network', 'xyz'], body: undefined }),
    undefined,
  );
  t.is((await call('PUT', `/controller/network/${NWID}`, { name: 'put' })).status, 200);
  t.is(JSON.parse((await call('GET', `/controller/network/${NWID}`)).text!).name, 'put');
});

test('posted rules are parsed and re-rendered: actions lose not/or, coerced values normalised', async (t) => {
  const { call } = await setup(t);
  const rules = [
    { type: 'ACTION_DROP', not: true },
    { type: 'MATCH_IPV4_SOURCE', ip: '10.1.2.3/24', not: 'true', or: 1 },
    { type: 'MATCH_IPV4_DEST', ip: '10.1.2.3/0' },
    { type: 'MATCH_IP_DEST_PORT_RANGE', start: '22' },
    { type: 'MATCH_ICMP', icmpType: 8, icmpCode: null },
    { type: 'MATCH_CHARACTERISTICS', mask: 2 },
    { type: 'ACTION_TEE', address: '0011223344', length: 64 },
    { type: 'MATCH_MAC_SOURCE', mac: 'aa-bb-cc-dd-ee-ff' },
  ];
  const n = JSON.parse(
    (await call('POST', `/controller/network/${NWID}`, { rules, capabilities: [{ id: 1, rules }] })).text!,
  );
  const expected = [
    { type: 'ACTION_DROP' },
    { ip: '10.1.2.3/24', not: true, or: true, type: 'MATCH_IPV4_SOURCE' },
    { ip: '10.1.2.3/0', not: false, or: false, type: 'MATCH_IPV4_DEST' },
    { end: 22, not: false, or: false, start: 22, type: 'MATCH_IP_DEST_PORT_RANGE' },
    { icmpCode: null, icmpType: 8, not: false, or: false, type: 'MATCH_ICMP' },
    { mask: '0000000000000002', not: false, or: false, type: 'MATCH_CHARACTERISTICS' },
    { address: '0011223344', flags: 0, length: 64, type: 'ACTION_TEE' },
    { mac: 'aa:bb:cc:dd:ee:ff', not: false, or: false, type: 'MATCH_MAC_SOURCE' },
  ];
  t.deepEqual(n.rules, expected);
  t.deepEqual(n.capabilities, [{ default: false, id: 1, rules: expected }]);
});

test('random bodies never break the API, the records or the configs built from them', async (t) => {
  const { call, controller, clock } = await setup(t);
  const sender = new RecordingSender();
  controller.attach(sender);
  const A = vectorIdentity('node-A').toPublic();
  await call('POST', `/controller/network/${NWID}`, CREATE_BODY);
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const keys = [
    'name',
    'private',
    'enableBroadcast',
    'multicastLimit',
    'mtu',
    'v4AssignMode',
    'v6AssignMode',
    'routes',
    'ipAssignmentPools',
    'rules',
    'tags',
    'capabilities',
    'authTokens',
    'dns',
    'remoteTraceTarget',
    'authorized',
    'activeBridge',
    'noAutoAssignIps',
    'ipAssignments',
    'revision',
    'id',
    'objtype',
  ];
  const value = (depth: number): unknown => {
    switch (rnd(depth > 2 ? 6 : 9)) {
      case 0:
        return null;
      case 1:
        return rnd(2) === 0;
      case 2:
        return rnd(100000) - 500;
      case 3:
        return ['10.77.0.5', 'fd00::1/64', 'zt', 'x', '', '10.0.0.0/33', 'rfc4193,6plane'][rnd(7)];
      case 4:
        return rnd(1e9) / 7;
      case 5:
        return 'ACTION_ACCEPT';
      case 6:
        return Array.from({ length: rnd(4) }, () => value(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = rnd(4); i > 0; i--)
          o[
            ['type', 'target', 'via', 'ipRangeStart', 'ipRangeEnd', 'id', 'default', 'zt', 'domain', 'servers'][
              rnd(10)
            ]!
          ] = value(depth + 1);
        return o;
      }
    }
  };
  for (let i = 0; i < 400; i++) {
    const body: Record<string, unknown> = {};
    for (let k = rnd(5); k >= 0; k--) body[keys[rnd(keys.length)]!] = value(0);
    const path = rnd(2) === 0 ? `/controller/network/${NWID}` : `/controller/network/${NWID}/member/664dc8ba71`;
    const before = (await call('GET', path)).text;
    const r = await call('POST', path, body);
    t.true(r.status === 200 || r.status === 400 || r.status === 500, `${r.status} for ${JSON.stringify(body)}`);
    if (r.status !== 200) t.is((await call('GET', path)).text, before, `nothing stored for ${JSON.stringify(body)}`);
    // Whatever the records now hold, a request is answered (config or error), never left hanging.
    clock.now += 1500;
    controller.request(clock.now, {
      networkId: NWID_N,
      requester: A,
      metadata: METADATA_1_14_1,
      packetId: BigInt(i + 1),
    });
    await controller.idle();
    const sent = sender.take().flatMap((x) => (x.kind === 'revocation' ? [] : [x]));
    t.true(
      sent.filter((x) => x.packetId === BigInt(i + 1)).length === 1 &&
        sent.every((x) => x.packetId === BigInt(i + 1) || x.packetId === 0n),
      `${i} ${JSON.stringify(body)} ${JSON.stringify(sent.map((x) => [x.kind, String(x.packetId)]))}`,
    );
    const cfg = sent.find((x) => x.kind === 'config');
    if (cfg?.kind === 'config') t.true(decodeNetworkConfig(cfg.config).ok);
  }
  await controller.idle();
  const n = JSON.parse((await call('GET', `/controller/network/${NWID}`)).text!);
  t.is(n.id, NWID);
  t.is(n.objtype, 'network');
  t.true(n.mtu >= 1280 && n.mtu <= 10000);
});
