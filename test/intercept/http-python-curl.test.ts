// python3 -m http.server serving a 10 MiB random file to curl, both preloaded, each in its own
// empty network namespace, across the two stacks of a netcon host.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import {
  A4,
  A6,
  inNs,
  kill,
  LIB,
  type NetconHost,
  portOpen,
  startHost,
  tmp,
  waitFor,
} from '../../testkit/intercept.js';

const PY = '/usr/bin/python3';
const PORT = 8080;
let host: NetconHost;
let server: ResultPromise;
let dir: string;
let md5: string;

test.before(async () => {
  dir = tmp('netcon-www-');
  const data = randomBytes(10 * 1024 * 1024);
  writeFileSync(join(dir, 'file.bin'), data);
  md5 = createHash('md5').update(data).digest('hex');
  host = await startHost();
  server = inNs(host.a, PY, ['-m', 'http.server', String(PORT)], { cwd: dir, reject: false });
  await waitFor(() => portOpen(host.b, A4, PORT), 15000, 'python http.server');
});

test.after.always(async () => {
  kill(server);
  await host?.stop();
});

function md5File(path: string): string {
  return createHash('md5').update(readFileSync(path)).digest('hex');
}

test('python http.server → curl: 10 MiB over IPv4, MD5 equal', async (t) => {
  const out = join(dir, 'out4.bin');
  const r = await inNs(host.b, 'curl', ['-sS', '--max-time', '60', '-o', out, `http://${A4}:${PORT}/file.bin`], {
    reject: false,
  });
  t.is(r.exitCode, 0, String(r.stderr));
  t.is(md5File(out), md5);
});

test('python http.server → curl: IPv6 HTTP fetch, MD5 equal', async (t) => {
  const out = join(dir, 'out6.bin');
  const r = await inNs(host.b, 'curl', ['-sS', '--max-time', '60', '-o', out, `http://[${A6}]:${PORT}/file.bin`], {
    reject: false,
  });
  t.is(r.exitCode, 0, String(r.stderr));
  t.is(md5File(out), md5);
});

test('python http.server → curl: several fetches in parallel', async (t) => {
  const runs = [0, 1, 2, 3].map((i) =>
    inNs(host.b, 'curl', ['-sS', '--max-time', '60', '-o', join(dir, `par${i}.bin`), `http://${A4}:${PORT}/file.bin`], {
      reject: false,
    }),
  );
  for (const [i, r] of (await Promise.all(runs)).entries()) {
    t.is(r.exitCode, 0, String(r.stderr));
    t.is(md5File(join(dir, `par${i}.bin`)), md5);
  }
});

test('python http.server and curl without ZT_NC_NETWORK behave as without the library', async (t) => {
  // Both preloaded but not configured: the kernel's loopback in a private namespace carries the fetch.
  const script = `ip link set lo up; ${PY} -m http.server 8099 --bind 127.0.0.1 >/dev/null 2>&1 & S=$!;
    for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:8099/ && break; sleep 0.1; done;
    curl -sS -o ${join(dir, 'plain.bin')} http://127.0.0.1:8099/file.bin; r=$?; kill $S; exit $r`;
  const r = await execa('unshare', ['-n', '--', 'sh', '-c', script], {
    cwd: dir,
    env: { LD_PRELOAD: LIB },
    reject: false,
  });
  t.is(r.exitCode, 0, String(r.stderr));
  t.is(md5File(join(dir, 'plain.bin')), md5);
});
