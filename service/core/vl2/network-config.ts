// Network configuration (PROTOCOL-VL2.md §1, §3, §4): network IDs, statuses and types, the NetworkConfig
// dictionary (what the controller sends and `networks.d/<nwid>.conf` holds), the NETWORK_CONFIG_REQUEST
// payload with its metadata dictionary, the signed config chunks of OK(NETWORK_CONFIG_REQUEST) and
// NETWORK_CONFIG, and the member-side chunk reassembler.
//
// Exported API (stable; the controller imports it):
//   IDs:     networkController(nwid) → Address; makeNetworkId(controller, n24) → bigint;
//            networkIdToString(nwid) → 16 hex; parseNetworkId(text) → bigint | undefined;
//            portDeviceName(nwid) → 'zt…'
//   Enums:   NetworkStatus (+ NetworkStatusName, networkStatusName()), NetworkType (+ networkTypeName()),
//            CONFIG_FLAG, SPECIALIST, CONFIG_VERSION, DEFAULT_* / MIN_MTU / MAX_MTU / MAX_* limits
//   Config:  interface NetworkConfig, Route, Dns, SsoConfig; defaultNetworkConfig(networkId, issuedTo)
//            encodeNetworkConfig(cfg) → Dictionary      (key order of the 1.14.1 controller; byte-exact)
//            networkConfigBytes(cfg) → Uint8Array
//            decodeNetworkConfig(bytes | Dictionary) → Vl2Decoded<NetworkConfig>   (member-side rules)
//            networkConfigEquals(a, b) → boolean
//   Ad-hoc:  isAdhocNetworkId(nwid), adhocNetworkConfig(nwid, self, now) → NetworkConfig | 'not-found' | undefined
//   Request: interface ConfigRequest, RequestMetadata; encodeConfigRequest(req) → payload;
//            decodeConfigRequest(payload) → Vl2Decoded<ConfigRequest>;
//            buildRequestMetadata(opts?) → Dictionary; parseRequestMetadata(dict | bytes) → RequestMetadata
//   Chunks:  CONFIG_CHUNK_MAX_DATA (9740), interface ConfigChunk;
//            makeConfigChunks(networkId, dictBytes, updateId, signer: Identity, flags?) → Uint8Array[] (chunk bytes)
//            encodeConfigChunk(fields, signer) → Uint8Array; decodeConfigChunk(bytes) → Vl2Decoded<ConfigChunk>
//            verifyConfigChunk(chunk, controller: Identity) → boolean
//            encodeConfigAck(networkId, updateId) → the 16 bytes after `08 <pkt id>` of the OK(ECHO) ack
//            class ConfigReassembler(networkId): accept(chunkBytes, source, packetId, controller?) → ChunkResult
//              ('incomplete' | 'complete' { dictionary, updateId } | 'need-identity' { address } | 'dropped' { reason })
//            decodeConfigAck(data)
//
// ---- NETWORK_CONFIG_REQUEST payload (verb 0x0b) -------------------------------------------------------------
//
//   +-----------+-----------+---------------------------+-------------+---------------+
//   | nwid [8]  | L [2]     | metadata dictionary [L]   | revision[8] | timestamp [8] |
//   +-----------+-----------+---------------------------+-------------+---------------+
//   (revision/timestamp of the config held, 0 if none; the controller ignores everything after the dictionary)
//
// ---- Config chunk (payload of NETWORK_CONFIG; after `0b <pkt id>` in OK(NETWORK_CONFIG_REQUEST)) ------------
//
//   off 0     nwid [8]
//   off 8     C [2]                     chunk data length
//   off 10    data [C]                  dictionary bytes [offset, offset + C)
//   off 10+C  flags [1]                 0x01 fast propagate
//   off 11+C  update id [8]             random, non-zero, same for all chunks of one update
//   off 19+C  total length T [4]
//   off 23+C  offset [4]                byte offset of this chunk in the dictionary
//   off 27+C  signature type [1] = 1
//   off 28+C  signature length [2] = 96
//   off 30+C  signature [96]            controller's C25519 signature over bytes [0, 27+C)
//   A legacy chunk ends after the data (no trailer): one chunk, T = C, offset 0, update id = packet id.
//
// ---- Config dictionary keys, in the order written ------------------------------------------------------------
//   v nwid ts ctmd r id tt tl f ml t n mtu C CAP TAG COO S RT I R DNS ssov ssoe [aurl aexpt | iurl ssoce sson ssos ssocid ssop]
//   RT entry:  target InetAddress (port = prefix bits) | via InetAddress (00 if none) | flags [2] | metric [2]
//   I entry:   InetAddress (port = prefix bits)
//   DNS:       domain [128] NUL-padded | 4 x InetAddress (00 if unused)
//   ncn:       netcon only (ZeroTier One ignores unknown keys): the network's named members, for names that
//              resolve on the network without a DNS server. Per member: address [5] | name length [1] |
//              name (UTF-8) | IP count [1] | InetAddress x count (port 0). Written after DNS when not empty.
//   S entry:   u64: low 40 bits address | 0x20000000000 bridge | 0x40000000000 anchor | 0x80000000000 replicator
import type { Address } from '../address.js';
import type { Identity } from '../identity.js';
import { signWithIdentity, verifyWithIdentity } from '../identity.js';
import { type InetAddress, readInetAddress, serializeInetAddress } from '../inet-address.js';
import { WireReader, WireWriter } from '../wire.js';
import {
  type Capability,
  type CertificateOfMembership,
  type CertificateOfOwnership,
  readCapability,
  readCom,
  readCoo,
  readTag,
  SIGNATURE_LENGTH,
  SIGNATURE_TYPE_ED25519,
  type Tag,
  writeCapability,
  writeCom,
  writeCoo,
  writeTag,
} from './credentials.js';
import { CONFIG_DICT_CAPACITY, Dictionary, METADATA_DICT_CAPACITY } from './dictionary.js';
import { sixPlaneAddress } from './mac.js';
import { type Vl2Decoded, vfail, vok } from './result.js';
import { decodeRules, encodeRules, MAX_RULES, type Rule } from './rules.js';

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
export const CONFIG_CHUNK_MAX_DATA = 9740;
export const CONFIG_MAX_CHUNKS = Math.floor(CONFIG_DICT_CAPACITY / 1024) + 1; // 474
export const CONFIG_REASSEMBLY_SLOTS = 3;
export const CHUNK_FLAG_FAST_PROPAGATE = 0x01;

