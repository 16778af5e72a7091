// The npm package: `npm pack` (its prepack builds, links libcrypto and liblz4 into the addon and puts
// libsodium.so.23 beside it), then `npm install -g --prefix <tmp> <tarball>` and the walk-through's first commands
// with the installed bins:
// idtool generate, service -d, cli info / join / listnetworks / leave, and stopping the service. The installed
// package must carry the built lwIP module, addon and intercept (no emscripten, no compiler at install).
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { freePort, ROOT, waitFor } from '../../tools/cluster.js';

/**
 * One `npm pack` for every test here (they run concurrently): the tarball's folder and file name. Its prepack
 * touches the checkout (the addon is relinked), so it must not run twice at once.
 */
let packed: Promise<{ dir: string; file: string; stderr: string; ok: boolean }> | undefined;
function packOnce() {
  packed ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'netcon-pkg-tarball-'));
    const pack = await execa('npm', ['pack', '--pack-destination', dir], { cwd: ROOT, reject: false });
    return { dir, file: pack.stdout.trim().split('\n').pop() ?? '', stderr: pack.stderr, ok: pack.exitCode === 0 };
  })();
  return packed;
}

// Whether a Docker engine answers (for the fresh-Debian containers below), asked before any test is declared.
const engine = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false, timeout: 20_000 });

test.after.always(async () => {
  if (packed) rmSync((await packed).dir, { recursive: true, force: true });
});

test('npm pack, npm install -g into a temporary prefix, then the walk-through with the installed bins', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netcon-pkg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pack = await packOnce();
  t.true(pack.ok, pack.stderr);
  const tarball = join(pack.dir, pack.file);
  const listing = (await execa('tar', ['tzf', tarball])).stdout.split('\n');
  for (const f of [
    'package/lwip/build/lwip.wasm',
    'package/native/build/Release/netcon_native.node',
    'package/native/build/Release/libsodium.so.23',
    'package/libzerotierintercept.so',
    'package/container/entrypoint.sh',
    'package/bin/zerotier-netcon-service.js',
  ])
    t.true(listing.includes(f), `${f} in the package`);
  t.false(
    listing.some((f) => f.startsWith('package/dist/test/') || f.startsWith('package/lwip/src-lwip/')),
    'no tests, no lwIP source',
  );

  const prefix = join(dir, 'prefix');
  const install = await execa(
    'npm',
    ['install', '-g', '--prefix', prefix, '--no-fund', '--no-audit', '--prefer-offline', tarball],
    { reject: false, cwd: dir },
  );
  t.is(install.exitCode, 0, install.stderr);
  const pkg = join(prefix, 'lib', 'node_modules', 'zerotier-netcon');
  t.deepEqual(readdirSync(join(prefix, 'bin')).sort(), [
    'zerotier-cli',
    'zerotier-idtool',
    'zerotier-netcon',
    'zerotier-netcon-service',
  ]);
  // The addon finds the libsodium it came with (RUNPATH $ORIGIN), whatever the machine has.
  // It needs no libssl3, liblz4-1 or libsodium23 on the machine (a minbase Debian has none of them).
  const ldd = await execa('ldd', [join(pkg, 'native', 'build', 'Release', 'netcon_native.node')]);
  t.regex(ldd.stdout, new RegExp(`libsodium\\.so\\.23 => ${join(pkg, 'native/build/Release/libsodium.so.23')}`));
  t.notRegex(ldd.stdout, /libcrypto|liblz4/);

  // The installed bins, not the repository's; a PATH without the repository.
  const bin = (name: string) => join(prefix, 'bin', name);
  const run = (name: string, args: string[]) => execa(bin(name), args, { reject: false, cwd: dir });
  const gen = await run('zerotier-idtool', ['generate', join(dir, 'id.secret'), join(dir, 'id.public')]);
  t.is(gen.exitCode, 0, gen.stderr);
  t.regex(readFileSync(join(dir, 'id.public'), 'utf8'), /^[0-9a-f]{10}:0:[0-9a-f]{128}$/);

  const home = join(dir, 'home');
  const port = await freePort();
  const svc = await run('zerotier-netcon-service', ['-d', `-p${port}`, home]);
  t.is(svc.exitCode, 0, svc.stderr);
  const pid = Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8'));
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* stopped */
    }
  });
  const address = readFileSync(join(home, 'identity.public'), 'utf8').slice(0, 10);
  const info = await run('zerotier-cli', [`-D${home}`, 'info']);
  t.regex(info.stdout, new RegExp(`^200 info ${address} \\S+ (OFFLINE|ONLINE)$`));
  const nwid = '8056c2e21c000001';
  t.is((await run('zerotier-cli', [`-D${home}`, 'join', nwid])).stdout, '200 join OK');
  const list = await run('zerotier-cli', [`-D${home}`, 'listnetworks']);
  t.true(list.stdout.split('\n')[1]!.includes(` ${join(home, `nc_${nwid}`)} `), list.stdout);
  t.true(existsSync(join(home, `nc_${nwid}`)), 'the network has its socket (lwIP loaded from the package)');
  t.is((await run('zerotier-cli', [`-D${home}`, 'leave', nwid])).stdout, '200 leave OK');
  process.kill(pid, 'SIGTERM');
  await waitFor('the service to stop', 20_000, async () =>
    existsSync(join(home, 'zerotier-one.pid')) ? undefined : true,
  );
  t.is((await run('zerotier-cli', [`-D${home}`, 'info'])).exitCode, 1, 'nothing answers once stopped');
});

