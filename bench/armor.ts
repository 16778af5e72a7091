// npm run bench -- armor
// 2800-byte Ethernet frames carried in FRAME packets (28-byte header + 8 network ID + 2 ethertype + 2800),
// armored AND dearmored through the native addon: AES-GMAC-SIV (suite 3, what current peers use) and
// Salsa20/12-Poly1305 (suite 1), in batches of 64 (one native call per batch) and one call per packet.
// Baseline, measured in the same run: the fastest AES-GCM Node itself offers doing the same work, AES-256-GCM
// encryption AND authenticated decryption of each 2800-byte frame through node:crypto (OpenSSL, AES-NI). Node
// cannot batch it: every frame needs its own createCipheriv/createDecipheriv (GCM takes one IV per object;
// WebCrypto's subtle.encrypt is the same per call, plus a promise).
// value = AES-GMAC-SIV frames armored+dearmored per second (batched); baseline = frames sealed+opened per second.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { armor, armorBatch, createPeerKey, dearmor, dearmorBatch } from '../service/core/crypto.js';
import { report } from './result.js';

const FRAME = 2800;
const PACKET = 28 + 8 + 2 + FRAME;
const BATCH = 64;
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 1000);
const ROUNDS = 3;

const key = createPeerKey(randomBytes(48));
const buf = new Uint8Array(randomBytes(PACKET * BATCH));
const offs = new Uint32Array(BATCH);
const lens = new Uint32Array(BATCH).fill(PACKET);
for (let i = 0; i < BATCH; i++) {
  offs[i] = i * PACKET;
  buf[offs[i]! + 18] = 0;
}
const results = new Int32Array(BATCH);

/** Operations per second over one timed round; `step` performs `per` operations. */
function timedRound(per: number, step: () => void): number {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ROUND_MS) {
    for (let k = 0; k < 16; k++) step();
    ops += 16 * per;
    elapsed = performance.now() - start;
  }
  return (ops * 1000) / elapsed;
}

function batchRound(suite: 1 | 3): () => void {
  return () => {
    if (armorBatch(key, buf, offs, lens, suite) !== 0) throw new Error('armorBatch failed');
    if (dearmorBatch(key, buf, offs, lens, results) !== BATCH) throw new Error('dearmorBatch failed');
  };
}

function singleRound(suite: 1 | 3): () => void {
  const one = buf.subarray(0, PACKET);
  return () => {
    armor(key, one, suite);
    if (dearmor(key, one) !== suite) throw new Error('dearmor failed');
  };
}

const gcmKey = randomBytes(32);
const frames = Array.from({ length: BATCH }, () => randomBytes(FRAME));
const iv = randomBytes(12);
const sealed = Buffer.alloc(FRAME);
let fi = 0;
function nodeGcm(): void {
  const frame = frames[fi++ % BATCH]!;
  iv.writeUInt32BE(fi, 8);
  const c = createCipheriv('aes-256-gcm', gcmKey, iv);
  c.update(frame).copy(sealed);
  c.final();
  const tag = c.getAuthTag();
  const d = createDecipheriv('aes-256-gcm', gcmKey, iv);
  d.setAuthTag(tag);
  d.update(sealed);
  d.final(); // throws if the tag does not verify
}

// Rounds are interleaved (baseline, then each variant, ROUNDS times) and the best of each kept, so a change
// in machine load during the run hits the baseline and the measured code alike.
const cases: [string, number, () => void][] = [
  ['baseline', 1, nodeGcm],
  ['aesBatch', BATCH, batchRound(3)],
  ['salsaBatch', BATCH, batchRound(1)],
  ['aesSingle', 1, singleRound(3)],
  ['salsaSingle', 1, singleRound(1)],
];
const best = new Map<string, number>();
for (const [, , step] of cases) for (let i = 0; i < 50; i++) step(); // warm up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, per, step] of cases) best.set(name, Math.max(best.get(name) ?? 0, timedRound(per, step)));
}
const baseline = best.get('baseline')!;
const aesBatch = best.get('aesBatch')!;
const salsaBatch = best.get('salsaBatch')!;
const aesSingle = best.get('aesSingle')!;
const salsaSingle = best.get('salsaSingle')!;

const round = (x: number) => Math.round(x);
const mbit = (fps: number) => Math.round((fps * FRAME * 8) / 1e6);
process.stdout.write(
  [
    `frame ${FRAME} bytes in a ${PACKET}-byte packet; batches of ${BATCH}; best of ${ROUNDS} × ${ROUND_MS} ms`,
    `AES-GMAC-SIV       batch  ${round(aesBatch)} frames/s armored+dearmored (${mbit(aesBatch)} Mbit/s of frames)`,
    `AES-GMAC-SIV       single ${round(aesSingle)} frames/s`,
    `Salsa20/12-Poly1305 batch  ${round(salsaBatch)} frames/s (${mbit(salsaBatch)} Mbit/s)`,
    `Salsa20/12-Poly1305 single ${round(salsaSingle)} frames/s`,
    `baseline: node:crypto AES-256-GCM, createCipheriv + createDecipheriv per frame (seal + open): ${round(baseline)} frames/s`,
    '',
  ].join('\n'),
);
report({
  bench: 'armor',
  value: round(aesBatch),
  unit: 'frames/s (2800-byte frames, AES-GMAC-SIV armor+dearmor, batched)',
  baseline: round(baseline),
  baselineIs: 'node:crypto AES-256-GCM seal + open per frame (createCipheriv + createDecipheriv, OpenSSL)',
  aesGmacSivSingle: round(aesSingle),
  salsa2012Poly1305Batch: round(salsaBatch),
  salsa2012Poly1305Single: round(salsaSingle),
  salsaRatio: Math.round((salsaBatch / baseline) * 1000) / 1000,
});
