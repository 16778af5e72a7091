// container/entrypoint.sh (the image's netcon-entrypoint) run straight from the repository, without Docker:
// the environment and arguments become files in the home, a mismatched identity is refused before anything
// starts, the app runs under the intercept once its network is up, its exit status is the entry point's,
// and SIGTERM stops the app first and the service after it. Real services on 127.0.0.1 (tools/cluster.ts).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { createNodeHomes } from '../../service/bulk-identities.js';
import { api, bin, type Cluster, freePort, ROOT, startCluster, waitFor } from '../../tools/cluster.js';

const ENTRY = join(ROOT, 'container', 'entrypoint.sh');
const tmp = (t: { teardown(f: () => void): void }) => {
  const d = mkdtempSync(join(tmpdir(), 'netcon-entry-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
};

/** A generated identity: [public, secret] as text. */
async function identity(dir: string, name: string): Promise<[string, string]> {
  const sec = join(dir, `${name}.secret`);
  const pub = join(dir, `${name}.public`);
  await execa(bin('zerotier-idtool'), ['generate', sec, pub]);
  return [readFileSync(pub, 'utf8').trim(), readFileSync(sec, 'utf8').trim()];
}

/** The service's pid from its home (0 when it has none: never started, or stopped and removed the file). */
const servicePid = (home: string) => {
  try {
    return Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8').trim());
  } catch {
    return 0;
  }
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let cluster: Cluster;
test.before(async () => {
  cluster = await startCluster([]);
});
test.after.always(async () => {
  await cluster?.stop();
});

/** The environment of a container on the cluster's network, with an identity the controller authorized. */
async function member(dir: string, authorize = true): Promise<Record<string, string>> {
  const [pub, sec] = await identity(dir, 'm');
  if (authorize)
    await api(
      cluster.root.home,
      cluster.root.port,
      'POST',
      `/controller/network/${cluster.nwid}/member/${pub.slice(0, 10)}`,
      {
        authorized: true,
      },
    );
  return {
    ZEROTIER_HOME: join(dir, 'home'),
    ZEROTIER_IDENTITY_PUBLIC: pub,
    ZEROTIER_IDENTITY_SECRET: sec,
    NETCON_PLANET: join(cluster.base, 'planet'),
    NETCON_PORT: String(await freePort()),
  };
}

test('the environment and arguments become the home: networks.d, authtoken.secret, identity, planet, port', async (t) => {
  const dir = tmp(t);
  const home = join(dir, 'home');
  const [pub, sec] = await identity(dir, 'a');
  const port = await freePort();
  const env = {
    ZEROTIER_HOME: home,
    ZEROTIER_JOIN_NETWORKS: '1111111111111111, 2222222222222222 3333333333333333',
    ZEROTIER_API_SECRET: 'sesame-0123456789',
    ZEROTIER_IDENTITY_PUBLIC: pub,
    ZEROTIER_IDENTITY_SECRET: sec,
    NETCON_PLANET: join(cluster.base, 'planet'),
    NETCON_PORT: String(port),
  };
  // No command: the service runs in the foreground until SIGTERM.
  const run = execa(ENTRY, ['8056C2E21C000001'], { env, reject: false });
  const pid = await waitFor('the service to write its port', 30_000, async () =>
    readFileSync(join(home, 'zerotier-one.port'), 'utf8').trim() === String(port)
      ? Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8'))
      : undefined,
  );
  t.is(pid, run.pid ?? -1, 'without a command the entry point execs the service');
  t.deepEqual(readdirSync(join(home, 'networks.d')).sort(), [
    '1111111111111111.conf',
    '2222222222222222.conf',
    '3333333333333333.conf',
    '8056c2e21c000001.conf',
  ]);
  t.is(readFileSync(join(home, 'authtoken.secret'), 'utf8'), 'sesame-0123456789');
  t.is(statSync(join(home, 'authtoken.secret')).mode & 0o777, 0o600);
  t.is(statSync(join(home, 'identity.secret')).mode & 0o777, 0o600);
  t.is(statSync(home).mode & 0o777, 0o700);
  t.is(readFileSync(join(home, 'identity.public'), 'utf8').trim(), pub);
  t.is(readFileSync(join(home, 'identity.secret'), 'utf8').trim(), sec);
  t.deepEqual(readFileSync(join(home, 'planet')), readFileSync(join(cluster.base, 'planet')));
  // The API answers with the secret we gave.
  const res = await fetch(`http://127.0.0.1:${port}/status`, { headers: { 'X-ZT1-Auth': 'sesame-0123456789' } });
  t.is(res.status, 200);
  t.is(((await res.json()) as { address: string }).address, pub.slice(0, 10));
  run.kill('SIGTERM');
  t.is((await run).exitCode, 0);
});

test('without an identity in the environment the service generates one at first start and keeps it', async (t) => {
  const dir = tmp(t);
  const home = join(dir, 'home');
  const env = { ZEROTIER_HOME: home, NETCON_PORT: String(await freePort()) };
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const run = execa(ENTRY, [], { env, reject: false });
    await waitFor('the service to be up', 60_000, async () =>
      (await execa(bin('zerotier-cli'), [`-D${home}`, 'info'], { reject: false })).exitCode === 0 ? true : undefined,
    );
    t.is(servicePid(home), run.pid ?? -1);
    run.kill('SIGTERM');
    t.is((await run).exitCode, 0);
    t.is(statSync(join(home, 'identity.secret')).mode & 0o777, 0o600);
    ids.push(readFileSync(join(home, 'identity.secret'), 'utf8'));
  }
  t.is(ids[1], ids[0], 'generated once, kept at the next start');
  const v = await execa(bin('zerotier-idtool'), ['validate', join(home, 'identity.secret')], { reject: false });
  t.is(v.exitCode, 0, v.stderr);
});

test('a public identity that does not match the secret is refused with a clear message; nothing starts', async (t) => {
  const dir = tmp(t);
  const home = join(dir, 'home');
  const [pubA] = await identity(dir, 'a');
  const [, secB] = await identity(dir, 'b');
  const r = await execa(ENTRY, ['8056c2e21c000001'], {
    env: { ZEROTIER_HOME: home, ZEROTIER_IDENTITY_PUBLIC: pubA, ZEROTIER_IDENTITY_SECRET: secB },
    reject: false,
  });
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /ZEROTIER_IDENTITY_PUBLIC does not match ZEROTIER_IDENTITY_SECRET.*refusing to start/);
  t.deepEqual(readdirSync(home).sort(), ['networks.d'], 'no identity written, no service started');

  const half = await execa(ENTRY, [], { env: { ZEROTIER_HOME: home, ZEROTIER_IDENTITY_PUBLIC: pubA }, reject: false });
  t.is(half.exitCode, 2);
  t.regex(half.stderr, /set both or neither/);

  const bad = await execa(ENTRY, [], {
    env: { ZEROTIER_HOME: home, ZEROTIER_IDENTITY_PUBLIC: pubA, ZEROTIER_IDENTITY_SECRET: 'not an identity' },
    reject: false,
  });
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /ZEROTIER_IDENTITY_SECRET is not a valid secret identity/);
  t.deepEqual(readdirSync(home).sort(), ['networks.d']);
});

