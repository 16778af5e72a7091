// MAC ⇄ address per network (vector and live values from PROTOCOL-VL2 §2.1), multicast groups (§7.1),
// per-network IPv6 addresses (§9), and the frame/multicast payload codecs (§6-7): golden layouts,
// round trips with every optional field, truncation.
import test from 'ava';
import { createCom, signCom } from '../../service/core/vl2/credentials.js';
import {
  decodeExtFrame,
  decodeFrame,
  decodeGatherOk,
  decodeMulticastFrame,
  decodeMulticastFrameOk,
  decodeMulticastGather,
  decodeMulticastLike,
  decodeUnwantedMulticast,
  EXT_FRAME_FLAG,
  encodeExtFrame,
  encodeExtFrameOk,
  encodeFrame,
  encodeGatherOk,
  encodeMulticastFrame,
  encodeMulticastFrameOk,
  encodeMulticastGather,
  encodeMulticastLikes,
  encodeUnwantedMulticast,
  ethernetFrame,
  parseEthernetFrame,
} from '../../service/core/vl2/frames.js';
import {
  addressFromMac,
  arpGroup,
  arpRequestTarget,
  BROADCAST_GROUP,
  BROADCAST_MAC,
  compareMulticastGroups,
  groupsForAddresses,
  ipv6NdGroup,
  isBroadcastMac,
  isMulticastMac,
  macFromAddress,
  macToBytes,
  macToString,
  multicastGroupForFrame,
  networkMacPrefix,
  parseMac,
  rfc4193Address,
  sixPlaneAddress,
} from '../../service/core/vl2/mac.js';
import { toHex } from '../../service/core/wire.js';
import { vectorIdentities } from '../helpers/vl2-capture.js';

const NWID = 0x29077f37cd90d431n;
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const ids = vectorIdentities();
const R = ids['node-R']!;
const A = ids['node-A']!;

test('MAC from address: vectors and live values; the 0x52 exception; inverse', (t) => {
  t.is(macToString(macFromAddress(0x664dc8ba71, NWID)), '32:b2:dd:05:8d:0e');
  t.is(macToString(macFromAddress(0xcaf2d0093e, NWID)), '32:1e:62:1d:3e:41');
  t.is(macToString(macFromAddress(0x385220bbf4, 0x385220bbf4d0bfe5n)), 'e6:87:82:d4:00:d4');
  t.is(networkMacPrefix(0x385220bbf4fc4003n), 0x02);
  t.is(networkMacPrefix(0x385220bbf4000099n), 0x9a);
  for (const low of [0x50n, 0x51n, 0x52n, 0x53n]) t.is(networkMacPrefix(0x1234567890abcd00n | low), 0x32);
  t.is(networkMacPrefix(0x54n), 0x56);
  for (const a of [0x664dc8ba71, 0xcaf2d0093e, 0x0000000001, 0xfeffffffff]) {
    t.is(addressFromMac(macFromAddress(a, NWID), NWID), a);
    t.is(addressFromMac(macFromAddress(a, 0x385220bbf4d0bfe5n), 0x385220bbf4d0bfe5n), a);
  }
  t.is(addressFromMac(0x02b2dd058d0e, NWID), undefined, 'another prefix is not a member MAC');
  t.false(isMulticastMac(macFromAddress(0x664dc8ba71, NWID)));
  t.true(isMulticastMac(0x01005e000001));
  t.true(isMulticastMac(BROADCAST_MAC) && isBroadcastMac(BROADCAST_MAC));
  t.is(parseMac('32-B2-DD-05-8D-0E'), 0x32b2dd058d0e);
  t.is(parseMac('32:b2:dd:05:8d'), undefined);
  t.is(toHex(macToBytes(0x32b2dd058d0e)), '32b2dd058d0e');
});

