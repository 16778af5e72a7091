// ZeroTier identity, type 0 (C25519): a 40-bit address bound to a 64-byte public key by a
// memory-hard proof of work, plus, for our own identity, the 64-byte private key.
//
// Text:   <10 hex address>:0:<128 hex public>[:<128 hex private>]   (no trailing newline)
// Binary: offset 0  address (5, big-endian)
//                5  type (1) = 0x00
//                6  public key (64) = X25519 (32) | Ed25519 (32)
//               70  private key length (1) = 0 or 64
//               71  private key (0 or 64) = X25519 scalar (32) | Ed25519 seed (32)
//
// Address derivation (the memory-hard hash, ZeroTier One 1.14.1):
//   D = SHA-512(pub); Salsa20/20 keystream S under key D[0:32], nonce D[32:40], counter from 0.
//   M = 2 MiB; block 0 = S block 0; block n = block n-1 XOR S block n   (S blocks 0..32767)
//   for each pair of 8-byte words (i, i+1) of M, i = 0, 2, ..:
//     idx1 = BE64(M[i]) mod 8, idx2 = BE64(M[i+1]) mod 262144
//     swap D word idx1 with M word idx2, then D ^= next 64 keystream bytes   (S blocks 32768..163839)
//   Valid when D[0] < 17; the address is D[59:64] and must not be reserved.
//
// Stricter than ZeroTier One: validateIdentity() also requires that a private key produces
// exactly the public key it is stored with.
import { optionalNativePart } from '../../native/index.js';
import {
  ADDRESS_LENGTH,
  type Address,
  addressFromBytes,
  addressToString,
  isReservedAddress,
  parseAddress,
  writeAddress,
} from './address.js';
import {
  bytesEqual,
  C25519_PRIVATE_KEY_LENGTH,
  C25519_PUBLIC_KEY_LENGTH,
  c25519Agree,
  c25519PublicFromPrivate,
  c25519SignExpanded,
  c25519Verify,
  ed25519PublicKey,
  ed25519SigningKey,
  fromHex,
  sodium,
  toHex,
  x25519PublicKey,
} from './c25519.js';

export const IDENTITY_TYPE_C25519 = 0;
/** Binary length of a public identity (what HELLO, OK(WHOIS) and worlds carry). */
export const IDENTITY_PUBLIC_BINARY_LENGTH = ADDRESS_LENGTH + 1 + C25519_PUBLIC_KEY_LENGTH + 1; // 71
/** Binary length with the private key. */
export const IDENTITY_SECRET_BINARY_LENGTH = IDENTITY_PUBLIC_BINARY_LENGTH + C25519_PRIVATE_KEY_LENGTH; // 135
/** A digest whose first byte is below this is an acceptable proof of work. */
export const IDENTITY_HASHCASH_FIRST_BYTE_LESS_THAN = 17;
const MEMORY_HARD_BYTES = 2097152;

export type IdentityErrorCode = 'PARSE' | 'RESERVED_ADDRESS' | 'ADDRESS_MISMATCH' | 'KEY_MISMATCH' | 'NO_PRIVATE_KEY';

