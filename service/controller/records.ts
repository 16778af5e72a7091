// Network and member records (PROTOCOL-VL2.md §10.3, §10.4): plain JSON objects, exactly what the API
// returns and what controller.d holds. `init*` fills the defaults ZeroTier One fills; `apply*Post` merges a
// partial POST body the way its API does (only present keys change; values are coerced and re-rendered).
import { formatCidr, formatIp, parseCidr, parseIp, parseIpPort } from './ip.js';
import { clone, isObject, type Json, type JsonObject, jsonBool, jsonInt, jsonString } from './json.js';
import { normalizeRules } from './rules-json.js';
import { checkMemberBody, checkNetworkBody } from './validate.js';

export const DEFAULT_MTU = 2800;
export const MIN_MTU = 1280;
export const MAX_MTU = 10000;
/** Arrays in records are cut at this many entries. */
export const MAX_ARRAY_SIZE = 16384;

export function networkIdHex(nwid: bigint): string {
  return nwid.toString(16).padStart(16, '0');
}

export function clampMtu(v: number): number {
  return Math.max(MIN_MTU, Math.min(MAX_MTU, v));
}

/** The default rule set: accept everything. */
export function defaultRules(): Json[] {
  return [{ not: false, or: false, type: 'ACTION_ACCEPT' }];
}

/** Fills missing network fields with their defaults (creationTime = now) and sets objtype. */
export function initNetwork(n: JsonObject, now: number): JsonObject {
  const d = (k: string, v: Json) => {
    if (!Object.hasOwn(n, k)) n[k] = v;
  };
  d('private', true);
  d('creationTime', now);
  d('name', '');
  d('multicastLimit', 32);
  d('enableBroadcast', true);
  d('v4AssignMode', { zt: false });
  d('v6AssignMode', { '6plane': false, rfc4193: false, zt: false });
  d('authTokens', [null]);
  d('capabilities', []);
  d('tags', []);
  d('routes', []);
  d('ipAssignmentPools', []);
  d('mtu', DEFAULT_MTU);
  d('remoteTraceTarget', null);
  // ZeroTier One checks a misspelled key here, so the level is reset on every update that does not set it.
  n.remoteTraceLevel = 0;
  d('rulesSource', '');
  d('rules', defaultRules());
  d('dns', []);
  d('ssoEnabled', false);
  d('clientId', '');
  d('authorizationEndpoint', '');
  n.objtype = 'network';
  return n;
}

/** Fills missing member fields with their defaults and sets objtype. */
export function initMember(m: JsonObject, now: number): JsonObject {
  const d = (k: string, v: Json) => {
    if (!Object.hasOwn(m, k)) m[k] = v;
  };
  d('authorized', false);
  d('ssoExempt', false);
  d('ipAssignments', []);
  d('activeBridge', false);
  d('tags', []);
  d('capabilities', []);
  d('creationTime', now);
  d('noAutoAssignIps', false);
  d('revision', 0);
  d('lastDeauthorizedTime', 0);
  d('lastAuthorizedTime', 0);
  d('lastAuthorizedCredentialType', null);
  d('lastAuthorizedCredential', null);
  d('authenticationExpiryTime', 0);
  d('vMajor', -1);
  d('vMinor', -1);
  d('vRev', -1);
  d('vProto', -1);
  d('remoteTraceTarget', null);
  m.remoteTraceLevel = 0; // same misspelled-key reset as for networks
  m.objtype = 'member';
  return m;
}

/** Drops the computed fields that are never stored. */
export function cleanNetwork(n: JsonObject): JsonObject {
  for (const k of ['clock', 'authorizedMemberCount', 'activeMemberCount', 'totalMemberCount', 'lastModified'])
    delete n[k];
  return n;
}

export function cleanMember(m: JsonObject): JsonObject {
  for (const k of [
    'clock',
    'physicalAddr',
    'recentLog',
    'lastModified',
    'lastRequestMetaData',
    'authenticationURL',
    'authenticationClientID',
  ])
    delete m[k];
  return m;
}

/** A POST body that is not a JSON object: ZeroTier One answers 500 with the parser's complaint. */
export class BodyError extends Error {}

function bodyObject(body: unknown): JsonObject {
  if (body === undefined) throw new BodyError('empty request body');
  if (!isObject(body)) throw new BodyError('request body is not a JSON object');
  return body;
}

