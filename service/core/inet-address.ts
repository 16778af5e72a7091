// Physical (UDP) address in ZeroTier's binary "InetAddress" form (PROTOCOL-VL1.md §6.2), its text form
// (`ip/port`, as ZeroTier prints it) and ZeroTier's sort order (used by genmoon/genplanet).
//
//   00                                   nil / none                   (1 byte)
//   04 | ip 4 | port 2                   IPv4                         (7 bytes)
//   06 | ip 16 | port 2                  IPv6                         (19 bytes)
//   01 or 02 | 6 bytes                   reserved, skipped            (7 bytes)
//   03 | len 2 | len bytes               reserved, skipped            (3 + len)
//   anything else                        malformed: the whole packet is dropped
// Writers emit only 00, 04 and 06. Readers never throw.
import { parseIp4, parseIp6Strict } from '../../common/ip-text.js';
import { INETADDR_TYPE_IPV4, INETADDR_TYPE_IPV6, INETADDR_TYPE_NIL } from './constants.js';
import { WireReader, WireWriter } from './wire.js';

export interface InetAddress {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly ip: Uint8Array;
  readonly port: number;
}

export type InetAddressRead =
  | { readonly ok: true; readonly address: InetAddress | null; readonly length: number }
  | { readonly ok: false; readonly error: string };

/**
 * Reads one address, either at `offset` of a buffer (returns the address, null for nil or a skipped reserved
 * kind, and the bytes consumed) or at a WireReader's cursor (returns the address, null, or undefined with the
 * reader marked failed). Never throws.
 */
export function readInetAddress(r: WireReader): InetAddress | null | undefined;
export function readInetAddress(buf: Uint8Array, offset?: number): InetAddressRead;
export function readInetAddress(
  src: Uint8Array | WireReader,
  offset = 0,
): InetAddressRead | InetAddress | null | undefined {
  if (!(src instanceof WireReader)) return readAt(src, offset);
  const res = readAt(src.bytes.subarray(0, src.end), src.pos);
  if (!res.ok) {
    src.failed = true;
    src.pos = src.end;
    return undefined;
  }
  src.skip(res.length);
  return res.address;
}

function readAt(buf: Uint8Array, offset: number): InetAddressRead {
  if (offset >= buf.length) return { ok: false, error: 'truncated address type' };
  const type = buf[offset]!;
  const avail = buf.length - offset - 1;
  switch (type) {
    case INETADDR_TYPE_NIL:
      return { ok: true, address: null, length: 1 };
    case INETADDR_TYPE_IPV4:
    case INETADDR_TYPE_IPV6: {
      const n = type === INETADDR_TYPE_IPV4 ? 4 : 16;
      if (avail < n + 2) return { ok: false, error: 'truncated address' };
      const ip = buf.slice(offset + 1, offset + 1 + n);
      const port = (buf[offset + 1 + n]! << 8) | buf[offset + 2 + n]!;
      return { ok: true, address: { family: type === INETADDR_TYPE_IPV4 ? 4 : 6, ip, port }, length: n + 3 };
    }
    case 0x01:
    case 0x02:
      if (avail < 6) return { ok: false, error: 'truncated reserved address' };
      return { ok: true, address: null, length: 7 };
    case 0x03: {
      if (avail < 2) return { ok: false, error: 'truncated reserved address length' };
      const len = (buf[offset + 1]! << 8) | buf[offset + 2]!;
      if (avail < 2 + len) return { ok: false, error: 'truncated reserved address' };
      return { ok: true, address: null, length: 3 + len };
    }
    default:
      return { ok: false, error: `unknown address type 0x${type.toString(16).padStart(2, '0')}` };
  }
}

export function inetAddressSerializedLength(a: InetAddress | null): number {
  return a === null ? 1 : a.family === 4 ? 7 : 19;
}

/**
 * Writes the binary form, either at `offset` of a buffer the caller sized (returns the bytes written) or
 * appended to a WireWriter.
 */
export function writeInetAddress(w: WireWriter, a: InetAddress | null): void;
export function writeInetAddress(a: InetAddress | null, out: Uint8Array, offset: number): number;
export function writeInetAddress(
  x: WireWriter | InetAddress | null,
  y: InetAddress | null | Uint8Array,
  offset = 0,
): number | undefined {
  if (x instanceof WireWriter) {
    x.bytes(serializeInetAddress(y as InetAddress | null));
    return undefined;
  }
  return writeAt(x, y as Uint8Array, offset);
}

