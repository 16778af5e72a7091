// NetworkConfig ⇄ dictionary on the cached configs ZeroTier One 1.14.1 wrote, NETWORK_CONFIG_REQUEST
// payloads, config chunks (sign/verify/split) and the member-side reassembler.

import { readFileSync } from 'node:fs';
import test from 'ava';
import { dnsLabel } from '../../service/controller/config-plan.js';
import { parseIdentity } from '../../service/core/identity.js';
import { comIssuedTo, comNetworkId, comTimestamp, verifyCom, verifyCoo } from '../../service/core/vl2/credentials.js';
import { Dictionary } from '../../service/core/vl2/dictionary.js';
import {
  adhocNetworkConfig,
  buildRequestMetadata,
  CONFIG_CHUNK_MAX_DATA,
  ConfigReassembler,
  decodeConfigChunk,
  decodeConfigRequest,
  decodeNetworkConfig,
  defaultNetworkConfig,
  encodeConfigChunk,
  encodeConfigRequest,
  makeConfigChunks,
  makeNetworkId,
  NetworkStatus,
  networkConfigBytes,
  networkConfigEquals,
  networkController,
  networkIdToString,
  networkStatusName,
  parseNetworkId,
  parseRequestMetadata,
  portDeviceName,
  verifyConfigChunk,
} from '../../service/core/vl2/network-config.js';
import { evaluateRules } from '../../service/core/vl2/rules.js';
import { newIdentity } from '../../service/random.js';
import { METADATA_1_14_1 } from '../helpers/controller-fixtures.js';
import { vectorPath } from '../helpers/vl1-vectors.js';

const ids = Object.fromEntries(
  readFileSync(vectorPath('identities/identities.txt'), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [name, , , secret] = l.split(' ');
      return [name!, parseIdentity(secret!)];
    }),
);
const R = ids['node-R']!;
const A = ids['node-A']!;
const B = ids['node-B']!;
const NWID = 0x29077f37cd90d431n;
const conf = (n: string) => new Uint8Array(readFileSync(vectorPath(`node-state/${n}`)));

test('network IDs: controller is the top 40 bits; text forms; device name', (t) => {
  t.is(networkController(NWID), 0x29077f37cd);
  t.is(makeNetworkId(0x29077f37cd, 0x90d431), NWID);
  t.is(networkIdToString(NWID), '29077f37cd90d431');
  t.is(parseNetworkId('29077F37CD90D431'), NWID);
  t.is(parseNetworkId('29077f37cd90d43'), undefined);
  t.is(portDeviceName(NWID), 'ztd3fo7y74');
  t.is(portDeviceName(0x385220bbf4d0bfe5n), 'ztqotpabar');
  t.is(networkStatusName(NetworkStatus.ACCESS_DENIED), 'ACCESS_DENIED');
});

for (const [file, who, ip] of [
  ['nodeA-networks.d-29077f37cd90d431.conf', A, [10, 77, 0, 91]],
  ['nodeB-networks.d-29077f37cd90d431.conf', B, [10, 77, 0, 216]],
] as const) {
  test(`cached config ${file}: decodes to the listed fields and re-encodes byte for byte`, (t) => {
    const bytes = conf(file);
    const r = decodeNetworkConfig(bytes);
    if (!r.ok) return t.fail(r.detail);
    const c = r.value;
    t.is(c.version, 7);
    t.is(c.networkId, NWID);
    t.is(c.credentialTimeMaxDelta, 1800000);
    t.is(c.revision, 1);
    t.is(c.issuedTo, who.address);
    t.is(c.remoteTraceTarget, 0);
    t.is(c.flags, 2);
    t.is(c.multicastLimit, 32);
    t.is(c.type, 0);
    t.is(c.name, 'ztref');
    t.is(c.mtu, 2800);
    t.truthy(c.com);
    t.is(c.com!.qualifiers.length, 7);
    t.is(comNetworkId(c.com!), NWID);
    t.is(comIssuedTo(c.com!), who.address);
    t.is(comTimestamp(c.com!), c.timestamp);
    t.true(verifyCom(c.com!, R));
    t.false(verifyCom(c.com!, A));
    t.is(c.certificatesOfOwnership.length, 1);
    t.true(verifyCoo(c.certificatesOfOwnership[0]!, R));
    t.deepEqual([...c.certificatesOfOwnership[0]!.things[0]!.value], [...ip]);
    t.is(c.routes.length, 1);
    t.deepEqual([...c.routes[0]!.target.ip], [10, 77, 0, 0]);
    t.is(c.routes[0]!.target.port, 24);
    t.is(c.routes[0]!.via, null);
    t.is(c.staticIps.length, 1);
    t.deepEqual([...c.staticIps[0]!.ip], [...ip]);
    t.is(c.staticIps[0]!.port, 24);
    t.deepEqual(c.rules, [{ type: 'ACTION_ACCEPT', not: false, or: false }]);
    t.deepEqual(c.dns, { domain: '', servers: [] });
    t.is(c.ssoVersion, 0);
    t.false(c.ssoEnabled);
    t.deepEqual(networkConfigBytes(c), bytes);
    t.true(networkConfigEquals(c, decodeNetworkConfig(networkConfigBytes(c)).ok ? c : c));
  });
}

