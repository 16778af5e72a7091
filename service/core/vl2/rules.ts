// Network rules (PROTOCOL-VL2.md §8): the binary encoding carried in configs (key `R`) and capabilities,
// the controller's JSON representation, and the evaluation engine run on every frame.
//
// Exported API (stable):
//   RULE_TYPES (name → code), ruleTypeName(code), type Rule (tagged union on `type`), MAX_RULES
//   decodeRules(bytes, maxRules?) → Vl2Decoded<Rule[]>      readRules(r: WireReader, count) → Rule[] | undefined
//   encodeRules(rules) → Uint8Array                          writeRules(w: WireWriter, rules)
//   ruleToJson(rule) → object (keys alphabetical)            ruleFromJson(json) → Rule | undefined
//   rulesToJson(rules), rulesFromJson(json)                  (invalid entries dropped, as the controller does)
//   CHARACTERISTICS (bits), MAX_CAPABILITY_RULES, ruleCode(rule)
//   evaluateRules(rules, frame: RuleFrame, env: RuleEnv) → RuleResult { verdict, ruleIndex, redirectTo, copyTo, … }
//   filterFrame(rules, capabilities, frame, env) → FilterResult { accept, dropReason, capabilityId, … }
//   compileRules(rules) → CompiledRules (optional; evaluateRules caches per array)
//   — see the evaluation section below.
//
// Binary layout of a rule list (a concatenation; no count — the count travels beside it where needed):
//
//   +--------+--------+---------------------+
//   | type   | len L  | payload (L bytes)   |   type: bits 0-5 rule type, 0x40 OR, 0x80 NOT
//   +--------+--------+---------------------+
//
//   payloads (fields at fixed offsets from the start of the payload, big-endian):
//     0 DROP, 1 ACCEPT, 5 BREAK, 6 PRIORITY     L=0
//     2 TEE, 3 WATCH, 4 REDIRECT                L=14  [8] address (low 40 bits) [4] flags [2] length
//     24/25 SOURCE/DEST_ZEROTIER_ADDRESS        L=5   [5] address
//     26 VLAN_ID                                 L=2   [2]
//     27 VLAN_PCP, 28 VLAN_DEI                   L=1   [1]
//     29/30 MAC_SOURCE/MAC_DEST                  L=6   [6]
//     31/32 IPV4_SOURCE/DEST                     L=5   [4] ip [1] bits
//     33/34 IPV6_SOURCE/DEST                     L=17  [16] ip [1] bits
//     35 IP_TOS                                  L=3   [1] mask [1] start [1] end
//     36 IP_PROTOCOL                             L=1   [1]
//     37 ETHERTYPE                               L=2   [2]
//     38 ICMP                                    L=3   [1] type [1] code [1] flags (0x01 = code checked)
//     39/40 IP_SOURCE/DEST_PORT_RANGE            L=4   [2] start [2] end
//     41 CHARACTERISTICS                         L=8   [8] mask
//     42 FRAME_SIZE_RANGE                        L=4   [2] start [2] end
//     43 RANDOM                                  L=4   [4] probability
//     44..48 TAGS_DIFFERENCE/AND/OR/XOR/EQUAL    L=8   [4] id [4] value
//     49/50 TAG_SENDER/TAG_RECEIVER              L=8   [4] id [4] value
//     51 INTEGER_RANGE                           L=19  [8] start [8] end (absolute) [2] index [1] format
//     anything else                              any L, payload kept as is
//   As in ZeroTier One, fields are read at their fixed offsets even when L is shorter (a rule list whose
//   fields run past the end of the buffer is refused) and the reader then advances by L.
import { formatInetAddress, parseInetAddress } from '../inet-address.js';
import { readAddress, readU32, readU64, type WireReader, WireWriter } from '../wire.js';
import { parseHexU64 } from './dictionary.js';
import { type Vl2Decoded, vfail, vok } from './result.js';

export const MAX_RULES = 1024;
export const MAX_CAPABILITY_RULES = 64;

export const RULE_TYPES = {
  ACTION_DROP: 0,
  ACTION_ACCEPT: 1,
  ACTION_TEE: 2,
  ACTION_WATCH: 3,
  ACTION_REDIRECT: 4,
  ACTION_BREAK: 5,
  ACTION_PRIORITY: 6,
  MATCH_SOURCE_ZEROTIER_ADDRESS: 24,
  MATCH_DEST_ZEROTIER_ADDRESS: 25,
  MATCH_VLAN_ID: 26,
  MATCH_VLAN_PCP: 27,
  MATCH_VLAN_DEI: 28,
  MATCH_MAC_SOURCE: 29,
  MATCH_MAC_DEST: 30,
  MATCH_IPV4_SOURCE: 31,
  MATCH_IPV4_DEST: 32,
  MATCH_IPV6_SOURCE: 33,
  MATCH_IPV6_DEST: 34,
  MATCH_IP_TOS: 35,
  MATCH_IP_PROTOCOL: 36,
  MATCH_ETHERTYPE: 37,
  MATCH_ICMP: 38,
  MATCH_IP_SOURCE_PORT_RANGE: 39,
  MATCH_IP_DEST_PORT_RANGE: 40,
  MATCH_CHARACTERISTICS: 41,
  MATCH_FRAME_SIZE_RANGE: 42,
  MATCH_RANDOM: 43,
  MATCH_TAGS_DIFFERENCE: 44,
  MATCH_TAGS_BITWISE_AND: 45,
  MATCH_TAGS_BITWISE_OR: 46,
  MATCH_TAGS_BITWISE_XOR: 47,
  MATCH_TAGS_EQUAL: 48,
  MATCH_TAG_SENDER: 49,
  MATCH_TAG_RECEIVER: 50,
  MATCH_INTEGER_RANGE: 51,
} as const;
export type RuleTypeName = keyof typeof RULE_TYPES;

const NAMES: string[] = [];
for (const [n, c] of Object.entries(RULE_TYPES)) NAMES[c] = n;

/** The type name of a code, or undefined for codes without one. */
export function ruleTypeName(code: number): RuleTypeName | undefined {
  return NAMES[code] as RuleTypeName | undefined;
}

export const RULE_NOT = 0x80;
export const RULE_OR = 0x40;
export const RULE_TYPE_MASK = 0x3f;

/** Characteristics bits (MATCH_CHARACTERISTICS). */
export const CHARACTERISTICS = {
  INBOUND: 0x8000000000000000n,
  MULTICAST: 0x4000000000000000n,
  BROADCAST: 0x2000000000000000n,
  SENDER_IP_AUTHENTICATED: 0x1000000000000000n,
  SENDER_MAC_AUTHENTICATED: 0x0800000000000000n,
  TCP_FIN: 0x001n,
  TCP_SYN: 0x002n,
  TCP_RST: 0x004n,
  TCP_PSH: 0x008n,
  TCP_ACK: 0x010n,
  TCP_URG: 0x020n,
  TCP_ECE: 0x040n,
  TCP_CWR: 0x080n,
  TCP_NS: 0x100n,
} as const;

interface Flags {
  /** NOT bit (0x80). */
  readonly not: boolean;
  /** OR bit (0x40). */
  readonly or: boolean;
}

