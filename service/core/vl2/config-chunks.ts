// Signed config chunks (PROTOCOL-VL2.md §3.2-3.3): the payload of OK(NETWORK_CONFIG_REQUEST) and
// NETWORK_CONFIG, the ECHO-carried acknowledgement, and the member-side reassembler.
//
// ---- Config chunk (payload of NETWORK_CONFIG; after `0b <pkt id>` in OK(NETWORK_CONFIG_REQUEST)) ------------
//
//   off 0     nwid [8]
//   off 8     C [2]                     chunk data length
//   off 10    data [C]                  dictionary bytes [offset, offset + C)
//   off 10+C  flags [1]                 0x01 fast propagate
//   off 11+C  update id [8]             random, non-zero, same for all chunks of one update
//   off 19+C  total length T [4]
//   off 23+C  offset [4]                byte offset of this chunk in the dictionary
//   off 27+C  signature type [1] = 1
//   off 28+C  signature length [2] = 96
//   off 30+C  signature [96]            controller's C25519 signature over bytes [0, 27+C)
//   A legacy chunk ends after the data (no trailer): one chunk, T = C, offset 0, update id = packet id.
import type { Address } from '../address.js';
import type { Identity } from '../identity.js';
import { signWithIdentity, verifyWithIdentity } from '../identity.js';
import { WireReader, WireWriter } from '../wire.js';
import { SIGNATURE_LENGTH, SIGNATURE_TYPE_ED25519 } from './credentials.js';
import { CONFIG_DICT_CAPACITY } from './dictionary.js';
import { networkController } from './network-id.js';
import { type Vl2Decoded, vfail, vok } from './result.js';

export const CONFIG_CHUNK_MAX_DATA = 9740;
export const CONFIG_MAX_CHUNKS = Math.floor(CONFIG_DICT_CAPACITY / 1024) + 1; // 474
export const CONFIG_REASSEMBLY_SLOTS = 3;
export const CHUNK_FLAG_FAST_PROPAGATE = 0x01;

// ---- Config chunks ------------------------------------------------------------------------------------------

export interface ConfigChunk {
  readonly networkId: bigint;
  /** Dictionary bytes [offset, offset + data.length). */
  readonly data: Uint8Array;
  /** False for a legacy chunk without the trailer (then the fields below are the implied ones). */
  readonly hasTrailer: boolean;
  readonly flags: number;
  readonly updateId: bigint;
  readonly totalLength: number;
  readonly offset: number;
  /** 96 bytes (empty for a legacy chunk). */
  readonly signature: Uint8Array;
  /** The signed bytes [0, 27 + C) (a view into the decoded buffer). */
  readonly signedBytes: Uint8Array;
}

/** Builds one signed chunk. */
export function encodeConfigChunk(
  f: { networkId: bigint; data: Uint8Array; flags?: number; updateId: bigint; totalLength: number; offset: number },
  signer: Identity,
): Uint8Array {
  const w = new WireWriter(30 + f.data.length + SIGNATURE_LENGTH);
  w.u64(f.networkId).u16(f.data.length).bytes(f.data);
  w.u8(f.flags ?? 0)
    .u64(f.updateId)
    .u32(f.totalLength)
    .u32(f.offset);
  const signed = w.finish();
  const sig = signWithIdentity(signer, signed);
  const out = new Uint8Array(signed.length + 3 + SIGNATURE_LENGTH);
  out.set(signed, 0);
  out[signed.length] = SIGNATURE_TYPE_ED25519;
  out[signed.length + 1] = 0;
  out[signed.length + 2] = SIGNATURE_LENGTH;
  out.set(sig, signed.length + 3);
  return out;
}

/** Splits a serialized config into signed chunks of at most 9740 data bytes (the controller's sender). */
export function makeConfigChunks(
  networkId: bigint,
  dict: Uint8Array,
  updateId: bigint,
  signer: Identity,
  flags = 0,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < dict.length; offset += CONFIG_CHUNK_MAX_DATA) {
    const data = dict.subarray(offset, Math.min(dict.length, offset + CONFIG_CHUNK_MAX_DATA));
    out.push(encodeConfigChunk({ networkId, data, flags, updateId, totalLength: dict.length, offset }, signer));
  }
  return out;
}

