// Ports taken again with SO_REUSEADDR while the last connection on them is still closing, as on Linux: a
// server that closes its listener and listens again (iperf3 -s does this after every test), and a client
// that binds the same local port again while its last connection is in TIME_WAIT. python3 on both sides,
// preloaded on the two stacks.
import test from 'ava';
import { A4, collectLines, inNs, type NetconHost, startHost } from '../../testkit/intercept.js';

const PY = '/usr/bin/python3';
let host: NetconHost;

const SERVER = `
import socket
def listen():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', 5210))
    s.listen(5)
    return s
for round in range(3):
    s = listen()
    print('listening', round, flush=True)
    c, _ = s.accept()
    c.sendall(c.recv(100).upper())
    c.close()  # the server closes first: this connection lingers (FIN_WAIT, TIME_WAIT) on port 5210
    s.close()
print('done', flush=True)`;

const CLIENT = `
import socket, sys
s = socket.create_connection(('${A4}', 5210), timeout=5)
s.sendall(b'round %s' % sys.argv[1].encode())
print(s.recv(100).decode())
s.close()`;

test.before(async () => {
  host = await startHost();
});
test.after.always(async () => {
  await host?.stop();
});

test('a server closing its listener and listening again on the port (SO_REUSEADDR, iperf3 -s between tests)', async (t) => {
  const server = inNs(host.a, PY, ['-c', SERVER], { reject: false, all: true });
  const lines: string[] = [];
  collectLines(server.all, lines);
  const waitFor = async (line: string) => {
    for (let i = 0; i < 100 && !lines.includes(line); i++) await new Promise((r) => setTimeout(r, 50));
    t.true(lines.includes(line), `server: ${lines.join(' | ')}`);
  };
  for (let round = 0; round < 3; round++) {
    await waitFor(`listening ${round}`);
    const c = await inNs(host.b, PY, ['-c', CLIENT, String(round)], { reject: false, all: true });
    t.is(String(c.stdout).trim(), `ROUND ${round}`, String(c.all));
  }
  await waitFor('done');
  const r = await server;
  t.is(r.exitCode, 0, String(r.all));
});

const ECHO2 = `
import socket, threading
def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', port))
    s.listen(5)
    c, _ = s.accept()
    c.sendall(c.recv(100).upper())
    c.recv(100)  # until the client closes (it closes first)
    c.close()
ts = [threading.Thread(target=serve, args=(p,)) for p in (5211, 5212)]
for t in ts: t.start()
print('listening', flush=True)
for t in ts: t.join()`;

const BOUND_CLIENT = `
import socket
for port in (5211, 5212):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', 40123))  # the same local port both times
    s.settimeout(5)
    s.connect(('${A4}', port))
    s.sendall(b'to %d' % port)
    print(s.recv(100).decode(), flush=True)
    s.close()  # the client closes first: 40123 stays in TIME_WAIT on its side`;

test('a client binding the same local port again (SO_REUSEADDR) while its last connection is in TIME_WAIT', async (t) => {
  const server = inNs(host.a, PY, ['-c', ECHO2], { reject: false, all: true });
  let out = '';
  server.all?.on('data', (d: Buffer) => {
    out += String(d);
  });
  for (let i = 0; i < 100 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
  const c = await inNs(host.b, PY, ['-c', BOUND_CLIENT], { reject: false, all: true });
  t.is(String(c.stdout).trim(), 'TO 5211\nTO 5212', String(c.all));
  const r = await server;
  t.is(r.exitCode, 0, String(r.all));
});