export type SimpleActionType = 'ACTION_DROP' | 'ACTION_ACCEPT' | 'ACTION_BREAK' | 'ACTION_PRIORITY';
export type TargetActionType = 'ACTION_TEE' | 'ACTION_WATCH' | 'ACTION_REDIRECT';
export type TagMatchType =
  | 'MATCH_TAGS_DIFFERENCE'
  | 'MATCH_TAGS_BITWISE_AND'
  | 'MATCH_TAGS_BITWISE_OR'
  | 'MATCH_TAGS_BITWISE_XOR'
  | 'MATCH_TAGS_EQUAL'
  | 'MATCH_TAG_SENDER'
  | 'MATCH_TAG_RECEIVER';
export type RangeMatchType = 'MATCH_IP_SOURCE_PORT_RANGE' | 'MATCH_IP_DEST_PORT_RANGE' | 'MATCH_FRAME_SIZE_RANGE';

export type Rule = Flags &
  (
    | { readonly type: SimpleActionType }
    | { readonly type: TargetActionType; readonly address: number; readonly flags: number; readonly length: number }
    | { readonly type: 'MATCH_SOURCE_ZEROTIER_ADDRESS' | 'MATCH_DEST_ZEROTIER_ADDRESS'; readonly zt: number }
    | { readonly type: 'MATCH_VLAN_ID'; readonly vlanId: number }
    | { readonly type: 'MATCH_VLAN_PCP'; readonly vlanPcp: number }
    | { readonly type: 'MATCH_VLAN_DEI'; readonly vlanDei: number }
    /** mac: 48-bit number. */
    | { readonly type: 'MATCH_MAC_SOURCE' | 'MATCH_MAC_DEST'; readonly mac: number }
    /** ip: 4 or 16 bytes. */
    | {
        readonly type: 'MATCH_IPV4_SOURCE' | 'MATCH_IPV4_DEST' | 'MATCH_IPV6_SOURCE' | 'MATCH_IPV6_DEST';
        readonly ip: Uint8Array;
        readonly bits: number;
      }
    | { readonly type: 'MATCH_IP_TOS'; readonly mask: number; readonly start: number; readonly end: number }
    | { readonly type: 'MATCH_IP_PROTOCOL'; readonly ipProtocol: number }
    | { readonly type: 'MATCH_ETHERTYPE'; readonly etherType: number }
    /** icmpCode null = any code. */
    | { readonly type: 'MATCH_ICMP'; readonly icmpType: number; readonly icmpCode: number | null }
    | { readonly type: RangeMatchType; readonly start: number; readonly end: number }
    | { readonly type: 'MATCH_CHARACTERISTICS'; readonly mask: bigint }
    | { readonly type: 'MATCH_RANDOM'; readonly probability: number }
    | { readonly type: TagMatchType; readonly id: number; readonly value: number }
    | {
        readonly type: 'MATCH_INTEGER_RANGE';
        readonly start: bigint;
        readonly end: bigint;
        readonly idx: number;
        readonly format: number;
      }
    /** Any other code (7-15: no-op actions; 16-23, 52-63: unknown matches); payload kept. */
    | { readonly type: 'UNKNOWN'; readonly code: number; readonly payload: Uint8Array }
  );

/** Numeric code of a rule. */
export function ruleCode(r: Rule): number {
  return r.type === 'UNKNOWN' ? r.code & RULE_TYPE_MASK : RULE_TYPES[r.type];
}

// ---- Binary ------------------------------------------------------------------------------------------------

/** Bytes each known type needs at its fixed offsets (what the canonical encoding writes as L). */
const FIELD_LENGTH: number[] = new Array(64).fill(-1);
for (const c of [0, 1, 5, 6]) FIELD_LENGTH[c] = 0;
for (const c of [2, 3, 4]) FIELD_LENGTH[c] = 14;
FIELD_LENGTH[24] = 5;
FIELD_LENGTH[25] = 5;
FIELD_LENGTH[26] = 2;
FIELD_LENGTH[27] = 1;
FIELD_LENGTH[28] = 1;
FIELD_LENGTH[29] = 6;
FIELD_LENGTH[30] = 6;
FIELD_LENGTH[31] = 5;
FIELD_LENGTH[32] = 5;
FIELD_LENGTH[33] = 17;
FIELD_LENGTH[34] = 17;
FIELD_LENGTH[35] = 3;
FIELD_LENGTH[36] = 1;
FIELD_LENGTH[37] = 2;
FIELD_LENGTH[38] = 3;
FIELD_LENGTH[39] = 4;
FIELD_LENGTH[40] = 4;
FIELD_LENGTH[41] = 8;
FIELD_LENGTH[42] = 4;
FIELD_LENGTH[43] = 4;
for (let c = 44; c <= 50; c++) FIELD_LENGTH[c] = 8;
FIELD_LENGTH[51] = 19;

function readMac(b: Uint8Array, p: number): number {
  return b[p]! * 0x10000000000 + readAddress(b, p + 1);
}

/** Decodes one rule whose type byte is at `p`; undefined if its fields run past `end`. */
function decodeOne(b: Uint8Array, p: number, end: number): { rule: Rule; next: number } | undefined {
  if (p + 2 > end) return undefined;
  const tb = b[p]!;
  const L = b[p + 1]!;
  const f = p + 2;
  const code = tb & RULE_TYPE_MASK;
  const not = (tb & RULE_NOT) !== 0;
  const or = (tb & RULE_OR) !== 0;
  const need = FIELD_LENGTH[code]!;
  const next = f + L;
  if (f + Math.max(need, 0) > end || next > end) return undefined;
  const name = NAMES[code] as RuleTypeName | undefined;
  let rule: Rule;
  switch (code) {
    case 0:
    case 1:
    case 5:
    case 6:
      rule = { type: name as SimpleActionType, not, or };
      break;
    case 2:
    case 3:
    case 4:
      rule = {
        type: name as TargetActionType,
        not,
        or,
        address: Number(readU64(b, f) & 0xffffffffffn),
        flags: readU32(b, f + 8),
        length: (b[f + 12]! << 8) | b[f + 13]!,
      };
      break;
    case 24:
    case 25:
      rule = {
        type: name as 'MATCH_SOURCE_ZEROTIER_ADDRESS' | 'MATCH_DEST_ZEROTIER_ADDRESS',
        not,
        or,
        zt: readAddress(b, f),
      };
      break;
    case 26:
      rule = { type: 'MATCH_VLAN_ID', not, or, vlanId: (b[f]! << 8) | b[f + 1]! };
      break;
    case 27:
      rule = { type: 'MATCH_VLAN_PCP', not, or, vlanPcp: b[f]! };
      break;
    case 28:
      rule = { type: 'MATCH_VLAN_DEI', not, or, vlanDei: b[f]! };
      break;
    case 29:
    case 30:
      rule = { type: name as 'MATCH_MAC_SOURCE' | 'MATCH_MAC_DEST', not, or, mac: readMac(b, f) };
      break;
    case 31:
    case 32:
      rule = {
        type: name as 'MATCH_IPV4_SOURCE' | 'MATCH_IPV4_DEST',
        not,
        or,
        ip: b.slice(f, f + 4),
        bits: b[f + 4]!,
      };
      break;
    case 33:
    case 34:
      rule = {
        type: name as 'MATCH_IPV6_SOURCE' | 'MATCH_IPV6_DEST',
        not,
        or,
        ip: b.slice(f, f + 16),
        bits: b[f + 16]!,
      };
      break;
    case 35:
      rule = { type: 'MATCH_IP_TOS', not, or, mask: b[f]!, start: b[f + 1]!, end: b[f + 2]! };
      break;
    case 36:
      rule = { type: 'MATCH_IP_PROTOCOL', not, or, ipProtocol: b[f]! };
      break;
    case 37:
      rule = { type: 'MATCH_ETHERTYPE', not, or, etherType: (b[f]! << 8) | b[f + 1]! };
      break;
    case 38:
      rule = {
        type: 'MATCH_ICMP',
        not,
        or,
        icmpType: b[f]!,
        icmpCode: (b[f + 2]! & 0x01) !== 0 ? b[f + 1]! : null,
      };
      break;
    case 39:
    case 40:
    case 42:
      rule = {
        type: name as RangeMatchType,
        not,
        or,
        start: (b[f]! << 8) | b[f + 1]!,
        end: (b[f + 2]! << 8) | b[f + 3]!,
      };
      break;
    case 41:
      rule = { type: 'MATCH_CHARACTERISTICS', not, or, mask: readU64(b, f) };
      break;
    case 43:
      rule = { type: 'MATCH_RANDOM', not, or, probability: readU32(b, f) };
      break;
    case 44:
    case 45:
    case 46:
    case 47:
    case 48:
    case 49:
    case 50:
      rule = { type: name as TagMatchType, not, or, id: readU32(b, f), value: readU32(b, f + 4) };
      break;
    case 51:
      rule = {
        type: 'MATCH_INTEGER_RANGE',
        not,
        or,
        start: readU64(b, f),
        end: readU64(b, f + 8),
        idx: (b[f + 16]! << 8) | b[f + 17]!,
        format: b[f + 18]!,
      };
      break;
    default:
      rule = { type: 'UNKNOWN', not, or, code, payload: b.slice(f, next) };
  }
  return { rule, next };
}

