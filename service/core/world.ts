// Worlds: the signed lists of roots a node orbits. A planet (type 1) is the one world every node
// holds; moons (type 127) are user-made and many. Layout (all integers big-endian):
//
//   offset  size  field
//   0       1     type: 0x01 planet, 0x7f moon (0x00 "null" parses but means nothing)
//   1       8     world id (u64; a moon's id is its first root's address)
//   9       8     timestamp (u64 ms, also the revision)
//   17      64    updatesMustBeSignedBy: C25519 public key that must sign the NEXT revision
//   81      96    signature of this revision (made with the previous revision's key)
//   177     1     root count (<= 4)
//   per root:     identity, public binary form (71) | endpoint count (1, <= 32) | endpoints (1/7/19 each)
//   moon only:    dictionary length (u16, written 0; readers skip that many bytes)
//
// Signed message: 7f x 8 | the serialization above without the signature field | f7 x 8.
// Update rule: a held world is replaced only by one with the same id and type, a strictly newer
// timestamp, and a signature that verifies under the HELD world's updatesMustBeSignedBy (so the
// key rotates one revision at a time). An empty slot takes anything (the caller decides when).
import { type Address, addressToString } from './address.js';
import {
  C25519_PUBLIC_KEY_LENGTH,
  C25519_SIGNATURE_LENGTH,
  type C25519KeyPair,
  c25519Sign,
  c25519Verify,
} from './c25519.js';
import { IDENTITY_PUBLIC_BINARY_LENGTH, type Identity, readIdentity, writeIdentity } from './identity.js';
import {
  compareInetAddress,
  type InetAddress,
  inetAddressSerializedLength,
  readInetAddress,
  writeInetAddress,
} from './inet-address.js';

export const WORLD_TYPE_NULL = 0;
export const WORLD_TYPE_PLANET = 1;
export const WORLD_TYPE_MOON = 127;
export type WorldType = typeof WORLD_TYPE_NULL | typeof WORLD_TYPE_PLANET | typeof WORLD_TYPE_MOON;

export const WORLD_MAX_ROOTS = 4;
export const WORLD_MAX_STABLE_ENDPOINTS_PER_ROOT = 32;
/** Upper bound of a serialized world (ZeroTier One's buffer size for one). */
export const WORLD_MAX_SERIALIZED_LENGTH =
  (1024 + 32 * WORLD_MAX_STABLE_ENDPOINTS_PER_ROOT) * WORLD_MAX_ROOTS +
  C25519_PUBLIC_KEY_LENGTH +
  C25519_SIGNATURE_LENGTH +
  128;
/** The planet id ZeroTier's mkworld uses by default (Earth's distance from the sun in km). */
export const WORLD_ID_EARTH = 149604618n;

const SIGN_PREFIX = 0x7f;
const SIGN_SUFFIX = 0xf7;

export interface WorldRoot {
  identity: Identity;
  stableEndpoints: InetAddress[];
}

export interface World {
  type: WorldType;
  /** u64 */
  id: bigint;
  /** u64, milliseconds */
  timestamp: bigint;
  /** 64 bytes */
  updatesMustBeSignedBy: Uint8Array;
  /** 96 bytes */
  signature: Uint8Array;
  roots: WorldRoot[];
}

export type WorldDecodeResult = { ok: true; world: World; length: number } | { ok: false; error: string };

export class WorldError extends Error {
  override readonly name = 'WorldError';
}

// ---------------------------------------------------------------------------------------------
// Codec

/** Bytes serializeWorld(world, forSign) produces. */
export function worldSerializedLength(world: World, forSign = false): number {
  let n = 1 + 8 + 8 + C25519_PUBLIC_KEY_LENGTH + (forSign ? 16 : C25519_SIGNATURE_LENGTH) + 1;
  for (const r of world.roots) {
    n += IDENTITY_PUBLIC_BINARY_LENGTH + 1;
    for (const ep of r.stableEndpoints) n += inetAddressSerializedLength(ep);
  }
  if (world.type === WORLD_TYPE_MOON) n += 2;
  return n;
}

/**
 * The binary form; with `forSign` the message that is signed (no signature field, framed by
 * 7f x 8 and f7 x 8). Throws WorldError if the world breaks the format's limits.
 */
