// VL2 credentials (PROTOCOL-VL2.md §5): Certificate of Membership, Capability, Tag, Revocation,
// Certificate of Ownership, and the NETWORK_CREDENTIALS payload. All are signed by the network's
// controller (nwid >> 24) with its C25519 identity; every verifyX(…, controller) also refuses a controller
// identity that is not the one of the credential's network.
//
// Exported API (stable; the controller imports it):
//   COM:  type CertificateOfMembership, type ComQualifier, COM_QUALIFIER, COM_MAX_QUALIFIERS
//         createCom({ timestamp, maxDelta, networkId, issuedTo: Identity }) → unsigned COM (7 qualifiers)
//         signCom(com, signer: Identity) → COM    verifyCom(com, controller: Identity) → boolean
//         comAgrees(mine, theirs, theirIdentity) → boolean
//         comTimestamp(com) / comNetworkId(com) / comIssuedTo(com) → number | bigint | number (undefined if absent)
//         identityHashQualifiers(identity) → the four u64 of qualifiers 3..6
//         readCom(r) / writeCom(w, com) / decodeCom(bytes) → Vl2Decoded<COM> / encodeCom(com)
//   Capability: type Capability, type CustodyEntry, createCapability(...), signCapability(cap, signer, to),
//         verifyCapability(cap, controller, lookup?) → VerifyResult ('ok' | 'invalid' | { needIdentity }),
//         capabilityIssuedTo(cap), readCapability / writeCapability /
//         decodeCapability / encodeCapability
//   Tag:  type Tag, createTag(...), signTag(tag, signer), verifyTag(tag, controller) → boolean, read/write/decode/encode
//   Revocation: type Revocation, CREDENTIAL_TYPE, REVOCATION_FLAG_FAST_PROPAGATE, createRevocation(...),
//         signRevocation, verifyRevocation, read/write/decode/encode
//   COO:  type CertificateOfOwnership, type OwnedThing, THING_TYPE, ipThing(ip), createCoo(...), signCoo, verifyCoo,
//         cooOwnsIp(coo, ip) / cooOwnsMac(coo, mac), read/write/decode/encode
//   NETWORK_CREDENTIALS: type NetworkCredentials, decodeNetworkCredentials(payload), encodeNetworkCredentials(c)
//   Every decodeX(bytes) → Vl2Decoded<X> (never throws; trailing bytes are a failure); readX(r: WireReader) → X |
//   undefined for use inside bigger payloads; encodeX / writeX produce the exact wire form.
//
// ---- Certificate of Membership ------------------------------------------------------------------------------
//
//   +------+---------+--------------------------------------+----------+---------------------+
//   | 01   | Q [2]   | Q x ( id [8] | value [8] | delta [8]) | signer[5]| signature [96]      |
//   +------+---------+--------------------------------------+----------+---------------------+
//   signature only if signer != 0; Q <= 8; ids non-decreasing. Signed message = the 24·Q qualifier bytes.
//
// ---- Common tail (Capability, Tag, Revocation, COO) ----------------------------------------------------------
//
//   ... | sig type [1] = 1 | sig len [2] = 96 | signature [96] | ext len [2] = 0 | ext
//   Signing form = 7f x8 | body-without-signature | 00 00 | 7f x8.
//
// ---- Capability --------------------------------------------------------------------------------------------
//
//   nwid [8] | ts [8] | id [4] | N [2] | rules (binary, §8.1) | M [1] |
//   custody: { to [5] | from [5] | 1 | 0060 | sig [96] } x k (k <= M) | 00 00 00 00 00 | ext len [2]
//   signing form body = nwid .. M (custody excluded)
//
// ---- Tag ---------------------------------------------------------------------------------------------------
//
//   nwid [8] | ts [8] | id [4] | value [4] | issuedTo [5] | signer [5] | tail            (135 bytes)
//   signing form body = first 34 bytes
//
// ---- Revocation --------------------------------------------------------------------------------------------
//
//   0 [4] | id [4] | nwid [8] | 0 [4] | credential id [4] | threshold [8] | flags [8] | target [5] |
//   signer [5] | credential type [1] | tail                                               (152 bytes)
//   signing form body = first 51 bytes
//
// ---- Certificate of Ownership ------------------------------------------------------------------------------
//
//   nwid [8] | ts [8] | flags [8] | id [4] | K [2] | K x ( type [1] | value [16] ) | issuedTo [5] |
//   signer [5] | tail                                                                  (158 bytes with K = 1)
//   signing form body = everything before the signature type. Readers keep (and consume) at most 16 things.
//
// ---- NETWORK_CREDENTIALS payload ---------------------------------------------------------------------------
//
//   COM* | 00 | caps [2] cap* | tags [2] tag* | revocations [2] rev* | coos [2] coo*
//   (each section may be missing at the end of the packet)
import { createHash } from 'node:crypto';
import { type Identity, signWithIdentity, verifyWithIdentity } from '../identity.js';
import { WireReader, WireWriter } from '../wire.js';
import { type Vl2Decoded, vfail, vok } from './result.js';
import { MAX_CAPABILITY_RULES, type Rule, readRules, writeRules } from './rules.js';