/**
 * Decodes a whole rule list (config key `R`). Fails if a rule's type/length or fixed fields run past the end;
 * like 1.14.1, stops after maxRules rules and ignores the rest. Never throws.
 */
export function decodeRules(bytes: Uint8Array, maxRules = MAX_RULES): Vl2Decoded<Rule[]> {
  const out: Rule[] = [];
  let p = 0;
  while (p < bytes.length) {
    if (out.length >= maxRules) break;
    const r = decodeOne(bytes, p, bytes.length);
    if (!r) return vfail('too-short', `rule ${out.length} truncated`);
    out.push(r.rule);
    p = r.next;
  }
  return vok(out);
}

/** Reads exactly `count` rules at the reader's cursor (inside capabilities); undefined (reader failed) if malformed. */
export function readRules(r: WireReader, count: number): Rule[] | undefined {
  const out: Rule[] = [];
  for (let i = 0; i < count; i++) {
    const d = decodeOne(r.bytes, r.pos, r.end);
    if (!d) {
      r.failed = true;
      r.pos = r.end;
      return undefined;
    }
    out.push(d.rule);
    r.pos = d.next;
  }
  return out;
}

function writeMac(w: WireWriter, mac: number): void {
  w.u8(Math.floor(mac / 0x10000000000) & 0xff);
  w.address(mac % 0x10000000000);
}

/** Appends the binary form of each rule. */
export function writeRules(w: WireWriter, rules: readonly Rule[]): void {
  for (const r of rules) {
    const code = ruleCode(r);
    w.u8(code | (r.not ? RULE_NOT : 0) | (r.or ? RULE_OR : 0));
    switch (r.type) {
      case 'ACTION_DROP':
      case 'ACTION_ACCEPT':
      case 'ACTION_BREAK':
      case 'ACTION_PRIORITY':
        w.u8(0);
        break;
      case 'ACTION_TEE':
      case 'ACTION_WATCH':
      case 'ACTION_REDIRECT':
        w.u8(14).u64(BigInt(r.address)).u32(r.flags).u16(r.length);
        break;
      case 'MATCH_SOURCE_ZEROTIER_ADDRESS':
      case 'MATCH_DEST_ZEROTIER_ADDRESS':
        w.u8(5).address(r.zt);
        break;
      case 'MATCH_VLAN_ID':
        w.u8(2).u16(r.vlanId);
        break;
      case 'MATCH_VLAN_PCP':
        w.u8(1).u8(r.vlanPcp);
        break;
      case 'MATCH_VLAN_DEI':
        w.u8(1).u8(r.vlanDei);
        break;
      case 'MATCH_MAC_SOURCE':
      case 'MATCH_MAC_DEST':
        w.u8(6);
        writeMac(w, r.mac);
        break;
      case 'MATCH_IPV4_SOURCE':
      case 'MATCH_IPV4_DEST': {
        const ip = new Uint8Array(4);
        ip.set(r.ip.subarray(0, 4));
        w.u8(5).bytes(ip).u8(r.bits);
        break;
      }
      case 'MATCH_IPV6_SOURCE':
      case 'MATCH_IPV6_DEST': {
        const ip = new Uint8Array(16);
        ip.set(r.ip.subarray(0, 16));
        w.u8(17).bytes(ip).u8(r.bits);
        break;
      }
      case 'MATCH_IP_TOS':
        w.u8(3).u8(r.mask).u8(r.start).u8(r.end);
        break;
      case 'MATCH_IP_PROTOCOL':
        w.u8(1).u8(r.ipProtocol);
        break;
      case 'MATCH_ETHERTYPE':
        w.u8(2).u16(r.etherType);
        break;
      case 'MATCH_ICMP':
        w.u8(3)
          .u8(r.icmpType)
          .u8(r.icmpCode ?? 0)
          .u8(r.icmpCode === null ? 0 : 1);
        break;
      case 'MATCH_IP_SOURCE_PORT_RANGE':
      case 'MATCH_IP_DEST_PORT_RANGE':
      case 'MATCH_FRAME_SIZE_RANGE':
        w.u8(4).u16(r.start).u16(r.end);
        break;
      case 'MATCH_CHARACTERISTICS':
        w.u8(8).u64(r.mask);
        break;
      case 'MATCH_RANDOM':
        w.u8(4).u32(r.probability);
        break;
      case 'MATCH_TAGS_DIFFERENCE':
      case 'MATCH_TAGS_BITWISE_AND':
      case 'MATCH_TAGS_BITWISE_OR':
      case 'MATCH_TAGS_BITWISE_XOR':
      case 'MATCH_TAGS_EQUAL':
      case 'MATCH_TAG_SENDER':
      case 'MATCH_TAG_RECEIVER':
        w.u8(8).u32(r.id).u32(r.value);
        break;
      case 'MATCH_INTEGER_RANGE':
        w.u8(19).u64(r.start).u64(r.end).u16(r.idx).u8(r.format);
        break;
      case 'UNKNOWN':
        w.u8(Math.min(255, r.payload.length)).bytes(r.payload.subarray(0, 255));
        break;
    }
  }
}

