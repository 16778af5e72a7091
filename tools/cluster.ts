// A self-contained netcon network on this machine, offline and without root: a root that is also the network
// controller and N members, each its own zerotier-netcon-service on 127.0.0.1, a self-hosted planet made with
// zerotier-idtool, and one private network with every member authorized. Used by `npm run demo` and by the
// benchmarks that need real services.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const bin = (name: string) => join(ROOT, name);

export interface Member {
  name: string;
  home: string;
  port: number;
  address: string;
  /** The network's RPC socket on this member (ZT_NC_NETWORK). */
  sock: string;
  /** The member's IPv4 address on the network. */
  ip: string;
}

export interface Cluster {
  base: string;
  nwid: string;
  root: { home: string; port: number; address: string };
  members: Member[];
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Polls `probe` until it gives a value (not undefined) or `ms` pass; the error names `what` and the last failure. */
export async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const cli = (home: string, ...args: string[]) =>
  execa(bin('zerotier-cli'), [`-D${home}`, ...args], { reject: false });

export async function api(home: string, port: number, method: string, path: string, body?: unknown): Promise<unknown> {
  const token = readFileSync(join(home, 'authtoken.secret'), 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'X-ZT1-Auth': token },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

function stopService(home: string): void {
  try {
    process.kill(Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8')), 'SIGTERM');
  } catch {
    /* not running */
  }
}

/** Starts the root+controller and the members, creates the network, joins and authorizes everyone. */
export async function startCluster(names: string[], step: (msg: string) => void = () => {}): Promise<Cluster> {
  const base = mkdtempSync(join(tmpdir(), 'netcon-demo-'));
  const rootHome = join(base, 'root');
  const homes = names.map((n) => join(base, `member-${n.toLowerCase()}`));
  const stop = async () => {
    for (const h of [rootHome, ...homes]) stopService(h);
    await new Promise((r) => setTimeout(r, 300));
    // NETCON_KEEP=1 keeps the homes (logs in <home>/netcon.log) for a look after a failure.
    if (process.env.NETCON_KEEP === '1') process.stderr.write(`kept ${base}\n`);
    else rmSync(base, { recursive: true, force: true });
  };
  try {
    step(`working in ${base}`);
    step('making the root identity and a self-hosted planet (zerotier-idtool generate / initplanet / genplanet)');
    const rootPort = await freePort();
    for (const h of [rootHome, ...homes]) mkdirSync(h, { recursive: true, mode: 0o700 });
    const idtool = bin('zerotier-idtool');
    await execa(idtool, ['generate', join(rootHome, 'identity.secret'), join(rootHome, 'identity.public')]);
    const template = await execa(idtool, ['initplanet', join(rootHome, 'identity.public'), `127.0.0.1/${rootPort}`]);
    writeFileSync(join(base, 'planet.json'), template.stdout);
    await execa(idtool, ['genplanet', join(base, 'planet.json'), join(base, 'planet')], { cwd: base });
    for (const h of [rootHome, ...homes]) writeFileSync(join(h, 'planet'), readFileSync(join(base, 'planet')));

    const start = async (label: string, home: string, port: number) => {
      const r = await execa(bin('zerotier-netcon-service'), ['-d', `-p${port}`, home], { reject: false });
      if (r.exitCode !== 0) throw new Error(`the ${label} service did not start: ${r.stderr}`);
      step(`started ${label}: ${(await cli(home, 'info')).stdout}`);
      return readFileSync(join(home, 'identity.public'), 'utf8').slice(0, 10);
    };
    const rootAddress = await start('root + controller', rootHome, rootPort);
    const ports: number[] = [];
    for (const [i, h] of homes.entries()) {
      ports.push(await freePort());
      await start(`member ${names[i]}`, h, ports[i]!);
    }
    await waitFor('the members to come ONLINE', 30_000, async () => {
      for (const h of homes) if (!(await cli(h, 'info')).stdout.endsWith('ONLINE')) return undefined;
      return true;
    });
    step('the members are ONLINE with the root');

    const net = (await api(rootHome, rootPort, 'POST', `/controller/network/${rootAddress}______`, {
      name: 'netcon-demo',
      private: true,
      v4AssignMode: { zt: true },
      ipAssignmentPools: [{ ipRangeStart: '10.147.20.10', ipRangeEnd: '10.147.20.250' }],
      routes: [{ target: '10.147.20.0/24' }],
    })) as { id: string };
    const nwid = net.id;
    step(`created private network ${nwid} on the controller`);
    const members: Member[] = [];
    for (const [i, home] of homes.entries()) {
      const address = readFileSync(join(home, 'identity.public'), 'utf8').slice(0, 10);
      step(`member ${names[i]}: ${(await cli(home, 'join', nwid)).stdout}`);
      await api(rootHome, rootPort, 'POST', `/controller/network/${nwid}/member/${address}`, { authorized: true });
      step(`authorized member ${names[i]} (${address})`);
      members.push({ name: names[i]!, home, port: ports[i]!, address, sock: '', ip: '' });
    }
    for (const m of members) {
      const w = await execa(bin('zerotier-netcon'), ['wait', `-D${m.home}`, '-t30', nwid]);
      const [sock, ips] = w.stdout.split(' ');
      m.sock = sock!;
      m.ip = ips!.split(',')[0]!.split('/')[0]!;
      step(`member ${m.name} is on the network as ${m.ip} (apps connect through ${m.sock})`);
    }
    return { base, nwid, root: { home: rootHome, port: rootPort, address: rootAddress }, members, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