function traceTarget(v: unknown): Json {
  const s = jsonString(v, '');
  return s.length === 10 ? s : null;
}

/**
 * The network record after a POST: `existing` (or a new record) with defaults filled and the body's
 * fields applied, id/nwid set, computed fields dropped. Revision is left to the store.
 */
export function applyNetworkPost(
  existing: JsonObject | undefined,
  nwid: bigint,
  body: unknown,
  now: number,
): JsonObject {
  const b = bodyObject(body);
  checkNetworkBody(b);
  const n = initNetwork(existing ? clone(existing) : {}, now);
  const has = (k: string) => Object.hasOwn(b, k);
  if (has('name')) n.name = jsonString(b.name, '');
  if (has('private')) n.private = jsonBool(b.private, true);
  if (has('enableBroadcast')) n.enableBroadcast = jsonBool(b.enableBroadcast, false);
  if (has('multicastLimit')) n.multicastLimit = jsonInt(b.multicastLimit, 32);
  if (has('mtu')) n.mtu = clampMtu(jsonInt(b.mtu, DEFAULT_MTU));
  if (has('remoteTraceTarget')) n.remoteTraceTarget = traceTarget(b.remoteTraceTarget);
  if (has('remoteTraceLevel')) n.remoteTraceLevel = jsonInt(b.remoteTraceLevel, 0);

  if (has('v4AssignMode')) {
    const v = b.v4AssignMode;
    if (typeof v === 'string') n.v4AssignMode = { zt: v === 'zt' };
    else if (isObject(v)) n.v4AssignMode = { zt: jsonBool(v.zt, false) };
    else n.v4AssignMode = { zt: false };
  }

  if (has('v6AssignMode')) {
    const v = b.v6AssignMode;
    const out: JsonObject = {};
    if (typeof v === 'string') {
      const modes = new Set(v.split(','));
      out['6plane'] = modes.has('6plane');
      out.rfc4193 = modes.has('rfc4193');
      out.zt = modes.has('zt');
    } else if (isObject(v)) {
      // Only the keys given are kept: an object replaces the stored one.
      for (const k of ['6plane', 'rfc4193', 'zt']) if (Object.hasOwn(v, k)) out[k] = jsonBool(v[k], false);
    } else {
      out['6plane'] = false;
      out.rfc4193 = false;
      out.zt = false;
    }
    n.v6AssignMode = out;
  }

  if (has('routes') && Array.isArray(b.routes)) {
    const routes: Json[] = [];
    for (const r of b.routes) {
      if (!isObject(r) || typeof r.target !== 'string') continue;
      const target = parseCidr(r.target);
      if (!target) continue;
      const via = typeof r.via === 'string' ? parseIp(r.via) : undefined;
      routes.push({ target: formatCidr(target), via: via && via.family === target.ip.family ? formatIp(via) : null });
      if (routes.length >= MAX_ARRAY_SIZE) break;
    }
    n.routes = routes;
  }

  if (has('ipAssignmentPools') && Array.isArray(b.ipAssignmentPools)) {
    const pools: Json[] = [];
    for (const p of b.ipAssignmentPools) {
      if (!isObject(p) || !Object.hasOwn(p, 'ipRangeStart') || !Object.hasOwn(p, 'ipRangeEnd')) continue;
      const s = parseIp(jsonString(p.ipRangeStart, ''));
      const e = parseIp(jsonString(p.ipRangeEnd, ''));
      if (!s || !e || s.family !== e.family) continue;
      pools.push({ ipRangeEnd: formatIp(e), ipRangeStart: formatIp(s) });
      if (pools.length >= MAX_ARRAY_SIZE) break;
    }
    n.ipAssignmentPools = pools;
  }

  if (has('rules') && Array.isArray(b.rules)) n.rules = normalizeRules(b.rules).slice(0, MAX_ARRAY_SIZE);

  if (has('authTokens')) {
    const t = b.authTokens;
    if (isObject(t)) {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(t)) if (typeof v === 'number' && v >= 0) out[k] = v;
      n.authTokens = out;
    } else {
      n.authTokens = [null];
    }
  }

  if (has('capabilities') && Array.isArray(b.capabilities)) {
    const byId = new Map<number, JsonObject>();
    for (const c of b.capabilities) {
      if (!isObject(c)) continue;
      const id = jsonInt(c.id, 0);
      const rules = Array.isArray(c.rules) ? normalizeRules(c.rules).slice(0, MAX_ARRAY_SIZE) : [];
      byId.set(id, { default: jsonBool(c.default, false), id, rules });
    }
    n.capabilities = [...byId.keys()]
      .sort((x, y) => x - y)
      .slice(0, MAX_ARRAY_SIZE)
      .map((id) => byId.get(id)!);
  }

  if (has('tags') && Array.isArray(b.tags)) {
    const byId = new Map<number, JsonObject>();
    for (const t of b.tags) {
      if (!isObject(t)) continue;
      const id = jsonInt(t.id, 0);
      const dflt = t.default;
      byId.set(id, { default: dflt === null || dflt === undefined ? null : jsonInt(dflt, 0), id });
    }
    n.tags = [...byId.keys()]
      .sort((x, y) => x - y)
      .slice(0, MAX_ARRAY_SIZE)
      .map((id) => byId.get(id)!);
  }

  if (has('dns') && isObject(b.dns)) {
    const out: JsonObject = { domain: b.dns.domain ?? null };
    if (Array.isArray(b.dns.servers)) out.servers = [...b.dns.servers];
    n.dns = out;
  }

  const id = networkIdHex(nwid);
  n.id = id;
  n.nwid = id;
  return cleanNetwork(n);
}

