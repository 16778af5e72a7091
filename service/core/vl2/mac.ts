// MAC addresses and multicast groups of a ZeroTier network (PROTOCOL-VL2.md §2.1-2.2, §7.1, §9).
//
// Exported API (stable):
//   type Mac = number (48 bits, big-endian value: 0x32b2dd058d0e)
//   networkMacPrefix(nwid) → first octet; macFromAddress(address, nwid) → Mac;
//   addressFromMac(mac, nwid) → Address | undefined (undefined if the first octet is not this network's)
//   macToString / parseMac / macToBytes / macFromBytes / readMac / writeMac
//   isMulticastMac / isBroadcastMac, BROADCAST_MAC
//   type MulticastGroup { mac, adi }; compareMulticastGroups; multicastGroupKey; BROADCAST_GROUP
//   arpGroup(ipv4) / ipv6NdGroup(ipv6) / arpRequestTarget(etherType, payload) → ADI | undefined
//   multicastGroupForFrame(destMac, etherType, payload, broadcastEnabled) → group | undefined (§7.5 step 1)
//   groupsForAddresses(ips, broadcastEnabled) → the ARP/ND groups a member subscribes to
//   rfc4193Address(nwid, address) / sixPlaneAddress(nwid, address) (16 bytes)
//
// MAC for (nwid n0..n7, address a0..a4):
//
//   +--------------------------+---------+---------+---------+---------+---------+
//   | f = (n7 & 0xfe) | 0x02   | a0 ^ n6 | a1 ^ n5 | a2 ^ n4 | a3 ^ n3 | a4 ^ n2 |
//   |   (0x52 becomes 0x32)    |         |         |         |         |         |
//   +--------------------------+---------+---------+---------+---------+---------+
//
// Multicast group = (MAC [6], ADI [4]); ARP requests go to (ff:ff:ff:ff:ff:ff, target IPv4), IPv6 address
// resolution to (33:33:ff:XX:YY:ZZ, 0), plain broadcast to (ff:ff:ff:ff:ff:ff, 0).
import type { Address } from '../address.js';

export type Mac = number;

export const BROADCAST_MAC: Mac = 0xffffffffffff;
const TWO40 = 0x10000000000;

export function networkMacPrefix(nwid: bigint): number {
  return macParts(nwid).prefix;
}

// Every frame in and out maps a MAC to a member address or back, always for the same few networks: the
// network's prefix and XOR mask are kept for the last network asked about, since working them out of the
// 64-bit ID makes several BigInts (it was a tenth of what a member allocated per round trip).
let lastNwid = -1n;
let lastParts = { prefix: 0, mask: 0 };

function macParts(nwid: bigint): { prefix: number; mask: number } {
  if (nwid === lastNwid) return lastParts;
  const f = (Number(nwid & 0xffn) & 0xfe) | 0x02;
  // the 40-bit XOR mask: nwid bytes 6,5,4,3,2 (bits 8..47 in little-endian byte order)
  let mask = 0;
  for (let i = 1; i <= 5; i++) mask = mask * 256 + Number((nwid >> BigInt(8 * i)) & 0xffn);
  lastParts = { prefix: f === 0x52 ? 0x32 : f, mask };
  lastNwid = nwid;
  return lastParts;
}

function xor40(a: number, b: number): number {
  const hi = (Math.floor(a / 0x100000000) ^ Math.floor(b / 0x100000000)) & 0xff;
  const lo = ((a >>> 0) ^ (b >>> 0)) >>> 0;
  return hi * 0x100000000 + lo;
}

/** The MAC a member with this address has on this network. */
export function macFromAddress(address: Address, nwid: bigint): Mac {
  const m = macParts(nwid);
  return m.prefix * TWO40 + xor40(address, m.mask);
}

/** The member address behind a MAC of this network, or undefined if the MAC is not one of its members'. */
export function addressFromMac(mac: Mac, nwid: bigint): Address | undefined {
  const m = macParts(nwid);
  if (Math.floor(mac / TWO40) !== m.prefix) return undefined;
  return xor40(mac % TWO40, m.mask);
}

export function isMulticastMac(mac: Mac): boolean {
  return (Math.floor(mac / TWO40) & 0x01) !== 0;
}

export function isBroadcastMac(mac: Mac): boolean {
  return mac === BROADCAST_MAC;
}

export function macToString(mac: Mac): string {
  let s = '';
  for (let i = 5; i >= 0; i--) {
    const b = Math.floor(mac / 2 ** (8 * i)) & 0xff;
    s += (i < 5 ? ':' : '') + b.toString(16).padStart(2, '0');
  }
  return s;
}

/** Twelve hex digits with any separators (aa:bb:…, aa-bb-…, aabb…); undefined otherwise. */
export function parseMac(s: string): Mac | undefined {
  const hex = s.replace(/[:.-]/g, '');
  if (!/^[0-9a-fA-F]{12}$/.test(hex)) return undefined;
  return Number.parseInt(hex, 16);
}

export function readMac(b: Uint8Array, p: number): Mac {
  return (
    b[p]! * TWO40 +
    b[p + 1]! * 0x100000000 +
    ((b[p + 2]! << 24) >>> 0) +
    (b[p + 3]! << 16) +
    (b[p + 4]! << 8) +
    b[p + 5]!
  );
}

export function writeMac(b: Uint8Array, p: number, mac: Mac): void {
  for (let i = 5; i >= 0; i--) {
    b[p + i] = mac % 256;
    mac = Math.floor(mac / 256);
  }
}

