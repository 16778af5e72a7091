// Payload codecs of the VL2 frame and multicast verbs (PROTOCOL-VL2.md §6, §7). Payload = the bytes after
// the verb byte (after LZ4 decompression); OK data = the bytes after `[1] in-re verb [8] in-re packet ID`.
//
// Exported API (stable):
//   FRAME (0x06):             encodeFrame(f) / decodeFrame(payload) → Vl2Decoded<Frame>
//   EXT_FRAME (0x07):         EXT_FRAME_FLAG, encodeExtFrame(f) / decodeExtFrame(payload); OK data: encodeExtFrameOk(nwid)
//   MULTICAST_LIKE (0x09):    encodeMulticastLikes(entries, maxPayload?) → Uint8Array[] / decodeMulticastLike(payload)
//   MULTICAST_GATHER (0x0d):  encodeMulticastGather(g) / decodeMulticastGather(payload)
//     OK data:                encodeGatherOk(r) / decodeGatherOk(data)
//   MULTICAST_FRAME (0x0e):   MULTICAST_FRAME_FLAG, encodeMulticastFrame(f) / decodeMulticastFrame(payload)
//     OK data:                encodeMulticastFrameOk(r) / decodeMulticastFrameOk(data)
//   ERROR data naming a network: decodeNetworkErrorData(data) → nwid; UNWANTED_MULTICAST: encode/decodeUnwantedMulticast
//   Ethernet helpers:         ethernetFrame(dst, src, etherType, payload), parseEthernetFrame(frame)
//   Constants:                MAX_FRAME_PAYLOAD (10000), MAX_LIKE_PAYLOAD, GATHER_FLAG_COM
//   Decoders return Vl2Decoded<…> and never throw; payload fields are views into the input.
//
// FRAME:             nwid [8] | ethertype [2] | payload
// EXT_FRAME:         nwid [8] | flags [1] | COM (flags & 01) | to MAC [6] | from MAC [6] | ethertype [2] | payload
// MULTICAST_LIKE:    { nwid [8] | MAC [6] | ADI [4] } ... until the end
// MULTICAST_GATHER:  nwid [8] | flags [1] | MAC [6] | ADI [4] | gather limit [4] | COM (flags & 01)
//   OK data:         nwid [8] | MAC [6] | ADI [4] | total known [4] | K [2] | K x address [5]
// MULTICAST_FRAME:   nwid [8] | flags [1] | COM (01) | gather limit [4] (02) | source MAC [6] (04) |
//                    group MAC [6] | ADI [4] | ethertype [2] | payload
//   OK data:         nwid [8] | MAC [6] | ADI [4] | flags [1] | COM (01) | total known [4] K [2] K x [5] (02)
import type { Address } from '../address.js';
import { payloadWithHeadroom } from '../packet.js';
import { readU64, WireReader, WireWriter, writeU64 } from '../wire.js';
import { type CertificateOfMembership, readCom, writeCom } from './credentials.js';
import { type Mac, type MulticastGroup, readMac } from './mac.js';
import { type Vl2Decoded, vfail, vok } from './result.js';

export const MAX_FRAME_PAYLOAD = 10000;
/** A MULTICAST_LIKE packet carries at most this much payload (10024-byte packet − 28-byte header). */
export const MAX_LIKE_PAYLOAD = 10024 - 28;

function macW(w: WireWriter, mac: Mac): void {
  w.u16(Math.floor(mac / 0x100000000) & 0xffff).u32(mac >>> 0);
}

function macR(r: WireReader): Mac {
  const hi = r.u16();
  const lo = r.u32();
  return hi * 0x100000000 + lo;
}

// ---- FRAME ----------------------------------------------------------------------------------------------------

export interface Frame {
  readonly networkId: bigint;
  readonly etherType: number;
  /** Ethernet payload (a view into the decoded buffer). */
  readonly payload: Uint8Array;
}

/**
 * FRAME payload (one allocation, one copy of the Ethernet payload). inPlace: made with room for the packet
 * header (packet.ts payloadWithHeadroom), to be sent once: the frame data path, no copy between this and
 * the wire.
 */
export function encodeFrame(f: Frame, inPlace = false): Uint8Array {
  const out = inPlace ? payloadWithHeadroom(10 + f.payload.length) : new Uint8Array(10 + f.payload.length);
  writeU64(out, 0, f.networkId);
  out[8] = (f.etherType >>> 8) & 0xff;
  out[9] = f.etherType & 0xff;
  out.set(f.payload, 10);
  return out;
}

