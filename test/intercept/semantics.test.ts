// Socket semantics under the preload, each checked by intercept/tests/nc_sem.c running inside an
// empty network namespace on stack B, against echo servers (nc_echo) on stack A.
import { join } from 'node:path';
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import { A4, B4, CTESTS, inNs, kill, LIB, type NetconHost, preloadEnv, startHost } from '../../testkit/intercept.js';

const TPORT = 7000;
const UPORT = 7001;
const OWN_TPORT = 7010;
const OWN_UPORT = 7011;
let host: NetconHost;
const servers: ResultPromise[] = [];

async function startEcho(kind: string, port: number, on: 'a' | 'b' = 'a'): Promise<void> {
  const p = inNs(host[on], join(CTESTS, 'nc_echo'), [kind, '0.0.0.0', String(port)], {
    buffer: false,
    reject: false,
  });
  servers.push(p);
  await new Promise<void>((resolve, reject) => {
    p.stdout?.once('data', () => resolve());
    p.catch(reject);
  });
}

test.before(async () => {
  host = await startHost();
  await startEcho('tcp', TPORT);
  await startEcho('udp', UPORT);
  // The same servers on the program's own member: its connections to its own address never enter lwIP
  // (the socket table joins the two apps in memory, netcon/mem-net.ts), and pass the same cases.
  await startEcho('tcp', OWN_TPORT, 'b');
  await startEcho('udp', OWN_UPORT, 'b');
});

test.after.always(async () => {
  for (const s of servers) kill(s);
  await host?.stop();
});

async function sem(name: string, extraEnv: Record<string, string> = {}, peer = A4) {
  const [tport, uport] = peer === B4 ? [OWN_TPORT, OWN_UPORT] : [TPORT, UPORT];
  return inNs(host.b, join(CTESTS, 'nc_sem'), [name, peer, String(tport), String(uport), B4], {
    reject: false,
    timeout: 30000,
    env: extraEnv,
  });
}

const cases: [string, string][] = [
  [
    'socket_flags',
    'socket(): AF_INET/AF_INET6 STREAM/DGRAM honour SOCK_NONBLOCK/SOCK_CLOEXEC; AF_UNIX, AF_NETLINK pass through',
  ],
  ['bind', 'bind(): specific address, wildcard, port 0, EADDRINUSE, EADDRNOTAVAIL, SO_REUSEPORT'],
  ['listen_accept', 'listen/accept/accept4: flags, peer address, listening fd readable when a connection waits'],
  ['connect_refused', 'blocking connect(): ECONNREFUSED and ENETUNREACH'],
  ['connect_nonblock', 'non-blocking connect(): EINPROGRESS, POLLOUT, SO_ERROR, getpeername'],
  ['sockopts', 'setsockopt/getsockopt: options servers use succeed and read back'],
  ['shutdown', 'shutdown(SHUT_WR) half-closes (FIN) and the echo still arrives'],
  ['close', 'close() from another thread ends the connection; SO_LINGER 0 resets'],
  ['udp', 'UDP: sendto/recvfrom/sendmsg/recvmsg with addresses, boundaries, truncation, connected UDP'],
  ['udp_read', 'UDP read()/readv() on an unconnected socket return the payload only'],
  ['udp_mmsg', 'recvmmsg/sendmmsg on netcon UDP sockets'],
  [
    'udp_recv_chk',
    'fortified recv/recvfrom (__recv_chk, __recvfrom_chk) on netcon UDP sockets return the payload and the source',
  ],
  ['dup', 'dup/dup2/dup3/F_DUPFD share the socket'],
  ['fork', 'fork(): parent and child share the socket; the child opens its own sockets'],
  ['exec', 'exec(): an inherited socket stays usable (as sshd re-executes itself)'],
  ['own_fds', "the library's own fds survive a program closing every fd"],
  [
    'fresh',
    "a socket used before its SOCKET answer is read: through a dup, in a forked or exec'ed child, from another thread, after 40 others, after setsockopt",
  ],
  ['localhost', '127.0.0.1 and ::1 reach the network stack of the program itself'],
];

