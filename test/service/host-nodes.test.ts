// zerotier-netcon-service --nodes <hostdir> (README "One service for many nodes"), as a user runs it: a real
// host process, real folders, the real API on one port. Nodes are added and removed by folders appearing and
// disappearing and through the host's API; each node answers our zerotier-cli -D<hostdir>/<name> as a single
// service would; tokens route to exactly one node (or the host); bad command lines fail with one line.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { bin, call, cli, freePort, startHost, stopService, token, waitFor } from '../helpers/host-proc.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'netcon-host-'));
const addressOf = (home: string) => readFileSync(join(home, 'identity.public'), 'utf8').slice(0, 10);
const names = (list: unknown) => (list as { name: string }[]).map((n) => n.name);

test('nodes start when their folder appears and stop when it goes; POST and DELETE /nodes/<name> do the same', async (t) => {
  const base = fresh();
  const dir = join(base, 'host');
  const port = await freePort();
  mkdirSync(join(dir, 'a'), { recursive: true });
  writeFileSync(join(dir, 'junk.txt'), 'not a node');
  const host = await startHost(dir, port);
  t.teardown(async () => {
    await host.stop();
    rmSync(base, { recursive: true, force: true });
  });
  const hostTok = token(dir);
  const list = async () => (await call(port, hostTok, 'GET', '/nodes')).body as { name: string; address: string }[];

  // The host folder and a node's home: modes, the host's token, the shared port in both port files.
  t.is(statSync(dir).mode & 0o777, 0o700);
  t.is(statSync(join(dir, 'authtoken.secret')).mode & 0o777, 0o600);
  t.is(readFileSync(join(dir, 'zerotier-one.port'), 'utf8').trim(), String(port));
  const a = join(dir, 'a');
  t.is(statSync(a).mode & 0o777, 0o700);
  t.is(statSync(join(a, 'identity.secret')).mode & 0o777, 0o600);
  t.is(statSync(join(a, 'authtoken.secret')).mode & 0o777, 0o600);
  t.is(readFileSync(join(a, 'zerotier-one.port'), 'utf8').trim(), String(port));
  t.not(token(a), hostTok, 'each node has its own token');
  t.deepEqual(await list(), [{ name: 'a', home: a, address: addressOf(a), online: false, networks: [] }] as never);
  t.regex(host.log(), /junk\.txt: not a node folder/, 'an odd entry is reported');

  // A folder appears: its node starts (identity created); it goes: the node stops and its token is refused.
  mkdirSync(join(dir, 'b'));
  await waitFor('node b to be listed', 20_000, async () =>
    (await list()).some((n) => n.name === 'b') ? true : undefined,
  );
  const b = join(dir, 'b');
  const bTok = token(b);
  t.is(((await call(port, bTok, 'GET', '/status')).body as { address: string }).address, addressOf(b));
  rmSync(b, { recursive: true, force: true });
  await waitFor('node b to stop', 20_000, async () => (names(await list()).includes('b') ? undefined : true));
  t.is((await call(port, bTok, 'GET', '/status')).status, 401, "a stopped node's token reaches nothing");

  // POST /nodes/<name>: folder and identity created, node started; DELETE stops it and keeps the folder.
  const c = join(dir, 'c');
  const created = await call(port, hostTok, 'POST', '/nodes/c');
  t.is(created.status, 200);
  t.like(created.body as object, { name: 'c', home: c, address: addressOf(c), networks: [] });
  const cAddress = addressOf(c);
  const del = await call(port, hostTok, 'DELETE', '/nodes/c');
  t.is(del.status, 200);
  t.false(names(await list()).includes('c'));
  t.is(addressOf(c), cAddress, 'the folder is kept');
  t.is((await call(port, hostTok, 'DELETE', '/nodes/c')).status, 404, 'a stopped node cannot be stopped again');
  // A rescan (triggered by another folder appearing) does not start a node stopped through the API.
  mkdirSync(join(dir, 'd'));
  await waitFor('node d to be listed', 20_000, async () => (names(await list()).includes('d') ? true : undefined));
  t.false(names(await list()).includes('c'), 'c stays stopped');
  // POST again: the same identity, and quickly (an existing identity is only read).
  const t0 = performance.now();
  const again = await call(port, hostTok, 'POST', '/nodes/c');
  const ms = performance.now() - t0;
  t.is(again.status, 200);
  t.is((again.body as { address: string }).address, cAddress);
  t.log(`POST /nodes/c with an existing identity: ${ms.toFixed(0)} ms`);
  t.true(ms < 1000, `a node with an existing identity starts well under a second (took ${ms.toFixed(0)} ms)`);
  t.deepEqual(names(await list()), ['a', 'c', 'd']);

  // Bad names: 400 naming the rule; a host entry is not a node.
  for (const bad of ['moons.d', '.hidden', 'x'.repeat(65), 'sp%20ace'])
    t.is((await call(port, hostTok, 'POST', `/nodes/${bad}`)).status, 400, bad);
});