export function serializeWorld(world: World, forSign = false): Uint8Array {
  if (world.roots.length > WORLD_MAX_ROOTS) throw new WorldError(`a world has at most ${WORLD_MAX_ROOTS} roots`);
  if (world.updatesMustBeSignedBy.length !== C25519_PUBLIC_KEY_LENGTH)
    throw new WorldError('updatesMustBeSignedBy must be 64 bytes');
  if (!forSign && world.signature.length !== C25519_SIGNATURE_LENGTH)
    throw new WorldError('signature must be 96 bytes');
  const out = new Uint8Array(worldSerializedLength(world, forSign));
  const dv = new DataView(out.buffer);
  let p = 0;
  if (forSign) {
    out.fill(SIGN_PREFIX, 0, 8);
    p = 8;
  }
  out[p++] = world.type;
  dv.setBigUint64(p, BigInt.asUintN(64, world.id));
  p += 8;
  dv.setBigUint64(p, BigInt.asUintN(64, world.timestamp));
  p += 8;
  out.set(world.updatesMustBeSignedBy, p);
  p += C25519_PUBLIC_KEY_LENGTH;
  if (!forSign) {
    out.set(world.signature, p);
    p += C25519_SIGNATURE_LENGTH;
  }
  out[p++] = world.roots.length;
  for (const r of world.roots) {
    if (r.stableEndpoints.length > WORLD_MAX_STABLE_ENDPOINTS_PER_ROOT)
      throw new WorldError(`a root has at most ${WORLD_MAX_STABLE_ENDPOINTS_PER_ROOT} stable endpoints`);
    p += writeIdentity(r.identity, out, p, false);
    out[p++] = r.stableEndpoints.length;
    for (const ep of r.stableEndpoints) p += writeInetAddress(ep, out, p);
  }
  if (world.type === WORLD_TYPE_MOON) p += 2; // dictionary length 0
  if (forSign) out.fill(SIGN_SUFFIX, p, p + 8);
  return out;
}

/** The exact bytes the world's signature covers. */
export function worldSignedMessage(world: World): Uint8Array {
  return serializeWorld(world, true);
}

/**
 * Decodes a world at `offset` (as it travels inside OK(HELLO), possibly followed by more bytes).
 * Never throws; `length` is the bytes consumed.
 */
export function readWorld(buf: Uint8Array, offset = 0): WorldDecodeResult {
  const fixed = 1 + 8 + 8 + C25519_PUBLIC_KEY_LENGTH + C25519_SIGNATURE_LENGTH + 1;
  if (offset < 0 || offset + fixed > buf.length) return { ok: false, error: 'truncated header' };
  const type = buf[offset]!;
  if (type !== WORLD_TYPE_NULL && type !== WORLD_TYPE_PLANET && type !== WORLD_TYPE_MOON)
    return { ok: false, error: `unknown world type ${type}` };
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = offset + 1;
  const id = dv.getBigUint64(p);
  p += 8;
  const timestamp = dv.getBigUint64(p);
  p += 8;
  const updatesMustBeSignedBy = buf.slice(p, p + C25519_PUBLIC_KEY_LENGTH);
  p += C25519_PUBLIC_KEY_LENGTH;
  const signature = buf.slice(p, p + C25519_SIGNATURE_LENGTH);
  p += C25519_SIGNATURE_LENGTH;
  const rootCount = buf[p++]!;
  if (rootCount > WORLD_MAX_ROOTS) return { ok: false, error: `too many roots (${rootCount})` };
  const roots: WorldRoot[] = [];
  for (let i = 0; i < rootCount; i++) {
    const idr = readIdentity(buf, p);
    if (!idr.ok) return { ok: false, error: `root ${i}: identity ${idr.error}` };
    if (idr.identity.hasPrivate) return { ok: false, error: `root ${i}: identity carries a private key` };
    p += idr.length;
    if (p >= buf.length) return { ok: false, error: `root ${i}: truncated endpoint count` };
    const epCount = buf[p++]!;
    if (epCount > WORLD_MAX_STABLE_ENDPOINTS_PER_ROOT)
      return { ok: false, error: `root ${i}: too many stable endpoints (${epCount})` };
    const stableEndpoints: InetAddress[] = [];
    for (let k = 0; k < epCount; k++) {
      const ep = readInetAddress(buf, p);
      if (!ep.ok) return { ok: false, error: `root ${i} endpoint ${k}: ${ep.error}` };
      p += ep.length;
      // Null and reserved kinds are dropped (ZeroTier One never writes reserved kinds).
      if (ep.address) stableEndpoints.push(ep.address);
    }
    roots.push({ identity: idr.identity, stableEndpoints });
  }
  if (type === WORLD_TYPE_MOON) {
    if (p + 2 > buf.length) return { ok: false, error: 'truncated dictionary length' };
    const dictLen = (buf[p]! << 8) | buf[p + 1]!;
    p += 2;
    if (p + dictLen > buf.length) return { ok: false, error: 'truncated dictionary' };
    p += dictLen; // reserved for future use; not covered by the signature
  }
  return {
    ok: true,
    world: { type: type as WorldType, id, timestamp, updatesMustBeSignedBy, signature, roots },
    length: p - offset,
  };
}

/** Decodes a whole buffer (a planet or .moon file): trailing bytes are an error. Throws WorldError. */
export function parseWorld(buf: Uint8Array): World {
  const r = readWorld(buf, 0);
  if (!r.ok) throw new WorldError(`invalid world: ${r.error}`);
  if (r.length !== buf.length) throw new WorldError(`invalid world: ${buf.length - r.length} trailing bytes`);
  return r.world;
}

