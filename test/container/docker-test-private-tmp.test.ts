// docker-test's namespace runner gives every "container" a private, empty /tmp (docker-test/lib/ns-runner.sh,
// ns_private_tmp). A checkout under /tmp (a clean clone in /tmp/…) must stay visible inside at its own path:
// a bare tmpfs on /tmp hid it, and every container of the run failed with "entrypoint.sh: No such file or
// directory" (NETCON_TEST_LOAD=2 ./test.sh on a clone in /tmp). The mount commands run here in a mount
// namespace of their own (root needed), from a stand-in checkout under /tmp, with the runner's own function.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { ROOT } from '../../tools/cluster.js';

const asRoot = process.getuid?.() === 0;
const reg = asRoot ? test : test.skip;
if (!asRoot) console.log('SKIPPED docker-test private /tmp: needs root (unshare --mount)');

reg('ns runner: a container’s /tmp is empty but for a checkout under /tmp, visible at its own path', async (t) => {
  const base = mkdtempSync('/tmp/netcon-privtmp-');
  const hold = mkdtempSync('/var/tmp/netcon-privtmp-');
  t.teardown(() => {
    rmSync(base, { recursive: true, force: true });
    rmSync(hold, { recursive: true, force: true });
  });
  const repo = join(base, 'clone');
  mkdirSync(join(repo, 'container'), { recursive: true });
  writeFileSync(join(repo, 'container', 'entrypoint.sh'), '#!/bin/sh\necho entrypoint ran\n');
  chmodSync(join(repo, 'container', 'entrypoint.sh'), 0o755);
  writeFileSync(join(base, 'secret-next-to-it'), 'host only');

  const script = `
    set -e
    . '${join(ROOT, 'docker-test', 'lib', 'ns-runner.sh')}'
    REPO='${repo}'
    cmd=$(ns_private_tmp '${hold}')
    unshare --mount --propagation private -- sh -c "$cmd && '${repo}/container/entrypoint.sh' && ls -A /tmp '${base}' && grep -c ' ${hold}/hosttmp' /proc/self/mountinfo || true"
  `;
  const r = await execa('bash', ['-c', script], { reject: false, all: true });
  t.log(r.all);
  t.is(r.exitCode, 0);
  const lines = r.stdout.split('\n');
  t.is(lines[0], 'entrypoint ran', 'the checkout’s entry point runs from its own path');
  // `ls -A /tmp DIR` prints "/tmp:", its entries, "", "DIR:", its entries: only the way to the checkout.
  t.deepEqual(lines.slice(1, 4), ['/tmp:', base.slice('/tmp/'.length), '']);
  t.deepEqual(lines.slice(4, 6), [`${base}:`, 'clone'], 'nothing else of the host’s /tmp is there');
  t.is(lines[6], '0', 'the host’s /tmp is let go once the checkout is mounted back');
});
