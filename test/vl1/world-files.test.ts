import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseIdentity } from '../../service/core/identity.js';
import { parseInetAddress } from '../../service/core/inet-address.js';
import { makeWorld, moonIdForAddress, parseWorld, serializeWorld, WORLD_TYPE_MOON } from '../../service/core/world.js';
import {
  deleteMoon,
  moonPath,
  readMoon,
  readMoons,
  readPlanet,
  StateFileError,
  writeMoon,
  writePlanet,
} from '../../service/daemon/state-files.js';
import { newKeyPair } from '../../service/random.js';

const planetDir = new URL('../../../test/fixtures/vectors/planet/', import.meta.url);
const v1bytes = new Uint8Array(await readFile(new URL('planet-v1.bin', planetDir)));
const v2bytes = new Uint8Array(await readFile(new URL('planet-v2-update.bin', planetDir)));
const rootR = parseIdentity(
  '29077f37cd:0:a0da70854f27b5919cc75b34f0025a64e134ec8f9522b55af94bdac5e34b6a176d1367126feb4cbaabb91970c0d1d2c52d729a8b5286c08c286281ba867a4c34',
);

async function home(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'netcon-worlds-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function moon(ts: bigint) {
  const kp = newKeyPair();
  return makeWorld(
    {
      type: WORLD_TYPE_MOON,
      id: moonIdForAddress(rootR.address),
      timestamp: ts,
      updatesMustBeSignedBy: kp.publicKey,
      roots: [{ identity: rootR, stableEndpoints: [parseInetAddress('10.99.0.1/9993')!] }],
    },
    kp,
  );
}

test('planet: missing is undefined; written atomically and read back byte for byte', async (t) => {
  const dir = await home(t);
  t.is(await readPlanet(dir), undefined);
  await writePlanet(dir, parseWorld(v1bytes));
  t.deepEqual(new Uint8Array(await readFile(join(dir, 'planet'))), v1bytes);
  await writePlanet(dir, parseWorld(v2bytes));
  t.deepEqual(new Uint8Array(await readFile(join(dir, 'planet'))), v2bytes);
  const back = await readPlanet(dir);
  t.deepEqual(serializeWorld(back!), v2bytes);
  t.is((await stat(join(dir, 'planet'))).mode & 0o777, 0o644);
  t.deepEqual(await readdir(dir), ['planet']);
});

test('a corrupt planet file: error naming its path, file untouched', async (t) => {
  const dir = await home(t);
  const path = join(dir, 'planet');
  for (const bad of [v1bytes.subarray(0, 100), new Uint8Array([9, 9, 9]), serializeWorld(moon(1n))]) {
    await writeFile(path, bad);
    const e = await t.throwsAsync(readPlanet(dir), { instanceOf: StateFileError });
    t.is(e?.path, path);
    t.true(e?.message.startsWith(path));
    t.deepEqual(new Uint8Array(await readFile(path)), bad);
  }
});

test('moons: <home>/moons.d/<16 hex>.moon, listed, deleted; bad files reported by path and left alone', async (t) => {
  const dir = await home(t);
  const m = moon(5n);
  await writeMoon(dir, m);
  const path = moonPath(dir, m.id);
  t.is(path, join(dir, 'moons.d', '00000029077f37cd.moon'));
  t.deepEqual(new Uint8Array(await readFile(path)), serializeWorld(m));
  t.deepEqual(serializeWorld((await readMoon(dir, m.id))!), serializeWorld(m));
  const newer = moon(6n);
  await writeMoon(dir, newer);
  t.is((await readMoon(dir, m.id))!.timestamp, 6n);

  await writeFile(join(dir, 'moons.d', '0000000000000001.moon'), 'junk');
  await writeFile(join(dir, 'moons.d', 'notes.txt'), 'ignored');
  await writeFile(join(dir, 'moons.d', '0000000000000002.moon'), serializeWorld(m)); // id does not match name
  const { moons, errors } = await readMoons(dir);
  t.is(moons.length, 1);
  t.is(moons[0]!.id, m.id);
  t.deepEqual(
    errors.map((e) => e.path),
    [join(dir, 'moons.d', '0000000000000001.moon'), join(dir, 'moons.d', '0000000000000002.moon')],
  );
  t.is(await readFile(join(dir, 'moons.d', '0000000000000001.moon'), 'utf8'), 'junk');

  t.true(await deleteMoon(dir, m.id));
  t.false(await deleteMoon(dir, m.id));
  t.is(await readMoon(dir, m.id), undefined);
  await mkdir(join(dir, 'x'));
  t.deepEqual(await readMoons(join(dir, 'x')), { moons: [], errors: [] });
});
