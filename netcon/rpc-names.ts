// The name operations of the netcon RPC (intercept/RPC.md, "Names"): RESOLVE (16), REVERSE (17), QUERY (18).
// Same header as every request and response (rpc-codec.ts); these messages may be up to NAME_MSG_MAX bytes.
//
// RESOLVE request body:  family u8 (0 any|4|6) · 0 u8 · name length u16 · name
// RESOLVE response body (result n > 0): canonical name length u16 · canonical name · n × (family u8 · address[16])
// REVERSE request body:  family u8 (4|6) · 0 u8 · 0 u16 · address[16]
// REVERSE response body (result n > 0): the name (n bytes)
// QUERY request body:    a DNS query message (one question), at most 512 bytes
// QUERY response body (result n > 0): the DNS answer message (n bytes)
// result 0: not a name of this network: use the host's resolver (only when the request's FALLTHROUGH flag is set).
import { formatIp } from '../common/ip-text.js';
import { type Decoded, HDR_LEN } from './rpc-codec.js';

export const NameOp = { RESOLVE: 16, REVERSE: 17, QUERY: 18 } as const;
export const NAME_MSG_MAX = 1024;
export const NAME_MAX = 253;
export const QUERY_MAX = 512;
export const ADDRS_MAX = 16;

export interface ResolveRequest {
  family: 0 | 4 | 6;
  name: string;
}

export interface NameAddress {
  family: 4 | 6;
  address: string;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function decodeResolve(b: Uint8Array): Decoded<ResolveRequest> {
  if (b.length < 4) return { ok: false, reason: 'short' };
  const family = b[0]!;
  const n = view(b).getUint16(2, true);
  if (family !== 0 && family !== 4 && family !== 6) return { ok: false, reason: 'family' };
  if (n === 0 || n > NAME_MAX + 1 || b.length < 4 + n) return { ok: false, reason: 'name length' };
  const name = new TextDecoder().decode(b.subarray(4, 4 + n));
  if (name.includes('\0')) return { ok: false, reason: 'NUL in name' };
  return { ok: true, value: { family, name } };
}

export function encodeResolve(r: ResolveRequest): Uint8Array {
  const name = new TextEncoder().encode(r.name);
  const out = new Uint8Array(4 + name.length);
  out[0] = r.family;
  view(out).setUint16(2, name.length, true);
  out.set(name, 4);
  return out;
}

export function decodeReverse(b: Uint8Array): Decoded<NameAddress> {
  if (b.length < 20) return { ok: false, reason: 'short' };
  const family = b[0]!;
  if (family !== 4 && family !== 6) return { ok: false, reason: 'family' };
  return { ok: true, value: { family, address: formatIp(family, b.subarray(4, family === 4 ? 8 : 20)) } };
}

/** A response: header (op, 0, result) and body, at most NAME_MSG_MAX bytes. */
function response(op: number, result: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(HDR_LEN + body.length);
  const v = view(out);
  v.setUint16(0, op, true);
  v.setInt32(4, result, true);
  out.set(body, HDR_LEN);
  return out;
}

export function encodeNameError(op: number, result: number): Uint8Array {
  return response(op, result);
}

/** RESOLVE's answer: the canonical name and up to ADDRS_MAX addresses (`bytes` as ipaddr.parseIp gives them). */
export function encodeResolveAnswer(canon: string, addrs: { family: 4 | 6; bytes: Uint8Array }[]): Uint8Array {
  let name = new TextEncoder().encode(canon);
  if (name.length > NAME_MAX) name = name.subarray(0, 0);
  const list = addrs.slice(0, ADDRS_MAX);
  const body = new Uint8Array(2 + name.length + 17 * list.length);
  view(body).setUint16(0, name.length, true);
  body.set(name, 2);
  let o = 2 + name.length;
  for (const a of list) {
    body[o] = a.family;
    body.set(a.bytes.subarray(0, a.family === 4 ? 4 : 16), o + 1);
    o += 17;
  }
  return response(NameOp.RESOLVE, list.length, body);
}

export function encodeReverseAnswer(name: string): Uint8Array {
  const b = new TextEncoder().encode(name).subarray(0, NAME_MAX);
  return response(NameOp.REVERSE, b.length, b);
}

/** QUERY's answer; one that does not fit is cut to its header and question with TC (truncated) set. */
export function encodeQueryAnswer(msg: Uint8Array): Uint8Array {
  if (HDR_LEN + msg.length > NAME_MSG_MAX) {
    const cut = msg.slice(0, questionEnd(msg));
    cut[2]! |= 0x02; // TC
    view(cut).setUint16(6, 0); // no answers, authorities, additionals
    view(cut).setUint32(8, 0);
    return response(NameOp.QUERY, cut.length, cut);
  }
  return response(NameOp.QUERY, msg.length, msg);
}

/** The offset just past a DNS message's (first) question: 12 when it has none or it is malformed. */
function questionEnd(msg: Uint8Array): number {
  if (msg.length < 12 || view(msg).getUint16(4) === 0) return 12;
  let o = 12;
  while (o < msg.length && msg[o] !== 0) o += 1 + msg[o]!;
  return Math.min(o + 5, msg.length);
}
