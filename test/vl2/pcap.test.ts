// Every VL2 packet of the golden capture (ZeroTier One 1.14.1) decodes with the VL2 codecs, re-encodes byte
// for byte, and its signatures verify: config requests, config chunks (OK and push) reassembled into the
// config, the ECHO-quirk ack, credentials, multicast LIKE/GATHER/FRAME and their OKs, ERRORs and FRAMEs.
import test from 'ava';
import { ErrorCode, Verb } from '../../service/core/constants.js';
import { decodeMessage } from '../../service/core/verbs.js';
import {
  comAgrees,
  comIssuedTo,
  decodeNetworkCredentials,
  encodeNetworkCredentials,
  verifyCom,
  verifyCoo,
} from '../../service/core/vl2/credentials.js';
import {
  decodeFrame,
  decodeGatherOk,
  decodeMulticastFrame,
  decodeMulticastFrameOk,
  decodeMulticastGather,
  decodeMulticastLike,
  decodeNetworkErrorData,
  encodeFrame,
  encodeGatherOk,
  encodeMulticastFrame,
  encodeMulticastFrameOk,
  encodeMulticastGather,
  encodeMulticastLikes,
} from '../../service/core/vl2/frames.js';
import {
  addressFromMac,
  arpRequestTarget,
  BROADCAST_MAC,
  macFromAddress,
  macToString,
  readMac,
} from '../../service/core/vl2/mac.js';
import {
  buildRequestMetadata,
  ConfigReassembler,
  decodeConfigAck,
  decodeConfigChunk,
  decodeConfigRequest,
  decodeNetworkConfig,
  encodeConfigAck,
  encodeConfigRequest,
  type NetworkConfig,
  networkConfigBytes,
  verifyConfigChunk,
} from '../../service/core/vl2/network-config.js';
import { toHex } from '../../service/core/wire.js';
import { type CapturedPacket, openCapture, vectorIdentities } from '../helpers/vl2-capture.js';

const NWID = 0x29077f37cd90d431n;
const ids = vectorIdentities();
const R = ids['node-R']!;
const A = ids['node-A']!;
const B = ids['node-B']!;
const byAddress = new Map([R, A, B].map((i) => [i.address, i]));
const packets = openCapture();
const at = (i: number): CapturedPacket => {
  const p = packets.find((x) => x.index === i);
  if (!p) throw new Error(`no packet #${i}`);
  return p;
};

function okOf(p: CapturedPacket): { inReVerb: number; inRePacketId: bigint; data: Uint8Array } {
  const m = decodeMessage(p.verb, p.payload);
  if (!m.ok || m.value.kind !== 'ok') throw new Error(`#${p.index} is not an OK`);
  const o = m.value.ok;
  return {
    inReVerb: o.inReVerb,
    inRePacketId: o.inRePacketId,
    data: 'data' in o ? (o.data as Uint8Array) : new Uint8Array(0),
  };
}

test('MAC of A and B on 29077f37cd90d431 as ZeroTier One derives it', (t) => {
  t.is(macToString(macFromAddress(A.address, NWID)), '32:b2:dd:05:8d:0e');
  t.is(macToString(macFromAddress(B.address, NWID)), '32:1e:62:1d:3e:41');
  t.is(addressFromMac(0x32b2dd058d0e, NWID), A.address);
  t.is(addressFromMac(0x321e621d3e41, NWID), B.address);
});

test('NETWORK_CONFIG_REQUEST #017 #027 #047: payload, metadata and re-encoding', (t) => {
  const md = buildRequestMetadata().bytes();
  for (const i of [17, 27, 47]) {
    const p = at(i);
    t.is(p.verb, Verb.NETWORK_CONFIG_REQUEST);
    const r = decodeConfigRequest(p.payload);
    if (!r.ok) return t.fail();
    t.is(r.value.networkId, NWID);
    t.is(toHex(r.value.metadata), toHex(md), `#${i} metadata as we build it`);
    t.is(r.value.revision, 0n);
    t.is(r.value.timestamp, 0n);
    t.is(toHex(encodeConfigRequest(r.value)), toHex(p.payload));
  }
});