// ---- NetworkConfig ------------------------------------------------------------------------------------------

export interface Route {
  /** Target network; `port` holds the prefix length. */
  readonly target: InetAddress;
  /** Gateway, or null. */
  readonly via: InetAddress | null;
  readonly flags: number;
  readonly metric: number;
}

export interface Dns {
  readonly domain: string;
  /** Up to 4 (port usually 0). */
  readonly servers: readonly InetAddress[];
}

/** A member named on the controller, with its managed addresses (netcon's `ncn` key). */
export interface MemberName {
  readonly address: Address;
  /** One DNS label, lower case (the controller's member `name`, checked and folded). */
  readonly name: string;
  readonly ips: readonly InetAddress[];
}

/** At most this many bytes of names in one config (about 200 members); past it a DNS server is the way. */
export const MAX_NAMES_BYTES = 16384;

export interface SsoConfig {
  readonly authenticationUrl?: string;
  readonly authenticationExpiryTime?: number;
  readonly issuerUrl?: string;
  readonly centralAuthUrl?: string;
  readonly nonce?: string;
  readonly state?: string;
  readonly clientId?: string;
  readonly provider?: string;
}

export interface NetworkConfig {
  /** Config format version (`v`), 7. */
  readonly version: number;
  readonly networkId: bigint;
  /** Controller time of issue, ms (`ts`). */
  readonly timestamp: number;
  /** Credential time max delta, ms (`ctmd`). */
  readonly credentialTimeMaxDelta: number;
  /** The controller's network record revision (`r`). */
  readonly revision: number;
  /** Member the config is issued to (`id`). */
  readonly issuedTo: Address;
  readonly remoteTraceTarget: Address;
  readonly remoteTraceLevel: number;
  /** CONFIG_FLAG bits (`f`). */
  readonly flags: number;
  readonly multicastLimit: number;
  readonly type: NetworkType;
  readonly name: string;
  readonly mtu: number;
  readonly com: CertificateOfMembership | null;
  readonly capabilities: readonly Capability[];
  readonly tags: readonly Tag[];
  readonly certificatesOfOwnership: readonly CertificateOfOwnership[];
  /** Address (low 40 bits) | SPECIALIST flags. */
  readonly specialists: readonly bigint[];
  readonly routes: readonly Route[];
  /** Assigned addresses; `port` holds the prefix length. */
  readonly staticIps: readonly InetAddress[];
  readonly rules: readonly Rule[];
  readonly dns: Dns;
  readonly ssoVersion: number;
  readonly ssoEnabled: boolean;
  /** Named members (netcon controllers only; empty from ZeroTier One's). */
  readonly names?: readonly MemberName[];
  readonly sso?: SsoConfig;
}

