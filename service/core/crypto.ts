// Typed wrapper over the native "crypto" part (native/src/crypto.cc): ZeroTier packet armor/dearmor in place,
// one call per packet or one per batch, plus LZ4 raw blocks and the raw primitives the tests cross-check.
//
// A PeerKey is made once per peer from the 48-byte agreed key; it holds the Salsa20/12 base key and the
// OpenSSL contexts keyed with K0/K1 (AES-GMAC-SIV), so the per-packet calls allocate nothing. For the data
// path prefer the batch calls: one native call (argument checks, key lookup) per batch instead of per packet.
import { nativePart } from '../../native/index.js';
import { PACKET_MIN_LENGTH } from './constants.js';

/**
 * Opaque per-peer key handle (a native external: the Salsa20/12 base key and the OpenSSL contexts keyed with
 * K0/K1). Freed by the garbage collector.
 */
export type PeerKey = { readonly __peerKey: unique symbol };

interface NativeCrypto {
  createPeerKey(key48: Uint8Array): PeerKey;
  aesKeys(key: PeerKey): Uint8Array;
  armor(key: PeerKey, buf: Uint8Array, off: number, len: number, suite: number): number;
  dearmor(key: PeerKey, buf: Uint8Array, off: number, len: number): number;
  armorBatch(
    keys: PeerKey | readonly PeerKey[],
    buf: Uint8Array,
    offs: Uint32Array,
    lens: Uint32Array,
    suite: number | Uint8Array,
    count: number,
  ): number;
  dearmorBatch(
    keys: PeerKey | readonly PeerKey[],
    buf: Uint8Array,
    offs: Uint32Array,
    lens: Uint32Array,
    results: Int32Array,
    count: number,
  ): number;
  cryptField(key: PeerKey, buf: Uint8Array, packetOff: number, start: number, len: number): void;
  lz4Compress(src: Uint8Array, srcOff: number, srcLen: number, dst: Uint8Array, dstOff: number, dstCap: number): number;
  lz4Decompress(
    src: Uint8Array,
    srcOff: number,
    srcLen: number,
    dst: Uint8Array,
    dstOff: number,
    dstCap: number,
  ): number;
  salsa2012Xor(key: Uint8Array, nonce: Uint8Array, buf: Uint8Array, counter: number): void;
  salsa2012XorSodium(key: Uint8Array, nonce: Uint8Array, buf: Uint8Array): void;
  poly1305(key: Uint8Array, msg: Uint8Array): Uint8Array;
}

const nc = nativePart('crypto') as NativeCrypto;

export const SYMMETRIC_KEY_SIZE = 48;

/** Makes the per-peer key handle from the 48-byte agreed key (throws on a wrong length: a programming error). */
export function createPeerKey(key48: Uint8Array): PeerKey {
  if (key48.length !== SYMMETRIC_KEY_SIZE) throw new RangeError('createPeerKey: the key must be 48 bytes');
  return nc.createPeerKey(key48);
}

/** K0 || K1 (32 + 32 bytes): the AES-GMAC-SIV keys derived from the 48-byte key. For tests and tools. */
export function aesKeysOf(key: PeerKey): Uint8Array {
  return nc.aesKeys(key);
}

/** Negative results of dearmor, with stable reason codes for drop counters. */
export const DearmorError = {
  LENGTH: -1,
  BAD_MAC: -2,
  UNSUPPORTED_CIPHER: -3,
} as const;

export type DearmorReason = 'bad-length' | 'bad-mac' | 'unsupported-cipher';

export function dearmorReason(code: number): DearmorReason {
  return code === DearmorError.BAD_MAC ? 'bad-mac' : code === DearmorError.LENGTH ? 'bad-length' : 'unsupported-cipher';
}

