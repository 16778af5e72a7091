// Minimal pcap reader for the golden captures: classic pcap (either byte order, µs or ns), Ethernet or raw IPv4
// link types, IPv4 + UDP only (the captures have IPv6 off). Returns each UDP datagram with its endpoints.
import { readFileSync } from 'node:fs';

export interface UdpDatagram {
  /** Index among the UDP datagrams in the file (matches `#NNN` in the *.decoded.txt files). */
  readonly index: number;
  /** Seconds since the epoch. */
  readonly time: number;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly ttl: number;
  readonly payload: Uint8Array;
}

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_LINUX_SLL = 113;

export function readPcap(path: string): UdpDatagram[] {
  const buf = readFileSync(path);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, true);
  let le: boolean;
  let nanos = false;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`${path}: not a classic pcap file`);
  nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const linkType = dv.getUint32(20, le) & 0x0fffffff;
  const out: UdpDatagram[] = [];
  let p = 24;
  while (p + 16 <= buf.length) {
    const sec = dv.getUint32(p, le);
    const frac = dv.getUint32(p + 4, le);
    const incl = dv.getUint32(p + 8, le);
    p += 16;
    if (p + incl > buf.length) break;
    const frame = buf.subarray(p, p + incl);
    p += incl;
    let ip: number;
    if (linkType === LINKTYPE_ETHERNET) {
      let etherType = (frame[12]! << 8) | frame[13]!;
      ip = 14;
      while (etherType === 0x8100 && ip + 4 <= frame.length) {
        etherType = (frame[ip + 2]! << 8) | frame[ip + 3]!;
        ip += 4;
      }
      if (etherType !== 0x0800) continue;
    } else if (linkType === LINKTYPE_LINUX_SLL) {
      if (((frame[14]! << 8) | frame[15]!) !== 0x0800) continue;
      ip = 16;
    } else if (linkType === LINKTYPE_RAW) {
      ip = 0;
    } else {
      throw new Error(`${path}: unsupported link type ${linkType}`);
    }
    if (ip + 20 > frame.length || frame[ip]! >> 4 !== 4) continue;
    const ihl = (frame[ip]! & 0x0f) * 4;
    if (frame[ip + 9] !== 17) continue;
    const totalLen = (frame[ip + 2]! << 8) | frame[ip + 3]!;
    const udp = ip + ihl;
    const udpLen = (frame[udp + 4]! << 8) | frame[udp + 5]!;
    const end = Math.min(frame.length, ip + totalLen, udp + udpLen);
    out.push({
      index: out.length,
      time: sec + frac / (nanos ? 1e9 : 1e6),
      src: frame.subarray(ip + 12, ip + 16).join('.'),
      dst: frame.subarray(ip + 16, ip + 20).join('.'),
      srcPort: (frame[udp]! << 8) | frame[udp + 1]!,
      dstPort: (frame[udp + 2]! << 8) | frame[udp + 3]!,
      ttl: frame[ip + 8]!,
      payload: Uint8Array.from(frame.subarray(udp + 8, end)),
    });
  }
  return out;
}
