// npm run bench -- identity [runs]
//
// Identity generation: the median time of `runs` (default 20, at least 10) full generations, and the
// time of one memory-hard attempt (the hash that binds the address to the key: 2 MiB table, ~164k
// Salsa20/20 blocks, a random walk over the table).
//
// Baseline, measured in the same run: the raw cipher work of one attempt without the memory-hard
// part — one SHA-512 plus 163,840 Salsa20/20 keystream blocks (10 MiB) through libsodium
// (sodium-native) in two bulk calls. Each generation run needed some number of attempts (a
// geometric draw, mean 256/17 ≈ 15); its baseline time is that many reference attempts, so both
// medians are taken over the same attempt counts.
// value = identities per second (1000 / median generation ms); baseline = identities per second
// (1000 / median of attempts × reference ms); ratio = value / baseline (higher is better; 1.0 means
// generation costs no more than the bare cipher work it contains).

import { sodium } from '../service/core/c25519.js';
import { memoryHardHash, memoryHardHashImplementation, memoryHardHashJs } from '../service/core/identity.js';
import { newIdentity, randomBytes } from '../service/random.js';
import { report } from './result.js';

const runs = Math.max(10, Number(process.argv[3] ?? 20) || 20);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function timeEach(n: number, fn: () => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

// Baseline: the cipher work of one attempt, without the table walk.
const table = new Uint8Array(2097152);
const walkStream = new Uint8Array(131072 * 64);
function referenceAttempt(pub: Uint8Array): void {
  const d = new Uint8Array(64);
  sodium.crypto_hash_sha512(d, pub);
  const key = d.subarray(0, 32);
  const nonce = d.subarray(32, 40);
  sodium.crypto_stream_salsa20(table, nonce, key);
  sodium.crypto_stream_salsa20(walkStream, nonce, key);
}

// Warm up both paths.
const warm = randomBytes(64);
for (let i = 0; i < 3; i++) {
  referenceAttempt(warm);
  memoryHardHash(warm);
}

const refMs = median(timeEach(30, () => referenceAttempt(randomBytes(64))));
const attemptMs = median(timeEach(30, () => memoryHardHash(randomBytes(64))));
const attemptJsMs = median(timeEach(15, () => memoryHardHashJs(randomBytes(64))));

const genMs: number[] = [];
const attemptsPerId: number[] = [];
for (let i = 0; i < runs; i++) {
  let attempts = 0;
  const t0 = performance.now();
  newIdentity({ onAttempt: (n) => (attempts = n) });
  genMs.push(performance.now() - t0);
  attemptsPerId.push(attempts);
}
const totalAttempts = attemptsPerId.reduce((a, b) => a + b, 0);
const totalMs = genMs.reduce((a, b) => a + b, 0);
const medianMs = median(genMs);
const baselineMedianMs = median(attemptsPerId.map((n) => n * refMs));

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
process.stdout.write(
  `identity generation (${memoryHardHashImplementation} memory-hard hash): ${runs} runs, median ${round(medianMs, 1)} ms, ` +
    `min ${round(Math.min(...genMs), 1)} ms, max ${round(Math.max(...genMs), 1)} ms, ${totalAttempts} attempts ` +
    `(${round(totalMs / totalAttempts, 2)} ms per attempt inside generation)\n` +
    `memory-hard attempt: ${round(attemptMs, 2)} ms (${memoryHardHashImplementation}), ${round(attemptJsMs, 2)} ms (JS); ` +
    `reference cipher work per attempt: ${round(refMs, 2)} ms\n`,
);
report({
  bench: 'identity',
  value: round(1000 / medianMs),
  unit: 'identities/s (1000 / median generation ms)',
  baseline: round(1000 / baselineMedianMs),
  baselineWhat:
    'identities/s if every attempt of each run cost only the raw cipher work of one attempt (SHA-512 + 163,840 Salsa20/20 keystream blocks = 10 MiB via sodium-native in two bulk calls, no memory-hard table walk), median over the same runs; measured in this run',
  medianAttempts: median(attemptsPerId),
  runs,
  medianMs: round(medianMs, 1),
  meanMs: round(totalMs / runs, 1),
  msPerAttempt: round(attemptMs, 3),
  msPerAttemptJs: round(attemptJsMs, 3),
  msPerAttemptInGeneration: round(totalMs / totalAttempts, 3),
  referenceMsPerAttempt: round(refMs, 3),
  meanAttemptsPerIdentity: round(totalAttempts / runs, 2),
  implementation: memoryHardHashImplementation,
  zeroTierOneSecondsPerIdentity: '0.25-1.2 (C++, measured on this machine per issue 3)',
});