/** A typed failure with a stable code: parsing, validation, or use of a key that is not there. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  constructor(
    readonly code: IdentityErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class Identity {
  /** Lazily expanded Ed25519 signing key (libsodium's 64-byte form). */
  #signingKey: Uint8Array | undefined;

  /**
   * Builds an identity from its parts without validating it (see validateIdentity).
   * Throws on wrong key lengths or an out-of-range address.
   */
  constructor(
    readonly address: Address,
    readonly publicKey: Uint8Array,
    readonly privateKey?: Uint8Array,
  ) {
    if (!Number.isInteger(address) || address < 0 || address > 0xffffffffff)
      throw new IdentityError('PARSE', 'address out of range');
    if (publicKey.length !== C25519_PUBLIC_KEY_LENGTH)
      throw new IdentityError('PARSE', `public key must be ${C25519_PUBLIC_KEY_LENGTH} bytes`);
    if (privateKey !== undefined && privateKey.length !== C25519_PRIVATE_KEY_LENGTH)
      throw new IdentityError('PARSE', `private key must be ${C25519_PRIVATE_KEY_LENGTH} bytes`);
  }

  get hasPrivate(): boolean {
    return this.privateKey !== undefined;
  }

  /** Text form; the private key only when asked for and present. */
  toString(includePrivate = false): string {
    return formatIdentity(this, includePrivate);
  }

  /** The same identity without its private key. */
  toPublic(): Identity {
    return this.privateKey ? new Identity(this.address, this.publicKey) : this;
  }

  /** Same address and public key (private keys are not compared, as in ZeroTier One). */
  equals(other: Identity): boolean {
    return this.address === other.address && bytesEqual(this.publicKey, other.publicKey);
  }

  /** Orders by address, then public key bytes (the order genmoon sorts roots in). */
  compare(other: Identity): number {
    if (this.address !== other.address) return this.address < other.address ? -1 : 1;
    return Buffer.compare(this.publicKey, other.publicKey);
  }

  /** @internal the expanded signing key, computed once. */
  signingKey(): Uint8Array {
    if (!this.privateKey) throw new IdentityError('NO_PRIVATE_KEY', 'identity has no private key');
    this.#signingKey ??= ed25519SigningKey(this.privateKey);
    return this.#signingKey;
  }
}

// ---------------------------------------------------------------------------------------------
// Memory-hard hash and address derivation

let scratchMem: Uint8Array | undefined;
let scratchKs: Uint8Array | undefined;

type NativeHash = (pub: Uint8Array, out: Uint8Array) => void;

/** The native addon's part "identity" (native/src/identity.cc); native/index.ts decides when to fall back. */
const nativeHash = (optionalNativePart('identity') as { memoryHardHash?: NativeHash } | undefined)?.memoryHardHash;

/** Which implementation memoryHardHash uses: 'native' (the addon) or 'js' (no addon, or NETCON_IDENTITY_JS=1). */
export const memoryHardHashImplementation: 'native' | 'js' = nativeHash ? 'native' : 'js';

/**
 * The 64-byte digest of ZeroTier's memory-hard hash over a 64-byte public key (see the top of
 * this file): 2 MiB of memory and ~164k Salsa20/20 blocks. Native when the addon is built.
 */
export function memoryHardHash(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== C25519_PUBLIC_KEY_LENGTH)
    throw new RangeError(`public key must be ${C25519_PUBLIC_KEY_LENGTH} bytes`);
  if (!nativeHash) return memoryHardHashJs(publicKey);
  const out = new Uint8Array(64);
  nativeHash(publicKey, out);
  return out;
}