/** Decodes a FRAME payload; the Ethernet payload is a view into the input (no copy). */
export function decodeFrame(payload: Uint8Array): Vl2Decoded<Frame> {
  if (payload.length < 10) return vfail('too-short', 'FRAME shorter than 10 bytes');
  return vok({
    networkId: readU64(payload, 0),
    etherType: (payload[8]! << 8) | payload[9]!,
    payload: payload.subarray(10),
  });
}

// ---- EXT_FRAME ------------------------------------------------------------------------------------------------

export const EXT_FRAME_FLAG = {
  COM_ATTACHED: 0x01,
  ACK_REQUESTED: 0x10,
  /** Exact flag bytes 1.14.1 sends (§6.2). */
  BRIDGED: 0x00,
  TEE_OUTBOUND: 0x02,
  WATCH_OUTBOUND: 0x16,
  REDIRECT_OUTBOUND: 0x04,
  TEE_INBOUND: 0x08,
  WATCH_INBOUND: 0x1c,
  REDIRECT_INBOUND: 0x0a,
} as const;

export interface ExtFrame {
  readonly networkId: bigint;
  readonly flags: number;
  readonly com?: CertificateOfMembership;
  readonly to: Mac;
  readonly from: Mac;
  readonly etherType: number;
  readonly payload: Uint8Array;
}

export function encodeExtFrame(f: ExtFrame): Uint8Array {
  const w = new WireWriter(32 + f.payload.length);
  w.u64(f.networkId).u8(f.com ? f.flags | EXT_FRAME_FLAG.COM_ATTACHED : f.flags & ~EXT_FRAME_FLAG.COM_ATTACHED);
  if (f.com) writeCom(w, f.com);
  macW(w, f.to);
  macW(w, f.from);
  w.u16(f.etherType).bytes(f.payload);
  return w.finish();
}

export function decodeExtFrame(payload: Uint8Array): Vl2Decoded<ExtFrame> {
  const r = new WireReader(payload);
  const networkId = r.u64();
  const flags = r.u8();
  let com: CertificateOfMembership | undefined;
  if (flags & EXT_FRAME_FLAG.COM_ATTACHED) {
    com = readCom(r);
    if (!com) return vfail('malformed', 'EXT_FRAME COM');
  }
  const to = macR(r);
  const from = macR(r);
  const etherType = r.u16();
  if (r.failed) return vfail('too-short', 'EXT_FRAME truncated');
  const rest = r.rest();
  return vok({ networkId, flags, ...(com ? { com } : {}), to, from, etherType, payload: rest });
}

/** OK(EXT_FRAME) data (after in-re verb and ID): the network ID. */
export function encodeExtFrameOk(networkId: bigint): Uint8Array {
  return new WireWriter(8).u64(networkId).finish();
}

// ---- MULTICAST_LIKE -------------------------------------------------------------------------------------------

export interface MulticastLike extends MulticastGroup {
  readonly networkId: bigint;
}

/** Packs entries into as few payloads as fit (18 bytes each); nothing for an empty list. */
export function encodeMulticastLikes(entries: readonly MulticastLike[], maxPayload = MAX_LIKE_PAYLOAD): Uint8Array[] {
  const per = Math.max(1, Math.floor(maxPayload / 18));
  const out: Uint8Array[] = [];
  for (let i = 0; i < entries.length; i += per) {
    const part = entries.slice(i, i + per);
    const w = new WireWriter(part.length * 18);
    for (const e of part) {
      w.u64(e.networkId);
      macW(w, e.mac);
      w.u32(e.adi);
    }
    out.push(w.finish());
  }
  return out;
}

/**
 * Every whole 18-byte entry. A trailing partial entry is ignored: 1.14.1 applies the entries before it and then
 * stops. An empty payload decodes to no entries.
 */
export function decodeMulticastLike(payload: Uint8Array): Vl2Decoded<MulticastLike[]> {
  const r = new WireReader(payload);
  const out: MulticastLike[] = [];
  while (r.remaining >= 18) out.push({ networkId: r.u64(), mac: macR(r), adi: r.u32() });
  return vok(out);
}

// ---- MULTICAST_GATHER -----------------------------------------------------------------------------------------

export const GATHER_FLAG_COM = 0x01;

export interface MulticastGather extends MulticastGroup {
  readonly networkId: bigint;
  readonly flags: number;
  readonly gatherLimit: number;
  readonly com?: CertificateOfMembership;
}

export function encodeMulticastGather(g: MulticastGather): Uint8Array {
  const w = new WireWriter(300);
  w.u64(g.networkId).u8(g.com ? g.flags | GATHER_FLAG_COM : g.flags & ~GATHER_FLAG_COM);
  macW(w, g.mac);
  w.u32(g.adi).u32(g.gatherLimit);
  if (g.com) writeCom(w, g.com);
  return w.finish();
}

