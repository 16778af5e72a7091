// VL2 interop with a real ZeroTier One (1.14.1), when ZT_ONE_BIN names its binary:
//   (a) our service is the planet's root and the network controller; the real node joins our private
//       network as a leaf, is denied, then authorized, and gets pool addresses (IPv4 and IPv6) on its tap; one
//       of our member services joins too; the real node pings our member's stack (ARP / neighbour discovery,
//       then ICMP echo answered by lwIP, also 2700-byte echoes), our member fetches from an HTTP server on the
//       real node's tap addresses (curl under the intercept) and the real node from one on our stack (8 MiB,
//       SHA-256 checked); a network edit reaches the real node by push; both talk directly; neither side
//       counts a protocol error; our controller's rule (drop inbound UDP) is enforced by the real node; once we
//       deauthorize the real node, our member stops answering it at once;
//   (b) the real node is the root and the controller (its embedded controller's API, driven with curl inside
//       its namespace); it joins its own network, one of our services joins too and is authorized, and the
//       same checks run (IPv4 and RFC 4193 IPv6, pushed edit); its rule (drop inbound ICMP) is enforced by our
//       member; the real controller's deauthorization reaches our member (ACCESS_DENIED) within seconds.
// ZeroTier One never uses loopback paths, so the real node lives in a network namespace joined to ours
// (where our services run, started as users start them) by a veth pair on 10.232.x.0/24; the test creates
// both namespaces and deletes them afterwards. Needs root (ip netns, /dev/net/tun for the real node's tap).
// Without ZT_ONE_BIN the tests are registered as skipped and the reason is printed.
//
//   ZT_ONE_BIN=/path/to/zerotier-one npx ava --verbose dist/test/vl2/interop-zerotier-one.test.js
// ZeroTier One is built outside this repository; nothing of it is part of netcon.

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { execa, type ResultPromise } from 'execa';
import { addressToString } from '../../service/core/address.js';
import { newIdentity } from '../../service/random.js';
import { inNs, kill, LIB, ROOT } from '../../testkit/intercept.js';
import {
  makeNetns,
  type Netns,
  planetWithRoot,
  Scope,
  sleep,
  startZeroTier,
  writeHome,
  ZT_ONE_BIN,
  ZT_PORT,
  ztCli,
} from '../../testkit/zerotier-one.js';

const service = join(ROOT, 'zerotier-netcon-service');
const cli = join(ROOT, 'zerotier-cli');
const ROOT_PORT = 29993; // our root (and controller) in scenario (a)
const MEMBER_PORT = 29994; // our member service

// ---- the real node ----

/** Polls `probe` until it returns a value; throws with the last thing seen after `ms`. */
async function poll<T>(what: string, ms: number, probe: () => Promise<T | undefined>, last: () => string): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(500);
  }
  throw new Error(`${what}: not reached in ${ms} ms; last: ${last()}`);
}

function checkAlive(zt: ResultPromise): void {
  if (zt.exitCode !== undefined && zt.exitCode !== null) throw new Error(`zerotier-one exited (${zt.exitCode})`);
}

/** The real node's listnetworks row for `nwid`, split into fields, once `pred` holds on it. */
async function ztNetwork(
  ns: string,
  home: string,
  zt: ResultPromise,
  nwid: string,
  pred: (row: string[]) => boolean,
  ms: number,
): Promise<string[]> {
  let out = '';
  return poll(
    `real node listnetworks ${nwid}`,
    ms,
    async () => {
      checkAlive(zt);
      out = (await ztCli(ns, home, 'listnetworks')).out;
      const row = out
        .split('\n')
        .find((l) => l.startsWith(`200 listnetworks ${nwid} `))
        ?.trim()
        .split(' '); // a network with no name yet leaves that field empty
      return row && pred(row) ? row : undefined;
    },
    () => out,
  );
}

/** Calls the real node's controller API (127.0.0.1:9993 inside its namespace) with curl. */
async function ztApi(ns: string, home: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const token = readFileSync(join(home, 'authtoken.secret'), 'utf8').trim();
  const args = ['netns', 'exec', ns, 'curl', '-sS', '-f', '-X', method, '-H', `X-ZT1-Auth: ${token}`];
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '-d', JSON.stringify(body));
  const r = await execa('ip', [...args, `http://127.0.0.1:${ZT_PORT}${path}`], { reject: false, timeout: 20000 });
  if (r.exitCode !== 0) throw new Error(`real controller ${method} ${path}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The real node's packet-error counters (Prometheus text from its /metrics), nonzero ones only. */
async function ztErrors(ns: string, home: string): Promise<Record<string, number>> {
  const token = readFileSync(join(home, 'authtoken.secret'), 'utf8').trim();
  const r = await execa(
    'ip',
    ['netns', 'exec', ns, 'curl', '-sS', '-f', '-H', `X-ZT1-Auth: ${token}`, `http://127.0.0.1:${ZT_PORT}/metrics`],
    { reject: false, timeout: 20000 },
  );
  const out: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^(zt_packet_error|zt_peer_packet_errors)(\{[^}]*\}) (\S+)$/.exec(line);
    if (m && Number(m[3]) > 0) out[`${m[1]}${m[2]}`] = Number(m[3]);
  }
  return out;
}

