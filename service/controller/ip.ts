// IP addresses as the controller handles them (PROTOCOL-VL2.md §9): text forms, CIDR containment, the
// rfc4193 and 6plane addresses derived from network ID and member address, and pool allocation.
import { formatInetAddress, parseInetAddress } from '../core/inet-address.js';

export interface Ip {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

/** An address with a prefix length (ZeroTier keeps it in the port field). */
export interface Cidr {
  readonly ip: Ip;
  readonly bits: number;
}

export interface Route {
  readonly target: Cidr;
  readonly via: Ip | null;
}

export interface Pool {
  readonly start: Ip;
  readonly end: Ip;
}

/**
 * Parses `ip` or `ip/n` (ZeroTier's InetAddress text form: n lands in the port field). Undefined for
 * anything else.
 */
export function parseIpPort(s: string): { ip: Ip; port: number } | undefined {
  const a = parseInetAddress(s.includes('/') ? s : `${s}/0`);
  if (!a) return undefined;
  return { ip: { family: a.family, bytes: a.ip }, port: a.port };
}

export function parseIp(s: string): Ip | undefined {
  return parseIpPort(s)?.ip;
}

/** `ip/bits` with bits no more than the family's width; a missing `/bits` reads as /0, as in ZeroTier One. */
export function parseCidr(s: string): Cidr | undefined {
  const p = parseIpPort(s);
  if (!p || p.port > (p.ip.family === 4 ? 32 : 128)) return undefined;
  return { ip: p.ip, bits: p.port };
}

/** Canonical text (IPv6 compressed), no port. */
export function formatIp(ip: Ip): string {
  const t = formatInetAddress({ family: ip.family, ip: ip.bytes, port: 0 });
  return t.slice(0, t.lastIndexOf('/'));
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.ip)}/${c.bits}`;
}

export function ipToBigInt(ip: Ip): bigint {
  let v = 0n;
  for (const b of ip.bytes) v = (v << 8n) | BigInt(b);
  return v;
}

export function ipFromBigInt(family: 4 | 6, v: bigint): Ip {
  const n = family === 4 ? 4 : 16;
  const bytes = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return { family, bytes };
}

/** True if `ip` is inside `c` (same family, first `bits` bits equal). */
export function cidrContains(c: Cidr, ip: Ip): boolean {
  if (c.ip.family !== ip.family) return false;
  const width = BigInt(c.ip.family === 4 ? 32 : 128);
  const shift = width - BigInt(c.bits);
  return ipToBigInt(c.ip) >> shift === ipToBigInt(ip) >> shift;
}

const MASK64 = (1n << 64n) - 1n;

function maskV4(v: number, bits: number): number {
  return bits >= 32 ? v : (v & ~(0xffffffff >>> bits)) >>> 0;
}

/** `fd` ‖ nwid ‖ `99 93` ‖ address, /88. */
export function rfc4193Address(nwid: bigint, address: number): Cidr {
  const v = (0xfdn << 120n) | ((nwid & MASK64) << 56n) | (0x9993n << 40n) | BigInt(address);
  return { ip: ipFromBigInt(6, v), bits: 88 };
}

/** `fc` ‖ (nwid ^ nwid>>32) low 32 bits ‖ address ‖ `00 00 00 00 00 01`, /40. */
export function sixPlaneAddress(nwid: bigint, address: number): Cidr {
  const h = (nwid ^ (nwid >> 32n)) & 0xffffffffn;
  const v = (0xfcn << 120n) | (h << 88n) | (BigInt(address) << 48n) | 1n;
  return { ip: ipFromBigInt(6, v), bits: 40 };
}

/** Key for "is this IP taken" sets. */
export function ipKey(ip: Ip): string {
  return formatIp(ip);
}

/**
 * IPv4 pool allocation, as ZeroTier One's controller does it: for each pool (skipping end < start and a
 * start of 0.0.0.0), walk candidates `start + (counter mod (end - start))` from counter = low 32 bits of the
 * member address, at most 1000 tries, skipping x.x.x.255; the first candidate inside an IPv4 route (the
 * first route that contains it decides the prefix, which must be > 0) and not taken is the answer.
 */
export function allocateIpv4(
  pools: readonly Pool[],
  routes: readonly Route[],
  address: number,
  taken: (ip: Ip) => boolean,
): Cidr | undefined {
  for (const pool of pools) {
    if (pool.start.family !== 4 || pool.end.family !== 4) continue;
    const start = Number(ipToBigInt(pool.start));
    const end = Number(ipToBigInt(pool.end));
    if (end < start || start === 0) continue;
    const len = end - start;
    let counter = address % 0x100000000;
    for (let k = start, tries = 0; k <= end && tries < 1000; k++, tries++) {
      const ipNum = len > 0 ? start + (counter % len) : start;
      counter = (counter + 1) % 0x100000000;
      if ((ipNum & 0xff) === 0xff) continue;
      const ip = ipFromBigInt(4, BigInt(ipNum));
      let bits = -1;
      for (const r of routes) {
        // The route's own address is compared unmasked (a target with host bits set matches nothing).
        if (
          r.target.ip.family === 4 &&
          r.target.bits > 0 &&
          maskV4(ipNum, r.target.bits) === Number(ipToBigInt(r.target.ip))
        ) {
          bits = r.target.bits;
          break;
        }
      }
      if (bits > 0 && !taken(ip)) return { ip, bits };
    }
  }
  return undefined;
}

/**
 * IPv6 pool allocation: for each IPv6 pool, up to 1000 tries; the first try puts the member address into
 * the low 64 bits (when the low-64 span is at least 2^40 - 1), later tries are random inside the pool. A
 * candidate must be inside a route without a via (the last such route decides the prefix, > 0) and free.
 */
export function allocateIpv6(
  pools: readonly Pool[],
  routes: readonly Route[],
  address: number,
  taken: (ip: Ip) => boolean,
  random64: () => bigint,
): Cidr | undefined {
  for (const pool of pools) {
    if (pool.start.family !== 6 || pool.end.family !== 6) continue;
    const s = ipToBigInt(pool.start);
    const e = ipToBigInt(pool.end);
    const sHi = s >> 64n;
    const sLo = s & MASK64;
    const eHi = e >> 64n;
    const eLo = e & MASK64;
    for (let tries = 0; tries < 1000; tries++) {
      let hi: bigint;
      let lo: bigint;
      if (tries === 0 && eLo > sLo && eLo - sLo >= 0xffffffffffn) {
        hi = sHi;
        lo = (sLo + BigInt(address)) & MASK64;
      } else {
        const rHi = eHi > sHi ? random64() % (eHi - sHi) : 0n;
        const rLo = eLo > sLo ? random64() % (eLo - sLo) : 0n;
        hi = (sHi + rHi) & MASK64;
        lo = (sLo + rLo) & MASK64;
      }
      const ip = ipFromBigInt(6, (hi << 64n) | lo);
      let bits = 0;
      for (const r of routes)
        if (r.via === null && r.target.ip.family === 6 && cidrContains(r.target, ip)) bits = r.target.bits;
      if (bits > 0 && !taken(ip)) return { ip, bits };
    }
  }
  return undefined;
}
