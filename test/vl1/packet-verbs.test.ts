// Golden-hex and encode→decode round-trip tests for each VL1 verb codec. The golden payloads are bytes
// captured from ZeroTier One 1.14.1 (decrypted and decompressed), as listed in *.decoded.txt.
import test from 'ava';
import { ErrorCode, Verb } from '../../service/core/constants.js';
import { type InetAddress, parseInetAddress } from '../../service/core/inet-address.js';
import {
  decodeEcho,
  decodeError,
  decodeHello,
  decodeHelloTail,
  decodeMessage,
  decodeOk,
  decodePushDirectPaths,
  decodeRendezvous,
  decodeUserMessage,
  decodeWhois,
  encodeEcho,
  encodeError,
  encodeHello,
  encodeNetworkError,
  encodeOk,
  encodeOkHello,
  encodeOkWhois,
  encodePushDirectPaths,
  encodeRendezvous,
  encodeUserMessage,
  encodeWhois,
} from '../../service/core/verbs.js';
import { fromHex, toHex } from '../../service/core/wire.js';

const hex = (s: string) => fromHex(s.replace(/\s+/g, ''))!;
const ip = (s: string): InetAddress => parseInetAddress(s)!;

const PUB_A =
  'd8f8254762a76c3dc8451a4375c19d5d22d735901ded78ebf588bb36bbff7639c939284a0af51fc1975acaadc0ab1f10ac85265fec7eaf5225d7059474d48918';
const PUB_R =
  'a0da70854f27b5919cc75b34f0025a64e134ec8f9522b55af94bdac5e34b6a176d1367126feb4cbaabb91970c0d1d2c52d729a8b5286c08c286281ba867a4c34';

// golden#0, A → R, with the tail decrypted (0000 = no moons).
const HELLO_PLAIN = `0c010e0001000001a200460bab664dc8ba7100${PUB_A}00040a63000127090000000008eac90a000001a2004596170000`;

test('HELLO: golden#0 decodes field by field and re-encodes byte for byte', (t) => {
  const d = decodeHello(hex(HELLO_PLAIN));
  t.true(d.ok);
  if (!d.ok) return;
  const h = d.value;
  t.is(h.protocolVersion, 12);
  t.deepEqual([h.versionMajor, h.versionMinor, h.versionRevision], [1, 14, 1]);
  t.is(h.timestamp, 1795300920235n);
  t.is(h.identity.address, 0x664dc8ba71);
  t.is(toHex(h.identity.publicKey), PUB_A);
  t.is(h.identity.privateKey, undefined);
  t.is(h.identity.bytes.length, 71);
  t.deepEqual(h.physicalDestination, ip('10.99.0.1/9993'));
  t.is(h.planetWorldId, 149604618n);
  t.is(h.planetWorldTimestamp, 1795300890135n);
  t.is(h.tailOffset, 107);
  t.deepEqual(decodeHelloTail(hex(HELLO_PLAIN).subarray(107)), { ok: true, value: [] });
  const enc = encodeHello({
    ...h,
    physicalDestination: h.physicalDestination!,
    planetWorldId: 149604618n,
    planetWorldTimestamp: 1795300890135n,
    moons: [],
  });
  t.is(enc.tailOffset, 107);
  t.is(toHex(enc.payload), HELLO_PLAIN);
});

test('HELLO: optional trailing fields, moons, and malformed input', (t) => {
  const full = hex(HELLO_PLAIN);
  // Only up to the identity: still a HELLO.
  const short = decodeHello(full.subarray(0, 84));
  t.true(short.ok && short.value.physicalDestination === undefined && short.value.planetWorldId === undefined);
  // Moons round trip through the tail.
  const moons = [
    { type: 0x7f, id: 0x29077f37cdn, timestamp: 0n },
    { type: 0x7f, id: 0xdeadbeefn, timestamp: 1795300890135n },
  ];
  const enc = encodeHello({
    protocolVersion: 12,
    versionMajor: 1,
    versionMinor: 14,
    versionRevision: 1,
    timestamp: 5n,
    identity: { address: 0x29077f37cd, publicKey: hex(PUB_R) },
    physicalDestination: null,
    planetWorldId: 1n,
    planetWorldTimestamp: 2n,
    moons,
  });
  const d = decodeHello(enc.payload);
  t.true(d.ok && d.value.physicalDestination === null && d.value.tailOffset === enc.tailOffset);
  t.deepEqual(decodeHelloTail(enc.payload.subarray(enc.tailOffset)), { ok: true, value: moons });
  t.false(decodeHelloTail(hex('0002 7f 0000000000000001')).ok, 'truncated moon list');
  t.false(decodeHello(full.subarray(0, 83)).ok, 'truncated identity');
  const badType = full.slice();
  badType[18] = 1;
  t.false(decodeHello(badType).ok, 'identity type 1');
  const badPriv = full.slice();
  badPriv[83] = 5;
  t.false(decodeHello(badPriv).ok, 'private key length 5');
  const badAddr = full.slice();
  badAddr[84] = 0x07;
  t.false(decodeHello(badAddr).ok, 'unknown InetAddress type');
});

