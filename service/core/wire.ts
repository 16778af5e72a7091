// Bounds-checked big-endian reading and writing for the wire codecs.
//
// WireReader never throws: a read past the end sets `failed`, returns zeros (or an empty slice) and leaves
// the cursor at the end, so a decoder reads its fields straight through and checks `failed` once.
// WireWriter grows as needed and is used by the encoders (not on the per-frame hot path).

const EMPTY = new Uint8Array(0);

export class WireReader {
  pos: number;
  readonly end: number;
  failed = false;

  constructor(
    readonly bytes: Uint8Array,
    offset = 0,
    end = bytes.length,
  ) {
    this.pos = Math.max(0, Math.min(offset, bytes.length));
    this.end = Math.max(this.pos, Math.min(end, bytes.length));
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Claims n bytes; false (and failed) when fewer remain. */
  private take(n: number): boolean {
    if (this.failed || n < 0 || this.pos + n > this.end) {
      this.failed = true;
      this.pos = this.end;
      return false;
    }
    return true;
  }

  u8(): number {
    if (!this.take(1)) return 0;
    return this.bytes[this.pos++]!;
  }

  u16(): number {
    if (!this.take(2)) return 0;
    const b = this.bytes;
    const p = this.pos;
    this.pos += 2;
    return (b[p]! << 8) | b[p + 1]!;
  }

  u32(): number {
    if (!this.take(4)) return 0;
    const v = readU32(this.bytes, this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    if (!this.take(8)) return 0n;
    const v = readU64(this.bytes, this.pos);
    this.pos += 8;
    return v;
  }

  /** A 40-bit ZeroTier address. */
  address(): number {
    if (!this.take(5)) return 0;
    const v = readAddress(this.bytes, this.pos);
    this.pos += 5;
    return v;
  }

  /** A view (not a copy) of the next n bytes. */
  bytesView(n: number): Uint8Array {
    if (!this.take(n)) return EMPTY;
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A view of everything that is left. */
  rest(): Uint8Array {
    const v = this.bytes.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }

  skip(n: number): void {
    if (this.take(n)) this.pos += n;
  }
}

export class WireWriter {
  private buf: Uint8Array;
  length = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  private room(n: number): number {
    const need = this.length + n;
    if (need > this.buf.length) {
      const next = new Uint8Array(Math.max(need, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    const at = this.length;
    this.length = need;
    return at;
  }

  u8(v: number): this {
    const p = this.room(1); // grow first: room() may replace this.buf
    this.buf[p] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    const p = this.room(2);
    this.buf[p] = (v >>> 8) & 0xff;
    this.buf[p + 1] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    const p = this.room(4);
    writeU32(this.buf, p, v);
    return this;
  }

  u64(v: bigint): this {
    const p = this.room(8);
    writeU64(this.buf, p, v);
    return this;
  }

  address(a: number): this {
    const p = this.room(5);
    writeAddress(this.buf, p, a);
    return this;
  }

  bytes(b: Uint8Array): this {
    const p = this.room(b.length);
    this.buf.set(b, p);
    return this;
  }

  /** The bytes written so far, as an exact-length copy. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

// ---- Unchecked helpers: the caller has checked that the bytes exist ----------------------------------------

export function readU32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

export function writeU32(b: Uint8Array, p: number, v: number): void {
  b[p] = (v >>> 24) & 0xff;
  b[p + 1] = (v >>> 16) & 0xff;
  b[p + 2] = (v >>> 8) & 0xff;
  b[p + 3] = v & 0xff;
}

export function readU64(b: Uint8Array, p: number): bigint {
  return (BigInt(readU32(b, p)) << 32n) | BigInt(readU32(b, p + 4));
}

export function writeU64(b: Uint8Array, p: number, v: bigint): void {
  const x = BigInt.asUintN(64, v);
  writeU32(b, p, Number(x >> 32n));
  writeU32(b, p + 4, Number(x & 0xffffffffn));
}

/** 5 big-endian bytes as a number (0 .. 2^40-1). */
export function readAddress(b: Uint8Array, p: number): number {
  return b[p]! * 0x100000000 + readU32(b, p + 1);
}

export function writeAddress(b: Uint8Array, p: number, a: number): void {
  b[p] = Math.floor(a / 0x100000000) & 0xff;
  writeU32(b, p + 1, a >>> 0);
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

/** Lowercase or uppercase hex to bytes; undefined for odd length or a non-hex digit. */
export function fromHex(s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}