test('multicast groups: ARP ADI, IPv6 solicited-node, broadcast, ordering, frame → group', (t) => {
  t.deepEqual(arpGroup(Uint8Array.from([10, 77, 0, 91])), { mac: BROADCAST_MAC, adi: 172818523 });
  // A's link-local fe80::30b2:ddff:fe05:8d0e → 33:33:ff:05:8d:0e as in #021
  t.is(macToString(ipv6NdGroup(hex('fe8000000000000030b2ddfffe058d0e')).mac), '33:33:ff:05:8d:0e');
  const arpReq = hex('0001 0800 06 04 0001 32b2dd058d0e 0a4d005b 000000000000 0a4d00d8');
  t.is(arpRequestTarget(0x0806, arpReq), 0x0a4d00d8);
  const reply = arpReq.slice();
  reply[7] = 2;
  t.is(arpRequestTarget(0x0806, reply), undefined);
  t.is(arpRequestTarget(0x0800, arpReq), undefined);
  t.deepEqual(multicastGroupForFrame(BROADCAST_MAC, 0x0806, arpReq, false), { mac: BROADCAST_MAC, adi: 0x0a4d00d8 });
  t.deepEqual(multicastGroupForFrame(BROADCAST_MAC, 0x0800, new Uint8Array(20), true), BROADCAST_GROUP);
  t.is(multicastGroupForFrame(BROADCAST_MAC, 0x0800, new Uint8Array(20), false), undefined);
  t.deepEqual(multicastGroupForFrame(0x333300000001, 0x86dd, new Uint8Array(40), false), {
    mac: 0x333300000001,
    adi: 0,
  });
  const g = groupsForAddresses([Uint8Array.from([10, 77, 0, 216]), hex('fe8000000000000030b2ddfffe058d0e')], true);
  t.deepEqual(
    g.map((x) => [macToString(x.mac), x.adi]),
    [
      ['33:33:ff:05:8d:0e', 0],
      ['ff:ff:ff:ff:ff:ff', 0],
      ['ff:ff:ff:ff:ff:ff', 0x0a4d00d8],
    ],
  );
  t.true(compareMulticastGroups({ mac: 1, adi: 5 }, { mac: 2, adi: 0 }) < 0);
  t.true(compareMulticastGroups({ mac: 2, adi: 5 }, { mac: 2, adi: 0 }) > 0);
});

test('rfc4193 and 6plane addresses (live values)', (t) => {
  t.is(toHex(rfc4193Address(0x385220bbf4d0bfe5n, 0x385220bbf4)), 'fd385220bbf4d0bfe59993385220bbf4');
  t.is(toHex(sixPlaneAddress(0x385220bbf4d0bfe5n, 0x385220bbf4)), 'fccc829f5e385220bbf4000000000001');
});

test('FRAME: ICMP echo layout (§11.4) and round trip', (t) => {
  const payload = hex('4500005400004000400100000a4d005b0a4d00d8080000000000');
  const f = encodeFrame({ networkId: NWID, etherType: 0x0800, payload });
  t.is(toHex(f.subarray(0, 10)), '29077f37cd90d4310800');
  t.deepEqual(decodeFrame(f), { ok: true, value: { networkId: NWID, etherType: 0x0800, payload } });
  t.like(decodeFrame(f.subarray(0, 9)), { ok: false, reason: 'too-short' });
  const empty = decodeFrame(f.subarray(0, 10));
  t.true(empty.ok && empty.value.payload.length === 0);
});

test('EXT_FRAME: with and without an inline COM; flags; OK data', (t) => {
  const payload = hex('deadbeef');
  const base = {
    networkId: NWID,
    flags: EXT_FRAME_FLAG.WATCH_OUTBOUND,
    to: 0x321e621d3e41,
    from: 0x32b2dd058d0e,
    etherType: 0x0800,
    payload,
  };
  const b = encodeExtFrame(base);
  t.is(toHex(b), '29077f37cd90d43116321e621d3e4132b2dd058d0e0800deadbeef');
  t.deepEqual(decodeExtFrame(b), { ok: true, value: base });
  const com = signCom(createCom({ timestamp: 1, maxDelta: 2, networkId: NWID, issuedTo: A }), R);
  const withCom = encodeExtFrame({ ...base, flags: 0, com });
  const d = decodeExtFrame(withCom);
  t.true(
    d.ok &&
      d.value.flags === 1 &&
      d.value.com !== undefined &&
      d.value.to === base.to &&
      toHex(d.value.payload) === 'deadbeef',
  );
  t.like(decodeExtFrame(withCom.subarray(0, 100)), { ok: false });
  t.like(decodeExtFrame(b.subarray(0, 22)), { ok: false });
  t.is(toHex(encodeExtFrameOk(NWID)), '29077f37cd90d431');
});