export const SIGNATURE_LENGTH = 96;
export const SIGNATURE_TYPE_ED25519 = 1;
export const COM_MAX_QUALIFIERS = 8;
export const CAPABILITY_MAX_CUSTODY_CHAIN = 7;
export const COO_MAX_THINGS = 16;

/** What a signature check needs: 'ok', 'invalid', or the identity of this address first (WHOIS). */
export type VerifyResult = 'ok' | 'invalid' | { readonly needIdentity: number };

const EMPTY = new Uint8Array(0);

/** The controller address of a network (nwid >> 24): the only signer accepted for its credentials. */
function controllerOf(nwid: bigint | undefined): number {
  return nwid === undefined ? -1 : Number((nwid >> 24n) & 0xffffffffffn);
}
const MARK = new Uint8Array(8).fill(0x7f);

function signingForm(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 18);
  out.set(MARK, 0);
  out.set(body, 8);
  out.set(MARK, body.length + 10);
  return out;
}

/** Reads the common tail; returns the 96-byte signature or an empty one (other signature types). */
function readTail(r: WireReader): Uint8Array {
  const type = r.u8();
  const len = r.u16();
  let sig = EMPTY;
  if (type === SIGNATURE_TYPE_ED25519) {
    if (len !== SIGNATURE_LENGTH) {
      r.failed = true;
      r.pos = r.end;
      return EMPTY;
    }
    sig = r.bytesView(SIGNATURE_LENGTH).slice();
  } else {
    r.skip(len);
  }
  r.skip(r.u16());
  return sig;
}

function writeTail(w: WireWriter, sig: Uint8Array): void {
  if (sig.length === SIGNATURE_LENGTH) w.u8(SIGNATURE_TYPE_ED25519).u16(SIGNATURE_LENGTH).bytes(sig);
  else w.u8(0).u16(0);
  w.u16(0);
}

function decodeWith<T>(bytes: Uint8Array, read: (r: WireReader) => T | undefined, what: string): Vl2Decoded<T> {
  const r = new WireReader(bytes);
  const v = read(r);
  if (v === undefined || r.failed) return vfail('malformed', `${what} malformed or truncated`);
  if (r.remaining !== 0) return vfail('trailing-bytes', `${r.remaining} bytes after the ${what}`);
  return vok(v);
}

// ============================================================================================================
// Certificate of Membership

export interface ComQualifier {
  readonly id: bigint;
  readonly value: bigint;
  readonly maxDelta: bigint;
}

export interface CertificateOfMembership {
  readonly qualifiers: readonly ComQualifier[];
  /** Signer address; 0 = unsigned. */
  readonly signedBy: number;
  /** 96 bytes, or empty when unsigned. */
  readonly signature: Uint8Array;
}

export const COM_QUALIFIER = {
  TIMESTAMP: 0n,
  NETWORK_ID: 1n,
  ISSUED_TO: 2n,
  PUBLIC_KEY_HASH_0: 3n,
  PUBLIC_KEY_HASH_1: 4n,
  PUBLIC_KEY_HASH_2: 5n,
  PUBLIC_KEY_HASH_3: 6n,
} as const;