/**
 * Armors the packet at buf[off, off+len) in place with cipher suite 0, 1 or 3: sets the suite bits of the
 * flags byte (keeping hops and the fragmented bit), writes the MAC, encrypts (suites 1 and 3) and, for
 * suite 3, replaces bytes 0-7 with the SIV tag half (the wire packet ID). Bytes 0-7 must hold a fresh random
 * IV beforehand. Throws only on a programming error (length < 28, bad range or suite).
 */
export function armor(key: PeerKey, buf: Uint8Array, suite: 0 | 1 | 3, off = 0, len = buf.length - off): void {
  const r = nc.armor(key, buf, off, len, suite);
  if (r !== 0) throw new RangeError(`armor: cannot armor ${len} bytes with suite ${suite} (${r})`);
}

/**
 * Authenticates and decrypts the packet at buf[off, off+len) in place. Returns the suite (0, 1 or 3) on
 * success, or a negative DearmorError; on failure the bytes are left as received. Never throws on any
 * byte content.
 */
export function dearmor(key: PeerKey, buf: Uint8Array, off = 0, len = buf.length - off): number {
  if (len < PACKET_MIN_LENGTH) return DearmorError.LENGTH;
  return nc.dearmor(key, buf, off, len);
}

/**
 * Armors `count` packets found at buf[offs[i], offs[i]+lens[i]) in one native call. `keys` is one key for
 * all or one per packet; `suite` one for all or one per packet. Returns how many could not be armored
 * (bad range or length), which is 0 when the caller built them right.
 */
export function armorBatch(
  keys: PeerKey | readonly PeerKey[],
  buf: Uint8Array,
  offs: Uint32Array,
  lens: Uint32Array,
  suite: 0 | 1 | 3 | Uint8Array,
  count = offs.length,
): number {
  return nc.armorBatch(keys, buf, offs, lens, suite, count);
}

/**
 * Dearmors `count` packets in one native call; results[i] gets the suite or a negative DearmorError.
 * Returns the number that authenticated.
 */
export function dearmorBatch(
  keys: PeerKey | readonly PeerKey[],
  buf: Uint8Array,
  offs: Uint32Array,
  lens: Uint32Array,
  results: Int32Array,
  count = offs.length,
): number {
  return nc.dearmorBatch(keys, buf, offs, lens, results, count);
}

/**
 * The HELLO tail cipher: Salsa20/12 with the unmangled key, nonce = packet bytes 0-7 with byte 7 & 0xf8.
 * XORs buf[start, start+len) in place (encrypt and decrypt are the same). The packet starts at packetOff.
 */
export function cryptField(key: PeerKey, buf: Uint8Array, packetOff: number, start: number, len: number): void {
  nc.cryptField(key, buf, packetOff, start, len);
}

/**
 * LZ4 raw block compression of src into dst (no frame, no size prefix). Returns the compressed length, or 0
 * if the block does not fit in dst.
 */
export function lz4Compress(src: Uint8Array, dst: Uint8Array): number {
  return nc.lz4Compress(src, 0, src.length, dst, 0, dst.length);
}

/** LZ4 raw block decompression into dst, never writing past its end. Returns the length, or -1 if malformed. */
export function lz4Decompress(src: Uint8Array, dst: Uint8Array, dstOff = 0, dstCap = dst.length - dstOff): number {
  return nc.lz4Decompress(src, 0, src.length, dst, dstOff, dstCap);
}

/** Raw Salsa20/12 (our implementation, from keystream block `counter`), XOR in place. */
export function salsa2012Xor(key: Uint8Array, nonce: Uint8Array, buf: Uint8Array, counter = 0): void {
  nc.salsa2012Xor(key, nonce, buf, counter);
}

/** libsodium's Salsa20/12 from block 0, XOR in place (the reference the tests compare ours with). */
export function salsa2012XorReference(key: Uint8Array, nonce: Uint8Array, buf: Uint8Array): void {
  nc.salsa2012XorSodium(key, nonce, buf);
}

/** Raw Poly1305 one-time authenticator (16 bytes). */
export function poly1305(key: Uint8Array, msg: Uint8Array): Uint8Array {
  return nc.poly1305(key, msg);
}
