// Checks of a controller POST body before anything is applied: a value that ZeroTier One's controller would
// silently turn into something else that changes what the network means (rules that are not an array or do
// not parse become "drop everything", a bad route or pool vanishes, "private":"nope" makes a network public)
// is refused with a FieldError naming the field; the API answers 400 and nothing is stored.
// The coercions ZeroTier One's web UIs rely on stay accepted: booleans as "true"/"false" (and 0/1, "yes"/"no"),
// numbers as decimal strings, addresses as hex strings.

import { parseRulesJson } from '../core/vl2/rules.js';
import { parseCidr, parseIp, parseIpPort } from './ip.js';
import { isObject, type Json, type JsonObject } from './json.js';

/** A body field with a value that cannot be taken as it is. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

const BOOL_WORDS = new Set(['true', 'false', 't', 'f', 'yes', 'no', 'y', 'n', '1', '0']);

/** Rule flags: ZeroTier One reads only a leading t/T/1 there, so "yes" would silently be false. */
const RULE_BOOL_WORDS = new Set(['true', 'false', 't', 'f', '1', '0']);

function checkBool(field: string, v: Json | undefined, words = BOOL_WORDS): void {
  if (v === undefined || typeof v === 'boolean') return;
  if (typeof v === 'number' && (v === 0 || v === 1)) return;
  if (typeof v === 'string' && words.has(v.trim().toLowerCase())) return;
  throw new FieldError(field, `must be true or false, not ${JSON.stringify(v)}`);
}

function boolValue(v: Json): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  return ['true', 't', '1'].includes(String(v).trim().toLowerCase());
}

/** An unsigned integer: a number, or a decimal string, within [min, max]. */
function checkUint(field: string, v: Json | undefined, max: number, min = 0): number | undefined {
  if (v === undefined) return undefined;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) n = Number(v);
  else throw new FieldError(field, `must be a number, not ${JSON.stringify(v)}`);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new FieldError(field, `must be an integer from ${min} to ${max}`);
  return n;
}

function checkArray(field: string, v: Json | undefined): Json[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new FieldError(field, 'must be an array');
  return v;
}

const U32 = 0xffffffff;

/**
 * A rule list: an array of objects of known types with well-formed fields, read by the core's strict rule-JSON
 * parser (service/core/vl2/rules.ts parseRulesJson), which names the bad field.
 */
export function checkRules(field: string, v: Json | undefined): void {
  const list = checkArray(field, v);
  if (list === undefined) return;
  // not/or given as ZeroTier One's web UIs give them ("true", 1) are read here; the core's parser wants booleans.
  const rules = list.map((r, i) => {
    if (!isObject(r)) return r;
    const out: JsonObject = { ...r };
    for (const k of ['not', 'or'] as const) {
      if (r[k] === undefined) continue;
      checkBool(`${field}[${i}].${k}`, r[k], RULE_BOOL_WORDS);
      out[k] = boolValue(r[k]!);
    }
    return out;
  });
  const r = parseRulesJson(rules);
  if (!r.ok) {
    if (r.index < 0) throw new FieldError(field, r.reason);
    const at = `${field}[${r.index}]`;
    throw new FieldError(r.field ? `${at}.${r.field}` : at, r.reason);
  }
  r.rules.forEach((rule, i) => {
    if ('start' in rule && 'end' in rule && typeof rule.start === 'number' && typeof rule.end === 'number')
      if (rule.end < rule.start) throw new FieldError(`${field}[${i}].end`, 'is below start');
  });
}

function checkAssignMode(field: string, v: Json | undefined, modes: string[]): void {
  if (v === undefined) return;
  if (typeof v === 'string') {
    for (const m of v.split(',').filter((x) => x.length > 0))
      if (!modes.includes(m)) throw new FieldError(field, `unknown mode ${JSON.stringify(m)}`);
    return;
  }
  if (!isObject(v)) throw new FieldError(field, 'must be an object');
  for (const m of modes) checkBool(`${field}.${m}`, v[m]);
}

