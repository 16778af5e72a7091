// Network rules (PROTOCOL-VL2.md §8): the binary encoding carried in configs (key `R`) and capabilities,
// the controller's JSON representation, and the evaluation engine run on every frame.
//
// Each rule type is described once, in DESCRIPTORS (below): its payload length and fields on the wire, its
// JSON keys both ways, and what it compiles to for the evaluator. The operations walk that table; adding a
// type means one entry there plus its member of the `Rule` union and its code in RULE_TYPES.
//
// Exported API (stable):
//   RULE_TYPES (name → code), ruleTypeName(code), type Rule (tagged union on `type`), MAX_RULES
//   decodeRules(bytes, maxRules?) → Vl2Decoded<Rule[]>      readRules(r: WireReader, count) → Rule[] | undefined
//   encodeRules(rules) → Uint8Array                          writeRules(w: WireWriter, rules)
//   ruleToJson(rule) → object (keys alphabetical)            ruleFromJson(json) → Rule | undefined
//   rulesToJson(rules), rulesFromJson(json)                  (invalid entries dropped, as the controller does)
//   parseRuleJson(json) → { ok: true, rule } | { ok: false, field, reason }       strict: names what is wrong
//   parseRulesJson(json) → { ok: true, rules } | { ok: false, index, field, reason }
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

// ---- Shared field helpers ------------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const u16 = (b: Uint8Array, p: number): number => (b[p]! << 8) | b[p + 1]!;

function readMac(b: Uint8Array, p: number): number {
  return b[p]! * 0x10000000000 + readAddress(b, p + 1);
}

function writeMac(w: WireWriter, mac: number): void {
  w.u8(Math.floor(mac / 0x10000000000) & 0xff);
  w.address(mac % 0x10000000000);
}

