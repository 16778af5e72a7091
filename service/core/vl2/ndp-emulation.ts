// NDP emulation (PROTOCOL-VL2.md §7, config flag 0x04): a member answers an IPv6 neighbour solicitation for
// another member's managed address (rfc4193 /88 or 6plane /40, whose bits name the owner's ZeroTier address)
// itself, with the MAC that owner has on this network, so no solicitation needs to cross the network.
import type { Address } from '../address.js';
import type { InetAddress } from '../inet-address.js';
import { type Mac, macToBytes } from './mac.js';

/**
 * The neighbour advertisement answering solicitation `p` (an IPv6 packet, from our stack), or undefined when
 * `p` is not a solicitation for another member's address in one of our managed ranges (`staticIps`: ours,
 * the prefix length in the port field).
 */
export function emulatedNeighborAdvertisement(
  nwid: bigint,
  staticIps: readonly InetAddress[],
  self: Address,
  p: Uint8Array,
  macOf: (member: Address) => Mac,
): { advertisement: Uint8Array; peerMac: Mac } | undefined {
  if (p.length < 64 || p[6] !== 0x3a || p[40] !== 0x87) return undefined;
  const target = p.subarray(48, 64);
  let owner: Address | undefined;
  let mine: Uint8Array | undefined;
  const nwid32 = Number((nwid ^ (nwid >> 32n)) & 0xffffffffn);
  for (const a of staticIps) {
    if (a.family !== 6) continue;
    const ip = a.ip;
    const prefix =
      a.port === 88 && ip[0] === 0xfd && ip[9] === 0x99 && ip[10] === 0x93
        ? 11
        : a.port === 40 && ip[0] === 0xfc && ((ip[1]! << 24) | (ip[2]! << 16) | (ip[3]! << 8) | ip[4]!) >>> 0 === nwid32
          ? 5
          : 0;
    if (prefix === 0 || !target.subarray(0, prefix).every((b, i) => b === ip[i])) continue;
    owner = target.subarray(prefix, prefix + 5).reduce((x, b) => x * 256 + b, 0);
    mine = ip;
    break;
  }
  if (owner === undefined || !mine || owner === self) return undefined;
  const na = new Uint8Array(72);
  na.set([0x60, 0, 0, 0, 0, 0x20, 0x3a, 0xff]);
  na.set(target, 8);
  na.set(mine, 24);
  na[40] = 0x88;
  na[44] = 0x60; // solicited, override
  na.set(target, 48);
  na[64] = 2; // target link-layer address option, 8 bytes
  na[65] = 1;
  const peerMac = macOf(owner);
  na.set(macToBytes(peerMac), 66);
  // ICMPv6 checksum over the pseudo-header (source, destination, length 32, next header 58) and the message.
  let sum = 32 + 0x3a;
  for (let i = 8; i < 40; i += 2) sum += (na[i]! << 8) | na[i + 1]!;
  for (let i = 40; i < 72; i += 2) sum += (na[i]! << 8) | na[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const ck = ~sum & 0xffff;
  na[42] = ck >>> 8;
  na[43] = ck & 0xff;
  return { advertisement: na, peerMac };
}