export function macToBytes(mac: Mac): Uint8Array {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return b;
}

export function macFromBytes(b: Uint8Array, offset = 0): Mac {
  return readMac(b, offset);
}

// ---- Multicast groups ---------------------------------------------------------------------------------------

export interface MulticastGroup {
  readonly mac: Mac;
  /** 32-bit "additional distinguishing information" (unsigned). */
  readonly adi: number;
}

export const BROADCAST_GROUP: MulticastGroup = { mac: BROADCAST_MAC, adi: 0 };

/** ZeroTier's order: MAC as a 48-bit integer, then ADI. */
export function compareMulticastGroups(a: MulticastGroup, b: MulticastGroup): number {
  return a.mac !== b.mac ? a.mac - b.mac : a.adi - b.adi;
}

/** A Map key for a group. */
export function multicastGroupKey(g: MulticastGroup): string {
  return `${g.mac.toString(16)}/${g.adi.toString(16)}`;
}

function ipv4ToU32(ip: Uint8Array, p = 0): number {
  return ((ip[p]! << 24) | (ip[p + 1]! << 16) | (ip[p + 2]! << 8) | ip[p + 3]!) >>> 0;
}

/** The group a node subscribes to for ARP requests about its IPv4 address. */
export function arpGroup(ipv4: Uint8Array): MulticastGroup {
  return { mac: BROADCAST_MAC, adi: ipv4ToU32(ipv4) };
}

/** The IPv6 address-resolution group: solicited-node MAC 33:33:ff + the last 3 address bytes, ADI 0. */
export function ipv6NdGroup(ipv6: Uint8Array): MulticastGroup {
  return { mac: 0x3333ff000000 + ipv6[13]! * 0x10000 + ipv6[14]! * 0x100 + ipv6[15]!, adi: 0 };
}

/**
 * If (etherType, payload) is an IPv4-over-Ethernet ARP request, the target protocol address (the ADI of its
 * group); undefined otherwise.
 */
export function arpRequestTarget(etherType: number, payload: Uint8Array): number | undefined {
  if (etherType !== 0x0806 || payload.length < 28) return undefined;
  if (payload[2] !== 0x08 || payload[3] !== 0x00 || payload[4] !== 6 || payload[5] !== 4 || payload[7] !== 1)
    return undefined;
  return ipv4ToU32(payload, 24);
}

/**
 * The group a multicast frame from the local stack goes to (§7.5 step 1): ARP request → (broadcast, target
 * IP); other broadcast → (broadcast, 0) or undefined (dropped) when broadcast is disabled; else (dest, 0).
 */
export function multicastGroupForFrame(
  destMac: Mac,
  etherType: number,
  payload: Uint8Array,
  broadcastEnabled: boolean,
): MulticastGroup | undefined {
  if (destMac === BROADCAST_MAC) {
    const t = arpRequestTarget(etherType, payload);
    if (t !== undefined) return { mac: BROADCAST_MAC, adi: t };
    return broadcastEnabled ? BROADCAST_GROUP : undefined;
  }
  return { mac: destMac, adi: 0 };
}

/**
 * The groups a member announces for its assigned addresses: (broadcast, ip) per IPv4, the solicited-node
 * group per IPv6, plus broadcast when enabled. Sorted and unique.
 */
export function groupsForAddresses(ips: readonly Uint8Array[], broadcastEnabled: boolean): MulticastGroup[] {
  const out = new Map<string, MulticastGroup>();
  for (const ip of ips) {
    const g = ip.length === 4 ? arpGroup(ip) : ipv6NdGroup(ip);
    out.set(multicastGroupKey(g), g);
  }
  if (broadcastEnabled) out.set(multicastGroupKey(BROADCAST_GROUP), BROADCAST_GROUP);
  return [...out.values()].sort(compareMulticastGroups);
}

// ---- Per-network IPv6 addresses (§9) ------------------------------------------------------------------------

function writeAddr(b: Uint8Array, p: number, a: Address): void {
  b[p] = Math.floor(a / 0x100000000) & 0xff;
  b[p + 1] = (a >>> 24) & 0xff;
  b[p + 2] = (a >>> 16) & 0xff;
  b[p + 3] = (a >>> 8) & 0xff;
  b[p + 4] = a & 0xff;
}

/** fd ‖ nwid[8] ‖ 99 93 ‖ address[5] (used with /88). */
export function rfc4193Address(nwid: bigint, address: Address): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = 0xfd;
  for (let i = 0; i < 8; i++) b[1 + i] = Number((nwid >> BigInt(56 - 8 * i)) & 0xffn);
  b[9] = 0x99;
  b[10] = 0x93;
  writeAddr(b, 11, address);
  return b;
}

/** fc ‖ (nwid ^ nwid >> 32)[low 32 bits] ‖ address[5] ‖ 00 00 00 00 00 01 (used with /40). */
export function sixPlaneAddress(nwid: bigint, address: Address): Uint8Array {
  const h = Number((nwid ^ (nwid >> 32n)) & 0xffffffffn);
  const b = new Uint8Array(16);
  b[0] = 0xfc;
  b[1] = (h >>> 24) & 0xff;
  b[2] = (h >>> 16) & 0xff;
  b[3] = (h >>> 8) & 0xff;
  b[4] = h & 0xff;
  writeAddr(b, 5, address);
  b[15] = 1;
  return b;
}
