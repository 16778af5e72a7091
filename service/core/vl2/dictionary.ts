// ZeroTier's text Dictionary (PROTOCOL-VL2.md §4.1): the format of network configs, config-request
// metadata and cached `networks.d/<nwid>.conf` files.
//
// Exported API (stable; the controller imports it):
//   CONFIG_DICT_CAPACITY, METADATA_DICT_CAPACITY, NUMBER_VALUE_BUFFER
//   class Dictionary
//     new Dictionary(capacity?)                       empty, for writing
//     Dictionary.from(bytes, capacity?)               wraps serialized bytes (cut at the first NUL and at capacity-1)
//     .bytes() / .length / .capacity / .isEmpty
//     .get(key, maxLength?) → Uint8Array | undefined  first entry named key, unescaped (ZeroTier's lookup)
//     .has(key) .getString(key, dfl?) .getU64(key, dfl?) .getI64(key, dfl?) .getNumber(key, dfl?)
//     .getBool(key, dfl?) .getAddress(key, dfl?)
//     .add(key, value: Uint8Array | string) → boolean (false = would not fit; nothing is added)
//     .addU64(key, bigint|number) .addI64(key, bigint|number) .addBool(key, b) .addAddress(key, a)
//     .set / .setU64 / .setBool / .setAddress (replace), .delete(key)
//     .entries() → [key, value][] (every line, in order, unescaped)
//   escapeValue(bytes), unescapeValue(bytes), parseHexU64(text), parseHexI64(text), hexU64(v)
//
// Layout (bytes, no terminating NUL on the wire or on disk):
//
//   key '=' escaped-value  LF  key '=' escaped-value  LF ...  key '=' escaped-value
//
//   Escapes inside values:  00 → '\0'   0d → '\r'   0a → '\n'   5c → '\\'   3d → '\e'
//   Reading maps \0 \r \n \e back; '\' + any other byte yields that byte. Everything else is raw
//   (0x80..0xff included). A value ends at NUL, CR or LF. Lookup is a linear scan: the first line
//   starting with exactly `key=` wins; lines are separated by CR or LF.
//
// Numbers are written as 16 lowercase hex digits (negative signed: '-' + 16 digits of the magnitude),
// addresses as 10; booleans '1'/'0'. Numbers are read like C's strtoull(…, 16): leading blanks, optional
// sign, optional 0x, hex digits up to the first other byte; overflow saturates.

/** Config dictionaries must be shorter than this (1.14.1 on x86-64: a total length ≥ it is dropped). */
export const CONFIG_DICT_CAPACITY = 484520;
/** NETWORK_CONFIG_REQUEST metadata is read into a dictionary of this capacity (so at most 1023 bytes). */
export const METADATA_DICT_CAPACITY = 1024;
/** Numeric values are read through a buffer of this size (at most 127 characters are looked at). */
export const NUMBER_VALUE_BUFFER = 128;

const EMPTY = new Uint8Array(0);
const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const EQUALS = 0x3d;
const MAX_U64 = (1n << 64n) - 1n;
const MAX_I64 = (1n << 63n) - 1n;
const MIN_I64 = -(1n << 63n);

/** Keys the index answers for (plain ASCII without '=', CR, LF, NUL); others use the linear scan. */
const INDEXABLE_KEY = /^[\x01-\x09\x0b\x0c\x0e-\x3c\x3e-\x7f]*$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

const keyCache = new Map<string, Uint8Array>();

/** UTF-8 bytes of a string (a direct copy for ASCII, the usual case). */
function utf8(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return encoder.encode(s);
    out[i] = c;
  }
  return out;
}

function keyBytes(key: string): Uint8Array {
  let k = keyCache.get(key);
  if (!k) {
    k = utf8(key);
    if (keyCache.size < 256) keyCache.set(key, k);
  }
  return k;
}

/** The escaped form of a value (ZeroTier's five escapes). */
export function escapeValue(v: Uint8Array): Uint8Array {
  let extra = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === 0 || c === CR || c === LF || c === BACKSLASH || c === EQUALS) extra++;
  }
  if (extra === 0) return v.slice();
  const out = new Uint8Array(v.length + extra);
  let j = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    switch (c) {
      case 0:
        out[j++] = BACKSLASH;
        out[j++] = 0x30; // '0'
        break;
      case CR:
        out[j++] = BACKSLASH;
        out[j++] = 0x72; // 'r'
        break;
      case LF:
        out[j++] = BACKSLASH;
        out[j++] = 0x6e; // 'n'
        break;
      case BACKSLASH:
        out[j++] = BACKSLASH;
        out[j++] = BACKSLASH;
        break;
      case EQUALS:
        out[j++] = BACKSLASH;
        out[j++] = 0x65; // 'e'
        break;
      default:
        out[j++] = c;
    }
  }
  return out;
}