const U64_MAX = 0xffffffffffffffffn;

/** The four u64 qualifiers 3..6: SHA-384(address[5] ‖ public key[64]) bytes 0..31, big-endian. */
export function identityHashQualifiers(id: Identity): bigint[] {
  const h = createHash('sha384');
  const a = new Uint8Array(5);
  const x = id.address;
  a[0] = Math.floor(x / 0x100000000) & 0xff;
  a[1] = (x >>> 24) & 0xff;
  a[2] = (x >>> 16) & 0xff;
  a[3] = (x >>> 8) & 0xff;
  a[4] = x & 0xff;
  h.update(a);
  h.update(id.publicKey);
  const d = new Uint8Array(h.digest());
  const out: bigint[] = [];
  for (let i = 0; i < 4; i++) out.push(new WireReader(d, i * 8).u64());
  return out;
}

/** An unsigned 1.14.1-style COM: timestamp, network ID, issued-to and the identity hash. */
export function createCom(p: {
  timestamp: number;
  maxDelta: number;
  networkId: bigint;
  issuedTo: Identity;
}): CertificateOfMembership {
  const hq = identityHashQualifiers(p.issuedTo);
  return {
    qualifiers: [
      { id: 0n, value: BigInt(p.timestamp), maxDelta: BigInt(p.maxDelta) },
      { id: 1n, value: p.networkId, maxDelta: 0n },
      { id: 2n, value: BigInt(p.issuedTo.address), maxDelta: U64_MAX },
      { id: 3n, value: hq[0]!, maxDelta: U64_MAX },
      { id: 4n, value: hq[1]!, maxDelta: U64_MAX },
      { id: 5n, value: hq[2]!, maxDelta: U64_MAX },
      { id: 6n, value: hq[3]!, maxDelta: U64_MAX },
    ],
    signedBy: 0,
    signature: EMPTY,
  };
}

function comQualifier(com: CertificateOfMembership, id: bigint): bigint | undefined {
  for (const q of com.qualifiers) if (q.id === id) return q.value;
  return undefined;
}

export function comTimestamp(com: CertificateOfMembership): number | undefined {
  const v = comQualifier(com, 0n);
  return v === undefined ? undefined : Number(v);
}

export function comNetworkId(com: CertificateOfMembership): bigint | undefined {
  return comQualifier(com, 1n);
}

export function comIssuedTo(com: CertificateOfMembership): number | undefined {
  const v = comQualifier(com, 2n);
  return v === undefined ? undefined : Number(v & 0xffffffffffn);
}

function comSignedMessage(com: CertificateOfMembership): Uint8Array {
  const w = new WireWriter(com.qualifiers.length * 24);
  for (const q of com.qualifiers) w.u64(q.id).u64(q.value).u64(q.maxDelta);
  return w.finish();
}

export function signCom(com: CertificateOfMembership, signer: Identity): CertificateOfMembership {
  return {
    qualifiers: com.qualifiers,
    signedBy: signer.address,
    signature: signWithIdentity(signer, comSignedMessage(com)),
  };
}

/** The COM is signed by `controller` and the signature verifies. */
export function verifyCom(com: CertificateOfMembership, controller: Identity): boolean {
  if (com.signedBy !== controller.address || com.signature.length !== SIGNATURE_LENGTH) return false;
  if (controllerOf(comNetworkId(com)) !== controller.address) return false;
  if (com.qualifiers.length > COM_MAX_QUALIFIERS) return false;
  return verifyWithIdentity(controller, comSignedMessage(com), com.signature);
}

/**
 * Does my COM accept theirs (§5.1): every qualifier of mine present in theirs within my max delta, and,
 * if mine binds an identity hash, theirs binds the sender's actual identity.
 */
