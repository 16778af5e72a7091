// Fuzz target for the whole receive path: datagram classification, fragment reassembly, dearmor with a real
// key, LZ4 decompression, verb decoding (and the HELLO tail). Seeds are every packet of the golden captures.
// Half of the inputs are mutated wire bytes (which mostly stop at the MAC); the other half are mutated
// plaintexts re-armored with a valid MAC, so the decompressor and the verb decoders see garbage too.
// ≥ 1,000,000 inputs; no exception may escape and memory must stay bounded.
import test from 'ava';
import { verbName } from '../../service/core/constants.js';
import { armor, createPeerKey, dearmor, dearmorBatch, type PeerKey } from '../../service/core/crypto.js';
import { Reassembler } from '../../service/core/fragment.js';
import { classifyDatagram, decryptHelloTail, openPacket } from '../../service/core/packet.js';
import { decodeHelloTail, decodeMessage } from '../../service/core/verbs.js';
import { readAddress, toHex } from '../../service/core/wire.js';
import { readPcap } from '../helpers/pcap.js';
import { loadSharedKeys, vectorPath } from '../helpers/vl1-vectors.js';
// xorshift32: deterministic, so a failure is reproducible from the seed and the iteration.
import { prng } from '../helpers/vl2-fuzz.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 1_000_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed1234);

const pairs = loadSharedKeys();
const keys = new Map<string, PeerKey>();
for (const p of pairs) {
  const k = createPeerKey(p.key48);
  keys.set(`${p.a}-${p.b}`, k);
  keys.set(`${p.b}-${p.a}`, k);
}
const anyKey = keys.values().next().value as PeerKey;
const keyFor = (b: Uint8Array) => keys.get(`${readAddress(b, 13)}-${readAddress(b, 8)}`) ?? anyKey;

interface Seed {
  wire: Uint8Array;
  plain: Uint8Array | undefined;
  key: PeerKey;
}

function loadSeeds(): Seed[] {
  const seeds: Seed[] = [];
  for (const name of ['ztref-golden', 'ztref-planet-update', 'ztref-fragments']) {
    for (const d of readPcap(vectorPath(`pcap/${name}.pcap`))) {
      const wire = d.payload;
      if (wire.length < 28 || wire[13] === 0xff) {
        seeds.push({ wire, plain: undefined, key: anyKey });
        continue;
      }
      const key = keyFor(wire);
      const plain = wire.slice();
      seeds.push({ wire, plain: dearmor(key, plain) >= 0 ? plain : undefined, key });
    }
  }
  return seeds;
}

const MAX_INPUT = 10100;

/** Copies src into buf with 1-8 random mutations; returns the mutated length. */
function mutate(rnd: () => number, src: Uint8Array, buf: Uint8Array, from: number): number {
  let len = Math.min(src.length, MAX_INPUT);
  buf.set(src.subarray(0, len));
  const n = 1 + (rnd() & 7);
  for (let k = 0; k < n; k++) {
    const span = Math.max(1, len - from);
    const at = from + (rnd() % span);
    switch (rnd() % 10) {
      case 0:
      case 1:
      case 2:
        if (at < len) buf[at]! ^= 1 << (rnd() & 7);
        break;
      case 3:
      case 4:
        if (at < len) buf[at] = rnd() & 0xff;
        break;
      case 5: {
        const special = [0x00, 0xff, 0x7f, 0x80, 0x04, 0x06, 0x03, 0x01];
        if (at < len) buf[at] = special[rnd() & 7]!;
        break;
      }
      case 6:
        len = Math.max(0, Math.min(len, at)); // truncate
        break;
      case 7: {
        const extra = rnd() % 64; // extend with random bytes
        for (let i = 0; i < extra && len < MAX_INPUT; i++) buf[len++] = rnd() & 0xff;
        break;
      }
      case 8: {
        const w = 1 + (rnd() % 16); // overwrite a run
        for (let i = 0; i < w && at + i < len; i++) buf[at + i] = rnd() & 0xff;
        break;
      }
      default:
        if (at < len) buf[at] = (buf[at]! + 1) & 0xff;
    }
  }
  return len;
}

/** A batch of mutated packets (random offsets and lengths, some out of range) gives the single-call results. */
const batchBuf = new Uint8Array(64 * 1500);
const batchOffs = new Uint32Array(32);
const batchLens = new Uint32Array(32);
const batchResults = new Int32Array(32);
let batchMismatches = 0;
function batchAgrees(rnd: () => number, seeds: Seed[]): void {
  let pos = 0;
  const keysUsed: PeerKey[] = [];
  for (let j = 0; j < 32; j++) {
    const s = seeds[rnd() % seeds.length]!;
    const len = mutate(rnd, s.wire.subarray(0, 1400), batchBuf.subarray(pos), 0);
    batchOffs[j] = pos;
    batchLens[j] = rnd() % 50 === 0 ? len + 100000 : len;
    keysUsed.push(s.key);
    pos += len;
  }
  const copy = batchBuf.slice();
  dearmorBatch(keysUsed, batchBuf, batchOffs, batchLens, batchResults);
  for (let j = 0; j < 32; j++) {
    const off = batchOffs[j]!;
    const len = batchLens[j]!;
    const single = off + len > copy.length ? -1 : dearmor(keysUsed[j]!, copy, off, len);
    if (single !== batchResults[j]) batchMismatches++;
  }
}