/** A config with the 1.14.1 controller's defaults (private, MTU 2800, multicastLimit 32, broadcast, accept-all). */
export function defaultNetworkConfig(networkId: bigint, issuedTo: Address): NetworkConfig {
  return {
    version: CONFIG_VERSION,
    networkId,
    timestamp: 0,
    credentialTimeMaxDelta: DEFAULT_CREDENTIAL_TIME_MAX_DELTA,
    revision: 0,
    issuedTo,
    remoteTraceTarget: 0,
    remoteTraceLevel: 0,
    flags: CONFIG_FLAG.ENABLE_BROADCAST,
    multicastLimit: DEFAULT_MULTICAST_LIMIT,
    type: NetworkType.PRIVATE,
    name: '',
    mtu: DEFAULT_MTU,
    com: null,
    capabilities: [],
    tags: [],
    certificatesOfOwnership: [],
    specialists: [],
    routes: [],
    staticIps: [],
    rules: [{ type: 'ACTION_ACCEPT', not: false, or: false }],
    dns: { domain: '', servers: [] },
    ssoVersion: 0,
    ssoEnabled: false,
  };
}

function encodeMemberNames(names: readonly MemberName[]): Uint8Array {
  const w = new WireWriter(64 * names.length);
  let n = 0;
  for (const m of names) {
    const name = utf8Prefix(m.name, 63);
    const ips = m.ips.slice(0, 16).map(serializeInetAddress);
    const size = 7 + name.length + ips.reduce((k, b) => k + b.length, 0);
    if (n + size > MAX_NAMES_BYTES) break;
    n += size;
    w.address(m.address).u8(name.length).bytes(name).u8(ips.length);
    for (const b of ips) w.bytes(b);
  }
  return w.finish();
}

function decodeMemberNames(b: Uint8Array): MemberName[] | undefined {
  const r = new WireReader(b);
  const out: MemberName[] = [];
  while (r.remaining > 0) {
    const address = r.address();
    const name = new TextDecoder().decode(r.bytesView(r.u8()));
    const count = r.u8();
    const ips: InetAddress[] = [];
    for (let i = 0; i < count; i++) {
      const a = readInetAddress(r);
      if (a) ips.push(a);
    }
    if (r.failed) return undefined;
    out.push({ address, name, ips });
  }
  return out;
}

/** UTF-8 of s, cut to at most max bytes without splitting a character. */
function utf8Prefix(s: string, max: number): Uint8Array {
  const b = new TextEncoder().encode(s);
  if (b.length <= max) return b;
  let n = max;
  while (n > 0 && (b[n]! & 0xc0) === 0x80) n--;
  return b.subarray(0, n);
}

function writeDns(w: WireWriter, dns: Dns): void {
  const domain = new Uint8Array(DNS_DOMAIN_LENGTH);
  domain.set(utf8Prefix(dns.domain, DNS_DOMAIN_LENGTH - 1));
  w.bytes(domain);
  for (let i = 0; i < DNS_MAX_SERVERS; i++) w.bytes(serializeInetAddress(dns.servers[i] ?? null));
}

/** The config as the 1.14.1 controller serializes it (keys in its order; optional keys only when present). */
export function encodeNetworkConfig(c: NetworkConfig): Dictionary {
  const d = new Dictionary(CONFIG_DICT_CAPACITY);
  d.addU64('v', c.version);
  d.addU64('nwid', c.networkId);
  d.addI64('ts', c.timestamp);
  d.addI64('ctmd', c.credentialTimeMaxDelta);
  d.addU64('r', c.revision);
  d.addAddress('id', c.issuedTo);
  d.addAddress('tt', c.remoteTraceTarget);
  d.addU64('tl', c.remoteTraceLevel);
  d.addU64('f', c.flags);
  d.addU64('ml', c.multicastLimit);
  d.addU64('t', c.type);
  d.add('n', utf8Prefix(c.name, MAX_NAME_LENGTH));
  d.addU64('mtu', c.mtu);
  if (c.com) {
    const w = new WireWriter(300);
    writeCom(w, c.com);
    d.add('C', w.finish());
  }
  if (c.capabilities.length) {
    const w = new WireWriter(512);
    for (const x of c.capabilities) writeCapability(w, x);
    d.add('CAP', w.finish());
  }
  if (c.tags.length) {
    const w = new WireWriter(512);
    for (const x of c.tags) writeTag(w, x);
    d.add('TAG', w.finish());
  }
  if (c.certificatesOfOwnership.length) {
    const w = new WireWriter(512);
    for (const x of c.certificatesOfOwnership) writeCoo(w, x);
    d.add('COO', w.finish());
  }
  if (c.specialists.length) {
    const w = new WireWriter(8 * c.specialists.length);
    for (const s of c.specialists) w.u64(s);
    d.add('S', w.finish());
  }
  if (c.routes.length) {
    const w = new WireWriter(64);
    for (const r of c.routes) {
      w.bytes(serializeInetAddress(r.target));
      w.bytes(serializeInetAddress(r.via));
      w.u16(r.flags).u16(r.metric);
    }
    d.add('RT', w.finish());
  }
  if (c.staticIps.length) {
    const w = new WireWriter(64);
    for (const a of c.staticIps) w.bytes(serializeInetAddress(a));
    d.add('I', w.finish());
  }
  if (c.rules.length) d.add('R', encodeRules(c.rules));
  {
    const w = new WireWriter(160);
    writeDns(w, c.dns);
    d.add('DNS', w.finish());
  }
  if (c.names?.length) d.add('ncn', encodeMemberNames(c.names));
  // SSO keys: written for SSO versions 0 and 1 only (1.14.1 writes neither key for other versions).
  const s = c.sso ?? {};
  if (c.ssoVersion === 0) {
    d.addU64('ssov', 0);
    d.addBool('ssoe', c.ssoEnabled);
    if (c.ssoEnabled) {
      if (s.authenticationUrl) d.add('aurl', s.authenticationUrl);
      d.addI64('aexpt', s.authenticationExpiryTime ?? 0);
    }
  } else if (c.ssoVersion === 1) {
    d.addU64('ssov', 1);
    d.addBool('ssoe', c.ssoEnabled);
    d.add('iurl', s.issuerUrl ?? '');
    d.add('ssoce', s.centralAuthUrl ?? '');
    d.add('sson', s.nonce ?? '');
    d.add('ssos', s.state ?? '');
    d.add('ssocid', s.clientId ?? '');
    d.add('ssop', s.provider ?? '');
  }
  return d;
}

