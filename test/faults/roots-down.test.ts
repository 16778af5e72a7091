// Roots down: two members that talked directly, restarted while their only root (also the controller) stays
// down, reach each other again on their last direct paths (peers.d, ZeroTier One's peer cache) within 30 s.
// Real services, an unmodified python3 http.server and curl under the intercept.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import { decodeCachedPeer } from '../../service/core/peer-cache.js';
import { bin, cli, startCluster, waitFor } from '../../tools/cluster.js';

async function stopService(home: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8'));
  } catch {
    return;
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  await waitFor(`service ${pid} to exit`, 15_000, async () => {
    try {
      process.kill(pid, 0);
      return undefined;
    } catch {
      return true;
    }
  });
}

async function startService(home: string, port: number): Promise<void> {
  const r = await execa(bin('zerotier-netcon-service'), ['-d', `-p${port}`, home], { reject: false });
  if (r.exitCode !== 0) throw new Error(`service in ${home} did not start: ${r.stderr}`);
}

test('members restarted with every root down reach each other on their cached paths within 30 s', async (t) => {
  const cluster = await startCluster(['A', 'B']);
  const children: ResultPromise[] = [];
  t.teardown(async () => {
    for (const c of children) c.kill('SIGTERM');
    await cluster.stop();
  });
  const [a, b] = cluster.members as [(typeof cluster.members)[0], (typeof cluster.members)[0]];
  const serve = () => {
    const p = execa(
      bin('zerotier-netcon'),
      ['run', `-D${a.home}`, cluster.nwid, '--', 'python3', '-m', 'http.server', '80'],
      {
        cwd: cluster.base,
        reject: false,
        stdout: 'ignore',
        stderr: 'ignore',
      },
    );
    children.push(p);
    return p;
  };
  const curl = () =>
    execa(
      bin('zerotier-netcon'),
      [
        'run',
        `-D${b.home}`,
        '-t10',
        cluster.nwid,
        '--',
        'curl',
        '-sSf',
        '--max-time',
        '3',
        '-o',
        '/dev/null',
        `http://${a.ip}/`,
      ],
      { reject: false },
    );

  // Traffic while the root is up: A and B learn a direct path to each other.
  const server = serve();
  await waitFor('B to fetch from A', 30_000, async () => ((await curl()).exitCode === 0 ? true : undefined));
  await waitFor('A to list B with a direct path', 30_000, async () =>
    (await cli(a.home, 'listpeers')).stdout
      .split('\n')
      .some((l) => l.startsWith(`200 listpeers ${b.address} 127.0.0.1/`))
      ? true
      : undefined,
  );

  // Everything stops; each member's peers.d holds the other at its port.
  server.kill('SIGTERM');
  await Promise.all([stopService(cluster.root.home), stopService(a.home), stopService(b.home)]);
  for (const [me, other] of [
    [a, b],
    [b, a],
  ] as const) {
    const path = join(me.home, 'peers.d', `${other.address}.peer`);
    const rec = decodeCachedPeer(readFileSync(path));
    t.true(rec.ok, path);
    if (!rec.ok) return;
    t.is(rec.value.identity.address.toString(16).padStart(10, '0'), other.address);
    t.true(
      rec.value.paths.some((p) => p.family === 4 && p.ip.join('.') === '127.0.0.1' && p.port === other.port),
      `${path} names 127.0.0.1/${other.port}`,
    );
    t.true(rec.value.protocolVersion > 0);
  }

  // Only the members come back; the root (and controller) stays down.
  const t0 = performance.now();
  await startService(a.home, a.port);
  await startService(b.home, b.port);
  serve();
  await waitFor('B to fetch from A with the root down', 60_000, async () =>
    (await curl()).exitCode === 0 ? true : undefined,
  );
  const seconds = (performance.now() - t0) / 1000;
  t.log(`members reached each other ${seconds.toFixed(1)} s after their restart, root down`);
  t.true(seconds < 30, `took ${seconds.toFixed(1)} s`);
  t.regex((await cli(a.home, 'info')).stdout, /OFFLINE$/, 'the root really is down');
});