export function comAgrees(
  mine: CertificateOfMembership,
  theirs: CertificateOfMembership,
  theirIdentity: Identity,
): boolean {
  if (mine.qualifiers.length === 0 || theirs.qualifiers.length === 0) return false;
  // Their qualifiers by ID (a repeated ID: the last one counts, as in 1.14.1's map).
  const other = new Map<bigint, bigint>();
  for (const q of theirs.qualifiers) other.set(q.id, q.value);
  let checkHash = false;
  for (const q of mine.qualifiers) {
    const tv = other.get(q.id);
    if (tv === undefined) return false;
    const diff = q.value > tv ? q.value - tv : tv - q.value;
    if (diff > q.maxDelta) return false;
    if (q.id >= 3n && q.id <= 6n) checkHash = true;
  }
  if (checkHash) {
    const h = identityHashQualifiers(theirIdentity);
    for (let i = 0; i < 4; i++) if (other.get(BigInt(3 + i)) !== h[i]) return false;
  }
  return true;
}

export function readCom(r: WireReader): CertificateOfMembership | undefined {
  if (r.u8() !== 1) {
    r.failed = true;
    r.pos = r.end;
    return undefined;
  }
  const n = r.u16();
  if (n > COM_MAX_QUALIFIERS) {
    r.failed = true;
    r.pos = r.end;
    return undefined;
  }
  const qualifiers: ComQualifier[] = [];
  let last = 0n;
  for (let i = 0; i < n; i++) {
    const id = r.u64();
    const value = r.u64();
    const maxDelta = r.u64();
    if (id < last) {
      r.failed = true;
      r.pos = r.end;
      return undefined;
    }
    last = id;
    qualifiers.push({ id, value, maxDelta });
  }
  const signedBy = r.address();
  const signature = signedBy !== 0 ? r.bytesView(SIGNATURE_LENGTH).slice() : EMPTY;
  if (r.failed) return undefined;
  return { qualifiers, signedBy, signature };
}

export function writeCom(w: WireWriter, com: CertificateOfMembership): void {
  w.u8(1).u16(com.qualifiers.length);
  for (const q of com.qualifiers) w.u64(q.id).u64(q.value).u64(q.maxDelta);
  w.address(com.signedBy);
  if (com.signedBy !== 0) {
    const sig = new Uint8Array(SIGNATURE_LENGTH);
    sig.set(com.signature.subarray(0, SIGNATURE_LENGTH));
    w.bytes(sig);
  }
}

export function decodeCom(bytes: Uint8Array): Vl2Decoded<CertificateOfMembership> {
  return decodeWith(bytes, readCom, 'COM');
}

export function encodeCom(com: CertificateOfMembership): Uint8Array {
  const w = new WireWriter(8 + 24 * com.qualifiers.length + SIGNATURE_LENGTH);
  writeCom(w, com);
  return w.finish();
}

// ============================================================================================================
// Capability

export interface CustodyEntry {
  readonly to: number;
  readonly from: number;
  /** 96 bytes (empty if the entry carried another signature type). */
  readonly signature: Uint8Array;
}

export interface Capability {
  readonly networkId: bigint;
  readonly timestamp: number;
  readonly id: number;
  readonly rules: readonly Rule[];
  /** 1..7; the controller issues 1. */
  readonly maxCustodyChainLength: number;
  readonly custody: readonly CustodyEntry[];
}

export function createCapability(p: {
  networkId: bigint;
  timestamp: number;
  id: number;
  rules: readonly Rule[];
  maxCustodyChainLength?: number;
}): Capability {
  return {
    networkId: p.networkId,
    timestamp: p.timestamp,
    id: p.id >>> 0,
    rules: p.rules,
    maxCustodyChainLength: p.maxCustodyChainLength ?? 1,
    custody: [],
  };
}

function capabilitySigningBody(c: Capability): Uint8Array {
  const w = new WireWriter(32 + c.rules.length * 8);
  w.u64(c.networkId).u64(BigInt(c.timestamp)).u32(c.id).u16(c.rules.length);
  writeRules(w, c.rules);
  w.u8(c.maxCustodyChainLength);
  return signingForm(w.finish());
}

/** Appends a custody entry signer → to (the first must be signed by the controller). */
export function signCapability(c: Capability, signer: Identity, to: number): Capability {
  const sig = signWithIdentity(signer, capabilitySigningBody(c));
  return { ...c, custody: [...c.custody, { to, from: signer.address, signature: sig }] };
}