function macToString(mac: number): string {
  const parts: string[] = [];
  for (let i = 5; i >= 0; i--) parts.push((Math.floor(mac / 2 ** (8 * i)) & 0xff).toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** `ip/bits` as the controller prints it (inet_ntop text, the prefix length in the port position). */
function ipToString(ip: Uint8Array, bits: number): string {
  return formatInetAddress({ family: ip.length === 4 ? 4 : 6, ip, port: bits });
}

const hex40 = (v: number): string => v.toString(16).padStart(10, '0');
const hex64 = (v: bigint): string => v.toString(16).padStart(16, '0');

// ---- Reading rule JSON: lenient (as the 1.14.1 controller) and strict (naming what is wrong) --------------------
//
// The controller's JSON reading is lenient (1.14.1 _parseRule with OSUtils::json*): numbers may be JSON numbers,
// decimal strings (strtoull) or booleans; hex fields go through a string and strtoull base 16; a field that does
// not parse reads as 0 (an unparseable IP as 0.0.0.0/0 — which matches everything, as in 1.14.1). The strict
// reader accepts only well-formed values and reports the first field that is missing or malformed.

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

/** How a descriptor reads its fields from a JSON object (one reader per parse; the first failure is kept). */
interface FieldReader {
  /** An unsigned integer of `bits` bits; `dfl` when absent (strict: required when there is no default). */
  uint(key: string, bits: 8 | 16 | 32, dfl?: number): number;
  /** An unsigned byte, or null when absent or null. */
  optionalUint8(key: string): number | null;
  /** A ZeroTier address (40 bits, hex text). */
  address(key: string): number;
  /** A MAC address (48 bits, `aa:bb:cc:dd:ee:ff`). */
  mac(key: string): number;
  /** `ip/bits` of the given family. */
  prefix(key: string, family: 4 | 6): { ip: Uint8Array; bits: number };
  /** A 64-bit mask: hex text or a JSON number. */
  mask64(key: string): bigint;
  /** A boolean (not, or); false when absent. */
  flag(key: string): boolean;
  /** The first failure: which field and why. */
  failure: { field: string; reason: string } | undefined;
}

/** As the 1.14.1 controller reads rules: anything reads as something; only a mask of the wrong type fails. */
class LenientReader implements FieldReader {
  failure: { field: string; reason: string } | undefined;
  constructor(private readonly o: JsonObject) {}
  uint(key: string, bits: 8 | 16 | 32, dfl = 0): number {
    return (num(this.o[key], dfl) & (bits === 32 ? 0xffffffff : (1 << bits) - 1)) >>> 0;
  }
  optionalUint8(key: string): number | null {
    const v = this.o[key];
    return v === null || v === undefined ? null : num(v) & 0xff;
  }
  address(key: string): number {
    return hexAddr(this.o[key]);
  }
  mac(key: string): number {
    return parseMac(this.o[key]);
  }
  prefix(key: string, family: 4 | 6): { ip: Uint8Array; bits: number } {
    return parseIpBits(this.o[key], family);
  }
  mask64(key: string): bigint {
    const v = this.o[key];
    if (typeof v === 'number' && Number.isFinite(v)) return BigInt.asUintN(64, BigInt(Math.trunc(v)));
    if (typeof v === 'string') return parseHexU64(v);
    if (v !== undefined) this.failure ??= { field: key, reason: 'must be hex text or a number' };
    return 0n;
  }
  flag(key: string): boolean {
    return bool(this.o[key]);
  }
}

/** Accepts only well-formed values; the first field missing or malformed becomes the failure. */
class StrictReader implements FieldReader {
  failure: { field: string; reason: string } | undefined;
  constructor(private readonly o: JsonObject) {}
  private fail<T>(field: string, reason: string, value: T): T {
    this.failure ??= { field, reason };
    return value;
  }
  uint(key: string, bits: 8 | 16 | 32, dfl?: number): number {
    const v = this.o[key];
    const max = 2 ** bits - 1;
    if (v === undefined) return dfl ?? this.fail(key, 'missing', 0);
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,10}$/.test(v) ? Number(v) : Number.NaN;
    if (Number.isInteger(n) && n >= 0 && n <= max) return n;
    return this.fail(key, `must be an integer from 0 to ${max}`, 0);
  }
  optionalUint8(key: string): number | null {
    const v = this.o[key];
    return v === null || v === undefined ? null : this.uint(key, 8);
  }
  address(key: string): number {
    const v = this.o[key];
    if (v === undefined) return this.fail(key, 'missing', 0);
    if (typeof v === 'string' && /^[0-9a-fA-F]{1,10}$/.test(v)) return Number.parseInt(v, 16);
    return this.fail(key, 'must be a ZeroTier address (10 hex digits)', 0);
  }
  mac(key: string): number {
    const v = this.o[key];
    if (v === undefined) return this.fail(key, 'missing', 0);
    if (typeof v === 'string' && /^[0-9a-fA-F]{2}([:-]?[0-9a-fA-F]{2}){5}$/.test(v)) return parseMac(v);
    return this.fail(key, 'must be a MAC address (six hex bytes: aa:bb:cc:dd:ee:ff)', 0);
  }
  prefix(key: string, family: 4 | 6): { ip: Uint8Array; bits: number } {
    const v = this.o[key];
    const max = family === 4 ? 32 : 128;
    const zero = { ip: new Uint8Array(family === 4 ? 4 : 16), bits: 0 };
    if (v === undefined) return this.fail(key, 'missing', zero);
    const slash = typeof v === 'string' ? v.indexOf('/') : -1;
    if (typeof v === 'string' && slash > 0 && /^\d{1,3}$/.test(v.slice(slash + 1))) {
      const bits = Number(v.slice(slash + 1));
      const a = parseInetAddress(`${v.slice(0, slash)}/0`);
      if (a && a.family === family && bits <= max) return { ip: a.ip, bits };
    }
    return this.fail(key, `must be an IPv${family} address and prefix length (address/0-${max})`, zero);
  }
  mask64(key: string): bigint {
    const v = this.o[key];
    if (v === undefined) return this.fail(key, 'missing', 0n);
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
    if (typeof v === 'string' && /^(0x)?[0-9a-fA-F]{1,16}$/.test(v)) return parseHexU64(v);
    return this.fail(key, 'must be a 64-bit mask (up to 16 hex digits)', 0n);
  }
  flag(key: string): boolean {
    const v = this.o[key];
    if (v === undefined) return false;
    return typeof v === 'boolean' ? v : this.fail(key, 'must be true or false', false);
  }
}

// ---- Evaluation support ------------------------------------------------------------------------------------

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
  /**
   * Uniform random u32 for MATCH_RANDOM, from the host. Without it the draw is 0xffffffff: a MATCH_RANDOM
   * matches only with probability 0xffffffff (certain).
   */
  readonly random32?: () => number;
  /** Is this sender IP (4 or 16 bytes) listed in a valid COO of the sender (for CHARACTERISTICS)? */
  readonly ipAuthenticated?: (ip: Uint8Array) => boolean;
  /** Is this sender MAC listed in a valid COO of the sender? */
  readonly macAuthenticated?: (mac: number) => boolean;
}

/** One evaluation: the frame, the environment, and the state the matches share with the state machine. */
interface EvalState {
  readonly fr: RuleFrame;
  readonly env: RuleEnv;
  readonly f: Uint8Array;
  readonly et: number;
  /** A TEE/WATCH/REDIRECT to us was skipped (inbound): tag matches that miss a tag become true. */
  superAccept: boolean;
  /** A forced-true tag match lets the next DROP pass. */
  skipDrop: boolean;
  chars: bigint | undefined;
  charsAuth: boolean;
}

/** A match's result: 0/1 (then NOT applies), or a result forced regardless of NOT. */
type Matcher = (s: EvalState) => number;
const FORCE_FALSE = 2;
const FORCE_TRUE = 3;

const IPV4 = 0x0800;
const IPV6 = 0x86dd;
const ARP = 0x0806;

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

/** TCP, UDP, SCTP, UDP-Lite: the protocols whose header starts with two ports. */
const hasPorts = (proto: number): boolean => proto === 6 || proto === 17 || proto === 132 || proto === 136;