export function decodeMulticastGather(payload: Uint8Array): Vl2Decoded<MulticastGather> {
  const r = new WireReader(payload);
  const networkId = r.u64();
  const flags = r.u8();
  const mac = macR(r);
  const adi = r.u32();
  const gatherLimit = r.u32();
  if (r.failed) return vfail('too-short', 'MULTICAST_GATHER truncated');
  let com: CertificateOfMembership | undefined;
  if (flags & GATHER_FLAG_COM) {
    com = readCom(r);
    if (!com) return vfail('malformed', 'MULTICAST_GATHER COM');
  }
  return vok({ networkId, flags, mac, adi, gatherLimit, ...(com ? { com } : {}) });
}

export interface GatherResult {
  readonly totalKnown: number;
  readonly members: readonly Address[];
}

export interface GatherOk extends MulticastGroup, GatherResult {
  readonly networkId: bigint;
}

function writeGatherResult(w: WireWriter, g: GatherResult): void {
  w.u32(g.totalKnown).u16(g.members.length);
  for (const a of g.members) w.address(a);
}

function readGatherResult(r: WireReader): GatherResult | undefined {
  const totalKnown = r.u32();
  const k = r.u16();
  if (r.failed || r.remaining < k * 5) return undefined;
  const members: Address[] = [];
  for (let i = 0; i < k; i++) members.push(r.address());
  return { totalKnown, members };
}

export function encodeGatherOk(g: GatherOk): Uint8Array {
  const w = new WireWriter(24 + 5 * g.members.length);
  w.u64(g.networkId);
  macW(w, g.mac);
  w.u32(g.adi);
  writeGatherResult(w, g);
  return w.finish();
}

export function decodeGatherOk(data: Uint8Array): Vl2Decoded<GatherOk> {
  const r = new WireReader(data);
  const networkId = r.u64();
  const mac = macR(r);
  const adi = r.u32();
  const res = readGatherResult(r);
  if (r.failed || !res) return vfail('too-short', 'OK(MULTICAST_GATHER) truncated');
  return vok({ networkId, mac, adi, ...res });
}

// ---- MULTICAST_FRAME ------------------------------------------------------------------------------------------

export const MULTICAST_FRAME_FLAG = {
  COM: 0x01,
  GATHER_LIMIT: 0x02,
  SOURCE_MAC: 0x04,
  REPLICATE: 0x08,
} as const;

export interface MulticastFrame extends MulticastGroup {
  readonly networkId: bigint;
  /** The flag byte as sent (the optional-field bits are set from the fields on encode). */
  readonly flags: number;
  readonly com?: CertificateOfMembership;
  readonly gatherLimit?: number;
  readonly sourceMac?: Mac;
  readonly etherType: number;
  readonly payload: Uint8Array;
}

export function encodeMulticastFrame(f: MulticastFrame): Uint8Array {
  let flags =
    f.flags & ~(MULTICAST_FRAME_FLAG.COM | MULTICAST_FRAME_FLAG.GATHER_LIMIT | MULTICAST_FRAME_FLAG.SOURCE_MAC);
  if (f.com) flags |= MULTICAST_FRAME_FLAG.COM;
  if (f.gatherLimit !== undefined) flags |= MULTICAST_FRAME_FLAG.GATHER_LIMIT;
  if (f.sourceMac !== undefined) flags |= MULTICAST_FRAME_FLAG.SOURCE_MAC;
  const w = new WireWriter(40 + f.payload.length);
  w.u64(f.networkId).u8(flags);
  if (f.com) writeCom(w, f.com);
  if (f.gatherLimit !== undefined) w.u32(f.gatherLimit);
  if (f.sourceMac !== undefined) macW(w, f.sourceMac);
  macW(w, f.mac);
  w.u32(f.adi).u16(f.etherType).bytes(f.payload);
  return w.finish();
}