/**
 * Checks the custody chain: entry 0 from the controller, each later entry from the previous `to`, every
 * signature valid. `lookup` resolves non-controller signers.
 */
export function verifyCapability(
  c: Capability,
  controller: Identity,
  lookup: (address: number) => Identity | undefined = () => undefined,
): VerifyResult {
  if (c.custody.length === 0 || c.custody.length > c.maxCustodyChainLength) return 'invalid';
  if (controllerOf(c.networkId) !== controller.address) return 'invalid';
  const body = capabilitySigningBody(c);
  for (let i = 0; i < c.custody.length; i++) {
    const e = c.custody[i]!;
    if (i === 0 ? e.from !== controller.address : e.from !== c.custody[i - 1]!.to) return 'invalid';
    const id = e.from === controller.address ? controller : lookup(e.from);
    if (!id) return { needIdentity: e.from };
    if (e.signature.length !== SIGNATURE_LENGTH || !verifyWithIdentity(id, body, e.signature)) return 'invalid';
  }
  return 'ok';
}

/** The address the capability was last handed to (the holder). */
export function capabilityIssuedTo(c: Capability): number | undefined {
  return c.custody.length ? c.custody[c.custody.length - 1]!.to : undefined;
}

export function readCapability(r: WireReader): Capability | undefined {
  const networkId = r.u64();
  const timestamp = Number(r.u64());
  const id = r.u32();
  const n = r.u16();
  if (r.failed || n > MAX_CAPABILITY_RULES) return fail(r);
  const rules = readRules(r, n);
  if (!rules) return undefined;
  const maxCustodyChainLength = r.u8();
  if (r.failed || maxCustodyChainLength < 1 || maxCustodyChainLength > CAPABILITY_MAX_CUSTODY_CHAIN) return fail(r);
  const custody: CustodyEntry[] = [];
  for (;;) {
    const to = r.address();
    if (r.failed) return undefined;
    if (to === 0) break;
    if (custody.length >= maxCustodyChainLength) return fail(r);
    const from = r.address();
    const sigType = r.u8();
    const len = r.u16();
    let signature = EMPTY;
    if (sigType === SIGNATURE_TYPE_ED25519) {
      if (len !== SIGNATURE_LENGTH) return fail(r);
      signature = r.bytesView(SIGNATURE_LENGTH).slice();
    } else r.skip(len);
    if (r.failed) return undefined;
    custody.push({ to, from, signature });
  }
  r.skip(r.u16());
  if (r.failed) return undefined;
  return { networkId, timestamp, id, rules, maxCustodyChainLength, custody };
}

function fail(r: WireReader): undefined {
  r.failed = true;
  r.pos = r.end;
  return undefined;
}

export function writeCapability(w: WireWriter, c: Capability): void {
  w.u64(c.networkId).u64(BigInt(c.timestamp)).u32(c.id).u16(c.rules.length);
  writeRules(w, c.rules);
  w.u8(c.maxCustodyChainLength);
  for (const e of c.custody) {
    w.address(e.to).address(e.from);
    if (e.signature.length === SIGNATURE_LENGTH) w.u8(SIGNATURE_TYPE_ED25519).u16(SIGNATURE_LENGTH).bytes(e.signature);
    else w.u8(0).u16(0);
  }
  w.address(0).u16(0);
}

export function decodeCapability(bytes: Uint8Array): Vl2Decoded<Capability> {
  return decodeWith(bytes, readCapability, 'capability');
}

export function encodeCapability(c: Capability): Uint8Array {
  const w = new WireWriter(256);
  writeCapability(w, c);
  return w.finish();
}

// ============================================================================================================
// Tag

export interface Tag {
  readonly networkId: bigint;
  readonly timestamp: number;
  readonly id: number;
  readonly value: number;
  readonly issuedTo: number;
  readonly signedBy: number;
  readonly signature: Uint8Array;
}

