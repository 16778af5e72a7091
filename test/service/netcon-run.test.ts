// zerotier-netcon run becomes the program (exec, as env(1) and nsenter(1) do) once the network is ready: the
// program keeps the wrapper's PID, so a supervisor's SIGKILL or SIGTERM reaches it and nothing is orphaned;
// its exit status, its death by a signal included, is the caller's to see; and it starts with default signal
// dispositions, no blocked signals and blocking stdio, as a program started by a shell does, whatever Node
// did to them in the wrapper.
import { constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { bin, type Cluster, startCluster, waitFor } from '../../tools/cluster.js';

let cluster: Cluster;
test.before(async () => {
  cluster = await startCluster(['A']);
});
test.after.always(async () => {
  await cluster?.stop();
});

const run = (command: string[]) =>
  execa(bin('zerotier-netcon'), ['run', `-D${cluster.members[0]!.home}`, cluster.nwid, '--', ...command], {
    reject: false,
  });

test('the program takes the wrapper’s place: same PID, a SIGKILL to it leaves nothing running', async (t) => {
  const app = run(['sh', '-c', 'echo "pid $$"; exec sleep 600']);
  t.teardown(() => app.kill('SIGKILL'));
  const pid = app.pid!;
  const seen = await new Promise<number>((resolve, reject) => {
    app.stdout?.on('data', (d) => {
      const m = /pid (\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    });
    void app.then((r) => reject(new Error(`the program ended without printing its PID: ${r.stderr}`)));
  });
  t.is(seen, pid, 'the program runs as the process that was started');
  // Once sleep has replaced sh, the process is sleep: nothing else of the wrapper is left.
  await waitFor('the program to exec sleep', 10_000, async () => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep' ? true : undefined;
    } catch {
      return undefined;
    }
  });
  app.kill('SIGKILL');
  const r = await app;
  t.is(r.signal, 'SIGKILL');
  t.false(existsSync(`/proc/${pid}`), 'no process is left with that PID');
});

test('exit status and death by a signal reach the caller unchanged', async (t) => {
  t.is((await run(['sh', '-c', 'exit 7'])).exitCode, 7);
  const killed = await run(['sh', '-c', 'kill -TERM $$']);
  t.is(killed.signal, 'SIGTERM', `exit code ${killed.exitCode}`);
});

test('the program starts as from a shell: default signals, none blocked, blocking stdio', async (t) => {
  // sh ignores and blocks nothing itself (python, for one, ignores SIGPIPE and SIGXFSZ).
  const probe = [
    'sh',
    '-c',
    'grep -E "^Sig(Ign|Blk)" /proc/$$/status | tr -d "\t"; for fd in 0 1 2; do grep ^flags /proc/$$/fdinfo/$fd; done',
  ];
  // The same probe started directly by this test (libuv resets what a child inherits) is the reference.
  const direct = await execa(probe[0]!, probe.slice(1), { reject: false });
  const wrapped = await run(probe);
  t.is(wrapped.exitCode, 0, wrapped.stderr);
  t.is(wrapped.stdout, direct.stdout);
  t.regex(wrapped.stdout, /^SigIgn:0+$/m);
  t.regex(wrapped.stdout, /^SigBlk:0+$/m);
  const flags = [...wrapped.stdout.matchAll(/^flags:\s*([0-7]+)$/gm)].map((m) => Number.parseInt(m[1]!, 8));
  t.is(flags.length, 3);
  t.deepEqual(
    flags.map((f) => (f & constants.O_NONBLOCK) !== 0),
    [false, false, false],
  );
});

test('a program that cannot be run: 127 when not found, 126 when not executable, with the reason', async (t) => {
  const missing = await run(['/nonexistent/program']);
  t.is(missing.exitCode, 127);
  t.regex(missing.stderr, /zerotier-netcon: cannot run \/nonexistent\/program: No such file or directory/);
  const dir = mkdtempSync(join(tmpdir(), 'netcon-run-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const plain = join(dir, 'not-a-program');
  writeFileSync(plain, 'just text\n', { mode: 0o644 });
  const notExec = await run([plain]);
  t.is(notExec.exitCode, 126);
  t.true(notExec.stderr.includes(`zerotier-netcon: cannot run ${plain}: Permission denied`), notExec.stderr);
});