test('each node answers its own zerotier-cli and API; tokens reach exactly one node or the host', async (t) => {
  const base = fresh();
  const dir = join(base, 'host');
  const port = await freePort();
  for (const n of ['a', 'b']) mkdirSync(join(dir, n), { recursive: true });
  const host = await startHost(dir, port);
  t.teardown(async () => {
    await host.stop();
    rmSync(base, { recursive: true, force: true });
  });
  const [a, b] = [join(dir, 'a'), join(dir, 'b')];
  const [aTok, bTok, hostTok] = [token(a), token(b), token(dir)];

  // Our zerotier-cli, pointed at a node's home, talks to that node (port and token from its home).
  for (const home of [a, b]) {
    const info = await cli(home, 'info');
    t.is(info.exitCode, 0, info.stderr);
    t.regex(info.stdout, new RegExp(`^200 info ${addressOf(home)} 1\\.14\\.1 (ONLINE|OFFLINE)$`));
  }
  const nwid = '8056c2e21c000001';
  t.is((await cli(a, 'join', nwid)).stdout, '200 join OK');
  t.regex((await cli(a, 'listnetworks')).stdout, new RegExp(`^200 listnetworks ${nwid} `, 'm'));
  t.notRegex((await cli(b, 'listnetworks')).stdout, new RegExp(nwid), "a's network is not b's");
  t.is((await call(port, bTok, 'GET', `/network/${nwid}`)).status, 404);
  t.is((await call(port, aTok, 'GET', `/network/${nwid}`)).status, 200);

  // Tokens: a node's token reaches that node only; the host's token the host routes only; others 401.
  t.is(((await call(port, aTok, 'GET', '/status')).body as { address: string }).address, addressOf(a));
  t.is(((await call(port, bTok, 'GET', '/status')).body as { address: string }).address, addressOf(b));
  t.is((await call(port, hostTok, 'GET', '/status')).status, 404, 'the host token cannot act as a node');
  t.is((await call(port, hostTok, 'POST', `/network/${nwid}`, {})).status, 404);
  t.is((await call(port, aTok, 'GET', '/nodes')).status, 404, 'a node token cannot act as the host');
  t.is((await call(port, aTok, 'DELETE', '/nodes/b')).status, 404);
  t.is((await call(port, hostTok, 'GET', '/nodes')).status, 200);
  t.is((await call(port, 'not-a-token', 'GET', '/status')).status, 401);
  t.is((await call(port, '', 'GET', '/nodes')).status, 401);
  // After DELETE /nodes/a, a's token reaches nothing (401), while b's still reaches b.
  t.is((await call(port, hostTok, 'DELETE', '/nodes/a')).status, 200);
  t.is((await call(port, aTok, 'GET', '/status')).status, 401);
  t.is((await call(port, aTok, 'GET', `/network/${nwid}`)).status, 401);
  t.is((await call(port, bTok, 'GET', '/status')).status, 200);

  // The host's counters: /unstable/stats with the host token.
  const stats = (await call(port, hostTok, 'GET', '/unstable/stats')).body as { nodes: number; wire: object };
  t.is(stats.nodes, 1);
  t.like(stats.wire, { tooShort: 0 });
});

test('bad --nodes command lines and unusable host folders fail with one line, exit 1', async (t) => {
  const base = fresh();
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const svc = (...args: string[]) => execa(bin('zerotier-netcon-service'), args, { reject: false, timeout: 30_000 });
  const port = await freePort();

  const noDir = await svc('--nodes');
  t.is(noDir.exitCode, 1);
  t.regex(noDir.stderr, /^zerotier-netcon-service: --nodes needs a host folder\n.*\nusage:/);
  const both = await svc('--nodes', join(base, 'h'), join(base, 'home'));
  t.is(both.exitCode, 1);
  t.regex(both.stderr, /one or the other/);

  const file = join(base, 'a-file');
  writeFileSync(file, 'x');
  const notDir = await svc('--nodes', file, `-p${port}`);
  t.is(notDir.exitCode, 1);
  t.is(
    notDir.stderr,
    `zerotier-netcon-service: cannot use host folder ${file}: it (or a folder on its path) is not a folder`,
  );

  // A node's home given as a host folder: refused, nothing created in it.
  const home = join(base, 'home');
  mkdirSync(home);
  await execa(bin('zerotier-idtool'), ['generate', join(home, 'identity.secret'), join(home, 'identity.public')]);
  const nodeHome = await svc('--nodes', home, `-p${port}`);
  t.is(nodeHome.exitCode, 1);
  t.regex(
    nodeHome.stderr,
    /^zerotier-netcon-service: \S+ holds identity\.secret: it is a node's home, not a host folder/,
  );
  t.is(nodeHome.stderr.split('\n').length, 1, 'one line');

  // A second host on the same folder is refused, naming the first one's pid.
  const dir = join(base, 'host');
  const host = await startHost(dir, port);
  t.teardown(() => host.stop());
  const second = await svc('--nodes', dir, `-p${await freePort()}`);
  t.is(second.exitCode, 1);
  t.is(
    second.stderr,
    `zerotier-netcon-service: another service (pid ${host.child.pid}) is already running with home ${dir}`,
  );
});

test('-d --nodes returns once the host is up, logs to <hostdir>/netcon.log; a hosted home refuses a second service', async (t) => {
  const base = fresh();
  const dir = join(base, 'host');
  mkdirSync(join(dir, 'a'), { recursive: true });
  const port = await freePort();
  t.teardown(async () => {
    await stopService(dir);
    rmSync(base, { recursive: true, force: true });
  });
  const r = await execa(bin('zerotier-netcon-service'), ['-d', `-p${port}`, '--nodes', dir], { reject: false });
  t.is(r.exitCode, 0, r.stderr);
  t.regex(readFileSync(join(dir, 'netcon.log'), 'utf8'), /host .* up on port \d+ with 1 node/);
  t.regex((await cli(join(dir, 'a'), 'info')).stdout, /^200 info [0-9a-f]{10} /);
  // The node's home is locked by the host: a single service on it is refused.
  const single = await execa(bin('zerotier-netcon-service'), [`-p${await freePort()}`, join(dir, 'a')], {
    reject: false,
    timeout: 30_000,
  });
  t.is(single.exitCode, 1);
  t.regex(single.stderr, /another service \(pid \d+\) is already running with home/);
});
