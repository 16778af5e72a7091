// A "netcon host" for tests and benchmarks: two stacks joined by an in-memory link in one process,
// each serving its own RPC socket (<dir>/nc_a for 10.147.17.1 / fd80::1, <dir>/nc_b for
// 10.147.17.2 / fd80::2). Run as a child process:
//   node dist/testkit/netcon-host.js <dir> [mem|lwip]
// prints one JSON line {"ready":true,...} and serves until SIGTERM/SIGINT or stdin closes.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetBackend } from '../netcon/backend.js';
import { MemNet } from '../netcon/mem-net.js';
import { RpcServer } from '../netcon/server.js';
import type { IpAssignment } from '../netcon/stack-types.js';

export const HOST_A: IpAssignment[] = [
  { address: '10.147.17.1', prefix: 24 },
  { address: 'fd80::1', prefix: 64 },
];
export const HOST_B: IpAssignment[] = [
  { address: '10.147.17.2', prefix: 24 },
  { address: 'fd80::2', prefix: 64 },
];

export async function makeBackends(kind: string): Promise<[NetBackend, NetBackend, () => void]> {
  if (kind === 'lwip') {
    const m = await import('./lwip-pair.js');
    return m.lwipPair(HOST_A, HOST_B);
  }
  const net = new MemNet();
  return [net.addHost(HOST_A), net.addHost(HOST_B), () => {}];
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  const kind = process.argv[3] ?? 'lwip';
  if (!dir) throw new Error('usage: netcon-host <dir> [mem|lwip]');
  mkdirSync(dir, { recursive: true });
  const [a, b, closeBackends] = await makeBackends(kind);
  const sa = new RpcServer(join(dir, 'nc_a'), a);
  const sb = new RpcServer(join(dir, 'nc_b'), b);
  sa.start();
  sb.start();
  const stop = () => {
    sa.close();
    sb.close();
    closeBackends();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ ready: true, a: sa.path, b: sb.path, kind })}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((e) => {
    process.stderr.write(`netcon-host: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