export function encodeRules(rules: readonly Rule[]): Uint8Array {
  const w = new WireWriter(rules.length * 8 + 16);
  writeRules(w, rules);
  return w.finish();
}

// ---- JSON (controller API, §8.4) -----------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function macToString(mac: number): string {
  const parts: string[] = [];
  for (let i = 5; i >= 0; i--) parts.push((Math.floor(mac / 2 ** (8 * i)) & 0xff).toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** `ip/bits` as the controller prints it (inet_ntop text, the prefix length in the port position). */
function ipToString(ip: Uint8Array, bits: number): string {
  return formatInetAddress({ family: ip.length === 4 ? 4 : 6, ip, port: bits });
}

/** The JSON object the controller renders for a rule (keys in alphabetical order). */
export function ruleToJson(r: Rule): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  const isAction = r.type.startsWith('ACTION_') || (r.type === 'UNKNOWN' && r.code < 16);
  const m = (extra: { [k: string]: Json }) => {
    const all: { [k: string]: Json } = { ...extra, not: r.not, or: r.or, type: r.type };
    for (const k of Object.keys(all).sort()) o[k] = all[k]!;
    return o;
  };
  switch (r.type) {
    case 'ACTION_DROP':
    case 'ACTION_ACCEPT':
    case 'ACTION_BREAK':
    case 'ACTION_PRIORITY':
      return { type: r.type };
    case 'ACTION_TEE':
    case 'ACTION_WATCH':
      return { address: r.address.toString(16).padStart(10, '0'), flags: r.flags, length: r.length, type: r.type };
    case 'ACTION_REDIRECT':
      return { address: r.address.toString(16).padStart(10, '0'), flags: r.flags, type: r.type };
    case 'MATCH_SOURCE_ZEROTIER_ADDRESS':
    case 'MATCH_DEST_ZEROTIER_ADDRESS':
      return m({ zt: r.zt.toString(16).padStart(10, '0') });
    case 'MATCH_VLAN_ID':
      return m({ vlanId: r.vlanId });
    case 'MATCH_VLAN_PCP':
      return m({ vlanPcp: r.vlanPcp });
    case 'MATCH_VLAN_DEI':
      return m({ vlanDei: r.vlanDei });
    case 'MATCH_MAC_SOURCE':
    case 'MATCH_MAC_DEST':
      return m({ mac: macToString(r.mac) });
    case 'MATCH_IPV4_SOURCE':
    case 'MATCH_IPV4_DEST':
    case 'MATCH_IPV6_SOURCE':
    case 'MATCH_IPV6_DEST':
      return m({ ip: ipToString(r.ip, r.bits) });
    case 'MATCH_IP_TOS':
      return m({ end: r.end, mask: r.mask, start: r.start });
    case 'MATCH_IP_PROTOCOL':
      return m({ ipProtocol: r.ipProtocol });
    case 'MATCH_ETHERTYPE':
      return m({ etherType: r.etherType });
    case 'MATCH_ICMP':
      return m({ icmpCode: r.icmpCode, icmpType: r.icmpType });
    case 'MATCH_IP_SOURCE_PORT_RANGE':
    case 'MATCH_IP_DEST_PORT_RANGE':
    case 'MATCH_FRAME_SIZE_RANGE':
      return m({ end: r.end, start: r.start });
    case 'MATCH_CHARACTERISTICS':
      return m({ mask: r.mask.toString(16).padStart(16, '0') });
    case 'MATCH_RANDOM':
      return m({ probability: r.probability });
    case 'MATCH_TAGS_DIFFERENCE':
    case 'MATCH_TAGS_BITWISE_AND':
    case 'MATCH_TAGS_BITWISE_OR':
    case 'MATCH_TAGS_BITWISE_XOR':
    case 'MATCH_TAGS_EQUAL':
    case 'MATCH_TAG_SENDER':
    case 'MATCH_TAG_RECEIVER':
      return m({ id: r.id, value: r.value });
    case 'MATCH_INTEGER_RANGE': {
      // Rendered as 1.14.1 does: type "INTEGER_RANGE", 16-hex-digit start/end (end through its 32-bit span).
      const end = BigInt.asUintN(64, r.start + BigInt.asUintN(32, r.end - r.start));
      const all: { [k: string]: Json } = {
        bits: (r.format & 63) + 1,
        end: end.toString(16).padStart(16, '0'),
        idx: r.idx,
        little: (r.format & 0x80) !== 0,
        not: r.not,
        or: r.or,
        start: r.start.toString(16).padStart(16, '0'),
        type: 'INTEGER_RANGE',
      };
      return all;
    }
    case 'UNKNOWN':
      return isAction ? { type: 'UNKNOWN' } : m({});
  }
}

// The controller's JSON reading is lenient (1.14.1 _parseRule with OSUtils::json*): numbers may be JSON numbers,
// decimal strings (strtoull) or booleans; hex fields go through a string and strtoull base 16; a field that does
// not parse reads as 0 (an unparseable IP as 0.0.0.0/0 — which matches everything, as in 1.14.1).

/** strtoull(s, 10) as a JS number (saturating past 2^53 is irrelevant for the masked fields). */
function decimalPrefix(s: string): number {
  const m = /^\s*[+]?(\d+)/.exec(s);
  if (m) return Number(m[1]!);
  const neg = /^\s*-(\d+)/.exec(s);
  return neg ? Number(BigInt.asUintN(64, -BigInt(neg[1]!)) & 0xffffffffn) : 0;
}

/** OSUtils::jsonInt: number, decimal string or boolean; dfl otherwise. */
function num(v: Json | undefined, dfl = 0): number {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : dfl;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return decimalPrefix(v);
  return dfl;
}

/** OSUtils::jsonBool. */
function bool(v: Json | undefined): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v > 0;
  if (typeof v === 'string') return v[0] === 't' || v[0] === 'T' || v[0] === '1';
  return false;
}

/** OSUtils::jsonString (numbers as decimal text, booleans as 1/0), then strtoull base 16, low 40 bits. */
function hexAddr(v: Json | undefined): number {
  const s =
    typeof v === 'string'
      ? v
      : typeof v === 'number'
        ? String(Math.trunc(Math.abs(v)))
        : typeof v === 'boolean'
          ? v
            ? '1'
            : '0'
          : '0';
  return Number(parseHexU64(s) & 0xffffffffffn);
}

/** Separators '-' and ':' removed, then pairs of hex digits (a non-hex digit counts as 0), first 6 bytes. */
function parseMac(v: Json | undefined): number {
  const s = (typeof v === 'string' ? v : '0').replace(/[-:]/g, '');
  const nib = (c: string | undefined) => {
    const x = c === undefined ? -1 : Number.parseInt(c, 16);
    return Number.isNaN(x) || x < 0 ? 0 : x;
  };
  let mac = 0;
  let n = 0;
  for (let i = 0; n < 6 && i + 1 < s.length; i += 2, n++) mac = mac * 256 + ((nib(s[i]) << 4) | nib(s[i + 1]));
  for (; n < 6; n++) mac *= 256;
  return mac;
}

