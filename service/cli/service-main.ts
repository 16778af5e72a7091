// zerotier-netcon-service [-d] [-p<port>] [-U] [-v] [<home>]
// zerotier-netcon-service --nodes <hostdir> [-d] [-p<port>] [-v]   (one process, many nodes: host.ts)
import { fork } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { defaultHome, homeError } from '../daemon/home.js';
import { ServiceHost } from '../daemon/host.js';
import { type Logger, NETCON_VERSION, Service } from '../daemon/service.js';

const USAGE = `zerotier-netcon-service ${NETCON_VERSION.text} — ZeroTier Network Containers node
usage: zerotier-netcon-service [-d] [-p<port>] [-U] [-v] [<home>]
       zerotier-netcon-service --nodes <hostdir> [-d] [-p<port>] [-v]
  -d        detach: return once the node is up (logs go to <home>/netcon.log)
  -p<port>  UDP and local API port (default: local.conf primaryPort, else 9993)
  -U        accepted for compatibility (netcon never needs root, and never drops privileges)
  -v        debug logging
  -h        this help
  <home>    home folder (default /var/lib/zerotier-one if writable, else ~/.zerotier-netcon)
  --nodes <hostdir>
            host many nodes in one process: every folder <hostdir>/<name> is a node's home (started
            when it appears, stopped when it goes), all on one port, each with its own API token
`;

interface Args {
  /** --nodes: the host folder (host mode); `home` is then the same folder. */
  nodes: boolean;
  detach: boolean;
  port: number | undefined;
  verbose: boolean;
  home: string;
}

export function parseArgs(argv: string[]): Args | string {
  const a: Args = { nodes: false, detach: false, port: undefined, verbose: false, home: '' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--nodes' || arg.startsWith('--nodes=')) {
      if (a.nodes) return 'more than one --nodes given';
      const dir = arg === '--nodes' ? argv[++i] : arg.slice('--nodes='.length);
      if (!dir || dir.startsWith('-')) return '--nodes needs a host folder';
      if (a.home) return `--nodes ${dir} and a home folder (${a.home}) given: one or the other`;
      a.nodes = true;
      a.home = dir;
    } else if (arg === '-d') a.detach = true;
    else if (arg === '-U') continue;
    else if (arg === '-v') a.verbose = true;
    else if (arg === '-h' || arg === '--help') return '';
    else if (arg.startsWith('-p')) {
      const n = Number(arg.slice(2));
      if (!/^\d+$/.test(arg.slice(2)) || n < 0 || n > 65535) return `bad port in ${arg}`;
      a.port = n;
    } else if (arg.startsWith('-')) return `unknown option ${arg}`;
    else if (a.nodes) return `--nodes ${a.home} and a home folder (${arg}) given: one or the other`;
    else if (a.home) return `more than one home folder given (${a.home}, ${arg})`;
    else a.home = arg;
  }
  a.home ||= defaultHome();
  return a;
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    process.stderr.write(args ? `zerotier-netcon-service: ${args}\n${USAGE}` : USAGE);
    process.exit(args ? 1 : 0);
  }
  if (args.detach && process.send === undefined) return detach(argv, args.home, args.nodes);

  const log = pino(
    { level: args.verbose ? 'debug' : 'info', base: undefined },
    pino.destination(2), // a detached service's stderr is <home>/netcon.log
  );
  const logger: Logger = { info: (m) => log.info(m), warn: (m) => log.warn(m), debug: (m) => log.debug(m) };
  let service: { port: number; stop(): Promise<void> };
  try {
    service = args.nodes
      ? await ServiceHost.start({ dir: args.home, port: args.port, log: logger })
      : await Service.start({ home: args.home, port: args.port, log: logger });
  } catch (e) {
    const msg = (e as Error).message;
    process.stderr.write(`zerotier-netcon-service: ${msg}\n`);
    process.send?.({ error: msg });
    process.exit(1);
  }
  process.send?.({ up: true, port: service.port });
  process.disconnect?.();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await service.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/**
 * V8 flags the service runs with: `bin/zerotier-netcon-service.js` passes them on its first line, and a
 * detached service gets them whatever node started it. A young generation of 8 MB a half: V8 keeps it at
 * 1 MB under a member's allocation pattern, which scavenged every 30-100 ms during a ping-pong, a pause
 * of 0.15-0.7 ms each; at 8 MB it scavenges 8 times less often. Over four paired runs of vl2-latency its p99
 * was 248-291 µs against 317-451 µs, for 8.5 MB more resident memory (79 → 87 MB).
 */
export const SERVICE_NODE_FLAGS = ['--min-semi-space-size=8'];

/** `execArgv` with each of SERVICE_NODE_FLAGS its caller did not set itself. */
export function withServiceFlags(execArgv: string[]): string[] {
  const named = (f: string) => f.split('=')[0]!;
  const missing = SERVICE_NODE_FLAGS.filter((f) => !execArgv.some((a) => named(a) === named(f)));
  return [...execArgv, ...missing];
}

/** Starts the service in the background and returns once it reports up (or failed). */
async function detach(argv: string[], home: string, host: boolean): Promise<void> {
  const script = fileURLToPath(new URL('../../../bin/zerotier-netcon-service.js', import.meta.url));
  const { mkdirSync } = await import('node:fs');
  let out: number;
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    out = openSync(join(home, 'netcon.log'), 'a', 0o600);
  } catch (e) {
    const msg = homeError(home, e).message;
    process.stderr.write(`zerotier-netcon-service: ${host ? msg.replace('home folder', 'host folder') : msg}\n`);
    process.exit(1);
  }
  const child = fork(
    script,
    argv.filter((a) => a !== '-d'),
    { detached: true, stdio: ['ignore', out, out, 'ipc'], execArgv: withServiceFlags(process.execArgv) },
  );
  const result = await new Promise<{ up?: boolean; error?: string }>((resolve) => {
    child.once('message', (m) => resolve(m as { up?: boolean; error?: string }));
    child.once('exit', (code) => resolve({ error: `exited with status ${code}` }));
  });
  if (result.error) {
    process.stderr.write(`zerotier-netcon-service: ${result.error}\n`);
    process.exit(1);
  }
  child.disconnect();
  child.unref();
  process.exit(0);
}
