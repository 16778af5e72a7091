// Randomness, from the host. The core keeps no generator of its own: NodeOptions.random (node:crypto's
// randomFillSync in the daemon) fills packet IDs, RENDEZVOUS junk, config update IDs, multicast samples and
// MATCH_RANDOM draws.

/** Fills `out` with cryptographically strong random bytes. */
export type RandomFill = (out: Uint8Array) => void;

const scratch = new Uint8Array(4);

/** A uniform unsigned 32-bit number drawn from `random`. */
export function randomU32(random: RandomFill): number {
  random(scratch);
  return ((scratch[0]! << 24) | (scratch[1]! << 16) | (scratch[2]! << 8) | scratch[3]!) >>> 0;
}

/** A uniform integer in [0, n) drawn from `random` (n ≤ 2^32; the modulo bias is below 2^-20 for n < 4096). */
export function randomIndex(random: RandomFill, n: number): number {
  return randomU32(random) % n;
}