/** encodeNetworkConfig(c).bytes(): what goes into the chunks and into networks.d/<nwid>.conf. */
export function networkConfigBytes(c: NetworkConfig): Uint8Array {
  return encodeNetworkConfig(c).bytes();
}

function readAll<T>(
  bytes: Uint8Array | undefined,
  read: (r: WireReader) => T | undefined,
  max: number,
): T[] | undefined {
  const out: T[] = [];
  if (!bytes) return out;
  const r = new WireReader(bytes);
  while (r.remaining > 0) {
    const v = read(r);
    if (v === undefined || r.failed) return undefined;
    if (out.length < max) out.push(v);
  }
  return out;
}

function readPrefix<T>(bytes: Uint8Array | undefined, read: (r: WireReader) => T | undefined, max: number): T[] {
  const out: T[] = [];
  if (!bytes) return out;
  const r = new WireReader(bytes);
  while (r.remaining > 0 && out.length < max) {
    const v = read(r);
    if (v === undefined || r.failed) break;
    out.push(v);
  }
  return out;
}

/**
 * Parses a config dictionary the way a 1.14.1 member does: version ≥ 6, non-zero nwid and id, MTU clamped,
 * capabilities and tags sorted by ID, at most 4 COOs; a malformed binary value rejects the whole config.
 */