// ---- One descriptor per rule type ------------------------------------------------------------------------------
//
// Each known type has one entry in DESCRIPTORS holding all there is to know about it: its payload length on the
// wire, how its fields are read and written there, its JSON form both ways, and what it compiles to for the
// evaluator (a Matcher for a match; the target and copy length for TEE/WATCH/REDIRECT). decodeRules,
// writeRules, ruleToJson, ruleFromJson/parseRuleJson and compileRules walk this table: a new type is one entry.

type KnownType = Exclude<Rule['type'], 'UNKNOWN'>;
type RuleOf<T extends Rule['type']> = Rule & { readonly type: T };
/** A rule's own fields (without type, not and or). */
type Fields<T extends Rule['type']> = Omit<RuleOf<T>, 'type' | 'not' | 'or'>;

/** What the evaluator runs for one rule. */
interface CompiledRule {
  /** Type code (0-63). */
  readonly code: number;
  readonly not: 0 | 1;
  readonly or: boolean;
  /** A match's test; unused for actions. */
  readonly match: Matcher;
  /** TEE/WATCH/REDIRECT: the ZeroTier address the frame goes to; else 0. */
  readonly target: number;
  /** TEE/WATCH: bytes to copy (0 = the whole frame); else 0. */
  readonly copyLength: number;
}

interface RuleDescriptor<T extends KnownType> {
  /** Payload bytes its fields need at their fixed offsets (what the canonical encoding writes as L). */
  readonly length: number;
  /** Actions render without not/or in JSON and always parse with them false. */
  readonly action: boolean;
  /** Reads the fields at payload offset f (length already checked). */
  decode(b: Uint8Array, f: number): Fields<T>;
  /** Writes the payload (after the type and length bytes). */
  encode(w: WireWriter, r: RuleOf<T>): void;
  /** Its own JSON keys (type, not and or are added by ruleToJson). */
  toJson(r: RuleOf<T>): JsonObject;
  /** Reads its fields from JSON; absent: the controller refuses this type in JSON (`refused` says why). */
  fromJson?: (j: FieldReader) => Fields<T>;
  readonly refused?: string;
  /** Actions: what the state machine needs; matches: the Matcher over named, precomputed fields. */
  compile(r: RuleOf<T>): { match?: Matcher; target?: number; copyLength?: number };
}

const always =
  (m: number): Matcher =>
  () =>
    m;

const simpleAction = <T extends SimpleActionType>(refused?: string): RuleDescriptor<T> => ({
  length: 0,
  action: true,
  decode: () => ({}) as Fields<T>,
  encode: () => {},
  toJson: () => ({}),
  ...(refused ? { refused } : { fromJson: () => ({}) as Fields<T> }),
  compile: () => ({}),
});

/** TEE, WATCH, REDIRECT: [8] address (low 40 bits) [4] flags [2] length. REDIRECT's JSON has no length. */
const targetAction = (withLength: boolean): RuleDescriptor<TargetActionType> => ({
  length: 14,
  action: true,
  decode: (b, f) => ({
    address: Number(readU64(b, f) & 0xffffffffffn),
    flags: readU32(b, f + 8),
    length: u16(b, f + 12),
  }),
  encode: (w, r) => w.u64(BigInt(r.address)).u32(r.flags).u16(r.length),
  toJson: (r): JsonObject =>
    withLength
      ? { address: hex40(r.address), flags: r.flags, length: r.length }
      : { address: hex40(r.address), flags: r.flags },
  fromJson: (j) => ({
    address: j.address('address'),
    flags: j.uint('flags', 32, 0),
    length: withLength ? j.uint('length', 16, 0) : 0,
  }),
  compile: (r) => ({ target: r.address, copyLength: r.length }),
});

type ZtMatchType = 'MATCH_SOURCE_ZEROTIER_ADDRESS' | 'MATCH_DEST_ZEROTIER_ADDRESS';
const ztMatch = (dest: boolean): RuleDescriptor<ZtMatchType> => ({
  length: 5,
  action: false,
  decode: (b, f) => ({ zt: readAddress(b, f) }),
  encode: (w, r) => w.address(r.zt),
  toJson: (r) => ({ zt: hex40(r.zt) }),
  fromJson: (j) => ({ zt: j.address('zt') }),
  compile: ({ zt }) => ({ match: dest ? (s) => (s.fr.ztDest === zt ? 1 : 0) : (s) => (s.fr.ztSource === zt ? 1 : 0) }),
});

const macMatch = (dest: boolean): RuleDescriptor<'MATCH_MAC_SOURCE' | 'MATCH_MAC_DEST'> => ({
  length: 6,
  action: false,
  decode: (b, f) => ({ mac: readMac(b, f) }),
  encode: (w, r) => writeMac(w, r.mac),
  toJson: (r) => ({ mac: macToString(r.mac) }),
  fromJson: (j) => ({ mac: j.mac('mac') }),
  compile: ({ mac }) => ({
    match: dest ? (s) => (s.fr.macDest === mac ? 1 : 0) : (s) => (s.fr.macSource === mac ? 1 : 0),
  }),
});

