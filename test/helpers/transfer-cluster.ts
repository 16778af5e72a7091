// A transfer across a real netcon cluster (tools/cluster.ts), for the fault tests, run as its own process so a
// test can put it in a network namespace with faults on the wire:
//   node transfer-cluster.js <MiB> [--flood]
// A root+controller and two members; python3 -m http.server on member A serves a random file and curl on
// member B fetches it (both unmodified, under the intercept). With --flood, junk UDP datagrams are sent at B's
// service port for the whole transfer. The last line of output is a JSON report.
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { api, bin, type Cluster, startCluster, waitFor } from '../../tools/cluster.js';

interface Stats {
  drops: Record<string, number>;
  received: Record<string, number>;
}

const mib = Number(process.argv[2] ?? 10);
const flood = process.argv.includes('--flood');
let cluster: Cluster | undefined;
const children: ResultPromise[] = [];

async function cleanup(): Promise<void> {
  for (const c of children) c.kill('SIGTERM');
  await cluster?.stop();
}
process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)));

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

async function main(): Promise<void> {
  const t0 = performance.now();
  cluster = await startCluster(['A', 'B']);
  const setupSeconds = (performance.now() - t0) / 1000;
  const [a, b] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
  const www = join(cluster.base, 'www');
  mkdirSync(www);
  const data = randomBytes(mib * 1024 * 1024);
  writeFileSync(join(www, 'file.bin'), data);
  const md5 = createHash('md5').update(data).digest('hex');
  children.push(
    execa(bin('zerotier-netcon'), ['run', `-D${a.home}`, cluster.nwid, '--', 'python3', '-m', 'http.server', '80'], {
      cwd: www,
      reject: false,
      stdout: 'ignore',
      stderr: 'ignore',
    }),
  );
  const curl = (extra: string[]) =>
    execa(
      bin('zerotier-netcon'),
      ['run', `-D${b.home}`, cluster!.nwid, '--', 'curl', '-sSf', '--max-time', '120', ...extra],
      {
        reject: false,
      },
    );
  await waitFor('the web server on member A', 60_000, async () =>
    (await curl(['-o', '/dev/null', `http://${a.ip}/`])).exitCode === 0 ? true : undefined,
  );

  const before = (await api(b.home, b.port, 'GET', '/unstable/stats')) as Stats;
  let floodSent = 0;
  let floodTimer: NodeJS.Timeout | undefined;
  const sock = createSocket('udp4');
  if (flood) {
    // Junk of every size a datagram can have here, 200 per 10 ms (20,000/s), at B's ZeroTier port.
    floodTimer = setInterval(() => {
      for (let i = 0; i < 200; i++) {
        sock.send(randomBytes(1 + Math.floor(Math.random() * 1400)), b.port, '127.0.0.1');
        floodSent++;
      }
    }, 10);
  }
  const out = join(cluster.base, 'fetched.bin');
  const t1 = performance.now();
  const got = await curl(['-o', out, `http://${a.ip}/file.bin`]);
  const seconds = (performance.now() - t1) / 1000;
  if (floodTimer) clearInterval(floodTimer);
  sock.close();
  // The last flood datagrams are counted once two readings agree.
  let after = (await api(b.home, b.port, 'GET', '/unstable/stats')) as Stats;
  for (;;) {
    const again = (await api(b.home, b.port, 'GET', '/unstable/stats')) as Stats;
    if (sum(again.drops) === sum(after.drops)) break;
    after = again;
  }
  const ok = got.exitCode === 0 && createHash('md5').update(readFileSync(out)).digest('hex') === md5;
  const dropsBy: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.drops))
    if (v !== (before.drops[k] ?? 0)) dropsBy[k] = v - (before.drops[k] ?? 0);
  const report = {
    ok,
    curlError: got.exitCode === 0 ? '' : got.stderr,
    mib,
    seconds,
    mibPerSecond: mib / seconds,
    setupSeconds,
    floodSent,
    dropsDuringTransfer: sum(after.drops) - sum(before.drops),
    dropsBy,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (e) {
  process.stderr.write(`transfer-cluster: ${(e as Error).stack}\n`);
  await cleanup();
  process.exit(1);
}
