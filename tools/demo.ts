// npm run demo: netcon end to end, offline, without root, in a temporary folder.
// A root that is also the network controller, and two members, each its own zerotier-netcon-service on
// 127.0.0.1; a self-hosted planet made with zerotier-idtool; a private network; python3 -m http.server on
// member A and curl on member B, both unmodified and started through the intercept (zerotier-netcon run).
// Every step is printed; everything started is stopped at the end, on failure, and on Ctrl-C.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (name: string) => join(ROOT, name);
const FILE_SIZE = 10 * 1024 * 1024;
const started = Date.now();
const base = mkdtempSync(join(tmpdir(), 'netcon-demo-'));
const homes = { R: join(base, 'root'), A: join(base, 'member-a'), B: join(base, 'member-b') };
const children: ResultPromise[] = [];

function step(msg: string): void {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const cli = (home: string, ...args: string[]) => execa(bin('zerotier-cli'), [`-D${home}`, ...args], { reject: false });

async function api(home: string, port: number, method: string, path: string, body?: unknown): Promise<unknown> {
  const token = readFileSync(join(home, 'authtoken.secret'), 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'X-ZT1-Auth': token },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

async function cleanup(): Promise<void> {
  for (const c of children) c.kill('SIGTERM');
  for (const home of Object.values(homes)) {
    try {
      process.kill(Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8')), 'SIGTERM');
    } catch {
      /* not running */
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  rmSync(base, { recursive: true, force: true });
}

async function demo(): Promise<void> {
  step(`working in ${base}`);
  const ports = { R: await freePort(), A: await freePort(), B: await freePort() };

  step('making the root identity and a self-hosted planet (zerotier-idtool generate / initplanet / genplanet)');
  for (const h of Object.values(homes)) mkdirSync(h, { recursive: true, mode: 0o700 });
  await execa(bin('zerotier-idtool'), ['generate', join(homes.R, 'identity.secret'), join(homes.R, 'identity.public')]);
  const template = await execa(bin('zerotier-idtool'), [
    'initplanet',
    join(homes.R, 'identity.public'),
    `127.0.0.1/${ports.R}`,
  ]);
  writeFileSync(join(base, 'planet.json'), template.stdout);
  await execa(bin('zerotier-idtool'), ['genplanet', join(base, 'planet.json'), join(base, 'planet')], { cwd: base });
  for (const h of Object.values(homes)) writeFileSync(join(h, 'planet'), readFileSync(join(base, 'planet')));

  for (const [name, home] of Object.entries(homes)) {
    const port = ports[name as keyof typeof ports];
    const r = await execa(bin('zerotier-netcon-service'), ['-d', `-p${port}`, home], { reject: false });
    if (r.exitCode !== 0) throw new Error(`the ${name} service did not start: ${r.stderr}`);
    step(`started ${name === 'R' ? 'root + controller' : `member ${name}`}: ${(await cli(home, 'info')).stdout}`);
  }
  const addr = (home: string) => readFileSync(join(home, 'identity.public'), 'utf8').slice(0, 10);
  await waitFor('both members to come ONLINE', 30_000, async () =>
    (await cli(homes.A, 'info')).stdout.endsWith('ONLINE') && (await cli(homes.B, 'info')).stdout.endsWith('ONLINE')
      ? true
      : undefined,
  );
  step('both members are ONLINE with the root');

  const net = (await api(homes.R, ports.R, 'POST', `/controller/network/${addr(homes.R)}______`, {
    name: 'netcon-demo',
    private: true,
    v4AssignMode: { zt: true },
    ipAssignmentPools: [{ ipRangeStart: '10.147.20.10', ipRangeEnd: '10.147.20.250' }],
    routes: [{ target: '10.147.20.0/24' }],
  })) as { id: string };
  const nwid = net.id;
  step(`created private network ${nwid} on the controller`);
  for (const [name, home] of [
    ['A', homes.A],
    ['B', homes.B],
  ] as const) {
    step(`member ${name}: ${(await cli(home, 'join', nwid)).stdout}`);
    await api(homes.R, ports.R, 'POST', `/controller/network/${nwid}/member/${addr(home)}`, { authorized: true });
    step(`authorized member ${name} (${addr(home)})`);
  }
  const ready: Record<string, { sock: string; ip: string }> = {};
  for (const [name, home] of [
    ['A', homes.A],
    ['B', homes.B],
  ] as const) {
    const w = await execa(bin('zerotier-netcon'), ['wait', `-D${home}`, '-t30', nwid]);
    const [sock, ips] = w.stdout.split(' ');
    ready[name] = { sock: sock!, ip: ips!.split(',')[0]!.split('/')[0]! };
    step(`member ${name} is on the network as ${ready[name]!.ip} (apps connect through ${sock})`);
  }

  const www = join(base, 'www');
  mkdirSync(www);
  const data = randomBytes(FILE_SIZE);
  writeFileSync(join(www, 'random.bin'), data);
  const md5 = createHash('md5').update(data).digest('hex');
  const server = execa(
    bin('zerotier-netcon'),
    ['run', `-D${homes.A}`, nwid, '--', 'python3', '-m', 'http.server', '80'],
    {
      cwd: www,
      reject: false,
      stdout: 'ignore',
      stderr: 'ignore',
    },
  );
  children.push(server);
  step(`member A: python3 -m http.server 80, unmodified, under the intercept (${ready.A!.ip}:80)`);
  const fetchTo = join(base, 'fetched.bin');
  const curl = (extra: string[]) =>
    execa(bin('zerotier-netcon'), ['run', `-D${homes.B}`, nwid, '--', 'curl', '-sSf', '--max-time', '30', ...extra], {
      reject: false,
    });
  await waitFor('the web server on member A', 20_000, async () =>
    (await curl(['-o', '/dev/null', `http://${ready.A!.ip}/`])).exitCode === 0 ? true : undefined,
  );
  const t0 = process.hrtime.bigint();
  const got = await curl(['-o', fetchTo, `http://${ready.A!.ip}/random.bin`]);
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