export function createTag(p: {
  networkId: bigint;
  timestamp: number;
  id: number;
  value: number;
  issuedTo: number;
}): Tag {
  return { ...p, id: p.id >>> 0, value: p.value >>> 0, signedBy: 0, signature: EMPTY };
}

function tagBody(t: Tag, signedBy: number): Uint8Array {
  const w = new WireWriter(34);
  w.u64(t.networkId).u64(BigInt(t.timestamp)).u32(t.id).u32(t.value).address(t.issuedTo).address(signedBy);
  return w.finish();
}

export function signTag(t: Tag, signer: Identity): Tag {
  return {
    ...t,
    signedBy: signer.address,
    signature: signWithIdentity(signer, signingForm(tagBody(t, signer.address))),
  };
}

export function verifyTag(t: Tag, controller: Identity): boolean {
  if (t.signedBy !== controller.address || t.signature.length !== SIGNATURE_LENGTH) return false;
  if (controllerOf(t.networkId) !== controller.address) return false;
  return verifyWithIdentity(controller, signingForm(tagBody(t, t.signedBy)), t.signature);
}

export function readTag(r: WireReader): Tag | undefined {
  const networkId = r.u64();
  const timestamp = Number(r.u64());
  const id = r.u32();
  const value = r.u32();
  const issuedTo = r.address();
  const signedBy = r.address();
  const signature = readTail(r);
  if (r.failed) return undefined;
  return { networkId, timestamp, id, value, issuedTo, signedBy, signature };
}

export function writeTag(w: WireWriter, t: Tag): void {
  w.bytes(tagBody(t, t.signedBy));
  writeTail(w, t.signature);
}

export function decodeTag(bytes: Uint8Array): Vl2Decoded<Tag> {
  return decodeWith(bytes, readTag, 'tag');
}

export function encodeTag(t: Tag): Uint8Array {
  const w = new WireWriter(135);
  writeTag(w, t);
  return w.finish();
}

// ============================================================================================================
// Revocation

export const CREDENTIAL_TYPE = {
  NULL: 0,
  COM: 1,
  CAPABILITY: 2,
  TAG: 3,
  COO: 4,
  REVOCATION: 6,
} as const;

export const REVOCATION_FLAG_FAST_PROPAGATE = 0x1n;

export interface Revocation {
  readonly id: number;
  readonly networkId: bigint;
  readonly credentialId: number;
  readonly threshold: number;
  readonly flags: bigint;
  readonly target: number;
  readonly signedBy: number;
  readonly credentialType: number;
  readonly signature: Uint8Array;
}

export function createRevocation(p: {
  id: number;
  networkId: bigint;
  credentialId: number;
  threshold: number;
  flags?: bigint;
  target: number;
  credentialType: number;
}): Revocation {
  return {
    id: p.id >>> 0,
    networkId: p.networkId,
    credentialId: p.credentialId >>> 0,
    threshold: p.threshold,
    flags: p.flags ?? 0n,
    target: p.target,
    signedBy: 0,
    credentialType: p.credentialType,
    signature: EMPTY,
  };
}

function revocationBody(v: Revocation, signedBy: number): Uint8Array {
  const w = new WireWriter(51);
  w.u32(0)
    .u32(v.id)
    .u64(v.networkId)
    .u32(0)
    .u32(v.credentialId)
    .u64(BigInt(v.threshold))
    .u64(v.flags)
    .address(v.target)
    .address(signedBy)
    .u8(v.credentialType);
  return w.finish();
}

export function signRevocation(v: Revocation, signer: Identity): Revocation {
  return {
    ...v,
    signedBy: signer.address,
    signature: signWithIdentity(signer, signingForm(revocationBody(v, signer.address))),
  };
}

export function verifyRevocation(v: Revocation, controller: Identity): boolean {
  if (v.signedBy !== controller.address || v.signature.length !== SIGNATURE_LENGTH) return false;
  if (controllerOf(v.networkId) !== controller.address) return false;
  return verifyWithIdentity(controller, signingForm(revocationBody(v, v.signedBy)), v.signature);
}

