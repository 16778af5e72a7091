// Identities in bulk: service/bulk-identities.ts on real worker threads, and `zerotier-idtool generate-nodes`
// as a real process (the launcher at the repository root), as an operator pre-generates node homes for
// `zerotier-netcon-service --nodes <hostdir>`.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { bulkWorkers, createNodeHomes, generateIdentities, writeNodeHome } from '../../service/bulk-identities.js';
import { addressToString } from '../../service/core/address.js';
import { validateIdentity } from '../../service/core/identity.js';
import { loadOrCreateIdentity, StateFileError } from '../../service/daemon/state-files.js';
import { newIdentity } from '../../service/random.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const tool = join(repo, 'zerotier-idtool');

async function workdir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'netcon-bulk-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
const mode = async (p: string) => (await stat(p)).mode & 0o777;

/** Every file under a folder with its bytes and mode (to show that nothing changed). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    const st = await stat(p);
    out[p] = `${(st.mode & 0o7777).toString(8)} ${e.isFile() ? (await readFile(p)).toString('hex') : 'dir'}`;
  }
  return out;
}

/** A node home as the service loads it: the same parse and validation (key pair included) as at its start. */
async function checkHome(t: import('ava').ExecutionContext, hostdir: string, name: string): Promise<void> {
  const home = join(hostdir, name);
  t.is(await mode(home), 0o700, `${name} is 0700`);
  t.deepEqual((await readdir(home)).sort(), ['identity.public', 'identity.secret'], name);
  t.is(await mode(join(home, 'identity.secret')), 0o600);
  t.is(await mode(join(home, 'identity.public')), 0o644);
  const { identity, created } = await loadOrCreateIdentity(home, () => {
    throw new Error(`${name}: the service would have generated a new identity`);
  });
  t.false(created);
  t.is(addressToString(identity.address), name, 'the folder is named by the address');
  t.is(await readFile(join(home, 'identity.secret'), 'utf8'), identity.toString(true));
  t.is(await readFile(join(home, 'identity.public'), 'utf8'), identity.toString(false));
}

