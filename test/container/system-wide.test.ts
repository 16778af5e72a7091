// The system-wide mode (the library in /etc/ld.so.preload and ZT_NC_NETWORK set for a whole container), without
// Docker: LD_PRELOAD and ZT_NC_NETWORK in the environment of every process, as there. netcon's own programs
// (the service, zerotier-cli, zerotier-idtool, zerotier-netcon: node running one of bin/*.js) load the library
// but it stays inert in them (intercept/src/real.c own_program); any other program is intercepted.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { api, bin, type Cluster, cli, freePort, ROOT, startCluster, waitFor } from '../../tools/cluster.js';

const LIB = join(ROOT, 'intercept', 'build', 'libzerotierintercept.so');
let cluster: Cluster;
test.before(async () => {
  cluster = await startCluster(['B']);
});
test.after.always(async () => {
  await cluster?.stop();
});

test('with LD_PRELOAD and ZT_NC_NETWORK set for everything, netcon’s programs stay inert and others are intercepted', async (t) => {
  const b = cluster.members[0]!;
  const everywhere = { LD_PRELOAD: LIB, ZT_NC_NETWORK: b.sock };

  // Another program is intercepted: 127.0.0.1 is the network stack's own loopback, where no API listens.
  const probe = `fetch('http://127.0.0.1:${b.port}/status').then(() => process.exit(0), () => process.exit(3))`;
  t.is((await execa('node', ['-e', probe], { env: everywhere, reject: false })).exitCode, 3, 'node -e is intercepted');
  t.is((await execa('node', ['-e', probe], { reject: false })).exitCode, 0, 'and reaches the API without the library');

  // zerotier-cli reaches the API on the host's loopback.
  const info = await execa(bin('zerotier-cli'), [`-D${b.home}`, 'info'], { env: everywhere, reject: false });
  t.is(info.exitCode, 0, info.stderr);
  t.regex(info.stdout, new RegExp(`^200 info ${b.address} `));

  // A service started with them joins over real UDP, and zerotier-netcon wait sees its network up.
  const home = join(cluster.base, 'member-sw');
  mkdirSync(home, { mode: 0o700 });
  mkdirSync(join(home, 'networks.d'), { mode: 0o700 });
  readFileSync(join(cluster.base, 'planet'));
  await execa('cp', [join(cluster.base, 'planet'), join(home, 'planet')]);
  await execa('touch', [join(home, 'networks.d', `${cluster.nwid}.conf`)]);
  const port = await freePort();
  const svc = await execa(bin('zerotier-netcon-service'), ['-d', `-p${port}`, home], {
    env: everywhere,
    reject: false,
  });
  t.is(svc.exitCode, 0, svc.stderr);
  const pid = Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8'));
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* stopped */
    }
  });
  t.true(readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libzerotierintercept.so'), 'the library is loaded');
  const address = readFileSync(join(home, 'identity.public'), 'utf8').slice(0, 10);
  await api(cluster.root.home, cluster.root.port, 'POST', `/controller/network/${cluster.nwid}/member/${address}`, {
    authorized: true,
  });
  const wait = await execa(bin('zerotier-netcon'), ['wait', `-D${home}`, '-t60', cluster.nwid], {
    env: everywhere,
    reject: false,
  });
  t.is(wait.exitCode, 0, wait.stderr);
  t.regex(wait.stdout, new RegExp(`^${join(home, `nc_${cluster.nwid}`)} 10\\.147\\.20\\.`));
  await waitFor('the new member ONLINE', 30_000, async () =>
    (await cli(home, 'info')).stdout.endsWith('ONLINE') ? true : undefined,
  );
});