type IpMatchType = 'MATCH_IPV4_SOURCE' | 'MATCH_IPV4_DEST' | 'MATCH_IPV6_SOURCE' | 'MATCH_IPV6_DEST';
/** [4 or 16] ip [1] bits; matched against the IP header's source or destination address. */
const ipMatch = (family: 4 | 6, dest: boolean): RuleDescriptor<IpMatchType> => {
  const n = family === 4 ? 4 : 16;
  const at = family === 4 ? (dest ? 16 : 12) : dest ? 24 : 8;
  const et = family === 4 ? IPV4 : IPV6;
  const minLength = family === 4 ? 20 : 40;
  return {
    length: n + 1,
    action: false,
    decode: (b, f) => ({ ip: b.slice(f, f + n), bits: b[f + n]! }),
    encode: (w, r) => {
      const ip = new Uint8Array(n);
      ip.set(r.ip.subarray(0, n));
      w.bytes(ip).u8(r.bits);
    },
    toJson: (r) => ({ ip: ipToString(r.ip, r.bits) }),
    fromJson: (j) => j.prefix('ip', family),
    compile: ({ ip, bits }) => ({
      match: (s) => (s.et === et && s.f.length >= minLength ? (inPrefix(s.f, at, ip, bits, n) ? 1 : 0) : FORCE_FALSE),
    }),
  };
};

/** [2] start [2] end: a port of the transport header, or the frame's payload length. */
const rangeMatch = (what: 'source-port' | 'dest-port' | 'frame-size'): RuleDescriptor<RangeMatchType> => ({
  length: 4,
  action: false,
  decode: (b, f) => ({ start: u16(b, f), end: u16(b, f + 2) }),
  encode: (w, r) => w.u16(r.start).u16(r.end),
  toJson: (r) => ({ end: r.end, start: r.start }),
  fromJson: (j) => {
    const start = j.uint('start', 16);
    return { start, end: j.uint('end', 16, start) };
  },
  compile: ({ start, end }) => {
    if (what === 'frame-size') return { match: (s) => (s.f.length >= start && s.f.length <= end ? 1 : 0) };
    const at = what === 'dest-port' ? 2 : 0;
    return {
      match: (s) => {
        const f = s.f;
        if (s.et === IPV4 && f.length >= 20) {
          const ihl = (f[0]! & 0x0f) * 4;
          if (!hasPorts(f[9]!) || f.length <= ihl + 4) return 0;
          const port = u16(f, ihl + at);
          return port >= start && port <= end ? 1 : 0;
        }
        if (s.et !== IPV6 || f.length < 40) return FORCE_FALSE;
        const h = ipv6Final(f);
        if (!h) return FORCE_FALSE;
        if (!hasPorts(h.nh) || f.length <= h.pos + 4) return 0;
        const port = u16(f, h.pos + at);
        // IPv6 (as 1.14.1): port 0 never matches
        return port > 0 && port >= start && port <= end ? 1 : 0;
      },
    };
  },
});

const tagCodec = {
  length: 8,
  action: false,
  decode: (b: Uint8Array, f: number) => ({ id: readU32(b, f), value: readU32(b, f + 4) }),
  encode: (w: WireWriter, r: { id: number; value: number }) => w.u32(r.id).u32(r.value),
  toJson: (r: { id: number; value: number }) => ({ id: r.id, value: r.value }),
  fromJson: (j: FieldReader) => ({ id: j.uint('id', 32), value: j.uint('value', 32) }),
} as const;

/** [4] id [4] value: compares our tag and the other party's (both needed; see the forced results). */
const tagsMatch = (op: (mine: number, theirs: number, value: number) => boolean): RuleDescriptor<TagMatchType> => ({
  ...tagCodec,
  compile: ({ id, value }) => ({
    match: (s) => {
      const mine = s.env.myTags?.get(id);
      if (mine === undefined) return FORCE_FALSE;
      const theirs = s.env.peerTags?.get(id);
      if (theirs === undefined) {
        if (s.fr.inbound && !s.superAccept) return FORCE_FALSE;
        s.skipDrop = true;
        return FORCE_TRUE;
      }
      return op(mine, theirs, value) ? 1 : 0;
    },
  }),
});

/** TAG_SENDER / TAG_RECEIVER: the sender's (receiver's) tag equals value. */
const tagPartyMatch = (receiver: boolean): RuleDescriptor<TagMatchType> => ({
  ...tagCodec,
  compile: ({ id, value }) => ({
    match: (s) => {
      if (s.superAccept) {
        s.skipDrop = true;
        return FORCE_TRUE;
      }
      if (receiver !== s.fr.inbound) {
        // SENDER inbound or RECEIVER outbound: the other party's tag
        const theirs = s.env.peerTags?.get(id);
        if (theirs !== undefined) return theirs === value ? 1 : 0;
        if (!receiver) return FORCE_FALSE;
        s.skipDrop = true;
        return FORCE_TRUE;
      }
      const mine = s.env.myTags?.get(id);
      return mine === undefined ? FORCE_FALSE : mine === value ? 1 : 0;
    },
  }),
});

