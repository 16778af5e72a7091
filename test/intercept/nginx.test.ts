// nginx with its default epoll, sendfile and two worker processes, preloaded in an empty network
// namespace, serving a 10 MiB file to curl on the other stack (IPv4 and IPv6).
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { ResultPromise } from 'execa';
import { A4, A6, inNs, kill, type NetconHost, portOpen, startHost, tmp, waitFor } from '../../testkit/intercept.js';

const PORT = 8081;
let host: NetconHost;
let server: ResultPromise;
let dir: string;
let md5: string;

test.before(async () => {
  dir = tmp('netcon-nginx-');
  const www = join(dir, 'www');
  mkdirSync(www);
  mkdirSync(join(dir, 'tmp'));
  const data = randomBytes(10 * 1024 * 1024);
  writeFileSync(join(www, 'file.bin'), data);
  writeFileSync(join(www, 'index.html'), 'hello from nginx\n');
  md5 = createHash('md5').update(data).digest('hex');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `user root;
worker_processes 2;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 512; use epoll; }
http {
  access_log ${dir}/access.log;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 30;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen ${PORT} reuseport backlog=128;
    listen [::]:${PORT};
    root ${www};
  }
}
`,
  );
  host = await startHost();
  server = inNs(host.a, '/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
    reject: false,
  });
  await waitFor(() => portOpen(host.b, A4, PORT), 15000, 'nginx');
});

test.after.always(async () => {
  kill(server);
  await host?.stop();
});

test('nginx (epoll, sendfile, 2 workers) → curl: 10 MiB, MD5 equal', async (t) => {
  const out = join(dir, 'out.bin');
  const r = await inNs(host.b, 'curl', ['-sS', '--max-time', '60', '-o', out, `http://${A4}:${PORT}/file.bin`], {
    reject: false,
  });
  t.is(r.exitCode, 0, String(r.stderr));
  t.is(createHash('md5').update(readFileSync(out)).digest('hex'), md5);
});

test('nginx → curl: IPv6 listener, keep-alive requests on one connection, many connections', async (t) => {
  const urls = Array.from({ length: 20 }, () => `http://[${A6}]:${PORT}/index.html`);
  const r = await inNs(host.b, 'curl', ['-sS', '--max-time', '60', ...urls], { reject: false });
  t.is(r.exitCode, 0, String(r.stderr));
  t.is(String(r.stdout).trim(), 'hello from nginx\n'.repeat(20).trim());
  const many = await Promise.all(
    Array.from({ length: 8 }, () =>
      inNs(host.b, 'curl', ['-sS', '--max-time', '60', `http://${A4}:${PORT}/index.html`], { reject: false }),
    ),
  );
  for (const m of many) t.is(String(m.stdout).trim(), 'hello from nginx');
  const log = readFileSync(join(dir, 'access.log'), 'utf8');
  t.regex(log, /10\.147\.17\.2 /, 'nginx saw the peer address');
  t.regex(log, /fd80::2 /, 'nginx saw the IPv6 peer address');
});