test('decode refuses configs without version ≥ 6, nwid or id, and malformed binary values', (t) => {
  const base = defaultNetworkConfig(NWID, A.address);
  const ok = decodeNetworkConfig(networkConfigBytes(base));
  t.true(ok.ok);
  const d = (s: string) => decodeNetworkConfig(Dictionary.fromString(s));
  t.like(d('v=5\nnwid=1\nid=1'), { ok: false, reason: 'bad-version' });
  t.like(d('v=7\nid=1'), { ok: false, reason: 'bad-network-id' });
  t.like(d('v=7\nnwid=1'), { ok: false, reason: 'bad-issued-to' });
  t.like(d('v=7\nnwid=1\nid=1\nC=\\2'), { ok: false, reason: 'malformed' });
  t.like(d('v=7\nnwid=1\nid=1\nR=\\0\\5'), { ok: false, reason: 'malformed' });
  // a malformed capability or tag list keeps what parsed before it (1.14.1), it does not reject the config
  const withBadCap = d('v=7\nnwid=1\nid=1\nCAP=\\0\\0\nTAG=x');
  t.true(withBadCap.ok && withBadCap.value.capabilities.length === 0 && withBadCap.value.tags.length === 0);
  t.like(d('v=7\nnwid=1\nid=1\nCOO=\\0'), { ok: false, reason: 'malformed' });
  // no ctmd: 0; unknown SSO version: neither ssov nor ssoe written back
  const bare = d('v=7\nnwid=1\nid=1\nssov=2');
  t.true(bare.ok && bare.value.credentialTimeMaxDelta === 0 && bare.value.ssoVersion === 2);
  if (bare.ok) t.false(new TextDecoder().decode(networkConfigBytes(bare.value)).includes('sso'));
  const m = d('v=7\nnwid=1\nid=1\nmtu=10\nn=x');
  t.true(m.ok && m.value.mtu === 1280 && m.value.name === 'x' && m.value.rules.length === 0);
  const m2 = d('v=7\nnwid=1\nid=1\nmtu=ffffff');
  t.true(m2.ok && m2.value.mtu === 10000);
});

test('a config with every optional key round trips', (t) => {
  const c = {
    ...defaultNetworkConfig(NWID, B.address),
    timestamp: 1795300960241,
    specialists: [0x0000020000000000n | 0x664dc8ba71n],
    routes: [
      {
        target: { family: 4 as const, ip: Uint8Array.from([192, 168, 50, 0]), port: 24 },
        via: { family: 4 as const, ip: Uint8Array.from([10, 5, 0, 1]), port: 0 },
        flags: 0,
        metric: 0,
      },
    ],
    dns: { domain: 'example.zt', servers: [{ family: 4 as const, ip: Uint8Array.from([10, 0, 0, 53]), port: 0 }] },
    ssoVersion: 1,
    ssoEnabled: true,
    sso: {
      authenticationUrl: '',
      issuerUrl: 'https://i',
      centralAuthUrl: 'c',
      nonce: 'n',
      state: 's',
      clientId: 'id',
      provider: 'p',
    },
  };
  const bytes = networkConfigBytes(c);
  const r = decodeNetworkConfig(bytes);
  if (!r.ok) return t.fail(r.detail);
  t.deepEqual(networkConfigBytes(r.value), bytes);
  t.is(r.value.dns.domain, 'example.zt');
  t.is(r.value.specialists[0], c.specialists[0]);
  t.deepEqual(r.value.sso, c.sso);
});

test('NETWORK_CONFIG_REQUEST: metadata as 1.14.1 sends it (#027), payload round trip', (t) => {
  const md = buildRequestMetadata();
  t.is(md.toString(), new TextDecoder().decode(METADATA_1_14_1));
  t.is(md.length, 263);
  const p = encodeConfigRequest({ networkId: NWID, metadata: md.bytes() });
  t.is(p.length, 289);
  const r = decodeConfigRequest(p);
  if (!r.ok) return t.fail();
  t.is(r.value.networkId, NWID);
  t.is(r.value.revision, 0n);
  const meta = parseRequestMetadata(r.value.metadata);
  t.is(meta.rulesEngineRevision, 1);
  t.is(meta.protocolVersion, 12);
  t.is(meta.osArch, 'linux/x86_64');
  t.is(meta.auth, undefined);
  t.like(decodeConfigRequest(p.subarray(0, 20)), { ok: false });
  const legacy = decodeConfigRequest(p.subarray(0, 273));
  t.true(legacy.ok && legacy.value.revision === undefined);
});

