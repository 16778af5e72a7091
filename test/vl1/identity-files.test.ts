import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseIdentity } from '../../service/core/identity.js';
import {
  atomicCreateFile,
  atomicWriteFile,
  loadOrCreateIdentity,
  readIdentitySecret,
  StateFileError,
  writeIdentityFiles,
} from '../../service/daemon/state-files.js';

const vectors = new URL('../../../test/fixtures/vectors/identities/', import.meta.url);
const ids: { name: string; public: string; secret: string }[] = JSON.parse(
  await readFile(new URL('identities.json', vectors), 'utf8'),
);
const secretOf = (name: string) => ids.find((v) => v.name === name)!.secret;
const publicOf = (name: string) => ids.find((v) => v.name === name)!.public;
const badKeypair = (await readFile(new URL('invalid-identities.txt', vectors), 'utf8'))
  .split('\n')
  .find((l) => l.startsWith('bad-keypair'))!
  .split(' ')[1]!;

async function home(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'netcon-idfiles-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
const mode = async (p: string) => (await stat(p)).mode & 0o777;

test('a fresh home gets a generated identity: secret 0600, public 0644, no trailing newline', async (t) => {
  const dir = await home(t);
  const { identity, created } = await loadOrCreateIdentity(join(dir, 'sub'));
  t.true(created);
  const sec = await readFile(join(dir, 'sub', 'identity.secret'), 'utf8');
  const pub = await readFile(join(dir, 'sub', 'identity.public'), 'utf8');
  t.is(sec, identity.toString(true));
  t.is(pub, identity.toString(false));
  t.is(sec.length, 270);
  t.is(pub.length, 141);
  t.is(await mode(join(dir, 'sub', 'identity.secret')), 0o600);
  t.is(await mode(join(dir, 'sub', 'identity.public')), 0o644);
  // A second start loads the same identity and changes nothing.
  const again = await loadOrCreateIdentity(join(dir, 'sub'));
  t.false(again.created);
  t.is(again.identity.toString(true), sec);
});

test('an existing secret is loaded, a missing public file is written from it', async (t) => {
  const dir = await home(t);
  await writeFile(join(dir, 'identity.secret'), `${secretOf('node-A')}\n`, { mode: 0o600 });
  const { identity, created } = await loadOrCreateIdentity(dir, () => {
    throw new Error('must not generate');
  });
  t.false(created);
  t.is(identity.toString(true), secretOf('node-A'));
  t.is(await readFile(join(dir, 'identity.public'), 'utf8'), publicOf('node-A'));
});

test('identity files are never overwritten', async (t) => {
  const dir = await home(t);
  await writeIdentityFiles(dir, parseIdentity(secretOf('id1')));
  const e = await t.throwsAsync(writeIdentityFiles(dir, parseIdentity(secretOf('id2'))), {
    instanceOf: StateFileError,
  });
  t.is(e?.code, 'EXISTS');
  t.is(e?.path, join(dir, 'identity.secret'));
  t.is(await readFile(join(dir, 'identity.secret'), 'utf8'), secretOf('id1'));
  // A public file that belongs to another identity is an error, and stays as it is.
  const dir2 = await home(t);
  await writeFile(join(dir2, 'identity.public'), publicOf('id3'));
  await writeFile(join(dir2, 'identity.secret'), secretOf('id1'));
  const m = await t.throwsAsync(loadOrCreateIdentity(dir2), { instanceOf: StateFileError });
  t.is(m?.code, 'MISMATCH');
  t.is(await readFile(join(dir2, 'identity.public'), 'utf8'), publicOf('id3'));
  // A lone public file (secret lost) is not replaced by a new identity.
  const dir3 = await home(t);
  await writeFile(join(dir3, 'identity.public'), publicOf('id3'));
  const l = await t.throwsAsync(loadOrCreateIdentity(dir3), { instanceOf: StateFileError });
  t.is(l?.path, join(dir3, 'identity.public'));
  t.is(await readFile(join(dir3, 'identity.public'), 'utf8'), publicOf('id3'));
});

test('corrupt or invalid identity.secret: an error naming the path, file untouched', async (t) => {
  const cases: [string, RegExp][] = [
    ['garbage', /not an identity/],
    [publicOf('id4'), /has no private key/],
    [badKeypair, /private key does not match public key/],
    [secretOf('id2').replace(/^3/, '1'), /does not derive/],
  ];
  for (const [text, re] of cases) {
    const dir = await home(t);
    const path = join(dir, 'identity.secret');
    await writeFile(path, text, { mode: 0o600 });
    const e = await t.throwsAsync(readIdentitySecret(dir), { instanceOf: StateFileError });
    t.is(e?.path, path);
    t.is(e?.code, 'CORRUPT');
    t.regex(e?.message ?? '', re);
    t.true(e?.message.startsWith(path));
    t.is(await readFile(path, 'utf8'), text);
    await t.throwsAsync(loadOrCreateIdentity(dir), { instanceOf: StateFileError });
    t.is(await readFile(path, 'utf8'), text);
  }
});

test('atomic writes replace or create, leave no temporary files, and respect the mode', async (t) => {
  const dir = await home(t);
  const p = join(dir, 'f');
  await atomicWriteFile(p, 'one', 0o600);
  await atomicWriteFile(p, new Uint8Array([0x74, 0x77, 0x6f]), 0o640);
  t.is(await readFile(p, 'utf8'), 'two');
  t.is(await mode(p), 0o640);
  await t.throwsAsync(atomicCreateFile(p, 'three'), { instanceOf: StateFileError });
  t.is(await readFile(p, 'utf8'), 'two');
  const { readdir } = await import('node:fs/promises');
  t.deepEqual(await readdir(dir), ['f']);
});
