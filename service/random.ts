// The host's randomness for what the pure core makes from random bytes (identities, signing key pairs): the
// core never draws randomness itself (DESIGN.md §2, test/meta/core-purity.test.ts) and takes it as an
// argument; daemons, tools, benchmarks and tests pass this, the operating system's CSPRNG.
import { randomBytes as osRandomBytes } from 'node:crypto';
import { type C25519KeyPair, c25519Generate } from './core/c25519.js';
import { type GenerateOptions, generateIdentity, type Identity } from './core/identity.js';

/** n bytes from the operating system's CSPRNG. */
export function randomBytes(n: number): Uint8Array {
  return new Uint8Array(osRandomBytes(n));
}

/** A new identity (about 15 memory-hard attempts on average), from the OS's randomness unless given. */
export function newIdentity(options: Partial<GenerateOptions> = {}): Identity {
  return generateIdentity({ random: randomBytes, ...options });
}

/** A fresh C25519 key pair (world signing keys). */
export function newKeyPair(): C25519KeyPair {
  return c25519Generate(randomBytes);
}