/**
 * Decodes a chunk (the NETWORK_CONFIG payload, or OK(NETWORK_CONFIG_REQUEST) data after in-re verb and ID).
 * Applies the structural checks of §3.3: offset + C ≤ T, T < capacity, signature type 1 of 96 bytes.
 * `legacyPacketId` gives the implied update ID of a legacy chunk.
 */
export function decodeConfigChunk(bytes: Uint8Array, legacyPacketId = 0n): Vl2Decoded<ConfigChunk> {
  const r = new WireReader(bytes);
  const networkId = r.u64();
  const c = r.u16();
  const data = r.bytesView(c);
  if (r.failed) return vfail('too-short', 'config chunk truncated');
  if (r.remaining === 0) {
    return vok({
      networkId,
      data,
      hasTrailer: false,
      flags: 0,
      updateId: legacyPacketId,
      totalLength: c,
      offset: 0,
      signature: new Uint8Array(0),
      signedBytes: bytes.subarray(0, 10 + c),
    });
  }
  const flags = r.u8();
  const updateId = r.u64();
  const totalLength = r.u32();
  const offset = r.u32();
  const signedEnd = r.pos;
  const sigType = r.u8();
  const sigLen = r.u16();
  const signature = r.bytesView(SIGNATURE_LENGTH);
  if (r.failed) return vfail('too-short', 'config chunk trailer truncated');
  if (sigType !== SIGNATURE_TYPE_ED25519 || sigLen !== SIGNATURE_LENGTH)
    return vfail('bad-signature', 'unsupported chunk signature');
  if (offset + c > totalLength) return vfail('bad-type', 'chunk past the total length');
  if (totalLength >= CONFIG_DICT_CAPACITY) return vfail('too-long', 'config too large');
  return vok({
    networkId,
    data,
    hasTrailer: true,
    flags,
    updateId,
    totalLength,
    offset,
    signature,
    signedBytes: bytes.subarray(0, signedEnd),
  });
}

/** The controller's signature over the chunk verifies (legacy chunks carry none: false). */
export function verifyConfigChunk(chunk: ConfigChunk, controller: Identity): boolean {
  if (!chunk.hasTrailer) return false;
  return verifyWithIdentity(controller, chunk.signedBytes, chunk.signature);
}

/** Data of the OK a member sends after applying a pushed config: in-re verb ECHO (a 1.14.1 quirk). */
export function encodeConfigAck(networkId: bigint, updateId: bigint): Uint8Array {
  return new WireWriter(16).u64(networkId).u64(updateId).finish();
}

/** Decodes that ack's data (nwid, update ID). */
export function decodeConfigAck(data: Uint8Array): Vl2Decoded<{ networkId: bigint; updateId: bigint }> {
  const r = new WireReader(data);
  const networkId = r.u64();
  const updateId = r.u64();
  if (r.failed) return vfail('too-short', 'config ack truncated');
  return vok({ networkId, updateId });
}

// ---- Member-side reassembly (§3.3) --------------------------------------------------------------------------

export type ChunkResult =
  /** Stored; more chunks needed. */
  | { readonly kind: 'incomplete'; readonly fastPropagate: boolean }
  /** The last chunk of an update: the whole dictionary (T bytes). */
  | {
      readonly kind: 'complete';
      readonly dictionary: Uint8Array;
      readonly updateId: bigint;
      readonly fastPropagate: boolean;
    }
  /** The controller's identity is needed to verify (WHOIS it, retry the packet). */
  | { readonly kind: 'need-identity'; readonly address: Address }
  | {
      readonly kind: 'dropped';
      readonly reason:
        | 'malformed'
        | 'wrong-network'
        | 'duplicate'
        | 'bad-signature'
        | 'not-from-controller'
        | 'too-many-chunks';
    };

interface Slot {
  updateId: bigint;
  counter: number;
  chunkIds: Set<bigint>;
  bytes: number;
  buf: Uint8Array;
  done: boolean;
}