export function readRevocation(r: WireReader): Revocation | undefined {
  r.skip(4);
  const id = r.u32();
  const networkId = r.u64();
  r.skip(4);
  const credentialId = r.u32();
  const threshold = Number(r.u64());
  const flags = r.u64();
  const target = r.address();
  const signedBy = r.address();
  const credentialType = r.u8();
  const signature = readTail(r);
  if (r.failed) return undefined;
  return { id, networkId, credentialId, threshold, flags, target, signedBy, credentialType, signature };
}

export function writeRevocation(w: WireWriter, v: Revocation): void {
  w.bytes(revocationBody(v, v.signedBy));
  writeTail(w, v.signature);
}

export function decodeRevocation(bytes: Uint8Array): Vl2Decoded<Revocation> {
  return decodeWith(bytes, readRevocation, 'revocation');
}

export function encodeRevocation(v: Revocation): Uint8Array {
  const w = new WireWriter(152);
  writeRevocation(w, v);
  return w.finish();
}

// ============================================================================================================
// Certificate of Ownership

export const THING_TYPE = { NULL: 0, MAC: 1, IPV4: 2, IPV6: 3 } as const;

export interface OwnedThing {
  /** THING_TYPE value. */
  readonly type: number;
  /** 6 (MAC), 4 (IPv4) or 16 (IPv6) bytes; other types: the 16 raw bytes. */
  readonly value: Uint8Array;
}

export interface CertificateOfOwnership {
  readonly networkId: bigint;
  readonly timestamp: number;
  readonly flags: bigint;
  readonly id: number;
  readonly things: readonly OwnedThing[];
  readonly issuedTo: number;
  readonly signedBy: number;
  readonly signature: Uint8Array;
}

/** A thing for an IP (4 or 16 bytes). */
export function ipThing(ip: Uint8Array): OwnedThing {
  return { type: ip.length === 4 ? THING_TYPE.IPV4 : THING_TYPE.IPV6, value: ip.slice() };
}

export function createCoo(p: {
  networkId: bigint;
  timestamp: number;
  id: number;
  issuedTo: number;
  things: readonly OwnedThing[];
}): CertificateOfOwnership {
  return {
    networkId: p.networkId,
    timestamp: p.timestamp,
    flags: 0n,
    id: p.id >>> 0,
    things: p.things.slice(0, COO_MAX_THINGS),
    issuedTo: p.issuedTo,
    signedBy: 0,
    signature: EMPTY,
  };
}

function thingLength(type: number): number {
  return type === THING_TYPE.MAC ? 6 : type === THING_TYPE.IPV4 ? 4 : 16;
}

function cooBody(c: CertificateOfOwnership, signedBy: number): Uint8Array {
  const w = new WireWriter(40 + 17 * c.things.length);
  w.u64(c.networkId).u64(BigInt(c.timestamp)).u64(c.flags).u32(c.id).u16(c.things.length);
  for (const t of c.things) {
    const v = new Uint8Array(16);
    v.set(t.value.subarray(0, 16));
    w.u8(t.type).bytes(v);
  }
  w.address(c.issuedTo).address(signedBy);
  return w.finish();
}

export function signCoo(c: CertificateOfOwnership, signer: Identity): CertificateOfOwnership {
  return {
    ...c,
    signedBy: signer.address,
    signature: signWithIdentity(signer, signingForm(cooBody(c, signer.address))),
  };
}

export function verifyCoo(c: CertificateOfOwnership, controller: Identity): boolean {
  if (c.signedBy !== controller.address || c.signature.length !== SIGNATURE_LENGTH) return false;
  if (controllerOf(c.networkId) !== controller.address) return false;
  return verifyWithIdentity(controller, signingForm(cooBody(c, c.signedBy)), c.signature);
}

function thingIs(t: OwnedThing, type: number, value: Uint8Array): boolean {
  if (t.type !== type) return false;
  for (let i = 0; i < value.length; i++) if (t.value[i] !== value[i]) return false;
  return true;
}