// ---------------------------------------------------------------------------------------------
// Signing and verification

/** True if the world's signature verifies under `publicKey` (by default its own updatesMustBeSignedBy). */
export function verifyWorldSignature(world: World, publicKey: Uint8Array = world.updatesMustBeSignedBy): boolean {
  let msg: Uint8Array;
  try {
    msg = worldSignedMessage(world);
  } catch {
    return false;
  }
  return c25519Verify(publicKey, msg, world.signature);
}

export interface WorldDefinition {
  type: WorldType;
  id: bigint;
  timestamp: bigint;
  /** Public key that must sign the next revision. */
  updatesMustBeSignedBy: Uint8Array;
  roots: WorldRoot[];
}

/**
 * Builds and signs a world. `signWith` is the key pair of the previous revision (or, for a first
 * revision, usually the same pair whose public key is updatesMustBeSignedBy).
 */
export function makeWorld(def: WorldDefinition, signWith: Pick<C25519KeyPair, 'privateKey'>): World {
  const world: World = {
    type: def.type,
    id: def.id,
    timestamp: def.timestamp,
    updatesMustBeSignedBy: def.updatesMustBeSignedBy.slice(),
    signature: new Uint8Array(C25519_SIGNATURE_LENGTH),
    roots: def.roots.map((r) => ({ identity: r.identity.toPublic(), stableEndpoints: [...r.stableEndpoints] })),
  };
  world.signature = c25519Sign(signWith.privateKey, worldSignedMessage(world));
  return world;
}

/** Sorts roots and their endpoints the way ZeroTier One's genmoon does before signing. */
export function sortRoots(roots: WorldRoot[]): WorldRoot[] {
  return roots
    .map((r) => ({ identity: r.identity, stableEndpoints: [...r.stableEndpoints].sort(compareInetAddress) }))
    .sort((a, b) => a.identity.compare(b.identity));
}

// ---------------------------------------------------------------------------------------------
// Update rule

export type WorldUpdateCheck = { accept: true } | { accept: false; reason: string };

/**
 * Whether `update` may replace `current`. An empty slot (no world, a null type or id 0) takes any
 * world, as in ZeroTier One; otherwise: same id and type, strictly newer timestamp, and a signature
 * valid under `current.updatesMustBeSignedBy`.
 */
export function checkWorldUpdate(current: World | undefined, update: World): WorldUpdateCheck {
  if (!current || current.type === WORLD_TYPE_NULL || current.id === 0n) return { accept: true };
  if (update.id !== current.id)
    return { accept: false, reason: `world id ${worldIdToHex(update.id)} differs from ${worldIdToHex(current.id)}` };
  if (update.type !== current.type)
    return { accept: false, reason: `world type ${update.type} differs from ${current.type}` };
  if (update.timestamp <= current.timestamp)
    return { accept: false, reason: `timestamp ${update.timestamp} is not newer than ${current.timestamp}` };
  if (!verifyWorldSignature(update, current.updatesMustBeSignedBy))
    return { accept: false, reason: "signature does not verify under the current world's updatesMustBeSignedBy" };
  return { accept: true };
}

export function shouldBeReplacedBy(current: World | undefined, update: World): boolean {
  return checkWorldUpdate(current, update).accept;
}

/**
 * The first copy of a moon fetched from a seed is taken without a signature check when its id is
 * the one asked for and one of its roots has the seed's address.
 */
export function acceptMoonFromSeed(wantedId: bigint, seed: Address, moon: World): boolean {
  return moon.type === WORLD_TYPE_MOON && moon.id === wantedId && moon.roots.some((r) => r.identity.address === seed);
}

// ---------------------------------------------------------------------------------------------
// Names

/** 16 lowercase hex digits (a moon's id as used in file names and the CLI). */
export function worldIdToHex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16).padStart(16, '0');
}

/** Parses 1..16 hex digits; undefined otherwise. */
export function parseWorldId(s: string): bigint | undefined {
  return /^[0-9a-fA-F]{1,16}$/.test(s) ? BigInt(`0x${s}`) : undefined;
}

/** `<16 hex>.moon`, the name under moons.d/ and genmoon's output. */
export function moonFileName(id: bigint): string {
  return `${worldIdToHex(id)}.moon`;
}

/** The moon id initmoon gives a moon whose first root is `address`. */
export function moonIdForAddress(address: Address): bigint {
  return BigInt(`0x${addressToString(address)}`);
}

export function worldTypeName(t: WorldType): 'null' | 'planet' | 'moon' {
  return t === WORLD_TYPE_PLANET ? 'planet' : t === WORLD_TYPE_MOON ? 'moon' : 'null';
}
