// The VL2 core flow with three real services on 127.0.0.1 (a root that is also the controller, members A
// and B), each its own process started as users start it (zerotier-netcon-service -d -p<port> <home>) with
// a planet made by zerotier-idtool, driven through zerotier-cli and the local API. Data crosses between
// the two members' stacks through the intercept: python3 -m http.server on one, curl on the other, each in
// an empty network namespace, SHA-256 compared.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { freePort, inNs, kill, LIB, ROOT, tmp, waitFor } from '../../testkit/intercept.js';
import { vectorPath } from '../helpers/vl1-vectors.js';

const service = join(ROOT, 'zerotier-netcon-service');
const cli = join(ROOT, 'zerotier-cli');
const idtool = join(ROOT, 'zerotier-idtool');
const BIG = Number(process.env.NETCON_VL2_BIG ?? 64 * 1024 * 1024);

interface Svc {
  name: string;
  home: string;
  port: number;
  address: string;
}

async function stop(home: string): Promise<void> {
  try {
    const pid = Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8'));
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        return;
      }
    }
    process.kill(pid, 'SIGKILL');
  } catch {
    /* not running */
  }
}

async function startSvc(name: string, home: string, port: number): Promise<Svc> {
  const r = await execa(service, ['-d', `-p${port}`, home], { reject: false });
  if (r.exitCode !== 0) throw new Error(`${name} did not start: ${r.stderr}`);
  return { name, home, port, address: readFileSync(join(home, 'identity.public'), 'utf8').slice(0, 10) };
}

async function zcli(s: Svc, ...args: string[]) {
  return execa(cli, [`-D${s.home}`, ...args], { reject: false });
}

async function api(s: Svc, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const token = readFileSync(join(s.home, 'authtoken.secret'), 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${s.port}${path}`, {
    method,
    headers: { 'X-ZT1-Auth': token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

interface NetJson {
  status: string;
  assignedAddresses: string[];
  portDeviceName: string;
  mac: string;
  name: string;
  type: string;
  nwid: string;
}

async function network(s: Svc, nwid: string): Promise<NetJson | undefined> {
  const r = await api(s, 'GET', `/network/${nwid}`);
  return r.status === 200 ? (r.json as NetJson) : undefined;
}

async function waitStatus(s: Svc, nwid: string, status: string, ms = 30_000, needIp = false): Promise<NetJson> {
  let last: NetJson | undefined;
  await waitFor(
    async () => {
      last = await network(s, nwid);
      return last?.status === status && (!needIp || last.assignedAddresses.length > 0);
    },
    ms,
    `${s.name} ${status} (last ${last?.status})`,
  );
  return last!;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Serves `dir` with python3 -m http.server on `server`'s stack and fetches `file` with curl on `client`'s. */
async function transfer(server: Svc, client: Svc, nwid: string, serverIp: string, dir: string, file: string) {
  const port = 8000 + Math.floor(Math.random() * 1000);
  const http = inNs(
    join(server.home, `nc_${nwid}`),
    'python3',
    ['-m', 'http.server', String(port), '--bind', '0.0.0.0'],
    {
      cwd: dir,
      reject: false,
      stdout: 'ignore',
      stderr: 'ignore',
    },
  );
  try {
    const out = join(tmp('netcon-vl2-get-'), 'got');
    await waitFor(
      async () => {
        const r = await inNs(
          join(client.home, `nc_${nwid}`),
          'curl',
          ['-sf', '-o', '/dev/null', '--max-time', '5', `http://${serverIp}:${port}/`],
          { reject: false, timeout: 10_000 },
        );
        return r.exitCode === 0;
      },
      30_000,
      `http.server on ${server.name}`,
    );
    const t0 = Date.now();
    const r = await inNs(
      join(client.home, `nc_${nwid}`),
      'curl',
      ['-sSf', '-o', out, '--max-time', '240', `http://${serverIp}:${port}/${file}`],
      { reject: false, timeout: 250_000 },
    );
    const ms = Date.now() - t0;
    if (r.exitCode !== 0) throw new Error(`curl failed (${r.exitCode}): ${r.stderr}`);
    return { out, ms };
  } finally {
    kill(http);
  }
}

