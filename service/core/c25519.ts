// ZeroTier's "C25519" key pairs: a 64-byte public key (X25519 32 | Ed25519 32) and a 64-byte private
// key (X25519 scalar 32, stored unclamped | Ed25519 seed 32). Used by identities and by world signing keys.
//
// Signature (96 bytes): Ed25519(seed, SHA-512(msg)[0:32]) (64) || SHA-512(msg)[0:32] (32).
// Key agreement: SHA-512(X25519(priv[0:32], theirPub[0:32]))[0:48].
// Primitives come from libsodium through sodium-native (no I/O, so the core stays pure).
import { createRequire } from 'node:module';

export const C25519_PUBLIC_KEY_LENGTH = 64;
export const C25519_PRIVATE_KEY_LENGTH = 64;
export const C25519_SIGNATURE_LENGTH = 96;
export const SYMMETRIC_KEY_LENGTH = 48;

/** The subset of sodium-native this project uses (it ships no type declarations). */
export interface Sodium {
  crypto_hash_sha512(out: Uint8Array, input: Uint8Array): void;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void;
  crypto_sign_detached(sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void;
  crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean;
  crypto_stream_salsa20(c: Uint8Array, n: Uint8Array, k: Uint8Array): void;
  crypto_stream_salsa20_xor_ic(c: Uint8Array, m: Uint8Array, n: Uint8Array, ic: number, k: Uint8Array): void;
  sodium_memzero(buf: Uint8Array): void;
}

export const sodium: Sodium = createRequire(import.meta.url)('sodium-native') as Sodium;

export interface C25519KeyPair {
  /** X25519 public (32) || Ed25519 public (32). */
  publicKey: Uint8Array;
  /** X25519 scalar (32) || Ed25519 seed (32). */
  privateKey: Uint8Array;
}

export function sha512(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  sodium.crypto_hash_sha512(out, data);
  return out;
}

/** X25519 public key of a 32-byte scalar (clamped internally, as X25519 always does). */
export function x25519PublicKey(scalar: Uint8Array): Uint8Array {
  const q = new Uint8Array(32);
  sodium.crypto_scalarmult_base(q, scalar);
  return q;
}

/** Ed25519 public key of a 32-byte seed. */
export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  const pk = new Uint8Array(32);
  const sk = new Uint8Array(64);
  sodium.crypto_sign_seed_keypair(pk, sk, seed);
  sodium.sodium_memzero(sk);
  return pk;
}

/** The 64-byte public key belonging to a 64-byte private key. */
export function c25519PublicFromPrivate(privateKey: Uint8Array): Uint8Array {
  checkLength(privateKey, C25519_PRIVATE_KEY_LENGTH, 'private key');
  const pub = new Uint8Array(C25519_PUBLIC_KEY_LENGTH);
  pub.set(x25519PublicKey(privateKey.subarray(0, 32)), 0);
  pub.set(ed25519PublicKey(privateKey.subarray(32, 64)), 32);
  return pub;
}

/** A fresh random key pair (what `initmoon` and `genplanet` use for world signing keys). */
export function c25519Generate(random: (n: number) => Uint8Array): C25519KeyPair {
  const privateKey = random(C25519_PRIVATE_KEY_LENGTH);
  return { publicKey: c25519PublicFromPrivate(privateKey), privateKey };
}

/** True if the private key's two halves produce exactly the given public key. */
export function c25519KeyPairMatches(publicKey: Uint8Array, privateKey: Uint8Array): boolean {
  if (publicKey.length !== C25519_PUBLIC_KEY_LENGTH || privateKey.length !== C25519_PRIVATE_KEY_LENGTH) return false;
  return bytesEqual(c25519PublicFromPrivate(privateKey), publicKey);
}

/** Expands the Ed25519 seed (private key bytes 32..63) into libsodium's 64-byte signing key. */
export function ed25519SigningKey(privateKey: Uint8Array): Uint8Array {
  checkLength(privateKey, C25519_PRIVATE_KEY_LENGTH, 'private key');
  const pk = new Uint8Array(32);
  const sk = new Uint8Array(64);
  sodium.crypto_sign_seed_keypair(pk, sk, privateKey.subarray(32, 64));
  return sk;
}

/** The 96-byte ZeroTier signature of `msg` with a 64-byte C25519 private key. */
export function c25519Sign(privateKey: Uint8Array, msg: Uint8Array): Uint8Array {
  const sk = ed25519SigningKey(privateKey);
  try {
    return c25519SignExpanded(sk, msg);
  } finally {
    sodium.sodium_memzero(sk);
  }
}

/** c25519Sign with a signing key already expanded by ed25519SigningKey (saves one scalar multiplication). */
export function c25519SignExpanded(signingKey: Uint8Array, msg: Uint8Array): Uint8Array {
  const digest = sha512(msg).subarray(0, 32);
  const sig = new Uint8Array(C25519_SIGNATURE_LENGTH);
  sodium.crypto_sign_detached(sig.subarray(0, 64), digest, signingKey);
  sig.set(digest, 64);
  return sig;
}

/** Verifies a 96-byte ZeroTier signature against a 64-byte public key. Never throws. */
export function c25519Verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (publicKey.length !== C25519_PUBLIC_KEY_LENGTH || sig.length !== C25519_SIGNATURE_LENGTH) return false;
  const digest = sha512(msg).subarray(0, 32);
  if (!bytesEqual(digest, sig.subarray(64, 96))) return false;
  try {
    return sodium.crypto_sign_verify_detached(sig.subarray(0, 64), digest, publicKey.subarray(32, 64));
  } catch {
    return false;
  }
}

/**
 * The 48-byte symmetric key two C25519 key pairs share: SHA-512(X25519(myPriv[0:32], theirPub[0:32]))[0:48].
 * Like ZeroTier One, an all-zero X25519 result (a low-order peer key) is not rejected here.
 */
export function c25519Agree(myPrivateKey: Uint8Array, theirPublicKey: Uint8Array): Uint8Array {
  checkLength(myPrivateKey, C25519_PRIVATE_KEY_LENGTH, 'private key');
  checkLength(theirPublicKey, C25519_PUBLIC_KEY_LENGTH, 'public key');
  const raw = new Uint8Array(32);
  try {
    sodium.crypto_scalarmult(raw, myPrivateKey.subarray(0, 32), theirPublicKey.subarray(0, 32));
  } catch {
    raw.fill(0); // libsodium refuses an all-zero result; ZeroTier One hashes it anyway
  }
  const key = sha512(raw).slice(0, SYMMETRIC_KEY_LENGTH);
  sodium.sodium_memzero(raw);
  return key;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Decodes an even-length hex string (either case); undefined if it is not exactly that. */
export function fromHex(s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, 'hex'));
}

function checkLength(b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) throw new RangeError(`${what}: expected ${n} bytes, got ${b.length}`);
}
