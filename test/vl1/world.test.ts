import { readFileSync } from 'node:fs';
import test from 'ava';
import { addressToString } from '../../service/core/address.js';
import { toHex } from '../../service/core/c25519.js';
import { parseIdentity } from '../../service/core/identity.js';
import {
  compareInetAddress,
  formatInetAddress,
  parseInetAddress,
  readInetAddress,
  serializeInetAddress,
} from '../../service/core/inet-address.js';
import {
  acceptMoonFromSeed,
  checkWorldUpdate,
  makeWorld,
  moonFileName,
  moonIdForAddress,
  parseWorld,
  parseWorldId,
  readWorld,
  serializeWorld,
  shouldBeReplacedBy,
  sortRoots,
  verifyWorldSignature,
  WORLD_ID_EARTH,
  WORLD_TYPE_MOON,
  WORLD_TYPE_PLANET,
  type World,
  WorldError,
  worldIdToHex,
  worldSignedMessage,
} from '../../service/core/world.js';
import { newIdentity, newKeyPair } from '../../service/random.js';

const dir = new URL('../../../test/fixtures/vectors/planet/', import.meta.url);
const bin = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));
const txt = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const field = (text: string, name: string) => new RegExp(`^${name}.*: (\\S+)$`, 'm').exec(text)![1]!;

const v1bytes = bin('planet-v1.bin');
const v2bytes = bin('planet-v2-update.bin');
const v1text = txt('planet-v1.txt');
const keysText = txt('signing-keys.txt');
const keyFile = (name: string) => {
  const b = bin(name);
  return { publicKey: b.subarray(0, 64), privateKey: b.subarray(64, 128) };
};

const clone = (w: World): World => parseWorld(serializeWorld(w));

test('planet-v1.bin parses to the documented fields', (t) => {
  t.is(v1bytes.length, 257);
  const w = parseWorld(v1bytes);
  t.is(w.type, WORLD_TYPE_PLANET);
  t.is(w.id, WORLD_ID_EARTH);
  t.is(w.timestamp, 1795300890135n);
  t.is(toHex(w.updatesMustBeSignedBy), field(v1text, 'updatesMustBeSignedBy'));
  t.is(toHex(w.signature), field(v1text, 'signature'));
  t.is(w.roots.length, 1);
  t.is(w.roots[0]!.identity.toString(), field(v1text, '  root\\[0\\] identity'));
  t.is(addressToString(w.roots[0]!.identity.address), '29077f37cd');
  t.deepEqual(w.roots[0]!.stableEndpoints.map(formatInetAddress), ['10.99.0.1/9993']);
});

test('planet-v1.bin verifies, re-serializes byte for byte, and its signed message matches the dump', (t) => {
  const w = parseWorld(v1bytes);
  t.true(verifyWorldSignature(w));
  t.is(toHex(serializeWorld(w)), toHex(v1bytes));
  t.is(toHex(worldSignedMessage(w)), field(v1text, 'signed message'));
  const r = readWorld(v1bytes);
  t.true(r.ok);
  t.is(r.ok ? r.length : 0, 257);
});

test('planet-v2-update.bin is accepted as an update of v1; it verifies under v1 key, not its own', (t) => {
  const v1 = parseWorld(v1bytes);
  const v2 = parseWorld(v2bytes);
  t.is(toHex(serializeWorld(v2)), toHex(v2bytes));
  t.true(verifyWorldSignature(v2, v1.updatesMustBeSignedBy));
  t.false(verifyWorldSignature(v2));
  t.deepEqual(checkWorldUpdate(v1, v2), { accept: true });
  t.true(shouldBeReplacedBy(v1, v2));
  // Not the other way round, and not onto itself.
  t.false(shouldBeReplacedBy(v2, v1));
  t.false(shouldBeReplacedBy(v1, v1));
  t.false(shouldBeReplacedBy(v2, v2));
});