/** The member record after a POST. `memberId` is the address as written in the path. */
export function applyMemberPost(
  existing: JsonObject | undefined,
  nwid: bigint,
  memberId: string,
  body: unknown,
  now: number,
): JsonObject {
  const b = bodyObject(body);
  checkMemberBody(b);
  const m = initMember(existing ? clone(existing) : {}, now);
  const has = (k: string) => Object.hasOwn(b, k);
  if (has('activeBridge')) m.activeBridge = jsonBool(b.activeBridge, false);
  if (has('noAutoAssignIps')) m.noAutoAssignIps = jsonBool(b.noAutoAssignIps, false);
  if (has('authenticationExpiryTime')) m.authenticationExpiryTime = jsonInt(b.authenticationExpiryTime, 0);
  if (has('name')) m.name = jsonString(b.name, '');
  if (has('remoteTraceTarget')) m.remoteTraceTarget = traceTarget(b.remoteTraceTarget);
  if (has('remoteTraceLevel')) m.remoteTraceLevel = jsonInt(b.remoteTraceLevel, 0);

  if (has('authorized')) {
    const auth = jsonBool(b.authorized, false);
    if (auth !== jsonBool(m.authorized, false)) {
      m.authorized = auth;
      if (auth) {
        m.lastAuthorizedTime = now;
        m.lastAuthorizedCredentialType = 'api';
        m.lastAuthorizedCredential = null;
      } else {
        m.lastDeauthorizedTime = now;
      }
    }
  }

  if (has('ipAssignments') && Array.isArray(b.ipAssignments)) {
    const ips: Json[] = [];
    for (const v of b.ipAssignments) {
      const p = parseIpPort(v as string); // checked by checkMemberBody
      if (!p) continue;
      ips.push(formatIp(p.ip));
      if (ips.length >= MAX_ARRAY_SIZE) break;
    }
    m.ipAssignments = ips;
  }

  if (has('tags') && Array.isArray(b.tags)) {
    const byId = new Map<number, number>();
    for (const t of b.tags) {
      if (Array.isArray(t) && t.length === 2) byId.set(jsonInt(t[0], 0) % 2 ** 32, jsonInt(t[1], 0) % 2 ** 32);
    }
    m.tags = [...byId.keys()]
      .sort((x, y) => x - y)
      .slice(0, MAX_ARRAY_SIZE)
      .map((id) => [id, byId.get(id)!]);
  }

  if (has('capabilities') && Array.isArray(b.capabilities)) {
    const ids = b.capabilities.slice(0, MAX_ARRAY_SIZE).map((c) => jsonInt(c, 0));
    m.capabilities = [...new Set(ids)].sort((x, y) => x - y);
  }

  m.id = memberId;
  m.address = memberId;
  m.nwid = networkIdHex(nwid);
  return cleanMember(m);
}