test('OK(HELLO): golden#1 decodes and re-encodes; pu#3-style world payload is returned raw', (t) => {
  const g = hex('01b12bd98b4adc2beb000001a200460bab0c010e0001040a63000227090000');
  const d = decodeOk(g);
  t.true(d.ok);
  if (!d.ok || d.value.kind !== 'hello') return t.fail();
  t.is(d.value.inReVerb, Verb.HELLO);
  t.is(d.value.inRePacketId, 0xb12bd98b4adc2bebn);
  const h = d.value.hello;
  t.is(h.timestamp, 1795300920235n);
  t.is(h.protocolVersion, 12);
  t.deepEqual(h.physicalAddress, ip('10.99.0.2/9993'));
  t.is(h.worlds.length, 0);
  t.is(toHex(encodeOkHello(d.value.inRePacketId, h)), toHex(g));
  const world = new Uint8Array(257).fill(7);
  const withWorld = encodeOkHello(1n, { ...h, worlds: world });
  const back = decodeOk(withWorld);
  t.true(back.ok && back.value.kind === 'hello' && toHex(back.value.hello.worlds) === toHex(world));
  t.false(decodeOk(withWorld.subarray(0, withWorld.length - 1)).ok, 'truncated world');
});

test('OK(WHOIS): golden#5 gives R identity; encode reproduces it', (t) => {
  const g = hex(`04d2cf0ec61d1f2433 29077f37cd 00 ${PUB_R} 00`);
  const d = decodeOk(g);
  if (!d.ok || d.value.kind !== 'whois') return t.fail();
  t.is(d.value.inRePacketId, 0xd2cf0ec61d1f2433n);
  t.is(d.value.identities.length, 1);
  t.is(d.value.identities[0]!.address, 0x29077f37cd);
  t.is(toHex(encodeOkWhois(0xd2cf0ec61d1f2433n, d.value.identities)), toHex(g));
  t.false(decodeOk(g.subarray(0, 50)).ok);
  const trailing = decodeOk(Uint8Array.from([...g, 1, 2, 3]));
  t.true(
    trailing.ok && trailing.value.kind === 'whois' && trailing.value.identities.length === 1,
    'junk after it ignored',
  );
});

test('OK(ECHO): pu#38 and other OKs pass their payload through', (t) => {
  const g = hex('080f0e188371f3ca61');
  const d = decodeOk(g);
  t.true(d.ok && d.value.kind === 'echo' && d.value.data.length === 0 && d.value.inRePacketId === 0x0f0e188371f3ca61n);
  t.is(toHex(encodeOk(Verb.ECHO, 0x0f0e188371f3ca61n)), toHex(g));
  const vl2 = decodeOk(hex('0b 0102030405060708 aabbcc'));
  t.true(vl2.ok && vl2.value.kind === 'other' && toHex(vl2.value.data) === 'aabbcc');
  t.false(decodeOk(hex('0b01020304')).ok);
});

test('ERROR: golden#22 (NETWORK_ACCESS_DENIED) and golden#86 (NEED_MEMBERSHIP_CERTIFICATE)', (t) => {
  const g22 = hex('0b6428ae675c2051760729077f37cd90d431');
  const d = decodeError(g22);
  t.deepEqual(d.ok && d.value, {
    inReVerb: Verb.NETWORK_CONFIG_REQUEST,
    inRePacketId: 0x6428ae675c205176n,
    code: ErrorCode.NETWORK_ACCESS_DENIED,
    networkId: 0x29077f37cd90d431n,
    data: hex('29077f37cd90d431'),
  });
  t.is(
    toHex(
      encodeNetworkError(
        Verb.NETWORK_CONFIG_REQUEST,
        0x6428ae675c205176n,
        ErrorCode.NETWORK_ACCESS_DENIED,
        0x29077f37cd90d431n,
      ),
    ),
    toHex(g22),
  );
  const g86 = hex('0e612175451b4036180629077f37cd90d431');
  const e = decodeError(g86);
  t.true(e.ok && e.value.code === ErrorCode.NEED_MEMBERSHIP_CERTIFICATE && e.value.networkId === 0x29077f37cd90d431n);
  const collision = encodeError(Verb.HELLO, 1n, ErrorCode.IDENTITY_COLLISION);
  t.deepEqual(decodeError(collision).ok && decodeError(collision), {
    ok: true,
    value: { inReVerb: 1, inRePacketId: 1n, code: 4, networkId: undefined, data: new Uint8Array(0) },
  });
  t.false(decodeError(hex('0b6428ae675c205176')).ok, 'no code');
});