/**
 * Unescapes bytes [start, end) of `src` (a value as stored), stopping at NUL, CR or LF, producing at most
 * maxLength bytes (ZeroTier truncates to its destination buffer minus the terminating NUL).
 */
function unescapeRange(src: Uint8Array, start: number, end: number, maxLength: number): Uint8Array {
  const out = new Uint8Array(Math.min(end - start, maxLength));
  let j = 0;
  let esc = false;
  for (let p = start; p < end && j < out.length; p++) {
    const c = src[p]!;
    if (c === 0 || c === CR || c === LF) break;
    if (esc) {
      esc = false;
      out[j++] = c === 0x72 ? CR : c === 0x6e ? LF : c === 0x30 ? 0 : c === 0x65 ? EQUALS : c;
    } else if (c === BACKSLASH) {
      esc = true;
    } else {
      out[j++] = c;
    }
  }
  return j === out.length ? out : out.slice(0, j);
}

/** The raw bytes of an escaped value (stops at NUL, CR or LF). */
export function unescapeValue(v: Uint8Array): Uint8Array {
  return unescapeRange(v, 0, v.length, v.length);
}

/** A number or bigint as a bigint (non-finite numbers as 0, so encoders never throw). */
function toBig(v: bigint | number): bigint {
  return typeof v === 'bigint' ? v : Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
}