/** The COO lists this IPv4 (4 bytes) or IPv6 (16 bytes) address. */
export function cooOwnsIp(c: CertificateOfOwnership, ip: Uint8Array): boolean {
  const type = ip.length === 4 ? THING_TYPE.IPV4 : THING_TYPE.IPV6;
  for (const t of c.things) if (thingIs(t, type, ip)) return true;
  return false;
}

/** The COO lists this MAC (6 bytes). */
export function cooOwnsMac(c: CertificateOfOwnership, mac: Uint8Array): boolean {
  for (const t of c.things) if (thingIs(t, THING_TYPE.MAC, mac)) return true;
  return false;
}

export function readCoo(r: WireReader): CertificateOfOwnership | undefined {
  const networkId = r.u64();
  const timestamp = Number(r.u64());
  const flags = r.u64();
  const id = r.u32();
  const k = r.u16();
  const things: OwnedThing[] = [];
  for (let i = 0; i < k && i < COO_MAX_THINGS; i++) {
    const type = r.u8();
    const raw = r.bytesView(16);
    things.push({ type, value: raw.slice(0, thingLength(type)) });
  }
  const issuedTo = r.address();
  const signedBy = r.address();
  const signature = readTail(r);
  if (r.failed) return undefined;
  return { networkId, timestamp, flags, id, things, issuedTo, signedBy, signature };
}

export function writeCoo(w: WireWriter, c: CertificateOfOwnership): void {
  w.bytes(cooBody(c, c.signedBy));
  writeTail(w, c.signature);
}

export function decodeCoo(bytes: Uint8Array): Vl2Decoded<CertificateOfOwnership> {
  return decodeWith(bytes, readCoo, 'COO');
}

export function encodeCoo(c: CertificateOfOwnership): Uint8Array {
  const w = new WireWriter(160);
  writeCoo(w, c);
  return w.finish();
}

// ============================================================================================================
// NETWORK_CREDENTIALS (verb 0x0a)

export interface NetworkCredentials {
  readonly coms: readonly CertificateOfMembership[];
  readonly capabilities: readonly Capability[];
  readonly tags: readonly Tag[];
  readonly revocations: readonly Revocation[];
  readonly coos: readonly CertificateOfOwnership[];
}

export function decodeNetworkCredentials(payload: Uint8Array): Vl2Decoded<NetworkCredentials> {
  const r = new WireReader(payload);
  const coms: CertificateOfMembership[] = [];
  const capabilities: Capability[] = [];
  const tags: Tag[] = [];
  const revocations: Revocation[] = [];
  const coos: CertificateOfOwnership[] = [];
  while (r.remaining > 0 && payload[r.pos] !== 0) {
    const c = readCom(r);
    if (!c) return vfail('malformed', `COM ${coms.length}`);
    coms.push(c);
  }
  r.skip(Math.min(1, r.remaining));
  const sections: Array<[string, (r: WireReader) => unknown, unknown[]]> = [
    ['capability', readCapability, capabilities],
    ['tag', readTag, tags],
    ['revocation', readRevocation, revocations],
    ['COO', readCoo, coos],
  ];
  for (const [what, read, into] of sections) {
    if (r.remaining === 0) break;
    const n = r.u16();
    for (let i = 0; i < n; i++) {
      const v = read(r);
      if (v === undefined || r.failed) return vfail('malformed', `${what} ${i}`);
      into.push(v);
    }
    if (r.failed) return vfail('too-short', `${what} count`);
  }
  return vok({ coms, capabilities, tags, revocations, coos });
}

export function encodeNetworkCredentials(c: Partial<NetworkCredentials>): Uint8Array {
  const w = new WireWriter(512);
  for (const com of c.coms ?? []) writeCom(w, com);
  w.u8(0);
  w.u16(c.capabilities?.length ?? 0);
  for (const x of c.capabilities ?? []) writeCapability(w, x);
  w.u16(c.tags?.length ?? 0);
  for (const x of c.tags ?? []) writeTag(w, x);
  w.u16(c.revocations?.length ?? 0);
  for (const x of c.revocations ?? []) writeRevocation(w, x);
  w.u16(c.coos?.length ?? 0);
  for (const x of c.coos ?? []) writeCoo(w, x);
  return w.finish();
}