/**
 * Reassembles config chunks for one network, as a 1.14.1 member: three slots keyed by update ID (a new update
 * takes the slot with the lowest use count), chunk de-duplication by signature fold, per-chunk signature
 * check, completion when the byte count reaches T.
 * Pure: the caller passes the controller identity it knows (undefined → 'need-identity').
 */
export class ConfigReassembler {
  private readonly slots: Slot[] = [];

  constructor(readonly networkId: bigint) {
    for (let i = 0; i < CONFIG_REASSEMBLY_SLOTS; i++)
      this.slots.push({ updateId: 0n, counter: 0, chunkIds: new Set(), bytes: 0, buf: new Uint8Array(0), done: false });
  }

  /**
   * Offers one chunk. `source` is the VL1 sender; `packetId` the packet's ID (implied update ID of a legacy
   * chunk, accepted only from the controller).
   */
  accept(chunkBytes: Uint8Array, source: Address, packetId: bigint, controller: Identity | undefined): ChunkResult {
    const dec = decodeConfigChunk(chunkBytes, packetId);
    if (!dec.ok) return { kind: 'dropped', reason: 'malformed' };
    const ch = dec.value;
    if (ch.networkId !== this.networkId) return { kind: 'dropped', reason: 'wrong-network' };
    const controllerAddress = networkController(this.networkId);
    let slot: Slot | undefined;
    let chunkId: bigint;
    if (ch.hasTrailer) {
      chunkId = chunkIdentity(ch.signature);
      // The slot of this update, else the one used least (its own use count; the first on a tie).
      for (const s of this.slots) {
        if (s.updateId === ch.updateId) {
          slot = s;
          break;
        }
        if (!slot || s.counter < slot.counter) slot = s;
      }
      if (slot!.updateId === ch.updateId && slot!.chunkIds.has(chunkId))
        return { kind: 'dropped', reason: 'duplicate' };
      if (!controller || controller.address !== controllerAddress)
        return { kind: 'need-identity', address: controllerAddress };
      if (!verifyConfigChunk(ch, controller)) return { kind: 'dropped', reason: 'bad-signature' };
    } else {
      if (source !== controllerAddress) return { kind: 'dropped', reason: 'not-from-controller' };
      chunkId = packetId;
      for (const s of this.slots) if (!slot || s.counter < slot.counter) slot = s;
    }
    const sl = slot!;
    sl.counter++;
    if (sl.updateId !== ch.updateId) {
      sl.updateId = ch.updateId;
      sl.chunkIds = new Set();
      sl.bytes = 0;
      sl.done = false;
    }
    if (sl.chunkIds.size >= CONFIG_MAX_CHUNKS) return { kind: 'dropped', reason: 'too-many-chunks' };
    sl.chunkIds.add(chunkId);
    if (sl.buf.length < ch.totalLength) {
      const nb = new Uint8Array(ch.totalLength);
      nb.set(sl.buf.subarray(0, Math.min(sl.buf.length, ch.totalLength)));
      sl.buf = nb;
    }
    sl.buf.set(ch.data, ch.offset);
    sl.bytes += ch.data.length;
    const fastPropagate = (ch.flags & CHUNK_FLAG_FAST_PROPAGATE) !== 0;
    // Complete when the byte count reaches T (a sum, not a coverage map — as 1.14.1).
    if (sl.bytes === ch.totalLength && !sl.done) {
      sl.done = true;
      return { kind: 'complete', dictionary: sl.buf.slice(0, ch.totalLength), updateId: ch.updateId, fastPropagate };
    }
    return { kind: 'incomplete', fastPropagate };
  }
}

/** XOR-fold of signature bytes 0..15 into 8 bytes, as a bigint (the chunk's de-duplication identity). */
function chunkIdentity(sig: Uint8Array): bigint {
  const f = new Uint8Array(8);
  for (let i = 0; i < 16; i++) f[i & 7] = f[i & 7]! ^ sig[i]!;
  return new WireReader(f).u64();
}
