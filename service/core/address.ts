// ZeroTier VL1 address: 40 bits, 5 bytes big-endian on the wire, 10 lowercase hex digits as text.
//
//   byte:  0        1        2        3        4
//         [bits 39..32][31..24][23..16][15..8][7..0]
//
// An Address is held as a plain JS number (0 .. 2^40-1), which is exact and usable as a Map key.
// Reserved: 0, and every address whose top byte is 0xff (0xff is the fragment marker at packet byte 13).

export type Address = number;

export const ADDRESS_LENGTH = 5;
export const ADDRESS_MAX = 0xffffffffff;
const RESERVED_PREFIX = 0xff;

/** True for 0 and for addresses ff00000000..ffffffffff, which no identity may have. */
export function isReservedAddress(a: Address): boolean {
  return a === 0 || Math.floor(a / 0x100000000) === RESERVED_PREFIX;
}

/** True if `a` is an integer in the 40-bit range (reserved or not). */
export function isAddressInRange(a: number): boolean {
  return Number.isInteger(a) && a >= 0 && a <= ADDRESS_MAX;
}

/** Reads 5 big-endian bytes at `offset`. The caller checks the length first. */
export function addressFromBytes(b: Uint8Array, offset = 0): Address {
  if (offset < 0 || offset + ADDRESS_LENGTH > b.length) throw new RangeError('address: buffer too short');
  return (
    b[offset]! * 0x100000000 +
    ((b[offset + 1]! << 24) >>> 0) +
    (b[offset + 2]! << 16) +
    (b[offset + 3]! << 8) +
    b[offset + 4]!
  );
}

/** Writes `a` as 5 big-endian bytes at `offset`; returns the bytes written (5). */
export function writeAddress(a: Address, b: Uint8Array, offset = 0): number {
  if (offset < 0 || offset + ADDRESS_LENGTH > b.length) throw new RangeError('address: buffer too short');
  const hi = Math.floor(a / 0x100000000);
  const lo = a >>> 0;
  b[offset] = hi & 0xff;
  b[offset + 1] = lo >>> 24;
  b[offset + 2] = (lo >>> 16) & 0xff;
  b[offset + 3] = (lo >>> 8) & 0xff;
  b[offset + 4] = lo & 0xff;
  return ADDRESS_LENGTH;
}

/** The address as 5 fresh bytes. */
export function addressToBytes(a: Address): Uint8Array {
  const b = new Uint8Array(ADDRESS_LENGTH);
  writeAddress(a, b, 0);
  return b;
}

/** 10 lowercase hex digits, zero-padded. */
export function addressToString(a: Address): string {
  return a.toString(16).padStart(10, '0');
}

/**
 * Parses 1..10 hex digits (either case). Returns undefined for anything else.
 * Reserved values parse; check them with isReservedAddress where it matters.
 */
export function parseAddress(s: string): Address | undefined {
  if (!/^[0-9a-fA-F]{1,10}$/.test(s)) return undefined;
  return Number.parseInt(s, 16);
}
