// npm run bench -- stack [MiB]: bulk TCP between two in-process stacks (lwIP in WebAssembly) at MTU 2800,
// against the same bytes between two Node net sockets over 127.0.0.1 in the same process (the baseline).
// The stacks run twice: both in one thread (the reported value), and each in its own thread with frames
// crossing through SharedArrayBuffer rings (reported as `threads`; the hop between threads lengthens the
// round trip, and with a 256 KiB window that costs more than the second core gives).
// The links between the stacks are trusted in-process links: TCP checksums are neither summed nor verified,
// as on the kernel's loopback that carries the baseline (the VL2 benchmarks measure the path with them).
// Last line: one JSON object (bench/result.ts).
import { Worker } from 'node:worker_threads';
import { MemoryLink } from '../netcon/memory-link.js';
import { attachSharedLink, SharedRing } from '../netcon/shared-link.js';
import { Stack } from '../netcon/stack.js';
import type { TcpSocket } from '../netcon/stack-types.js';
import { netLoopbackSeconds } from './baseline.js';
import { report } from './result.js';

const MiB = 1024 * 1024;
const size = Number(process.argv[3] ?? 256) * MiB;
const rounds = Number(process.env.ROUNDS ?? 7);
// Both sides write the same 64 KiB pieces: the most lwIP's tcp_write takes in one call, and a common
// application write size (CHUNK_KIB overrides it; the JSON reports it as writeSize).
const CHUNK = Number(process.env.CHUNK_KIB ?? 64) * 1024;

const data = new Uint8Array(size);
{
  const w = new Uint32Array(data.buffer);
  let x = 0x12345678;
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = x >>> 0;
  }
}

/** Stack n of the benchmark: 10.200.0.n/24 at MTU 2800 (the worker makes stack 2 the same way). */
function makeStack(n: number): Stack {
  return new Stack({
    mac: new Uint8Array([2, 0, 0x5e, 0, 0, n]),
    mtu: 2800,
    addresses: [{ address: `10.200.0.${n}`, prefix: 24 }],
    routes: [],
  });
}

function stackPair(): { a: Stack; b: Stack } {
  const a = makeStack(1);
  const b = makeStack(2);
  new MemoryLink(a, b);
  return { a, b };
}

/** Writes `bytes` of `data` on the connection in CHUNK pieces, resuming on onWritable when the stack is full. */
function sendAll(client: TcpSocket, bytes = size): void {
  let sent = 0;
  const send = () => {
    while (sent < bytes) {
      const n = client.write(data.subarray(sent, Math.min(bytes, sent + CHUNK)));
      sent += n;
      if (n === 0) return;
    }
  };
  client.handlers = { onWritable: send };
  send();
}

/** Seconds to move `bytes` bytes from a to b over one TCP connection. */
async function viaStacks(bytes = size): Promise<{ seconds: number; retransmits: number }> {
  const { a, b } = stackPair();
  try {
    let server: TcpSocket | undefined;
    const accepted = new Promise<void>((resolve) => {
      b.tcpListen({ family: 4, address: '', port: 5201 }, {}, (s) => {
        server = s;
        resolve();
      });
    });
    const client = await a.connect({ family: 4, address: '10.200.0.2', port: 5201 });
    await accepted;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let received = 0;
      // The receiver takes data the way the RPC server does: straight from the stack's memory, counted and
      // released (it would write it into the app's socketpair); see TcpHandlers.onDataBorrowed.
      server!.handlers = {
        onDataBorrowed(c) {
          received += c.length;
          server!.consumed(c.length);
          if (received === bytes) resolve();
        },
      };
      sendAll(client, bytes);
    });
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, retransmits: a.stats().tcpRetransmits };
  } finally {
    a.close();
    b.close();
  }
}

/**
 * The same with stack b in a worker thread (each end on its own core, as on two hosts): frames cross in
 * packed batches through SharedArrayBuffer rings.
 */
async function viaThreads(): Promise<number> {
  const toB = new SharedRing(8 * MiB);
  const toA = new SharedRing(8 * MiB);
  const worker = new Worker(new URL('./workers/stack-peer.js', import.meta.url), {
    workerData: { toB: toB.sab, toA: toA.sab, size },
  });
  let done: (v: number) => void = () => {};
  const finished = new Promise<number>((r) => {
    done = r;
  });
  await new Promise<void>((ready) =>
    worker.on('message', (m: { ready?: boolean; received?: number }) => {
      if (m.ready) ready();
      else if (m.received === size) done(performance.now());
    }),
  );
  const a = makeStack(1);
  const link = attachSharedLink(a, toB, toA);
  try {
    const client = await a.connect({ family: 4, address: '10.200.0.2', port: 5201 });
    const t0 = performance.now();
    sendAll(client);
    const t1 = await finished;
    return (t1 - t0) / 1000;
  } finally {
    link.stop();
    a.close();
    await worker.terminate();
  }
}

/** Seconds to move the same bytes between two net sockets over 127.0.0.1 in this process (the baseline). */
function viaNet(): Promise<number> {
  return netLoopbackSeconds(data, CHUNK);
}

// Warm-up, not measured: the stacks reach their steady speed only after about 100–200 MiB in a process (V8's
// JIT and wasm tier-up); without it the first two or three rounds measure the compilers. The net baseline
// gets the same.
for (let i = 0; i < 32; i++) {
  await viaStacks(8 * MiB);
  await netLoopbackSeconds(data.subarray(0, 8 * MiB), CHUNK);
}

const stackRuns: number[] = [];
const threadRuns: number[] = [];
const netRuns: number[] = [];
let retransmits = 0;
const rate = (seconds: number) => (size / MiB / seconds).toFixed(0);
for (let r = 0; r < rounds; r++) {
  const s = await viaStacks();
  stackRuns.push(s.seconds);
  retransmits += s.retransmits;
  threadRuns.push(await viaThreads());
  netRuns.push(await viaNet());
  process.stdout.write(
    `round ${r + 1}: stacks, a thread each ${rate(threadRuns[r]!)} MiB/s; stacks, one thread ${rate(s.seconds)} MiB/s; net ${rate(netRuns[r]!)} MiB/s\n`,
  );
}
const best = (xs: number[]) => Math.min(...xs);
// Rounds are paired (stacks, then net, back to back): on a shared machine the median of the per-round ratios
// is steadier than the ratio of the best rounds.
const paired = stackRuns.map((s, i) => netRuns[i]! / s).sort((x, y) => x - y);
const medianRatio = paired[Math.floor(paired.length / 2)]!;
const oneThread = size / MiB / best(stackRuns);
const twoThreads = size / MiB / best(threadRuns);
const baseline = size / MiB / best(netRuns);
report({
  bench: 'stack',
  value: Math.round(oneThread),
  unit: 'MiB/s',
  baseline: Math.round(baseline),
  threads: Math.round(twoThreads),
  threadsRatio: Math.round((twoThreads / baseline) * 1000) / 1000,
  medianRoundRatio: Math.round(medianRatio * 1000) / 1000,
  bytes: size,
  mtu: 2800,
  writeSize: CHUNK,
  rounds,
  retransmits,
  what: 'one TCP stream between two in-process lwIP stacks in one thread (value; threads: each stack in its own thread) over trusted links without TCP checksums (as the kernel loopback), vs. two Node net sockets over 127.0.0.1; best of rounds after a warm-up',
});
