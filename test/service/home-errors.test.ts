// An unusable home folder is one line naming the path and exit 1, with -d and without: a file, /proc/1, a folder
// the (non-root) user may not write. The last runs as a user made for the test and removed after.
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { bin, freePort } from '../../tools/cluster.js';

const base = mkdtempSync(join(tmpdir(), 'netcon-home-err-'));
chmodSync(base, 0o755);
test.after.always(() => rmSync(base, { recursive: true, force: true }));

async function expectOneLine(t: import('ava').ExecutionContext, home: string, cmd: string[] = []) {
  for (const detach of [true, false]) {
    const args = [...(detach ? ['-d'] : []), `-p${await freePort()}`, home];
    const r = await execa(
      cmd[0] ?? bin('zerotier-netcon-service'),
      [...cmd.slice(1), ...(cmd.length ? [bin('zerotier-netcon-service')] : []), ...args],
      {
        reject: false,
        timeout: 30_000,
      },
    );
    const label = `${detach ? '-d ' : ''}${home}`;
    t.is(r.exitCode, 1, label);
    const lines = r.stderr.split('\n').filter((l) => l.length > 0);
    t.is(lines.length, 1, `${label}: ${r.stderr}`);
    t.true(lines[0]!.startsWith(`zerotier-netcon-service: cannot use home folder ${home}: `), `${label}: ${r.stderr}`);
    t.notRegex(r.stderr, /^\s+at /m, 'no stack trace');
    t.log(lines[0]);
  }
}

test('a file as home', async (t) => {
  const file = join(base, 'a-file');
  writeFileSync(file, 'x');
  await expectOneLine(t, file);
  await expectOneLine(t, join(file, 'below'));
});

test('/proc/1 as home', async (t) => {
  await expectOneLine(t, '/proc/1');
});

test('a folder the user may not write (as a non-root user made for the test)', async (t) => {
  if (process.getuid?.() !== 0) return t.pass('needs root to create a user; skipped');
  const user = `nchome${process.pid}`;
  await execa('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', user]);
  t.teardown(() => execa('userdel', [user], { reject: false }).then(() => undefined));
  const locked = join(base, 'root-owned');
  await execa('mkdir', ['-m', '0755', locked]);
  await expectOneLine(t, locked, ['runuser', '-u', user, '--']);
  await expectOneLine(t, join(locked, 'sub'), ['runuser', '-u', user, '--']);
});

test('odd entries in networks.d are logged by path and skipped; the real network joins', async (t) => {
  const home = join(base, 'odd-networks');
  const nd = join(home, 'networks.d');
  await execa('mkdir', ['-p', join(nd, '0123456789abcdef.conf')]); // a folder
  symlinkSync('/etc/hostname', join(nd, '1111111111111111.conf'));
  writeFileSync(join(nd, 'nonsense.conf'), '\n');
  writeFileSync(join(nd, '12345.conf'), '\n');
  writeFileSync(join(nd, '2222222222222222.conf'), '\n');
  const port = await freePort();
  const r = await execa(bin('zerotier-netcon-service'), ['-d', `-p${port}`, home], { reject: false });
  t.is(r.exitCode, 0, r.stderr);
  t.teardown(() => {
    try {
      process.kill(Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8')), 'SIGTERM');
    } catch {
      /* gone */
    }
  });
  const log = readFileSync(join(home, 'netcon.log'), 'utf8');
  for (const [name, why] of [
    ['0123456789abcdef.conf', 'not a regular file'],
    ['1111111111111111.conf', 'a symbolic link'],
    ['nonsense.conf', 'not named <network ID>.conf'],
    ['12345.conf', 'not named <network ID>.conf'],
  ])
    t.true(log.includes(`${join(nd, name)}: ${why}; skipped`), `${name}: ${log}`);
  const nets = await execa(bin('zerotier-cli'), [`-D${home}`, 'listnetworks']);
  const rows = nets.stdout.split('\n').slice(1);
  t.is(rows.length, 1, nets.stdout);
  t.true(rows[0]!.includes('2222222222222222'), nets.stdout);
});