/**
 * InetAddress::fromString as the controller applies it to a rule: `/bits` read as a decimal port (absent → 0),
 * bits clamped to the family's maximum; an address of the other family or one that does not parse gives the
 * zero address.
 */
function parseIpBits(v: Json | undefined, family: 4 | 6): { ip: Uint8Array; bits: number } {
  const s = typeof v === 'string' ? v : family === 4 ? '0.0.0.0' : '::0';
  const zero = { ip: new Uint8Array(family === 4 ? 4 : 16), bits: 0 };
  if (s.length >= 64) return zero;
  const slash = s.indexOf('/');
  const host = slash < 0 ? s : s.slice(0, slash);
  const port = slash < 0 ? 0 : decimalPrefix(s.slice(slash + 1)) & 0xffff;
  const isV6 = host.includes(':');
  if (!isV6 && !host.includes('.')) return zero;
  const bits = Math.min(port & 0xff, family === 4 ? 32 : 128);
  const a = parseInetAddress(`${host}/0`);
  if ((isV6 ? 6 : 4) !== family || !a || a.family !== family) return { ip: zero.ip, bits };
  return { ip: a.ip, bits };
}

/** Parses one rule object as the 1.14.1 controller does; undefined for entries it drops. */
export function ruleFromJson(j: unknown): Rule | undefined {
  if (typeof j !== 'object' || j === null || Array.isArray(j)) return undefined;
  const o = j as { [k: string]: Json };
  const type = typeof o.type === 'string' ? o.type : typeof o.type === 'number' ? String(o.type) : '';
  const not = bool(o.not);
  const or = bool(o.or);
  switch (type) {
    case 'ACTION_DROP':
    case 'ACTION_ACCEPT':
    case 'ACTION_BREAK':
      // The controller re-renders actions without NOT/OR, so a stored action never has them (§8.4).
      return { type, not: false, or: false };
    case 'ACTION_TEE':
    case 'ACTION_WATCH':
    case 'ACTION_REDIRECT':
      return {
        type,
        not: false,
        or: false,
        address: hexAddr(o.address),
        flags: num(o.flags) >>> 0,
        length: type === 'ACTION_REDIRECT' ? 0 : num(o.length) & 0xffff,
      };
    case 'MATCH_SOURCE_ZEROTIER_ADDRESS':
    case 'MATCH_DEST_ZEROTIER_ADDRESS':
      return { type, not, or, zt: hexAddr(o.zt) };
    case 'MATCH_VLAN_ID':
      return { type, not, or, vlanId: num(o.vlanId) & 0xffff };
    case 'MATCH_VLAN_PCP':
      return { type, not, or, vlanPcp: num(o.vlanPcp) & 0xff };
    case 'MATCH_VLAN_DEI':
      return { type, not, or, vlanDei: num(o.vlanDei) & 0xff };
    case 'MATCH_MAC_SOURCE':
    case 'MATCH_MAC_DEST':
      return { type, not, or, mac: parseMac(o.mac) };
    case 'MATCH_IPV4_SOURCE':
    case 'MATCH_IPV4_DEST':
    case 'MATCH_IPV6_SOURCE':
    case 'MATCH_IPV6_DEST': {
      const x = parseIpBits(o.ip, type.startsWith('MATCH_IPV4') ? 4 : 6);
      return { type, not, or, ip: x.ip, bits: x.bits };
    }
    case 'MATCH_IP_TOS':
      return { type, not, or, mask: num(o.mask) & 0xff, start: num(o.start) & 0xff, end: num(o.end) & 0xff };
    case 'MATCH_IP_PROTOCOL':
      return { type, not, or, ipProtocol: num(o.ipProtocol) & 0xff };
    case 'MATCH_ETHERTYPE':
      return { type, not, or, etherType: num(o.etherType) & 0xffff };
    case 'MATCH_ICMP': {
      const code = o.icmpCode;
      return {
        type,
        not,
        or,
        icmpType: num(o.icmpType) & 0xff,
        icmpCode: code === null || code === undefined ? null : num(code) & 0xff,
      };
    }
    case 'MATCH_IP_SOURCE_PORT_RANGE':
    case 'MATCH_IP_DEST_PORT_RANGE':
    case 'MATCH_FRAME_SIZE_RANGE': {
      const start = num(o.start) & 0xffff;
      const end = num(o.end, start) & 0xffff;
      return { type, not, or, start, end };
    }
    case 'MATCH_CHARACTERISTICS': {
      let mask = 0n;
      if (typeof o.mask === 'number' && Number.isFinite(o.mask)) mask = BigInt.asUintN(64, BigInt(Math.trunc(o.mask)));
      else if (typeof o.mask === 'string') mask = parseHexU64(o.mask);
      else if (o.mask !== undefined) return undefined;
      return { type, not, or, mask };
    }
    case 'MATCH_RANDOM':
      return { type, not, or, probability: num(o.probability) >>> 0 };
    case 'MATCH_TAGS_DIFFERENCE':
    case 'MATCH_TAGS_BITWISE_AND':
    case 'MATCH_TAGS_BITWISE_OR':
    case 'MATCH_TAGS_BITWISE_XOR':
    case 'MATCH_TAGS_EQUAL':
    case 'MATCH_TAG_SENDER':
    case 'MATCH_TAG_RECEIVER':
      return { type, not, or, id: num(o.id) >>> 0, value: num(o.value) >>> 0 };
    default:
      // ACTION_PRIORITY, INTEGER_RANGE (a 1.14.1 parse bug rejects it) and unknown strings are dropped.
      return undefined;
  }
}

/** The JSON array for a rule list. */
export function rulesToJson(rules: readonly Rule[]): Array<{ [k: string]: Json }> {
  return rules.map(ruleToJson);
}

/** Parses a JSON rule array, dropping entries the controller would drop (at most MAX_RULES kept). */
export function rulesFromJson(j: unknown): Rule[] {
  if (!Array.isArray(j)) return [];
  const out: Rule[] = [];
  for (const x of j) {
    const r = ruleFromJson(x);
    if (r) out.push(r);
    if (out.length >= MAX_RULES) break;
  }
  return out;
}

// ---- Evaluation (§8.2, §8.3) ----------------------------------------------------------------------------------
//
//   evaluateRules(rules, frame, env) → RuleResult         one list, ZeroTier's state machine
//   filterFrame(rules, capabilities, frame, env) → FilterResult
//       network rules, then (on NO-MATCH) capabilities in ascending ID order: the verdict a member applies
//   compileRules(rules) → CompiledRules                    (done implicitly and cached per array)
//
// Pure and allocation-light: rules are compiled once into numeric records (cached per rule array), frame
// fields are read in place. `env.random32` feeds MATCH_RANDOM (default: a fixed-seed xorshift, so a test
// or a caller without entropy still gets a deterministic spread).

/** The frame as the rules see it. */
export interface RuleFrame {
  readonly inbound: boolean;
  /** ZeroTier source address (the sender; us when outbound). */
  readonly ztSource: number;
  /** ZeroTier destination (us when inbound); 0 = none (first outbound multicast pass). */
  readonly ztDest: number;
  readonly macSource: number;
  readonly macDest: number;
  readonly etherType: number;
  /** Always 0 in 1.14.1. */
  readonly vlanId?: number;
  /** Ethernet payload (IP header at offset 0). */
  readonly payload: Uint8Array;
}

