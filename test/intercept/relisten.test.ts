// A server that closes its listener and listens again on the same port with SO_REUSEADDR while its last
// connection is still closing (iperf3 -s does this after every test): the new listener must bind, as on
// Linux, and take the next client. python3 on both sides, preloaded on the two stacks.
import test from 'ava';
import { A4, inNs, type NetconHost, startHost } from '../helpers/intercept.js';

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
  server.all?.on('data', (d: Buffer) => lines.push(...String(d).trim().split('\n')));
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