/** A one-byte or two-byte field compared with a value. */
const byteMatch = <T extends 'MATCH_VLAN_PCP' | 'MATCH_VLAN_DEI' | 'MATCH_IP_PROTOCOL'>(
  key: 'vlanPcp' | 'vlanDei' | 'ipProtocol',
  compile: (v: number) => Matcher,
): RuleDescriptor<T> => ({
  length: 1,
  action: false,
  decode: (b, f) => ({ [key]: b[f]! }) as Fields<T>,
  encode: (w, r) => w.u8((r as unknown as Record<string, number>)[key]!),
  toJson: (r) => ({ [key]: (r as unknown as Record<string, number>)[key]! }),
  fromJson: (j) => ({ [key]: j.uint(key, 8) }) as Fields<T>,
  compile: (r) => ({ match: compile((r as unknown as Record<string, number>)[key]!) }),
});

const DESCRIPTORS: { readonly [T in KnownType]: RuleDescriptor<T> } = {
  ACTION_DROP: simpleAction(),
  ACTION_ACCEPT: simpleAction(),
  ACTION_TEE: targetAction(true),
  ACTION_WATCH: targetAction(true),
  ACTION_REDIRECT: targetAction(false),
  ACTION_BREAK: simpleAction(),
  // The PRIORITY value is not serialized (bucket 0); 1.14.1's controller drops it from JSON.
  ACTION_PRIORITY: simpleAction('ACTION_PRIORITY is not accepted by the controller'),
  MATCH_SOURCE_ZEROTIER_ADDRESS: ztMatch(false),
  MATCH_DEST_ZEROTIER_ADDRESS: ztMatch(true),
  MATCH_VLAN_ID: {
    length: 2,
    action: false,
    decode: (b, f) => ({ vlanId: u16(b, f) }),
    encode: (w, r) => w.u16(r.vlanId),
    toJson: (r) => ({ vlanId: r.vlanId }),
    fromJson: (j) => ({ vlanId: j.uint('vlanId', 16) }),
    compile: ({ vlanId }) => ({ match: (s) => ((s.fr.vlanId ?? 0) === vlanId ? 1 : 0) }),
  },
  // 1.14.1 carries no VLAN: PCP and DEI are 0
  MATCH_VLAN_PCP: byteMatch('vlanPcp', (v) => always(v === 0 ? 1 : 0)),
  MATCH_VLAN_DEI: byteMatch('vlanDei', (v) => always(v === 0 ? 1 : 0)),
  MATCH_MAC_SOURCE: macMatch(false),
  MATCH_MAC_DEST: macMatch(true),
  MATCH_IPV4_SOURCE: ipMatch(4, false),
  MATCH_IPV4_DEST: ipMatch(4, true),
  MATCH_IPV6_SOURCE: ipMatch(6, false),
  MATCH_IPV6_DEST: ipMatch(6, true),
  MATCH_IP_TOS: {
    // [1] mask [1] start [1] end: (TOS or traffic class & mask) within start..end
    length: 3,
    action: false,
    decode: (b, f) => ({ mask: b[f]!, start: b[f + 1]!, end: b[f + 2]! }),
    encode: (w, r) => w.u8(r.mask).u8(r.start).u8(r.end),
    toJson: (r) => ({ end: r.end, mask: r.mask, start: r.start }),
    fromJson: (j) => ({ mask: j.uint('mask', 8), start: j.uint('start', 8), end: j.uint('end', 8) }),
    compile: ({ mask, start, end }) => ({
      match: (s) => {
        const f = s.f;
        let tos: number;
        if (s.et === IPV4 && f.length >= 20) tos = f[1]! & mask;
        else if (s.et === IPV6 && f.length >= 40) tos = (((f[0]! << 4) & 0xf0) | ((f[1]! >> 4) & 0x0f)) & mask;
        else return FORCE_FALSE;
        return tos >= start && tos <= end ? 1 : 0;
      },
    }),
  },
  MATCH_IP_PROTOCOL: byteMatch('ipProtocol', (proto) => (s) => {
    if (s.et === IPV4 && s.f.length >= 20) return s.f[9] === proto ? 1 : 0;
    if (s.et !== IPV6 || s.f.length < 40) return FORCE_FALSE;
    const h = ipv6Final(s.f);
    return h ? (h.nh === proto ? 1 : 0) : FORCE_FALSE;
  }),
  MATCH_ETHERTYPE: {
    length: 2,
    action: false,
    decode: (b, f) => ({ etherType: u16(b, f) }),
    encode: (w, r) => w.u16(r.etherType),
    toJson: (r) => ({ etherType: r.etherType }),
    fromJson: (j) => ({ etherType: j.uint('etherType', 16) }),
    compile: ({ etherType }) => ({ match: (s) => (s.et === etherType ? 1 : 0) }),
  },
  MATCH_ICMP: {
    // [1] type [1] code [1] flags (0x01: the code is checked; icmpCode null = any code)
    length: 3,
    action: false,
    decode: (b, f) => ({ icmpType: b[f]!, icmpCode: (b[f + 2]! & 0x01) !== 0 ? b[f + 1]! : null }),
    encode: (w, r) =>
      w
        .u8(r.icmpType)
        .u8(r.icmpCode ?? 0)
        .u8(r.icmpCode === null ? 0 : 1),
    toJson: (r) => ({ icmpCode: r.icmpCode, icmpType: r.icmpType }),
    fromJson: (j) => ({ icmpType: j.uint('icmpType', 8), icmpCode: j.optionalUint8('icmpCode') }),
    compile: ({ icmpType, icmpCode }) => ({
      match: (s) => {
        const f = s.f;
        let pos = -1;
        if (s.et === IPV4 && f.length >= 20 && f[9] === 1) pos = (f[0]! & 0x0f) * 4;
        else if (s.et === IPV6 && f.length >= 40) {
          const h = ipv6Final(f);
          if (h && h.nh === 58) pos = h.pos;
        }
        if (pos < 0 || f.length < pos + 2 || f[pos] !== icmpType) return FORCE_FALSE;
        if (icmpCode === null) return FORCE_TRUE;
        return f[pos + 1] === icmpCode ? 1 : 0;
      },
    }),
  },
  MATCH_IP_SOURCE_PORT_RANGE: rangeMatch('source-port'),
  MATCH_IP_DEST_PORT_RANGE: rangeMatch('dest-port'),
  MATCH_CHARACTERISTICS: {
    length: 8,
    action: false,
    decode: (b, f) => ({ mask: readU64(b, f) }),
    encode: (w, r) => w.u64(r.mask),
    toJson: (r) => ({ mask: hex64(r.mask) }),
    fromJson: (j) => ({ mask: j.mask64('mask') }),
    compile: ({ mask }) => {
      const needAuth = (mask & AUTH_BITS) !== 0n;
      return {
        match: (s) => {
          if (s.chars === undefined || (needAuth && !s.charsAuth)) {
            s.chars = characteristics(s.fr, s.env, needAuth);
            s.charsAuth = needAuth;
          }
          return (s.chars & mask) !== 0n ? 1 : 0;
        },
      };
    },
  },
  MATCH_FRAME_SIZE_RANGE: rangeMatch('frame-size'),
  MATCH_RANDOM: {
    length: 4,
    action: false,
    decode: (b, f) => ({ probability: readU32(b, f) }),
    encode: (w, r) => w.u32(r.probability),
    toJson: (r) => ({ probability: r.probability }),
    fromJson: (j) => ({ probability: j.uint('probability', 32) }),
    compile: ({ probability }) => ({
      match: (s) => ((s.env.random32 ? s.env.random32() >>> 0 : 0xffffffff) <= probability ? 1 : 0),
    }),
  },
  MATCH_TAGS_DIFFERENCE: tagsMatch((mine, theirs, value) => Math.abs(mine - theirs) <= value),
  MATCH_TAGS_BITWISE_AND: tagsMatch((mine, theirs, value) => (mine & theirs) >>> 0 === value),
  MATCH_TAGS_BITWISE_OR: tagsMatch((mine, theirs, value) => (mine | theirs) >>> 0 === value),
  MATCH_TAGS_BITWISE_XOR: tagsMatch((mine, theirs, value) => (mine ^ theirs) >>> 0 === value),
  MATCH_TAGS_EQUAL: tagsMatch((mine, theirs, value) => mine === value && theirs === value),
  MATCH_TAG_SENDER: tagPartyMatch(false),
  MATCH_TAG_RECEIVER: tagPartyMatch(true),
  MATCH_INTEGER_RANGE: {
    // [8] start [8] end (absolute) [2] index [1] format (bits 0-5: bit count - 1; 0x80: little-endian)
    length: 19,
    action: false,
    decode: (b, f) => ({ start: readU64(b, f), end: readU64(b, f + 8), idx: u16(b, f + 16), format: b[f + 18]! }),
    encode: (w, r) => w.u64(r.start).u64(r.end).u16(r.idx).u8(r.format),
    toJson: (r) => ({
      // Rendered as 1.14.1 does: type "INTEGER_RANGE", 16-hex-digit start/end (end through its 32-bit span).
      bits: (r.format & 63) + 1,
      end: hex64(BigInt.asUintN(64, r.start + BigInt.asUintN(32, r.end - r.start))),
      idx: r.idx,
      little: (r.format & 0x80) !== 0,
      start: hex64(r.start),
      type: 'INTEGER_RANGE',
    }),
    refused: 'INTEGER_RANGE is not accepted by the controller (a parse bug in 1.14.1 drops it)',
    compile: ({ start, end: rawEnd, idx, format }) => {
      const bits = (format & 63) + 1;
      const bytes = (bits + 7) >> 3;
      const little = (format & 0x80) !== 0;
      // 1.14.1 keeps end - start in 32 bits and compares with start + that (both wrap)
      const end = BigInt.asUintN(64, start + BigInt.asUintN(32, rawEnd - start));
      return {
        match: (s) => {
          const f = s.f;
          let v = 0n;
          if (!little) {
            let i = idx + (8 - bytes);
            const eof = i + bytes;
            if (eof <= f.length) while (i < eof) v = (v << 8n) | BigInt(f[i++]!);
            v &= (1n << BigInt(bits)) - 1n;
          } else {
            let i = idx;
            const eof = i + bytes;
            if (eof <= f.length) while (i < eof) v = (v >> 8n) | (BigInt(f[i++]!) << 56n);
            v >>= BigInt(64 - bits);
          }
          return v >= start && v <= end ? 1 : 0;
        },
      };
    },
  },
};