test('the v2 update is rejected when its timestamp is not newer', (t) => {
  const v1 = parseWorld(v1bytes);
  for (const ts of [v1.timestamp, v1.timestamp - 1n, 0n]) {
    const w = clone(parseWorld(v2bytes));
    w.timestamp = ts;
    const r = checkWorldUpdate(v1, w);
    t.false(r.accept);
    t.regex(r.accept ? '' : r.reason, /not newer/);
  }
});

test('the v2 update is rejected when its id or type differs', (t) => {
  const v1 = parseWorld(v1bytes);
  const otherId = clone(parseWorld(v2bytes));
  otherId.id = WORLD_ID_EARTH + 1n;
  t.regex((checkWorldUpdate(v1, otherId) as { reason: string }).reason, /world id/);
  const otherType = clone(parseWorld(v2bytes));
  otherType.type = WORLD_TYPE_MOON;
  t.regex((checkWorldUpdate(v1, otherType) as { reason: string }).reason, /world type/);
  // Even when correctly re-signed with v1's key, a different id or type is refused.
  const v1key = keyFile('planet-v1-signing-keypair.c25519');
  const resigned = makeWorld({ ...parseWorld(v2bytes), id: 227883110n }, v1key);
  t.true(verifyWorldSignature(resigned, v1.updatesMustBeSignedBy));
  t.false(shouldBeReplacedBy(v1, resigned));
});

test('the v2 update is rejected when any byte of its signature (or the signed content) changes', (t) => {
  const v1 = parseWorld(v1bytes);
  const sigStart = 1 + 8 + 8 + 64;
  for (let i = 0; i < 96; i++) {
    const b = v2bytes.slice();
    b[sigStart + i]! ^= 0x01;
    const r = checkWorldUpdate(v1, parseWorld(b));
    t.false(r.accept, `signature byte ${i}`);
  }
  // A changed root endpoint or key breaks the signature too.
  const b = v2bytes.slice();
  b[b.length - 3]! ^= 0x01; // inside the endpoint's IPv4 address
  t.regex((checkWorldUpdate(v1, parseWorld(b)) as { reason: string }).reason, /signature/);
  const k = v2bytes.slice();
  k[20]! ^= 0x80; // inside updatesMustBeSignedBy
  t.false(checkWorldUpdate(v1, parseWorld(k)).accept);
});

test('an empty slot takes any world; the next update must then be signed by its key', (t) => {
  const v2 = parseWorld(v2bytes);
  t.true(checkWorldUpdate(undefined, v2).accept);
  // After v2, an update must be signed by v2's embedded key, not v1's.
  const v1key = keyFile('planet-v1-signing-keypair.c25519');
  const v2key = keyFile('planet-v2-signing-keypair.c25519');
  t.is(toHex(v2key.publicKey), toHex(v2.updatesMustBeSignedBy));
  const def = { ...v2, timestamp: v2.timestamp + 1000n };
  t.false(shouldBeReplacedBy(v2, makeWorld(def, v1key)));
  t.true(shouldBeReplacedBy(v2, makeWorld(def, v2key)));
});

test('signing key files match signing-keys.txt', (t) => {
  const v1key = keyFile('planet-v1-signing-keypair.c25519');
  const lines = keysText.split('\n');
  const find = (section: string, name: string) => {
    const start = lines.findIndex((l) => l.includes(section));
    return lines
      .slice(start)
      .find((l) => l.startsWith(name))!
      .split(/\s+/)[1]!;
  };
  t.is(toHex(v1key.publicKey), find('planet-v1', 'current_public'));
  t.is(toHex(v1key.privateKey), find('planet-v1', 'current_private'));
});

test('makeWorld reproduces planet-v1.bin and planet-v2-update.bin byte for byte (signing is deterministic)', (t) => {
  const v1 = parseWorld(v1bytes);
  const v2 = parseWorld(v2bytes);
  const v1key = keyFile('planet-v1-signing-keypair.c25519');
  t.is(toHex(serializeWorld(makeWorld(v1, v1key))), toHex(v1bytes));
  t.is(toHex(serializeWorld(makeWorld(v2, v1key))), toHex(v2bytes));
});

