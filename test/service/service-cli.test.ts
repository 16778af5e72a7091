// The service and zerotier-cli as users run them: real processes, a real home folder, the real API.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';

const root = join(import.meta.dirname, '..', '..', '..');
const service = join(root, 'zerotier-netcon-service');
const cli = join(root, 'zerotier-cli');
const freshHome = () => mkdtempSync(join(tmpdir(), 'netcon-svc-'));
let nextPort = 21000 + Math.floor(Math.random() * 20000);

async function startDetached(home: string) {
  const port = nextPort++;
  const r = await execa(service, ['-d', `-p${port}`, home], { reject: false });
  return { port, r };
}

async function stop(home: string) {
  try {
    const pid = Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8'));
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        return;
      }
    }
  } catch {
    /* not running */
  }
}

test('first start creates the home folder with safe modes; info and listpeers answer; identity survives restarts', async (t) => {
  const home = join(freshHome(), 'home');
  t.teardown(async () => {
    await stop(home);
    rmSync(home, { recursive: true, force: true });
  });
  const { r } = await startDetached(home);
  t.is(r.exitCode, 0, r.stderr);
  t.is(statSync(home).mode & 0o777, 0o700);
  t.is(statSync(join(home, 'identity.secret')).mode & 0o777, 0o600);
  t.is(statSync(join(home, 'authtoken.secret')).mode & 0o777, 0o600);
  const id = readFileSync(join(home, 'identity.public'), 'utf8');
  const info = await execa(cli, [`-D${home}`, 'info']);
  t.regex(info.stdout, new RegExp(`^200 info ${id.slice(0, 10)} 0\\.1\\.0 (ONLINE|OFFLINE)$`));
  const j = JSON.parse((await execa(cli, [`-D${home}`, '-j', 'info'])).stdout) as Record<string, unknown>;
  t.is(j.address, id.slice(0, 10));
  t.is(j.publicIdentity, id);
  const lp = await execa(cli, [`-D${home}`, 'listpeers']);
  t.is(lp.stdout, '200 listpeers <ztaddr> <path> <latency> <version> <role>');
  t.is((await execa(cli, [`-D${home}`, 'listmoons'])).stdout, '[]');

  await stop(home);
  t.throws(() => statSync(join(home, 'zerotier-one.pid')), undefined, 'the pid file is removed on SIGTERM');
  const again = await startDetached(home);
  t.is(again.r.exitCode, 0, again.r.stderr);
  t.is(readFileSync(join(home, 'identity.public'), 'utf8'), id, 'the identity never changes across restarts');
});

test('a second service on the same home is refused and says why', async (t) => {
  const home = freshHome();
  t.teardown(async () => {
    await stop(home);
    rmSync(home, { recursive: true, force: true });
  });
  t.is((await startDetached(home)).r.exitCode, 0);
  const second = await startDetached(home);
  t.is(second.r.exitCode, 1);
  t.regex(second.r.stderr, /already running with home/);
});

test('the API wants the token (header or ?auth=) and listens on loopback only', async (t) => {
  const home = freshHome();
  t.teardown(async () => {
    await stop(home);
    rmSync(home, { recursive: true, force: true });
  });
  const { port } = await startDetached(home);
  const token = readFileSync(join(home, 'authtoken.secret'), 'utf8');
  const none = await fetch(`http://127.0.0.1:${port}/status`);
  t.is(none.status, 401);
  t.deepEqual(await none.json(), {});
  t.is((await fetch(`http://127.0.0.1:${port}/status`, { headers: { 'X-ZT1-Auth': 'wrong' } })).status, 401);
  t.is((await fetch(`http://127.0.0.1:${port}/status`, { headers: { 'X-ZT1-Auth': token } })).status, 200);
  t.is((await fetch(`http://127.0.0.1:${port}/status?auth=${token}`)).status, 200);
  t.is((await fetch(`http://127.0.0.1:${port}/nothing?auth=${token}`)).status, 404);
  // Bound to 127.0.0.1 itself, not to every address: another address of this host is refused.
  const err = await new Promise<string>((resolve) => {
    const s = connect(port, '127.0.0.2');
    s.on('connect', () => resolve('connected'));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  t.is(err, 'ECONNREFUSED');
});

test('bad input: unknown command and bad flags print usage and exit 1', async (t) => {
  for (const args of [['bogus'], ['-x', 'info'], ['-pnope', 'info'], ['orbit', 'zz', '1'], []]) {
    const r = await execa(cli, ['-D/nonexistent', ...args], { reject: false });
    t.is(r.exitCode, 1, args.join(' '));
    t.true(r.stderr.length > 0);
  }
  const r = await execa(cli, ['-D/nonexistent', 'bogus'], { reject: false });
  t.regex(r.stderr, /unknown command bogus[\s\S]*usage:/);
  const s = await execa(service, ['-q'], { reject: false });
  t.is(s.exitCode, 1);
  t.regex(s.stderr, /unknown option -q[\s\S]*usage:/);
});

test('a corrupt identity.secret or planet is reported with its path, exit non-zero, the file left untouched', async (t) => {
  for (const [file, content] of [
    ['identity.secret', 'this is not an identity'],
    ['planet', 'garbage planet bytes'],
  ] as const) {
    const home = freshHome();
    t.teardown(() => rmSync(home, { recursive: true, force: true }));
    writeFileSync(join(home, file), content, { mode: 0o600 });
    const r = await execa(service, [`-p${nextPort++}`, home], { reject: false, timeout: 20000 });
    t.not(r.exitCode, 0, file);
    t.true(r.stderr.includes(join(home, file)), r.stderr);
    t.is(readFileSync(join(home, file), 'utf8'), content, `${file} untouched`);
  }
});
