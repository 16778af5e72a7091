// A program's sockets fail cleanly (EOF/EPIPE, ENETDOWN for new ones, never a hang) when the
// service stops.
import { join } from 'node:path';
import test from 'ava';
import { A4, B4, CTESTS, inNs, kill, startHost } from '../../testkit/intercept.js';

test('service stop: open sockets see EOF and EPIPE, new sockets fail with ENETDOWN', async (t) => {
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
