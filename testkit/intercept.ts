// The rig the intercept tests and the benchmarks share (testkit/: outside the product, importable by both):
// a netcon host child process (two stacks, two RPC sockets) and programs run under the preload in an empty network namespace.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa, type Options, type ResultPromise } from 'execa';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// The build output (relinking makes a new file), not the copy in the repo root that build.sh
// rewrites in place: a running program that has the library mapped must not see it truncated.
export const LIB = join(ROOT, 'intercept', 'build', 'libzerotierintercept.so');
export const CTESTS = join(ROOT, 'intercept', 'build', 'tests');
export const HOST_SCRIPT = join(ROOT, 'dist', 'testkit', 'netcon-host.js');

/** Which stacks the netcon host runs: lwIP (the product) unless NETCON_TEST_BACKEND says otherwise. */
export const BACKEND = process.env.NETCON_TEST_BACKEND ?? 'lwip';

export interface NetconHost {
  dir: string;
  a: string; // RPC socket of 10.147.17.1 / fd80::1
  b: string; // RPC socket of 10.147.17.2 / fd80::2
  child: ChildProcess;
  stop(): Promise<void>;
  /** SIGKILL, as a crash: the folder (and the stale sockets) stay, for startHost(kind, dir) to start again on. */
  crash(): Promise<void>;
}

export const A4 = '10.147.17.1';
export const B4 = '10.147.17.2';
export const A6 = 'fd80::1';
export const B6 = 'fd80::2';

export async function startHost(kind = BACKEND, at?: string): Promise<NetconHost> {
  if (!existsSync(LIB)) throw new Error(`${LIB} is missing: run ./build.sh`);
  const dir = at ?? mkdtempSync(join(tmpdir(), 'netcon-'));
  const child = spawn(process.execPath, [HOST_SCRIPT, dir, kind], { stdio: ['pipe', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout! });
  const ready = await new Promise<{ a: string; b: string }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('netcon host did not start')), 20000);
    child.once('exit', (code) => reject(new Error(`netcon host exited (${code})`)));
    rl.once('line', (line) => {
      clearTimeout(t);
      resolve(JSON.parse(line));
    });
  });
  let stopped = false;
  return {
    dir,
    a: ready.a,
    b: ready.b,
    child,
    async stop() {
      if (stopped) return;
      stopped = true;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
    async crash() {
      if (stopped) return;
      stopped = true;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    },
  };
}

export function preloadEnv(network: string | null, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { LD_PRELOAD: LIB, ...extra };
  if (network) env.ZT_NC_NETWORK = network;
  return env;
}

/** Runs cmd under the preload, inside a fresh empty network namespace. */
export function inNs(network: string | null, cmd: string, args: string[], opts: Options = {}): ResultPromise {
  const env = { ...(opts.env ?? {}), ...preloadEnv(network) } as Record<string, string>;
  // detached: its own process group, so kill() also reaches the children (nginx workers …)
  return execa('unshare', ['-n', '--', cmd, ...args], { ...opts, env, extendEnv: true, detached: true } as Options);
}

/**
 * Appends each whole line a child writes to `into` (trimmed). A line may arrive in pieces: python3 with
 * PYTHONUNBUFFERED=1 writes each argument of print() on its own, and a reader can see them apart.
 */
export function collectLines(stream: NodeJS.ReadableStream | null | undefined, into: string[]): void {
  let partial = '';
  stream?.on('data', (d: Buffer) => {
    const parts = (partial + String(d)).split('\n');
    partial = parts.pop()!;
    into.push(...parts.map((l) => l.trim()));
  });
}

/** Waits until `probe` resolves true (polls a condition an external program creates, e.g. a listening port). */
export async function waitFor(probe: () => Promise<boolean> | boolean, ms = 10000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Probes a TCP port on the virtual network with the C test client (connect only). */
export async function portOpen(network: string, address: string, port: number): Promise<boolean> {
  const r = await inNs(network, join(CTESTS, 'nc_probe'), [address, String(port)], { reject: false, timeout: 5000 });
  return r.exitCode === 0;
}

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

let nextPort = 20000 + Math.floor(Math.random() * 20000);
export function freePort(): number {
  nextPort += 1;
  return nextPort;
}

/** CPU seconds (user + system) used so far by the processes of process group `pgid` (inNs starts each program in its own). */
export function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // gone
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after the name: state(3) ppid(4) pgrp(5) … utime(14) stime(15)
    if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / 100; // USER_HZ
}

/** Kills a program started by inNs and everything it started. */
export function kill(p: ResultPromise | ChildProcess | undefined): void {
  if (!p?.pid) return;
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    try {
      p.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}