test('moons: 0x7f type, dictionary length, id from the first root, seed rule', (t) => {
  const root = parseIdentity(
    '29077f37cd:0:a0da70854f27b5919cc75b34f0025a64e134ec8f9522b55af94bdac5e34b6a176d1367126feb4cbaabb91970c0d1d2c52d729a8b5286c08c286281ba867a4c34',
  );
  const kp = newKeyPair();
  const id = moonIdForAddress(root.address);
  t.is(worldIdToHex(id), '00000029077f37cd');
  t.is(moonFileName(id), '00000029077f37cd.moon');
  const moon = makeWorld(
    {
      type: WORLD_TYPE_MOON,
      id,
      timestamp: 1795303847077n,
      updatesMustBeSignedBy: kp.publicKey,
      roots: [{ identity: root, stableEndpoints: [parseInetAddress('10.99.0.1/9993')!] }],
    },
    kp,
  );
  const bytes = serializeWorld(moon);
  t.is(bytes.length, 259);
  t.is(toHex(bytes.subarray(0, 9)), '7f00000029077f37cd');
  t.is(toHex(bytes.subarray(257)), '0000');
  t.true(verifyWorldSignature(parseWorld(bytes)));
  // The signed message includes the dictionary length.
  const msg = worldSignedMessage(moon);
  t.is(toHex(msg.subarray(msg.length - 10)), '0000f7f7f7f7f7f7f7f7');
  // A non-empty dictionary is skipped by readers (and not covered by the signature).
  const withDict = new Uint8Array(bytes.length + 3);
  withDict.set(bytes);
  withDict[257] = 0;
  withDict[258] = 3;
  const parsed = parseWorld(withDict);
  t.true(verifyWorldSignature(parsed));
  t.is(toHex(serializeWorld(parsed)), toHex(bytes));
  t.true(acceptMoonFromSeed(id, root.address, moon));
  t.false(acceptMoonFromSeed(id + 1n, root.address, moon));
  t.false(acceptMoonFromSeed(id, 0x1122334455, moon));
  t.is(parseWorldId('29077f37cd'), id);
  t.is(parseWorldId('xyz'), undefined);
  t.is(parseWorldId('12345678901234567'), undefined);
});

test('readWorld never throws on truncated or corrupted input, and rejects format violations', (t) => {
  for (let n = 0; n < v1bytes.length; n++) {
    const r = readWorld(v1bytes.subarray(0, n));
    t.false(r.ok, `truncated at ${n}`);
  }
  const badType = v1bytes.slice();
  badType[0] = 2;
  t.deepEqual(readWorld(badType), { ok: false, error: 'unknown world type 2' });
  const tooManyRoots = v1bytes.slice();
  tooManyRoots[177] = 5;
  t.false(readWorld(tooManyRoots).ok);
  const badEndpoint = v1bytes.slice();
  badEndpoint[178 + 71 + 1] = 9;
  t.false(readWorld(badEndpoint).ok);
  t.throws(() => parseWorld(badType), { instanceOf: WorldError });
  const trailing = new Uint8Array(258);
  trailing.set(v1bytes);
  t.throws(() => parseWorld(trailing), { instanceOf: WorldError, message: /trailing/ });
  // Embedded at an offset with trailing data (as inside OK(HELLO)).
  const framed = new Uint8Array(3 + 257 + 5);
  framed.set(v1bytes, 3);
  const r = readWorld(framed, 3);
  t.true(r.ok);
  t.is(r.ok ? r.length : 0, 257);
  // Random mutations never throw.
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed;
  };
  for (let i = 0; i < 2000; i++) {
    const b = v2bytes.slice(0, rnd() % (v2bytes.length + 1));
    for (let k = 0; k < 3; k++) if (b.length) b[rnd() % b.length] = rnd() & 0xff;
    t.notThrows(() => readWorld(b));
  }
});