/** What the rules need besides the frame. */
export interface RuleEnv {
  /** Our own address. */
  readonly self: number;
  /** Config `f` (0x08: result of unsupported matches). */
  readonly configFlags?: number;
  /** Our own tags (id → value). */
  readonly myTags?: ReadonlyMap<number, number>;
  /** The other party's valid tags (id → value). */
  readonly peerTags?: ReadonlyMap<number, number>;
  /** Uniform random u32 for MATCH_RANDOM. */
  readonly random32?: () => number;
  /** Is this sender IP (4 or 16 bytes) listed in a valid COO of the sender (for CHARACTERISTICS)? */
  readonly ipAuthenticated?: (ip: Uint8Array) => boolean;
  /** Is this sender MAC listed in a valid COO of the sender? */
  readonly macAuthenticated?: (mac: number) => boolean;
}

export type RuleVerdict = 'drop' | 'accept' | 'super-accept' | 'redirect' | 'no-match';

export interface RuleResult {
  readonly verdict: RuleVerdict;
  /** Index of the action that decided; -1 when the list ran out (no-match). */
  readonly ruleIndex: number;
  /** REDIRECT: the new destination; else 0. */
  readonly redirectTo: number;
  /** TEE/WATCH copy target; 0 if none. */
  readonly copyTo: number;
  /** Bytes to copy (0 = whole frame). */
  readonly copyLength: number;
  /** WATCH (copy with ACK requested) rather than TEE. */
  readonly copyWatch: boolean;
  /** QoS bucket from ACTION_PRIORITY (0 when none). */
  readonly qosBucket: number;
}

export type FilterDropReason = 'rules-drop' | 'rules-no-match';

export interface FilterResult extends RuleResult {
  readonly accept: boolean;
  /**
   * When a capability accepted: its own TEE/WATCH copy (sent besides the network rules' copy in copyTo);
   * 0 otherwise.
   */
  readonly capabilityCopyTo: number;
  readonly capabilityCopyLength: number;
  readonly capabilityCopyWatch: boolean;
  /** Why it was dropped (undefined when accepted): an explicit DROP, or no rule and no capability matched. */
  readonly dropReason: FilterDropReason | undefined;
  /** The capability whose rules accepted, or -1 (network rules). */
  readonly capabilityId: number;
}

/** A capability as the filter sees it. */
export interface RuleCapability {
  readonly id: number;
  readonly rules: readonly Rule[];
}

interface CRule {
  c: number;
  not: number;
  or: boolean;
  a: number;
  b: number;
  d: number;
  big: bigint;
  big2: bigint;
  ip: Uint8Array;
}

export type CompiledRules = readonly CRule[];

const NO_IP = new Uint8Array(0);
const compiledCache = new WeakMap<readonly Rule[], CompiledRules>();

/** Rules → numeric records for the evaluator (cached per array when called through evaluateRules). */
export function compileRules(rules: readonly Rule[]): CompiledRules {
  const out: CRule[] = [];
  for (const r of rules) {
    const x: CRule = { c: ruleCode(r), not: r.not ? 1 : 0, or: r.or, a: 0, b: 0, d: 0, big: 0n, big2: 0n, ip: NO_IP };
    switch (r.type) {
      case 'ACTION_TEE':
      case 'ACTION_WATCH':
      case 'ACTION_REDIRECT':
        x.a = r.address;
        x.b = r.length;
        x.d = r.flags;
        break;
      case 'MATCH_SOURCE_ZEROTIER_ADDRESS':
      case 'MATCH_DEST_ZEROTIER_ADDRESS':
        x.a = r.zt;
        break;
      case 'MATCH_VLAN_ID':
        x.a = r.vlanId;
        break;
      case 'MATCH_VLAN_PCP':
        x.a = r.vlanPcp;
        break;
      case 'MATCH_VLAN_DEI':
        x.a = r.vlanDei;
        break;
      case 'MATCH_MAC_SOURCE':
      case 'MATCH_MAC_DEST':
        x.a = r.mac;
        break;
      case 'MATCH_IPV4_SOURCE':
      case 'MATCH_IPV4_DEST':
      case 'MATCH_IPV6_SOURCE':
      case 'MATCH_IPV6_DEST':
        x.ip = r.ip;
        x.a = r.bits;
        break;
      case 'MATCH_IP_TOS':
        x.a = r.mask;
        x.b = r.start;
        x.d = r.end;
        break;
      case 'MATCH_IP_PROTOCOL':
        x.a = r.ipProtocol;
        break;
      case 'MATCH_ETHERTYPE':
        x.a = r.etherType;
        break;
      case 'MATCH_ICMP':
        x.a = r.icmpType;
        x.b = r.icmpCode ?? 0;
        x.d = r.icmpCode === null ? 0 : 1;
        break;
      case 'MATCH_IP_SOURCE_PORT_RANGE':
      case 'MATCH_IP_DEST_PORT_RANGE':
      case 'MATCH_FRAME_SIZE_RANGE':
        x.a = r.start;
        x.b = r.end;
        break;
      case 'MATCH_CHARACTERISTICS':
        x.big = r.mask;
        break;
      case 'MATCH_RANDOM':
        x.a = r.probability;
        break;
      case 'MATCH_TAGS_DIFFERENCE':
      case 'MATCH_TAGS_BITWISE_AND':
      case 'MATCH_TAGS_BITWISE_OR':
      case 'MATCH_TAGS_BITWISE_XOR':
      case 'MATCH_TAGS_EQUAL':
      case 'MATCH_TAG_SENDER':
      case 'MATCH_TAG_RECEIVER':
        x.a = r.id;
        x.b = r.value;
        break;
      case 'MATCH_INTEGER_RANGE':
        x.big = r.start;
        x.big2 = r.end;
        x.a = r.idx;
        x.b = r.format;
        break;
      default:
        break;
    }
    out.push(x);
  }
  return out;
}

function compiled(rules: readonly Rule[]): CompiledRules {
  let c = compiledCache.get(rules);
  if (!c) {
    c = compileRules(rules);
    compiledCache.set(rules, c);
  }
  return c;
}

let rngState = 0x9e3779b9;
function defaultRandom32(): number {
  let x = rngState;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  rngState = x >>> 0;
  return rngState;
}

/** Does ip (4 or 16 bytes at frame offset p) lie inside prefix/bits? */
function inPrefix(frame: Uint8Array, p: number, prefix: Uint8Array, bits: number, len: number): boolean {
  if (bits > len * 8) bits = len * 8;
  let i = 0;
  for (; bits >= 8; bits -= 8, i++) if (frame[p + i] !== prefix[i]) return false;
  if (bits > 0) {
    const mask = (0xff << (8 - bits)) & 0xff;
    if ((frame[p + i]! & mask) !== (prefix[i]! & mask)) return false;
  }
  return true;
}

/**
 * IPv6: the final next-header and its offset, walking extension headers 0, 43, 60, 135 (each needs 8 bytes,
 * length (len + 1) * 8) from offset 40; undefined if the frame is shorter than 40 or a header runs past the end.
 */
