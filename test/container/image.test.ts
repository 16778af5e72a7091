// The netcon images (container/Dockerfile) under a real Docker engine: built by container/build-images.sh
// (bookworm and trixie), run as the non-root user with --cap-drop ALL and no devices, on a network of a
// controller running on this machine (tools/cluster.ts; every container uses --network host, as our
// machines have no Docker bridge). A member on the host reaches the app in the container over the virtual
// LAN through its own intercept. Without a reachable engine (DOCKER_HOST; scripts/docker-engine.sh starts
// one) the tests are registered as skipped and the reason is printed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { api, bin, type Cluster, freePort, ROOT, startCluster, waitFor } from '../../tools/cluster.js';

const engine = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false, timeout: 20_000 });
const HAVE_DOCKER = engine.exitCode === 0;
const reg = HAVE_DOCKER ? test.serial : test.skip;
if (!HAVE_DOCKER) {
  console.error(
    `SKIPPED the netcon image tests: no Docker engine answers (${(engine.stderr || engine.shortMessage || '').split('\n')[0]}). ` +
      'Start one with: eval "$(scripts/docker-engine.sh start)"',
  );
}

const SUITES = ['bookworm', 'trixie'] as const;
const LIB = join(ROOT, 'libzerotierintercept.so');
let cluster: Cluster;
let dir: string;
const names: string[] = [];