/** The same hash in JavaScript (with sodium-native's Salsa20/20): the reference and the fallback. */
export function memoryHardHashJs(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== C25519_PUBLIC_KEY_LENGTH)
    throw new RangeError(`public key must be ${C25519_PUBLIC_KEY_LENGTH} bytes`);
  const words = MEMORY_HARD_BYTES / 8; // 262144 eight-byte words
  const rounds = words / 2; // 131072 swaps, one keystream block each
  scratchMem ??= new Uint8Array(MEMORY_HARD_BYTES);
  scratchKs ??= new Uint8Array(rounds * 64);
  const mem = scratchMem;
  const ks = scratchKs;
  const mem32 = new Uint32Array(mem.buffer, mem.byteOffset, MEMORY_HARD_BYTES / 4);
  const ks32 = new Uint32Array(ks.buffer, ks.byteOffset, ks.length / 4);

  const digest = new Uint8Array(64);
  sodium.crypto_hash_sha512(digest, publicKey);
  const d = new Uint32Array(digest.buffer, 0, 16);
  const key = digest.slice(0, 32);
  const nonce = digest.slice(32, 40);

  // Fill: keystream blocks 0..32767, each block chained (XORed) onto the previous one.
  sodium.crypto_stream_salsa20(mem, nonce, key);
  for (let i = 16; i < mem32.length; i++) mem32[i]! ^= mem32[i - 16]!;

  // Walk: keystream blocks 32768..163839, continuing the same stream.
  ks.fill(0);
  sodium.crypto_stream_salsa20_xor_ic(ks, ks, nonce, MEMORY_HARD_BYTES / 64, key);
  // Word indexes are read big-endian: only the low bits of the last bytes of each word matter.
  for (let r = 0, b = 0, k = 0; r < rounds; r++, b += 16, k += 16) {
    const idx1 = (mem[b + 7]! & 7) << 1;
    const idx2 = (((mem[b + 13]! & 3) << 16) | (mem[b + 14]! << 8) | mem[b + 15]!) << 1;
    let t = mem32[idx2]!;
    mem32[idx2] = d[idx1]!;
    d[idx1] = t;
    t = mem32[idx2 + 1]!;
    mem32[idx2 + 1] = d[idx1 + 1]!;
    d[idx1 + 1] = t;
    d[0]! ^= ks32[k]!;
    d[1]! ^= ks32[k + 1]!;
    d[2]! ^= ks32[k + 2]!;
    d[3]! ^= ks32[k + 3]!;
    d[4]! ^= ks32[k + 4]!;
    d[5]! ^= ks32[k + 5]!;
    d[6]! ^= ks32[k + 6]!;
    d[7]! ^= ks32[k + 7]!;
    d[8]! ^= ks32[k + 8]!;
    d[9]! ^= ks32[k + 9]!;
    d[10]! ^= ks32[k + 10]!;
    d[11]! ^= ks32[k + 11]!;
    d[12]! ^= ks32[k + 12]!;
    d[13]! ^= ks32[k + 13]!;
    d[14]! ^= ks32[k + 14]!;
    d[15]! ^= ks32[k + 15]!;
  }
  return digest;
}

/** What the memory-hard hash says about a public key. */
export interface AddressDerivation {
  /** The full 64-byte digest. */
  digest: Uint8Array;
  /** digest[59:64] as an address. */
  address: Address;
  /** digest[0] < 17 and the address is not reserved. */
  acceptable: boolean;
}

export function deriveAddress(publicKey: Uint8Array): AddressDerivation {
  const digest = memoryHardHash(publicKey);
  const address = addressFromBytes(digest, 59);
  return {
    digest,
    address,
    acceptable: digest[0]! < IDENTITY_HASHCASH_FIRST_BYTE_LESS_THAN && !isReservedAddress(address),
  };
}

export interface GenerateOptions {
  /** Source of random bytes: the host's (service/random.ts); the core draws none itself. */
  random: (n: number) => Uint8Array;
  /** Called after every memory-hard attempt with the attempt count so far (for benchmarks). */
  onAttempt?: (attempts: number) => void;
}

/**
 * A new identity with a private key. Keeps one random Ed25519 seed and draws fresh X25519 scalars
 * until the memory-hard hash of the public key is acceptable (on average ~15 attempts).
 */