test('ERROR #022 (ACCESS_DENIED) and #086 (NEED_MEMBERSHIP_CERTIFICATE) name the network', (t) => {
  for (const [i, code, verb] of [
    [22, ErrorCode.NETWORK_ACCESS_DENIED, Verb.NETWORK_CONFIG_REQUEST],
    [86, ErrorCode.NEED_MEMBERSHIP_CERTIFICATE, Verb.MULTICAST_FRAME],
  ] as const) {
    const m = decodeMessage(at(i).verb, at(i).payload);
    if (!m.ok || m.value.kind !== 'error') return t.fail();
    t.is(m.value.error.code, code);
    t.is(m.value.error.inReVerb, verb);
    t.deepEqual(decodeNetworkErrorData(m.value.error.data), { ok: true, value: NWID });
  }
});

const configs = new Map<number, NetworkConfig>();

test('config chunks #028 #029 #052 #053: signed by R, reassembled, parsed, re-serialized byte for byte', (t) => {
  for (const [i, member, kind] of [
    [28, A, 'ok'],
    [29, A, 'push'],
    [52, B, 'ok'],
    [53, B, 'push'],
  ] as const) {
    const p = at(i);
    let chunkBytes: Uint8Array;
    if (kind === 'ok') {
      const o = okOf(p);
      t.is(o.inReVerb, Verb.NETWORK_CONFIG_REQUEST);
      chunkBytes = o.data;
    } else {
      t.is(p.verb, Verb.NETWORK_CONFIG);
      chunkBytes = p.payload;
    }
    const c = decodeConfigChunk(chunkBytes);
    if (!c.ok) return t.fail(c.detail);
    t.is(c.value.networkId, NWID);
    t.is(c.value.offset, 0);
    t.is(c.value.totalLength, c.value.data.length);
    t.is(c.value.flags, 0);
    t.true(verifyConfigChunk(c.value, R), `#${i} chunk signature`);
    t.false(verifyConfigChunk(c.value, A));
    const ra = new ConfigReassembler(NWID);
    const res = ra.accept(chunkBytes, R.address, p.packetId, R);
    if (res.kind !== 'complete') return t.fail(res.kind);
    t.is(res.updateId, c.value.updateId);
    const cfg = decodeNetworkConfig(res.dictionary);
    if (!cfg.ok) return t.fail(cfg.detail);
    t.is(cfg.value.issuedTo, member.address);
    t.is(cfg.value.networkId, NWID);
    t.true(verifyCom(cfg.value.com!, R));
    t.is(comIssuedTo(cfg.value.com!), member.address);
    t.true(verifyCoo(cfg.value.certificatesOfOwnership[0]!, R));
    t.is(toHex(networkConfigBytes(cfg.value)), toHex(res.dictionary), `#${i} config re-serializes exactly`);
    configs.set(i, cfg.value);
    // Another copy of the same chunk is a duplicate.
    t.like(ra.accept(chunkBytes, R.address, p.packetId, R), { kind: 'dropped', reason: 'duplicate' });
  }
  // Golden details of #029 (PROTOCOL-VL2 §11.2).
  const c29 = decodeConfigChunk(at(29).payload);
  t.true(c29.ok && c29.value.updateId === 0xdf120aefb7f8b6a6n && c29.value.data.length === 1123);
  const c28 = decodeConfigChunk(okOf(at(28)).data);
  t.true(c28.ok && c28.value.updateId === 0xdda1bdefe0943b88n && c28.value.data.length === 1124);
  t.is(configs.get(29)!.timestamp, 1795300960241);
});