export function decodeMulticastFrame(payload: Uint8Array): Vl2Decoded<MulticastFrame> {
  const r = new WireReader(payload);
  const networkId = r.u64();
  const flags = r.u8();
  let com: CertificateOfMembership | undefined;
  if (flags & MULTICAST_FRAME_FLAG.COM) {
    com = readCom(r);
    if (!com) return vfail('malformed', 'MULTICAST_FRAME COM');
  }
  const gatherLimit = flags & MULTICAST_FRAME_FLAG.GATHER_LIMIT ? r.u32() : undefined;
  const sourceMac = flags & MULTICAST_FRAME_FLAG.SOURCE_MAC ? macR(r) : undefined;
  const mac = macR(r);
  const adi = r.u32();
  const etherType = r.u16();
  if (r.failed) return vfail('too-short', 'MULTICAST_FRAME truncated');
  return vok({
    networkId,
    flags,
    ...(com ? { com } : {}),
    ...(gatherLimit !== undefined ? { gatherLimit } : {}),
    ...(sourceMac !== undefined ? { sourceMac } : {}),
    mac,
    adi,
    etherType,
    payload: r.rest(),
  });
}

export interface MulticastFrameOk extends MulticastGroup {
  readonly networkId: bigint;
  readonly flags: number;
  readonly com?: CertificateOfMembership;
  readonly gather?: GatherResult;
}

export function encodeMulticastFrameOk(o: MulticastFrameOk): Uint8Array {
  let flags = o.flags & ~0x03;
  if (o.com) flags |= 0x01;
  if (o.gather) flags |= 0x02;
  const w = new WireWriter(32);
  w.u64(o.networkId);
  macW(w, o.mac);
  w.u32(o.adi).u8(flags);
  if (o.com) writeCom(w, o.com);
  if (o.gather) writeGatherResult(w, o.gather);
  return w.finish();
}

export function decodeMulticastFrameOk(data: Uint8Array): Vl2Decoded<MulticastFrameOk> {
  const r = new WireReader(data);
  const networkId = r.u64();
  const mac = macR(r);
  const adi = r.u32();
  const flags = r.u8();
  if (r.failed) return vfail('too-short', 'OK(MULTICAST_FRAME) truncated');
  let com: CertificateOfMembership | undefined;
  if (flags & 0x01) {
    com = readCom(r);
    if (!com) return vfail('malformed', 'OK(MULTICAST_FRAME) COM');
  }
  let gather: GatherResult | undefined;
  if (flags & 0x02) {
    gather = readGatherResult(r);
    if (!gather || r.failed) return vfail('too-short', 'OK(MULTICAST_FRAME) gather results');
  }
  return vok({ networkId, mac, adi, flags, ...(com ? { com } : {}), ...(gather ? { gather } : {}) });
}

// ---- ERROR data ---------------------------------------------------------------------------------------------

/** The network ID that ERROR(NEED_MEMBERSHIP_CERTIFICATE / ACCESS_DENIED / OBJ_NOT_FOUND …) data starts with. */
export function decodeNetworkErrorData(data: Uint8Array): Vl2Decoded<bigint> {
  if (data.length < 8) return vfail('too-short', 'error data has no network ID');
  return vok(new WireReader(data).u64());
}

export function encodeUnwantedMulticast(networkId: bigint, g: MulticastGroup): Uint8Array {
  const w = new WireWriter(18);
  w.u64(networkId);
  macW(w, g.mac);
  w.u32(g.adi);
  return w.finish();
}

export function decodeUnwantedMulticast(data: Uint8Array): Vl2Decoded<MulticastLike> {
  const r = new WireReader(data);
  const networkId = r.u64();
  const mac = macR(r);
  const adi = r.u32();
  if (r.failed) return vfail('too-short', 'UNWANTED_MULTICAST data truncated');
  return vok({ networkId, mac, adi });
}

// ---- Ethernet -----------------------------------------------------------------------------------------------

/** dst [6] | src [6] | ethertype [2] | payload. */
export function ethernetFrame(dst: Mac, src: Mac, etherType: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(14 + payload.length);
  for (let i = 5; i >= 0; i--) {
    out[i] = Math.floor(dst / 2 ** (8 * (5 - i))) & 0xff;
    out[6 + i] = Math.floor(src / 2 ** (8 * (5 - i))) & 0xff;
  }
  out[12] = (etherType >>> 8) & 0xff;
  out[13] = etherType & 0xff;
  out.set(payload, 14);
  return out;
}

export interface EthernetFrame {
  readonly dst: Mac;
  readonly src: Mac;
  readonly etherType: number;
  readonly payload: Uint8Array;
}

/** Splits an Ethernet frame (no VLAN handling: 1.14.1 treats the tag as payload). */
export function parseEthernetFrame(frame: Uint8Array): Vl2Decoded<EthernetFrame> {
  if (frame.length < 14) return vfail('too-short', 'Ethernet frame shorter than 14 bytes');
  return vok({
    dst: readMac(frame, 0),
    src: readMac(frame, 6),
    etherType: (frame[12]! << 8) | frame[13]!,
    payload: frame.subarray(14),
  });
}