test('WHOIS: golden#4 payload, several addresses, empty rejected', (t) => {
  t.deepEqual(decodeWhois(hex('29077f37cd')), { ok: true, value: { addresses: [0x29077f37cd] } });
  t.is(toHex(encodeWhois({ addresses: [0x29077f37cd] })), '29077f37cd');
  const two = encodeWhois({ addresses: [0x664dc8ba71, 0xcaf2d0093e] });
  t.deepEqual(decodeWhois(two), { ok: true, value: { addresses: [0x664dc8ba71, 0xcaf2d0093e] } });
  t.false(decodeWhois(hex('29077f37')).ok);
});

test('RENDEZVOUS: golden#74 and #75; IPv6 round trip; bad lengths rejected', (t) => {
  const g74 = hex('00664dc8ba712709040a630002');
  const d = decodeRendezvous(g74);
  t.deepEqual(d.ok && d.value, { flags: 0, address: 0x664dc8ba71, endpoint: ip('10.99.0.2/9993') });
  if (d.ok) t.is(toHex(encodeRendezvous(d.value)), toHex(g74));
  const g75 = decodeRendezvous(hex('00caf2d0093e2709040a630003'));
  t.true(g75.ok && g75.value.address === 0xcaf2d0093e);
  const v6 = { flags: 0, address: 0x1234567890, endpoint: ip('fd00::1:2/443') };
  t.deepEqual(decodeRendezvous(encodeRendezvous(v6)), { ok: true, value: v6 });
  t.false(decodeRendezvous(hex('00664dc8ba712709050a63000201')).ok, 'length 5');
  t.false(decodeRendezvous(hex('00664dc8ba712709040a6300')).ok, 'truncated');
});

test('ECHO: pu#31 empty payload; arbitrary payloads round-trip', (t) => {
  t.deepEqual(decodeEcho(new Uint8Array(0)), { ok: true, value: { data: new Uint8Array(0) } });
  const data = hex('0102030405');
  t.is(toHex(encodeEcho({ data })), '0102030405');
});

test('PUSH_DIRECT_PATHS: golden#91; IPv6, extensions and unknown types', (t) => {
  const g = hex('000200000004060a630003270900000004060a6300032709');
  const d = decodePushDirectPaths(g);
  if (!d.ok) return t.fail();
  t.is(d.value.paths.length, 2);
  t.deepEqual(d.value.paths[0]!.address, ip('10.99.0.3/9993'));
  t.is(toHex(encodePushDirectPaths({ paths: d.value.paths.map((p) => ({ address: p.address! })) })), toHex(g));
  const mixed = encodePushDirectPaths({
    paths: [{ flags: 2, extension: hex('abcd'), address: ip('2001:db8::7/9993') }, { address: ip('192.168.1.1/1') }],
  });
  const m = decodePushDirectPaths(mixed);
  t.true(m.ok && m.value.paths[0]!.flags === 2 && toHex(m.value.paths[0]!.extension) === 'abcd');
  t.true(m.ok && m.value.paths[0]!.address !== null && m.value.paths[0]!.address.family === 6);
  const unknown = decodePushDirectPaths(hex('0001 00 0000 09 03 aabbcc'));
  t.true(unknown.ok && unknown.value.paths[0]!.address === null);
  t.false(decodePushDirectPaths(hex('0003 00 0000 04 06 0a630003')).ok);
});

test('USER_MESSAGE: type ID and data', (t) => {
  const m = { typeId: 0x10000n, data: new TextEncoder().encode('hello') };
  const enc = encodeUserMessage(m);
  t.is(toHex(enc), `0000000000010000${toHex(m.data)}`);
  t.deepEqual(decodeUserMessage(enc), { ok: true, value: m });
  t.false(decodeUserMessage(hex('00000000000100')).ok);
});

