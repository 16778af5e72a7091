// DNS messages (RFC 1035), only what the resolver needs: a query with one question, the A/AAAA/CNAME/PTR
// records of an answer, and answers made up for names the network knows itself. Input is never trusted:
// every read is bounds-checked and a malformed message decodes to undefined.
//
// header (12): id u16 · flags u16 (QR, opcode, AA, TC, RD | RA, rcode) · qdcount · ancount · nscount · arcount
// question:    name (labels, or a pointer) · type u16 · class u16
// record:      name · type u16 · class u16 · ttl u32 · rdlength u16 · rdata
export const DnsType = { A: 1, CNAME: 5, PTR: 12, AAAA: 28, ANY: 255 } as const;
export const Rcode = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 } as const;

export interface DnsRecord {
  name: string;
  type: number;
  ttl: number;
  /** A/AAAA: the address bytes; CNAME/PTR: undefined (see target). */
  data?: Uint8Array;
  target?: string;
}

export interface DnsMessage {
  id: number;
  flags: number;
  rcode: number;
  question?: { name: string; type: number; klass: number };
  answers: DnsRecord[];
}

function encodeName(name: string): Uint8Array | undefined {
  const labels = name.replace(/\.$/, '').split('.');
  const out: number[] = [];
  for (const l of labels) {
    if (l.length === 0 && labels.length > 1) return undefined;
    const b = new TextEncoder().encode(l);
    if (b.length > 63) return undefined;
    if (b.length > 0) out.push(b.length, ...b);
  }
  out.push(0);
  return out.length > 255 ? undefined : Uint8Array.from(out);
}

/** A recursive query (RD) for one name and type; undefined when the name cannot be a DNS name. */
export function buildQuery(id: number, name: string, type: number): Uint8Array | undefined {
  const qname = encodeName(name);
  if (!qname) return undefined;
  const out = new Uint8Array(12 + qname.length + 4);
  const v = new DataView(out.buffer);
  v.setUint16(0, id);
  v.setUint16(2, 0x0100); // RD
  v.setUint16(4, 1);
  out.set(qname, 12);
  v.setUint16(12 + qname.length, type);
  v.setUint16(14 + qname.length, 1); // IN
  return out;
}

/** Reads a (possibly compressed) name at `off`: the name and the offset after it, or undefined. */
function readName(b: Uint8Array, off: number): { name: string; next: number } | undefined {
  const labels: string[] = [];
  let o = off;
  let next = -1;
  for (let hops = 0; hops < 64; hops++) {
    if (o >= b.length) return undefined;
    const len = b[o]!;
    if (len === 0) {
      return { name: labels.join('.'), next: next < 0 ? o + 1 : next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= b.length) return undefined;
      if (next < 0) next = o + 2;
      o = ((len & 0x3f) << 8) | b[o + 1]!;
      continue;
    }
    if (len > 63 || o + 1 + len > b.length) return undefined;
    labels.push(new TextDecoder().decode(b.subarray(o + 1, o + 1 + len)));
    o += 1 + len;
  }
  return undefined;
}

export function parseMessage(b: Uint8Array): DnsMessage | undefined {
  if (b.length < 12) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const msg: DnsMessage = { id: v.getUint16(0), flags: v.getUint16(2), rcode: v.getUint16(2) & 0xf, answers: [] };
  const qd = v.getUint16(4);
  const an = v.getUint16(6);
  let o = 12;
  for (let i = 0; i < qd; i++) {
    const n = readName(b, o);
    if (!n || n.next + 4 > b.length) return undefined;
    if (i === 0) msg.question = { name: n.name, type: v.getUint16(n.next), klass: v.getUint16(n.next + 2) };
    o = n.next + 4;
  }
  for (let i = 0; i < an; i++) {
    const n = readName(b, o);
    if (!n || n.next + 10 > b.length) return undefined;
    const type = v.getUint16(n.next);
    const ttl = v.getUint32(n.next + 4);
    const len = v.getUint16(n.next + 8);
    const rd = n.next + 10;
    if (rd + len > b.length) return undefined;
    const rec: DnsRecord = { name: n.name, type, ttl };
    if ((type === DnsType.A && len === 4) || (type === DnsType.AAAA && len === 16)) rec.data = b.slice(rd, rd + len);
    else if (type === DnsType.CNAME || type === DnsType.PTR) {
      const t = readName(b, rd);
      if (!t) return undefined;
      rec.target = t.name;
    }
    msg.answers.push(rec);
    o = rd + len;
  }
  return msg;
}

/**
 * An answer to `query` made here (AA set, RA set): `records` of the question's name, or `rcode` (NXDOMAIN …).
 * Undefined when the query is malformed.
 */
export function buildAnswer(
  query: Uint8Array,
  records: DnsRecord[],
  rcode: number = Rcode.NOERROR,
): Uint8Array | undefined {
  const q = parseMessage(query);
  if (!q?.question) return undefined;
  const qname = encodeName(q.question.name);
  if (!qname) return undefined;
  const parts: number[] = [];
  for (const r of records) {
    const rdata = r.data ?? (r.target !== undefined ? encodeName(r.target) : undefined);
    if (!rdata) continue;
    parts.push(0xc0, 12, r.type >> 8, r.type & 0xff, 0, 1);
    parts.push((r.ttl >>> 24) & 0xff, (r.ttl >>> 16) & 0xff, (r.ttl >>> 8) & 0xff, r.ttl & 0xff);
    parts.push(rdata.length >> 8, rdata.length & 0xff, ...rdata);
  }
  const out = new Uint8Array(12 + qname.length + 4 + parts.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, q.id);
  v.setUint16(2, 0x8000 | 0x0400 | (q.flags & 0x0100) | 0x0080 | (rcode & 0xf)); // QR AA RD(copied) RA
  v.setUint16(4, 1);
  v.setUint16(6, records.length);
  out.set(qname, 12);
  v.setUint16(12 + qname.length, q.question.type);
  v.setUint16(14 + qname.length, q.question.klass);
  out.set(parts, 16 + qname.length);
  return out;
}

/** The PTR name of an address: 4.3.2.1.in-addr.arpa, or the nibbles of an IPv6 address under ip6.arpa. */
export function reverseName(family: 4 | 6, bytes: Uint8Array): string {
  if (family === 4) return `${[...bytes.subarray(0, 4)].reverse().join('.')}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (const x of bytes.subarray(0, 16)) nibbles.push((x >> 4).toString(16), (x & 0xf).toString(16));
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

/** The address a PTR name stands for, or undefined. */
export function parseReverseName(name: string): { family: 4 | 6; bytes: Uint8Array } | undefined {
  const n = name.toLowerCase().replace(/\.$/, '');
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(n);
  if (v4) {
    const b = [v4[4], v4[3], v4[2], v4[1]].map(Number);
    return b.every((x) => x <= 255) ? { family: 4, bytes: Uint8Array.from(b) } : undefined;
  }
  const v6 = /^((?:[0-9a-f]\.){32})ip6\.arpa$/.exec(n);
  if (v6) {
    const nib = v6[1]!.split('.').filter(Boolean).reverse();
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i++) bytes[i] = Number.parseInt(nib[2 * i]! + nib[2 * i + 1]!, 16);
    return { family: 6, bytes };
  }
  return undefined;
}