test('three services: join, deny, authorize, networks.d auto-join, transfers both ways, deauth, NOT_FOUND', async (t) => {
  if (!existsSync(LIB)) return t.fail(`${LIB} missing: run ./build.sh`);
  const base = tmp('netcon-vl2-proc-');
  const homes = { R: join(base, 'R'), A: join(base, 'A'), B: join(base, 'B') };
  t.teardown(async () => {
    for (const h of Object.values(homes)) await stop(h);
    rmSync(base, { recursive: true, force: true });
  });
  const ports = { R: freePort(), A: freePort(), B: freePort() };
  const tStart = Date.now();
  const step = (what: string) => t.log(`${((Date.now() - tStart) / 1000).toFixed(1)} s: ${what}`);

  // R's identity first (a first start creates it), then a planet naming R at 127.0.0.1 made by our tools.
  let R = await startSvc('R', homes.R, ports.R);
  await stop(homes.R);
  const init = await execa(idtool, ['initplanet', join(homes.R, 'identity.public'), `127.0.0.1/${ports.R}`]);
  writeFileSync(join(base, 'planet.json'), init.stdout);
  await execa(idtool, ['genplanet', join(base, 'planet.json'), join(base, 'planet')], { cwd: base });
  for (const h of Object.values(homes)) {
    mkdirSync(h, { recursive: true, mode: 0o700 });
    writeFileSync(join(h, 'planet'), readFileSync(join(base, 'planet')));
  }
  R = await startSvc('R', homes.R, ports.R);
  const A = await startSvc('A', homes.A, ports.A);
  const B = await startSvc('B', homes.B, ports.B);
  await waitFor(
    async () => (await zcli(A, 'info')).stdout.endsWith('ONLINE') && (await zcli(B, 'info')).stdout.endsWith('ONLINE'),
    30_000,
    'members online',
  );

  step('members online');
  const created = await api(R, 'POST', `/controller/network/${R.address}______`, {
    name: 'proctest',
    private: true,
    v4AssignMode: { zt: true },
    ipAssignmentPools: [{ ipRangeStart: '10.78.0.10', ipRangeEnd: '10.78.0.250' }],
    routes: [{ target: '10.78.0.0/24' }],
  });
  t.is(created.status, 200);
  const nwid = (created.json as { id: string }).id;

  // A joins with zerotier-cli: ACCESS_DENIED until authorized.
  const join1 = await zcli(A, 'join', nwid);
  t.is(join1.stdout, '200 join OK');
  t.is(join1.exitCode, 0);
  step('A joined');
  await waitStatus(A, nwid, 'ACCESS_DENIED');
  const denied = await zcli(A, 'listnetworks');
  const sockA = join(homes.A, `nc_${nwid}`);
  t.regex(
    denied.stdout,
    new RegExp(
      `^200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>\\n200 listnetworks ${nwid}  [0-9a-f:]{17} ACCESS_DENIED PRIVATE ${sockA} -$`,
    ),
  );
  t.is(statSync(sockA).mode & 0o777, 0o600, 'the RPC socket is 0600');
  t.is((await api(R, 'POST', `/controller/network/${nwid}/member/${A.address}`, { authorized: true })).status, 200);
  const okA = await waitStatus(A, nwid, 'OK', 30_000, true);
  step('A OK');
  const ipA = okA.assignedAddresses[0]!.split('/')[0]!;
  t.regex(ipA, /^10\.78\.0\.\d+$/);
  t.is((await zcli(A, 'get', nwid, 'ip')).stdout, ipA);
  t.is((await zcli(A, 'get', nwid, 'status')).stdout, 'OK');
  t.is((await zcli(A, 'get', nwid, 'name')).stdout, 'proctest');
  const list = await zcli(A, 'listnetworks');
  t.is(
    list.stdout.split('\n')[1],
    `200 listnetworks ${nwid} proctest ${okA.mac} OK PRIVATE ${sockA} ${okA.assignedAddresses[0]}`,
  );
  // As 1.14.1 (vectors/cli-api/cli-output.txt): unknown network → message, exit 0; bad IDs refused.
  const unknown = await zcli(A, 'get', 'ffffffffffffffff', 'ip');
  t.is(unknown.stderr, 'unknown network ID, check that you are a member of the network');
  t.is(unknown.exitCode, 0);
  const bad = await zcli(A, 'join', '1234');
  t.is(bad.exitCode, 2);
  t.is(bad.stdout, 'invalid network id', 'on stdout, as ZeroTier One');
  t.is((await zcli(A, 'get', nwid, 'nosuchfield')).stdout, 'error, unknown property name');
  t.is((await zcli(A, 'get', nwid, 'ip4')).stdout, ipA);
  t.is((await zcli(A, 'get', nwid, 'mtu')).stdout, '2800');
  t.is((await zcli(A, 'get', nwid, 'broadcastEnabled')).stdout, '1');
  const lj = JSON.parse((await zcli(A, '-j', 'listnetworks')).stdout) as NetJson[];
  // The same fields, with the same types, as ZeroTier One's /network object (vectors/cli-api).
  const vec = JSON.parse(readFileSync(vectorPath('cli-api/nodeA-network.json'), 'utf8')) as Record<string, unknown>[];
  const shape = (o: Record<string, unknown>) =>
    Object.keys(o)
      .sort()
      .map((k) => `${k}:${Array.isArray(o[k]) ? 'array' : o[k] === null ? 'null' : typeof o[k]}`);
  t.deepEqual(shape(lj[0] as unknown as Record<string, unknown>), shape(vec[0]!));
  t.deepEqual(Object.keys(lj[0]!), Object.keys(vec[0]!), 'keys in the same (alphabetical) order');
  t.is(lj[0]!.portDeviceName, sockA);
  t.true(readFileSync(join(homes.A, 'networks.d', `${nwid}.conf`)).length > 1, 'the config is cached in networks.d');

  // B joins by dropping an empty file into networks.d while running (the container recipe).
  writeFileSync(join(homes.B, 'networks.d', `${nwid}.conf`), '');
  await waitStatus(B, nwid, 'ACCESS_DENIED');
  await api(R, 'POST', `/controller/network/${nwid}/member/${B.address}`, { authorized: true });
  const okB = await waitStatus(B, nwid, 'OK', 30_000, true);
  step('B OK');
  const ipB = okB.assignedAddresses[0]!.split('/')[0]!;

  // TCP through the stacks, both ways, SHA-256 checked.
  const dir = tmp('netcon-vl2-data-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = Buffer.alloc(BIG);
  for (let i = 0; i < BIG; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  writeFileSync(join(dir, 'big.bin'), data);
  const want = createHash('sha256').update(data).digest('hex');
  step('data ready');
  const ab = await transfer(A, B, nwid, ipA, dir, 'big.bin');
  t.is(await sha256File(ab.out), want, 'A → B intact');
  t.log(`A → B ${BIG} bytes in ${ab.ms} ms (${(((BIG / ab.ms) * 1000) / 1048576).toFixed(1)} MiB/s)`);
  const ba = await transfer(B, A, nwid, ipB, dir, 'big.bin');
  t.is(await sha256File(ba.out), want, 'B → A intact');
  t.log(`B → A ${BIG} bytes in ${ba.ms} ms (${(((BIG / ba.ms) * 1000) / 1048576).toFixed(1)} MiB/s)`);

  step('transfers done');
  // A and B talk directly (not through R).
  const peers = JSON.parse((await zcli(A, '-j', 'listpeers')).stdout) as {
    address: string;
    paths: { address: string; active: boolean }[];
  }[];
  const pb = peers.find((p) => p.address === B.address);
  t.truthy(
    pb?.paths.some((p) => p.active && p.address === `127.0.0.1/${ports.B}`),
    'A has a direct path to B',
  );

  // Local settings: set prints the network object; allowManaged=0 takes the managed address off the stack.
  const set0 = await zcli(A, 'set', nwid, 'allowManaged=0');
  t.is(set0.exitCode, 0);
  t.false((JSON.parse(set0.stdout) as { allowManaged: boolean }).allowManaged);
  t.regex(readFileSync(join(homes.A, 'networks.d', `${nwid}.local.conf`), 'utf8'), /^allowManaged=0\n/);
  t.true((JSON.parse((await zcli(A, 'set', nwid, 'allowManaged=1')).stdout) as { allowManaged: boolean }).allowManaged);

  // A restart rejoins from networks.d and starts with the cached config.
  await stop(homes.A);
  await startSvc('A', homes.A, ports.A);
  const again = await network(A, nwid);
  t.is(again?.status, 'OK', 'the cached config is in use at once');
  t.deepEqual(again?.assignedAddresses, okA.assignedAddresses);
  await waitFor(async () => (await zcli(A, 'info')).stdout.endsWith('ONLINE'), 30_000, 'A online again');

  step('restart done');
  // A nonexistent network on R: NOT_FOUND.
  const ghost = `${R.address}abcdef`;
  await zcli(B, 'join', ghost);
  await waitStatus(B, ghost, 'NOT_FOUND');
  t.is((await zcli(B, 'leave', ghost)).stdout, '200 leave OK');
  t.false(existsSync(join(homes.B, 'networks.d', `${ghost}.conf`)));

  step('NOT_FOUND done');
  // Deauthorizing A takes effect within 10 s.
  const t0 = Date.now();
  await api(R, 'POST', `/controller/network/${nwid}/member/${A.address}`, { authorized: false });
  await waitStatus(A, nwid, 'ACCESS_DENIED', 10_000);
  t.log(`A denied ${Date.now() - t0} ms after deauthorization`);
});