test('MULTICAST_LIKE: 18-byte entries packed into as few payloads as fit; a partial trailing entry ignored', (t) => {
  const entries = Array.from({ length: 600 }, (_, i) => ({ networkId: NWID, mac: BROADCAST_MAC, adi: i }));
  const parts = encodeMulticastLikes(entries);
  t.deepEqual(
    parts.map((p) => p.length),
    [555 * 18, 45 * 18],
  );
  const back = parts.flatMap((p) => {
    const d = decodeMulticastLike(p);
    return d.ok ? d.value : [];
  });
  t.deepEqual(back, entries);
  t.deepEqual(encodeMulticastLikes([]), []);
  const partial = decodeMulticastLike(parts[1]!.subarray(0, 20));
  t.true(partial.ok && partial.value.length === 1, 'a trailing partial entry is ignored');
});

test('MULTICAST_GATHER and its OK; UNWANTED_MULTICAST data', (t) => {
  const g = { networkId: NWID, flags: 0, mac: BROADCAST_MAC, adi: 0x0a4d00d8, gatherLimit: 33 };
  const b = encodeMulticastGather(g);
  t.is(toHex(b), '29077f37cd90d43100ffffffffffff0a4d00d800000021');
  t.deepEqual(decodeMulticastGather(b), { ok: true, value: g });
  t.like(decodeMulticastGather(b.subarray(0, 22)), { ok: false });
  t.like(
    decodeMulticastGather(new Uint8Array([...b.subarray(0, 8), 1, ...b.subarray(9)])),
    { ok: false },
    'COM flag, no COM',
  );
  const ok = {
    networkId: NWID,
    mac: BROADCAST_MAC,
    adi: 0x0a4d00d8,
    totalKnown: 3,
    members: [0x664dc8ba71, 0xcaf2d0093e],
  };
  const ob = encodeGatherOk(ok);
  t.deepEqual(decodeGatherOk(ob), { ok: true, value: ok });
  t.like(decodeGatherOk(ob.subarray(0, ob.length - 1)), { ok: false });
  const u = encodeUnwantedMulticast(NWID, { mac: 0x01005e000001, adi: 0 });
  t.deepEqual(decodeUnwantedMulticast(u), { ok: true, value: { networkId: NWID, mac: 0x01005e000001, adi: 0 } });
});

test('MULTICAST_FRAME with every optional field, and OK(MULTICAST_FRAME) with COM and gather results', (t) => {
  const com = signCom(createCom({ timestamp: 1, maxDelta: 2, networkId: NWID, issuedTo: A }), R);
  const f = {
    networkId: NWID,
    flags: 0x08,
    com,
    gatherLimit: 7,
    sourceMac: 0x0242ac110002,
    mac: BROADCAST_MAC,
    adi: 0,
    etherType: 0x0800,
    payload: hex('45000014'),
  };
  const b = encodeMulticastFrame(f);
  const d = decodeMulticastFrame(b);
  t.deepEqual(d, { ok: true, value: { ...f, flags: 0x0f } });
  t.like(
    decodeMulticastFrame(b.subarray(0, b.length - 4)),
    { ok: true },
    'empty payload decodes (the receiver checks 1..10000)',
  );
  t.like(decodeMulticastFrame(b.subarray(0, b.length - 5)), { ok: false });
  const plain = encodeMulticastFrame({
    networkId: NWID,
    flags: 0,
    mac: 0x01005e000001,
    adi: 0,
    etherType: 0x0800,
    payload: hex('45'),
  });
  t.is(toHex(plain), '29077f37cd90d4310001005e000001000000000800' + '45');
  t.like(decodeMulticastFrame(plain.subarray(0, 20)), { ok: false });
  const ok = {
    networkId: NWID,
    mac: BROADCAST_MAC,
    adi: 5,
    flags: 3,
    com,
    gather: { totalKnown: 1, members: [0xcaf2d0093e] },
  };
  t.deepEqual(decodeMulticastFrameOk(encodeMulticastFrameOk(ok)), { ok: true, value: ok });
  const bare = encodeMulticastFrameOk({ networkId: NWID, mac: BROADCAST_MAC, adi: 5, flags: 0 });
  t.is(bare.length, 19);
  t.like(decodeMulticastFrameOk(bare.subarray(0, 18)), { ok: false });
});

test('Ethernet frames: build and split', (t) => {
  const e = ethernetFrame(0x321e621d3e41, 0x32b2dd058d0e, 0x0806, hex('0001'));
  t.is(toHex(e), '321e621d3e4132b2dd058d0e08060001');
  t.deepEqual(parseEthernetFrame(e), {
    ok: true,
    value: { dst: 0x321e621d3e41, src: 0x32b2dd058d0e, etherType: 0x0806, payload: hex('0001') },
  });
  t.like(parseEthernetFrame(e.subarray(0, 13)), { ok: false });
});
