// npm run bench -- density [--nodes N]
// Many nodes in one process (issue 16): `zerotier-netcon-service --nodes <dir>` hosting N nodes (default 1,000),
// each joined to one private network of one controller (through its networks.d) and authorized through the
// controller's API. The controller, also the planet's only root, is a separate zerotier-netcon-service process
// on 127.0.0.1 (not counted). Measured:
//   - RSS per node: the host process's RSS / N, once all are OK (and the marginal cost: what it grew by from a
//     host with one node, / N-1);
//   - idle CPU of the whole host process (% of one core) over BENCH_IDLE_SECONDS (default 120: two rounds of the
//     nodes' once-a-minute config refresh and root ping, so the window holds whole periods) once the host has
//     settled for BENCH_SETTLE_SECONDS (default 60) after all are OK (the first minute still holds each node's
//     first peer-cache write, multicast announcement and credential pushes: start-up, not idling);
//   - the time to add one more node (an existing identity, already authorized: its folder moved into the host
//     folder, POST /nodes/<name>) until it is OK on its network;
//   - TCP between two nodes through the intercept (1 MB echoed by a Python server, both under LD_PRELOAD);
//   - min(100, N/2) nodes serving HTTP at once (Debian's `python3 -m http.server`, one per node) to as many
//     others (curl, one per node), every request answered.
// Baseline: ZeroTier One 1.14.1's idle RSS with one network joined (ZT_ONE_BIN, run as root in a network
// namespace with a tap; bench/lib/netns-lab.ts), else the issue's figure (8.1 MB). value = our nodes per GiB of
// RSS, baseline = ZeroTier One's (one node per process), so ratio = how many of our nodes fit in the memory of
// one ZeroTier One node.
// Identities are cached under .cache/density/ (made with service/bulk-identities.ts on every core the first
// time), so reruns skip the keygen.
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { generateIdentities } from '../service/bulk-identities.js';
import { withServiceFlags } from '../service/cli/service-main.js';
import { formatIdentity, type Identity, parseIdentity } from '../service/core/identity.js';
import { parseInetAddress } from '../service/core/inet-address.js';
import { encodeCachedPeer } from '../service/core/peer-cache.js';
import type { HostedNodeInfo } from '../service/daemon/host.js';
import { LIB } from '../testkit/intercept.js';
import { planetWithRoot, stopService, ZT_ONE_BIN } from '../testkit/zerotier-one.js';
import { api, bin, freePort, ROOT, waitFor } from '../tools/cluster.js';
import { cpuSeconds } from './lib/netns-lab.js';
import { report } from './result.js';

const log = (m: string) => process.stderr.write(`${m}\n`);
const args = process.argv.slice(3);
const nodesArg = args.indexOf('--nodes');
const N = nodesArg >= 0 ? Number(args[nodesArg + 1]) : 1000;
if (!Number.isInteger(N) || N < 2) {
  process.stderr.write('usage: npm run bench -- density [--nodes N]   (N ≥ 2, default 1000)\n');
  process.exit(2);
}
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 120);
const SETTLE_SECONDS = Number(process.env.BENCH_SETTLE_SECONDS ?? 60);
const HTTP_PAIRS = Math.min(100, Math.floor(N / 2));
const ISSUE_ZT1_RSS = 8.1 * 1048576;
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const CACHE = join(ROOT, '.cache', 'density');

/** RSS of a process in bytes (VmRSS). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** `count` identities: the cached ones first, new ones generated on every core (and cached) for the rest. */
async function identities(count: number): Promise<{ ids: Identity[]; generated: number; ms: number }> {
  const dir = join(CACHE, 'identities');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ids = readdirSync(dir)
    .filter((f) => f.endsWith('.secret'))
    .sort()
    .slice(0, count)
    .map((f) => parseIdentity(readFileSync(join(dir, f), 'utf8')));
  const need = count - ids.length;
  const t0 = Date.now();
  if (need > 0) {
    let last = 0;
    const fresh = await generateIdentities(need, {
      onProgress: (done, total) => {
        if (done === total || Date.now() - last > 5000) {
          last = Date.now();
          log(`identities: ${done}/${total} generated (service/bulk-identities.ts, every core)`);
        }
      },
    });
    for (const id of fresh) {
      writeFileSync(join(dir, `${formatIdentity(id).slice(0, 10)}.secret`), formatIdentity(id, true), { mode: 0o600 });
      ids.push(id);
    }
  }
  return { ids, generated: need, ms: Date.now() - t0 };
}

