// What the controller decides for one config request (PROTOCOL-VL2.md §4.3, §9), before anything is
// signed or encoded: a plain description of the config, computed from the network and member records.
// Building it may change the member record (new pool addresses, default tags and capabilities), exactly
// where ZeroTier One's controller changes it.

import { addressToString } from '../core/address.js';
import {
  allocateIpv4,
  allocateIpv6,
  type Cidr,
  cidrContains,
  formatIp,
  type Ip,
  ipKey,
  type Pool,
  parseCidr,
  parseIp,
  parseIpPort,
  type Route,
  rfc4193Address,
  sixPlaneAddress,
} from './ip.js';
import { isObject, type Json, type JsonObject, jsonBool, jsonInt, jsonString } from './json.js';
import { clampMtu, DEFAULT_MTU } from './records.js';

export const NETWORK_TYPE_PRIVATE = 0;
export const NETWORK_TYPE_PUBLIC = 1;
export const FLAG_ENABLE_BROADCAST = 0x02;
export const FLAG_ENABLE_IPV6_NDP_EMULATION = 0x04;
export const SPECIALIST_ACTIVE_BRIDGE = 0x0000020000000000n;
export const CREDENTIAL_TIME_DEFAULT_MAX_DELTA = 1_800_000;
export const CREDENTIAL_TIME_MIN_MAX_DELTA = 300_000;
export const CREDENTIAL_TIME_MAX_MAX_DELTA = 7_200_000;
export const MAX_NETWORK_RULES = 1024;
export const MAX_CAPABILITY_RULES = 64;
export const MAX_NETWORK_CAPABILITIES = 128;
export const MAX_NETWORK_TAGS = 128;
export const MAX_NETWORK_ROUTES = 128;
export const MAX_STATIC_IPS = 32;
export const MAX_NAME_LENGTH = 127;

export interface CapabilityPlan {
  id: number;
  /** Rules in the controller's JSON form. */
  rules: Json[];
}

export interface DnsPlan {
  domain: string;
  servers: Ip[];
}

/** A named member for the config's `ncn` key (names that resolve on the network without a DNS server). */
export interface NamePlan {
  address: number;
  name: string;
  ips: Ip[];
}

/**
 * A member's `name` as a DNS label, the way zeronsd makes host names: lower case, every run of characters
 * other than a-z, 0-9 and '-' becomes '-', no '-' at either end, at most 63 characters; '' when nothing is left.
 */