test('decodeMessage dispatches VL1 verbs, passes VL2 verbs raw, refuses unknown verbs', (t) => {
  const w = decodeMessage(Verb.WHOIS, hex('29077f37cd'));
  t.true(w.ok && w.value.kind === 'whois');
  const f = decodeMessage(Verb.FRAME, hex('0102'));
  t.true(f.ok && f.value.kind === 'raw' && f.value.verb === Verb.FRAME);
  t.deepEqual(decodeMessage(0x0f, new Uint8Array(0)), { ok: false, reason: 'unknown-verb' });
  t.deepEqual(decodeMessage(0x1f, new Uint8Array(0)), { ok: false, reason: 'unknown-verb' });
  t.true(decodeMessage(Verb.NOP, new Uint8Array(0)).ok);
  t.false(decodeMessage(Verb.RENDEZVOUS, new Uint8Array(3)).ok);
});

test('randomized encode → decode → encode round trips for every VL1 verb', async (t) => {
  const { randomBytes, randomInt } = await import('node:crypto');
  const u64 = () => BigInt(`0x${randomBytes(8).toString('hex')}`);
  const addr = () => randomInt(1, 2 ** 40 - 1);
  const endpoint = (): InetAddress =>
    randomInt(2) === 0
      ? { family: 4, ip: new Uint8Array(randomBytes(4)), port: randomInt(65536) }
      : { family: 6, ip: new Uint8Array(randomBytes(16)), port: randomInt(65536) };
  for (let i = 0; i < 200; i++) {
    const moons = Array.from({ length: randomInt(4) }, () => ({ type: 0x7f, id: u64(), timestamp: u64() }));
    const hello = {
      protocolVersion: randomInt(256),
      versionMajor: randomInt(256),
      versionMinor: randomInt(256),
      versionRevision: randomInt(65536),
      timestamp: u64(),
      identity: { address: addr(), publicKey: new Uint8Array(randomBytes(64)) },
      physicalDestination: randomInt(3) === 0 ? null : endpoint(),
      planetWorldId: u64(),
      planetWorldTimestamp: u64(),
      moons,
    };
    const he = encodeHello(hello);
    const hd = decodeHello(he.payload);
    t.true(hd.ok);
    if (hd.ok) {
      t.is(hd.value.timestamp, hello.timestamp);
      t.deepEqual(hd.value.physicalDestination, hello.physicalDestination);
      t.deepEqual(decodeHelloTail(he.payload.subarray(hd.value.tailOffset!)), { ok: true, value: moons });
      const again = encodeHello({
        ...hd.value,
        physicalDestination: hd.value.physicalDestination!,
        planetWorldId: hd.value.planetWorldId!,
        planetWorldTimestamp: hd.value.planetWorldTimestamp!,
        moons,
      });
      t.is(toHex(again.payload), toHex(he.payload));
    }
    const okh = {
      timestamp: u64(),
      protocolVersion: randomInt(256),
      versionMajor: randomInt(256),
      versionMinor: randomInt(256),
      versionRevision: randomInt(65536),
      physicalAddress: randomInt(2) === 0 ? null : endpoint(),
      worlds: new Uint8Array(randomBytes(randomInt(300))),
    };
    const id = u64();
    const od = decodeOk(encodeOkHello(id, okh));
    t.deepEqual(od, { ok: true, value: { inReVerb: Verb.HELLO, inRePacketId: id, kind: 'hello', hello: okh } });
    const rv = { flags: randomInt(256), address: addr(), endpoint: endpoint() };
    t.deepEqual(decodeRendezvous(encodeRendezvous(rv)), { ok: true, value: rv });
    const wh = { addresses: Array.from({ length: 1 + randomInt(5) }, addr) };
    t.deepEqual(decodeWhois(encodeWhois(wh)), { ok: true, value: wh });
    const paths = Array.from({ length: randomInt(5) }, () => ({
      flags: randomInt(256),
      extension: new Uint8Array(randomBytes(randomInt(4))),
      address: endpoint(),
    }));
    const pd = decodePushDirectPaths(encodePushDirectPaths({ paths }));
    t.deepEqual(pd, { ok: true, value: { paths: paths.map((p) => ({ ...p, addressType: p.address.family })) } });
    const um = { typeId: u64(), data: new Uint8Array(randomBytes(randomInt(100))) };
    t.deepEqual(decodeUserMessage(encodeUserMessage(um)), { ok: true, value: um });
    const err = { code: randomInt(10), data: new Uint8Array(randomBytes(randomInt(20))) };
    const ed = decodeError(encodeError(Verb.FRAME, id, err.code, err.data));
    t.true(
      ed.ok && ed.value.code === err.code && toHex(ed.value.data) === toHex(err.data) && ed.value.inRePacketId === id,
    );
  }
});