/** 16 lowercase hex digits, zero-padded (the two's complement for negative bigints). */
export function hexU64(v: bigint | number): string {
  const x = BigInt.asUintN(64, toBig(v));
  return x.toString(16).padStart(16, '0');
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** strtoull/strtoll base-16 scanning: returns sign, magnitude (saturated past 2^64) and whether digits were seen. */
function scanHex(s: Uint8Array): { neg: boolean; mag: bigint; overflow: boolean } {
  let p = 0;
  while (p < s.length && (s[p] === 0x20 || (s[p]! >= 0x09 && s[p]! <= 0x0d))) p++;
  let neg = false;
  if (p < s.length && (s[p] === 0x2b || s[p] === 0x2d)) {
    neg = s[p] === 0x2d;
    p++;
  }
  if (p + 1 < s.length && s[p] === 0x30 && (s[p + 1] === 0x78 || s[p + 1] === 0x58) && hexDigit(s[p + 2] ?? 0) >= 0)
    p += 2;
  let mag = 0n;
  let overflow = false;
  // Accumulate 13 digits at a time in a float-exact number, then fold into the bigint.
  while (p < s.length) {
    let chunk = 0;
    let n = 0;
    while (p < s.length && n < 13) {
      const d = hexDigit(s[p]!);
      if (d < 0) break;
      chunk = chunk * 16 + d;
      n++;
      p++;
    }
    if (n === 0) break;
    if (!overflow) {
      mag = (mag << BigInt(4 * n)) | BigInt(chunk);
      if (mag > MAX_U64) overflow = true;
    }
    if (n < 13) break;
  }
  return { neg, mag, overflow };
}

function toBytes(s: string | Uint8Array): Uint8Array {
  return typeof s === 'string' ? encoder.encode(s) : s;
}

/** A hex text read as C's strtoull(s, NULL, 16) would (unsigned 64-bit, saturating, '-' negates modulo 2^64). */
export function parseHexU64(s: string | Uint8Array): bigint {
  const { neg, mag, overflow } = scanHex(toBytes(s));
  if (overflow) return MAX_U64;
  return neg ? BigInt.asUintN(64, -mag) : mag;
}

/** A hex text read as C's strtoll(s, NULL, 16) would (signed 64-bit, clamped). */
export function parseHexI64(s: string | Uint8Array): bigint {
  const { neg, mag, overflow } = scanHex(toBytes(s));
  const v = neg ? -mag : mag;
  if (overflow || v > MAX_I64) return neg ? MIN_I64 : MAX_I64;
  if (v < MIN_I64) return MIN_I64;
  return v;
}

export class Dictionary {
  private buf: Uint8Array;
  private len: number;
  /** First occurrence of each key → value start and end (built on demand for lookups in big dictionaries). */
  private index: Map<string, number> | undefined;

  /** An empty dictionary that may grow to capacity − 1 bytes. */
  constructor(readonly capacity = CONFIG_DICT_CAPACITY) {
    this.buf = EMPTY;
    this.len = 0;
  }

  /**
   * Wraps serialized bytes as ZeroTier loads them: everything up to the first NUL, at most capacity − 1
   * bytes (the rest is cut, as the C++ constructor does). The bytes are copied.
   */
  static from(bytes: Uint8Array, capacity = CONFIG_DICT_CAPACITY): Dictionary {
    let n = bytes.indexOf(0);
    if (n < 0) n = bytes.length;
    n = Math.min(n, Math.max(0, capacity - 1));
    const d = new Dictionary(capacity);
    d.buf = bytes.slice(0, n);
    d.len = n;
    return d;
  }

  /** A text dictionary (UTF-8), for tests and local files. */
  static fromString(s: string, capacity = CONFIG_DICT_CAPACITY): Dictionary {
    return Dictionary.from(encoder.encode(s), capacity);
  }

  get length(): number {
    return this.len;
  }

  get isEmpty(): boolean {
    return this.len === 0;
  }

  /** The serialized bytes (a copy; no terminating NUL). */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  toString(): string {
    return decoder.decode(this.buf.subarray(0, this.len));
  }

  /**
   * The unescaped value of the first entry named `key`, or undefined. `maxLength` bounds the value as
   * ZeroTier's destination buffer does (the value is truncated to it).
   */
  get(key: string, maxLength = Number.MAX_SAFE_INTEGER): Uint8Array | undefined {
    if (this.len >= 256 && INDEXABLE_KEY.test(key)) {
      this.index ??= this.buildIndex();
      const start = this.index.get(key);
      if (start === undefined) return undefined;
      let q = start;
      while (q < this.len && this.buf[q] !== CR && this.buf[q] !== LF) q++;
      return unescapeRange(this.buf, start, q, maxLength);
    }
    const k = keyBytes(key);
    const b = this.buf;
    const end = this.len;
    let p = 0;
    while (p < end) {
      // Compare the key at the start of this line.
      let i = 0;
      while (i < k.length && p + i < end && b[p + i] === k[i]) i++;
      if (i === k.length && p + i < end && b[p + i] === EQUALS) {
        const start = p + i + 1;
        let q = start;
        while (q < end && b[q] !== CR && b[q] !== LF) q++;
        return unescapeRange(b, start, q, maxLength);
      }
      // Skip to the next line (from where the comparison stopped).
      p += i;
      while (p < end && b[p] !== CR && b[p] !== LF) p++;
      if (p >= end) break;
      p++;
    }
    return undefined;
  }

  /**
   * Key → start of its value, first occurrence only: the same answer as the linear scan, since a line
   * matches `key` exactly when the bytes before its first '=' are the key.
   */
  private buildIndex(): Map<string, number> {
    const m = new Map<string, number>();
    const b = this.buf;
    const end = this.len;
    let p = 0;
    while (p < end) {
      let q = p;
      let eq = -1;
      while (q < end && b[q] !== CR && b[q] !== LF) {
        if (eq < 0 && b[q] === EQUALS) eq = q;
        q++;
      }
      if (eq >= 0) {
        let k = '';
        for (let i = p; i < eq; i++) k += String.fromCharCode(b[i]!);
        if (!m.has(k)) m.set(k, eq + 1);
      }
      p = q + 1;
    }
    return m;
  }

  has(key: string): boolean {
    return this.get(key, 1) !== undefined;
  }

  /** Text value (UTF-8, lossy); dfl when absent. maxLength counts bytes (names: 127). */
  getString(key: string, dfl = '', maxLength = Number.MAX_SAFE_INTEGER): string {
    const v = this.get(key, maxLength);
    return v === undefined ? dfl : decoder.decode(v);
  }

  /** Unsigned hex value; dfl when absent or empty. */
  getU64(key: string, dfl = 0n): bigint {
    const v = this.get(key, NUMBER_VALUE_BUFFER - 1);
    if (v === undefined || v.length === 0) return dfl;
    return parseHexU64(v);
  }

  /** Signed hex value; dfl when absent or empty. */
  getI64(key: string, dfl = 0n): bigint {
    const v = this.get(key, NUMBER_VALUE_BUFFER - 1);
    if (v === undefined || v.length === 0) return dfl;
    return parseHexI64(v);
  }

  /** getU64 as a JS number (exact below 2^53). */
  getNumber(key: string, dfl = 0): number {
    const v = this.get(key, NUMBER_VALUE_BUFFER - 1);
    if (v === undefined || v.length === 0) return dfl;
    return Number(parseHexU64(v));
  }

  /** True if the value starts with '1', 't' or 'T'; dfl when absent. */
  getBool(key: string, dfl = false): boolean {
    const v = this.get(key, 3);
    if (v === undefined) return dfl;
    const c = v[0];
    return c === 0x31 || c === 0x74 || c === 0x54;
  }

  /** A 40-bit address (hex, the low 40 bits of the value); dfl when absent or empty. */
  getAddress(key: string, dfl = 0): number {
    const v = this.get(key, NUMBER_VALUE_BUFFER - 1);
    if (v === undefined || v.length === 0) return dfl;
    return Number(parseHexU64(v) & 0xffffffffffn);
  }

  /**
   * Appends `key=value` (LF-separated from what is there). Returns false, leaving the dictionary unchanged,
   * if the result would not be shorter than the capacity.
   */
  add(key: string, value: Uint8Array | string): boolean {
    const k = keyBytes(key);
    const v = escapeValue(typeof value === 'string' ? utf8(value) : value);
    const need = (this.len > 0 ? 1 : 0) + k.length + 1 + v.length;
    if (this.len + need >= this.capacity) return false;
    if (this.len + need > this.buf.length) {
      const next = new Uint8Array(Math.min(this.capacity, Math.max(this.len + need, this.buf.length * 2, 256)));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.index = undefined;
    let p = this.len;
    if (p > 0) this.buf[p++] = LF;
    this.buf.set(k, p);
    p += k.length;
    this.buf[p++] = EQUALS;
    this.buf.set(v, p);
    this.len = p + v.length;
    return true;
  }

  /** 16 hex digits. */
  addU64(key: string, v: bigint | number): boolean {
    return this.add(key, hexU64(v));
  }

  /** 16 hex digits, or '-' and 16 hex digits of the magnitude. */
  addI64(key: string, v: bigint | number): boolean {
    const x = BigInt.asIntN(64, toBig(v));
    return this.add(key, x >= 0n ? hexU64(x) : `-${hexU64(-x)}`);
  }

  addBool(key: string, v: boolean): boolean {
    return this.add(key, v ? '1' : '0');
  }

  /** 10 hex digits. */
  addAddress(key: string, a: number): boolean {
    return this.add(key, a.toString(16).padStart(10, '0'));
  }

  /**
   * Removes every entry named `key` (lines are re-serialized, which reproduces them byte for byte). Returns
   * whether anything was removed.
   */
  delete(key: string): boolean {
    if (!this.has(key)) return false;
    const keep = this.entries().filter(([k]) => k !== key);
    this.buf = EMPTY;
    this.len = 0;
    this.index = undefined;
    for (const [k, v] of keep) this.add(k, v);
    return true;
  }

  /** Replaces (or adds) `key`: delete then add. False if the new value does not fit (the old one is then gone). */
  set(key: string, value: Uint8Array | string): boolean {
    this.delete(key);
    return this.add(key, value);
  }

  setU64(key: string, v: bigint | number): boolean {
    this.delete(key);
    return this.addU64(key, v);
  }

  setBool(key: string, v: boolean): boolean {
    this.delete(key);
    return this.addBool(key, v);
  }

  setAddress(key: string, a: number): boolean {
    this.delete(key);
    return this.addAddress(key, a);
  }

  /**
   * Every line as [key, unescaped value], in order (lines split at CR or LF; a line without '=' has the
   * whole line as key and an empty value; empty lines are skipped).
   */
  entries(): Array<[string, Uint8Array]> {
    const out: Array<[string, Uint8Array]> = [];
    const b = this.buf;
    const end = this.len;
    let p = 0;
    while (p < end) {
      let q = p;
      while (q < end && b[q] !== CR && b[q] !== LF) q++;
      if (q > p) {
        const eq = b.subarray(p, q).indexOf(EQUALS);
        if (eq < 0) out.push([decoder.decode(b.subarray(p, q)), new Uint8Array(0)]);
        else out.push([decoder.decode(b.subarray(p, p + eq)), unescapeRange(b, p + eq + 1, q, q - p)]);
      }
      p = q + 1;
    }
    return out;
  }
}