export function dnsLabel(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

export interface ConfigPlan {
  networkId: bigint;
  timestamp: number;
  credentialTimeMaxDelta: number;
  revision: number;
  issuedTo: number;
  remoteTraceTarget: number;
  remoteTraceLevel: number;
  flags: number;
  multicastLimit: number;
  type: number;
  name: string;
  mtu: number;
  /** Address | flags (u64), sorted by address. */
  specialists: bigint[];
  routes: Route[];
  /** Assigned addresses, prefix length in `bits`, in ZeroTier's order. */
  staticIps: Cidr[];
  /** Network rules, controller JSON form. */
  rules: Json[];
  capabilities: CapabilityPlan[];
  tags: { id: number; value: number }[];
  dns: DnsPlan | undefined;
  /** Named authorized members, when the network has a DNS domain. */
  names: NamePlan[];
}

export interface PlanInputs {
  network: JsonObject;
  /** Modified in place: ipAssignments, tags, capabilities. */
  member: JsonObject;
  newMember: boolean;
  networkId: bigint;
  address: number;
  now: number;
  /** Rules engine revision from the request's metadata (`revr`); 0 or missing = legacy member. */
  rulesEngineRevision: bigint;
  /** Every IP in any member's ipAssignments on this network (canonical text, see ipKey). */
  allocated: { has(ip: string): boolean };
  /** Addresses of the network's active bridges. */
  activeBridges: readonly number[];
  random64: () => bigint;
  /** Every member record of the network (for the names of the others); the requester's is `member`. */
  members?: readonly JsonObject[];
}

function parseAddressText(s: string): number {
  const v = /^[0-9a-fA-F]+/.exec(s);
  return v ? Number(BigInt(`0x${v[0]}`) & 0xffffffffffn) : 0;
}

function utf8Truncate(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return s;
  return b
    .subarray(0, max)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

/** Routes of the network record that parse, at most 128, via only when the family matches. */
export function routesOf(network: JsonObject): Route[] {
  const out: Route[] = [];
  const routes = network.routes;
  if (!Array.isArray(routes)) return out;
  for (const r of routes) {
    if (out.length >= MAX_NETWORK_ROUTES) break;
    if (!isObject(r) || typeof r.target !== 'string') continue;
    const target = parseCidr(r.target);
    if (!target) continue;
    const via = typeof r.via === 'string' ? parseIp(r.via) : undefined;
    out.push({ target, via: via && via.family === target.ip.family ? via : null });
  }
  return out;
}

function poolsOf(network: JsonObject): Pool[] {
  const out: Pool[] = [];
  const pools = network.ipAssignmentPools;
  if (!Array.isArray(pools)) return out;
  for (const p of pools) {
    if (!isObject(p)) continue;
    const start = parseIp(jsonString(p.ipRangeStart, ''));
    const end = parseIp(jsonString(p.ipRangeEnd, ''));
    if (start && end && start.family === end.family) out.push({ start, end });
  }
  return out;
}

/** Builds the plan for an authorized member; `member` gets the same changes ZeroTier One makes. */
export function planConfig(inp: PlanInputs): ConfigPlan {
  const { network, member, networkId, address, now } = inp;
  let ctmd = CREDENTIAL_TIME_DEFAULT_MAX_DELTA;
  if (typeof network.certificateTimeoutWindowSize === 'number') ctmd = Math.trunc(network.certificateTimeoutWindowSize);
  ctmd = Math.max(CREDENTIAL_TIME_MIN_MAX_DELTA, Math.min(CREDENTIAL_TIME_MAX_MAX_DELTA, ctmd));

  const plan: ConfigPlan = {
    networkId,
    timestamp: now,
    credentialTimeMaxDelta: ctmd,
    revision: jsonInt(network.revision, 0),
    issuedTo: address,
    remoteTraceTarget: 0,
    remoteTraceLevel: 0,
    flags: jsonBool(network.enableBroadcast, true) ? FLAG_ENABLE_BROADCAST : 0,
    multicastLimit: jsonInt(network.multicastLimit, 32),
    type: jsonBool(network.private, true) ? NETWORK_TYPE_PRIVATE : NETWORK_TYPE_PUBLIC,
    name: utf8Truncate(jsonString(network.name, ''), MAX_NAME_LENGTH),
    mtu: clampMtu(jsonInt(network.mtu, DEFAULT_MTU)),
    specialists: [],
    routes: [],
    staticIps: [],
    rules: [],
    capabilities: [],
    tags: [],
    dns: undefined,
    names: [],
  };

  const mrtt = jsonString(member.remoteTraceTarget, '');
  if (mrtt.length === 10) {
    plan.remoteTraceTarget = parseAddressText(mrtt);
    plan.remoteTraceLevel = jsonInt(member.remoteTraceLevel, 0);
  } else {
    const nrtt = jsonString(network.remoteTraceTarget, '');
    plan.remoteTraceTarget = nrtt.length === 10 ? parseAddressText(nrtt) : 0;
    plan.remoteTraceLevel = jsonInt(network.remoteTraceLevel, 0);
  }

  plan.specialists = [...inp.activeBridges].sort((a, b) => a - b).map((a) => BigInt(a) | SPECIALIST_ACTIVE_BRIDGE);

  if (inp.rulesEngineRevision <= 0n) {
    plan.rules = [{ not: false, or: false, type: 'ACTION_ACCEPT' }];
  } else {
    planRulesCapsTags(plan, inp);
  }

  plan.routes = routesOf(network);
  planAddresses(plan, inp);

  const dns = network.dns;
  if (isObject(dns)) {
    const servers: Ip[] = [];
    if (Array.isArray(dns.servers)) {
      for (const s of dns.servers) {
        const ip = typeof s === 'string' ? parseIp(s) : undefined;
        if (ip && servers.length < 4) servers.push(ip);
      }
    }
    plan.dns = { domain: jsonString(dns.domain, ''), servers };
  }
  if (plan.dns?.domain) plan.names = namesOf(inp);
  return plan;
}

function planRulesCapsTags(plan: ConfigPlan, inp: PlanInputs): void {
  const { network, member } = inp;
  if (Array.isArray(network.rules)) plan.rules = network.rules.filter((r) => isObject(r)).slice(0, MAX_NETWORK_RULES);

  if (!Array.isArray(member.capabilities)) member.capabilities = [];
  const memberCaps = member.capabilities as Json[];
  const capsById = new Map<number, JsonObject>();
  if (Array.isArray(network.capabilities)) {
    for (const cap of network.capabilities) {
      if (!isObject(cap)) continue;
      const id = jsonInt(cap.id, 0) % 2 ** 32;
      capsById.set(id, cap);
      if (inp.newMember && jsonBool(cap.default, false) && !memberCaps.some((c) => jsonInt(c, 0) % 2 ** 32 === id))
        memberCaps.push(id);
    }
  }
  for (const c of memberCaps) {
    const id = jsonInt(c, 0) % 2 ** 32;
    const cap = capsById.get(id);
    if (!cap || Object.keys(cap).length === 0) continue;
    const rules = Array.isArray(cap.rules) ? cap.rules.filter((r) => isObject(r)).slice(0, MAX_CAPABILITY_RULES) : [];
    plan.capabilities.push({ id, rules });
    if (plan.capabilities.length >= MAX_NETWORK_CAPABILITIES) break;
  }

  const tagsById = new Map<number, number>();
  if (!Array.isArray(member.tags)) member.tags = [];
  const memberTags = member.tags as Json[];
  for (const t of memberTags) {
    if (Array.isArray(t) && t.length === 2) tagsById.set(jsonInt(t[0], 0) % 2 ** 32, jsonInt(t[1], 0) % 2 ** 32);
  }
  if (Array.isArray(network.tags)) {
    for (const t of network.tags) {
      if (!isObject(t)) continue;
      const id = jsonInt(t.id, 0) % 2 ** 32;
      if (typeof t.default === 'number' && !tagsById.has(id)) {
        tagsById.set(id, jsonInt(t.default, 0) % 2 ** 32);
        memberTags.push([id, t.default]);
      }
    }
  }
  for (const id of [...tagsById.keys()].sort((a, b) => a - b)) {
    if (plan.tags.length >= MAX_NETWORK_TAGS) break;
    plan.tags.push({ id, value: tagsById.get(id)! });
  }
}

function planAddresses(plan: ConfigPlan, inp: PlanInputs): void {
  const { network, member, networkId, address } = inp;
  const noAuto = jsonBool(member.noAutoAssignIps, false);
  const v6 = network.v6AssignMode;
  const v4 = network.v4AssignMode;
  const push = (c: Cidr) => {
    if (plan.staticIps.length < MAX_STATIC_IPS) plan.staticIps.push(c);
  };

  if (isObject(v6) && !noAuto) {
    if (jsonBool(v6.rfc4193, false) && plan.staticIps.length < MAX_STATIC_IPS) {
      push(rfc4193Address(networkId, address));
      plan.flags |= FLAG_ENABLE_IPV6_NDP_EMULATION;
    }
    if (jsonBool(v6['6plane'], false) && plan.staticIps.length < MAX_STATIC_IPS) {
      push(sixPlaneAddress(networkId, address));
      plan.flags |= FLAG_ENABLE_IPV6_NDP_EMULATION;
    }
  }

  let haveV4 = false;
  let haveV6 = false;
  const assignments: Json[] = Array.isArray(member.ipAssignments) ? [...member.ipAssignments] : [];
  for (const a of assignments) {
    if (typeof a !== 'string') continue;
    const p = parseIpPort(a);
    if (!p) continue;
    let bits = -1;
    for (const r of plan.routes) if (cidrContains(r.target, p.ip) && r.target.bits > bits) bits = r.target.bits;
    if (bits < 0) continue;
    push({ ip: p.ip, bits });
    if (p.ip.family === 4) haveV4 = true;
    else haveV6 = true;
  }

  const pools = poolsOf(network);
  const taken = (ip: Ip) => inp.allocated.has(ipKey(ip));
  const claim = (c: Cidr | undefined): boolean => {
    if (!c) return false;
    const text = formatIp(c.ip);
    if (assignments.includes(text)) return false;
    assignments.push(text);
    member.ipAssignments = [...assignments];
    push(c);
    return true;
  };
  if (isObject(v6) && jsonBool(v6.zt, false) && !haveV6 && !noAuto)
    haveV6 = claim(allocateIpv6(pools, plan.routes, address, taken, inp.random64));
  if (isObject(v4) && jsonBool(v4.zt, false) && !haveV4 && !noAuto)
    haveV4 = claim(allocateIpv4(pools, plan.routes, address, taken));
}

/** The network's authorized members with a name and managed addresses, sorted by address. */
function namesOf(inp: PlanInputs): NamePlan[] {
  const out: NamePlan[] = [];
  const me = addressToString(inp.address);
  const records = [...(inp.members ?? []).filter((m) => m.id !== me), inp.member];
  for (const m of records) {
    if (!jsonBool(m.authorized, false)) continue;
    const name = dnsLabel(jsonString(m.name, ''));
    const address = parseAddressText(jsonString(m.id, ''));
    if (!name || !address) continue;
    const ips: Ip[] = [];
    for (const ip of Array.isArray(m.ipAssignments) ? m.ipAssignments : []) {
      const p = typeof ip === 'string' ? parseIp(ip) : undefined;
      if (p) ips.push(p);
    }
    if (ips.length > 0) out.push({ address, name, ips });
  }
  return out.sort((a, b) => a.address - b.address);
}
