// ZeroTier VL1 packet: header codec, datagram classification, and the seal/open pipeline
// (LZ4 + armor on the way out, dearmor + LZ4 on the way in). PROTOCOL-VL1.md §3-§5.
//
//    0                   8          13         18    19                  27     28
//   +-------------------+----------+----------+-----+-------------------+------+------------------+
//   | packet ID / IV  8 | dest   5 | source 5 |flags| MAC             8 | verb | payload ...      |
//   +-------------------+----------+----------+-----+-------------------+------+------------------+
//                                                    \______ armored region: byte 27 .. end ______/
//   flags: bits 0-2 hops | bits 3-5 cipher suite | 0x40 fragmented (more pieces follow) | 0x80 legacy "encrypted"
//   verb:  bits 0-4 verb number | 0x80 payload (from byte 28) is one raw LZ4 block
//
// Decoders check lengths before reading, never throw on wire input, and return a typed failure with a stable
// reason code that the caller counts and drops.
import {
  BEACON_LENGTH,
  CIPHER_AES_GMAC_SIV,
  CIPHER_NONE_TRUSTED_PATH,
  CIPHER_POLY1305_NONE,
  COMPRESSION_MIN_PAYLOAD,
  DEFAULT_PHYSMTU,
  FLAG_ENCRYPTED,
  FLAG_FRAGMENTED,
  FLAGS_CIPHER_MASK,
  FLAGS_CIPHER_SHIFT,
  FLAGS_HOPS_MASK,
  FRAGMENT_IDX_INDICATOR,
  FRAGMENT_INDICATOR,
  MAX_PACKET_LENGTH,
  MAX_PAYLOAD_LENGTH,
  MIN_DATAGRAM_LENGTH,
  PACKET_IDX_DEST,
  PACKET_IDX_FLAGS,
  PACKET_IDX_PAYLOAD,
  PACKET_IDX_SOURCE,
  PACKET_IDX_VERB,
  PACKET_MIN_LENGTH,
  VERB_FLAG_COMPRESSED,
  VERB_MASK,
} from './constants.js';
import { armor, cryptField, dearmor, dearmorReason, lz4Compress, lz4Decompress, type PeerKey } from './crypto.js';
import { decodeFragment, type FragmentHeader } from './fragment.js';
import { type Decoded, type DropReason, fail, ok } from './result.js';
import { Slab } from './slab.js';
import { decodeHello, type Hello } from './verbs.js';
import { readAddress, readU64, writeAddress, writeU64 } from './wire.js';

export type { Decoded, DropReason } from './result.js';
export { DropCounter, fail, ok } from './result.js';

export interface PacketHeader {
  /** Wire bytes 0-7 as an unsigned 64-bit value: the IV for suites 0/1, the SIV tag half for suite 3. */
  readonly packetId: bigint;
  readonly destination: number;
  readonly source: number;
  /** The raw flags byte. */
  readonly flags: number;
  readonly hops: number;
  readonly cipher: number;
  /** Flag 0x40: this is the head of a fragmented packet. */
  readonly fragmented: boolean;
  /** Total length of the packet the header was read from. */
  readonly length: number;
}

/** Reads the cleartext header (everything but the verb, which may be encrypted). */
export function decodeHeader(b: Uint8Array): Decoded<PacketHeader> {
  if (b.length < PACKET_MIN_LENGTH) return fail('too-short');
  if (b.length > MAX_PACKET_LENGTH) return fail('too-long');
  const flags = b[PACKET_IDX_FLAGS]!;
  return ok({
    packetId: readU64(b, 0),
    destination: readAddress(b, PACKET_IDX_DEST),
    source: readAddress(b, PACKET_IDX_SOURCE),
    flags,
    hops: flags & FLAGS_HOPS_MASK,
    cipher: (flags & FLAGS_CIPHER_MASK) >> FLAGS_CIPHER_SHIFT,
    fragmented: (flags & FLAG_FRAGMENTED) !== 0,
    length: b.length,
  });
}

/** A received UDP datagram, classified in ZeroTier One's order (PROTOCOL-VL1.md §3.6). */
export type Datagram =
  | { readonly kind: 'packet'; readonly header: PacketHeader }
  | { readonly kind: 'fragment'; readonly fragment: FragmentHeader }
  | { readonly kind: 'beacon'; readonly source: number }
  | { readonly kind: 'ignored'; readonly reason: DropReason };

export function classifyDatagram(b: Uint8Array): Datagram {
  if (b.length === BEACON_LENGTH) return { kind: 'beacon', source: readAddress(b, 8) };
  if (b.length < MIN_DATAGRAM_LENGTH) return { kind: 'ignored', reason: 'too-short' };
  if (b[FRAGMENT_IDX_INDICATOR] === FRAGMENT_INDICATOR) {
    const f = decodeFragment(b);
    return f.ok ? { kind: 'fragment', fragment: f.value } : { kind: 'ignored', reason: f.reason };
  }
  const h = decodeHeader(b);
  return h.ok ? { kind: 'packet', header: h.value } : { kind: 'ignored', reason: h.reason };
}