// ---- our services (detached, inside our namespace; their API is on 127.0.0.1 there) ----

interface Svc {
  name: string;
  ns: string;
  home: string;
  port: number;
  address: string;
}

async function startSvc(scope: Scope, name: string, ns: string, home: string, port: number): Promise<Svc> {
  scope.services.push(home);
  const r = await execa('ip', ['netns', 'exec', ns, service, '-d', `-p${port}`, home], { reject: false });
  if (r.exitCode !== 0) throw new Error(`${name} did not start: ${r.stderr}`);
  return { name, ns, home, port, address: readFileSync(join(home, 'identity.public'), 'utf8').slice(0, 10) };
}

async function ourCli(s: Svc, ...args: string[]): Promise<{ code: number; out: string }> {
  const r = await execa('ip', ['netns', 'exec', s.ns, cli, `-D${s.home}`, ...args], { reject: false, timeout: 20000 });
  return { code: r.exitCode ?? -1, out: `${r.stdout}${r.stderr ? `\n${r.stderr}` : ''}`.trim() };
}

async function ourApi(
  s: Svc,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const token = readFileSync(join(s.home, 'authtoken.secret'), 'utf8').trim();
  const args = ['netns', 'exec', s.ns, 'curl', '-sS', '-o', '-', '-w', '\n%{http_code}', '-X', method];
  args.push('-H', `X-ZT1-Auth: ${token}`);
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '-d', JSON.stringify(body));
  const r = await execa('ip', [...args, `http://127.0.0.1:${s.port}${path}`], { reject: false, timeout: 20000 });
  const nl = r.stdout.lastIndexOf('\n');
  const text = r.stdout.slice(0, nl);
  return { status: Number(r.stdout.slice(nl + 1)), json: text ? JSON.parse(text) : undefined };
}

interface NetJson {
  name: string;
  status: string;
  assignedAddresses: string[];
  mac: string;
  nwid: string;
}

async function ourNetwork(s: Svc, nwid: string, pred: (n: NetJson) => boolean, ms: number): Promise<NetJson> {
  let last: NetJson | undefined;
  return poll(
    `${s.name} network ${nwid}`,
    ms,
    async () => {
      const r = await ourApi(s, 'GET', `/network/${nwid}`);
      last = r.status === 200 ? (r.json as NetJson) : undefined;
      return last && pred(last) ? last : undefined;
    },
    () => JSON.stringify(last),
  );
}

// ---- traffic ----

/** The real node's tap device in `ns` carrying `ip`, from `ip -o addr`. */
async function tapWith(ns: string, ip: string): Promise<string | undefined> {
  const r = await execa('ip', ['-n', ns, '-o', 'addr', 'show'], { reject: false });
  const line = r.stdout.split('\n').find((l) => l.includes(` inet ${ip}/`) || l.includes(` inet6 ${ip}/`));
  return line?.trim().split(/\s+/)[1];
}

/** Pings `ip` from namespace `ns` until it answers (the first echoes may wait on ARP and path setup). */
async function pingFrom(t: ExecutionContext, ns: string, ip: string): Promise<string> {
  let out = '';
  const r = await poll(
    `ping ${ip} from ${ns}`,
    30000,
    async () => {
      const p = await execa('ip', ['netns', 'exec', ns, 'ping', '-c', '3', '-i', '0.3', '-W', '2', ip], {
        reject: false,
      });
      out = `${p.stdout}\n${p.stderr}`;
      return p.exitCode === 0 && / 0% packet loss/.test(p.stdout) ? p.stdout : undefined;
    },
    () => out,
  );
  for (const l of r.split('\n').filter((x) => /bytes from|packet loss|rtt/.test(x))) t.log(`real side: ${l}`);
  // Echoes near the network's MTU (2800): each frame travels in more than one UDP datagram (VL1 fragments).
  const big = await execa('ip', ['netns', 'exec', ns, 'ping', '-c', '3', '-i', '0.3', '-W', '2', '-s', '2700', ip], {
    reject: false,
  });
  t.log(`real side, 2700-byte echoes: ${big.stdout.split('\n').find((l) => /packet loss/.test(l))}`);
  t.regex(big.stdout, / 0% packet loss/, 'echoes of 2700 bytes cross both ways');
  return r;
}

/** A file of `n` pseudo-random bytes in `dir`, with its SHA-256. */
function bigFile(dir: string, n: number): { name: string; sha: string } {
  const data = randomBytes(n);
  writeFileSync(join(dir, 'big.bin'), data);
  return { name: 'big.bin', sha: createHash('sha256').update(data).digest('hex') };
}

const BIG = Number(process.env.ZT_INTEROP_BIG ?? 8 * 1024 * 1024);

