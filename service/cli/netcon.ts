// zerotier-netcon: run an unmodified program on a network of the local service.
//   zerotier-netcon run  [-D<home>] [-p<port>] [-t<seconds>] [--isolate] <nwid> -- <command> [args…]
//   zerotier-netcon wait [-D<home>] [-p<port>] [-t<seconds>] <nwid>
// Both wait until the network is OK with an address, also while the service is still starting (a progress
// line while waiting, a clear error naming the network's status on timeout). `run` then becomes the command
// (execvp) with LD_PRELOAD and ZT_NC_NETWORK set; `wait` prints the network's socket path and addresses.
// `run --isolate` starts the command in a new network namespace (and a new user namespace unless run as
// root) through util-linux's unshare, so what bypasses the library (static binaries, raw syscalls, Go,
// io_uring) finds no network at all; the library still reaches the service through its Unix socket.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { nativePart } from '../../native/index.js';
import { defaultHome } from '../daemon/home.js';
import { ApiClientError, type ApiTarget, apiCall } from './api-client.js';

// `run` becomes the program (execvp), so that the program keeps this process's PID: signals from a supervisor,
// a terminal or `kill` reach it directly, its exit status is the caller's, and no Node process stays behind.
interface ExecPart {
  execvp(file: string, argv: string[], env: string[]): { errno: number; message: string };
}

const USAGE = `usage: zerotier-netcon run  [-D<home>] [-p<port>] [-t<seconds>] [--isolate] <nwid> -- <command> [args...]
       zerotier-netcon wait [-D<home>] [-p<port>] [-t<seconds>] <nwid>
  -D<home>     the service's home folder (default /var/lib/zerotier-one if writable, else ~/.zerotier-netcon)
  -p<port>     the service's port (default: from <home>/zerotier-one.port)
  -t<seconds>  how long to wait for the network (default 60)
  --isolate    run the command in a new network namespace (plus a user namespace unless root), so that
               what bypasses the library (static binaries, raw syscalls) finds no network
`;

/**
 * The unshare(1) arguments that isolate a command run by `uid`: root needs no user namespace (and one
 * would stop servers that switch users: only root would be mapped); anyone else gets a user namespace
 * mapping them to themselves, which is what lets them make a network namespace.
 */
export function isolateArgs(uid: number): string[] {
  return uid === 0 ? ['--net'] : ['--user', '--map-current-user', '--net'];
}

/** Null if isolation works here, else why not (unshare's own message). */
export function isolateProblem(uid: number): string | null {
  const r = spawnSync('unshare', [...isolateArgs(uid), '--', 'true'], { encoding: 'utf8' });
  if (r.error) return `cannot run unshare (util-linux): ${r.error.message}`;
  if (r.status !== 0) return (r.stderr || `unshare exited ${r.status}`).trim();
  return null;
}

interface NetworkJson {
  status: string;
  assignedAddresses: string[];
  portDeviceName: string;
}

/** The intercept library: at the package root after ./build.sh. */
export function interceptLibrary(): string {
  for (const rel of ['../../../libzerotierintercept.so', '../../../intercept/build/libzerotierintercept.so']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('libzerotierintercept.so not found: run ./build.sh');
}

async function waitReady(
  target: ApiTarget,
  nwid: string,
  seconds: number,
  progress: (s: string) => void,
): Promise<NetworkJson> {
  const until = Date.now() + seconds * 1000;
  let last = 'not joined';
  let lastPrinted = 0;
  for (;;) {
    // A service that is still starting (no token yet, not listening yet) is waited for like a network.
    const r = await apiCall(target, 'GET', `/network/${nwid}`).catch((e: unknown) => {
      if (e instanceof ApiClientError && e.notAnswering) return { status: 0, json: undefined, why: e.message };
      throw e;
    });
    if ('why' in r) last = r.why;
    else if (r.status === 200) {
      const n = r.json as NetworkJson;
      if (n.status === 'OK' && n.assignedAddresses.length > 0) return n;
      last = n.status === 'OK' ? 'OK, waiting for an address' : n.status;
    } else if (r.status === 404) last = 'not joined (zerotier-cli join it, or add networks.d/<nwid>.conf)';
    if (Date.now() >= until) throw new ApiClientError(`network ${nwid} not ready after ${seconds} s: ${last}`);
    if (Date.now() - lastPrinted >= 2000) {
      progress(`zerotier-netcon: waiting for network ${nwid}: ${last}\n`);
      lastPrinted = Date.now();
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const err = (s: string) => process.stderr.write(s);
  const [verb, ...rest] = argv;
  const target: ApiTarget = { home: '' };
  let seconds = 60;
  let isolate = false;
  let nwid: string | undefined;
  let command: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--') {
      command = rest.slice(i + 1);
      break;
    }
    if (a === '--isolate' && verb === 'run') isolate = true;
    else if (a.startsWith('-D')) target.home = a.slice(2);
    else if (a.startsWith('-p') && /^\d+$/.test(a.slice(2))) target.port = Number(a.slice(2));
    else if (a.startsWith('-t') && /^\d+$/.test(a.slice(2))) seconds = Number(a.slice(2));
    else if (!a.startsWith('-') && nwid === undefined) nwid = a;
    else {
      err(`zerotier-netcon: unexpected argument ${a}\n${USAGE}`);
      process.exit(1);
    }
  }
  if (
    (verb !== 'run' && verb !== 'wait') ||
    !nwid ||
    (verb === 'run' && command.length === 0) ||
    (verb === 'wait' && command.length > 0)
  ) {
    err(USAGE);
    process.exit(1);
  }
  if (!/^[0-9a-fA-F]{16}$/.test(nwid)) {
    err(`zerotier-netcon: ${nwid} is not a network ID (16 hex digits)\n`);
    process.exit(1);
  }
  target.home ||= defaultHome();
  const uid = process.getuid?.() ?? 0;
  if (isolate) {
    const problem = isolateProblem(uid);
    if (problem) {
      err(
        `zerotier-netcon: --isolate needs ${uid === 0 ? 'network' : 'user'} namespaces, which this system refuses (${problem}); run without --isolate, or allow them (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)\n`,
      );
      process.exit(1);
    }
  }
  let net: NetworkJson;
  try {
    net = await waitReady(target, nwid.toLowerCase(), seconds, err);
  } catch (e) {
    err(`zerotier-netcon: ${(e as Error).message}\n`);
    process.exit(1);
  }
  if (verb === 'wait') {
    process.stdout.write(`${net.portDeviceName} ${net.assignedAddresses.join(',')}\n`);
    return;
  }
  const lib = interceptLibrary();
  const preload = [lib, ...(process.env.LD_PRELOAD ? [process.env.LD_PRELOAD] : [])].join(':');
  const [file, ...args] = isolate ? ['unshare', ...isolateArgs(uid), '--', ...command] : command;
  const env = { ...process.env, LD_PRELOAD: preload, ZT_NC_NETWORK: net.portDeviceName };
  // Returns only when the program could not be started.
  const e = (nativePart('exec') as ExecPart).execvp(
    file!,
    [file!, ...args],
    Object.entries(env).map(([k, v]) => `${k}=${v}`),
  );
  err(`zerotier-netcon: cannot run ${file}: ${e.message}\n`);
  // As a shell says it: 127 for a program that is not there, 126 for one that cannot be executed.
  const { ENOENT, ENOTDIR } = constants.errno;
  process.exit(e.errno === ENOENT || e.errno === ENOTDIR ? 127 : 126);
}