/** A descriptor as the generic operations use it. */
type AnyDescriptor = RuleDescriptor<KnownType> & { readonly type: KnownType };
const BY_CODE: (AnyDescriptor | undefined)[] = new Array(64).fill(undefined);
const BY_JSON_NAME = new Map<string, AnyDescriptor>();
for (const [type, d] of Object.entries(DESCRIPTORS) as [KnownType, RuleDescriptor<KnownType>][]) {
  const any = { ...d, type } as AnyDescriptor;
  BY_CODE[RULE_TYPES[type]] = any;
  BY_JSON_NAME.set(type, any);
}
BY_JSON_NAME.set('INTEGER_RANGE', BY_CODE[RULE_TYPES.MATCH_INTEGER_RANGE]!);

// ---- Binary ------------------------------------------------------------------------------------------------

/** Decodes one rule whose type byte is at `p`; undefined if its fields run past `end`. */
function decodeOne(b: Uint8Array, p: number, end: number): { rule: Rule; next: number } | undefined {
  if (p + 2 > end) return undefined;
  const tb = b[p]!;
  const L = b[p + 1]!;
  const f = p + 2;
  const code = tb & RULE_TYPE_MASK;
  const not = (tb & RULE_NOT) !== 0;
  const or = (tb & RULE_OR) !== 0;
  const d = BY_CODE[code];
  const next = f + L;
  if (f + (d?.length ?? 0) > end || next > end) return undefined;
  const rule = (
    d ? { type: d.type, not, or, ...d.decode(b, f) } : { type: 'UNKNOWN', not, or, code, payload: b.slice(f, next) }
  ) as Rule;
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

/** Appends the binary form of each rule. */
export function writeRules(w: WireWriter, rules: readonly Rule[]): void {
  for (const r of rules) {
    w.u8(ruleCode(r) | (r.not ? RULE_NOT : 0) | (r.or ? RULE_OR : 0));
    if (r.type === 'UNKNOWN') {
      w.u8(Math.min(255, r.payload.length)).bytes(r.payload.subarray(0, 255));
      continue;
    }
    const d = DESCRIPTORS[r.type] as RuleDescriptor<KnownType>;
    w.u8(d.length);
    d.encode(w, r);
  }
}

export function encodeRules(rules: readonly Rule[]): Uint8Array {
  const w = new WireWriter(rules.length * 8 + 16);
  writeRules(w, rules);
  return w.finish();
}

// ---- JSON (controller API, §8.4) -----------------------------------------------------------------------------

function sortedKeys(o: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k]!;
  return out;
}