for (const [name, title] of cases) {
  test(`semantics: ${title}`, async (t) => {
    const r = await sem(name);
    t.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    t.regex(String(r.stdout), new RegExp(`^ok ${name}$`, 'm'));
  });
  test(`semantics, peer on the program's own address (in-memory loopback): ${title}`, async (t) => {
    const r = await sem(name, {}, B4);
    t.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    t.regex(String(r.stdout), new RegExp(`^ok ${name}$`, 'm'));
  });
}

test('semantics: isolation by default, ZT_NC_FALLTHROUGH=1 uses the host stack outside the network', async (t) => {
  // A kernel listener on 192.0.2.1 (outside the virtual network) inside the test's own namespace.
  const script = `ip addr add 192.0.2.1/32 dev lo; ip link set lo up;
    F=$(mktemp); env -u LD_PRELOAD -u ZT_NC_NETWORK ${join(CTESTS, 'nc_echo')} tcp 192.0.2.1 ${TPORT} >$F & E=$!;
    until [ -s $F ]; do sleep 0.01; done; rm -f $F;
    ${join(CTESTS, 'nc_sem')} connect_expect_fail 192.0.2.1 ${TPORT} ${UPORT} ${B4} &&
    ZT_NC_FALLTHROUGH=1 ${join(CTESTS, 'nc_sem')} connect_host 192.0.2.1 ${TPORT} ${UPORT} ${B4}; r=$?; kill $E; exit $r`;
  const r = await execa('unshare', ['-n', '--', 'sh', '-c', script], {
    env: preloadEnv(host.b),
    reject: false,
    timeout: 20000,
  });
  t.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  t.regex(r.stdout, /ok connect_expect_fail/);
  t.regex(r.stdout, /ok connect_host/);
});

const UDP_OUT = `
import socket, sys
def echo(connect):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    try:
        if connect:
            s.connect(('192.0.2.1', ${UPORT})); s.send(b'out')
        else:
            s.sendto(b'out', ('192.0.2.1', ${UPORT}))
        return s.recvfrom(100)[0].decode()
    except OSError as e:
        return 'errno %s' % (e.errno,)
print(echo(False), echo(True))`;

test('semantics: UDP outside the network: dropped / ENETUNREACH by default, the host stack with ZT_NC_FALLTHROUGH=1', async (t) => {
  // A kernel UDP echo server on 192.0.2.1 (outside the virtual network) inside the test's own namespace.
  const script = `ip addr add 192.0.2.1/32 dev lo; ip link set lo up;
    F=$(mktemp); env -u LD_PRELOAD -u ZT_NC_NETWORK ${join(CTESTS, 'nc_echo')} udp 192.0.2.1 ${UPORT} >$F & E=$!;
    until [ -s $F ]; do sleep 0.01; done; rm -f $F;
    python3 -c "$0"; ZT_NC_FALLTHROUGH=1 python3 -c "$0"; r=$?; kill $E; exit $r`;
  const r = await execa('unshare', ['-n', '--', 'sh', '-c', script, UDP_OUT], {
    env: preloadEnv(host.b),
    reject: false,
    timeout: 20000,
  });
  t.is(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  // errno None: socket.timeout (dropped); 101: ENETUNREACH from connect()
  t.deepEqual(String(r.stdout).trim().split('\n'), ['errno None errno 101', 'out out']);
});

test('semantics: without ZT_NC_NETWORK the library is inert (kernel sockets)', async (t) => {
  const r = await execa(
    'unshare',
    ['-n', '--', join(CTESTS, 'nc_sem'), 'inert', A4, String(TPORT), String(UPORT), B4],
    {
      env: { LD_PRELOAD: LIB },
      reject: false,
    },
  );
  t.is(r.exitCode, 0, r.stdout);
});