test('bad arguments and environment print the usage or the reason and exit 2', async (t) => {
  const home = join(tmp(t), 'home');
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['nope'], {}, /nope is not a network ID[\s\S]*usage: netcon-entrypoint/],
    [['8056c2e21c000001', '--'], {}, /nothing after --/],
    [['--', 'true'], {}, /a command needs a network/],
    [[], { ZEROTIER_JOIN_NETWORKS: '8056c2e21c000001,xyz' }, /ZEROTIER_JOIN_NETWORKS: xyz is not a network ID/],
    [[], { NETCON_PORT: '70000' }, /NETCON_PORT: 70000 is not a port/],
    [[], { NETCON_WAIT_TIMEOUT: 'soon' }, /NETCON_WAIT_TIMEOUT: soon/],
    [[], { NETCON_PLANET: '/nonexistent/planet' }, /NETCON_PLANET: \/nonexistent\/planet is not a file/],
    // One host service for many containers: the host runs only the service; an app of a hosted node brings
    // neither a service nor the node's identity, token or planet.
    [['8056c2e21c000001'], { NETCON_NODES: home }, /NETCON_NODES: the host runs only the service/],
    [['--', 'true'], { NETCON_NODES: home, NETCON_NETWORK: '8056c2e21c000001' }, /NETCON_NODES: the host runs only/],
    [[], { NETCON_NODES: home, NETCON_HOSTED: '1' }, /NETCON_NODES .* and NETCON_HOSTED .* exclude each other/],
    [[], { NETCON_HOSTED: 'yes' }, /NETCON_HOSTED: yes is not 1 or 0/],
    [['8056c2e21c000001'], { NETCON_HOSTED: '1' }, /NETCON_HOSTED: give the command to run/],
    [
      ['8056c2e21c000001', '--', 'true'],
      { NETCON_HOSTED: '1', ZEROTIER_API_SECRET: 'x' },
      /NETCON_HOSTED: ZEROTIER_API_SECRET is the host's business/,
    ],
    [
      ['8056c2e21c000001', '--', 'true'],
      { NETCON_HOSTED: '1', ZEROTIER_HOME: '/nonexistent/node' },
      /NETCON_HOSTED: \/nonexistent\/node is not a folder \(bind-mount the node's folder/,
    ],
  ];
  for (const [args, env, re] of cases) {
    const r = await execa(ENTRY, args, { env: { ZEROTIER_HOME: home, ...env }, reject: false });
    t.is(r.exitCode, 2, args.join(' '));
    t.regex(r.stderr, re);
  }
});