/** Sets the hop count in place (what a relay changes; it is outside every MAC). */
export function setPacketHops(b: Uint8Array, hops: number): void {
  b[PACKET_IDX_FLAGS] = (b[PACKET_IDX_FLAGS]! & ~FLAGS_HOPS_MASK) | (hops & FLAGS_HOPS_MASK);
}

/** Reads the 8-byte packet ID of a packet or fragment (the caller checked length ≥ 8). */
export function packetIdOf(b: Uint8Array): bigint {
  return readU64(b, 0);
}

// ---- Building and sealing ---------------------------------------------------------------------------------

export interface PacketSpec {
  /** Random 64-bit IV chosen by the sender (replaced on the wire by the SIV tag half for suite 3). */
  readonly packetId: bigint;
  readonly destination: number;
  readonly source: number;
  readonly verb: number;
  /** Bytes after the verb byte, uncompressed. */
  readonly payload: Uint8Array;
  readonly hops?: number;
  /** Try LZ4 (kept only for payloads over 64 bytes that shrink), as 1.14.1 does for the verbs that ask. */
  readonly compress?: boolean;
}

const slab = new Slab();
/** Payloads made by payloadWithHeadroom and not yet built into a packet. */
const inPlace = new WeakSet<Uint8Array>();

/**
 * A payload buffer of `length` bytes with room for the packet header before it: buildPacket then writes the
 * header there and armoring encrypts the payload where it is, without copying it. For one packet only: once
 * built (and armored) its bytes are no longer the plaintext, and it is built like any other payload after.
 */
export function payloadWithHeadroom(length: number): Uint8Array {
  const p = slab.take(PACKET_IDX_PAYLOAD + length).subarray(PACKET_IDX_PAYLOAD);
  inPlace.add(p);
  return p;
}

/**
 * The plaintext packet: header (MAC zero, cipher bits zero) + verb + payload, compressed when asked and
 * worthwhile. `mtu` decides the fragmented flag, which must be set before armoring.
 */
export function buildPacket(spec: PacketSpec, mtu = DEFAULT_PHYSMTU): Uint8Array {
  let payload = spec.payload;
  let verb = spec.verb & VERB_MASK;
  if (spec.compress && payload.length > COMPRESSION_MIN_PAYLOAD) {
    const out = new Uint8Array(payload.length - 1);
    const n = lz4Compress(payload, out);
    if (n > 0 && n < payload.length) {
      payload = out.subarray(0, n);
      verb |= VERB_FLAG_COMPRESSED;
    }
  }
  const len = PACKET_IDX_PAYLOAD + payload.length;
  let b: Uint8Array;
  if (payload === spec.payload && inPlace.delete(payload)) {
    b = new Uint8Array(payload.buffer, payload.byteOffset - PACKET_IDX_PAYLOAD, len);
  } else {
    b = new Uint8Array(len);
    b.set(payload, PACKET_IDX_PAYLOAD);
  }
  writeU64(b, 0, spec.packetId);
  writeAddress(b, PACKET_IDX_DEST, spec.destination);
  writeAddress(b, PACKET_IDX_SOURCE, spec.source);
  b[PACKET_IDX_FLAGS] = ((spec.hops ?? 0) & FLAGS_HOPS_MASK) | (len > mtu ? FLAG_FRAGMENTED : 0);
  b[PACKET_IDX_VERB] = verb;
  return b;
}

/**
 * Writes a plaintext header and verb byte in place at b[off..off+28) for batch building on the data path
 * (the packet ID bytes 0-7 are left for the caller to fill with random bytes, e.g. many at once). Flags get
 * the hop count and the fragmented bit; armoring sets the suite bits.
 */
export function writeHeader(
  b: Uint8Array,
  off: number,
  destination: number,
  source: number,
  verb: number,
  fragmented = false,
  hops = 0,
): void {
  writeAddress(b, off + PACKET_IDX_DEST, destination);
  writeAddress(b, off + PACKET_IDX_SOURCE, source);
  b[off + PACKET_IDX_FLAGS] = (hops & FLAGS_HOPS_MASK) | (fragmented ? FLAG_FRAGMENTED : 0);
  b.fill(0, off + 19, off + PACKET_IDX_VERB);
  b[off + PACKET_IDX_VERB] = verb;
}

/** Builds and armors a packet (suite 0 for HELLO only, 1 before the peer's version is known, else 3). */
export function sealPacket(key: PeerKey, spec: PacketSpec, suite: 0 | 1 | 3, mtu = DEFAULT_PHYSMTU): Uint8Array {
  const b = buildPacket(spec, mtu);
  armor(key, b, suite);
  return b;
}