/** A node's home under a host folder (the planet comes from the host folder), joined to `nwid` through networks.d. */
function writeNode(base: string, id: Identity, nwid: string): string {
  const name = formatIdentity(id).slice(0, 10);
  const home = join(base, name);
  mkdirSync(join(home, 'networks.d'), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, 'identity.secret'), formatIdentity(id, true), { mode: 0o600 });
  writeFileSync(join(home, 'identity.public'), formatIdentity(id), { mode: 0o644 });
  writeFileSync(join(home, 'networks.d', `${nwid}.conf`), '\n', { mode: 0o600 });
  return name;
}

/** The nodes' process: `zerotier-netcon-service --nodes <dir> -p<port>` in the foreground, and its host API. */
class Host {
  readonly child;
  readonly port: number;
  private readonly token: () => string;
  constructor(
    readonly dir: string,
    port: number,
  ) {
    this.port = port;
    // BENCH_NODE_FLAGS: extra node flags for the nodes' process (e.g. --cpu-prof to see where idle time goes),
    // with the service's own, which its launcher gives (the young generation's size shows in RSS).
    const flags = withServiceFlags((process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean));
    const logFd = openSync(join(dir, '..', `${basename(dir)}.log`), 'a');
    this.child = spawn(
      process.execPath,
      [...flags, join(ROOT, 'bin', 'zerotier-netcon-service.js'), '--nodes', dir, `-p${port}`],
      { stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    this.token = () => readFileSync(join(dir, 'authtoken.secret'), 'utf8').trim();
  }
  get pid(): number {
    return this.child.pid!;
  }
  private async call(method: string, path: string): Promise<unknown> {
    if (this.child.exitCode !== null)
      throw new Error(`the host process exited (${this.child.exitCode}); see ${this.dir}.log`);
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
      method,
      headers: { 'X-ZT1-Auth': this.token() },
    });
    if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  }
  nodes(): Promise<HostedNodeInfo[]> {
    return this.call('GET', '/nodes') as Promise<HostedNodeInfo[]>;
  }
  add(name: string): Promise<unknown> {
    return this.call('POST', `/nodes/${name}`);
  }
  /** Nodes whose every network is OK. */
  async okCount(): Promise<number> {
    const list = await this.nodes();
    return list.filter((n) => n.networks.length > 0 && n.networks.every((x) => x.status === 'OK')).length;
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 30000);
    await gone;
    clearTimeout(t);
  }
}

/** Waits until every one of `n` nodes is OK, logging progress every 5 s. */
/** waitFor polling every 10 ms (for a time measured in milliseconds). */
async function waitForFast<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function allOk(host: Host, n: number, ms: number): Promise<void> {
  let last = 0;
  await waitFor(`${n} nodes OK`, ms, async () => {
    const k = await host.okCount();
    if (Date.now() - last > 5000) {
      last = Date.now();
      log(`  ${k}/${n} OK`);
    }
    return k >= n ? true : undefined;
  });
}

/** A program under the intercept on `sock`, in an empty network namespace of its own. */
function intercepted(sock: string, cmd: string, argv: string[], timeout?: number) {
  return execa('unshare', ['-n', '--', cmd, ...argv], {
    env: { LD_PRELOAD: LIB, ZT_NC_NETWORK: sock },
    extendEnv: true,
    reject: false,
    detached: true,
    ...(timeout ? { timeout } : {}),
  });
}

const ECHO_SERVER = `import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(1)
print('ready', flush=True)
c,_=s.accept(); d=b''
while len(d) < 1000000:
  b=c.recv(65536)
  if not b: break
  d+=b
c.sendall(d); c.close()`;
const ECHO_CLIENT = `import socket,sys,os
data=os.urandom(1000000); s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 10); s.sendall(data)
got=b''
while len(got) < len(data):
  b=s.recv(65536)
  if not b: break
  got+=b
sys.exit(0 if got == data else 1)`;