test('config chunks: split at 9740, each signed; reassembly in any order completes once', (t) => {
  const big = new Dictionary();
  big.add('v', '7');
  big.add('x', new Uint8Array(30199 - 6).fill(0x41));
  const dict = big.bytes();
  t.is(dict.length, 30199);
  const chunks = makeConfigChunks(NWID, dict, 0x1234n, R);
  t.deepEqual(
    chunks.map((c) => decodeConfigChunk(c)).map((d) => (d.ok ? [d.value.offset, d.value.data.length] : [])),
    [
      [0, CONFIG_CHUNK_MAX_DATA],
      [9740, 9740],
      [19480, 9740],
      [29220, 979],
    ],
  );
  for (const c of chunks) {
    const d = decodeConfigChunk(c);
    t.true(d.ok && verifyConfigChunk(d.value, R));
    t.true(d.ok && !verifyConfigChunk(d.value, A));
  }
  const ra = new ConfigReassembler(NWID);
  const order = [2, 0, 3, 1];
  const results = order.map((i) => ra.accept(chunks[i]!, R.address, 1n, R));
  t.deepEqual(
    results.slice(0, 3).map((x) => x.kind),
    ['incomplete', 'incomplete', 'incomplete'],
  );
  const last = results[3]!;
  t.is(last.kind, 'complete');
  if (last.kind === 'complete') t.deepEqual(last.dictionary, dict);
  t.like(ra.accept(chunks[1]!, R.address, 1n, R), { kind: 'dropped', reason: 'duplicate' });
  t.like(new ConfigReassembler(NWID).accept(chunks[0]!, R.address, 1n, undefined), {
    kind: 'need-identity',
    address: R.address,
  });
  // tampered data: signature fails
  const bad = chunks[3]!.slice();
  bad[20]! ^= 1;
  t.like(new ConfigReassembler(NWID).accept(bad, R.address, 1n, R), { kind: 'dropped', reason: 'bad-signature' });
  t.like(new ConfigReassembler(NWID + 1n).accept(chunks[0]!, R.address, 1n, R), {
    kind: 'dropped',
    reason: 'wrong-network',
  });
});

test('config chunk checks: offset + C ≤ T, signature type and length; legacy chunk only from the controller', (t) => {
  const data = new TextEncoder().encode('v=7');
  const ok = encodeConfigChunk({ networkId: NWID, data, updateId: 5n, totalLength: 3, offset: 0 }, R);
  t.true(decodeConfigChunk(ok).ok);
  const over = encodeConfigChunk({ networkId: NWID, data, updateId: 5n, totalLength: 2, offset: 0 }, R);
  t.like(decodeConfigChunk(over), { ok: false });
  const badType = ok.slice();
  badType[10 + 3 + 17] = 2;
  t.like(decodeConfigChunk(badType), { ok: false, reason: 'bad-signature' });
  const legacy = ok.subarray(0, 13);
  const ra = new ConfigReassembler(NWID);
  t.like(ra.accept(legacy, A.address, 77n, R), { kind: 'dropped', reason: 'not-from-controller' });
  const done = ra.accept(legacy, R.address, 77n, R);
  t.is(done.kind, 'complete');
  if (done.kind === 'complete') t.is(done.updateId, 77n);
});

test('three reassembly slots: a new update takes the slot used least (its own use count)', (t) => {
  const ra = new ConfigReassembler(NWID);
  const dict = new Uint8Array(20000).fill(0x42);
  const u = [1n, 2n, 3n, 4n].map((id) => makeConfigChunks(NWID, dict, id, R));
  for (const x of u.slice(0, 3)) t.is(ra.accept(x[0]!, R.address, 0n, R).kind, 'incomplete');
  t.is(ra.accept(u[3]![0]!, R.address, 0n, R).kind, 'incomplete'); // evicts update 1
  t.is(ra.accept(u[1]![1]!, R.address, 0n, R).kind, 'incomplete');
  t.is(ra.accept(u[1]![2]!, R.address, 0n, R).kind, 'complete');
  t.is(ra.accept(u[0]![1]!, R.address, 0n, R).kind, 'incomplete'); // update 1 restarted from scratch
  const fresh = newIdentity();
  t.like(ra.accept(makeConfigChunks(NWID, dict, 9n, fresh)[0]!, R.address, 0n, fresh), { kind: 'need-identity' });
});