/** The JSON object the controller renders for a rule (keys in alphabetical order). */
export function ruleToJson(r: Rule): { [k: string]: Json } {
  if (r.type === 'UNKNOWN') return r.code < 16 ? { type: 'UNKNOWN' } : { not: r.not, or: r.or, type: 'UNKNOWN' };
  const d = DESCRIPTORS[r.type] as RuleDescriptor<KnownType>;
  const own = d.toJson(r);
  return sortedKeys(d.action ? { type: r.type, ...own } : { not: r.not, or: r.or, type: r.type, ...own });
}

/** What parseRuleJson answers: the rule, or the field that is wrong ('' = the rule itself) and why. */
export type RuleJsonResult =
  | { readonly ok: true; readonly rule: Rule }
  | { readonly ok: false; readonly field: string; readonly reason: string };

/** What parseRulesJson answers: the rules, or the index of the first bad one with its field and reason. */
export type RulesJsonResult =
  | { readonly ok: true; readonly rules: Rule[] }
  | { readonly ok: false; readonly index: number; readonly field: string; readonly reason: string };

function readRuleJson(j: unknown, strict: boolean): RuleJsonResult {
  if (typeof j !== 'object' || j === null || Array.isArray(j))
    return { ok: false, field: '', reason: 'a rule must be a JSON object' };
  const o = j as JsonObject;
  const type = typeof o.type === 'string' ? o.type : typeof o.type === 'number' ? String(o.type) : '';
  if (o.type === undefined) return { ok: false, field: 'type', reason: 'missing' };
  const d = BY_JSON_NAME.get(type);
  if (!d) return { ok: false, field: 'type', reason: `unknown rule type ${JSON.stringify(o.type)}` };
  if (!d.fromJson) return { ok: false, field: 'type', reason: d.refused ?? 'not accepted' };
  const reader = strict ? new StrictReader(o) : new LenientReader(o);
  // The controller re-renders actions without NOT/OR, so a stored action never has them (§8.4).
  const not = d.action ? false : reader.flag('not');
  const or = d.action ? false : reader.flag('or');
  const fields = d.fromJson(reader);
  if (reader.failure) return { ok: false, ...reader.failure };
  return { ok: true, rule: { type: d.type, not, or, ...fields } as Rule };
}