/** Serves a file from our member's stack (python3 -m http.server under the intercept); the real side fetches it. */
async function fetchFromOurs(t: ExecutionContext, scope: Scope, ns: string, ip: string, member: Svc, nwid: string) {
  const dir = mkdtempSync(join(tmpdir(), 'netcon-ztone-www-'));
  scope.dirs.push(dir);
  const file = bigFile(dir, BIG);
  const port = 8000 + Math.floor(Math.random() * 1000);
  const http = inNs(join(member.home, `nc_${nwid}`), 'python3', ['-m', 'http.server', String(port)], {
    cwd: dir,
    reject: false,
    stdout: 'ignore',
    stderr: 'ignore',
  });
  scope.children.push(http);
  try {
    let last = '';
    const t0 = Date.now();
    const sha = await poll(
      `curl http://${ip}:${port}/ from the real side`,
      60000,
      async () => {
        const r = await execa(
          'sh',
          ['-c', `ip netns exec ${ns} curl -sSf --max-time 30 http://${ip}:${port}/${file.name} | sha256sum`],
          { reject: false, timeout: 40000 },
        );
        last = `${r.exitCode} ${r.stderr}`;
        return r.exitCode === 0 && r.stderr === '' ? r.stdout.split(' ')[0] : undefined;
      },
      () => last,
    );
    t.log(`the real side fetched ${BIG} bytes from our stack (${Date.now() - t0} ms, sha256 ${sha?.slice(0, 16)}…)`);
    t.is(sha, file.sha, 'the file crossed from our stack to the real node intact');
  } finally {
    kill(http);
  }
}

/** The neighbour entry for `ip` in namespace `ns` (`<ip> dev <dev> lladdr <mac> REACHABLE`). */
async function neighbour(ns: string, ip: string): Promise<string> {
  const r = await execa('ip', ['-n', ns, 'neigh', 'show', ip], { reject: false });
  return r.stdout.trim();
}

/** Serves a page with python3 -m http.server on `ip` inside `ns`, fetched by curl under our intercept. */
async function fetchFromReal(t: ExecutionContext, scope: Scope, ns: string, ip: string, member: Svc, nwid: string) {
  const dir = mkdtempSync(join(tmpdir(), 'netcon-ztone-www-'));
  scope.dirs.push(dir);
  const page = `hello from the real node ${Math.random().toString(16).slice(2)}\n`;
  writeFileSync(join(dir, 'page.txt'), page);
  const file = bigFile(dir, BIG);
  const port = 8000 + Math.floor(Math.random() * 1000);
  const host = ip.includes(':') ? `[${ip}]` : ip;
  const http = execa('ip', ['netns', 'exec', ns, 'python3', '-m', 'http.server', String(port), '--bind', ip], {
    cwd: dir,
    reject: false,
    stdout: 'ignore',
    stderr: 'ignore',
  });
  scope.children.push(http);
  try {
    let last = '';
    const got = await poll(
      `curl http://${host}:${port}/ through our stack`,
      30000,
      async () => {
        const r = await inNs(
          join(member.home, `nc_${nwid}`),
          'curl',
          ['-sS', '-g', '--max-time', '5', `http://${host}:${port}/page.txt`],
          { reject: false, timeout: 10000 },
        );
        last = `${r.exitCode} ${r.stderr}`;
        return r.exitCode === 0 ? r.stdout : undefined;
      },
      () => last,
    );
    t.log(`our member fetched http://${host}:${port}/page.txt: ${JSON.stringify(got)}`);
    t.is(`${got}\n`, page, 'the page crossed from the real node to our stack intact');
    if (!ip.includes(':')) {
      const out = join(dir, 'got.bin');
      const t0 = Date.now();
      const r = await inNs(
        join(member.home, `nc_${nwid}`),
        'curl',
        ['-sS', '-f', '-o', out, '--max-time', '60', `http://${host}:${port}/${file.name}`],
        { reject: false, timeout: 70000 },
      );
      t.is(r.exitCode, 0, String(r.stderr));
      const sha = createHash('sha256').update(readFileSync(out)).digest('hex');
      t.log(`our member fetched ${BIG} bytes from the real node (${Date.now() - t0} ms, sha256 ${sha.slice(0, 16)}…)`);
      t.is(sha, file.sha, 'the file crossed from the real node to our stack intact');
    }
  } finally {
    kill(http);
  }
}

/**
 * Frames both ways between the real node (in `ns`) and our member's stack, IPv4 then IPv6: the real node
 * resolves our MAC (ARP, neighbour discovery) and pings our stack (the echo answered by lwIP); HTTP crosses
 * both ways (our curl from a server on the real node's tap address, the real node's from one on our stack;
 * over IPv6 the first).
 */
async function framesBothWays(
  t: ExecutionContext,
  scope: Scope,
  ns: string,
  member: Svc,
  nwid: string,
  mac: string,
  [ourIp, ourIp6]: [string, string],
  [ztIp, ztIp6]: [string, string],
): Promise<void> {
  const resolvesAndPings = async (ip: string, what: string) => {
    await pingFrom(t, ns, ip);
    const neigh = await neighbour(ns, ip);
    t.log(`real side neighbour: ${neigh}`);
    t.true(neigh.includes(`lladdr ${mac}`), `${what} on the real node resolved our member to its MAC`);
  };
  await resolvesAndPings(ourIp, 'ARP');
  await fetchFromReal(t, scope, ns, ztIp, member, nwid);
  await fetchFromOurs(t, scope, ns, ourIp, member, nwid);
  await resolvesAndPings(ourIp6, 'NDP');
  await fetchFromReal(t, scope, ns, ztIp6, member, nwid);
}

