// `npm run demo`, the README's first command, as a user runs it: it must prove the transfer (MD5 equal) and
// leave no service running and no temporary folder behind. How long it takes is logged, not asserted (about
// 30 s on a quiet machine, twice that with the machine busy): speed belongs to the benchmarks; the 120 s
// timeout still catches a demo that hangs.
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
  t.log(`the demo took ${seconds.toFixed(1)} s`);
  t.log(r.stdout);
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /curl fetched 10 MiB in [\d.]+ s \([\d.]+ MiB\/s\), MD5 equal/);
  t.regex(r.stdout, /done$/);
  const dir = /working in (\S+)/.exec(r.stdout)?.[1];
  t.truthy(dir);
  t.false(existsSync(dir!), 'the temporary folder is removed');
});
