// A peer's RST reaches the app as ECONNRESET, as the kernel's TCP reports it: the service remembers how
// a connection ended and the library asks at EOF (RPC.md). Measured with real programs: python's recv
// raises ConnectionResetError, curl says "Connection reset by peer". The peer aborts with SO_LINGER 0.
import test from 'ava';
import { A4, freePort, inNs, kill, type NetconHost, startHost } from '../helpers/intercept.js';

const PY = '/usr/bin/python3';
let host: NetconHost;

test.before(async () => {
  host = await startHost();
});
test.after.always(async () => {
  await host?.stop();
});

// Accepts connections; reads a request, then aborts the connection (RST) instead of answering.
const ABORTER = `
import socket, struct, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('0.0.0.0', int(sys.argv[1]))); srv.listen(8)
print('listening', flush=True)
while True:
    c, _ = srv.accept()
    c.recv(1000)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    c.close()`;

async function withAborter(t: { teardown(f: () => void): void }): Promise<number> {
  const port = freePort();
  const server = inNs(host.a, PY, ['-c', ABORTER, String(port)], { reject: false });
  t.teardown(() => kill(server));
  await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
  return port;
}

test('python: recv after the peer reset the connection raises ConnectionResetError (ECONNRESET)', async (t) => {
  const port = await withAborter(t);
  const client = `
import socket, errno
c = socket.create_connection(('${A4}', ${port}), timeout=10)
c.sendall(b'hello')
try:
    d = c.recv(100)
    print('eof' if d == b'' else 'data')
except ConnectionResetError as e:
    print('reset', e.errno)`;
  const r = await inNs(host.b, PY, ['-c', client], { reject: false, all: true, timeout: 20000 });
  t.is(String(r.stdout).trim(), 'reset 104', String(r.all));
});

test('curl: "Connection reset by peer" when the server resets', async (t) => {
  const port = await withAborter(t);
  const r = await inNs(host.b, 'curl', ['-sS', '--max-time', '10', `http://${A4}:${port}/`], {
    reject: false,
    all: true,
  });
  t.is(r.exitCode, 56, String(r.all)); // CURLE_RECV_ERROR
  t.regex(String(r.stderr), /Connection reset by peer/);
});

test('an orderly close is still EOF, not a reset', async (t) => {
  const port = freePort();
  const server = inNs(
    host.a,
    PY,
    [
      '-c',
      `import socket
srv = socket.socket(); srv.bind(('0.0.0.0', ${port})); srv.listen(1); print('listening', flush=True)
c, _ = srv.accept(); c.sendall(b'bye'); c.close()`,
    ],
    { reject: false },
  );
  t.teardown(() => kill(server));
  await new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
  const client = `
import socket
c = socket.create_connection(('${A4}', ${port}), timeout=10)
got = b''
while True:
    d = c.recv(100)
    if not d: break
    got += d
print(got.decode(), 'eof')`;
  const r = await inNs(host.b, PY, ['-c', client], { reject: false, all: true, timeout: 20000 });
  t.is(String(r.stdout).trim(), 'bye eof', String(r.all));
});
