// Checks of a controller POST body before anything is applied: a value that ZeroTier One's controller would
// silently turn into something else that changes what the network means (rules that are not an array or do
// not parse become "drop everything", a bad route or pool vanishes, "private":"nope" makes a network public)
// is refused with a FieldError naming the field; the API answers 400 and nothing is stored.
// The coercions ZeroTier One's web UIs rely on stay accepted: booleans as "true"/"false" (and 0/1, "yes"/"no"),
// numbers as decimal strings, addresses as hex strings.
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

function checkBool(field: string, v: Json | undefined): void {
  if (v === undefined || typeof v === 'boolean') return;
  if (typeof v === 'number' && (v === 0 || v === 1)) return;
  if (typeof v === 'string' && BOOL_WORDS.has(v.trim().toLowerCase())) return;
  throw new FieldError(field, `must be true or false, not ${JSON.stringify(v)}`);
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

function checkHexAddress(field: string, v: Json | undefined): void {
  if (typeof v === 'string' && /^[0-9a-fA-F]{1,10}$/.test(v)) return;
  throw new FieldError(field, 'must be a ZeroTier address (10 hex digits)');
}

function checkMac(field: string, v: Json | undefined): void {
  if (typeof v === 'string' && /^[0-9a-fA-F]{2}([:-]?[0-9a-fA-F]{2}){5}$/.test(v)) return;
  throw new FieldError(field, 'must be a MAC address (e.g. 02:00:00:00:00:01)');
}

function checkIpBits(field: string, v: Json | undefined, family: 4 | 6): void {
  const c = typeof v === 'string' && v.includes('/') ? parseCidr(v) : undefined;
  if (!c || c.ip.family !== family)
    throw new FieldError(field, `must be an IPv${family} address with a prefix length (address/bits)`);
}

function checkRange(prefix: string, r: JsonObject, max: number): void {
  const start = checkUint(`${prefix}.start`, r.start, max);
  if (start === undefined) throw new FieldError(`${prefix}.start`, 'is missing');
  const end = checkUint(`${prefix}.end`, r.end, max) ?? start;
  if (end < start) throw new FieldError(`${prefix}.end`, 'is below start');
}

const U32 = 0xffffffff;

/** Rule types and the checks of their fields (ZeroTier One 1.14.1's controller JSON, PROTOCOL-VL2.md §8.4). */
const RULE_FIELDS: Record<string, (p: string, r: JsonObject) => void> = {
  ACTION_DROP: () => {},
  ACTION_ACCEPT: () => {},
  ACTION_BREAK: () => {},
  ACTION_TEE: (p, r) => actionTarget(p, r, true),
  ACTION_WATCH: (p, r) => actionTarget(p, r, true),
  ACTION_REDIRECT: (p, r) => actionTarget(p, r, false),
  MATCH_SOURCE_ZEROTIER_ADDRESS: (p, r) => checkHexAddress(`${p}.zt`, r.zt),
  MATCH_DEST_ZEROTIER_ADDRESS: (p, r) => checkHexAddress(`${p}.zt`, r.zt),
  MATCH_VLAN_ID: (p, r) => required(`${p}.vlanId`, checkUint(`${p}.vlanId`, r.vlanId, 4095)),
  MATCH_VLAN_PCP: (p, r) => required(`${p}.vlanPcp`, checkUint(`${p}.vlanPcp`, r.vlanPcp, 7)),
  MATCH_VLAN_DEI: (p, r) => required(`${p}.vlanDei`, checkUint(`${p}.vlanDei`, r.vlanDei, 1)),
  MATCH_MAC_SOURCE: (p, r) => checkMac(`${p}.mac`, r.mac),
  MATCH_MAC_DEST: (p, r) => checkMac(`${p}.mac`, r.mac),
  MATCH_IPV4_SOURCE: (p, r) => checkIpBits(`${p}.ip`, r.ip, 4),
  MATCH_IPV4_DEST: (p, r) => checkIpBits(`${p}.ip`, r.ip, 4),
  MATCH_IPV6_SOURCE: (p, r) => checkIpBits(`${p}.ip`, r.ip, 6),
  MATCH_IPV6_DEST: (p, r) => checkIpBits(`${p}.ip`, r.ip, 6),
  MATCH_IP_TOS: (p, r) => {
    checkUint(`${p}.mask`, r.mask, 255);
    checkRange(p, r, 255);
  },
  MATCH_IP_PROTOCOL: (p, r) => required(`${p}.ipProtocol`, checkUint(`${p}.ipProtocol`, r.ipProtocol, 255)),
  MATCH_ETHERTYPE: (p, r) => required(`${p}.etherType`, checkUint(`${p}.etherType`, r.etherType, 0xffff)),
  MATCH_ICMP: (p, r) => {
    required(`${p}.icmpType`, checkUint(`${p}.icmpType`, r.icmpType, 255));
    if (r.icmpCode !== null) checkUint(`${p}.icmpCode`, r.icmpCode, 255);
  },
  MATCH_IP_SOURCE_PORT_RANGE: (p, r) => checkRange(p, r, 0xffff),
  MATCH_IP_DEST_PORT_RANGE: (p, r) => checkRange(p, r, 0xffff),
  MATCH_FRAME_SIZE_RANGE: (p, r) => checkRange(p, r, 0xffff),
  MATCH_CHARACTERISTICS: (p, r) => {
    const m = r.mask;
    if (typeof m === 'string' && /^(0x)?[0-9a-fA-F]{1,16}$/.test(m)) return;
    if (typeof m === 'number' && Number.isSafeInteger(m) && m >= 0) return;
    throw new FieldError(`${p}.mask`, 'must be a 64-bit mask (hex string or number)');
  },
  MATCH_RANDOM: (p, r) => required(`${p}.probability`, checkUint(`${p}.probability`, r.probability, U32)),
  MATCH_TAGS_DIFFERENCE: tagFields,
  MATCH_TAGS_BITWISE_AND: tagFields,
  MATCH_TAGS_BITWISE_OR: tagFields,
  MATCH_TAGS_BITWISE_XOR: tagFields,
  MATCH_TAGS_EQUAL: tagFields,
  MATCH_TAG_SENDER: tagFields,
  MATCH_TAG_RECEIVER: tagFields,
};

function required(field: string, v: number | undefined): void {
  if (v === undefined) throw new FieldError(field, 'is missing');
}

function actionTarget(p: string, r: JsonObject, hasLength: boolean): void {
  checkHexAddress(`${p}.address`, r.address);
  checkUint(`${p}.flags`, r.flags, U32);
  if (hasLength) checkUint(`${p}.length`, r.length, 0xffff);
}

function tagFields(p: string, r: JsonObject): void {
  required(`${p}.id`, checkUint(`${p}.id`, r.id, U32));
  required(`${p}.value`, checkUint(`${p}.value`, r.value, U32));
}

/** A rule list: an array of objects of known types with well-formed fields. */
export function checkRules(field: string, v: Json | undefined): void {
  const rules = checkArray(field, v);
  if (!rules) return;
  rules.forEach((r, i) => {
    const p = `${field}[${i}]`;
    if (!isObject(r)) throw new FieldError(p, 'must be an object');
    if (typeof r.type !== 'string') throw new FieldError(`${p}.type`, 'is missing');
    const check = RULE_FIELDS[r.type];
    if (!check) throw new FieldError(`${p}.type`, `unknown rule type ${JSON.stringify(r.type)}`);
    checkBool(`${p}.not`, r.not);
    checkBool(`${p}.or`, r.or);
    check(p, r);
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