/** ZeroTier One idle with one network joined, in a namespace lab: RSS and CPU; undefined without ZT_ONE_BIN. */
async function zeroTierOneIdle(): Promise<{ rss: number; cpuPercent: number } | undefined> {
  if (!ZT_ONE_BIN) {
    log('ZT_ONE_BIN is not set: ZeroTier One is not measured; the baseline is the issue figure (8.1 MB)');
    return undefined;
  }
  const { Lab } = await import('./lib/netns-lab.js');
  const lab = await Lab.start(log);
  try {
    const z = await lab.zeroTierOne('b', 'z1');
    await new Promise((r) => setTimeout(r, SETTLE_SECONDS * 1000)); // joined, OK and settled, as our host
    const c0 = cpuSeconds(z.pid());
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const cpuPercent = ((cpuSeconds(z.pid()) - c0) / ((performance.now() - w0) / 1000)) * 100;
    const bytes = rss(z.pid()!);
    log(
      `ZeroTier One 1.14.1 idle with one network joined: RSS ${(bytes / 1048576).toFixed(1)} MB, CPU ${cpuPercent.toFixed(3)} % of a core`,
    );
    await z.stop();
    return { rss: bytes, cpuPercent };
  } finally {
    await lab.close();
  }
}

const base = mkdtempSync(join(tmpdir(), 'netcon-density-'));
const load0 = loadavg()[0]!;
let controllerHome = '';
let host: Host | undefined;
try {
  const { ids, generated, ms: idMs } = await identities(N + 2);
  const identitiesNote =
    generated > 0
      ? `${generated} generated in ${(idMs / 1000).toFixed(1)} s and cached in .cache/density (reruns reuse them)`
      : `all ${N + 2} from the cache in .cache/density`;
  log(`identities: ${identitiesNote}`);
  const [rootId, extraId, ...nodeIds] = ids as [Identity, Identity, ...Identity[]];
  // The controller, also the planet's root, in a process of its own.
  const port = await freePort();
  const planet = planetWithRoot(rootId, `127.0.0.1/${port}`);
  controllerHome = join(base, 'controller');
  mkdirSync(controllerHome, { mode: 0o700 });
  writeFileSync(join(controllerHome, 'identity.secret'), formatIdentity(rootId, true), { mode: 0o600 });
  writeFileSync(join(controllerHome, 'identity.public'), formatIdentity(rootId));
  writeFileSync(join(controllerHome, 'planet'), planet);
  // A root validates at most one NEW identity per /24 every 2 s (IDENTITY_VALIDATION_GATE, as ZeroTier One):
  // 1,000 never-seen nodes behind 127.0.0.1 would need over half an hour just to be heard. The controller is
  // told their identities beforehand through its peer cache, as a root that has seen them before, at the
  // host's port (chosen now): it says HELLO there for 120 s, each node answers through the host's shared
  // wire, and the root keeps them. (With a dead-end path, the peers not heard from within 120 s were
  // forgotten, and the rest came in at one every 2 s.)
  const hostPort = await freePort();
  mkdirSync(join(controllerHome, 'peers.d'), { mode: 0o700 });
  for (const id of [extraId, ...nodeIds])
    writeFileSync(
      join(controllerHome, 'peers.d', `${formatIdentity(id).slice(0, 10)}.peer`),
      encodeCachedPeer({
        identity: id,
        protocolVersion: 0,
        versionMajor: 0,
        versionMinor: 0,
        versionRevision: 0,
        paths: [parseInetAddress(`127.0.0.1/${hostPort}`)!],
      }),
      { mode: 0o600 },
    );
  const startController = async () => {
    const r = await execa(bin('zerotier-netcon-service'), ['-d', `-p${port}`, controllerHome], { reject: false });
    if (r.exitCode !== 0) throw new Error(`the controller did not start: ${r.stderr}`);
  };
  await startController();
  const net = (await api(
    controllerHome,
    port,
    'POST',
    `/controller/network/${formatIdentity(rootId).slice(0, 10)}______`,
    {
      name: 'density',
      private: true,
      v4AssignMode: { zt: true },
      ipAssignmentPools: [{ ipRangeStart: '10.99.0.1', ipRangeEnd: '10.99.254.254' }],
      routes: [{ target: '10.99.0.0/16' }],
    },
  )) as { id: string };
  const nwid = net.id;
  const hostDir = join(base, 'nodes');
  mkdirSync(hostDir, { mode: 0o700 });
  writeFileSync(join(hostDir, 'planet'), planet);
  const names = nodeIds.map((id) => writeNode(hostDir, id, nwid));
  const extraDir = join(base, 'later');
  mkdirSync(extraDir, { mode: 0o700 });
  const extra = writeNode(extraDir, extraId, nwid);
  log(`authorizing ${N + 1} members on network ${nwid} through the controller API`);
  for (const [i, a] of [...names, extra].entries()) {
    await api(controllerHome, port, 'POST', `/controller/network/${nwid}/member/${a}`, { authorized: true });
    if ((i + 1) % Math.max(1, Math.floor(N / 5)) === 0) log(`  ${i + 1}/${N + 1}`);
  }
  // Restarted, so that its 120 s of HELLOs to the cached peers begin as the host starts (authorizing 1,000
  // members can take longer than that on a busy machine; peers not heard from by then are forgotten).
  await stopService(controllerHome);
  await startController();

  // The host with N nodes (then, at the end, with one: the floor).
  const t0 = Date.now();
  host = new Host(hostDir, hostPort);
  await allOk(host, N, 1800000);
  const allOkMs = Date.now() - t0;
  log(
    `all ${N} OK after ${(allOkMs / 1000).toFixed(1)} s; settling ${SETTLE_SECONDS} s, then measuring for ${IDLE_SECONDS} s`,
  );
  await new Promise((r) => setTimeout(r, SETTLE_SECONDS * 1000));
  const loadIdle = loadavg()[0]!;
  const c0 = cpuSeconds(host.pid);
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const idleCpu = ((cpuSeconds(host.pid) - c0) / ((performance.now() - w0) / 1000)) * 100;
  const rssN = rss(host.pid);
  log(
    `RSS ${(rssN / 1048576).toFixed(1)} MB for ${N} nodes = ${(rssN / N / 1048576).toFixed(3)} MB/node; idle CPU ${idleCpu.toFixed(2)} % of a core (load ${loadIdle.toFixed(1)})`,
  );

  // One more node, with an existing identity: its folder appears, POST /nodes/<name>, until OK.
  const tAdd = performance.now();
  renameSync(join(extraDir, extra), join(hostDir, extra));
  await host.add(extra);
  await waitForFast(`node ${extra} OK`, 60000, async () => {
    const me = (await host!.nodes()).find((n) => n.name === extra);
    return me && me.networks.length > 0 && me.networks.every((x) => x.status === 'OK') ? true : undefined;
  });
  const addMs = Math.round(performance.now() - tAdd);
  log(`one more node (existing identity) OK on its network in ${addMs} ms`);

  const sockOf = (name: string) => join(hostDir, name, `nc_${nwid}`);
  // A node's address on the network, from its own API (its token, the host's port).
  const ipOf = async (name: string) => {
    const j = (await api(join(hostDir, name), hostPort, 'GET', `/network/${nwid}`)) as { assignedAddresses: string[] };
    return j.assignedAddresses.find((x) => x.includes('.'))!.split('/')[0]!;
  };

  // Two nodes exchange 1 MB over TCP through the intercept.
  const [a, b] = [names[0]!, names[N - 1]!];
  const echoPort = 7000;
  const srv = intercepted(sockOf(a), PYTHON, ['-c', ECHO_SERVER, String(echoPort)], 60000);
  await new Promise<void>((resolve, reject) => {
    srv.stdout?.on('data', (d) => String(d).includes('ready') && resolve());
    srv.then((r) => reject(new Error(`echo server exited: ${r.stderr}`)), reject);
  });
  const aIp = await ipOf(a);
  const tcp = await waitFor('TCP between two nodes', 60000, async () => {
    const r = await intercepted(sockOf(b), PYTHON, ['-c', ECHO_CLIENT, aIp, String(echoPort)], 20000);
    return r.exitCode === 0 ? true : undefined;
  });
  srv.kill('SIGKILL');
  log(`TCP through the intercept between ${a} and ${b}: 1 MB echoed (${tcp})`);

  // HTTP: HTTP_PAIRS servers, as many clients, at once.
  const servers = names.slice(0, HTTP_PAIRS);
  const clients = names.slice(N - HTTP_PAIRS);
  const httpPort = 8080;
  const www = join(base, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), 'x'.repeat(4096));
  log(`HTTP: ${HTTP_PAIRS} x ${PYTHON} -m http.server, then ${HTTP_PAIRS} x curl at once`);
  const serverIps: string[] = [];
  for (const n of servers) serverIps.push(await ipOf(n)); // one at a time: the API limits concurrent calls
  const t1 = Date.now();
  let answered = 0;
  const procs = servers.map((n) =>
    intercepted(sockOf(n), PYTHON, ['-m', 'http.server', '-b', '0.0.0.0', '-d', www, String(httpPort)], 300000),
  );
  try {
    const results = await Promise.all(
      clients.map((n, i) =>
        waitFor(`HTTP from ${n}`, 120000, async () => {
          const r = await intercepted(
            sockOf(n),
            'curl',
            [
              '-sS',
              '-f',
              '-m',
              '20',
              '-o',
              '/dev/null',
              '-w',
              '%{size_download}',
              `http://${serverIps[i]}:${httpPort}/`,
            ],
            30000,
          );
          return r.exitCode === 0 && r.stdout === '4096' ? true : undefined;
        }).then(
          () => true,
          () => false,
        ),
      ),
    );
    answered = results.filter(Boolean).length;
  } finally {
    for (const p of procs) {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {}
    }
  }
  const httpMs = Date.now() - t1;
  log(`HTTP: ${answered}/${HTTP_PAIRS} answered in ${(httpMs / 1000).toFixed(1)} s (servers started meanwhile)`);

  await host.stop();
  host = undefined;
  // The floor: a host with one node (the spare identity, in a folder of its own).
  const floorDir = join(base, 'floor');
  mkdirSync(floorDir, { mode: 0o700 });
  writeFileSync(join(floorDir, 'planet'), planet);
  writeNode(floorDir, extraId, nwid);
  const one = new Host(floorDir, await freePort());
  let rssOne: number;
  try {
    await allOk(one, 1, 120000);
    await new Promise((r) => setTimeout(r, 5000));
    rssOne = rss(one.pid);
  } finally {
    await one.stop();
  }
  log(`a host with one node: RSS ${(rssOne / 1048576).toFixed(1)} MB`);

  const zt1Idle = await zeroTierOneIdle().catch((e) => {
    log(`ZeroTier One could not be measured: ${(e as Error).message}`);
    return undefined;
  });
  const zt1 = zt1Idle?.rss;
  const baseline = zt1 ?? ISSUE_ZT1_RSS;
  const perNode = rssN / N;
  const GiB = 1024 ** 3;
  const mb = (x: number) => Math.round((x / 1048576) * 1000) / 1000;
  report({
    bench: 'density',
    value: Math.round((GiB / perNode) * 10) / 10,
    unit: 'nodes per GiB of RSS (N nodes in one host process)',
    baseline: Math.round((GiB / baseline) * 10) / 10,
    baselineIs: zt1
      ? 'ZeroTier One 1.14.1, one node per process, idle RSS with one network joined (measured)'
      : 'ZeroTier One at 8.1 MB per node (issue 16 figure)',
    nodes: N,
    rssMB: mb(rssN),
    rssPerNodeMB: mb(perNode),
    zeroTierOneMB: mb(baseline),
    marginalPerNodeMB: mb((rssN - rssOne) / (N - 1)),
    oneNodeHostMB: mb(rssOne),
    idleCpuPercent: Math.round(idleCpu * 100) / 100,
    idleSeconds: IDLE_SECONDS,
    settleSeconds: SETTLE_SECONDS,
    ...(zt1Idle ? { zeroTierOneIdleCpuPercent: Math.round(zt1Idle.cpuPercent * 1000) / 1000 } : {}),
    allOkSeconds: Math.round(allOkMs / 100) / 10,
    addNodeMs: addMs,
    tcpThroughIntercept: true,
    http: { pairs: HTTP_PAIRS, answered, seconds: Math.round(httpMs / 100) / 10, server: 'python3 -m http.server' },
    mode: 'zerotier-netcon-service --nodes (one process); the controller (and root) in a separate process',
    identities: identitiesNote,
    load: { atStart: Math.round(load0 * 100) / 100, whileIdle: Math.round(loadIdle * 100) / 100 },
  });
} finally {
  await host?.stop().catch(() => undefined);
  if (controllerHome) {
    try {
      process.kill(Number(readFileSync(join(controllerHome, 'zerotier-one.pid'), 'utf8')), 'SIGTERM');
    } catch {}
  }
  await new Promise((r) => setTimeout(r, 500));
  // NETCON_KEEP=1 keeps the homes (the controller's log in controller/netcon.log) for a look after a run.
  if (process.env.NETCON_KEEP === '1') log(`kept ${base}`);
  else rmSync(base, { recursive: true, force: true });
}