test('generateIdentities: valid identities with private keys, distinct, progress for each', async (t) => {
  const progress: string[] = [];
  const ids = await generateIdentities(6, { workers: 2, onProgress: (d, n) => progress.push(`${d}/${n}`) });
  t.is(ids.length, 6);
  t.deepEqual(progress, ['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
  t.is(new Set(ids.map((id) => id.address)).size, 6);
  for (const id of ids) {
    t.true(id.hasPrivate);
    t.deepEqual(validateIdentity(id), { valid: true });
  }
});

test('generateIdentities: nothing for 0; bad counts and worker numbers are RangeErrors', async (t) => {
  t.deepEqual(await generateIdentities(0), []);
  for (const count of [-1, 1.5, Number.NaN, 2_000_000])
    await t.throwsAsync(generateIdentities(count), { instanceOf: RangeError }, String(count));
  for (const workers of [0, -2, 1.5])
    await t.throwsAsync(generateIdentities(1, { workers }), { instanceOf: RangeError }, String(workers));
  t.is(bulkWorkers(1000, 2), 2);
  t.is(bulkWorkers(1, 8), 1, 'never more threads than identities');
});

test('generateIdentities: an abort stops the workers and rejects with its reason', async (t) => {
  const stop = new AbortController();
  const reason = new Error('enough');
  const p = generateIdentities(1000, { workers: 2, signal: stop.signal, onProgress: () => stop.abort(reason) });
  const e = await t.throwsAsync(p);
  t.is(e, reason);
});

test('createNodeHomes: the host folder 0700, one folder per node named by its address, files as a service writes them', async (t) => {
  const dir = await workdir(t);
  const hostdir = join(dir, 'a', 'hosts');
  const seen: string[] = [];
  const names = await createNodeHomes(hostdir, 5, { workers: 2, onHome: (n) => seen.push(n) });
  t.is(names.length, 5);
  t.deepEqual(seen, names, 'onHome in the order written');
  t.is(await mode(hostdir), 0o700);
  t.deepEqual((await readdir(hostdir)).sort(), [...names].sort());
  for (const name of names) {
    t.regex(name, /^[0-9a-f]{10}$/);
    await checkHome(t, hostdir, name);
  }
});

test('createNodeHomes adds nodes beside existing ones and never writes into an existing folder', async (t) => {
  const hostdir = await workdir(t);
  const first = await createNodeHomes(hostdir, 2);
  // An operator's own entries beside the nodes: a planet, another folder.
  await writeFile(join(hostdir, 'planet'), 'not ours');
  await mkdir(join(hostdir, 'moons.d'));
  const before = await snapshot(hostdir);
  const more = await createNodeHomes(hostdir, 2);
  t.is(new Set([...first, ...more]).size, 4);
  const after = await snapshot(hostdir);
  for (const [p, v] of Object.entries(before)) t.is(after[p], v, `${p} unchanged`);

  // A home for an address whose folder exists (an earlier node's, even an empty folder) is refused.
  const id = newIdentity();
  const taken = join(hostdir, addressToString(id.address));
  await mkdir(taken);
  await writeFile(join(taken, 'notes'), 'mine');
  const e = await t.throwsAsync(writeNodeHome(hostdir, id), { instanceOf: StateFileError });
  t.is((e as StateFileError).code, 'EXISTS');
  t.is((e as StateFileError).path, taken);
  t.deepEqual(await readdir(taken), ['notes']);
});

test('generate-nodes: names on stdout, a progress line every 10% on a non-terminal stderr, valid homes', async (t) => {
  const dir = await workdir(t);
  const hostdir = join(dir, 'nodes');
  const r = await execa(tool, ['generate-nodes', hostdir, '10'], { reject: false });
  t.is(r.exitCode, 0, r.stderr);
  const names = r.stdout.split('\n');
  t.is(names.length, 10);
  t.deepEqual((await readdir(hostdir)).sort(), [...names].sort());
  for (const name of names) await checkHome(t, hostdir, name);
  const lines = r.stderr.split('\n');
  const progress = lines.filter((l) => /^generate-nodes: \d+\/10 \(\d+%\) in [\d.]+ s, [\d.]+ identities\/s$/.test(l));
  t.deepEqual(
    progress.map((l) => /(\d+)\/10/.exec(l)![1]),
    ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'],
  );
  t.regex(lines.at(-1)!, /^generate-nodes: 10 node homes in .* in [\d.]+ s \([\d.]+ identities\/s on \d+ threads?\)$/);
  t.false(r.stderr.includes('\r'), 'no bar when stderr is not a terminal');

  // A second run adds to the same host folder and leaves the first homes as they were.
  const before = await snapshot(hostdir);
  const again = await execa(tool, ['generate-nodes', '--workers=1', hostdir, '3'], { reject: false });
  t.is(again.exitCode, 0, again.stderr);
  t.regex(again.stderr, /on 1 thread\)/);
  const after = await snapshot(hostdir);
  for (const [p, v] of Object.entries(before)) t.is(after[p], v, `${p} unchanged`);
  t.is((await readdir(hostdir)).length, 13);
});

test('generate-nodes on a terminal: a progress bar on stderr', async (t) => {
  const dir = await workdir(t);
  // script(1) gives the command a pseudo-terminal; its output (stdout and stderr together) goes to our pipe.
  const r = await execa('script', ['-qefc', `${tool} generate-nodes ${join(dir, 'n')} 4`, '/dev/null'], {
    reject: false,
  });
  t.is(r.exitCode, 0, r.stdout);
  t.regex(r.stdout, /\r\[#{30}\] 4\/4 100% [\d.]+\/s 0 s left/);
  t.notRegex(r.stdout, /generate-nodes: \d+\/4 \(/, 'no progress lines on a terminal');
  t.is((await readdir(join(dir, 'n'))).length, 4);
});

test('generate-nodes: bad arguments print the usage and exit 2, writing nothing', async (t) => {
  const dir = await workdir(t);
  const h = join(dir, 'h');
  for (const args of [
    [],
    [h],
    [h, '0'],
    [h, '-1'],
    [h, 'ten'],
    [h, '1.5'],
    [h, '2000000'],
    [h, '3', 'more'],
    ['--workers=0', h, '1'],
    ['--workers=x', h, '1'],
    ['--frobnicate', h, '1'],
    ['', '1'],
  ]) {
    const r = await execa(tool, ['generate-nodes', ...args], { reject: false });
    t.is(r.exitCode, 2, args.join(' '));
    t.is(r.stdout, '', args.join(' '));
    t.regex(r.stderr, /Usage: zerotier-idtool <command>[\s\S]*generate-nodes \[--workers=<n>\] <hostdir> <count>/);
  }
  t.deepEqual(await readdir(dir), [], 'nothing created');
});

test('generate-nodes: a host folder that cannot be one is named, exit 1', async (t) => {
  const dir = await workdir(t);
  const file = join(dir, 'file');
  await writeFile(file, 'x');
  const r = await execa(tool, ['generate-nodes', file, '2'], { reject: false });
  t.is(r.exitCode, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, new RegExp(`^generate-nodes: ${file}: .*\\(0 of 2 node homes were written`));
  t.is(await readFile(file, 'utf8'), 'x');
});

test('generate-nodes: SIGINT stops it with the homes written so far complete, exit 130', async (t) => {
  const dir = await workdir(t);
  const hostdir = join(dir, 'h');
  const child = execa(tool, ['generate-nodes', hostdir, '1000'], { reject: false });
  let out = '';
  await new Promise<void>((resolve) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve();
    });
  });
  child.kill('SIGINT');
  const r = await child;
  t.is(r.exitCode, 130, r.stderr);
  const names = r.stdout.split('\n').filter(Boolean);
  t.true(names.length >= 1 && names.length < 1000);
  t.regex(r.stderr, new RegExp(`stopped by SIGINT after ${names.length} of 1000 node homes`));
  t.deepEqual((await readdir(hostdir)).sort(), [...names].sort(), 'no half-made folder');
  for (const name of names) await checkHome(t, hostdir, name);
});