/** Checks a network POST body (a JSON object); throws FieldError on the first bad field. */
export function checkNetworkBody(b: JsonObject): void {
  for (const k of ['private', 'enableBroadcast']) checkBool(k, b[k]);
  checkUint('multicastLimit', b.multicastLimit, U32);
  checkUint('mtu', b.mtu, U32); // clamped to 1280-10000 as ZeroTier One does
  checkAssignMode('v4AssignMode', b.v4AssignMode, ['zt']);
  checkAssignMode('v6AssignMode', b.v6AssignMode, ['zt', '6plane', 'rfc4193']);
  checkRules('rules', b.rules);
  checkArray('routes', b.routes)?.forEach((r, i) => {
    const p = `routes[${i}]`;
    if (!isObject(r)) throw new FieldError(p, 'must be an object');
    const t = typeof r.target === 'string' && r.target.includes('/') ? parseCidr(r.target) : undefined;
    if (!t) throw new FieldError(`${p}.target`, 'must be a network in address/bits form');
    if (r.via !== undefined && r.via !== null && r.via !== '') {
      const via = typeof r.via === 'string' ? parseIp(r.via) : undefined;
      if (!via || via.family !== t.ip.family)
        throw new FieldError(`${p}.via`, `must be an IPv${t.ip.family} address (or null)`);
    }
  });
  checkArray('ipAssignmentPools', b.ipAssignmentPools)?.forEach((r, i) => {
    const p = `ipAssignmentPools[${i}]`;
    if (!isObject(r)) throw new FieldError(p, 'must be an object');
    const s = typeof r.ipRangeStart === 'string' ? parseIp(r.ipRangeStart) : undefined;
    const e = typeof r.ipRangeEnd === 'string' ? parseIp(r.ipRangeEnd) : undefined;
    if (!s) throw new FieldError(`${p}.ipRangeStart`, 'must be an IP address');
    if (!e || e.family !== s.family) throw new FieldError(`${p}.ipRangeEnd`, `must be an IPv${s.family} address`);
    if (Buffer.compare(Buffer.from(e.bytes), Buffer.from(s.bytes)) < 0)
      throw new FieldError(`${p}.ipRangeEnd`, 'is below ipRangeStart');
  });
  checkArray('capabilities', b.capabilities)?.forEach((c, i) => {
    if (!isObject(c)) throw new FieldError(`capabilities[${i}]`, 'must be an object');
    checkUint(`capabilities[${i}].id`, c.id, U32);
    checkBool(`capabilities[${i}].default`, c.default);
    checkRules(`capabilities[${i}].rules`, c.rules);
  });
  checkArray('tags', b.tags)?.forEach((t, i) => {
    if (!isObject(t)) throw new FieldError(`tags[${i}]`, 'must be an object');
    checkUint(`tags[${i}].id`, t.id, U32);
    if (t.default !== null) checkUint(`tags[${i}].default`, t.default, U32);
  });
}

/** Checks a member POST body; throws FieldError on the first bad field. */
export function checkMemberBody(b: JsonObject): void {
  for (const k of ['authorized', 'activeBridge', 'noAutoAssignIps']) checkBool(k, b[k]);
  checkArray('ipAssignments', b.ipAssignments)?.forEach((v, i) => {
    if (typeof v !== 'string' || !parseIpPort(v)) throw new FieldError(`ipAssignments[${i}]`, 'must be an IP address');
  });
  checkArray('capabilities', b.capabilities)?.forEach((c, i) => {
    checkUint(`capabilities[${i}]`, c, U32);
  });
  checkArray('tags', b.tags)?.forEach((t, i) => {
    if (!Array.isArray(t) || t.length !== 2) throw new FieldError(`tags[${i}]`, 'must be [id, value]');
    checkUint(`tags[${i}][0]`, t[0], U32);
    checkUint(`tags[${i}][1]`, t[1], U32);
  });
}
