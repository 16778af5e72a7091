// `npm run demo`, the README's first command, as a user runs it: it must finish within 60 s and prove the
// transfer (MD5 equal), leaving no service running and no temporary folder behind.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';

const ROOT = join(import.meta.dirname, '..', '..', '..');

test('npm run demo: root + controller and two members offline, python http.server to curl through the intercept', async (t) => {
  const t0 = Date.now();
  const r = await execa('npm', ['run', '--silent', 'demo'], {
    cwd: ROOT,
    reject: false,
    timeout: 120_000,
    env: { NETCON_NO_INSTALL: '1' },
  });
  const seconds = (Date.now() - t0) / 1000;
  t.log(r.stdout);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /curl fetched 10 MiB in [\d.]+ s \([\d.]+ MiB\/s\), MD5 equal/);
  t.regex(r.stdout, /done$/);
  t.true(seconds < 60, `the demo took ${seconds.toFixed(1)} s`);
  const dir = /working in (\S+)/.exec(r.stdout)?.[1];
  t.truthy(dir);
  t.false(existsSync(dir!), 'the temporary folder is removed');
});
