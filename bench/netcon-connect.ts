// New connections per second (connect + accept + close, the server closing first) through two
// netcon stacks, against the same programs over the kernel's loopback. Beside them, the floor of the design
// (intercept/tests/nc_floor.c): a C service doing only the socketpairs, fd passing and epoll each connection
// needs, no TCP/IP stack. No implementation of this design gets above the floor on the same machine with the
// same client threads: each connection costs it at least the floor's work and wake-ups.
import { join } from 'node:path';
import { execa } from 'execa';
import { A4, CTESTS, inNs, kill, startHost } from '../testkit/intercept.js';
import { report } from './result.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const THREADS = Number(process.env.BENCH_THREADS ?? 4);
const PROG = join(CTESTS, 'nc_connbench');
const FLOOR = join(CTESTS, 'nc_floor');

function rate(out: string): number {
  const m = /connections (\d+) seconds ([\d.]+)/.exec(out);
  if (!m) throw new Error(`nc_connbench: ${out}`);
  return Number(m[1]) / Number(m[2]);
}

async function kernel(): Promise<number> {
  const script = `ip link set lo up; ${PROG} server 127.0.0.1 5400 >/dev/null & S=$!; sleep 0.3;
    ${PROG} client 127.0.0.1 5400 ${SECONDS} ${THREADS}; kill $S`;
  return rate((await execa('unshare', ['-n', '--', 'sh', '-c', script])).stdout);
}

async function floor(): Promise<number> {
  return rate((await execa(FLOOR, ['connect', String(SECONDS), String(THREADS)])).stdout);
}

async function netcon(kind = 'lwip'): Promise<number> {
  const host = await startHost(kind);
  const server = inNs(host.a, PROG, ['server', '0.0.0.0', '5400'], { reject: false, buffer: false });
  try {
    await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
    const r = await inNs(host.b, PROG, ['client', A4, '5400', String(SECONDS), String(THREADS)]);
    return rate(String(r.stdout));
  } finally {
    kill(server);
    await host.stop();
  }
}

const base = await kernel();
const value = await netcon();
// The same harness with the in-memory network instead of lwIP: what the intercept and RPC cost alone.
const memBackend = await netcon('mem');
const least = await floor();
process.stdout.write(
  `kernel loopback: ${base.toFixed(0)} conn/s, netcon (lwIP): ${value.toFixed(0)} conn/s, ` +
    `netcon (in-memory net): ${memBackend.toFixed(0)} conn/s, ` +
    `the design's floor: ${least.toFixed(0)} conn/s (${(least / base).toFixed(3)} of the kernel's)\n`,
);
report({
  bench: 'netcon-connect',
  value,
  unit: 'connections/s',
  baseline: base,
  target: 0.3, // issue 14
  threads: THREADS,
  memBackend: Math.round(memBackend),
  floor: Math.round(least),
  floorRatio: Math.round((least / base) * 1000) / 1000,
});
