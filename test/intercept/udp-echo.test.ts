// A UDP echo server and client (python3: recvfrom/sendto, connected send/recv), preloaded on the
// two stacks, IPv4 and IPv6.
import test from 'ava';
import type { ResultPromise } from 'execa';
import { A4, A6, inNs, kill, type NetconHost, startHost } from '../../testkit/intercept.js';

const PY = '/usr/bin/python3';
let host: NetconHost;
const servers: ResultPromise[] = [];

const SERVER = (family: string, addr: string, port: number) => `
import socket, sys
s = socket.socket(socket.${family}, socket.SOCK_DGRAM)
s.bind(('${addr}', ${port}))
print('ready', flush=True)
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data.upper(), peer)`;

const CLIENT = (family: string, addr: string, port: number) => `
import socket
s = socket.socket(socket.${family}, socket.SOCK_DGRAM)
s.settimeout(5)
for size in (1, 512, 1400, 8000, 60000):
    msg = (b'echo-' * 20000)[:size]
    s.sendto(msg, ('${addr}', ${port}))
    data, peer = s.recvfrom(65535)
    assert data == msg.upper(), (size, len(data))
    assert peer[0] == '${addr}' and peer[1] == ${port}, peer
c = socket.socket(socket.${family}, socket.SOCK_DGRAM)
c.settimeout(5)
c.connect(('${addr}', ${port}))
c.send(b'connected')
assert c.recv(100) == b'CONNECTED'
print('ok', s.getsockname()[1] > 0)`;

test.before(async () => {
  host = await startHost();
  for (const [fam, addr, port] of [
    ['AF_INET', '0.0.0.0', 5300],
    ['AF_INET6', '::', 5301],
  ] as const) {
    const p = inNs(host.a, PY, ['-c', SERVER(fam, addr, port)], { reject: false, buffer: false });
    servers.push(p);
    await new Promise<void>((resolve) => p.stdout?.once('data', () => resolve()));
  }
});

test.after.always(async () => {
  for (const s of servers) kill(s);
  await host?.stop();
});

test('UDP echo server and client (python3), IPv4: sizes up to 60000, addresses, connected UDP', async (t) => {
  const r = await inNs(host.b, PY, ['-c', CLIENT('AF_INET', A4, 5300)], { reject: false, timeout: 30000 });
  t.is(r.exitCode, 0, String(r.stderr));
  t.is(String(r.stdout).trim(), 'ok True');
});

test('UDP echo server and client (python3), IPv6', async (t) => {
  const r = await inNs(host.b, PY, ['-c', CLIENT('AF_INET6', A6, 5301)], { reject: false, timeout: 30000 });
  t.is(r.exitCode, 0, String(r.stderr));
  t.is(String(r.stdout).trim(), 'ok True');
});
