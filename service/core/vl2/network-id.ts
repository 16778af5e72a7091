// Network IDs (PROTOCOL-VL2.md §1): the controller and number inside an ID, its text forms, and the
// network statuses, types, config flags and limits that the config, the member and the controller share.
import type { Address } from '../address.js';

// ---- Network IDs --------------------------------------------------------------------------------------------

/** The controller of a network: the top 40 bits of its ID. */
export function networkController(nwid: bigint): Address {
  return Number((nwid >> 24n) & 0xffffffffffn);
}

/** controller << 24 | 24-bit number. */
export function makeNetworkId(controller: Address, n24: number): bigint {
  return (BigInt(controller) << 24n) | BigInt(n24 & 0xffffff);
}

export function networkIdToString(nwid: bigint): string {
  return BigInt.asUintN(64, nwid).toString(16).padStart(16, '0');
}

/** 16 hex digits (either case) → ID; undefined otherwise. */
export function parseNetworkId(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F]{16}$/.test(s)) return undefined;
  return BigInt(`0x${s}`);
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** ZeroTier's Linux device name: 'zt' + base32 of the low 40 bits of nwid XOR (nwid >> 24) (§2.3). */
export function portDeviceName(nwid: bigint): string {
  let v = (nwid ^ (nwid >> 24n)) & 0xffffffffffn;
  let s = '';
  for (let i = 0; i < 8; i++) {
    s = BASE32[Number(v & 31n)]! + s;
    v >>= 5n;
  }
  return `zt${s}`;
}

// ---- Enums and constants ------------------------------------------------------------------------------------

export const NetworkStatus = {
  REQUESTING_CONFIGURATION: 0,
  OK: 1,
  ACCESS_DENIED: 2,
  NOT_FOUND: 3,
  PORT_ERROR: 4,
  CLIENT_TOO_OLD: 5,
  AUTHENTICATION_REQUIRED: 6,
} as const;
export type NetworkStatus = (typeof NetworkStatus)[keyof typeof NetworkStatus];
export type NetworkStatusName = keyof typeof NetworkStatus;

export function networkStatusName(s: NetworkStatus): NetworkStatusName {
  return (Object.keys(NetworkStatus) as NetworkStatusName[]).find((k) => NetworkStatus[k] === s) ?? 'NOT_FOUND';
}

export const NetworkType = { PRIVATE: 0, PUBLIC: 1 } as const;
export type NetworkType = (typeof NetworkType)[keyof typeof NetworkType];

export function networkTypeName(t: number): 'PRIVATE' | 'PUBLIC' {
  return t === NetworkType.PUBLIC ? 'PUBLIC' : 'PRIVATE';
}

/** Config `f` bits. */
export const CONFIG_FLAG = {
  ENABLE_BROADCAST: 0x02,
  ENABLE_IPV6_NDP_EMULATION: 0x04,
  RULES_RESULT_OF_UNSUPPORTED_MATCH: 0x08,
  DISABLE_COMPRESSION: 0x10,
} as const;

/** Specialist flags (config `S`). */
export const SPECIALIST = {
  ACTIVE_BRIDGE: 0x0000020000000000n,
  ANCHOR: 0x0000040000000000n,
  MULTICAST_REPLICATOR: 0x0000080000000000n,
} as const;

export const CONFIG_VERSION = 7;
export const CONFIG_VERSION_MIN = 6;
export const DEFAULT_MTU = 2800;
export const MIN_MTU = 1280;
export const MAX_MTU = 10000;
export const DEFAULT_MULTICAST_LIMIT = 32;
export const DEFAULT_CREDENTIAL_TIME_MAX_DELTA = 1800000;
export const MAX_CAPABILITIES = 128;
export const MAX_TAGS = 128;
export const MAX_COOS = 4;
export const MAX_STATIC_IPS = 32;
export const MAX_ROUTES = 128;
export const MAX_SPECIALISTS = 256;
export const MAX_NAME_LENGTH = 127;
export const DNS_DOMAIN_LENGTH = 128;
export const DNS_MAX_SERVERS = 4;
