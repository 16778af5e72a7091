// The README's walk-through, command for command, against a network on our own controller: a service on
// /tmp/netcon-test-home (port 8000) joins, listnetworks shows the socket path in the dev column, and
// python3 -m http.server 80 under LD_PRELOAD/ZT_NC_NETWORK serves a file to a preloaded curl on a second
// service (a member of the same network started by tools/cluster.ts, whose root is also the controller).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { api, startCluster, waitFor } from '../../tools/cluster.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const HOME = '/tmp/netcon-test-home';
const LIB = join(ROOT, 'libzerotierintercept.so');

test('the walk-through: service -d -p8000, join, listnetworks, python3 -m http.server 80 under the preload', async (t) => {
  const cluster = await startCluster(['B']);
  const b = cluster.members[0]!;
  const www = mkdtempSync(join(tmpdir(), 'netcon-walk-'));
  t.teardown(async () => {
    try {
      process.kill(Number(readFileSync(join(HOME, 'zerotier-one.pid'), 'utf8')), 'SIGTERM');
    } catch {
      /* not running */
    }
    await cluster.stop();
    rmSync(HOME, { recursive: true, force: true });
    rmSync(www, { recursive: true, force: true });
  });
  rmSync(HOME, { recursive: true, force: true });

  // mkdir /tmp/netcon-test-home (plus the self-hosted planet, as the README's self-hosting section says)
  await execa('mkdir', [HOME]);
  writeFileSync(join(HOME, 'planet'), readFileSync(join(cluster.base, 'planet')));
  // ./zerotier-netcon-service -d -p8000 /tmp/netcon-test-home
  const svc = await execa('./zerotier-netcon-service', ['-d', '-p8000', HOME], { cwd: ROOT, reject: false });
  t.is(svc.exitCode, 0, svc.stderr);
  // ./zerotier-cli -D/tmp/netcon-test-home join <nwid>
  const join1 = await execa('./zerotier-cli', [`-D${HOME}`, 'join', cluster.nwid], { cwd: ROOT });
  t.is(join1.stdout, '200 join OK');
  const address = readFileSync(join(HOME, 'identity.public'), 'utf8').slice(0, 10);
  await api(cluster.root.home, cluster.root.port, 'POST', `/controller/network/${cluster.nwid}/member/${address}`, {
    authorized: true,
  });
  // ./zerotier-cli -D/tmp/netcon-test-home listnetworks: the dev column is the socket path
  const sock = `${HOME}/nc_${cluster.nwid}`;
  const line = await waitFor('the network to be OK with an address', 30_000, async () => {
    const l = (await execa('./zerotier-cli', [`-D${HOME}`, 'listnetworks'], { cwd: ROOT })).stdout.split('\n')[1];
    return l && / OK PRIVATE /.test(l) && !l.endsWith(' -') ? l : undefined;
  });
  const cols = line.split(' ');
  t.is(cols[7], sock, line);
  t.true(existsSync(sock));
  const ip = cols[8]!.split('/')[0]!;

  // export LD_PRELOAD=`pwd`/libzerotierintercept.so; export ZT_NC_NETWORK=…; python3 -m http.server 80
  const data = randomBytes(1024 * 1024);
  writeFileSync(join(www, 'hello.bin'), data);
  const server = execa('python3', ['-m', 'http.server', '80'], {
    cwd: www,
    env: { LD_PRELOAD: LIB, ZT_NC_NETWORK: sock },
    reject: false,
    stdout: 'ignore',
    stderr: 'ignore',
  });
  t.teardown(() => server.kill());
  const out = join(www, 'got.bin');
  const curl = (args: string[]) =>
    execa('curl', ['-sSf', '--max-time', '20', ...args], {
      env: { LD_PRELOAD: LIB, ZT_NC_NETWORK: b.sock },
      reject: false,
    });
  await waitFor('python3 -m http.server 80', 20_000, async () =>
    (await curl(['-o', '/dev/null', `http://${ip}/`])).exitCode === 0 ? true : undefined,
  );
  const got = await curl(['-o', out, `http://${ip}/hello.bin`]);
  t.is(got.exitCode, 0, got.stderr);
  const md5 = (x: Uint8Array) => createHash('md5').update(x).digest('hex');
  t.is(md5(readFileSync(out)), md5(data));
});