test("the app runs under the intercept on its network once it is up, and its exit status is the entry point's", async (t) => {
  const dir = tmp(t);
  const env = await member(dir);
  const r = await execa(
    ENTRY,
    [cluster.nwid, '--', 'sh', '-c', 'echo "$LD_PRELOAD|$ZT_NC_NETWORK"; test -S "$ZT_NC_NETWORK" && exit 7'],
    { env, reject: false },
  );
  t.is(r.exitCode, 7, r.stderr);
  t.is(r.stdout, `${join(ROOT, 'libzerotierintercept.so')}|${join(env.ZEROTIER_HOME!, `nc_${cluster.nwid}`)}`);
  t.regex(r.stderr, new RegExp(`network ${cluster.nwid} is up \\(10\\.147\\.20\\.`));
  // The service was stopped after the app.
  t.is(servicePid(env.ZEROTIER_HOME!), 0, 'the service stopped and removed its pid file');
});

test('SIGTERM stops the app first, then the service; the exit status is the app’s', async (t) => {
  const dir = tmp(t);
  const env = await member(dir);
  const mark = join(dir, 'mark');
  const pidFile = join(env.ZEROTIER_HOME!, 'zerotier-one.pid');
  // The app notes whether the service still runs when it gets SIGTERM, then exits 3.
  const script = `trap 'kill -0 $(cat ${pidFile}) && echo service-alive > ${mark}; exit 3' TERM; echo ready > ${mark}.ready; while :; do sleep 0.1; done`;
  const run = execa(ENTRY, [cluster.nwid, '--', 'sh', '-c', script], { env, reject: false });
  await waitFor('the app to start', 60_000, async () => (readdirSync(dir).includes('mark.ready') ? true : undefined));
  const svcPid = Number(readFileSync(pidFile, 'utf8'));
  t.true(alive(svcPid));
  const t0 = Date.now();
  run.kill('SIGTERM');
  const r = await run;
  t.is(r.exitCode, 3, r.stderr);
  t.is(readFileSync(mark, 'utf8').trim(), 'service-alive');
  t.false(alive(svcPid), 'the service is stopped once the app has exited');
  t.true(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
});

test('SIGTERM while waiting for the network stops the service and exits 143', async (t) => {
  const dir = tmp(t);
  const env = await member(dir, false);
  const run = execa(ENTRY, [cluster.nwid, '--', 'true'], { env, reject: false });
  const pidFile = join(env.ZEROTIER_HOME!, 'zerotier-one.pid');
  const svcPid = await waitFor(
    'the service to start',
    30_000,
    async () => Number(readFileSync(pidFile, 'utf8')) || undefined,
  );
  run.kill('SIGTERM');
  const r = await run;
  t.is(r.exitCode, 143, r.stderr);
  t.false(alive(svcPid));
});

test('a network that is not ready in time: exit 1 with its status, the service stopped', async (t) => {
  const dir = tmp(t);
  const env: Record<string, string> = { ...(await member(dir, false)), NETCON_WAIT_TIMEOUT: '20' };
  const r = await execa(ENTRY, [cluster.nwid, '--', 'true'], { env, reject: false });
  t.is(r.exitCode, 1);
  t.regex(
    r.stderr,
    new RegExp(`network ${cluster.nwid} not ready after 20 s: (ACCESS_DENIED|REQUESTING_CONFIGURATION)`),
  );
  t.regex(r.stderr, new RegExp(`200 listnetworks ${cluster.nwid}`), 'the network list is printed');
  t.is(servicePid(env.ZEROTIER_HOME!), 0, 'the service stopped and removed its pid file');
});

test('--health: 0 when every joined network is OK with an address, 1 otherwise', async (t) => {
  const dir = tmp(t);
  const env = await member(dir);
  const health = () => execa(ENTRY, ['--health'], { env, reject: false });
  t.is((await health()).exitCode, 1, 'no service');
  const run = execa(ENTRY, [cluster.nwid], { env, reject: false });
  t.teardown(() => run.kill('SIGKILL'));
  await waitFor('healthy', 30_000, async () => ((await health()).exitCode === 0 ? true : undefined));
  writeFileSync(join(env.ZEROTIER_HOME!, 'networks.d', '1111111111111111.conf'), '');
  await waitFor('unhealthy with a network that does not exist', 30_000, async () =>
    (await health()).exitCode === 1 ? true : undefined,
  );
  run.kill('SIGTERM');
  t.is((await run).exitCode, 0);
});

test('one service for many containers: NETCON_NODES runs the host, NETCON_HOSTED apps run on its nodes without a service of their own', async (t) => {
  const dir = tmp(t);
  const hostdir = join(dir, 'nodes');
  const [a, b] = await createNodeHomes(hostdir, 2);
  for (const n of [a!, b!])
    await api(cluster.root.home, cluster.root.port, 'POST', `/controller/network/${cluster.nwid}/member/${n}`, {
      authorized: true,
    });
  const port = await freePort();
  const hostEnv = {
    NETCON_NODES: hostdir,
    NETCON_PORT: String(port),
    ZEROTIER_API_SECRET: 'host-token-0123456789',
    NETCON_PLANET: join(cluster.base, 'planet'),
  };
  const host = execa(ENTRY, [], { env: hostEnv, reject: false });
  t.teardown(() => host.kill('SIGKILL'));
  const health = () => execa(ENTRY, ['--health'], { env: { NETCON_NODES: hostdir }, reject: false });
  await waitFor('the host to answer GET /nodes', 30_000, async () =>
    (await health()).exitCode === 0 ? true : undefined,
  );
  t.is(readFileSync(join(hostdir, 'authtoken.secret'), 'utf8'), 'host-token-0123456789');
  t.is(statSync(join(hostdir, 'authtoken.secret')).mode & 0o777, 0o600);
  t.deepEqual(readFileSync(join(hostdir, 'planet')), readFileSync(join(cluster.base, 'planet')));

  // App A serves a file over the network from node a; app B on node b fetches it: both under the intercept,
  // each with ZT_NC_NETWORK in its own node's folder, as a container sees the folder bind-mounted.
  writeFileSync(join(dir, 'hello.txt'), 'hello from a hosted node\n');
  const appEnv = (n: string) => ({ NETCON_HOSTED: '1', ZEROTIER_HOME: join(hostdir, n), NETCON_WAIT_TIMEOUT: '60' });
  const server = execa(
    ENTRY,
    [cluster.nwid, '--', 'sh', '-c', `echo "$ZT_NC_NETWORK" >&2; exec python3 -m http.server 8080 -d ${dir}`],
    { env: appEnv(a!), reject: false },
  );
  t.teardown(() => server.kill('SIGKILL'));
  let serverErr = '';
  server.stderr!.on('data', (c: Buffer) => {
    serverErr += c.toString();
  });
  const ip = await waitFor('app A on its network', 60_000, async () => {
    const m = /network [0-9a-f]{16} is up \((10\.147\.20\.\d+)/.exec(serverErr);
    return m?.[1];
  });
  // the app's own line comes after the entrypoint's "is up" (sh prints it once started): wait for it too
  const socketLine = `${join(hostdir, a!, `nc_${cluster.nwid}`)}\n`;
  await waitFor('app A to print its ZT_NC_NETWORK', 30_000, async () =>
    serverErr.includes(socketLine) ? true : undefined,
  );
  const fetchOnce = () =>
    execa(ENTRY, [cluster.nwid, '--', 'curl', '-sf', '--max-time', '5', `http://${ip}:8080/hello.txt`], {
      env: appEnv(b!),
      reject: false,
    });
  const got = await waitFor('app B to fetch from app A', 60_000, async () => {
    const r = await fetchOnce();
    return r.exitCode === 0 ? r : undefined;
  });
  t.is(got.stdout, 'hello from a hosted node');
  t.true(readdirSync(join(hostdir, b!, 'networks.d')).includes(`${cluster.nwid}.conf`), 'joined through the folder');

  // No service of their own: the only zerotier-netcon-service with these folders is the host.
  const ps = await execa('ps', ['-eo', 'args']);
  const services = ps.stdout.split('\n').filter((l) => l.includes('zerotier-netcon-service') && l.includes(hostdir));
  t.is(services.length, 1, services.join('\n'));
  t.regex(services[0]!, /--nodes/);

  // SIGTERM to the app container: the app's status; the host and its nodes keep running.
  server.kill('SIGTERM');
  const sr = await server;
  t.is(sr.exitCode, 143, sr.stderr);
  t.is((await health()).exitCode, 0, 'the host still runs');
  host.kill('SIGTERM');
  t.is((await host).exitCode, 0);
});
