// npm run demo: netcon end to end, offline, without root, in a temporary folder.
// A root that is also the network controller, and two members, each its own zerotier-netcon-service on
// 127.0.0.1 (tools/cluster.ts); python3 -m http.server on member A and curl on member B, both unmodified and
// started through the intercept (zerotier-netcon run). Every step is printed; everything started is stopped
// at the end, on failure, and on Ctrl-C.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { bin, type Cluster, startCluster, waitFor } from './cluster.js';

const FILE_SIZE = 10 * 1024 * 1024;
const started = Date.now();
const children: ResultPromise[] = [];
let cluster: Cluster | undefined;

function step(msg: string): void {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`);
}

async function cleanup(): Promise<void> {
  for (const c of children) c.kill('SIGTERM');
  await cluster?.stop();
}

async function demo(): Promise<void> {
  cluster = await startCluster(['A', 'B'], step);
  const [a, b] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
  const www = join(cluster.base, 'www');
  mkdirSync(www);
  const data = randomBytes(FILE_SIZE);
  writeFileSync(join(www, 'random.bin'), data);
  const md5 = createHash('md5').update(data).digest('hex');
  const server = execa(
    bin('zerotier-netcon'),
    ['run', `-D${a.home}`, cluster.nwid, '--', 'python3', '-m', 'http.server', '80'],
    { cwd: www, reject: false, stdout: 'ignore', stderr: 'ignore' },
  );
  children.push(server);
  step(`member A: python3 -m http.server 80, unmodified, under the intercept (${a.ip}:80)`);
  const fetchTo = join(cluster.base, 'fetched.bin');
  const curl = (extra: string[]) =>
    execa(
      bin('zerotier-netcon'),
      ['run', `-D${b.home}`, cluster!.nwid, '--', 'curl', '-sSf', '--max-time', '30', ...extra],
      { reject: false },
    );
  await waitFor('the web server on member A', 20_000, async () =>
    (await curl(['-o', '/dev/null', `http://${a.ip}/`])).exitCode === 0 ? true : undefined,
  );
  const t0 = process.hrtime.bigint();
  const got = await curl(['-o', fetchTo, `http://${a.ip}/random.bin`]);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (got.exitCode !== 0) throw new Error(`curl failed: ${got.stderr}`);
  const gotMd5 = createHash('md5').update(readFileSync(fetchTo)).digest('hex');
  if (gotMd5 !== md5) throw new Error(`MD5 differs: sent ${md5}, received ${gotMd5}`);
  step(
    `member B: curl fetched ${FILE_SIZE / 1048576} MiB in ${seconds.toFixed(2)} s (${(FILE_SIZE / 1048576 / seconds).toFixed(1)} MiB/s), MD5 equal (${md5})`,
  );
}

let interrupted = false;
process.on('SIGINT', () => {
  interrupted = true;
  step('interrupted: stopping everything');
  void cleanup().then(() => process.exit(130));
});

try {
  await demo();
  step('stopping the services');
  await cleanup();
  step('done');
} catch (e) {
  if (!interrupted) {
    process.stderr.write(`demo failed: ${(e as Error).message}\n`);
    await cleanup();
    process.exit(1);
  }
}