if (HAVE_DOCKER) {
  test.before(async (t) => {
    t.timeout(40 * 60_000, 'building the images');
    const b = await execa(join(ROOT, 'container', 'build-images.sh'), [...SUITES], { reject: false, all: true });
    if (b.exitCode !== 0) throw new Error(`container/build-images.sh failed:\n${b.all}`);
    t.log(b.stdout);
    cluster = await startCluster(['B']);
    dir = mkdtempSync(join(tmpdir(), 'netcon-image-'));
  });
  test.after.always(async () => {
    for (const n of names) await execa('docker', ['rm', '-f', n], { reject: false });
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}

/** A container name of ours (removed at the end). */
function name(what: string): string {
  const n = `netcon-test-${what}-${process.pid}-${names.length}`;
  names.push(n);
  return n;
}

/** An identity the controller has authorized: the ZEROTIER_IDENTITY_* variables. */
async function authorizedIdentity(authorize = true): Promise<Record<string, string>> {
  const k = `id${names.length}-${Math.random().toString(36).slice(2)}`;
  await execa(bin('zerotier-idtool'), ['generate', join(dir, `${k}.secret`), join(dir, `${k}.public`)]);
  const pub = readFileSync(join(dir, `${k}.public`), 'utf8').trim();
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
    ZEROTIER_IDENTITY_PUBLIC: pub,
    ZEROTIER_IDENTITY_SECRET: readFileSync(join(dir, `${k}.secret`), 'utf8').trim(),
  };
}

/** docker run arguments: host network, no capabilities, the planet mounted, the environment given. */
function runArgs(n: string, env: Record<string, string>): string[] {
  const e = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  return [
    'run',
    '--name',
    n,
    '--network',
    'host',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '-v',
    `${join(cluster.base, 'planet')}:/etc/netcon-planet:ro`,
    '-e',
    'NETCON_PLANET=/etc/netcon-planet',
    ...e,
  ];
}

/** GET http://<ip>:<port>/ from member B on the host, through its intercept. */
async function fetchFromB(ip: string, port: number): Promise<string | undefined> {
  const r = await execa('curl', ['-s', '-m', '3', `http://${ip}:${port}/`], {
    env: { LD_PRELOAD: LIB, ZT_NC_NETWORK: cluster.members[0]!.sock },
    reject: false,
  });
  return r.exitCode === 0 ? r.stdout : undefined;
}

const NODE_APP =
  "require('http').createServer((q,s)=>s.end('hello from '+require('os').userInfo().username)).listen(80)";

reg(
  'the image: user netcon, home /var/lib/zerotier-one 0700 and empty (no identity baked in), no capabilities',
  async (t) => {
    for (const s of SUITES) {
      const r = await execa('docker', [
        'run',
        '--rm',
        '--network',
        'host',
        '--cap-drop',
        'ALL',
        '--entrypoint',
        'sh',
        `netcon:${s}`,
        '-c',
        'id -u; id -g; stat -c %a:%U /var/lib/zerotier-one; ls -A /var/lib/zerotier-one | wc -l; grep CapEff /proc/self/status; node --version; ls /dev',
      ]);
      const [uid, gid, home, count, caps, node] = r.stdout.split('\n');
      t.is(uid, '9993', s);
      t.is(gid, '9993', s);
      t.is(home, '700:netcon', s);
      t.is(count, '0', `${s}: nothing in the home`);
      t.regex(caps!, /CapEff:\s+0+$/, s);
      t.regex(node!, /^v20\./, s);
      t.false(/\bnet\b/.test(r.stdout), `${s}: no /dev/net`);
    }
  },
);

for (const s of SUITES) {
  reg(
    `netcon:${s}: docker run to an app answering over the virtual LAN, HEALTHCHECK healthy, docker stop in order`,
    async (t) => {
      const n = name(s);
      const env: Record<string, string> = {
        ...(await authorizedIdentity()),
        ZEROTIER_API_SECRET: 'token-for-the-test',
        NETCON_PORT: String(await freePort()),
      };
      const t0 = Date.now();
      const run = await execa('docker', [
        ...runArgs(n, env),
        '-d',
        `netcon:${s}`,
        cluster.nwid,
        '--',
        'node',
        '-e',
        NODE_APP,
      ]);
      t.regex(run.stdout, /^[0-9a-f]{64}$/);
      const address = env.ZEROTIER_IDENTITY_PUBLIC!.slice(0, 10);
      const member = await waitFor('the member to have an address', 60_000, async () => {
        const m = (await api(
          cluster.root.home,
          cluster.root.port,
          'GET',
          `/controller/network/${cluster.nwid}/member/${address}`,
        )) as {
          ipAssignments: string[];
        };
        return m.ipAssignments[0];
      });
      const body = await waitFor('the app to answer', 60_000, () => fetchFromB(member, 80));
      const answered = Date.now() - t0;
      t.is(body, 'hello from netcon');
      t.log(`netcon:${s}: docker run to the app answering over the virtual LAN: ${answered} ms`);
      // The API answers with our secret, inside the container.
      const info = await execa('docker', ['exec', n, 'zerotier-cli', '-Ttoken-for-the-test', 'info']);
      t.regex(info.stdout, new RegExp(`^200 info ${address} `));
      const health = await waitFor('HEALTHCHECK healthy', 60_000, async () => {
        const h = (await execa('docker', ['inspect', '-f', '{{.State.Health.Status}}', n])).stdout;
        return h === 'healthy' ? h : undefined;
      });
      t.is(health, 'healthy');
      // docker stop: SIGTERM to the app (node dies of it: 143), then the service; well within 10 s.
      const s0 = Date.now();
      await execa('docker', ['stop', n]);
      const stopped = Date.now() - s0;
      t.log(`netcon:${s}: docker stop took ${stopped} ms`);
      t.true(stopped < 8000, `stopped in ${stopped} ms`);
      t.is((await execa('docker', ['inspect', '-f', '{{.State.ExitCode}}', n])).stdout, '143');
      const logs = await execa('docker', ['logs', n], { all: true });
      t.regex(logs.all!, /network [0-9a-f]{16} is up/);
      t.regex(logs.all!, /"msg":"stopped"/, 'the service stopped cleanly after the app');
    },
  );
}

reg(
  'exit codes, arguments and the environment: the app’s status, a mismatched identity refused, a network not ready',
  async (t) => {
    const env = { ...(await authorizedIdentity()), NETCON_PORT: String(await freePort()) };
    const seven = await execa(
      'docker',
      [
        ...runArgs(name('exit'), { ...env, ZEROTIER_JOIN_NETWORKS: `1111111111111111,${cluster.nwid}` }),
        '-e',
        `NETCON_NETWORK=${cluster.nwid}`,
        'netcon:bookworm',
        '--',
        'sh',
        '-c',
        'ls /var/lib/zerotier-one/networks.d; echo "$ZT_NC_NETWORK"; exit 7',
      ],
      { reject: false },
    );
    t.is(seven.exitCode, 7, seven.stderr);
    // ls sorts the two names; the cluster's network ID is random, so it may come first
    t.deepEqual(seven.stdout.split('\n'), [
      ...['1111111111111111.conf', `${cluster.nwid}.conf`].sort(),
      `/var/lib/zerotier-one/nc_${cluster.nwid}`,
    ]);

    const a = await authorizedIdentity(false);
    const b = await authorizedIdentity(false);
    const bad = await execa(
      'docker',
      [
        ...runArgs(name('badid'), {
          ZEROTIER_IDENTITY_PUBLIC: a.ZEROTIER_IDENTITY_PUBLIC!,
          ZEROTIER_IDENTITY_SECRET: b.ZEROTIER_IDENTITY_SECRET!,
        }),
        'netcon:bookworm',
        cluster.nwid,
      ],
      { reject: false },
    );
    t.is(bad.exitCode, 2);
    t.regex(bad.stderr, /ZEROTIER_IDENTITY_PUBLIC does not match ZEROTIER_IDENTITY_SECRET/);

    const unauthorized = await execa(
      'docker',
      [
        ...runArgs(name('denied'), { ...a, NETCON_PORT: String(await freePort()), NETCON_WAIT_TIMEOUT: '15' }),
        'netcon:trixie',
        cluster.nwid,
        '--',
        'true',
      ],
      { reject: false },
    );
    t.is(unauthorized.exitCode, 1);
    t.regex(unauthorized.stderr, /not ready after 15 s: ACCESS_DENIED/);
  },
);

/** docker build of a Dockerfile given as text (no context); the image is removed at the end. */
async function buildFrom(tag: string, dockerfile: string): Promise<void> {
  const b = await execa('docker', ['build', '--network', 'host', '-t', tag, '-'], {
    input: dockerfile,
    reject: false,
    all: true,
  });
  if (b.exitCode !== 0) throw new Error(`docker build ${tag} failed:\n${b.all}`);
}

reg(
  'the README’s nginx app image: built FROM netcon:bookworm, networks from the environment, nginx answers over the LAN',
  async (t) => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const dockerfile = /An app image \(nginx\)[\s\S]*?```dockerfile\n([\s\S]*?)```/.exec(readme)?.[1];
    t.truthy(dockerfile, 'the Dockerfile in README');
    const tag = `netcon-test-nginx:${process.pid}`;
    await buildFrom(tag, dockerfile!);
    t.teardown(() => execa('docker', ['rmi', '-f', tag], { reject: false }).then(() => {}));
    const n = name('nginx');
    const env: Record<string, string> = {
      ...(await authorizedIdentity()),
      NETCON_PORT: String(await freePort()),
      ZEROTIER_JOIN_NETWORKS: cluster.nwid,
    };
    const t0 = Date.now();
    await execa('docker', [...runArgs(n, env), '-d', tag]);
    const address = env.ZEROTIER_IDENTITY_PUBLIC!.slice(0, 10);
    const ip = await waitFor('the member to have an address', 60_000, async () => {
      const m = (await api(
        cluster.root.home,
        cluster.root.port,
        'GET',
        `/controller/network/${cluster.nwid}/member/${address}`,
      )) as {
        ipAssignments: string[];
      };
      return m.ipAssignments[0];
    });
    const body = await waitFor('nginx to answer', 60_000, () => fetchFromB(ip, 80));
    t.log(`nginx image: docker run to nginx answering over the virtual LAN: ${Date.now() - t0} ms`);
    t.regex(body, /Welcome to nginx/);
    const ps = await execa('docker', ['exec', n, 'sh', '-c', 'ps -o user= -C nginx 2>/dev/null || id -un']);
    t.false(/root/.test(ps.stdout), 'nginx does not run as root');
    await execa('docker', ['stop', n]);
    t.is((await execa('docker', ['inspect', '-f', '{{.State.ExitCode}}', n])).stdout, '0', 'nginx exits 0 on SIGTERM');
  },
);