test('ack of a pushed config (#030, #054): OK in re ECHO with nwid and update ID', (t) => {
  for (const [ack, push] of [
    [30, 29],
    [54, 53],
  ] as const) {
    const o = okOf(at(ack));
    t.is(o.inReVerb, Verb.ECHO);
    t.is(o.inRePacketId, at(push).packetId);
    const c = decodeConfigChunk(at(push).payload);
    if (!c.ok) return t.fail();
    t.is(toHex(o.data), toHex(encodeConfigAck(NWID, c.value.updateId)));
    t.deepEqual(decodeConfigAck(o.data), { ok: true, value: { networkId: NWID, updateId: c.value.updateId } });
  }
});

test('MULTICAST_LIKE packets decode and re-encode; groups as listed', (t) => {
  const likes = packets.filter((p) => p.verb === Verb.MULTICAST_LIKE);
  t.true(likes.length >= 8);
  for (const p of likes) {
    const r = decodeMulticastLike(p.payload);
    if (!r.ok) return t.fail();
    t.true(r.value.every((e) => e.networkId === NWID));
    const again = encodeMulticastLikes(r.value);
    t.is(again.length, 1);
    t.is(toHex(again[0]!), toHex(p.payload));
  }
  const first = decodeMulticastLike(at(19).payload);
  t.deepEqual(first.ok && first.value, [{ networkId: NWID, mac: 0x01005e000001, adi: 0 }]);
  const a32 = decodeMulticastLike(at(32).payload);
  t.deepEqual(a32.ok && a32.value, [{ networkId: NWID, mac: BROADCAST_MAC, adi: 172818523 }]);
  const b92 = decodeMulticastLike(at(92).payload);
  t.true(b92.ok && b92.value.length === 5 && b92.value.some((g) => g.mac === BROADCAST_MAC && g.adi === 0));
});

test('MULTICAST_GATHER (#038 …) with a COM that R signed; OK(GATHER) #068 lists B', (t) => {
  const gathers = packets.filter((p) => p.verb === Verb.MULTICAST_GATHER);
  t.true(gathers.length >= 8);
  for (const p of gathers) {
    const g = decodeMulticastGather(p.payload);
    if (!g.ok) return t.fail(g.detail);
    t.is(g.value.networkId, NWID);
    t.is(g.value.flags, 1);
    if (p.index === 66) {
      t.is(g.value.mac, BROADCAST_MAC);
      t.is(g.value.gatherLimit, 33);
    }
    t.true(g.value.gatherLimit > 0);
    t.true(verifyCom(g.value.com!, R));
    t.is(comIssuedTo(g.value.com!), p.source);
    t.is(toHex(encodeMulticastGather(g.value)), toHex(p.payload));
  }
  const o = okOf(at(68));
  t.is(o.inReVerb, Verb.MULTICAST_GATHER);
  const g = decodeGatherOk(o.data);
  t.deepEqual(g, {
    ok: true,
    value: { networkId: NWID, mac: BROADCAST_MAC, adi: 0x0a4d00d8, totalKnown: 1, members: [B.address] },
  });
  if (g.ok) t.is(toHex(encodeGatherOk(g.value)), toHex(o.data));
});

test('NETWORK_CREDENTIALS #072 #099: COM and COO verify, COMs agree with the receiver’s own, exact re-encoding', (t) => {
  for (const [i, sender, receiverCfg] of [
    [72, A, 53],
    [99, B, 29],
  ] as const) {
    const p = at(i);
    t.is(p.verb, Verb.NETWORK_CREDENTIALS);
    const c = decodeNetworkCredentials(p.payload);
    if (!c.ok) return t.fail(c.detail);
    t.is(c.value.coms.length, 1);
    t.is(c.value.capabilities.length, 0);
    t.is(c.value.tags.length, 0);
    t.is(c.value.revocations.length, 0);
    t.is(c.value.coos.length, 1);
    const com = c.value.coms[0]!;
    t.true(verifyCom(com, R));
    t.true(verifyCoo(c.value.coos[0]!, R));
    const mine = configs.get(receiverCfg)?.com;
    t.truthy(mine);
    if (mine) {
      t.true(comAgrees(mine, com, sender), `#${i} COM agrees with the receiver's`);
      t.false(comAgrees(mine, com, sender === A ? B : A), `#${i} COM is bound to the sender's identity`);
    }
    t.is(toHex(encodeNetworkCredentials(c.value)), toHex(p.payload));
  }
});

