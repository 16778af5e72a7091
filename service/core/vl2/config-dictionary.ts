// The NetworkConfig dictionary (PROTOCOL-VL2.md §4): what the controller sends and `networks.d/<nwid>.conf`
// holds, encoded in the 1.14.1 controller's key order (byte-exact) and decoded with the member's rules.
//
// ---- Config dictionary keys, in the order written ------------------------------------------------------------
//   v nwid ts ctmd r id tt tl f ml t n mtu C CAP TAG COO S RT I R DNS ssov ssoe [aurl aexpt | iurl ssoce sson ssos ssocid ssop]
//   RT entry:  target InetAddress (port = prefix bits) | via InetAddress (00 if none) | flags [2] | metric [2]
//   I entry:   InetAddress (port = prefix bits)
//   DNS:       domain [128] NUL-padded | 4 x InetAddress (00 if unused)
//   S entry:   u64: low 40 bits address | 0x20000000000 bridge | 0x40000000000 anchor | 0x80000000000 replicator
import type { Address } from '../address.js';
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
  type Tag,
  writeCapability,
  writeCom,
  writeCoo,
  writeTag,
} from './credentials.js';
import { CONFIG_DICT_CAPACITY, Dictionary } from './dictionary.js';
import {
  CONFIG_FLAG,
  CONFIG_VERSION,
  CONFIG_VERSION_MIN,
  DEFAULT_CREDENTIAL_TIME_MAX_DELTA,
  DEFAULT_MTU,
  DEFAULT_MULTICAST_LIMIT,
  DNS_DOMAIN_LENGTH,
  DNS_MAX_SERVERS,
  MAX_CAPABILITIES,
  MAX_COOS,
  MAX_MTU,
  MAX_NAME_LENGTH,
  MAX_ROUTES,
  MAX_SPECIALISTS,
  MAX_STATIC_IPS,
  MAX_TAGS,
  MIN_MTU,
  NetworkType,
} from './network-id.js';
import { type Vl2Decoded, vfail, vok } from './result.js';
import { decodeRules, encodeRules, MAX_RULES, type Rule } from './rules.js';

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
  };
  return vok(cfg);
}

/** Same content (compared through the canonical serialization). */
export function networkConfigEquals(a: NetworkConfig, b: NetworkConfig): boolean {
  const x = networkConfigBytes(a);
  const y = networkConfigBytes(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
