// Bulk TCP between two of our member services over real UDP on loopback, through VL1 encryption and VL2:
// iperf3 -s under the intercept on member A, iperf3 -c under the intercept on member B (one stream), against
// the same program pair over the kernel's loopback in the same run (the baseline).
import { execa } from 'execa';
import { bin, startCluster, waitFor } from '../tools/cluster.js';
import { report } from './result.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

function bitsPerSecond(json: string): number {
  const j = JSON.parse(json) as { end?: { sum_received?: { bits_per_second: number } }; error?: string };
  if (!j.end?.sum_received) throw new Error(`iperf3: ${j.error ?? json.slice(0, 300)}`);
  return j.end.sum_received.bits_per_second;
}

async function kernelLoopback(): Promise<number> {
  const server = execa('iperf3', ['-s', '-1', '-p', '5399', '-B', '127.0.0.1'], { reject: false });
  try {
    await new Promise((r) => setTimeout(r, 500));
    return bitsPerSecond(
      (await execa('iperf3', ['-c', '127.0.0.1', '-p', '5399', '-t', String(SECONDS), '-J'])).stdout,
    );
  } finally {
    server.kill();
  }
}

async function viaNetcon(): Promise<number> {
  const cluster = await startCluster(['A', 'B'], (m) => process.stderr.write(`${m}\n`));
  const [a, b] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
  const run = (m: typeof a, args: string[], opts = {}) =>
    execa(bin('zerotier-netcon'), ['run', `-D${m.home}`, cluster.nwid, '--', 'iperf3', ...args], {
      reject: false,
      ...opts,
    });
  const server = run(a, ['-s', '-p', '5201', '--forceflush'], { buffer: false });
  try {
    await waitFor(
      'iperf3 on member A',
      20_000,
      async () =>
        new Promise<true | undefined>((resolve) => {
          server.stdout?.once('data', (d) => resolve(String(d).includes('listening') ? true : undefined));
          setTimeout(() => resolve(undefined), 1000);
        }),
    );
    const r = await run(b, ['-c', a.ip, '-p', '5201', '-t', String(SECONDS), '-J']);
    return bitsPerSecond(String(r.stdout));
  } finally {
    server.kill();
    await cluster.stop();
  }
}

const baseline = await kernelLoopback();
const value = await viaNetcon();
process.stdout.write(
  `netcon member to member: ${(value / 8 / 1048576).toFixed(1)} MiB/s; iperf3 over kernel loopback: ${(baseline / 8 / 1048576).toFixed(1)} MiB/s\n`,
);
report({
  bench: 'vl2-throughput',
  value: Math.round(value / 8),
  unit: 'bytes/s',
  baseline: Math.round(baseline / 8),
  baselineWhat: 'the same iperf3 pair over the kernel loopback (127.0.0.1), same run',
  what: 'one TCP stream, iperf3 under the intercept on two member services over real UDP on 127.0.0.1 (encrypted, AES-GMAC-SIV)',
  seconds: SECONDS,
});
