// The service restarted under long-running servers: killed (SIGKILL), the servers' listeners are parked
// by the library, so nothing spins (each server's CPU over a window starting 1 s after the kill, from
// /proc/<pid>/stat); started again on the same folder, the library re-creates every listener in place
// (same address and port, same fd, epoll registrations made again), so each server serves again without
// its own help, the same process. Measured: CPU after the kill, time from the restart to the first answer.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import type { ResultPromise } from 'execa';
import {
  A4,
  freePort,
  groupCpuSeconds,
  inNs,
  kill,
  type NetconHost,
  startHost,
  tmp,
  waitFor,
} from '../helpers/intercept.js';

const CPU_WINDOW_MS = 3000;

interface App {
  name: string;
  start(host: NetconHost, dir: string, port: number): ResultPromise;
  /** One request from member B; true if answered as expected. */
  probe(host: NetconHost, port: number): Promise<boolean>;
}

const httpProbe = async (host: NetconHost, port: number, expect: string) => {
  const r = await inNs(host.b, 'curl', ['-sS', '--max-time', '2', `http://${A4}:${port}/`], {
    reject: false,
    timeout: 5000,
  });
  return r.exitCode === 0 && String(r.stdout).includes(expect);
};

const NODE_SERVER = `
const http = require('http');
http.createServer((q, r) => r.end('hello from node\\n')).listen(Number(process.argv[1]), '0.0.0.0');`;

const APPS: App[] = [
  {
    name: 'python3 -m http.server',
    start: (host, dir, port) => {
      writeFileSync(join(dir, 'index.html'), 'hello from python\n');
      return inNs(host.a, '/usr/bin/python3', ['-m', 'http.server', '-d', dir, String(port)], {
        reject: false,
        stdout: 'ignore',
        stderr: 'ignore',
      });
    },
    probe: (host, port) => httpProbe(host, port, 'hello from python'),
  },
  {
    name: 'node http',
    start: (host, _dir, port) => inNs(host.a, process.execPath, ['-e', NODE_SERVER, String(port)], { reject: false }),
    probe: (host, port) => httpProbe(host, port, 'hello from node'),
  },
  {
    name: 'nginx (epoll, 2 workers)',
    start: (host, dir, port) => {
      mkdirSync(join(dir, 'tmp'), { recursive: true });
      writeFileSync(join(dir, 'index.html'), 'hello from nginx\n');
      writeFileSync(
        join(dir, 'nginx.conf'),
        `user root;
worker_processes 2;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; use epoll; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server { listen ${port}; root ${dir}; }
}
`,
      );
      return inNs(host.a, '/usr/sbin/nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
        reject: false,
      });
    },
    probe: (host, port) => httpProbe(host, port, 'hello from nginx'),
  },
  {
    name: 'redis-server',
    start: (host, dir, port) =>
      inNs(
        host.a,
        '/usr/bin/redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '0.0.0.0',
          '--save',
          '',
          '--appendonly',
          'no',
          '--protected-mode',
          'no',
          '--dir',
          dir,
        ],
        { reject: false, stdout: 'ignore' },
      ),
    probe: async (host, port) => {
      const r = await inNs(host.b, '/usr/bin/redis-cli', ['-h', A4, '-p', String(port), 'PING'], {
        reject: false,
        timeout: 5000,
      });
      return String(r.stdout).trim() === 'PONG';
    },
  },
];

for (const app of APPS) {
  test.serial(`${app.name}: no spinning while the service is down, serving again after its restart`, async (t) => {
    const home = tmp('netcon-restart-');
    const dir = tmp('netcon-app-');
    const port = freePort();
    let host = await startHost(undefined, home);
    const server = app.start(host, dir, port);
    t.teardown(async () => {
      kill(server);
      await host.stop();
    });
    await waitFor(() => app.probe(host, port), 15000, app.name);

    await host.crash();
    const killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    const cpu0 = groupCpuSeconds(server.pid!);
    await new Promise((r) => setTimeout(r, CPU_WINDOW_MS));
    const cpu = (groupCpuSeconds(server.pid!) - cpu0) / (CPU_WINDOW_MS / 1000);
    t.true(server.exitCode === null, `${app.name} exited when its service was killed`);
    t.true(cpu < 0.01, `${app.name} used ${(cpu * 100).toFixed(1)} % CPU from 1 s after the kill`);

    host = await startHost(undefined, home);
    const restartedAt = Date.now();
    await waitFor(() => app.probe(host, port), 5000, `${app.name} to serve again`);
    const reattach = Date.now() - restartedAt;
    t.true(server.exitCode === null, `${app.name} is the same process`);
    t.log(
      `${app.name}: CPU ${(cpu * 100).toFixed(2)} % (1-${1 + CPU_WINDOW_MS / 1000} s after the kill); serving again ${reattach} ms after the restart (${Date.now() - killedAt} ms after the kill)`,
    );
    // and it keeps serving
    t.true(await app.probe(host, port));
  });
}
