// What a client's connection costs in requests to the service (RPC.md): socket() sends SOCKET without
// waiting for its answer, connect() follows at once naming ID_LAST (one wait for both answers), and the
// EOF of an orderly close is told apart from a reset without asking. The accepting side asks nothing per
// connection, and the service makes three epoll_ctl calls for it. Real programs under the preload; the
// servers and lwIP stacks run in this process so their counters can be read.
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { pollSetStats } from '../../native/poller.js';
import { RpcServer } from '../../netcon/server.js';
import { A4, CTESTS, freePort, kill, preloadEnv, tmp, waitFor } from '../../testkit/intercept.js';
import { lwipPair } from '../../testkit/lwip-pair.js';
import { HOST_A, HOST_B } from '../../testkit/netcon-host.js';

const CONNECTIONS = 50;

test('a client connection costs two requests and one wait; accepting costs none', async (t) => {
  const dir = tmp('conncost-');
  const [a, b, closeStacks] = lwipPair(HOST_A, HOST_B);
  const sa = new RpcServer(join(dir, 'nc_a'), a);
  const sb = new RpcServer(join(dir, 'nc_b'), b);
  sa.start();
  sb.start();
  const port = freePort();
  const server = execa(join(CTESTS, 'nc_connbench'), ['server', '0.0.0.0', String(port)], {
    env: preloadEnv(sa.path),
    reject: false,
    buffer: false,
  });
  t.teardown(() => {
    kill(server);
    sa.close();
    sb.close();
    closeStacks();
  });
  let ready = false;
  server.stdout?.once('data', () => {
    ready = true;
  });
  await waitFor(() => ready, 10000, 'the server to listen');
  const serverSetup = sa.stats.requests; // socket, setsockopt, bind, listen
  const ctlBefore = pollSetStats.ctl;
  const client = await execa(
    join(CTESTS, 'nc_connbench'),
    ['client', A4, String(port), '0', '1', String(CONNECTIONS)],
    { env: preloadEnv(sb.path), reject: false, all: true, timeout: 60000 },
  );
  t.is(client.exitCode, 0, String(client.all));
  t.regex(String(client.stdout), new RegExp(`^connections ${CONNECTIONS} `));
  t.is(sb.stats.requests, 2 * CONNECTIONS, 'SOCKET and CONNECT, nothing at EOF');
  t.is(sb.stats.pipelined, CONNECTIONS, 'every CONNECT went before the SOCKET answer was read');
  t.is(sa.stats.requests, serverSetup, 'accept() and close() ask nothing');
  t.is(sb.stats.badRequests + sa.stats.badRequests, 0);
  // the client's pair (an end the app sent: added, and removed before its close) and the accepted pair
  // (an end only the service has: added, and left by its close alone); 4 when every close removed first
  const ctl = (pollSetStats.ctl - ctlBefore) / CONNECTIONS;
  t.true(ctl <= 3.1, `epoll_ctl calls per connection: ${ctl}`);
});
