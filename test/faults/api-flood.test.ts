// An API flood by another local user: a user made for the test (removed after) keeps thousands of connections
// to member A's local API open or reopening, each sending a partial header. Meanwhile the token holder's
// zerotier-cli answers, an intercepted curl on member B fetches from python3 http.server on member A, and a new
// app starts on A through `zerotier-netcon run` (which asks A's API). The service holds only the few
// connections the user is allowed, and its fds stay few.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import { api, bin, cli, startCluster, waitFor } from '../../tools/cluster.js';

const FLOOD = `
const net = require('node:net');
const [port, target, ms] = process.argv.slice(2).map(Number);
let attempted = 0, connected = 0, open = 0, maxOpen = 0, errors = 0, done = false;
function one() {
  attempted++;
  const s = net.connect(port, '127.0.0.1');
  let up = false;
  s.on('connect', () => { up = true; connected++; open++; maxOpen = Math.max(maxOpen, open); s.write('GET /status HTTP/1.1\\r\\nHost: x\\r\\n'); });
  s.on('error', () => { errors++; });
  s.on('close', () => { if (up) open--; if (!done) setTimeout(one, 5); });
}
for (let i = 0; i < target; i++) one();
setTimeout(() => {
  done = true;
  process.stdout.write(JSON.stringify({ attempted, connected, maxOpen, errors }) + '\\n');
  process.exit(0);
}, ms);
`;

test('another local user floods the API: the CLI and intercepted apps keep working', async (t) => {
  if (process.getuid?.() !== 0) return t.pass('needs root to create a user; skipped');
  const cluster = await startCluster(['A', 'B']);
  const user = `ncflood${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'netcon-flood-'));
  const children: ResultPromise[] = [];
  t.teardown(async () => {
    for (const c of children) c.kill('SIGKILL');
    await cluster.stop();
    await execa('userdel', [user], { reject: false });
    rmSync(dir, { recursive: true, force: true });
  });
  const [a, b] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
  await execa('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', user]);
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'flood.cjs'), FLOOD, { mode: 0o644 });

  const www = join(dir, 'www');
  await execa('mkdir', [www]);
  writeFileSync(join(www, 'hello.txt'), 'hello over netcon\n');
  children.push(
    execa(bin('zerotier-netcon'), ['run', `-D${a.home}`, cluster.nwid, '--', 'python3', '-m', 'http.server', '80'], {
      cwd: www,
      reject: false,
      stdout: 'ignore',
      stderr: 'ignore',
    }),
  );
  const fetchOnB = () =>
    execa(
      bin('zerotier-netcon'),
      ['run', `-D${b.home}`, cluster.nwid, '--', 'curl', '-sSf', '--max-time', '10', `http://${a.ip}/hello.txt`],
      { reject: false },
    );
  await waitFor('the web server on A', 30_000, async () => ((await fetchOnB()).exitCode === 0 ? true : undefined));

  const timeCli = async () => {
    const t0 = performance.now();
    const info = await cli(a.home, 'info');
    t.is(info.exitCode, 0, info.stderr);
    t.regex(info.stdout, /^200 info /);
    return performance.now() - t0;
  };
  // The API's own answer to the token holder, on a new connection each time (as the CLI makes): the CLI's time is
  // mostly node starting up, 2-6 s on a loaded machine, which says nothing about the API.
  const token = readFileSync(join(a.home, 'authtoken.secret'), 'utf8').trim();
  const timeApi = () =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      const req = get(
        { host: '127.0.0.1', port: a.port, path: '/status', agent: false, headers: { 'X-ZT1-Auth': token } },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(performance.now() - t0)
              : reject(new Error(`GET /status: HTTP ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.setTimeout(20_000, () => req.destroy(new Error('GET /status: no answer within 20 s')));
    });
  const quiet: number[] = [];
  const quietApi: number[] = [];
  for (let i = 0; i < 3; i++) {
    quiet.push(await timeCli());
    quietApi.push(await timeApi());
  }
  const pidA = Number(readFileSync(join(a.home, 'zerotier-one.pid'), 'utf8'));
  const fds = () => readdirSync(`/proc/${pidA}/fd`).length;
  const fdsBefore = fds();
  const CONNECTIONS = 5000;
  const FLOOD_MS = 25_000;
  const flood = execa(
    'runuser',
    ['-u', user, '--', process.execPath, join(dir, 'flood.cjs'), `${a.port}`, `${CONNECTIONS}`, `${FLOOD_MS}`],
    {
      reject: false,
    },
  );
  children.push(flood);
  // The flood is on once the service has refused a good part of it.
  await waitFor('the flood to reach the API', 15_000, async () => {
    const s = (await api(a.home, a.port, 'GET', '/unstable/stats')) as { api: { refused: number } };
    return s.api.refused > 1000 ? true : undefined;
  });

  // During the flood: the token holder's CLI, an intercepted client on B, and a new app on A.
  const cliTimes: number[] = [];
  const apiTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    cliTimes.push(await timeCli());
    apiTimes.push(await timeApi());
  }
  const got = await fetchOnB();
  t.is(got.exitCode, 0, got.stderr);
  t.is(got.stdout.trim(), 'hello over netcon');
  const local = await execa(
    bin('zerotier-netcon'),
    ['run', `-D${a.home}`, '-t20', cluster.nwid, '--', 'curl', '-sSf', '--max-time', '10', `http://${a.ip}/hello.txt`],
    { reject: false },
  );
  t.is(local.exitCode, 0, local.stderr);
  const fdsDuring = fds();
  const stats = (await api(a.home, a.port, 'GET', '/unstable/stats')) as {
    api: { attempted: number; refused: number; held: number; peak: number };
  };

  const r = await flood;
  const client = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
  const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join('/');
  const median = [...apiTimes].sort((x, y) => x - y)[2]!;
  t.log(
    `flood by ${user}: ${client.attempted} connections attempted (${client.connected} accepted by the kernel), ` +
      `service: ${stats.api.attempted} seen, ${stats.api.refused} refused at once, held now ${stats.api.held}, ` +
      `peak ${stats.api.peak}; service fds ${fdsBefore} before, ${fdsDuring} during; ` +
      `GET /status during the flood ${ms(apiTimes)} ms (median ${median.toFixed(0)}), before it ${ms(quietApi)} ms; ` +
      `zerotier-cli info during the flood ${ms(cliTimes)} ms, before it ${ms(quiet)} ms`,
  );
  t.true(stats.api.refused > 1000);
  t.true(stats.api.peak <= 64 + 128, `peak ${stats.api.peak} within the allowances`);
  t.true(fdsDuring < fdsBefore + 100, `service fds ${fdsBefore} → ${fdsDuring}`);
  // Each answer came (asserted above); a connection refused by a full accept queue is retried by the kernel after
  // 1 s and 3 s, so the bound allows two SYN retries over the quiet time. (It bounded the CLI's wall time before,
  // which failed under NETCON_TEST_LOAD=2: 6.5 s against 2.0 s quiet, while the API answered in 20-130 ms.)
  const quietMedian = [...quietApi].sort((x, y) => x - y)[1]!;
  t.true(median < quietMedian + 4000, `the API answered in ${median} ms (median; ${quietMedian} ms before the flood)`);
});