export function decodeNetworkConfig(src: Uint8Array | Dictionary): Vl2Decoded<NetworkConfig> {
  const d = src instanceof Dictionary ? src : Dictionary.from(src, CONFIG_DICT_CAPACITY);
  const version = Number(d.getU64('v', 0n));
  if (version < CONFIG_VERSION_MIN) return vfail('bad-version', `config version ${version}`);
  const networkId = d.getU64('nwid', 0n);
  if (networkId === 0n) return vfail('bad-network-id', 'no network ID');
  const issuedTo = d.getAddress('id', 0);
  if (issuedTo === 0) return vfail('bad-issued-to', 'no issued-to address');
  const timestamp = Number(d.getI64('ts', 0n));
  const credentialTimeMaxDelta = Number(d.getI64('ctmd', 0n));
  const revision = d.getNumber('r', 0);
  const remoteTraceTarget = d.getAddress('tt', 0);
  const remoteTraceLevel = d.getNumber('tl', 0);
  const flags = Number(d.getU64('f', 0n) & 0xffffffffn);
  const multicastLimit = Number(d.getU64('ml', 0n) & 0xffffffffn);
  const type = d.getNumber('t', NetworkType.PRIVATE) === NetworkType.PUBLIC ? NetworkType.PUBLIC : NetworkType.PRIVATE;
  const name = d.getString('n', '', MAX_NAME_LENGTH);
  const mtuRaw = d.getU64('mtu', BigInt(DEFAULT_MTU));
  const mtu = mtuRaw < BigInt(MIN_MTU) ? MIN_MTU : mtuRaw > BigInt(MAX_MTU) ? MAX_MTU : Number(mtuRaw);

  let com: CertificateOfMembership | null = null;
  const comBytes = d.get('C');
  if (comBytes && comBytes.length > 0) {
    const r = new WireReader(comBytes);
    const c = readCom(r);
    if (!c) return vfail('malformed', 'C (certificate of membership)');
    com = c;
  }
  // As 1.14.1: a malformed capability or tag ends its list (those before it are kept); it does not reject.
  const capabilities = readPrefix(d.get('CAP'), readCapability, MAX_CAPABILITIES);
  capabilities.sort((a, b) => a.id - b.id);
  const tags = readPrefix(d.get('TAG'), readTag, MAX_TAGS);
  tags.sort((a, b) => a.id - b.id);
  const certificatesOfOwnership = readAll(d.get('COO'), readCoo, MAX_COOS);
  if (!certificatesOfOwnership) return vfail('malformed', 'COO (certificates of ownership)');

  const specialists: bigint[] = [];
  const sBytes = d.get('S');
  if (sBytes) {
    const r = new WireReader(sBytes);
    while (r.remaining >= 8 && specialists.length < MAX_SPECIALISTS) specialists.push(r.u64());
  }

  const routes: Route[] = [];
  const rtBytes = d.get('RT');
  if (rtBytes) {
    const r = new WireReader(rtBytes);
    while (r.remaining > 0 && routes.length < MAX_ROUTES) {
      const target = readInetAddress(r);
      const via = readInetAddress(r);
      const rflags = r.u16();
      const metric = r.u16();
      if (r.failed || target === undefined || via === undefined) return vfail('malformed', 'RT (routes)');
      if (target) routes.push({ target, via, flags: rflags, metric });
    }
  }

  const staticIps: InetAddress[] = [];
  const iBytes = d.get('I');
  if (iBytes) {
    const r = new WireReader(iBytes);
    while (r.remaining > 0 && staticIps.length < MAX_STATIC_IPS) {
      const a = readInetAddress(r);
      if (a === undefined || r.failed) return vfail('malformed', 'I (static IPs)');
      if (a) staticIps.push(a);
    }
  }

  let rules: Rule[] = [];
  const rBytes = d.get('R');
  if (rBytes) {
    const rr = decodeRules(rBytes, MAX_RULES); // rules past the 1024th are ignored, as in 1.14.1
    if (!rr.ok) return vfail('malformed', `R (rules): ${rr.detail ?? rr.reason}`);
    rules = rr.value;
  }

  let dns: Dns = { domain: '', servers: [] };
  const dnsBytes = d.get('DNS');
  if (dnsBytes && dnsBytes.length > 0) {
    const r = new WireReader(dnsBytes);
    const domainRaw = r.bytesView(DNS_DOMAIN_LENGTH);
    const servers: InetAddress[] = [];
    for (let i = 0; i < DNS_MAX_SERVERS; i++) {
      const a = readInetAddress(r);
      if (a) servers.push(a);
    }
    if (r.failed) return vfail('malformed', 'DNS');
    let n = domainRaw.indexOf(0);
    if (n < 0) n = domainRaw.length;
    dns = { domain: new TextDecoder().decode(domainRaw.subarray(0, n)), servers };
  }

  let names: MemberName[] | undefined;
  const namesBytes = d.get('ncn');
  if (namesBytes && namesBytes.length > 0) {
    const nr = decodeMemberNames(namesBytes);
    if (!nr) return vfail('malformed', 'ncn (member names)');
    names = nr;
  }

  const ssoVersion = d.getNumber('ssov', 0);
  const ssoEnabled = d.getBool('ssoe', false);
  let sso: SsoConfig | undefined;
  if (ssoVersion === 0 && ssoEnabled) {
    sso = { authenticationUrl: d.getString('aurl'), authenticationExpiryTime: Number(d.getI64('aexpt', 0n)) };
  } else if (ssoVersion === 1 && ssoEnabled) {
    sso = {
      authenticationUrl: d.getString('aurl'),
      issuerUrl: d.getString('iurl'),
      centralAuthUrl: d.getString('ssoce'),
      nonce: d.getString('sson'),
      state: d.getString('ssos'),
      clientId: d.getString('ssocid'),
      provider: d.getString('ssop', 'default'),
    };
  }

  const cfg: NetworkConfig = {
    version,
    networkId,
    timestamp,
    credentialTimeMaxDelta,
    revision,
    issuedTo,
    remoteTraceTarget,
    remoteTraceLevel,
    flags,
    multicastLimit,
    type,
    name,
    mtu,
    com,
    capabilities,
    tags,
    certificatesOfOwnership,
    specialists,
    routes,
    staticIps,
    rules,
    dns,
    ssoVersion,
    ssoEnabled,
    ...(sso ? { sso } : {}),
    ...(names ? { names } : {}),
  };
  return vok(cfg);
}

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

