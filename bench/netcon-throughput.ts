// Bulk TCP, app to app through two netcon stacks: iperf3 under the preload (server on stack A,
// client on stack B, each in an empty network namespace) against iperf3 over the kernel's loopback.
import { execa } from 'execa';
import { A4, B4, inNs, kill, startHost } from '../testkit/intercept.js';
import { report } from './result.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

function bps(json: string): number {
  const j = JSON.parse(json);
  if (!j.end?.sum_received) throw new Error(`iperf3: ${j.error ?? json.slice(0, 500)}`);
  return j.end.sum_received.bits_per_second as number;
}

async function kernel(): Promise<number> {
  const script = `ip link set lo up; iperf3 -s -1 -p 5299 >/dev/null 2>&1 & sleep 0.5; iperf3 -c 127.0.0.1 -p 5299 -t ${SECONDS} -J`;
  const r = await execa('unshare', ['-n', '--', 'sh', '-c', script]);
  return bps(r.stdout);
}

/** Server on stack A, client on stack B; with own, both on stack B, the client connecting to B's own address
 * (which never enters lwIP: the socket table joins the two apps in memory, netcon/mem-net.ts). */
async function netcon(own = false): Promise<number> {
  const host = await startHost();
  const server = inNs(own ? host.b : host.a, 'iperf3', ['-s', '-p', '5201', '--forceflush'], {
    reject: false,
    buffer: false,
  });
  try {
    // iperf3 re-creates its listener after every client, so a probe connection would race it:
    // wait for its banner instead.
    await new Promise<void>((resolve) =>
      server.stdout?.on('data', (d) => String(d).includes('listening') && resolve()),
    );
    const r = await inNs(host.b, 'iperf3', ['-c', own ? B4 : A4, '-p', '5201', '-t', String(SECONDS), '-J']);
    return bps(String(r.stdout));
  } finally {
    kill(server);
    await host.stop();
  }
}

const base = await kernel();
const value = await netcon();
const own = await netcon(true);
process.stdout.write(
  `kernel loopback: ${(base / 1e6).toFixed(0)} Mbit/s, netcon: ${(value / 1e6).toFixed(0)} Mbit/s, netcon to the member's own address (in-memory loopback): ${(own / 1e6).toFixed(0)} Mbit/s\n`,
);
report({
  bench: 'netcon-throughput',
  value: value / 1e6,
  unit: 'Mbit/s',
  baseline: base / 1e6,
  target: 0.15,
  ownAddress: Math.round(own / 1e6),
  ownAddressRatio: Math.round((own / base) * 1000) / 1000,
});
