// Names inside the container without the host's resolver (README "Names on the network", RPC.md "Names"):
// real services (root + controller, members A and B on 127.0.0.1), programs under the intercept in empty
// network namespaces (so the host's resolver cannot answer anything: every answer comes from the service).
//   - members named on the controller resolve as <name>.<domain> (and bare, under the domain), v4 and v6,
//     and back, through every hooked entry point; a program resolves one and connects to it;
//   - /etc/hosts as the program reads it (its own mount namespace);
//   - a dnsmasq served on member A (under the intercept) and pushed as the network's DNS server answers B's
//     programs once B sets allowDNS=1, over the network (dnsmasq logs the query from B's address); before
//     that, nothing asks it;
//   - unknown names fail at once with glibc's error for an unknown name, and no DNS query leaves the program
//     through the kernel (strace sees no datagram to port 53), unless ZT_NC_FALLTHROUGH=1.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { CTESTS, inNs, kill, LIB, preloadEnv } from '../../testkit/intercept.js';
import { api, type Cluster, cli, startCluster, waitFor } from '../../tools/cluster.js';

const RESOLVE = join(CTESTS, 'nc_resolve');

let cluster: Cluster | undefined;
const dirs: string[] = [];
test.after.always(async () => {
  await cluster?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** nc_resolve under the intercept on `sock`, in an empty network namespace: its output lines and exit code. */
async function resolve(sock: string, env: Record<string, string>, ...args: string[]) {
  const t0 = Date.now();
  const r = await inNs(sock, RESOLVE, args, { reject: false, timeout: 20000, env });
  return { code: r.exitCode, lines: String(r.stdout).trim().split('\n'), ms: Date.now() - t0 };
}

test('names: member names, /etc/hosts, a dnsmasq on the network with allowDNS, nothing through the host', async (t) => {
  if (!existsSync(LIB) || !existsSync(RESOLVE)) return t.fail('run ./build.sh');
  const dnsmasq = (await execa('sh', ['-c', 'command -v dnsmasq'], { reject: false })).stdout.trim();
  if (!dnsmasq) return t.fail('dnsmasq is not installed (apt-get install dnsmasq-base; scripts/install-deps.sh does)');
  cluster = await startCluster(['A', 'B']);
  const { nwid, root } = cluster;
  const [A, B] = cluster.members as [Cluster['members'][0], Cluster['members'][0]];
  const ctl = (path: string, body: unknown) =>
    api(root.home, root.port, 'POST', `/controller/network/${nwid}${path}`, body);

  // The network's DNS settings (ZeroTier's dns object) and names on the members; an IPv6 address for A too.
  await ctl('', { dns: { domain: 'corp.zt', servers: [A.ip] } });
  await ctl(`/member/${A.address}`, { name: 'Web Server', ipAssignments: [A.ip, 'fd00:147:20::5'] });
  await ctl(`/member/${B.address}`, { name: 'db' });
  const stored = (await api(root.home, root.port, 'GET', `/controller/network/${nwid}`)) as { dns: unknown };
  t.deepEqual(stored.dns, { domain: 'corp.zt', servers: [A.ip] }, 'the controller stores the dns object');
  await waitFor('B to know the names', 30000, async () => {
    const n = (JSON.parse((await cli(B.home, '-j', 'listnetworks')).stdout) as { dns: { domain: string } }[])[0];
    if (n?.dns.domain !== 'corp.zt') return undefined;
    const r = await resolve(B.sock, {}, 'gai', 'web-server.corp.zt');
    return r.code === 0 ? true : undefined;
  });
  const lj = JSON.parse((await cli(B.home, '-j', 'listnetworks')).stdout) as { dns: unknown }[];
  t.deepEqual(lj[0]!.dns, { domain: 'corp.zt', servers: [A.ip] }, 'the member lists the dns object as ZeroTier One');

  // Every entry point, on B, for A's name ("Web Server" becomes the label web-server).
  const gai = await resolve(B.sock, {}, 'gai', 'web-server.corp.zt');
  t.deepEqual(gai.lines, ['canon web-server.corp.zt', A.ip, 'fd00:147:20::5']);
  t.deepEqual((await resolve(B.sock, {}, 'gai', 'web-server', '6')).lines, [
    'canon web-server.corp.zt',
    'fd00:147:20::5',
  ]);
  t.deepEqual((await resolve(B.sock, {}, 'ghbn', 'WEB-SERVER.corp.zt.')).lines, [`web-server.corp.zt ${A.ip}`]);
  t.deepEqual((await resolve(B.sock, {}, 'ghbn2', 'web-server.corp.zt', '6')).lines, [
    'web-server.corp.zt fd00:147:20::5',
  ]);
  t.deepEqual((await resolve(B.sock, {}, 'ghbnr', 'db.corp.zt')).lines, [`db.corp.zt ${B.ip}`]);
  t.deepEqual((await resolve(B.sock, {}, 'ghba', A.ip)).lines, [`web-server.corp.zt ${A.ip}`]);
  t.deepEqual((await resolve(B.sock, {}, 'gni', 'fd00:147:20::5')).lines, ['web-server.corp.zt']);
  t.deepEqual((await resolve(B.sock, {}, 'resq', 'web-server.corp.zt', 'A')).lines, ['rcode 0 answers 1', A.ip]);
  const ptr = A.ip.split('.').reverse().join('.');
  t.deepEqual((await resolve(B.sock, {}, 'resq', `${ptr}.in-addr.arpa`, 'PTR')).lines, [
    'rcode 0 answers 1',
    'web-server.corp.zt',
  ]);

  // A program resolves the name and connects to it (python: getaddrinfo inside create_connection).
  const port = 7000 + Math.floor(Math.random() * 1000);
  const server = inNs(
    A.sock,
    'python3',
    [
      '-c',
      `import socket\ns=socket.create_server(('0.0.0.0',${port}))\nwhile True:\n  c,_=s.accept(); c.sendall(b'hello from web-server\\n'); c.close()`,
    ],
    { reject: false },
  );
  t.teardown(() => kill(server));
  const client = `import socket\nc=socket.create_connection(('web-server.corp.zt',${port}),timeout=5)\nprint(c.recv(100).decode().strip())`;
  const got = await waitFor('the client on B', 20000, async () => {
    const r = await inNs(B.sock, 'python3', ['-c', client], { reject: false, timeout: 15000 });
    return r.exitCode === 0 ? String(r.stdout) : undefined;
  });
  t.is(got.trim(), 'hello from web-server', 'resolved web-server.corp.zt and connected to it through the network');

  // Unknown names fail at once with glibc's error for an unknown name, and nothing reaches the kernel's port 53.
  const unknown = await resolve(B.sock, {}, 'gai', 'nothing.corp.zt');
  t.deepEqual(unknown.lines, ['error -2 Name or service not known']);
  t.true(unknown.ms < 3000, `answered in ${unknown.ms} ms`);
  t.deepEqual((await resolve(B.sock, {}, 'ghbn', 'www.example.com')).lines, ['error 1 Unknown host']);
  const traced = await execa(
    'unshare',
    ['-n', 'strace', '-f', '-e', 'trace=connect,sendto,sendmsg,sendmmsg', RESOLVE, 'gai', 'www.example.com'],
    { reject: false, env: { ...preloadEnv(B.sock) }, timeout: 20000 },
  );
  t.false(/htons\(53\)/.test(traced.stderr), `no datagram to port 53 through the kernel:\n${traced.stderr}`);
  t.regex(traced.stdout, /Name or service not known/);
  // With fall-through the host's resolver is asked (here, in an empty namespace, it can only fail: it tries).
  const ft = await execa(
    'unshare',
    ['-n', 'strace', '-f', '-e', 'trace=connect,sendto', RESOLVE, 'gai', 'www.example.com'],
    { reject: false, env: { ...preloadEnv(B.sock), ZT_NC_FALLTHROUGH: '1' }, timeout: 20000 },
  );
  const resolvConf = readFileSync('/etc/resolv.conf', 'utf8');
  if (/^nameserver\s+(?!127\.)/m.test(resolvConf))
    t.regex(ft.stderr, /htons\(53\)/, 'ZT_NC_FALLTHROUGH=1: the host resolver is used');

  // /etc/hosts as the program reads it: its own mount namespace with its own hosts file.
  const dir = mkdtempSync(join(tmpdir(), 'netcon-names-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'hosts'), '10.147.20.99 printer.local printer\n');
  const hosts = await execa(
    'unshare',
    ['-m', '-n', 'sh', '-c', `mount --bind ${join(dir, 'hosts')} /etc/hosts && exec ${RESOLVE} gai printer`],
    { reject: false, env: preloadEnv(B.sock), timeout: 20000 },
  );
  t.deepEqual(String(hosts.stdout).trim().split('\n'), ['canon printer.local', '10.147.20.99'], String(hosts.stderr));

  // A dnsmasq on A (under the intercept, listening on A's network address), the network's DNS server.
  const log = join(dir, 'dnsmasq.log');
  const dns = inNs(
    A.sock,
    dnsmasq,
    [
      '-k',
      '-C',
      '/dev/null',
      '--port=53',
      '--bind-interfaces',
      `--listen-address=${A.ip}`,
      '--no-resolv',
      '--no-hosts',
      '--log-queries',
      `--log-facility=${log}`,
      '--local=/example/',
      '--address=/svc.example/10.147.20.88',
      '--host-record=nas.example,10.147.20.77',
    ],
    { reject: false },
  );
  t.teardown(() => kill(dns));
  await waitFor('dnsmasq on A', 20000, async () =>
    existsSync(log) && /started/.test(readFileSync(log, 'utf8')) ? true : undefined,
  );
  // allowDNS=0 (the default): the servers are not asked; the name is unknown.
  t.deepEqual((await resolve(B.sock, {}, 'gai', 'svc.example')).lines, ['error -2 Name or service not known']);
  t.false(/svc\.example/.test(readFileSync(log, 'utf8')), 'dnsmasq was not asked');
  const set = await cli(B.home, 'set', nwid, 'allowDNS=1');
  t.true((JSON.parse(set.stdout) as { allowDNS: boolean }).allowDNS);
  t.deepEqual((await resolve(B.sock, {}, 'gai', 'svc.example', '4')).lines, ['canon svc.example', '10.147.20.88']);
  t.deepEqual((await resolve(B.sock, {}, 'ghbn', 'nas.example')).lines, ['nas.example 10.147.20.77']);
  t.deepEqual((await resolve(B.sock, {}, 'gni', '10.147.20.77')).lines, ['nas.example']);
  t.deepEqual((await resolve(B.sock, {}, 'resq', 'svc.example', 'A')).lines, ['rcode 0 answers 1', '10.147.20.88']);
  t.deepEqual((await resolve(B.sock, {}, 'resq', 'none.example', 'A')).lines, ['error 1 Unknown host']);
  const queries = readFileSync(log, 'utf8');
  t.regex(
    queries,
    new RegExp(`from ${B.ip.replace(/\./g, '\\.')}`),
    "the queries came from B's address, over the network",
  );
  // The network's own names still come first.
  t.deepEqual((await resolve(B.sock, {}, 'ghbn', 'db.corp.zt')).lines, [`db.corp.zt ${B.ip}`]);
  t.log(`dnsmasq saw: ${queries.split('\n').filter((l) => / query\[/.test(l)).length} queries from B`);
});