function writeAt(a: InetAddress | null, out: Uint8Array, offset: number): number {
  if (a === null) {
    out[offset] = INETADDR_TYPE_NIL;
    return 1;
  }
  const n = a.family === 4 ? 4 : 16;
  out[offset] = a.family === 4 ? INETADDR_TYPE_IPV4 : INETADDR_TYPE_IPV6;
  out.set(a.ip.subarray(0, n), offset + 1);
  out[offset + 1 + n] = (a.port >>> 8) & 0xff;
  out[offset + 2 + n] = a.port & 0xff;
  return n + 3;
}

export function serializeInetAddress(a: InetAddress | null): Uint8Array {
  const out = new Uint8Array(inetAddressSerializedLength(a));
  writeAt(a, out, 0);
  return out;
}

/** Same as serializeInetAddress. */
export const encodeInetAddress = serializeInetAddress;

export function inetAddressEquals(a: InetAddress | null, b: InetAddress | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.family !== b.family || a.port !== b.port || a.ip.length !== b.ip.length) return false;
  for (let i = 0; i < a.ip.length; i++) if (a.ip[i] !== b.ip[i]) return false;
  return true;
}

/**
 * ZeroTier's order (its operator< on sockaddr storage): IPv4 before IPv6; then the port, then the address,
 * both compared as the raw in-memory values of a little-endian host (port bytes swapped; IPv4 as a
 * little-endian u32; IPv6 bytewise).
 */
export function compareInetAddress(a: InetAddress, b: InetAddress): number {
  if (a.family !== b.family) return a.family - b.family;
  const pa = ((a.port & 0xff) << 8) | (a.port >>> 8);
  const pb = ((b.port & 0xff) << 8) | (b.port >>> 8);
  if (pa !== pb) return pa - pb;
  if (a.family === 4) {
    for (let i = 3; i >= 0; i--) if (a.ip[i] !== b.ip[i]) return a.ip[i]! - b.ip[i]!;
    return 0;
  }
  for (let i = 0; i < 16; i++) if (a.ip[i] !== b.ip[i]) return a.ip[i]! - b.ip[i]!;
  return 0;
}

// ---- Text form ------------------------------------------------------------------------------------------------

function formatIpv6(ip: Uint8Array): string {
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((ip[i]! << 8) | ip[i + 1]!);
  // Longest run (≥ 2) of zero words, the first one on a tie (RFC 5952, as inet_ntop).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) best = -1;
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) forms, as inet_ntop prints them.
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
    const v4 = `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
    return bestLen === 5 ? `::ffff:${v4}` : `::${v4}`;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** `ip/port` as ZeroTier prints it (10.99.0.1/9993, fd00::1/9993). */
export function formatInetAddress(a: InetAddress): string {
  return `${formatInetIp(a)}/${a.port}`;
}

/** The IP part alone, as ZeroTier prints it (10.99.0.1, fd00::1, ::ffff:1.2.3.4). */
export function formatInetIp(a: { readonly family: 4 | 6; readonly ip: Uint8Array }): string {
  return a.family === 4 ? `${a.ip[0]}.${a.ip[1]}.${a.ip[2]}.${a.ip[3]}` : formatIpv6(a.ip);
}

/**
 * An IP network: an address and a prefix length. ZeroTier's configs carry one as an InetAddress whose port
 * field holds the prefix bits (static IPs, route targets); prefixOf() names that.
 */
export interface IpPrefix {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly ip: Uint8Array;
  readonly bits: number;
}

/** The prefix an InetAddress of a config stands for (its port field holds the prefix bits). */
export function prefixOf(a: InetAddress): IpPrefix {
  return { family: a.family, ip: a.ip, bits: a.port };
}

/** Text for logs: `null` for a nil address. */
export function inetAddressToString(a: InetAddress | null): string {
  return a === null ? 'null' : formatInetAddress(a);
}

/** Parses `ip/port` (IPv4 dotted quad or IPv6 text, read by common/ip-text.ts). Undefined for anything else. */
export function parseInetAddress(s: string): InetAddress | undefined {
  const slash = s.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const portText = s.slice(slash + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  const host = s.slice(0, slash);
  if (host.includes(':')) {
    const ip = parseIp6Strict(host);
    return ip ? { family: 6, ip, port } : undefined;
  }
  const ip = parseIp4(host);
  return ip ? { family: 4, ip, port } : undefined;
}
