// Every socket an intercepted program opens is accounted for: ICMP echo datagram sockets (what an
// unprivileged `ping` from Debian's iputils opens) are served by the network's stack, to members, to the
// stack's own addresses and to loopback, with real round-trip times; raw sockets, AF_PACKET and the
// AF_INET/AF_INET6 types and protocols the stack does not serve are refused with Linux's errno for an
// unprivileged user (unless ZT_NC_FALLTHROUGH=1); MPTCP sockets are served as TCP.
// Programs run in empty network namespaces: without the library nothing answers there.
import test from 'ava';
import { A4, A6, B4, B6, inNs, type NetconHost, startHost } from '../helpers/intercept.js';

const PING = '/usr/bin/ping';
const PY = '/usr/bin/python3';
let host: NetconHost;

test.before(async () => {
  host = await startHost();
});
test.after.always(async () => {
  await host?.stop();
});

/** Runs ping from member A; returns the round-trip times it printed (ms) and its output. */
async function ping(args: string[]): Promise<{ rtts: number[]; out: string; code: number | undefined }> {
  const r = await inNs(host.a, PING, ['-n', '-c', '3', '-i', '0.2', '-W', '2', ...args], {
    reject: false,
    all: true,
    timeout: 20000,
  });
  const out = String(r.all);
  const rtts = [...out.matchAll(/icmp_seq=\d+ .*time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return { rtts, out, code: r.exitCode };
}

for (const [what, args] of [
  ['a member over the network (IPv4)', [B4]],
  ['the stack itself (IPv4)', [A4]],
  ['loopback (IPv4)', ['127.0.0.1']],
  ['a member over the network (IPv6)', ['-6', B6]],
  ['the stack itself (IPv6)', ['-6', A6]],
  ['loopback (IPv6)', ['-6', '::1']],
] as const) {
  test.serial(`ping ${what}: three echo replies with real round-trip times`, async (t) => {
    const r = await ping([...args]);
    t.is(r.code, 0, r.out);
    t.regex(r.out, /3 packets transmitted, 3 received/, r.out);
    t.is(r.rtts.length, 3, r.out);
    for (const rtt of r.rtts) t.true(rtt > 0 && rtt < 500, `rtt ${rtt} ms: ${r.out}`);
    t.notRegex(r.out, /BAD CHECKSUM|DUP!|wrong data/, r.out);
    t.log(`ping ${args.join(' ')}: ${r.rtts.join(' / ')} ms`);
  });
}

test.serial('ping with a 1400-byte payload: the payload comes back intact', async (t) => {
  const r = await ping(['-s', '1400', B4]);
  t.regex(r.out, /3 received/, r.out);
  t.regex(r.out, /1408 bytes from 10\.147\.17\.2/, r.out);
  t.notRegex(r.out, /wrong data|BAD CHECKSUM/, r.out);
});

test.serial('ping to a destination outside the network: unreachable, nothing reaches the host', async (t) => {
  const r = await ping(['192.0.2.1']);
  t.not(r.code, 0);
  t.regex(r.out, /Network is unreachable/, r.out);
});

const SOCKETS = `
import socket, sys
def tryit(*args):
    try:
        s = socket.socket(*args)
        return 'open proto=%d' % s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
    except OSError as e:
        return 'errno %d' % e.errno
A, A6 = socket.AF_INET, socket.AF_INET6
print('raw4', tryit(A, socket.SOCK_RAW, socket.IPPROTO_ICMP))
print('raw6', tryit(A6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6))
print('packet', tryit(socket.AF_PACKET, socket.SOCK_RAW, 0))
print('seqpacket', tryit(A, socket.SOCK_SEQPACKET, 0))
print('sctp', tryit(A, socket.SOCK_STREAM, 132))
print('udplite', tryit(A, socket.SOCK_DGRAM, 136))
print('icmp-on-v6', tryit(A6, socket.SOCK_DGRAM, socket.IPPROTO_ICMP))
print('icmp4', tryit(A, socket.SOCK_DGRAM, socket.IPPROTO_ICMP))
print('icmp6', tryit(A6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6))
print('mptcp', tryit(A, socket.SOCK_STREAM, 262))
`;

function parse(out: string): Record<string, string> {
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]),
  );
}

test.serial('raw, packet and unserved sockets are refused with the errno of an unprivileged user', async (t) => {
  // the test runs as root: the kernel itself would hand out every one of these
  const r = await inNs(host.a, PY, ['-c', SOCKETS], { reject: false, all: true });
  t.is(r.exitCode, 0, String(r.all));
  t.deepEqual(parse(String(r.stdout)), {
    raw4: 'errno 1', // EPERM
    raw6: 'errno 1',
    packet: 'errno 1',
    seqpacket: 'errno 94', // ESOCKTNOSUPPORT
    sctp: 'errno 93', // EPROTONOSUPPORT
    udplite: 'errno 93',
    'icmp-on-v6': 'errno 93',
    icmp4: 'open proto=1',
    icmp6: 'open proto=58',
    mptcp: 'open proto=262',
  });
});

test.serial('ZT_NC_FALLTHROUGH=1: the sockets the stack does not serve come from the host', async (t) => {
  const r = await inNs(host.a, PY, ['-c', SOCKETS], {
    reject: false,
    all: true,
    env: { ZT_NC_FALLTHROUGH: '1' },
  });
  t.is(r.exitCode, 0, String(r.all));
  const got = parse(String(r.stdout));
  t.is(got.raw4, 'open proto=1');
  t.is(got.packet, 'open proto=0');
  t.is(got.icmp4, 'open proto=1'); // still ours
});

const MPTCP = `
import socket
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
srv.bind(('0.0.0.0', 0)); srv.listen(1)
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
c.connect(('${A4}', srv.getsockname()[1]))
s, _ = srv.accept()
c.sendall(b'mptcp as tcp'); print(s.recv(100).decode())
`;

test.serial('an MPTCP socket is served as TCP on the network', async (t) => {
  const r = await inNs(host.a, PY, ['-c', MPTCP], { reject: false, all: true });
  t.is(String(r.stdout).trim(), 'mptcp as tcp', String(r.all));
});
