// Small request/response round trips per second through two netcon stacks: redis-benchmark PING
// (50 clients) against redis-server, both preloaded, against the same over the kernel's loopback.
import { execa } from 'execa';
import { A4, inNs, kill, portOpen, startHost, tmp, waitFor } from '../testkit/intercept.js';
import { report } from './result.js';

const N = Number(process.env.BENCH_REQUESTS ?? 100000);
const ARGS = ['-t', 'ping', '-n', String(N), '-c', '50', '-q'];

function rps(out: string): number {
  const m = /PING_INLINE: ([\d.]+) requests per second/.exec(out.replace(/\r/g, '\n'));
  if (!m) throw new Error(`redis-benchmark: ${out}`);
  return Number(m[1]);
}

async function kernel(): Promise<number> {
  const dir = tmp('bench-redis-');
  const script = `ip link set lo up; redis-server --port 6400 --save '' --appendonly no --dir ${dir} >/dev/null & S=$!;
    for i in $(seq 50); do redis-cli -p 6400 ping >/dev/null 2>&1 && break; sleep 0.1; done;
    redis-benchmark -p 6400 ${ARGS.join(' ')}; kill $S`;
  return rps((await execa('unshare', ['-n', '--', 'sh', '-c', script])).stdout);
}

async function netcon(): Promise<number> {
  const host = await startHost();
  const dir = tmp('bench-redis-');
  const server = inNs(
    host.a,
    'redis-server',
    ['--port', '6400', '--bind', A4, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir],
    { reject: false },
  );
  try {
    await waitFor(() => portOpen(host.b, A4, 6400), 15000, 'redis-server');
    const r = await inNs(host.b, 'redis-benchmark', ['-h', A4, '-p', '6400', ...ARGS]);
    return rps(String(r.stdout));
  } finally {
    kill(server);
    await host.stop();
  }
}

const base = await kernel();
const value = await netcon();
process.stdout.write(`kernel loopback: ${base.toFixed(0)} req/s, netcon: ${value.toFixed(0)} req/s\n`);
report({ bench: 'netcon-rr', value, unit: 'requests/s', baseline: base, target: 0.2, clients: 50 });