function ipv6Final(f: Uint8Array): { nh: number; pos: number } | undefined {
  if (f.length < 40) return undefined;
  let nh = f[6]!;
  let pos = 40;
  while (nh === 0 || nh === 43 || nh === 60 || nh === 135) {
    if (pos + 8 > f.length) return undefined;
    nh = f[pos]!;
    pos += (f[pos + 1]! + 1) * 8;
  }
  if (pos > f.length) return undefined;
  return { nh, pos };
}

const IPV4 = 0x0800;
const IPV6 = 0x86dd;
const ARP = 0x0806;

function characteristics(fr: RuleFrame, env: RuleEnv, needAuth: boolean): bigint {
  let c = 0n;
  if (fr.inbound) c |= CHARACTERISTICS.INBOUND;
  if (Math.floor(fr.macDest / 0x10000000000) & 1) c |= CHARACTERISTICS.MULTICAST;
  if (fr.macDest === 0xffffffffffff) c |= CHARACTERISTICS.BROADCAST;
  const f = fr.payload;
  if (fr.etherType === IPV4 && f.length >= 20) {
    const ihl = (f[0]! & 0x0f) * 4;
    if (f[9] === 6 && f.length >= ihl + 14) c |= BigInt(((f[ihl + 12]! & 0x0f) << 8) | f[ihl + 13]!);
  } else if (fr.etherType === IPV6) {
    const h = ipv6Final(f);
    if (h && h.nh === 6 && f.length > h.pos + 14) c |= BigInt(((f[h.pos + 12]! & 0x0f) << 8) | f[h.pos + 13]!);
  }
  if (needAuth) {
    // The sending IP: IPv4 source; ARP sender IP; IPv6 source, except for neighbor discovery carried
    // directly after the IPv6 header: a solicitation counts as authenticated, an advertisement is judged
    // by its target address.
    let ipAuth = false;
    const ia = env.ipAuthenticated;
    if (fr.etherType === IPV4 && f.length >= 20) ipAuth = !!ia?.(f.subarray(12, 16));
    else if (fr.etherType === IPV6 && f.length >= 40) {
      if (f.length >= 64 && f[6] === 58 && (f[40] === 135 || f[40] === 136)) {
        ipAuth = f[40] === 135 || !!ia?.(f.subarray(48, 64));
      } else ipAuth = !!ia?.(f.subarray(8, 24));
    } else if (fr.etherType === ARP && f.length >= 28) ipAuth = !!ia?.(f.subarray(14, 18));
    if (ipAuth) c |= CHARACTERISTICS.SENDER_IP_AUTHENTICATED;
    if (env.macAuthenticated?.(fr.macSource)) c |= CHARACTERISTICS.SENDER_MAC_AUTHENTICATED;
  }
  return c;
}

const AUTH_BITS = CHARACTERISTICS.SENDER_IP_AUTHENTICATED | CHARACTERISTICS.SENDER_MAC_AUTHENTICATED;

function result(
  verdict: RuleVerdict,
  ruleIndex: number,
  redirectTo: number,
  copyTo: number,
  copyLength: number,
  copyWatch: boolean,
  qosBucket: number,
): RuleResult {
  return { verdict, ruleIndex, redirectTo, copyTo, copyLength, copyWatch, qosBucket };
}

