// Ad-hoc networks (PROTOCOL-VL2.md §1.1): ff… network IDs a node configures itself, without a controller.
import type { Address } from '../address.js';
import type { InetAddress } from '../inet-address.js';
import { defaultNetworkConfig, type NetworkConfig } from './config-dictionary.js';
import { sixPlaneAddress } from './mac.js';
import { CONFIG_FLAG, NetworkType } from './network-id.js';
import type { Rule } from './rules.js';

// ---- Ad-hoc networks (§1.1) ----------------------------------------------------------------------------------

/** True for ff… network IDs, which are configured locally without a controller. */
export function isAdhocNetworkId(nwid: bigint): boolean {
  return nwid >> 56n === 0xffn;
}

const rule = (r: Record<string, unknown>): Rule => ({ not: false, or: false, ...r }) as Rule;

/**
 * The config a 1.14.1 node makes itself for an ad-hoc network, or 'not-found' (port range end < start), or
 * undefined if `nwid` is not an ad-hoc ID of a known form:
 *   ffSSSSEEEE000000  public, IPv6 only (6plane /40), 14 rules: ICMPv6, UDP/TCP to ports SSSS-EEEE,
 *                     established TCP; multicastLimit 0; name adhoc-ssss-eeee
 *   ffAAhhhhhhhhhh01  public, 6plane plus AA.x.y.z/8 (low 24 bits of our address), accept all,
 *                     multicastLimit 1024, hub hhhhhhhhhh as a specialist (if non-zero); name adhoc-AA.0.0.0
 */
export function adhocNetworkConfig(nwid: bigint, self: Address, now: number): NetworkConfig | 'not-found' | undefined {
  if (!isAdhocNetworkId(nwid)) return undefined;
  const base = {
    ...defaultNetworkConfig(nwid, self),
    timestamp: now,
    credentialTimeMaxDelta: 7200000,
    revision: 1,
    flags: CONFIG_FLAG.ENABLE_IPV6_NDP_EMULATION,
    type: NetworkType.PUBLIC,
  };
  const sixPlane: InetAddress = { family: 6, ip: sixPlaneAddress(nwid, self), port: 40 };
  if ((nwid & 0xffffffn) === 0n) {
    const start = Number((nwid >> 40n) & 0xffffn);
    const end = Number((nwid >> 24n) & 0xffffn);
    if (end < start) return 'not-found';
    const hex4 = (n: number) => n.toString(16).padStart(4, '0');
    return {
      ...base,
      multicastLimit: 0,
      name: `adhoc-${hex4(start)}-${hex4(end)}`,
      staticIps: [sixPlane],
      rules: [
        rule({ type: 'MATCH_ETHERTYPE', not: true, etherType: 0x86dd }),
        rule({ type: 'ACTION_DROP' }),
        rule({ type: 'MATCH_IP_PROTOCOL', ipProtocol: 0x3a }),
        rule({ type: 'ACTION_ACCEPT' }),
        rule({ type: 'MATCH_IP_PROTOCOL', ipProtocol: 0x11 }),
        rule({ type: 'MATCH_IP_PROTOCOL', or: true, ipProtocol: 0x06 }),
        rule({ type: 'MATCH_IP_DEST_PORT_RANGE', start, end }),
        rule({ type: 'ACTION_ACCEPT' }),
        rule({ type: 'MATCH_CHARACTERISTICS', not: true, mask: 0x002n }),
        rule({ type: 'ACTION_ACCEPT' }),
        rule({ type: 'MATCH_CHARACTERISTICS', mask: 0x002n }),
        rule({ type: 'MATCH_CHARACTERISTICS', mask: 0x010n }),
        rule({ type: 'ACTION_ACCEPT' }),
        rule({ type: 'ACTION_DROP' }),
      ],
    };
  }
  if ((nwid & 0xffn) === 0x01n) {
    const hub = Number((nwid >> 8n) & 0xffffffffffn);
    const a = Number((nwid >> 48n) & 0xffn);
    const ipv4 = Uint8Array.from([a, Math.floor(self / 0x10000) & 0xff, Math.floor(self / 0x100) & 0xff, self & 0xff]);
    return {
      ...base,
      multicastLimit: 1024,
      name: `adhoc-${a}.0.0.0`,
      specialists: hub === 0 ? [] : [BigInt(hub)],
      staticIps: [sixPlane, { family: 4, ip: ipv4, port: 8 }],
      rules: [rule({ type: 'ACTION_ACCEPT' })],
    };
  }
  return undefined;
}
