// The netcon RPC wire format, as specified in intercept/RPC.md (golden bytes: intercept/fixtures).
// All integers little-endian; errors are negated Linux errno values.
//
// ADDR (24):  family u8 (0|4|6) · 0 u8 · port u16 · scope u32 · address[16] (IPv4 in bytes 0-3)
// INFO (56):  family u8 · type u8 · state u8 · flags u8 · so_error i32 · ADDR local · ADDR remote
// request:    op u16 · flags u16 · sock id u32 · body
// response:   op u16 · 0 u16 · result i32 · body (INFO for socket ops)
// ACCEPT (56): sock id u32 · 0 u32 · ADDR local · ADDR remote   (+ the connection's fd)

import { formatIp, parseIp4, parseIp6 } from '../common/ip-text.js';
import type { SockAddr } from './stack-types.js';

export const ADDR_LEN = 24;
export const INFO_LEN = 56;
export const HDR_LEN = 8;
export const ACCEPT_LEN = 56;
export const MSG_MAX = 256;

export const Op = {
  SOCKET: 1,
  BIND: 2,
  LISTEN: 3,
  CONNECT: 4,
  INFO: 5,
  SETOPT: 6,
  LOOKUP: 7,
  REATTACH: 8,
  ROUTE: 9,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

export const State = { NEW: 0, BOUND: 1, LISTENING: 2, CONNECTING: 3, CONNECTED: 4, CLOSED: 5 } as const;
export const SockType = { STREAM: 1, DGRAM: 2 } as const;
export const InfoFlag = { V6ONLY: 1, UDP_CONNECTED: 2, ICMP: 4 } as const;
export const ReqFlag = { FALLTHROUGH: 1, WAIT: 2 } as const;
export const CONNECT_USE_HOST = 1;
/** Sock id of a request about the socket that the last SOCKET on the same control connection made
 * (the library sends SOCKET without waiting for its answer, then the next request at once). */
export const ID_LAST = 0xffffffff;
/** A SOCKET body that names the inode of the app's end of a pair the app made (the other end attached). */
export const SOCKET_OWN_PAIR_LEN = 16;
/** REATTACH options. */
export const ReattachOpt = { REUSEADDR: 1, REUSEPORT: 2, V6ONLY: 4, NODELAY: 8, KEEPALIVE: 16 } as const;
export const REATTACH_LEN = 44;

/** Linux errno values the RPC carries. */
export const Errno: Record<string, number> = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EINVAL: 22,
  EMFILE: 24,
  EPIPE: 32,
  ENOSYS: 38,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  ESOCKTNOSUPPORT: 94,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
  EMSGSIZE: 90,
  EDESTADDRREQ: 89,
};

export function errnoOf(code: string | undefined): number {
  return (code && Errno[code]) || Errno.EIO;
}

export interface Info {
  family: 4 | 6;
  type: 1 | 2;
  state: number;
  flags: number;
  soError: number;
  local: SockAddr | null;
  remote: SockAddr | null;
}