/**
 * Parses one rule object strictly, for an API that answers what is wrong: an unknown or refused `type`, a
 * missing field, or one that is malformed or out of range (numbers as JSON integers or decimal text; addresses,
 * MACs and masks as hex text; `ip` as address/bits of the rule's family). Never throws.
 */
export function parseRuleJson(j: unknown): RuleJsonResult {
  return readRuleJson(j, true);
}

/** parseRuleJson over an array (at most MAX_RULES): the rules, or the first bad entry's index, field and reason. */
export function parseRulesJson(j: unknown): RulesJsonResult {
  if (!Array.isArray(j)) return { ok: false, index: -1, field: '', reason: 'rules must be a JSON array' };
  if (j.length > MAX_RULES) return { ok: false, index: MAX_RULES, field: '', reason: `at most ${MAX_RULES} rules` };
  const rules: Rule[] = [];
  for (let i = 0; i < j.length; i++) {
    const r = parseRuleJson(j[i]);
    if (!r.ok) return { ok: false, index: i, field: r.field, reason: r.reason };
    rules.push(r.rule);
  }
  return { ok: true, rules };
}

/** Parses one rule object as the 1.14.1 controller does (lenient); undefined for entries it drops. */
export function ruleFromJson(j: unknown): Rule | undefined {
  const r = readRuleJson(j, false);
  return r.ok ? r.rule : undefined;
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
// Pure and allocation-light: rules are compiled once (cached per rule array) into records holding each match's
// Matcher (its descriptor's test over named fields) and each action's target; frame fields are read in place.
// `env.random32` feeds MATCH_RANDOM (the host's randomness; the core keeps none of its own).

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

export type CompiledRules = readonly CompiledRule[];

const compiledCache = new WeakMap<readonly Rule[], CompiledRules>();

/** Unknown matches (16-23, 52-63) take their result from config flag 0x08, as in 1.14.1. */
const unknownMatch: Matcher = (s) => (((s.env.configFlags ?? 0) & 0x08) !== 0 ? 1 : 0);

/** Rules → records for the evaluator (cached per array when called through evaluateRules). */
export function compileRules(rules: readonly Rule[]): CompiledRules {
  return rules.map((r): CompiledRule => {
    const parts =
      r.type === 'UNKNOWN' ? { match: unknownMatch } : (DESCRIPTORS[r.type] as RuleDescriptor<KnownType>).compile(r);
    return {
      code: ruleCode(r),
      not: r.not ? 1 : 0,
      or: r.or,
      match: parts.match ?? unknownMatch,
      target: parts.target ?? 0,
      copyLength: parts.copyLength ?? 0,
    };
  });
}

function compiled(rules: readonly Rule[]): CompiledRules {
  let c = compiledCache.get(rules);
  if (!c) {
    c = compileRules(rules);
    compiledCache.set(rules, c);
  }
  return c;
}

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
    rules.length > 0 && 'match' in (rules[0] as object) ? (rules as CompiledRules) : compiled(rules as readonly Rule[]);
  const s: EvalState = {
    fr,
    env,
    f: fr.payload,
    et: fr.etherType,
    superAccept: false,
    skipDrop: false,
    chars: undefined,
    charsAuth: false,
  };
  const flen = fr.payload.length;
  let set = 1;
  let copyTo = 0;
  let copyLength = 0;
  let copyWatch = false;
  for (let i = 0; i < list.length; i++) {
    const r = list[i]!;
    const c = r.code;
    if (c < 16) {
      if (set) {
        switch (c) {
          case 0: // DROP
            if (s.skipDrop) {
              s.skipDrop = false;
              continue;
            }
            return result('drop', i, 0, copyTo, copyLength, copyWatch, 0);
          case 1: // ACCEPT
            return result(s.superAccept ? 'super-accept' : 'accept', i, 0, copyTo, copyLength, copyWatch, 0);
          case 5: // BREAK
            return result('no-match', i, 0, copyTo, copyLength, copyWatch, 0);
          case 6: // PRIORITY (value not serialized: bucket 0)
            return result('accept', i, 0, copyTo, copyLength, copyWatch, 0);
          case 2:
          case 3:
          case 4: {
            const target = r.target;
            if (target === fr.ztSource) continue;
            if (target === env.self) {
              if (fr.inbound) return result('super-accept', i, 0, copyTo, copyLength, copyWatch, 0);
              continue;
            }
            if (target === fr.ztDest) continue;
            if (c === 4) return result('redirect', i, target, copyTo, copyLength, copyWatch, 0);
            copyTo = target;
            copyLength = r.copyLength === 0 ? flen : Math.min(flen, r.copyLength);
            copyWatch = c === 3;
            continue;
          }
          default:
            continue;
        }
      } else {
        if (fr.inbound && c >= 2 && c <= 4 && r.target === env.self) s.superAccept = true;
        set = 1;
        continue;
      }
    }
    if (!set && !r.or) continue;
    const m = r.match(s);
    const contrib = m === FORCE_FALSE ? 0 : m === FORCE_TRUE ? 1 : m ^ r.not;
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
