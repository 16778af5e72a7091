// A same-user app that opens sockets until none are left gets a clean EMFILE from the service before the
// service runs out itself: the last 64 fds under the soft RLIMIT_NOFILE stay the service's (netcon/fd-reserve.ts).
// The refusal is logged, the service keeps answering, and once the app closes its sockets new ones work again.
// (socket() does not wait for the service's answer (intercept/RPC.md), so up to 16 sockets made before the
// library read the first refusal fail only when used; from then on socket() itself fails until one is accepted.)
// A real service started under `prlimit --nofile=1024` (so the limit is reached quickly) and python3 under the
// intercept in an empty network namespace.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { LIB } from '../../testkit/intercept.js';
import { bin, cli, freePort, waitFor } from '../../tools/cluster.js';

const NWID = '8056c2e21c000001';

const PY = `
import socket
socks = []
err = None
try:
    while True:
        socks.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
except OSError as e:
    err = e.errno
n = len(socks)
for s in socks:
    s.close()
again = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
again.close()
print(n, err, "again-ok")
`;

test('an app exhausting the service fds gets EMFILE, the refusal is logged, and the service recovers', async (t) => {
  const home = join(mkdtempSync(join(tmpdir(), 'netcon-fdres-')), 'home');
  t.teardown(() => {
    try {
      process.kill(Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8')), 'SIGTERM');
    } catch {
      /* gone */
    }
    rmSync(join(home, '..'), { recursive: true, force: true });
  });
  const port = await freePort();
  const r = await execa('prlimit', ['--nofile=1024:1024', bin('zerotier-netcon-service'), '-d', `-p${port}`, home], {
    reject: false,
  });
  t.is(r.exitCode, 0, r.stderr);
  t.is((await cli(home, 'join', NWID)).exitCode, 0);
  const sock = join(home, `nc_${NWID}`);
  await waitFor('the network socket', 10_000, async () =>
    (await execa('test', ['-S', sock], { reject: false })).exitCode === 0 ? true : undefined,
  );

  const app = await execa('unshare', ['-n', '--', 'python3', '-c', PY], {
    env: { LD_PRELOAD: LIB, ZT_NC_NETWORK: sock },
    extendEnv: true,
    reject: false,
    timeout: 60_000,
  });
  t.is(app.exitCode, 0, app.stderr);
  const [n, err, again] = app.stdout.trim().split(' ');
  t.log(`the app opened ${n} sockets, then errno ${err}; after closing them: ${again}`);
  t.is(err, '24', 'EMFILE');
  // 1024 - 64 reserved, less the service's own fds: the app stopped at the reserve, not at its own limit.
  t.true(Number(n) > 800 && Number(n) < 960, `${n} sockets`);
  t.is(again, 'again-ok');
  const log = readFileSync(join(home, 'netcon.log'), 'utf8');
  t.regex(log, /out of file descriptors for apps: fd \d+ is within 64 of the limit 1024/);
  const info = await cli(home, 'info');
  t.is(info.exitCode, 0, info.stderr);
});