/** Same content (compared through the canonical serialization). */
export function networkConfigEquals(a: NetworkConfig, b: NetworkConfig): boolean {
  const x = networkConfigBytes(a);
  const y = networkConfigBytes(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

// ---- NETWORK_CONFIG_REQUEST ---------------------------------------------------------------------------------

export interface ConfigRequest {
  readonly networkId: bigint;
  /** The metadata dictionary bytes as sent (no NUL). */
  readonly metadata: Uint8Array;
  /** Revision and timestamp of the config held (0 if none); undefined when the trailer is absent. */
  readonly revision?: bigint;
  readonly timestamp?: bigint;
}

export function encodeConfigRequest(req: ConfigRequest): Uint8Array {
  const md = req.metadata.subarray(0, 0xffff);
  const w = new WireWriter(28 + md.length);
  w.u64(req.networkId).u16(md.length).bytes(md);
  w.u64(req.revision ?? 0n).u64(req.timestamp ?? 0n);
  return w.finish();
}

/** Decodes the request; the trailer is optional (older members), anything after it is ignored. */
export function decodeConfigRequest(payload: Uint8Array): Vl2Decoded<ConfigRequest> {
  const r = new WireReader(payload);
  const networkId = r.u64();
  const len = r.u16();
  const metadata = r.bytesView(len).slice();
  if (r.failed) return vfail('too-short', 'NETWORK_CONFIG_REQUEST truncated');
  if (r.remaining >= 16) {
    const revision = r.u64();
    const timestamp = r.u64();
    return vok({ networkId, metadata, revision, timestamp });
  }
  return vok({ networkId, metadata });
}

export interface RequestMetadata {
  /** `v` config version the member understands (7). */
  readonly version: number;
  readonly vendor: number;
  readonly protocolVersion: number;
  readonly majorVersion: number;
  readonly minorVersion: number;
  readonly revision: number;
  readonly maxRules: number;
  readonly maxCapabilities: number;
  readonly maxCapabilityRules: number;
  readonly maxTags: number;
  readonly flags: number;
  /** `revr`; 0 or missing → the controller sends only ACCEPT and no capabilities/tags. */
  readonly rulesEngineRevision: number;
  /** `o`, e.g. linux/x86_64. */
  readonly osArch: string;
  /** `a` join token (`token:<t>`), if any. */
  readonly auth?: string;
}

/** The metadata a 1.14.1 member sends, in its key order (numbers as 16 hex digits). */
export function buildRequestMetadata(o: Partial<RequestMetadata> = {}): Dictionary {
  const d = new Dictionary(METADATA_DICT_CAPACITY);
  d.addU64('v', o.version ?? CONFIG_VERSION);
  d.addU64('vend', o.vendor ?? 1);
  d.addU64('pv', o.protocolVersion ?? 12);
  d.addU64('majv', o.majorVersion ?? 1);
  d.addU64('minv', o.minorVersion ?? 14);
  d.addU64('revv', o.revision ?? 1);
  d.addU64('mr', o.maxRules ?? MAX_RULES);
  d.addU64('mc', o.maxCapabilities ?? MAX_CAPABILITIES);
  d.addU64('mcr', o.maxCapabilityRules ?? 64);
  d.addU64('mt', o.maxTags ?? MAX_TAGS);
  d.addU64('f', o.flags ?? 0);
  d.addU64('revr', o.rulesEngineRevision ?? 1);
  d.add('o', o.osArch ?? 'linux/x86_64');
  if (o.auth !== undefined) d.add('a', o.auth);
  return d;
}

/** Reads request metadata as the controller does (into a 1024-byte dictionary). Missing numbers read as 0. */
export function parseRequestMetadata(src: Uint8Array | Dictionary): RequestMetadata {
  const d = src instanceof Dictionary ? src : Dictionary.from(src, METADATA_DICT_CAPACITY);
  const n = (k: string) => Number(d.getU64(k, 0n) & 0xffffffffn);
  const auth = d.get('a', 1023);
  return {
    version: n('v'),
    vendor: n('vend'),
    protocolVersion: n('pv'),
    majorVersion: n('majv'),
    minorVersion: n('minv'),
    revision: n('revv'),
    maxRules: n('mr'),
    maxCapabilities: n('mc'),
    maxCapabilityRules: n('mcr'),
    maxTags: n('mt'),
    flags: n('f'),
    rulesEngineRevision: n('revr'),
    osArch: d.getString('o', '', 127),
    ...(auth !== undefined ? { auth: new TextDecoder().decode(auth) } : {}),
  };
}

// ---- Config chunks ------------------------------------------------------------------------------------------

export interface ConfigChunk {
  readonly networkId: bigint;
  /** Dictionary bytes [offset, offset + data.length). */
  readonly data: Uint8Array;
  /** False for a legacy chunk without the trailer (then the fields below are the implied ones). */
  readonly hasTrailer: boolean;
  readonly flags: number;
  readonly updateId: bigint;
  readonly totalLength: number;
  readonly offset: number;
  /** 96 bytes (empty for a legacy chunk). */
  readonly signature: Uint8Array;
  /** The signed bytes [0, 27 + C) (a view into the decoded buffer). */
  readonly signedBytes: Uint8Array;
}

/** Builds one signed chunk. */
export function encodeConfigChunk(
  f: { networkId: bigint; data: Uint8Array; flags?: number; updateId: bigint; totalLength: number; offset: number },
  signer: Identity,
): Uint8Array {
  const w = new WireWriter(30 + f.data.length + SIGNATURE_LENGTH);
  w.u64(f.networkId).u16(f.data.length).bytes(f.data);
  w.u8(f.flags ?? 0)
    .u64(f.updateId)
    .u32(f.totalLength)
    .u32(f.offset);
  const signed = w.finish();
  const sig = signWithIdentity(signer, signed);
  const out = new Uint8Array(signed.length + 3 + SIGNATURE_LENGTH);
  out.set(signed, 0);
  out[signed.length] = SIGNATURE_TYPE_ED25519;
  out[signed.length + 1] = 0;
  out[signed.length + 2] = SIGNATURE_LENGTH;
  out.set(sig, signed.length + 3);
  return out;
}

/** Splits a serialized config into signed chunks of at most 9740 data bytes (the controller's sender). */
export function makeConfigChunks(
  networkId: bigint,
  dict: Uint8Array,
  updateId: bigint,
  signer: Identity,
  flags = 0,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < dict.length; offset += CONFIG_CHUNK_MAX_DATA) {
    const data = dict.subarray(offset, Math.min(dict.length, offset + CONFIG_CHUNK_MAX_DATA));
    out.push(encodeConfigChunk({ networkId, data, flags, updateId, totalLength: dict.length, offset }, signer));
  }
  return out;
}

/**
 * Decodes a chunk (the NETWORK_CONFIG payload, or OK(NETWORK_CONFIG_REQUEST) data after in-re verb and ID).
 * Applies the structural checks of §3.3: offset + C ≤ T, T < capacity, signature type 1 of 96 bytes.
 * `legacyPacketId` gives the implied update ID of a legacy chunk.
 */
export function decodeConfigChunk(bytes: Uint8Array, legacyPacketId = 0n): Vl2Decoded<ConfigChunk> {
  const r = new WireReader(bytes);
  const networkId = r.u64();
  const c = r.u16();
  const data = r.bytesView(c);
  if (r.failed) return vfail('too-short', 'config chunk truncated');
  if (r.remaining === 0) {
    return vok({
      networkId,
      data,
      hasTrailer: false,
      flags: 0,
      updateId: legacyPacketId,
      totalLength: c,
      offset: 0,
      signature: new Uint8Array(0),
      signedBytes: bytes.subarray(0, 10 + c),
    });
  }
  const flags = r.u8();
  const updateId = r.u64();
  const totalLength = r.u32();
  const offset = r.u32();
  const signedEnd = r.pos;
  const sigType = r.u8();
  const sigLen = r.u16();
  const signature = r.bytesView(SIGNATURE_LENGTH);
  if (r.failed) return vfail('too-short', 'config chunk trailer truncated');
  if (sigType !== SIGNATURE_TYPE_ED25519 || sigLen !== SIGNATURE_LENGTH)
    return vfail('bad-signature', 'unsupported chunk signature');
  if (offset + c > totalLength) return vfail('bad-type', 'chunk past the total length');
  if (totalLength >= CONFIG_DICT_CAPACITY) return vfail('too-long', 'config too large');
  return vok({
    networkId,
    data,
    hasTrailer: true,
    flags,
    updateId,
    totalLength,
    offset,
    signature,
    signedBytes: bytes.subarray(0, signedEnd),
  });
}

/** The controller's signature over the chunk verifies (legacy chunks carry none: false). */
export function verifyConfigChunk(chunk: ConfigChunk, controller: Identity): boolean {
  if (!chunk.hasTrailer) return false;
  return verifyWithIdentity(controller, chunk.signedBytes, chunk.signature);
}

/** Data of the OK a member sends after applying a pushed config: in-re verb ECHO (a 1.14.1 quirk). */
export function encodeConfigAck(networkId: bigint, updateId: bigint): Uint8Array {
  return new WireWriter(16).u64(networkId).u64(updateId).finish();
}

/** Decodes that ack's data (nwid, update ID). */
export function decodeConfigAck(data: Uint8Array): Vl2Decoded<{ networkId: bigint; updateId: bigint }> {
  const r = new WireReader(data);
  const networkId = r.u64();
  const updateId = r.u64();
  if (r.failed) return vfail('too-short', 'config ack truncated');
  return vok({ networkId, updateId });
}

// ---- Member-side reassembly (§3.3) --------------------------------------------------------------------------

export type ChunkResult =
  /** Stored; more chunks needed. */
  | { readonly kind: 'incomplete'; readonly fastPropagate: boolean }
  /** The last chunk of an update: the whole dictionary (T bytes). */
  | {
      readonly kind: 'complete';
      readonly dictionary: Uint8Array;
      readonly updateId: bigint;
      readonly fastPropagate: boolean;
    }
  /** The controller's identity is needed to verify (WHOIS it, retry the packet). */
  | { readonly kind: 'need-identity'; readonly address: Address }
  | {
      readonly kind: 'dropped';
      readonly reason:
        | 'malformed'
        | 'wrong-network'
        | 'duplicate'
        | 'bad-signature'
        | 'not-from-controller'
        | 'too-many-chunks';
    };

interface Slot {
  updateId: bigint;
  counter: number;
  chunkIds: Set<bigint>;
  bytes: number;
  buf: Uint8Array;
  done: boolean;
}

/**
 * Reassembles config chunks for one network, as a 1.14.1 member: three slots keyed by update ID (a new update
 * takes the slot with the lowest use count), chunk de-duplication by signature fold, per-chunk signature
 * check, completion when the byte count reaches T.
 * Pure: the caller passes the controller identity it knows (undefined → 'need-identity').
 */
export class ConfigReassembler {
  private readonly slots: Slot[] = [];

  constructor(readonly networkId: bigint) {
    for (let i = 0; i < CONFIG_REASSEMBLY_SLOTS; i++)
      this.slots.push({ updateId: 0n, counter: 0, chunkIds: new Set(), bytes: 0, buf: new Uint8Array(0), done: false });
  }

  /**
   * Offers one chunk. `source` is the VL1 sender; `packetId` the packet's ID (implied update ID of a legacy
   * chunk, accepted only from the controller).
   */
  accept(chunkBytes: Uint8Array, source: Address, packetId: bigint, controller: Identity | undefined): ChunkResult {
    const dec = decodeConfigChunk(chunkBytes, packetId);
    if (!dec.ok) return { kind: 'dropped', reason: 'malformed' };
    const ch = dec.value;
    if (ch.networkId !== this.networkId) return { kind: 'dropped', reason: 'wrong-network' };
    const controllerAddress = networkController(this.networkId);
    let slot: Slot | undefined;
    let chunkId: bigint;
    if (ch.hasTrailer) {
      chunkId = chunkIdentity(ch.signature);
      // The slot of this update, else the one used least (its own use count; the first on a tie).
      for (const s of this.slots) {
        if (s.updateId === ch.updateId) {
          slot = s;
          break;
        }
        if (!slot || s.counter < slot.counter) slot = s;
      }
      if (slot!.updateId === ch.updateId && slot!.chunkIds.has(chunkId))
        return { kind: 'dropped', reason: 'duplicate' };
      if (!controller || controller.address !== controllerAddress)
        return { kind: 'need-identity', address: controllerAddress };
      if (!verifyConfigChunk(ch, controller)) return { kind: 'dropped', reason: 'bad-signature' };
    } else {
      if (source !== controllerAddress) return { kind: 'dropped', reason: 'not-from-controller' };
      chunkId = packetId;
      for (const s of this.slots) if (!slot || s.counter < slot.counter) slot = s;
    }
    const sl = slot!;
    sl.counter++;
    if (sl.updateId !== ch.updateId) {
      sl.updateId = ch.updateId;
      sl.chunkIds = new Set();
      sl.bytes = 0;
      sl.done = false;
    }
    if (sl.chunkIds.size >= CONFIG_MAX_CHUNKS) return { kind: 'dropped', reason: 'too-many-chunks' };
    sl.chunkIds.add(chunkId);
    if (sl.buf.length < ch.totalLength) {
      const nb = new Uint8Array(ch.totalLength);
      nb.set(sl.buf.subarray(0, Math.min(sl.buf.length, ch.totalLength)));
      sl.buf = nb;
    }
    sl.buf.set(ch.data, ch.offset);
    sl.bytes += ch.data.length;
    const fastPropagate = (ch.flags & CHUNK_FLAG_FAST_PROPAGATE) !== 0;
    // Complete when the byte count reaches T (a sum, not a coverage map — as 1.14.1).
    if (sl.bytes === ch.totalLength && !sl.done) {
      sl.done = true;
      return { kind: 'complete', dictionary: sl.buf.slice(0, ch.totalLength), updateId: ch.updateId, fastPropagate };
    }
    return { kind: 'incomplete', fastPropagate };
  }
}

/** XOR-fold of signature bytes 0..15 into 8 bytes, as a bigint (the chunk's de-duplication identity). */
function chunkIdentity(sig: Uint8Array): bigint {
  const f = new Uint8Array(8);
  for (let i = 0; i < 16; i++) f[i & 7] = f[i & 7]! ^ sig[i]!;
  return new WireReader(f).u64();
}