/** Both sides list each other over a direct path: the real node (listpeers) and our member (-j listpeers). */
async function directBothWays(t: ExecutionContext, ns: Netns, ztHome: string, ztAddr: string, m: Svc): Promise<void> {
  let last = '';
  const row = await poll(
    `the real node's direct path to ${m.address}`,
    30000,
    async () => {
      last = (await ztCli(ns.a, ztHome, 'listpeers')).out;
      const r = last
        .split('\n')
        .find((l) => l.startsWith(`200 listpeers ${m.address} `))
        ?.trim()
        .split(/\s+/);
      return r?.[3]?.startsWith(`${ns.ipB}/${m.port};`) ? r : undefined;
    },
    () => last,
  );
  t.log(`real side: ${row.join(' ')}`);
  t.is(row[5], '1.14.1', 'the real node learned our version');
  t.is(row[6], 'LEAF');
  const path = await poll(
    `our member's direct path to ${ztAddr}`,
    30000,
    async () => {
      last = (await ourCli(m, '-j', 'listpeers')).out;
      const peers = JSON.parse(last) as { address: string; paths: { address: string; active: boolean }[] }[];
      return peers
        .find((p) => p.address === ztAddr)
        ?.paths.find((p) => p.active && p.address === `${ns.ipA}/${ZT_PORT}`);
    },
    () => last,
  );
  t.log(`our member: peer ${ztAddr} path ${JSON.stringify(path)}`);
}

/** The RFC 4193 address ZeroTier One gives `address` on `nwid`: fd, the network ID, 99 93, the address. */
function rfc4193(nwid: string, address: string): string {
  const h = `fd${nwid}9993${address}`;
  return canonical6(h.match(/.{4}/g)!.join(':'));
}

