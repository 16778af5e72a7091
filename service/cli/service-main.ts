// zerotier-netcon-service [-d] [-p<port>] [-U] [-v] [<home>]
import { fork } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { defaultHome, homeError } from '../daemon/home.js';
import { type Logger, NETCON_VERSION, Service } from '../daemon/service.js';

const USAGE = `zerotier-netcon-service ${NETCON_VERSION.text} — ZeroTier Network Containers node
usage: zerotier-netcon-service [-d] [-p<port>] [-U] [-v] [<home>]
  -d        detach: return once the node is up (logs go to <home>/netcon.log)
  -p<port>  UDP and local API port (default: local.conf primaryPort, else 9993)
  -U        accepted for compatibility (netcon never needs root, and never drops privileges)
  -v        debug logging
  -h        this help
  <home>    home folder (default /var/lib/zerotier-one if writable, else ~/.zerotier-netcon)
`;

interface Args {
  detach: boolean;
  port: number | undefined;
  verbose: boolean;
  home: string;
}

export function parseArgs(argv: string[]): Args | string {
  const a: Args = { detach: false, port: undefined, verbose: false, home: '' };
  for (const arg of argv) {
    if (arg === '-d') a.detach = true;
    else if (arg === '-U') continue;
    else if (arg === '-v') a.verbose = true;
    else if (arg === '-h' || arg === '--help') return '';
    else if (arg.startsWith('-p')) {
      const n = Number(arg.slice(2));
      if (!/^\d+$/.test(arg.slice(2)) || n < 0 || n > 65535) return `bad port in ${arg}`;
      a.port = n;
    } else if (arg.startsWith('-')) return `unknown option ${arg}`;
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
  if (args.detach && process.send === undefined) return detach(argv, args.home);

  const log = pino(
    { level: args.verbose ? 'debug' : 'info', base: undefined },
    pino.destination(2), // a detached service's stderr is <home>/netcon.log
  );
  const logger: Logger = { info: (m) => log.info(m), warn: (m) => log.warn(m), debug: (m) => log.debug(m) };
  let service: Service;
  try {
    service = await Service.start({ home: args.home, port: args.port, log: logger });
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

/** Starts the service in the background and returns once it reports up (or failed). */
async function detach(argv: string[], home: string): Promise<void> {
  const script = fileURLToPath(new URL('../../../bin/zerotier-netcon-service.js', import.meta.url));
  const { mkdirSync } = await import('node:fs');
  let out: number;
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    out = openSync(join(home, 'netcon.log'), 'a', 0o600);
  } catch (e) {
    process.stderr.write(`zerotier-netcon-service: ${homeError(home, e).message}\n`);
    process.exit(1);
  }
  const child = fork(
    script,
    argv.filter((a) => a !== '-d'),
    { detached: true, stdio: ['ignore', out, out, 'ipc'] },
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
