// docker-test's free_port (docker-test/lib/common.sh) hands out host ports for the services of a run's containers
// (with --network host they share the host's ports). Called as $(free_port), its note of the ports handed out
// was lost with the subshell, so two draws could give the same port: a suite's app and monitor both got 23487
// (httpd-prefork.trixie under NETCON_TEST_LOAD=2: the monitor's service failed with EADDRINUSE, its wait got
// the app's 401). 300 draws in one run, as the runner makes them, must all differ (the old way: 7 repeats).
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { ROOT } from '../../tools/cluster.js';

test('free_port: 300 ports drawn in one run are distinct, below the ephemeral range', async (t) => {
  const script = `
    . '${join(ROOT, 'docker-test', 'lib', 'common.sh')}'
    for i in $(seq 300); do free_port port || exit 1; echo "$port"; done
  `;
  const r = await execa('bash', ['-c', script], { reject: false });
  t.is(r.exitCode, 0, r.stderr);
  const ports = r.stdout.split('\n').map(Number);
  t.is(ports.length, 300);
  t.true(
    ports.every((p) => Number.isInteger(p) && p >= 20000 && p < 32000),
    'every port in 20000-31999',
  );
  t.is(new Set(ports).size, 300, 'no port handed out twice');
});

// The hosted runner still called $(free_port) after free_port took a variable name: under `set -u` the call
// failed, the host service got no port (it took 9993) and every monitor's service then failed with EADDRINUSE.
test('free_port: every docker-test script passes a variable name, none calls $(free_port); no name fails loudly', async (t) => {
  const r = await execa('grep', ['-rnE', '^[^#]*\\$\\(\\s*free_port', join(ROOT, 'docker-test'), '--include=*.sh'], {
    reject: false,
  });
  t.is(r.exitCode, 1, `$(free_port) calls left:\n${r.stdout}`);
  const bare = await execa('bash', ['-c', `. '${join(ROOT, 'docker-test', 'lib', 'common.sh')}'; free_port`], {
    reject: false,
  });
  t.not(bare.exitCode, 0);
  t.regex(bare.stderr, /free_port VAR/);
});
