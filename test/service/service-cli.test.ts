// The service and zerotier-cli as users run them: real processes, a real home folder, the real API.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { SERVICE_NODE_FLAGS, withServiceFlags } from '../../service/cli/service-main.js';

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
  // The ZeroTier version the node implements and announces in HELLO, not netcon's own (README: versions).
  t.regex(info.stdout, new RegExp(`^200 info ${id.slice(0, 10)} 1\\.14\\.1 (ONLINE|OFFLINE)$`));
  t.is((await execa(cli, [`-D${home}`, '-v'])).stdout, '1.14.1');
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

test('the service runs with its node flags, through the launcher and when plain node starts it with -d', async (t) => {
  const homes = [freshHome(), freshHome()];
  t.teardown(async () => {
    for (const h of homes) {
      await stop(h);
      rmSync(h, { recursive: true, force: true });
    }
  });
  const viaLauncher = await startDetached(homes[0]!);
  t.is(viaLauncher.r.exitCode, 0, viaLauncher.r.stderr);
  const plain = await execa(
    process.execPath,
    [join(root, 'bin', 'zerotier-netcon-service.js'), '-d', `-p${nextPort++}`, homes[1]!],
    {
      reject: false,
    },
  );
  t.is(plain.exitCode, 0, plain.stderr);
  for (const h of homes) {
    const pid = readFileSync(join(h, 'zerotier-one.pid'), 'utf8').trim();
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const f of SERVICE_NODE_FLAGS) t.true(args.includes(f), `${f} in ${args.join(' ')}`);
  }
  t.deepEqual(withServiceFlags(['--min-semi-space-size=32', '--inspect']), ['--min-semi-space-size=32', '--inspect']);
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
  // Authorization: Bearer, as ZeroTier One (scheme in any case; the X-ZT1-Auth header, when present, decides).
  const bearer = (h: Record<string, string>) => fetch(`http://127.0.0.1:${port}/status`, { headers: h });
  t.is((await bearer({ Authorization: `Bearer ${token}` })).status, 200);
  t.is((await bearer({ Authorization: `bearer ${token}` })).status, 200);
  t.is((await bearer({ Authorization: 'Bearer wrong' })).status, 401);
  t.is((await bearer({ Authorization: `Basic ${token}` })).status, 401);
  t.is((await bearer({ Authorization: `Bearer ${token}`, 'X-ZT1-Auth': 'wrong' })).status, 401);
  // A peer this node does not know: 200 {} (ZeroTier One's answer); a malformed address: no such route.
  const unknown = await fetch(`http://127.0.0.1:${port}/peer/0123456789`, { headers: { 'X-ZT1-Auth': token } });
  t.is(unknown.status, 200);
  t.is(await unknown.text(), '{}');
  t.is((await fetch(`http://127.0.0.1:${port}/peer/xyz?auth=${token}`)).status, 404);
  // zerotier-cli 1.14.1 sends HTTP/1.1 without a Host: header; the answer is compact JSON as ZeroTier One's.
  const raw = await new Promise<string>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () =>
      s.write(`GET /status HTTP/1.1\r\nX-ZT1-Auth: ${token}\r\nConnection: close\r\n\r\n`),
    );
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
    });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
  t.regex(raw, /^HTTP\/1\.1 200 OK\r\n/);
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  t.is((JSON.parse(body) as { version: string }).version, '1.14.1');
  t.false(body.includes('\n'), 'compact JSON, as ZeroTier One');
  t.is((await fetch(`http://127.0.0.1:${port}/nothing?auth=${token}`)).status, 404);
  // Bound to 127.0.0.1 itself, not to every address: another address of this host is refused.
  const err = await new Promise<string>((resolve) => {
    const s = connect(port, '127.0.0.2');
    s.on('connect', () => resolve('connected'));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  t.is(err, 'ECONNREFUSED');
});

test('dump writes zerotier_dump.txt in the working folder, with the sections of ZeroTier One', async (t) => {
  const home = freshHome();
  const cwd = freshHome();
  t.teardown(async () => {
    await stop(home);
    rmSync(home, { recursive: true, force: true });
    rmSync(cwd, { recursive: true, force: true });
  });
  t.is((await startDetached(home)).r.exitCode, 0);
  writeFileSync(join(home, 'local.conf'), '{"settings":{}}\n');
  const r = await execa(cli, [`-D${home}`, 'dump'], { cwd, reject: false });
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout, `Writing dump to: ${join(cwd, 'zerotier_dump.txt')}`);
  const text = readFileSync(join(cwd, 'zerotier_dump.txt'), 'utf8');
  const id = readFileSync(join(home, 'identity.public'), 'utf8').slice(0, 10);
  t.true(text.startsWith('platform: Linux\nzerotier version: 1.14.1\n\nstatus\n------\n{"address":"'), text);
  t.true(text.includes(`"address":"${id}"`));
  for (const section of [
    '\nnetworks\n--------\n[]\n',
    '\npeers\n-----\n[]\n',
    '\nlocal.conf\n----------\n{"settings":{}}\n',
  ])
    t.true(text.includes(section), section);
  t.true(text.includes('\nNetwork Interfaces\n------------------\n\n'));
  t.is(statSync(join(cwd, 'zerotier_dump.txt')).mode & 0o777, 0o664 & ~process.umask());
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
