// A node http server and a node http client (libuv: non-blocking connect, epoll, SO_ERROR), each
// preloaded in an empty network namespace, IPv4 and IPv6.
import test from 'ava';
import type { ResultPromise } from 'execa';
import { A4, A6, inNs, kill, type NetconHost, portOpen, startHost, waitFor } from '../../testkit/intercept.js';

const PORT = 8082;
let host: NetconHost;
let server: ResultPromise;

const SERVER = `
const http = require('http');
const big = Buffer.alloc(4 * 1024 * 1024, 7);
http.createServer((q, r) => {
  if (q.url === '/big') return r.end(big);
  let body = '';
  q.on('data', (d) => (body += d));
  q.on('end', () => r.end('hi ' + q.socket.remoteAddress + ' ' + q.socket.localPort + ' ' + body.length));
}).listen(${PORT});`;

const CLIENT = `
const http = require('http');
const get = (url, body) => new Promise((res, rej) => {
  const q = http.request(url, { method: body ? 'POST' : 'GET' }, (r) => {
    let n = 0, text = '';
    r.on('data', (d) => { n += d.length; if (n < 1000) text += d; });
    r.on('end', () => res(url.endsWith('/big') ? String(n) : text));
  });
  q.on('error', rej);
  q.end(body);
});
(async () => {
  console.log(await get('http://${A4}:${PORT}/'));
  console.log(await get('http://[${A6}]:${PORT}/'));
  console.log(await get('http://${A4}:${PORT}/post', 'x'.repeat(100000)));
  console.log(await get('http://${A4}:${PORT}/big'));
})().catch((e) => { console.error(e); process.exit(1); });`;

test.before(async () => {
  host = await startHost();
  server = inNs(host.a, process.execPath, ['-e', SERVER], { reject: false });
  await waitFor(() => portOpen(host.b, A4, PORT), 15000, 'node http server');
});

test.after.always(async () => {
  kill(server);
  await host?.stop();
});

test('node http server ↔ node http client (IPv4, IPv6, POST body, 4 MiB response)', async (t) => {
  const r = await inNs(host.b, process.execPath, ['-e', CLIENT], { reject: false, timeout: 60000 });
  t.is(r.exitCode, 0, String(r.stderr));
  t.deepEqual(String(r.stdout).split('\n'), [
    `hi ::ffff:10.147.17.2 ${PORT} 0`,
    `hi fd80::2 ${PORT} 0`,
    `hi ::ffff:10.147.17.2 ${PORT} 100000`,
    String(4 * 1024 * 1024),
  ]);
});