test(`fuzz: ${ITERATIONS.toLocaleString('en')} mutated inputs through classify → reassemble → dearmor → LZ4 → verb decode`, (t) => {
  const seeds = loadSeeds();
  const plains = seeds.filter((s) => s.plain !== undefined);
  t.true(seeds.length > 500 && plains.length > 500);
  const rnd = prng(SEED);
  const buf = new Uint8Array(MAX_INPUT);
  const reasm = new Reassembler();
  const outcomes = new Map<string, number>();
  const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
  const rssStart = process.memoryUsage().rss;
  let rssPeak = rssStart;
  const started = performance.now();
  let now = 0;

  const decodeFull = (input: Uint8Array, key: PeerKey) => {
    const c = classifyDatagram(input);
    if (c.kind === 'ignored') return count(`ignored:${c.reason}`);
    if (c.kind === 'beacon') return count('beacon');
    let pkt: Uint8Array = input;
    if (c.kind === 'fragment') {
      const r = reasm.addFragment(now, c.fragment);
      if (r.kind !== 'complete') return count(`fragment:${r.kind}`);
      pkt = r.packet;
    } else if (c.header.fragmented && rnd() % 4 === 0) {
      const r = reasm.addHead(now, input);
      if (r.kind !== 'complete') return count(`head:${r.kind}`);
      pkt = r.packet;
    }
    const o = openPacket(key, pkt, c.kind === 'packet' && pkt === input ? c.header : undefined);
    if (!o.ok) return count(`drop:${o.reason}`);
    const m = decodeMessage(o.value.verb, o.value.payload);
    if (!m.ok) return count(`verb:${m.reason}`);
    count(`ok:${verbName(o.value.verb)}`);
    if (m.value.kind === 'hello' && m.value.hello.tailOffset !== undefined) {
      decryptHelloTail(key, pkt, m.value.hello.tailOffset);
      decodeHelloTail(pkt.subarray(28 + m.value.hello.tailOffset));
    }
  };

  let i = 0;
  try {
    for (; i < ITERATIONS; i++) {
      now += rnd() % 50;
      if (i & 1) {
        const s = seeds[rnd() % seeds.length]!;
        const len = mutate(rnd, s.wire, buf, 0);
        decodeFull(buf.subarray(0, len), s.key);
      } else {
        const s = plains[rnd() % plains.length]!;
        const len = mutate(rnd, s.plain!, buf, 27);
        if (len >= 28) {
          buf[18] = buf[18]! & 0x47; // whole packets; keep hops and the fragmented bit as mutated
          armor(s.key, buf.subarray(0, len), ([0, 1, 3] as const)[rnd() % 3]!);
        }
        decodeFull(buf.subarray(0, len), s.key);
      }
      if ((i & 0xffff) === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      if ((i & 0x3ff) === 0) batchAgrees(rnd, seeds);
    }
  } catch (err) {
    t.fail(`iteration ${i} (seed ${SEED}) threw on input ${toHex(buf.subarray(0, 64))}…: ${(err as Error).stack}`);
  }
  const seconds = (performance.now() - started) / 1000;
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  const ok = [...outcomes].filter(([k]) => k.startsWith('ok:')).reduce((a, [, v]) => a + v, 0);
  t.log(
    `${i.toLocaleString('en')} inputs in ${seconds.toFixed(1)} s (${Math.round(i / seconds).toLocaleString('en')}/s); ${ok.toLocaleString('en')} decoded to a verb; rss ${Math.round(rssStart / 1e6)} → peak ${Math.round(rssPeak / 1e6)} MB; reassembler holds ${reasm.pending}`,
  );
  t.log(JSON.stringify(Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1]))));
  t.is(i, ITERATIONS);
  t.true(ok > ITERATIONS / 10, 'the verb decoders were reached often');
  t.true((outcomes.get('drop:bad-mac') ?? 0) > ITERATIONS / 10, 'the MAC check rejected mutated wire bytes');
  t.true(reasm.pending <= 32, 'reassembly state bounded');
  t.is(batchMismatches, 0, 'dearmorBatch agrees with dearmor on mutated batches');
  t.true(rssPeak - rssStart < 256e6, 'memory bounded');
});
