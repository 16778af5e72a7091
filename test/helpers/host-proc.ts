// For the host-mode tests (test/service/host-*.test.ts): a real `zerotier-netcon-service --nodes <hostdir>`
// process, a single service as root and controller with a self-hosted planet, the API called with a
// folder's token, and polling with a deadline.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stopService } from '../../testkit/zerotier-one.js';
import { bin, freePort, ROOT, waitFor } from '../../tools/cluster.js';

export { bin, freePort, ROOT, stopService, waitFor };

export const token = (dir: string) => readFileSync(join(dir, 'authtoken.secret'), 'utf8').trim();

/** An API call with a raw token: the status and the parsed body. */
export async function call(
  port: number,
  tok: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'X-ZT1-Auth': tok },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

/** An API call with the token of folder `dir`; throws unless 200. */
export async function api(
  dir: string,
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ id: string }> {
  const r = await call(port, token(dir), method, path, body);
  if (r.status !== 200) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { id: string };
}

export const cli = (home: string, ...args: string[]) =>
  execa(bin('zerotier-cli'), [`-D${home}`, ...args], { reject: false });

export interface HostProc {
  dir: string;
  port: number;
  child: ChildProcess;
  /** What the host printed on stderr (its log) so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts `zerotier-netcon-service --nodes dir -p<port>` in the foreground and waits for its port file. */
export async function startHost(dir: string, port: number, extra: string[] = []): Promise<HostProc> {
  const child = spawn(bin('zerotier-netcon-service'), ['--nodes', dir, `-p${port}`, ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await waitFor('the host to say it is up', 60_000, async () => {
    if (child.exitCode !== null) throw new Error(`the host exited ${child.exitCode}: ${out}`);
    return /"host .* up on port /.test(out) ? true : undefined;
  }).catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
  let stopped = false;
  return {
    dir,
    port,
    child,
    log: () => out,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface Rig {
  base: string;
  /** The root and controller: a single service. */
  root: { home: string; port: number; address: string };
  /** The host folder, holding the planet its nodes inherit. */
  hostDir: string;
  /** Creates a network on the root's controller (IPv4 pool 10.<a>.<b>.0/24); its ID. */
  network(name: string): Promise<string>;
  /** Authorizes `address` on `nwid`. */
  authorize(nwid: string, address: string): Promise<void>;
  close(): Promise<void>;
}

/** A root + controller (single service on 127.0.0.1) and a host folder with its planet. */
export async function startRig(prefix: string): Promise<Rig> {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const rootHome = join(base, 'root');
  const hostDir = join(base, 'host');
  mkdirSync(rootHome, { mode: 0o700 });
  mkdirSync(hostDir, { mode: 0o700 });
  const close = async () => {
    await stopService(rootHome);
    rmSync(base, { recursive: true, force: true });
  };
  try {
    const rootPort = await freePort();
    const idtool = bin('zerotier-idtool');
    await execa(idtool, ['generate', join(rootHome, 'identity.secret'), join(rootHome, 'identity.public')]);
    const tpl = await execa(idtool, ['initplanet', join(rootHome, 'identity.public'), `127.0.0.1/${rootPort}`]);
    writeFileSync(join(base, 'planet.json'), tpl.stdout);
    await execa(idtool, ['genplanet', join(base, 'planet.json'), join(base, 'planet')], { cwd: base });
    writeFileSync(join(rootHome, 'planet'), readFileSync(join(base, 'planet')));
    writeFileSync(join(hostDir, 'planet'), readFileSync(join(base, 'planet')));
    const r = await execa(bin('zerotier-netcon-service'), ['-d', `-p${rootPort}`, rootHome], { reject: false });
    if (r.exitCode !== 0) throw new Error(`the root did not start: ${r.stderr}`);
    const address = readFileSync(join(rootHome, 'identity.public'), 'utf8').slice(0, 10);
    let n = 0;
    const s = 1 + Math.floor(Math.random() * 200);
    return {
      base,
      root: { home: rootHome, port: rootPort, address },
      hostDir,
      async network(name) {
        const net = n++;
        const nw = await api(rootHome, rootPort, 'POST', `/controller/network/${address}______`, {
          name,
          private: true,
          v4AssignMode: { zt: true },
          ipAssignmentPools: [{ ipRangeStart: `10.${s + net}.${s}.10`, ipRangeEnd: `10.${s + net}.${s}.250` }],
          routes: [{ target: `10.${s + net}.${s}.0/24` }],
        });
        return nw.id;
      },
      async authorize(nwid, addr) {
        await api(rootHome, rootPort, 'POST', `/controller/network/${nwid}/member/${addr}`, { authorized: true });
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Waits until node `home` is OK on `nwid` with an address: [socket path, IPv4]. */
export async function waitOnNetwork(home: string, nwid: string, ms = 60_000): Promise<{ sock: string; ip: string }> {
  const w = await execa(bin('zerotier-netcon'), ['wait', `-D${home}`, `-t${Math.ceil(ms / 1000)}`, nwid]);
  const [sock, ips] = w.stdout.split(' ');
  return { sock: sock!, ip: ips!.split(',')[0]!.split('/')[0]! };
}