test('worlds with several roots, IPv6 endpoints, sorted like genmoon, round-trip and verify', (t) => {
  const a = newIdentity();
  const b = newIdentity();
  const kp = newKeyPair();
  const eps = ['10.0.0.2/9993', '10.0.0.1/9994', '10.0.0.1/9993', 'fd00::1/9993', '2001:db8::5/1'].map(
    (s) => parseInetAddress(s)!,
  );
  const roots = sortRoots([
    { identity: b, stableEndpoints: eps },
    { identity: a, stableEndpoints: eps.slice(0, 2) },
  ]);
  t.true(roots[0]!.identity.address < roots[1]!.identity.address);
  const w = makeWorld(
    { type: WORLD_TYPE_PLANET, id: 0xdeadbeefn, timestamp: 1n, updatesMustBeSignedBy: kp.publicKey, roots },
    kp,
  );
  const bytes = serializeWorld(w);
  const back = parseWorld(bytes);
  t.true(verifyWorldSignature(back));
  t.is(toHex(serializeWorld(back)), toHex(bytes));
  t.false(back.roots[0]!.identity.hasPrivate);
  // IPv4 before IPv6; ZeroTier's (little-endian raw) port order: 9993 (0x2709) sorts after 9994 (0x270a)? raw
  // values are 0x0927 and 0x0a27, so 9993 comes first.
  const sorted = roots.find((r) => r.stableEndpoints.length === 5)!.stableEndpoints.map(formatInetAddress);
  t.deepEqual(sorted, ['10.0.0.1/9993', '10.0.0.2/9993', '10.0.0.1/9994', '2001:db8::5/1', 'fd00::1/9993']);
  t.throws(() => serializeWorld({ ...w, roots: [...roots, ...roots, { identity: a, stableEndpoints: [] }] }));
});

test('inet address (the shared codec) as worlds use it: text forms and the ZeroTier sort order', (t) => {
  const v4 = parseInetAddress('10.99.0.1/9993')!;
  t.is(toHex(serializeInetAddress(v4)), '040a6300012709');
  const v6 = parseInetAddress('fd00::1/9993')!;
  t.is(toHex(serializeInetAddress(v6)), `06fd00${'00'.repeat(13)}012709`);
  const r = readInetAddress(serializeInetAddress(v6));
  t.true(r.ok && r.length === 19 && formatInetAddress(r.address!) === 'fd00::1/9993');
  for (const s of [
    '::/0',
    '::1/1',
    '::ffff:1.2.3.4/5',
    '::1.2.3.4/6',
    '1:2:3:4:5:6:7:8/65535',
    '2001:db8::1:0:0:1/9',
  ]) {
    t.is(formatInetAddress(parseInetAddress(s)!), s);
  }
  t.is(formatInetAddress(parseInetAddress('2001:DB8:0:0:1:0:0:1/9')!), '2001:db8::1:0:0:1/9');
  t.is(formatInetAddress(parseInetAddress('1:0:0:4:5:0:0:8/1')!), '1::4:5:0:0:8/1');
  t.is(formatInetAddress(parseInetAddress('1:2:3:4:5:6:0:0/1')!), '1:2:3:4:5:6::/1');
  for (const s of [
    '1.2.3/4',
    '1.2.3.256/4',
    '1.2.3.4/65536',
    '1.2.3.4',
    'host/1',
    '1::2::3/4',
    '1:2:3:4:5:6:7:8:9/1',
    '',
  ]) {
    t.is(parseInetAddress(s), undefined, s);
  }
  t.true(compareInetAddress(v4, v6) < 0);
  t.is(compareInetAddress(v4, parseInetAddress('10.99.0.1/9993')!), 0);
  // A world with a null endpoint (00) decodes without it; a malformed one is refused.
  const w = parseWorld(v1bytes);
  t.is(w.roots[0]!.stableEndpoints.length, 1);
});