test('MULTICAST_FRAME #076 (ARP request) and OK(MULTICAST_FRAME) #093', (t) => {
  const p = at(76);
  const f = decodeMulticastFrame(p.payload);
  if (!f.ok) return t.fail();
  t.is(f.value.networkId, NWID);
  t.is(f.value.flags, 2);
  t.is(f.value.gatherLimit, 33);
  t.is(f.value.sourceMac, undefined);
  t.is(f.value.mac, BROADCAST_MAC);
  t.is(f.value.adi, 0x0a4d00d8);
  t.is(f.value.etherType, 0x0806);
  t.is(f.value.payload.length, 28);
  t.is(arpRequestTarget(f.value.etherType, f.value.payload), 0x0a4d00d8);
  t.is(readMac(f.value.payload, 8), macFromAddress(A.address, NWID));
  t.is(toHex(encodeMulticastFrame(f.value)), toHex(p.payload));
  const o = okOf(at(93));
  t.is(o.inReVerb, Verb.MULTICAST_FRAME);
  t.is(o.inRePacketId, p.packetId);
  const ok = decodeMulticastFrameOk(o.data);
  t.deepEqual(ok, {
    ok: true,
    value: {
      networkId: NWID,
      mac: BROADCAST_MAC,
      adi: 0x0a4d00d8,
      flags: 2,
      gather: { totalKnown: 1, members: [B.address] },
    },
  });
  if (ok.ok) t.is(toHex(encodeMulticastFrameOk(ok.value)), toHex(o.data));
});

test('FRAMEs: ARP reply #100, ICMP echo #104, TCP; every FRAME re-encodes', (t) => {
  const frames = packets.filter((p) => p.verb === Verb.FRAME);
  t.true(frames.length >= 10);
  for (const p of frames) {
    const f = decodeFrame(p.payload);
    if (!f.ok) return t.fail();
    t.is(f.value.networkId, NWID);
    t.true(f.value.payload.length > 0);
    t.is(toHex(encodeFrame(f.value)), toHex(p.payload));
    t.truthy(byAddress.get(p.source));
  }
  const arp = decodeFrame(at(100).payload);
  t.true(arp.ok && arp.value.etherType === 0x0806 && readMac(arp.value.payload, 8) === macFromAddress(B.address, NWID));
  const icmp = decodeFrame(at(104).payload);
  t.true(icmp.ok && icmp.value.etherType === 0x0800 && icmp.value.payload[9] === 1 && icmp.value.payload.length === 84);
});

test('every VL2 packet of the capture is consumed by a VL2 codec', (t) => {
  let n = 0;
  for (const p of packets) {
    let ok = true;
    switch (p.verb) {
      case Verb.FRAME:
        ok = decodeFrame(p.payload).ok;
        break;
      case Verb.MULTICAST_LIKE:
        ok = decodeMulticastLike(p.payload).ok;
        break;
      case Verb.NETWORK_CREDENTIALS:
        ok = decodeNetworkCredentials(p.payload).ok;
        break;
      case Verb.NETWORK_CONFIG_REQUEST:
        ok = decodeConfigRequest(p.payload).ok;
        break;
      case Verb.NETWORK_CONFIG:
        ok = decodeConfigChunk(p.payload).ok;
        break;
      case Verb.MULTICAST_GATHER:
        ok = decodeMulticastGather(p.payload).ok;
        break;
      case Verb.MULTICAST_FRAME:
        ok = decodeMulticastFrame(p.payload).ok;
        break;
      default:
        continue;
    }
    t.true(ok, `#${p.index}`);
    n++;
  }
  t.log(`${n} VL2 packets decoded`);
  t.true(n > 40);
});