// A fresh Debian 12 and 13 (minbase images from container/make-base.sh: no compiler, no emscripten, no libssl3,
// liblz4-1 or libsodium23 beyond what minbase has) given this machine's Node 20 and npm: npm install -g of the
// tarball, then the same first commands as root inside the container. Needs a Docker engine; skipped loudly
// without one.
if (engine.exitCode !== 0)
  console.error('SKIPPED the npm package on fresh Debian 12/13 containers: no Docker engine answers');
for (const suite of ['bookworm', 'trixie']) {
  (engine.exitCode === 0 ? test : test.skip)(
    `the package on a fresh Debian ${suite} (minbase container)`,
    async (t) => {
      t.timeout(15 * 60_000);
      const dir = mkdtempSync(join(tmpdir(), 'netcon-pkg-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const base = (await execa(join(ROOT, 'container', 'make-base.sh'), [suite])).stdout.trim();
      const pack = await packOnce();
      t.true(pack.ok, pack.stderr);
      const tarball = pack.file;
      copyFileSync(join(pack.dir, tarball), join(dir, tarball));
      const npmRoot = (await execa('npm', ['root', '-g'])).stdout.trim();
      const ca = (await execa('npm', ['config', 'get', 'cafile'], { reject: false })).stdout.trim();
      const port = await freePort();
      const script = [
        'set -e',
        `node /opt/npm/bin/npm-cli.js install -g --no-fund --no-audit --loglevel=error /pkg/${tarball}`,
        'command -v cc gcc emcc || echo "no compiler"',
        'zerotier-idtool generate /tmp/id.secret /tmp/id.public >/dev/null',
        `zerotier-netcon-service -d -p${port} /tmp/home`,
        'zerotier-cli -D/tmp/home info',
        'zerotier-cli -D/tmp/home join 8056c2e21c000001',
        'zerotier-cli -D/tmp/home listnetworks | tail -1',
        'zerotier-cli -D/tmp/home leave 8056c2e21c000001',
        'kill $(cat /tmp/home/zerotier-one.pid)',
        'while [ -e /tmp/home/zerotier-one.pid ]; do sleep 0.1; done; echo stopped',
      ].join('\n');
      const r = await execa(
        'docker',
        [
          'run',
          '--rm',
          '--network',
          'host',
          '-v',
          `${process.execPath}:/usr/local/bin/node:ro`,
          '-v',
          `${join(npmRoot, 'npm')}:/opt/npm:ro`,
          '-v',
          `${dir}:/pkg:ro`,
          ...(ca && ca !== 'null' && ca !== 'undefined'
            ? ['-v', `${ca}:/etc/netcon-ca.crt:ro`, '-e', 'NODE_EXTRA_CA_CERTS=/etc/netcon-ca.crt']
            : []),
          base,
          'bash',
          '-c',
          script,
        ],
        { reject: false, all: true },
      );
      t.is(r.exitCode, 0, r.all);
      t.regex(r.stdout, /no compiler/);
      t.regex(r.stdout, /^200 info [0-9a-f]{10} \S+ OFFLINE$/m);
      t.regex(r.stdout, /^200 join OK$/m);
      t.regex(r.stdout, /^200 listnetworks 8056c2e21c000001 .* \/tmp\/home\/nc_8056c2e21c000001 -$/m);
      t.regex(r.stdout, /^200 leave OK$/m);
      t.regex(r.stdout, /^stopped$/m);
    },
  );
}