export interface OpenedPacket {
  readonly header: PacketHeader;
  /** The suite that authenticated the packet. */
  readonly suite: number;
  /** Verb number (compression flag cleared). */
  readonly verb: number;
  readonly compressed: boolean;
  /** Payload after the verb byte, decompressed: a view into the packet, or a fresh buffer if it was compressed. */
  readonly payload: Uint8Array;
}

let decompressScratch: Uint8Array | undefined;

/**
 * The receive path for a whole (reassembled) packet addressed to us, from a known peer: dearmor in place with
 * the peer's key, then decompress. Suite 2 (trusted path) is refused here; the caller handles it where it
 * knows the physical path. Pass the header from classifyDatagram to skip decoding it twice. Never throws on
 * wire input.
 */
export function openPacket(key: PeerKey, b: Uint8Array, header?: PacketHeader): Decoded<OpenedPacket> {
  let h: PacketHeader;
  if (header !== undefined && header.length === b.length) {
    h = header; // already decoded by classifyDatagram
  } else {
    const d = decodeHeader(b);
    if (!d.ok) return d;
    h = d.value;
  }
  if (h.cipher === CIPHER_NONE_TRUSTED_PATH) return fail('trusted-path');
  const suite = dearmor(key, b);
  if (suite < 0) return fail(dearmorReason(suite));
  return decodeBody(h, suite, b);
}

/** After authentication: reads the verb byte and decompresses the payload if flagged. */
export function decodeBody(header: PacketHeader, suite: number, b: Uint8Array): Decoded<OpenedPacket> {
  const vb = b[PACKET_IDX_VERB]!;
  const verb = vb & VERB_MASK;
  if ((vb & VERB_FLAG_COMPRESSED) === 0) {
    return ok({ header, suite, verb, compressed: false, payload: b.subarray(PACKET_IDX_PAYLOAD) });
  }
  decompressScratch ??= new Uint8Array(MAX_PAYLOAD_LENGTH);
  const n = lz4Decompress(b.subarray(PACKET_IDX_PAYLOAD), decompressScratch, 0, MAX_PAYLOAD_LENGTH);
  if (n < 0) return fail('decompress-failed');
  return ok({ header, suite, verb, compressed: true, payload: decompressScratch.slice(0, n) });
}

/** True for the suites we accept from a known peer (0, 1, 3). */
export function isAcceptedCipher(cipher: number): boolean {
  return cipher === CIPHER_POLY1305_NONE || cipher === 1 || cipher === CIPHER_AES_GMAC_SIV;
}

/** The flags a sender uses for a suite (hops 0, fragmented as given); 0x80 only with suite 1. */
export function flagsFor(suite: 0 | 1 | 3, fragmented: boolean): number {
  return (suite << FLAGS_CIPHER_SHIFT) | (suite === 1 ? FLAG_ENCRYPTED : 0) | (fragmented ? FLAG_FRAGMENTED : 0);
}

/**
 * Seals a HELLO: builds the packet, encrypts the moon-list tail with the unmangled key (cryptField), then
 * armors with suite 0. `tailOffset` is what verbs.ts encodeHello returned.
 */
export function sealHello(
  key: PeerKey,
  spec: Omit<PacketSpec, 'verb' | 'compress'>,
  tailOffset: number,
  mtu = DEFAULT_PHYSMTU,
): Uint8Array {
  const b = buildPacket({ ...spec, verb: 0x01 }, mtu);
  const start = PACKET_IDX_PAYLOAD + tailOffset;
  if (start < b.length) cryptField(key, b, 0, start, b.length - start);
  armor(key, b, 0);
  return b;
}

/** After a HELLO authenticated: decrypts its tail in place (payload offsets as decodeHello reports them). */
export function decryptHelloTail(key: PeerKey, b: Uint8Array, tailOffset: number): void {
  const start = PACKET_IDX_PAYLOAD + tailOffset;
  if (start < b.length) cryptField(key, b, 0, start, b.length - start);
}

/**
 * Reads a HELLO before it can be authenticated (the sender may be unknown): suite 0 leaves the verb and payload
 * in the clear, so the identity can be taken out, its key agreed, and the packet then checked with openPacket.
 * Fails for anything that is not a whole suite-0 HELLO whose identity address equals the header's source.
 */
export function peekHello(b: Uint8Array): Decoded<{ header: PacketHeader; hello: Hello }> {
  const h = decodeHeader(b);
  if (!h.ok) return h;
  if (h.value.cipher !== CIPHER_POLY1305_NONE || (b[PACKET_IDX_VERB]! & VERB_MASK) !== 0x01) return fail('malformed');
  if ((b[PACKET_IDX_VERB]! & VERB_FLAG_COMPRESSED) !== 0) return fail('malformed');
  const hello = decodeHello(b.subarray(PACKET_IDX_PAYLOAD));
  if (!hello.ok) return hello;
  if (hello.value.identity.address !== h.value.source) return fail('malformed');
  return ok({ header: h.value, hello: hello.value });
}