export interface Request {
  op: number;
  flags: number;
  id: number;
  body: Uint8Array;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

// ---- addresses ----

// Parsed addresses by text, per family: every connection names a handful of the same addresses, and parsing
// the text each time was a tenth of the RPC server's time in the connection benchmark. Bounded: cleared when
// full. The cached arrays are shared: callers only read them.
const parsed: [Map<string, Uint8Array | null>, Map<string, Uint8Array | null>] = [new Map(), new Map()];
const PARSED_MAX = 4096;

/**
 * A socket address text of the given family as the RPC wire carries it: 16 bytes (IPv4 in the first 4), or null
 * when malformed (parsed by common/ip-text.ts, cached); the result is shared, read it only.
 */
export function parseWireIp(address: string, family: 4 | 6): Uint8Array | null {
  const cache = parsed[family === 4 ? 0 : 1];
  const hit = cache.get(address);
  if (hit !== undefined) return hit;
  if (cache.size >= PARSED_MAX) cache.clear();
  const ip = parseIpText(address, family);
  cache.set(address, ip);
  return ip;
}

function parseIpText(address: string, family: 4 | 6): Uint8Array | null {
  // Our wire form: IPv4 in the first 4 of 16 bytes. Addresses here are socket addresses, never bracketed.
  const ip = family === 4 ? parseIp4(address) : address.startsWith('[') ? undefined : parseIp6(address);
  if (!ip) return null;
  const out = new Uint8Array(16);
  out.set(ip);
  return out;
}

export function encodeAddr(out: Uint8Array, off: number, a: SockAddr | null, scope = 0): number {
  out.fill(0, off, off + ADDR_LEN);
  if (!a) return ADDR_LEN;
  const v = dv(out);
  out[off] = a.family;
  v.setUint16(off + 2, a.port, true);
  v.setUint32(off + 4, scope, true);
  const ip = parseWireIp(a.address, a.family);
  if (!ip) throw new RangeError(`bad address ${a.address}`);
  out.set(a.family === 4 ? ip.subarray(0, 4) : ip, off + 8);
  return ADDR_LEN;
}

export function decodeAddr(b: Uint8Array, off: number): Decoded<SockAddr | null> {
  if (b.length - off < ADDR_LEN) return { ok: false, reason: 'truncated' };
  const family = b[off]!;
  if (family === 0) return { ok: true, value: null };
  if (family !== 4 && family !== 6) return { ok: false, reason: 'badFamily' };
  const port = dv(b).getUint16(off + 2, true);
  const address = formatIp(family, b.subarray(off + 8, family === 4 ? off + 12 : off + 24));
  return { ok: true, value: { family, address, port } };
}

// ---- INFO ----

export function encodeInfo(out: Uint8Array, off: number, i: Info): number {
  const v = dv(out);
  out[off] = i.family;
  out[off + 1] = i.type;
  out[off + 2] = i.state;
  out[off + 3] = i.flags;
  v.setInt32(off + 4, i.soError, true);
  encodeAddr(out, off + 8, i.local);
  encodeAddr(out, off + 8 + ADDR_LEN, i.remote);
  return INFO_LEN;
}

export function decodeInfo(b: Uint8Array, off: number): Decoded<Info> {
  if (b.length - off < INFO_LEN) return { ok: false, reason: 'truncated' };
  const family = b[off]!;
  const type = b[off + 1]!;
  if (family !== 4 && family !== 6) return { ok: false, reason: 'badFamily' };
  if (type !== 1 && type !== 2) return { ok: false, reason: 'badType' };
  const local = decodeAddr(b, off + 8);
  if (!local.ok) return local;
  const remote = decodeAddr(b, off + 8 + ADDR_LEN);
  if (!remote.ok) return remote;
  return {
    ok: true,
    value: {
      family,
      type,
      state: b[off + 2]!,
      flags: b[off + 3]!,
      soError: dv(b).getInt32(off + 4, true),
      local: local.value,
      remote: remote.value,
    },
  };
}

// ---- requests and responses ----

export function decodeRequest(b: Uint8Array): Decoded<Request> {
  if (b.length < HDR_LEN) return { ok: false, reason: 'truncated' };
  const v = dv(b);
  return {
    ok: true,
    value: {
      op: v.getUint16(0, true),
      flags: v.getUint16(2, true),
      id: v.getUint32(4, true),
      body: b.subarray(HDR_LEN),
    },
  };
}

export function encodeRequest(op: number, flags: number, id: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(HDR_LEN + body.length);
  const v = dv(out);
  v.setUint16(0, op, true);
  v.setUint16(2, flags, true);
  v.setUint32(4, id >>> 0, true);
  out.set(body, HDR_LEN);
  return out;
}

export function encodeResponse(op: number, result: number, info?: Info): Uint8Array {
  const out = new Uint8Array(HDR_LEN + (info ? INFO_LEN : 0));
  const v = dv(out);
  v.setUint16(0, op, true);
  v.setInt32(4, result, true);
  if (info) encodeInfo(out, HDR_LEN, info);
  return out;
}

export interface Response {
  op: number;
  result: number;
  info: Info | null;
}

export function decodeResponse(b: Uint8Array): Decoded<Response> {
  if (b.length < HDR_LEN) return { ok: false, reason: 'truncated' };
  const v = dv(b);
  let info: Info | null = null;
  if (b.length >= HDR_LEN + INFO_LEN) {
    const d = decodeInfo(b, HDR_LEN);
    if (!d.ok) return d;
    info = d.value;
  }
  return { ok: true, value: { op: v.getUint16(0, true), result: v.getInt32(4, true), info } };
}

// ---- request bodies ----

export interface SocketBody {
  family: 4 | 6;
  type: 1 | 2;
  protocol: number;
  /** The inode of the app's end, when the app made the pair and sent the service's end with the request. */
  ino?: bigint;
}

export function decodeSocketBody(b: Uint8Array): Decoded<SocketBody> {
  if (b.length < 8) return { ok: false, reason: 'truncated' };
  const family = b[0]!;
  const type = b[1]!;
  if (family !== 4 && family !== 6) return { ok: false, reason: 'badFamily' };
  if (type !== 1 && type !== 2) return { ok: false, reason: 'badType' };
  const value: SocketBody = { family, type, protocol: dv(b).getUint32(4, true) };
  if (b.length >= SOCKET_OWN_PAIR_LEN) value.ino = dv(b).getBigUint64(8, true);
  return { ok: true, value };
}

export function encodeSocketBody(s: SocketBody): Uint8Array {
  const out = new Uint8Array(s.ino === undefined ? 8 : SOCKET_OWN_PAIR_LEN);
  out[0] = s.family;
  out[1] = s.type;
  dv(out).setUint32(4, s.protocol, true);
  if (s.ino !== undefined) dv(out).setBigUint64(8, s.ino, true);
  return out;
}

export function decodeU32(b: Uint8Array): Decoded<number> {
  if (b.length < 4) return { ok: false, reason: 'truncated' };
  return { ok: true, value: dv(b).getUint32(0, true) };
}

export function decodeU64(b: Uint8Array): Decoded<bigint> {
  if (b.length < 8) return { ok: false, reason: 'truncated' };
  return { ok: true, value: dv(b).getBigUint64(0, true) };
}

export interface SetOpt {
  level: number;
  name: number;
  value: number;
}

export function decodeSetOpt(b: Uint8Array): Decoded<SetOpt> {
  if (b.length < 12) return { ok: false, reason: 'truncated' };
  const v = dv(b);
  return { ok: true, value: { level: v.getUint32(0, true), name: v.getUint32(4, true), value: v.getInt32(8, true) } };
}

export function encodeSetOpt(o: SetOpt): Uint8Array {
  const out = new Uint8Array(12);
  const v = dv(out);
  v.setUint32(0, o.level, true);
  v.setUint32(4, o.name, true);
  v.setInt32(8, o.value, true);
  return out;
}

export interface AcceptMsg {
  id: number;
  local: SockAddr | null;
  remote: SockAddr | null;
}

export function encodeAccept(a: AcceptMsg): Uint8Array {
  const out = new Uint8Array(ACCEPT_LEN);
  dv(out).setUint32(0, a.id, true);
  encodeAddr(out, 8, a.local);
  encodeAddr(out, 8 + ADDR_LEN, a.remote);
  return out;
}

export function decodeAccept(b: Uint8Array): Decoded<AcceptMsg> {
  if (b.length < ACCEPT_LEN) return { ok: false, reason: 'truncated' };
  const local = decodeAddr(b, 8);
  if (!local.ok) return local;
  const remote = decodeAddr(b, 8 + ADDR_LEN);
  if (!remote.ok) return remote;
  return { ok: true, value: { id: dv(b).getUint32(0, true), local: local.value, remote: remote.value } };
}

// ---- REATTACH (44): old inode u64 · family u8 · 0 u8 · 0 u16 · backlog u32 · options u32 · ADDR local ----

export interface Reattach {
  ino: bigint;
  family: 4 | 6;
  backlog: number;
  opts: number;
  local: SockAddr | null;
}

export function encodeReattach(r: Reattach): Uint8Array {
  const out = new Uint8Array(REATTACH_LEN);
  const v = dv(out);
  v.setBigUint64(0, r.ino, true);
  out[8] = r.family;
  v.setUint32(12, r.backlog, true);
  v.setUint32(16, r.opts, true);
  encodeAddr(out, 20, r.local);
  return out;
}

export function decodeReattach(b: Uint8Array): Decoded<Reattach> {
  if (b.length < REATTACH_LEN) return { ok: false, reason: 'truncated' };
  const family = b[8]!;
  if (family !== 4 && family !== 6) return { ok: false, reason: 'badFamily' };
  const local = decodeAddr(b, 20);
  if (!local.ok) return local;
  const v = dv(b);
  return {
    ok: true,
    value: {
      ino: v.getBigUint64(0, true),
      family,
      backlog: v.getUint32(12, true),
      opts: v.getUint32(16, true),
      local: local.value,
    },
  };
}