reg('the system-wide mode: the library in /etc/ld.so.preload, ZT_NC_NETWORK for the whole container', async (t) => {
  const tag = `netcon-test-preload:${process.pid}`;
  await buildFrom(
    tag,
    'FROM netcon:trixie\nUSER root\nRUN echo /opt/netcon/libzerotierintercept.so >/etc/ld.so.preload\nUSER netcon\n',
  );
  t.teardown(() => execa('docker', ['rmi', '-f', tag], { reject: false }).then(() => {}));
  const n = name('preload');
  const port = await freePort();
  const env: Record<string, string> = {
    ...(await authorizedIdentity()),
    NETCON_PORT: String(port),
    ZT_NC_NETWORK: `/var/lib/zerotier-one/nc_${cluster.nwid}`,
  };
  await execa('docker', [...runArgs(n, env), '-d', tag, cluster.nwid, '--', 'node', '-e', NODE_APP]);
  const address = env.ZEROTIER_IDENTITY_PUBLIC!.slice(0, 10);
  const ip = await waitFor('the member to have an address', 60_000, async () => {
    const m = (await api(
      cluster.root.home,
      cluster.root.port,
      'GET',
      `/controller/network/${cluster.nwid}/member/${address}`,
    )) as {
      ipAssignments: string[];
    };
    return m.ipAssignments[0];
  });
  t.is(await waitFor('the app to answer', 60_000, () => fetchFromB(ip, 80)), 'hello from netcon');
  // Every process has the library: the service too (inert), a docker exec'd program too (intercepted).
  const maps = await execa('docker', ['exec', n, 'sh', '-c', 'grep -l libzerotierintercept /proc/[0-9]*/maps | wc -l']);
  t.true(Number(maps.stdout) >= 3, `${maps.stdout} processes map the library`);
  const info = await execa('docker', ['exec', n, 'zerotier-cli', 'info'], { reject: false });
  t.is(info.exitCode, 0, `zerotier-cli is not intercepted: ${info.stderr}`);
  const probe = `fetch('http://127.0.0.1:${port}/status').then(() => process.exit(0), () => process.exit(3))`;
  t.is((await execa('docker', ['exec', n, 'node', '-e', probe], { reject: false })).exitCode, 3, 'docker exec node is');
  const fromInside = await execa('docker', [
    'exec',
    n,
    'node',
    '-e',
    `fetch('http://${ip}/').then(r => r.text()).then(console.log)`,
  ]);
  t.is(fromInside.stdout, 'hello from netcon', 'a docker exec program reaches the app over the network');
  await execa('docker', ['stop', n]);
});