export function generateIdentity(options: GenerateOptions): Identity {
  const random = options.random;
  const privateKey = new Uint8Array(C25519_PRIVATE_KEY_LENGTH);
  privateKey.set(random(32), 32);
  const publicKey = new Uint8Array(C25519_PUBLIC_KEY_LENGTH);
  publicKey.set(ed25519PublicKey(privateKey.subarray(32, 64)), 32);
  for (let attempts = 1; ; attempts++) {
    privateKey.set(random(32), 0);
    publicKey.set(x25519PublicKey(privateKey.subarray(0, 32)), 0);
    const d = deriveAddress(publicKey);
    options.onAttempt?.(attempts);
    if (d.acceptable) return new Identity(d.address, publicKey.slice(), privateKey.slice());
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

export type IdentityCheck = { valid: true } | { valid: false; code: IdentityErrorCode; reason: string };

/**
 * What ZeroTier One checks (`locallyValidate`): the address is not reserved and derives from the
 * public key through the memory-hard hash.
 */
export function locallyValidate(id: Identity): boolean {
  if (isReservedAddress(id.address)) return false;
  const d = deriveAddress(id.publicKey);
  return d.acceptable && d.address === id.address;
}

/**
 * Full validation: locallyValidate, and (stricter than ZeroTier One) a private key, when present,
 * must produce exactly the stored public key.
 */
export function validateIdentity(id: Identity): IdentityCheck {
  if (isReservedAddress(id.address))
    return { valid: false, code: 'RESERVED_ADDRESS', reason: `address ${addressToString(id.address)} is reserved` };
  const d = deriveAddress(id.publicKey);
  if (d.digest[0]! >= IDENTITY_HASHCASH_FIRST_BYTE_LESS_THAN || d.address !== id.address)
    return {
      valid: false,
      code: 'ADDRESS_MISMATCH',
      reason: `address ${addressToString(id.address)} does not derive from the public key (it derives ${addressToString(d.address)}${d.digest[0]! >= IDENTITY_HASHCASH_FIRST_BYTE_LESS_THAN ? ', and the proof of work fails' : ''})`,
    };
  if (id.privateKey) {
    const expected = c25519PublicFromPrivate(id.privateKey);
    if (!bytesEqual(expected.subarray(0, 32), id.publicKey.subarray(0, 32)))
      return {
        valid: false,
        code: 'KEY_MISMATCH',
        reason: 'private key does not match public key (its X25519 half belongs to another key)',
      };
    if (!bytesEqual(expected.subarray(32, 64), id.publicKey.subarray(32, 64)))
      return {
        valid: false,
        code: 'KEY_MISMATCH',
        reason: 'private key does not match public key (its Ed25519 half belongs to another key)',
      };
  }
  return { valid: true };
}

// ---------------------------------------------------------------------------------------------
// Text form

export function formatIdentity(id: Identity, includePrivate = false): string {
  const base = `${addressToString(id.address)}:${IDENTITY_TYPE_C25519}:${toHex(id.publicKey)}`;
  return includePrivate && id.privateKey ? `${base}:${toHex(id.privateKey)}` : base;
}

/**
 * Parses the text form (surrounding whitespace ignored, hex in either case). Does not validate
 * the address derivation: that is validateIdentity. Throws IdentityError('PARSE' | 'RESERVED_ADDRESS').
 */
export function parseIdentity(text: string): Identity {
  const fields = text.trim().split(':');
  if (fields.length < 3 || fields.length > 4)
    throw new IdentityError('PARSE', `identity must have 3 or 4 ':'-separated fields, found ${fields.length}`);
  const address = fields[0]!.length === 10 ? parseAddress(fields[0]!) : undefined;
  if (address === undefined) throw new IdentityError('PARSE', 'identity address must be 10 hex digits');
  if (isReservedAddress(address))
    throw new IdentityError('RESERVED_ADDRESS', `address ${addressToString(address)} is reserved`);
  if (fields[1] !== '0') throw new IdentityError('PARSE', `unsupported identity type '${fields[1]}' (only 0)`);
  const publicKey = fromHex(fields[2]!);
  if (!publicKey || publicKey.length !== C25519_PUBLIC_KEY_LENGTH)
    throw new IdentityError('PARSE', 'public key must be 128 hex digits');
  let privateKey: Uint8Array | undefined;
  if (fields.length === 4) {
    privateKey = fromHex(fields[3]!);
    if (!privateKey || privateKey.length !== C25519_PRIVATE_KEY_LENGTH)
      throw new IdentityError('PARSE', 'private key must be 128 hex digits');
  }
  return new Identity(address, publicKey, privateKey);
}

/** parseIdentity without exceptions. */
export function tryParseIdentity(text: string): Identity | undefined {
  try {
    return parseIdentity(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Binary form

export function identitySerializedLength(id: Identity, includePrivate = false): number {
  return includePrivate && id.privateKey ? IDENTITY_SECRET_BINARY_LENGTH : IDENTITY_PUBLIC_BINARY_LENGTH;
}

/** Writes the binary form at `offset`; returns the bytes written (71, or 135 with the private key). */
export function writeIdentity(id: Identity, buf: Uint8Array, offset = 0, includePrivate = false): number {
  const n = identitySerializedLength(id, includePrivate);
  if (offset < 0 || offset + n > buf.length) throw new RangeError('identity: buffer too short');
  let p = offset + writeAddress(id.address, buf, offset);
  buf[p++] = IDENTITY_TYPE_C25519;
  buf.set(id.publicKey, p);
  p += C25519_PUBLIC_KEY_LENGTH;
  if (includePrivate && id.privateKey) {
    buf[p++] = C25519_PRIVATE_KEY_LENGTH;
    buf.set(id.privateKey, p);
    p += C25519_PRIVATE_KEY_LENGTH;
  } else {
    buf[p++] = 0;
  }
  return p - offset;
}

export function serializeIdentity(id: Identity, includePrivate = false): Uint8Array {
  const out = new Uint8Array(identitySerializedLength(id, includePrivate));
  writeIdentity(id, out, 0, includePrivate);
  return out;
}

export type IdentityDecodeResult = { ok: true; identity: Identity; length: number } | { ok: false; error: string };

/**
 * Decodes the binary form at `offset`, checking every length before reading. Never throws:
 * network input gets a typed failure. `length` is the number of bytes consumed.
 */
export function readIdentity(buf: Uint8Array, offset = 0): IdentityDecodeResult {
  if (offset < 0 || offset + IDENTITY_PUBLIC_BINARY_LENGTH > buf.length) return { ok: false, error: 'truncated' };
  const address = addressFromBytes(buf, offset);
  if (isReservedAddress(address)) return { ok: false, error: 'reserved address' };
  let p = offset + ADDRESS_LENGTH;
  if (buf[p++] !== IDENTITY_TYPE_C25519) return { ok: false, error: 'unknown identity type' };
  const publicKey = buf.slice(p, p + C25519_PUBLIC_KEY_LENGTH);
  p += C25519_PUBLIC_KEY_LENGTH;
  const privLen = buf[p++]!;
  let privateKey: Uint8Array | undefined;
  if (privLen === C25519_PRIVATE_KEY_LENGTH) {
    if (p + privLen > buf.length) return { ok: false, error: 'truncated private key' };
    privateKey = buf.slice(p, p + privLen);
    p += privLen;
  } else if (privLen !== 0) {
    return { ok: false, error: 'bad private key length' };
  }
  return { ok: true, identity: new Identity(address, publicKey, privateKey), length: p - offset };
}

/** readIdentity that throws IdentityError('PARSE') instead of returning a failure. */
export function deserializeIdentity(buf: Uint8Array, offset = 0): { identity: Identity; length: number } {
  const r = readIdentity(buf, offset);
  if (!r.ok) throw new IdentityError('PARSE', `binary identity: ${r.error}`);
  return { identity: r.identity, length: r.length };
}

// ---------------------------------------------------------------------------------------------
// Signatures and key agreement

/** The 96-byte ZeroTier signature of `msg` by this identity's private key. */
export function signWithIdentity(id: Identity, msg: Uint8Array): Uint8Array {
  return c25519SignExpanded(id.signingKey(), msg);
}

/** True if `sig` is this identity's 96-byte signature of `msg`. Never throws. */
export function verifyWithIdentity(id: Identity, msg: Uint8Array, sig: Uint8Array): boolean {
  return c25519Verify(id.publicKey, msg, sig);
}

/** The 48-byte key shared by `me` (needs its private key) and `peer`; symmetric. */
export function agree(me: Identity, peer: Identity): Uint8Array {
  if (!me.privateKey) throw new IdentityError('NO_PRIVATE_KEY', 'key agreement needs a private key');
  return c25519Agree(me.privateKey, peer.publicKey);
}