function canonical6(ip: string): string {
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/** What the test needs besides the real node, or why it cannot run here. */
async function preflight(): Promise<string | undefined> {
  if (!existsSync(LIB)) return `${LIB} missing: run ./build.sh`;
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing: the real node needs it for its tap device';
  for (const [cmd, pkg] of [
    ['ip', 'iproute2'],
    ['ping', 'iputils-ping'],
    ['curl', 'curl'],
    ['python3', 'python3'],
  ]) {
    const r = await execa('sh', ['-c', `command -v ${cmd}`], { reject: false });
    if (r.exitCode !== 0) return `${cmd} is not installed (apt-get install ${pkg})`;
  }
  return undefined;
}

/**
 * Neither side saw anything it could not take: the real node's ERROR counters hold only the expected kinds
 * (access denied before authorization; a credentials request when a frame overtakes the sender's COM), and our
 * member dropped nothing but what ZeroTier One also ignores.
 */
async function noUnexpectedErrors(t: ExecutionContext, ns: string, ztHome: string, m: Svc): Promise<void> {
  const errors = await ztErrors(ns, ztHome);
  t.log(`real side packet errors: ${JSON.stringify(errors)}`);
  const odd = Object.keys(errors).filter((k) => !/network_access_denied|need_membership_certificate/.test(k));
  t.deepEqual(odd, [], 'the real node sent or received no other ERROR');
  const stats = (await ourApi(m, 'GET', '/unstable/stats')).json as {
    received: Record<string, number>;
    drops: Record<string, number>;
    vl2Drops: Record<string, number>;
    networks: { drops: Record<string, number> }[];
  };
  t.log(
    `our member: received ${JSON.stringify(stats.received)} drops ${JSON.stringify(stats.drops)} vl2 ${JSON.stringify(stats.vl2Drops)} network ${JSON.stringify(stats.networks.map((n) => n.drops))}`,
  );
  // ZeroTier One's 4-byte hole-punching datagram; a RENDEZVOUS naming a peer not yet known; MULTICAST_LIKE
  // before the sender's COM (1.14.1 drops that too); credentials pushed again within its 1 s gate; a frame
  // that overtook the sender's COM (e.g. direct while the COM was relayed through the root): it is answered
  // with ERROR(NEED_MEMBERSHIP_CERTIFICATE) and held until the COM comes (counted, though delivered then).
  const benign = new Set([
    'too-short',
    'rendezvous-unknown-peer',
    'like-unauthorized',
    'credentials-rate-gated',
    'credentials-pending',
    'vl2-dropped',
  ]);
  const drops = [...Object.keys(stats.drops), ...Object.keys(stats.vl2Drops)].filter((k) => !benign.has(k));
  t.deepEqual(drops, [], 'our member dropped nothing from the real node for a protocol reason');
  const netDrops = stats.networks.flatMap((n) => Object.keys(n.drops)).filter((k) => k !== 'credentials-pending');
  t.deepEqual(netDrops, [], 'no frame was lost waiting for credentials or refused by the network');
}

function setup(t: ExecutionContext, tag: string): { scope: Scope; dir: string; net: () => Promise<Netns> } {
  const scope = new Scope();
  const dir = mkdtempSync(join(tmpdir(), 'netcon-ztone-vl2-'));
  scope.dirs.push(dir);
  t.teardown(() => scope.close());
  return { scope, dir, net: () => makeNetns(scope, 'zt2', tag, '10.232') };
}

const reg = ZT_ONE_BIN ? test.serial : test.skip;
if (!ZT_ONE_BIN) {
  console.log(
    'SKIPPED VL2 interop with ZeroTier One: ZT_ONE_BIN is not set. Set it to a zerotier-one 1.14.1 binary ' +
      '(and run as root: the test creates network namespaces and the real node a tap device) to check that a ' +
      'real node joins our controller, that we join a real controller, and that frames cross both ways.',
  );
}

reg('interop: a real ZeroTier One joins our controller; ping to our stack and HTTP from it cross', async (t) => {
  const missing = await preflight();
  if (missing) return t.fail(missing);
  const { scope, dir, net } = setup(t, 'a');
  const ns = await net();
  const rootId = newIdentity();
  const ztId = newIdentity();
  const ztAddr = addressToString(ztId.address);
  const planet = planetWithRoot(rootId, `${ns.ipB}/${ROOT_PORT}`);
  const ztHome = join(dir, 'zt');
  writeHome(ztHome, ztId, planet, true);
  writeHome(join(dir, 'R'), rootId, planet, false);
  writeHome(join(dir, 'M'), undefined, planet, false);

  const R = await startSvc(scope, 'R', ns.b, join(dir, 'R'), ROOT_PORT);
  const M = await startSvc(scope, 'M', ns.b, join(dir, 'M'), MEMBER_PORT);
  const zt = startZeroTier(scope, ns.a, ztHome);
  let info = '';
  await poll(
    'real node ONLINE',
    60000,
    async () => {
      checkAlive(zt);
      info = (await ztCli(ns.a, ztHome, 'info')).out;
      return /^200 info \S+ \S+ ONLINE/.test(info) ? true : undefined;
    },
    () => info,
  );
  t.log(`real leaf: ${info}`);

  const s = 1 + Math.floor(Math.random() * 254);
  const created = await ourApi(R, 'POST', `/controller/network/${R.address}______`, {
    name: 'interop-a',
    private: true,
    v4AssignMode: { zt: true },
    v6AssignMode: { zt: true },
    ipAssignmentPools: [
      { ipRangeStart: `10.79.${s}.10`, ipRangeEnd: `10.79.${s}.250` },
      { ipRangeStart: `fd79:${s}::10`, ipRangeEnd: `fd79:${s}::ffff` },
    ],
    routes: [{ target: `10.79.${s}.0/24` }, { target: `fd79:${s}::/64` }],
  });
  t.is(created.status, 200);
  const nwid = (created.json as { id: string }).id;

  // The real node joins: ACCESS_DENIED until we authorize it, then OK with a pool address on its tap.
  t.is((await ztCli(ns.a, ztHome, 'join', nwid)).out, '200 join OK');
  const denied = await ztNetwork(ns.a, ztHome, zt, nwid, (r) => r[5] === 'ACCESS_DENIED', 30000);
  t.log(`real leaf: ${denied.join(' ')}`);
  t.is((await ourApi(R, 'POST', `/controller/network/${nwid}/member/${ztAddr}`, { authorized: true })).status, 200);
  const t0 = Date.now();
  const ok = await ztNetwork(
    ns.a,
    ztHome,
    zt,
    nwid,
    (r) => r[5] === 'OK' && /10\./.test(r[8] ?? '') && /fd79:/.test(r[8] ?? ''),
    30000,
  );
  t.log(`real leaf (${Date.now() - t0} ms after authorization): ${ok.join(' ')}`);
  t.is(ok[3], 'interop-a');
  t.is(ok[6], 'PRIVATE');
  const ztIps = ok[8]!.split(',').map((a) => a.split('/')[0]!);
  const ztIp = ztIps.find((a) => !a.includes(':'))!;
  const ztIp6 = ztIps.find((a) => a.includes(':'))!;
  t.regex(ztIp, new RegExp(`^10\\.79\\.${s}\\.\\d+$`));
  t.regex(ztIp6, new RegExp(`^fd79:${s}::`));
  const tap = await poll(
    `tap with ${ztIp}`,
    10000,
    () => tapWith(ns.a, ztIp),
    () => '',
  );
  t.log(`real leaf: tap ${tap} carries ${ztIp}`);
  t.is(tap, ok[7], 'the tap named in listnetworks carries the pool address');
  t.is(
    await poll(
      `tap with ${ztIp6}`,
      10000,
      () => tapWith(ns.a, ztIp6),
      () => '',
    ),
    tap,
    'and the IPv6 one',
  );

  // Our member joins and is authorized.
  t.is((await ourCli(M, 'join', nwid)).out, '200 join OK');
  await ourNetwork(M, nwid, (n) => n.status === 'ACCESS_DENIED', 30000);
  await ourApi(R, 'POST', `/controller/network/${nwid}/member/${M.address}`, { authorized: true });
  const okM = await ourNetwork(M, nwid, (n) => n.status === 'OK' && n.assignedAddresses.length > 1, 30000);
  const ourIps = okM.assignedAddresses.map((a) => a.split('/')[0]!);
  const ourIp = ourIps.find((a) => !a.includes(':'))!;
  const ourIp6 = ourIps.find((a) => a.includes(':'))!;
  t.log(`our member: ${M.address} OK ${okM.mac} ${okM.assignedAddresses.join(',')}`);

  // Our controller recorded the real node as a member with its version (from its request's metadata).
  const rec = (await ourApi(R, 'GET', `/controller/network/${nwid}/member/${ztAddr}`)).json as Record<string, unknown>;
  t.log(
    `our controller: member ${ztAddr} ${JSON.stringify(rec.ipAssignments)} v${rec.vMajor}.${rec.vMinor}.${rec.vRev}`,
  );
  t.deepEqual([rec.vMajor, rec.vMinor, rec.vRev, rec.vProto], [1, 14, 1, 12]);
  t.deepEqual([...(rec.ipAssignments as string[])].sort(), [ztIp, ztIp6].sort());

  // IPv6: neighbour discovery by multicast (solicited-node groups).
  await framesBothWays(t, scope, ns.a, M, nwid, okM.mac, [ourIp, ourIp6], [ztIp, ztIp6]);
  // The member and the real node talk directly, not through our root.
  // A network edit on our controller reaches the real node by a config push (its next request is a minute off).
  const tEdit = Date.now();
  t.is((await ourApi(R, 'POST', `/controller/network/${nwid}`, { name: 'interop-a-renamed' })).status, 200);
  await ztNetwork(ns.a, ztHome, zt, nwid, (r) => r[3] === 'interop-a-renamed', 10000);
  t.log(`real leaf: the renamed network pushed in ${Date.now() - tEdit} ms`);
  await directBothWays(t, ns, ztHome, ztAddr, M);
  await noUnexpectedErrors(t, ns.a, ztHome, M);

  // Our controller's rules reach the real node's engine: drop inbound UDP. Our member's datagrams leave (the
  // inbound bit does not hold on the sending side) and only the real node can stop them; ICMP still flows.
  const udpPort = 7000 + Math.floor(Math.random() * 1000);
  const rx = execa(
    'ip',
    [
      'netns',
      'exec',
      ns.a,
      'python3',
      '-u',
      '-c',
      'import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind((sys.argv[1],int(sys.argv[2])))\n' +
        'while True:\n  print(s.recv(100).decode(),flush=True)',
      ztIp,
      String(udpPort),
    ],
    { reject: false, stdout: 'pipe', stderr: 'ignore' },
  );
  scope.children.push(rx);
  const heard: string[] = [];
  rx.stdout!.on('data', (d: Buffer) => heard.push(...d.toString().split('\n').filter(Boolean)));
  const sendUdp = (msg: string) =>
    inNs(
      join(M.home, `nc_${nwid}`),
      'python3',
      [
        '-c',
        'import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.sendto(sys.argv[3].encode(),(sys.argv[1],int(sys.argv[2])))',
        ztIp,
        String(udpPort),
        msg,
      ],
      { reject: false, timeout: 10000 },
    );
  await poll(
    'a UDP datagram from our stack at the real node',
    15000,
    async () => {
      await sendUdp('before');
      await sleep(200);
      return heard.includes('before') ? true : undefined;
    },
    () => heard.join(','),
  );
  const revision = async () =>
    (
      JSON.parse((await ztCli(ns.a, ztHome, '-j', 'listnetworks')).out) as { nwid: string; netconfRevision: number }[]
    ).find((n) => n.nwid === nwid)?.netconfRevision ?? -1;
  const rev0 = await revision();
  const udpRules = [
    { type: 'MATCH_CHARACTERISTICS', not: false, or: false, mask: '8000000000000000' },
    { type: 'MATCH_IP_PROTOCOL', not: false, or: false, ipProtocol: 17 },
    { type: 'ACTION_DROP' },
    { type: 'ACTION_ACCEPT' },
  ];
  t.is((await ourApi(R, 'POST', `/controller/network/${nwid}`, { rules: udpRules })).status, 200);
  await poll(
    'the rules pushed to the real node',
    10000,
    async () => ((await revision()) > rev0 ? true : undefined),
    () => '',
  );
  for (let i = 0; i < 5; i++) {
    const r = await sendUdp('after');
    t.is(r.exitCode, 0, 'our stack sent the datagram');
    await sleep(200);
  }
  t.false(heard.includes('after'), "the real node dropped inbound UDP by our controller's rule");
  const mStats = (await ourApi(M, 'GET', '/unstable/stats')).json as { networks: { drops: Record<string, number> }[] };
  t.false(
    mStats.networks.some((n) => Object.keys(n.drops).some((k) => k.startsWith('outbound-'))),
    'our member did not drop them itself',
  );
  t.log(
    `real side: UDP heard before the rule ${JSON.stringify(heard)}, none after (revision ${rev0} → ${await revision()})`,
  );
  await pingFrom(t, ns.a, ourIp);
  kill(rx);

  // Deauthorizing the real node: our controller revokes its certificate of membership and tells the members;
  // the real node still holds its config (it learns at its next request, as with ZeroTier One's controller),
  // but our member's stack stops seeing its frames within seconds.
  const tDeauth = Date.now();
  await ourApi(R, 'POST', `/controller/network/${nwid}/member/${ztAddr}`, { authorized: false });
  await poll(
    'our member refusing the deauthorized real node',
    10000,
    async () => {
      const p = await execa('ip', ['netns', 'exec', ns.a, 'ping', '-c', '2', '-i', '0.3', '-W', '1', ourIp], {
        reject: false,
      });
      return p.exitCode !== 0 ? true : undefined;
    },
    () => '',
  );
  const ms = Date.now() - tDeauth;
  const still = await ztNetwork(ns.a, ztHome, zt, nwid, () => true, 5000);
  t.log(`real side: no echo from our member ${ms} ms after the real node's deauthorization (it says ${still[5]})`);
  t.is((await ourNetwork(M, nwid, () => true, 5000)).status, 'OK', 'our member is still a member');
});

reg('interop: we join a real ZeroTier One controller; ping to our stack and HTTP from it cross', async (t) => {
  const missing = await preflight();
  if (missing) return t.fail(missing);
  const { scope, dir, net } = setup(t, 'b');
  const ns = await net();
  const ztId = newIdentity();
  const ztAddr = addressToString(ztId.address);
  const planet = planetWithRoot(ztId, `${ns.ipA}/${ZT_PORT}`);
  const ztHome = join(dir, 'zt');
  writeHome(ztHome, ztId, planet, true);
  writeHome(join(dir, 'M'), undefined, planet, false);

  const zt = startZeroTier(scope, ns.a, ztHome);
  let info = '';
  await poll(
    'real root ONLINE',
    60000,
    async () => {
      checkAlive(zt);
      info = (await ztCli(ns.a, ztHome, 'info')).out;
      return /^200 info \S+ \S+ ONLINE/.test(info) ? true : undefined;
    },
    () => info,
  );
  t.log(`real root and controller: ${info}`);
  const M = await startSvc(scope, 'M', ns.b, join(dir, 'M'), MEMBER_PORT);

  const s = 1 + Math.floor(Math.random() * 254);
  const created = (await ztApi(ns.a, ztHome, 'POST', `/controller/network/${ztAddr}______`, {
    name: 'interop-b',
    private: true,
    v4AssignMode: { zt: true },
    v6AssignMode: { zt: false, rfc4193: true, '6plane': false },
    ipAssignmentPools: [{ ipRangeStart: `10.80.${s}.10`, ipRangeEnd: `10.80.${s}.250` }],
    routes: [{ target: `10.80.${s}.0/24`, via: null }],
  })) as { id: string };
  const nwid = created.id;
  t.log(`real controller created ${nwid}`);

  // The controller node joins its own network (it is the second member, with a tap).
  t.is((await ztCli(ns.a, ztHome, 'join', nwid)).out, '200 join OK');
  await ztApi(ns.a, ztHome, 'POST', `/controller/network/${nwid}/member/${ztAddr}`, { authorized: true });
  const ok = await ztNetwork(
    ns.a,
    ztHome,
    zt,
    nwid,
    (r) => r[5] === 'OK' && /10\./.test(r[8] ?? '') && /fd/.test(r[8] ?? ''),
    60000,
  );
  t.log(`real controller as member: ${ok.join(' ')}`);
  const ztIps = ok[8]!.split(',').map((a) => a.split('/')[0]!);
  const ztIp = ztIps.find((a) => !a.includes(':'))!;
  const ztIp6 = ztIps.find((a) => a.includes(':'))!;
  t.is(canonical6(ztIp6), rfc4193(nwid, ztAddr));
  const tap = await poll(
    `tap with ${ztIp}`,
    10000,
    () => tapWith(ns.a, ztIp),
    () => '',
  );
  t.is(tap, ok[7]);

  // Our member joins: ACCESS_DENIED, then OK with a pool address once the real controller authorizes it.
  t.is((await ourCli(M, 'join', nwid)).out, '200 join OK');
  const denied = await ourNetwork(M, nwid, (n) => n.status === 'ACCESS_DENIED', 30000);
  t.log(`our member: ${denied.status}`);
  await ztApi(ns.a, ztHome, 'POST', `/controller/network/${nwid}/member/${M.address}`, { authorized: true });
  const t0 = Date.now();
  const okM = await ourNetwork(M, nwid, (n) => n.status === 'OK' && n.assignedAddresses.length > 1, 60000);
  t.log(`our member (${Date.now() - t0} ms after authorization): OK ${okM.mac} ${okM.assignedAddresses.join(',')}`);
  const ourIps = okM.assignedAddresses.map((a) => a.split('/')[0]!);
  const ourIp = ourIps.find((a) => !a.includes(':'))!;
  t.regex(ourIp, new RegExp(`^10\\.80\\.${s}\\.\\d+$`));
  const ourIp6 = ourIps.find((a) => a.includes(':'))!;
  t.is(canonical6(ourIp6), rfc4193(nwid, M.address), 'our RFC 4193 address is the one ZeroTier One computes');
  t.true(okM.assignedAddresses.includes(`${ourIp6}/88`));
  const lj = JSON.parse((await ourCli(M, '-j', 'listnetworks')).out) as { name: string; nwid: string }[];
  t.is(lj.find((n) => n.nwid === nwid)?.name, 'interop-b', "the real controller's config decoded");

  // The real controller recorded our member with the version our request's metadata gives.
  const rec = (await ztApi(ns.a, ztHome, 'GET', `/controller/network/${nwid}/member/${M.address}`)) as Record<
    string,
    unknown
  >;
  t.log(
    `real controller: member ${M.address} ${JSON.stringify(rec.ipAssignments)} v${rec.vMajor}.${rec.vMinor}.${rec.vRev}`,
  );
  t.deepEqual(rec.ipAssignments, [ourIp]);
  t.is(rec.authorized, true);
  t.deepEqual([rec.vMajor, rec.vMinor, rec.vRev], [1, 14, 1]);

  // IPv6 on RFC 4193 addresses: the real node emulates neighbour discovery for them (the MAC follows from the
  // address), so its echo reaches our stack only if we derive both as it does; ours solicits by multicast.
  await framesBothWays(t, scope, ns.a, M, nwid, okM.mac, [ourIp, ourIp6], [ztIp, ztIp6]);
  // A network edit on the real controller reaches our member by a config push.
  const tEdit = Date.now();
  await ztApi(ns.a, ztHome, 'POST', `/controller/network/${nwid}`, { name: 'interop-b-renamed' });
  await ourNetwork(M, nwid, (n) => n.name === 'interop-b-renamed', 10000);
  t.log(`our member: the renamed network pushed in ${Date.now() - tEdit} ms`);
  await directBothWays(t, ns, ztHome, ztAddr, M);
  await noUnexpectedErrors(t, ns.a, ztHome, M);

  // The real controller's rules reach our member's engine: drop inbound ICMP (the characteristics match on the
  // inbound bit holds only on the receiving side). The real node's echoes then stop at our member, which counts
  // them as dropped by a rule, while TCP still flows.
  const rules = [
    { type: 'MATCH_CHARACTERISTICS', not: false, or: false, mask: '8000000000000000' },
    { type: 'MATCH_IP_PROTOCOL', not: false, or: false, ipProtocol: 1 },
    { type: 'ACTION_DROP' },
    { type: 'ACTION_ACCEPT' },
  ];
  await ztApi(ns.a, ztHome, 'POST', `/controller/network/${nwid}`, { rules });
  const netDrops = async () =>
    (
      (await ourApi(M, 'GET', '/unstable/stats')).json as {
        networks: { nwid: string; drops: Record<string, number> }[];
      }
    ).networks.find((n) => n.nwid === nwid)?.drops ?? {};
  const ruleDrops = await poll(
    "our member dropping the real node's echoes by rule",
    15000,
    async () => {
      await execa('ip', ['netns', 'exec', ns.a, 'ping', '-c', '1', '-W', '1', ourIp], { reject: false });
      const d = await netDrops();
      return Object.keys(d).some((k) => k.startsWith('inbound-')) ? d : undefined;
    },
    () => '',
  );
  t.log(`our member, with the real controller's rules: drops ${JSON.stringify(ruleDrops)}`);
  const stillTcp = await inNs(
    join(M.home, `nc_${nwid}`),
    'curl',
    ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', `http://${ztIp}:1/`],
    { reject: false, timeout: 10000 },
  );
  // A refusal (RST back, curl exit 7) rather than a timeout (exit 28): TCP crossed both ways.
  t.is(stillTcp.exitCode, 7, `TCP still reaches the real node, whose kernel refuses port 1: ${stillTcp.stderr}`);

  // Deauthorization by the real controller: its revocation reaches our member (signed by a real controller,
  // it must verify), which asks again at once and is told ACCESS_DENIED, well within 10 s.
  const tDeauth = Date.now();
  await ztApi(ns.a, ztHome, 'POST', `/controller/network/${nwid}/member/${M.address}`, { authorized: false });
  const gone = await ourNetwork(M, nwid, (n) => n.status === 'ACCESS_DENIED', 10000);
  t.log(`our member: ${gone.status} ${Date.now() - tDeauth} ms after the real controller deauthorized it`);
  const p = await execa('ip', ['netns', 'exec', ns.a, 'ping', '-c', '2', '-i', '0.3', '-W', '1', ourIp], {
    reject: false,
  });
  t.not(p.exitCode, 0, 'and no longer answers the real node');
});
