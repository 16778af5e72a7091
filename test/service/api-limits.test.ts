// The local API is bounded (service/daemon/api-limits.ts): a 401 closes the connection, bodies over the limit
// get 413, slow headers are cut off, and one user's connections are capped. A real service, raw sockets.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { bin, cli, freePort, waitFor } from '../../tools/cluster.js';

interface Svc {
  home: string;
  port: number;
  token: string;
}

async function startService(): Promise<Svc> {
  const home = join(mkdtempSync(join(tmpdir(), 'netcon-apilim-')), 'home');
  const port = await freePort();
  const r = await execa(bin('zerotier-netcon-service'), ['-d', `-p${port}`, home], { reject: false });
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return { home, port, token: readFileSync(join(home, 'authtoken.secret'), 'utf8').trim() };
}

async function stopService(s: Svc): Promise<void> {
  try {
    const pid = Number(readFileSync(join(s.home, 'zerotier-one.pid'), 'utf8'));
    process.kill(pid, 'SIGTERM');
    await waitFor('the service to exit', 10_000, async () => {
      try {
        process.kill(pid, 0);
        return undefined;
      } catch {
        return true;
      }
    });
  } catch {
    /* not running */
  }
  rmSync(join(s.home, '..'), { recursive: true, force: true });
}

/** A raw connection that records what it received and when it closed. */
function open(port: number): Promise<{ sock: Socket; data: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    const t0 = performance.now();
    const closed = new Promise<number>((r) => sock.once('close', () => r(performance.now() - t0)));
    sock.on('data', (d) => {
      text += d.toString('latin1');
    });
    sock.on('error', () => {});
    sock.once('connect', () => resolve({ sock, data: () => text, closed }));
    sock.once('error', reject);
  });
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([
    p,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: not within ${ms} ms`)), ms)),
  ]);

let svc: Svc;
test.before(async () => {
  svc = await startService();
});
test.after.always(async () => {
  if (svc) await stopService(svc);
});

test.serial('an unauthenticated request gets 401 and its connection is closed right after', async (t) => {
  const c = await open(svc.port);
  c.sock.write('GET /status HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  const ms = await within(c.closed, 3000, 'close after 401');
  t.regex(c.data(), /^HTTP\/1\.1 401 /);
  t.log(`closed ${ms.toFixed(0)} ms after connecting`);
  // With the token, the same keep-alive request keeps the connection open.
  const ok = await open(svc.port);
  ok.sock.write(`GET /status HTTP/1.1\r\nHost: x\r\nX-ZT1-Auth: ${svc.token}\r\n\r\n`);
  await waitFor('the 200', 5000, async () => (ok.data().includes('\r\n\r\n{') ? true : undefined));
  t.regex(ok.data(), /^HTTP\/1\.1 200 /);
  t.false(ok.sock.destroyed);
  ok.sock.destroy();
});

test.serial('a body over 1 MiB gets 413 (declared or streamed), not "invalid JSON"', async (t) => {
  // 10 MB declared: answered before the body is read.
  const big = await open(svc.port);
  big.sock.write(
    `POST /controller/network/0000000000______ HTTP/1.1\r\nHost: x\r\nX-ZT1-Auth: ${svc.token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n{"name":"`,
  );
  await within(big.closed, 5000, 'close after 413');
  t.regex(big.data(), /^HTTP\/1\.1 413 /);
  t.regex(big.data(), /larger than 1048576 bytes/);
  // Chunked, no length: counted while read.
  const chunked = await open(svc.port);
  chunked.sock.write(
    `POST /controller/network/0000000000______ HTTP/1.1\r\nHost: x\r\nX-ZT1-Auth: ${svc.token}\r\n` +
      'Transfer-Encoding: chunked\r\n\r\n',
  );
  const piece = Buffer.alloc(64 * 1024, 0x20);
  for (let i = 0; i < 20 && !chunked.sock.destroyed && !chunked.data(); i++)
    chunked.sock.write(`${piece.length.toString(16)}\r\n${piece.toString()}\r\n`);
  await within(chunked.closed, 5000, 'close after 413 (chunked)');
  t.regex(chunked.data(), /^HTTP\/1\.1 413 /);
  // Through fetch as a client would: a 10 MB body.
  const res = await fetch(`http://127.0.0.1:${svc.port}/controller/network/0000000000______`, {
    method: 'POST',
    headers: { 'X-ZT1-Auth': svc.token },
    body: `{"name":"${'x'.repeat(10 * 1024 * 1024)}"}`,
  }).catch((e: Error) => e);
  if (res instanceof Error) t.log(`fetch saw the connection close while sending (${res.message})`);
  else t.is(res.status, 413);
});

test.serial('headers that do not arrive within 5 s: the connection is closed', async (t) => {
  const c = await open(svc.port);
  c.sock.write('GET /status HTTP/1.1\r\nHost: x\r\n'); // never finished
  const ms = await within(c.closed, 15_000, 'close of a slow-header connection');
  t.log(`closed after ${ms.toFixed(0)} ms`);
  t.true(ms >= 4500, `closed too early (${ms} ms)`);
  t.true(ms < 9000, `closed too late (${ms} ms)`);
});

test.serial("one user's connections are capped: over 64 at once, the rest are closed at once", async (t) => {
  // The test runs as root or as the service's user: the owner's allowance (64) applies.
  const conns = await Promise.all(Array.from({ length: 100 }, () => open(svc.port)));
  for (const c of conns) c.sock.write('GET /status HTTP/1.1\r\n'); // partial headers, held open
  const early = await waitFor('the surplus to be closed', 5000, async () => {
    const n = conns.filter((c) => c.sock.destroyed || c.sock.readableEnded).length;
    return n >= 36 ? n : undefined;
  });
  await new Promise((r) => setImmediate(r));
  const closed = conns.filter((c) => c.sock.destroyed || c.sock.readableEnded).length;
  t.log(`100 connections: ${100 - closed} held, ${closed} closed`);
  t.is(early, 36);
  t.is(closed, 36, 'exactly the surplus over 64 is closed');
  for (const c of conns) c.sock.destroy();
  // Once they are gone, the CLI gets in.
  await waitFor('the CLI to answer', 10_000, async () =>
    (await cli(svc.home, 'info')).exitCode === 0 ? true : undefined,
  );
  t.pass();
});