/** Evaluates one rule list against a frame (ZeroTier's state machine, §8.2). */
export function evaluateRules(rules: readonly Rule[] | CompiledRules, fr: RuleFrame, env: RuleEnv): RuleResult {
  const list: CompiledRules =
    rules.length > 0 && 'c' in (rules[0] as object) ? (rules as CompiledRules) : compiled(rules as readonly Rule[]);
  const f = fr.payload;
  const flen = f.length;
  const et = fr.etherType;
  let set = 1;
  let skipDrop = false;
  let superAccept = false;
  let copyTo = 0;
  let copyLength = 0;
  let copyWatch = false;
  let chars: bigint | undefined;
  let charsAuth = false;
  for (let i = 0; i < list.length; i++) {
    const r = list[i]!;
    const c = r.c;
    if (c < 16) {
      if (set) {
        switch (c) {
          case 0: // DROP
            if (skipDrop) {
              skipDrop = false;
              continue;
            }
            return result('drop', i, 0, copyTo, copyLength, copyWatch, 0);
          case 1: // ACCEPT
            return result(superAccept ? 'super-accept' : 'accept', i, 0, copyTo, copyLength, copyWatch, 0);
          case 5: // BREAK
            return result('no-match', i, 0, copyTo, copyLength, copyWatch, 0);
          case 6: // PRIORITY (value not serialized: bucket 0)
            return result('accept', i, 0, copyTo, copyLength, copyWatch, 0);
          case 2:
          case 3:
          case 4: {
            const target = r.a;
            if (target === fr.ztSource) continue;
            if (target === env.self) {
              if (fr.inbound) return result('super-accept', i, 0, copyTo, copyLength, copyWatch, 0);
              continue;
            }
            if (target === fr.ztDest) continue;
            if (c === 4) return result('redirect', i, target, copyTo, copyLength, copyWatch, 0);
            copyTo = target;
            copyLength = r.b === 0 ? flen : Math.min(flen, r.b);
            copyWatch = c === 3;
            continue;
          }
          default:
            continue;
        }
      } else {
        if (fr.inbound && c >= 2 && c <= 4 && r.a === env.self) superAccept = true;
        set = 1;
        continue;
      }
    }
    if (!set && !r.or) continue;
    // m: 0/1 before NOT; forced results are encoded as m = NOT (false) or NOT ^ 1 (true).
    let m = 0;
    switch (c) {
      case 24:
        m = fr.ztSource === r.a ? 1 : 0;
        break;
      case 25:
        m = fr.ztDest === r.a ? 1 : 0;
        break;
      case 26:
        m = (fr.vlanId ?? 0) === r.a ? 1 : 0;
        break;
      case 27:
      case 28:
        m = r.a === 0 ? 1 : 0;
        break;
      case 29:
        m = fr.macSource === r.a ? 1 : 0;
        break;
      case 30:
        m = fr.macDest === r.a ? 1 : 0;
        break;
      case 31:
      case 32:
        if (et === IPV4 && flen >= 20) m = inPrefix(f, c === 31 ? 12 : 16, r.ip, r.a, 4) ? 1 : 0;
        else m = r.not;
        break;
      case 33:
      case 34:
        if (et === IPV6 && flen >= 40) m = inPrefix(f, c === 33 ? 8 : 24, r.ip, r.a, 16) ? 1 : 0;
        else m = r.not;
        break;
      case 35:
        if (et === IPV4 && flen >= 20) {
          const tos = f[1]! & r.a;
          m = tos >= r.b && tos <= r.d ? 1 : 0;
        } else if (et === IPV6 && flen >= 40) {
          const tc = (((f[0]! << 4) & 0xf0) | ((f[1]! >> 4) & 0x0f)) & r.a;
          m = tc >= r.b && tc <= r.d ? 1 : 0;
        } else m = r.not;
        break;
      case 36:
        if (et === IPV4 && flen >= 20) m = f[9] === r.a ? 1 : 0;
        else if (et === IPV6 && flen >= 40) {
          const h = ipv6Final(f);
          m = h ? (h.nh === r.a ? 1 : 0) : r.not;
        } else m = r.not;
        break;
      case 37:
        m = et === r.a ? 1 : 0;
        break;
      case 38: {
        let pos = -1;
        if (et === IPV4 && flen >= 20 && f[9] === 1) pos = (f[0]! & 0x0f) * 4;
        else if (et === IPV6 && flen >= 40) {
          const h = ipv6Final(f);
          if (h && h.nh === 58) pos = h.pos;
        }
        if (pos < 0 || flen < pos + 2) m = r.not;
        else if (f[pos] !== r.a) m = r.not;
        else if (r.d === 0) m = r.not ^ 1;
        else m = f[pos + 1] === r.b ? 1 : 0;
        break;
      }
      case 39:
      case 40: {
        if (et === IPV4 && flen >= 20) {
          const ihl = (f[0]! & 0x0f) * 4;
          const proto = f[9]!;
          if ((proto === 6 || proto === 17 || proto === 132 || proto === 136) && flen > ihl + 4) {
            const at = c === 39 ? ihl : ihl + 2;
            const port = (f[at]! << 8) | f[at + 1]!;
            m = port >= r.a && port <= r.b ? 1 : 0;
          } else m = 0;
        } else if (et === IPV6 && flen >= 40) {
          const h = ipv6Final(f);
          if (!h) m = r.not;
          else if ((h.nh === 6 || h.nh === 17 || h.nh === 132 || h.nh === 136) && flen > h.pos + 4) {
            const at = c === 39 ? h.pos : h.pos + 2;
            const port = (f[at]! << 8) | f[at + 1]!;
            m = port > 0 && port >= r.a && port <= r.b ? 1 : 0;
          } else m = 0;
        } else m = r.not;
        break;
      }
      case 41: {
        const needAuth = (r.big & AUTH_BITS) !== 0n;
        if (chars === undefined || (needAuth && !charsAuth)) {
          chars = characteristics(fr, env, needAuth);
          charsAuth = needAuth;
        }
        m = (chars & r.big) !== 0n ? 1 : 0;
        break;
      }
      case 42:
        m = flen >= r.a && flen <= r.b ? 1 : 0;
        break;
      case 43:
        m = (env.random32 ?? defaultRandom32)() >>> 0 <= r.a ? 1 : 0;
        break;
      case 44:
      case 45:
      case 46:
      case 47:
      case 48: {
        const mine = env.myTags?.get(r.a);
        if (mine === undefined) {
          m = r.not;
          break;
        }
        const theirs = env.peerTags?.get(r.a);
        if (theirs === undefined) {
          if (fr.inbound && !superAccept) m = r.not;
          else {
            m = r.not ^ 1;
            skipDrop = true;
          }
          break;
        }
        switch (c) {
          case 44:
            m = Math.abs(mine - theirs) <= r.b ? 1 : 0;
            break;
          case 45:
            m = (mine & theirs) >>> 0 === r.b ? 1 : 0;
            break;
          case 46:
            m = (mine | theirs) >>> 0 === r.b ? 1 : 0;
            break;
          case 47:
            m = (mine ^ theirs) >>> 0 === r.b ? 1 : 0;
            break;
          default:
            m = mine === r.b && theirs === r.b ? 1 : 0;
        }
        break;
      }
      case 49:
      case 50: {
        if (superAccept) {
          m = r.not ^ 1;
          skipDrop = true;
          break;
        }
        const lookPeer = (c === 49) === fr.inbound; // SENDER inbound or RECEIVER outbound
        if (lookPeer) {
          const theirs = env.peerTags?.get(r.a);
          if (theirs !== undefined) m = theirs === r.b ? 1 : 0;
          else if (c === 50) {
            m = r.not ^ 1;
            skipDrop = true;
          } else m = r.not;
        } else {
          const mine = env.myTags?.get(r.a);
          m = mine === undefined ? r.not : mine === r.b ? 1 : 0;
        }
        break;
      }
      case 51: {
        const bits = (r.b & 63) + 1;
        const bytes = (bits + 7) >> 3;
        let v = 0n;
        if ((r.b & 0x80) === 0) {
          let idx = r.a + (8 - bytes);
          const eof = idx + bytes;
          if (eof <= flen) while (idx < eof) v = (v << 8n) | BigInt(f[idx++]!);
          v &= (1n << BigInt(bits)) - 1n;
        } else {
          let idx = r.a;
          const eof = idx + bytes;
          if (eof <= flen) while (idx < eof) v = (v >> 8n) | (BigInt(f[idx++]!) << 56n);
          v >>= BigInt(64 - bits);
        }
        // 1.14.1 keeps end - start in 32 bits and compares with start + that (both wrap)
        const end = BigInt.asUintN(64, r.big + BigInt.asUintN(32, r.big2 - r.big));
        m = v >= r.big && v <= end ? 1 : 0;
        break;
      }
      default:
        m = ((env.configFlags ?? 0) & 0x08) !== 0 ? 1 : 0;
    }
    const contrib = m ^ r.not;
    if (r.or) set |= contrib;
    else set &= contrib;
  }
  return result('no-match', -1, 0, copyTo, copyLength, copyWatch, 0);
}

/**
 * The verdict a member applies (§8.3): network rules; DROP drops; ACCEPT/SUPER-ACCEPT/REDIRECT accept;
 * NO-MATCH tries the capabilities (ours outbound, the sender's inbound) in ascending ID order, the first
 * that accepts wins; otherwise drop.
 */
export function filterFrame(
  rules: readonly Rule[],
  capabilities: readonly RuleCapability[],
  fr: RuleFrame,
  env: RuleEnv,
): FilterResult {
  const r = evaluateRules(rules, fr, env);
  const noCapCopy = { capabilityCopyTo: 0, capabilityCopyLength: 0, capabilityCopyWatch: false };
  if (r.verdict === 'drop') return { ...r, ...noCapCopy, accept: false, dropReason: 'rules-drop', capabilityId: -1 };
  if (r.verdict !== 'no-match') return { ...r, ...noCapCopy, accept: true, dropReason: undefined, capabilityId: -1 };
  let caps = capabilities;
  for (let i = 1; i < caps.length; i++) {
    if (caps[i - 1]!.id > caps[i]!.id) {
      caps = [...capabilities].sort((a, b) => a.id - b.id);
      break;
    }
  }
  for (const cap of caps) {
    const cr = evaluateRules(cap.rules, fr, env);
    if (cr.verdict === 'accept' || cr.verdict === 'super-accept' || cr.verdict === 'redirect')
      return {
        ...cr,
        copyTo: r.copyTo,
        copyLength: r.copyLength,
        copyWatch: r.copyWatch,
        capabilityCopyTo: cr.copyTo,
        capabilityCopyLength: cr.copyLength,
        capabilityCopyWatch: cr.copyWatch,
        accept: true,
        dropReason: undefined,
        capabilityId: cap.id,
      };
  }
  return { ...r, ...noCapCopy, accept: false, dropReason: 'rules-no-match', capabilityId: -1 };
}
