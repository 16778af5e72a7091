// The npm package: `npm pack` (its prepack builds and adds libsodium.so.23 beside the addon), then
// `npm install -g --prefix <tmp> <tarball>` and the walk-through's first commands with the installed bins:
// idtool generate, service -d, cli info / join / listnetworks / leave, and stopping the service. The installed
// package must carry the built lwIP module, addon and intercept (no emscripten, no compiler at install).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { freePort, ROOT, waitFor } from '../../tools/cluster.js';

test('npm pack, npm install -g into a temporary prefix, then the walk-through with the installed bins', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netcon-pkg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pack = await execa('npm', ['pack', '--pack-destination', dir], { cwd: ROOT, reject: false });
  t.is(pack.exitCode, 0, pack.stderr);
  const tarball = join(dir, pack.stdout.trim().split('\n').pop()!);
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
  const ldd = await execa('ldd', [join(pkg, 'native', 'build', 'Release', 'netcon_native.node')]);
  t.regex(ldd.stdout, new RegExp(`libsodium\\.so\\.23 => ${join(pkg, 'native/build/Release/libsodium.so.23')}`));

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
