// zerotier-netcon run --isolate: the program runs in a new network namespace (and a user namespace when
// not root), so a static binary that calls socket/connect through syscall(2), past the library, reaches
// the host without --isolate and finds no network with it; the intercepted path keeps working.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { isolateArgs } from '../../service/cli/netcon.js';
import { bin, type Cluster, startCluster } from '../../tools/cluster.js';

// Connects to 127.0.0.1:<port> with raw system calls (no libc socket functions: the library never sees them).
const RAW_CONNECT = `
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long s = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
  if (s < 0) { printf("socket errno %d\\n", errno); return 2; }
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)atoi(argv[1]));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (syscall(SYS_connect, s, &a, sizeof(a)) < 0) { printf("connect errno %d\\n", errno); return 2; }
  printf("connected\\n");
  return 0;
}`;

let dir: string;
let rawConnect: string;
let cluster: Cluster;
let listener: Server;
let port: number;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'netcon-isolate-'));
  writeFileSync(join(dir, 'raw-connect.c'), RAW_CONNECT);
  rawConnect = join(dir, 'raw-connect');
  execFileSync('gcc', ['-static', '-O1', '-o', rawConnect, join(dir, 'raw-connect.c')]);
  chmodSync(dir, 0o755); // nobody runs it too
  // a listener on the host's loopback, in the test's own namespace
  listener = createServer((c) => c.end());
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  port = (listener.address() as { port: number }).port;
  cluster = await startCluster(['A']);
});

test.after.always(async () => {
  listener?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const run = (extra: string[], command: string[]) =>
  execa(bin('zerotier-netcon'), ['run', `-D${cluster.members[0]!.home}`, ...extra, cluster.nwid, '--', ...command], {
    reject: false,
    all: true,
    timeout: 30000,
  });

test.serial(
  'without --isolate a static binary making raw syscalls reaches a host listener (the gap --isolate closes)',
  async (t) => {
    const r = await run([], [rawConnect, String(port)]);
    t.is(r.exitCode, 0, String(r.all));
    t.regex(String(r.stdout), /connected/);
  },
);

test.serial('with --isolate the same binary finds no network', async (t) => {
  const r = await run(['--isolate'], [rawConnect, String(port)]);
  t.is(r.exitCode, 2, String(r.all));
  t.regex(String(r.stdout), /connect errno 101/); // ENETUNREACH: no interface is up
});

test.serial(
  'with --isolate the intercepted path still works: TCP to the member itself through the service',
  async (t) => {
    const ip = cluster.members[0]!.ip;
    const py = `
import socket
srv = socket.socket(); srv.bind(('0.0.0.0', 0)); srv.listen(1)
c = socket.create_connection(('${ip}', srv.getsockname()[1]), timeout=10)
s, peer = srv.accept(); c.sendall(b'isolated'); print(s.recv(100).decode(), peer[0])`;
    const r = await run(['--isolate'], ['python3', '-c', py]);
    t.is(r.exitCode, 0, String(r.all));
    t.is(String(r.stdout).trim(), `isolated ${ip}`);
  },
);

test.serial(
  'the unprivileged form (a user namespace mapping the user to itself) isolates a non-root user too',
  async (t) => {
    t.deepEqual(isolateArgs(0), ['--net']);
    const args = isolateArgs(65534);
    t.true(args.includes('--user') && args.includes('--net'));
    // as nobody: the same unshare arguments the CLI uses, then the raw-syscall binary
    const r = await execa(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', ...args, '--', rawConnect, String(port)],
      {
        reject: false,
        all: true,
      },
    );
    t.is(r.exitCode, 2, String(r.all));
    t.regex(String(r.stdout), /connect errno 101/);
    const plain = await execa(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', rawConnect, String(port)],
      {
        reject: false,
      },
    );
    t.is(plain.exitCode, 0, String(plain.stdout));
  },
);

test.serial('--isolate is refused for wait and bad usage exits non-zero', async (t) => {
  const r = await execa(bin('zerotier-netcon'), ['wait', '--isolate', cluster.nwid], { reject: false });
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /usage/);
});