test('ad-hoc networks: port-range (IPv6 only, 14 rules) and IPv4 /8 forms, as 1.14.1 builds them', (t) => {
  t.is(adhocNetworkConfig(NWID, A.address, 1), undefined);
  t.is(adhocNetworkConfig(0xff00500010000000n, A.address, 1), 'not-found');
  const c = adhocNetworkConfig(0xff00160050000000n, A.address, 5);
  if (!c || c === 'not-found') return t.fail();
  t.is(c.name, 'adhoc-0016-0050');
  t.is(c.type, 1);
  t.is(c.multicastLimit, 0);
  t.is(c.rules.length, 14);
  t.is(c.staticIps[0]!.port, 40);
  t.is(c.staticIps[0]!.ip[0], 0xfc);
  // SSH (22) to us is allowed, 443 is not; IPv4 is dropped
  const tcp = (port: number, flags = 0x02) => {
    const f = new Uint8Array(60);
    f[0] = 0x60;
    f[6] = 6;
    f[42] = port >> 8;
    f[43] = port & 0xff;
    f[53] = flags;
    return f;
  };
  const fr = (payload: Uint8Array, etherType = 0x86dd) => ({
    inbound: true,
    ztSource: B.address,
    ztDest: A.address,
    macSource: 1,
    macDest: 2,
    etherType,
    payload,
  });
  t.is(evaluateRules(c.rules, fr(tcp(22)), { self: A.address }).verdict, 'accept');
  t.is(evaluateRules(c.rules, fr(tcp(443)), { self: A.address }).verdict, 'drop');
  t.is(evaluateRules(c.rules, fr(tcp(443, 0x12)), { self: A.address }).verdict, 'accept', 'SYN+ACK reply');
  t.is(evaluateRules(c.rules, fr(new Uint8Array(20), 0x0800), { self: A.address }).verdict, 'drop');
  const round = decodeNetworkConfig(networkConfigBytes(c));
  t.true(round.ok && round.value.rules.length === 14);
  const v4 = adhocNetworkConfig(0xff0a29077f37cd01n, A.address, 5);
  if (!v4 || v4 === 'not-found') return t.fail();
  t.is(v4.name, 'adhoc-10.0.0.0');
  t.deepEqual([...v4.staticIps[1]!.ip], [10, 0xc8, 0xba, 0x71]);
  t.is(v4.staticIps[1]!.port, 8);
  t.deepEqual(v4.specialists, [0x29077f37cdn]);
  t.is(v4.multicastLimit, 1024);
});

test('named members (netcon key ncn) round trip; a config without names has no ncn key; a malformed one is refused', (t) => {
  const v4 = (a: number[]) => ({ family: 4 as const, ip: Uint8Array.from(a), port: 0 });
  const names = [
    { address: 0x664dc8ba71, name: 'web-server', ips: [v4([10, 147, 20, 5])] },
    {
      address: 0xcaf2d0093e,
      name: 'db',
      ips: [v4([10, 147, 20, 6]), { family: 6 as const, ip: new Uint8Array(16).fill(0xfd, 0, 1), port: 0 }],
    },
  ];
  const c = { ...defaultNetworkConfig(NWID, B.address), dns: { domain: 'corp.zt', servers: [] }, names };
  const bytes = networkConfigBytes(c);
  const r = decodeNetworkConfig(bytes);
  if (!r.ok) return t.fail(r.detail);
  t.deepEqual(r.value.names, names);
  t.deepEqual(networkConfigBytes(r.value), bytes);
  const plain = networkConfigBytes(defaultNetworkConfig(NWID, B.address));
  t.false(new TextDecoder('latin1').decode(plain).includes('\nncn='), 'no names, no key (as ZeroTier One writes it)');
  const d = Dictionary.from(plain);
  d.add('ncn', Uint8Array.from([1, 2, 3, 4, 5, 9, 0x61])); // a name of 9 bytes with 1 present
  const bad = decodeNetworkConfig(d.bytes());
  t.false(bad.ok);
});

test('member names become DNS labels as zeronsd makes them', (t) => {
  t.is(dnsLabel('Web Server'), 'web-server');
  t.is(dnsLabel('  DB_1 (primary) '), 'db-1-primary');
  t.is(dnsLabel('---'), '');
  t.is(dnsLabel('x'.repeat(70)), 'x'.repeat(63));
  t.is(dnsLabel('émile'), 'mile');
});
