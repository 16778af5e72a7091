// A program's sockets fail cleanly (EOF/EPIPE, ENETDOWN for new ones, never a hang) when the
// service stops.
import { join } from 'node:path';
import test from 'ava';
import {
  A4,
  B4,
  CTESTS,
  collectLines,
  freePort,
  groupCpuSeconds,
  inNs,
  kill,
  startHost,
  waitFor,
} from '../../testkit/intercept.js';

test('service stop: open connections see ECONNRESET and EPIPE, new sockets fail with ENETDOWN', async (t) => {
  const host = await startHost();
  const echo = inNs(host.a, join(CTESTS, 'nc_echo'), ['tcp', '0.0.0.0', '7100'], {
    buffer: false,
    reject: false,
  });
  try {
    await new Promise<void>((resolve) => echo.stdout?.once('data', () => resolve()));
    const client = inNs(host.b, join(CTESTS, 'nc_sem'), ['service_stop', A4, '7100', '7101', B4], {
      reject: false,
      timeout: 20000,
      stdin: 'pipe',
    });
    await new Promise<void>((resolve) => client.stdout?.once('data', () => resolve()));
    await host.stop();
    client.stdin?.write('go\n');
    const r = await client;
    t.is(r.exitCode, 0, String(r.stdout));
    t.regex(String(r.stdout), /ok service_stop/);
  } finally {
    kill(echo);
    await host.stop();
  }
});

const UDP_SERVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', int(sys.argv[1])))
print('bound', flush=True)
while True:
    try:
        s.recvfrom(2000)
    except OSError as e:
        print('recv error', e.errno, flush=True)
        try:
            s.sendto(b'x', ('${B4}', 9))
        except OSError as e2:
            print('send error', e2.errno, flush=True)`;

test('service killed: a UDP server gets ENETDOWN once, then waits without spinning', async (t) => {
  const host = await startHost();
  const server = inNs(host.a, '/usr/bin/python3', ['-c', UDP_SERVER, String(freePort())], { reject: false });
  const out: string[] = [];
  collectLines(server.stdout, out);
  try {
    await waitFor(() => out.includes('bound'), 10000, 'the UDP server');
    await host.crash();
    await waitFor(() => out.includes('send error 100'), 5000, 'ENETDOWN');
    t.deepEqual(out, ['bound', 'recv error 100', 'send error 100']); // ENETDOWN, once
    await new Promise((r) => setTimeout(r, 500));
    const c0 = groupCpuSeconds(server.pid!);
    await new Promise((r) => setTimeout(r, 2000));
    const cpu = (groupCpuSeconds(server.pid!) - c0) / 2;
    t.true(cpu < 0.01, `${(cpu * 100).toFixed(1)} % CPU`);
    t.is(out.length, 3, out.join(' | '));
  } finally {
    kill(server);
    await host.stop();
  }
});
