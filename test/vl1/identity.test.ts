import { readFileSync } from 'node:fs';
import test from 'ava';
import {
  addressFromBytes,
  addressToBytes,
  addressToString,
  isReservedAddress,
  parseAddress,
} from '../../service/core/address.js';
import { c25519Agree, fromHex, sha512, toHex } from '../../service/core/c25519.js';
import {
  agree,
  deriveAddress,
  deserializeIdentity,
  formatIdentity,
  IDENTITY_PUBLIC_BINARY_LENGTH,
  IDENTITY_SECRET_BINARY_LENGTH,
  Identity,
  IdentityError,
  locallyValidate,
  memoryHardHash,
  memoryHardHashImplementation,
  memoryHardHashJs,
  parseIdentity,
  readIdentity,
  serializeIdentity,
  signWithIdentity,
  tryParseIdentity,
  validateIdentity,
  verifyWithIdentity,
  writeIdentity,
} from '../../service/core/identity.js';
import { newIdentity } from '../../service/random.js';

const vectors = new URL('../../../test/fixtures/vectors/identities/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, vectors), 'utf8');

interface VectorIdentity {
  name: string;
  address: string;
  public: string;
  secret: string;
}
const identities: VectorIdentity[] = JSON.parse(read('identities.json'));
const byName = new Map(identities.map((v) => [v.name, v]));

function keyValueLines(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.trim()) continue;
    const sp = line.indexOf(' ');
    m.set(line.slice(0, sp), line.slice(sp + 1).trim());
  }
  return m;
}

test('address helpers: hex, bytes, reserved', (t) => {
  const a = parseAddress('29077f37cd')!;
  t.is(a, 0x29077f37cd);
  t.is(addressToString(a), '29077f37cd');
  t.is(addressToString(0x1), '0000000001');
  t.deepEqual([...addressToBytes(a)], [0x29, 0x07, 0x7f, 0x37, 0xcd]);
  t.is(addressFromBytes(addressToBytes(0xfedcba9876)), 0xfedcba9876);
  t.is(addressFromBytes(new Uint8Array([9, 0xff, 0xff, 0xff, 0xff, 0xff]), 1), 0xffffffffff);
  t.true(isReservedAddress(0));
  t.true(isReservedAddress(0xff00000000));
  t.true(isReservedAddress(0xffffffffff));
  t.false(isReservedAddress(0xfeffffffff));
  t.false(isReservedAddress(1));
  t.is(parseAddress('xyz'), undefined);
  t.is(parseAddress('12345678901'), undefined);
  t.throws(() => addressFromBytes(new Uint8Array(4)));
});

test('memory-hard hash reproduces the full digest of node R', (t) => {
  const r = parseIdentity(byName.get('node-R')!.public);
  t.is(
    toHex(memoryHardHash(r.publicKey)),
    '0a28651f4a73c5d883181e304def75cb1599d519b1caedf26ffbb383f75602c6e6450099a0d64c8dc60201de76d3a9aca57f031bb3741d9da8710229077f37cd',
  );
});

test('the native and JavaScript memory-hard hashes agree (JS is the reference)', (t) => {
  const r = parseIdentity(byName.get('node-R')!.public);
  t.is(toHex(memoryHardHashJs(r.publicKey)), toHex(memoryHardHash(r.publicKey)));
  for (const v of identities.slice(3)) {
    const pub = parseIdentity(v.public).publicKey;
    t.is(toHex(memoryHardHashJs(pub)), toHex(memoryHardHash(pub)), v.name);
  }
  const zero = new Uint8Array(64);
  t.is(toHex(memoryHardHashJs(zero)), toHex(memoryHardHash(zero)));
  t.throws(() => memoryHardHash(new Uint8Array(63)), { instanceOf: RangeError });
  t.log(`memoryHardHash implementation: ${memoryHardHashImplementation}`);
  t.is(memoryHardHashImplementation, 'native', 'the addon (native/src/identity.cc) is built by ./build.sh');
});

test('every vector identity parses, validates and derives its address (public and secret forms)', (t) => {
  t.is(identities.length, 7);
  const expectedFirstByte: Record<string, number> = {
    'node-R': 10,
    'node-A': 8,
    'node-B': 11,
    id1: 2,
    id2: 15,
    id3: 1,
    id4: 12,
  };
  for (const v of identities) {
    const pub = parseIdentity(v.public);
    const sec = parseIdentity(v.secret);
    t.is(addressToString(pub.address), v.address, v.name);
    t.false(pub.hasPrivate);
    t.true(sec.hasPrivate);
    const d = deriveAddress(pub.publicKey);
    t.is(addressToString(d.address), v.address, `${v.name} derives its address`);
    t.is(d.digest[0], expectedFirstByte[v.name], `${v.name} D[0]`);
    t.true(d.acceptable);
    t.true(locallyValidate(pub));
    t.deepEqual(validateIdentity(pub), { valid: true }, v.name);
    t.deepEqual(validateIdentity(sec), { valid: true }, v.name);
    t.is(formatIdentity(pub), v.public);
    t.is(sec.toString(true), v.secret);
    t.is(sec.toString(), v.public);
    t.true(sec.toPublic().equals(pub));
  }
});

test('identities.txt and identities.json agree', (t) => {
  const lines = read('identities.txt')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'));
  t.is(lines.length, identities.length);
  for (const line of lines) {
    const [name, address, pub, sec] = line.split(' ');
    const v = byName.get(name!)!;
    t.deepEqual([address, pub, sec], [v.address, v.public, v.secret]);
  }
});

test('invalid vectors are rejected; the mismatched key pair only by our stricter check', (t) => {
  const cases = new Map<string, string>();
  for (const line of read('invalid-identities.txt').split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [name, text] = line.split(' ');
    cases.set(name!, text!);
  }
  const badPub = parseIdentity(cases.get('bad-pubkey')!);
  t.false(locallyValidate(badPub));
  const r1 = validateIdentity(badPub);
  t.false(r1.valid);
  t.is(r1.valid ? '' : r1.code, 'ADDRESS_MISMATCH');
  t.is(addressToString(deriveAddress(badPub.publicKey).address), '5b49216d2d');
  t.is(deriveAddress(badPub.publicKey).digest[0], 85);

  const badAddr = parseIdentity(cases.get('bad-address')!);
  t.false(locallyValidate(badAddr));
  const r2 = validateIdentity(badAddr);
  t.is(r2.valid ? '' : r2.code, 'ADDRESS_MISMATCH');

  const badPair = parseIdentity(cases.get('bad-keypair')!);
  t.true(locallyValidate(badPair), 'ZeroTier One calls it valid');
  const r3 = validateIdentity(badPair);
  t.false(r3.valid);
  t.is(r3.valid ? '' : r3.code, 'KEY_MISMATCH');
  t.regex(r3.valid ? '' : r3.reason, /private key does not match public key/);
  // Its public half alone is fine.
  t.true(validateIdentity(badPair.toPublic()).valid);
});

test('text parsing rejects malformed forms with typed errors', (t) => {
  const good = byName.get('id1')!.secret;
  const parts = good.split(':');
  const bad = [
    '',
    'fa8a9d3e5f:0',
    `${good}:00`,
    `fa8a9d3e5:0:${parts[2]}`,
    `fa8a9d3e5f:1:${parts[2]}`,
    `fa8a9d3e5f:0:${parts[2]!.slice(2)}`,
    `fa8a9d3e5f:0:${parts[2]}:abcd`,
    `fa8a9d3e5f:0:${parts[2]!.slice(0, -1)}g`,
  ];
  for (const s of bad) {
    const e = t.throws(() => parseIdentity(s), { instanceOf: IdentityError }, s);
    t.is(e?.code, 'PARSE', s);
    t.is(tryParseIdentity(s), undefined);
  }
  const reserved = t.throws(() => parseIdentity(`ff12345678:0:${parts[2]}`), { instanceOf: IdentityError });
  t.is(reserved?.code, 'RESERVED_ADDRESS');
  t.throws(() => parseIdentity(`0000000000:0:${parts[2]}`), { instanceOf: IdentityError });
  // Upper-case hex and surrounding whitespace are accepted; output is lower case.
  const upper = parseIdentity(`  ${good.toUpperCase().replace(':0:', ':0:')}\n`);
  t.is(upper.toString(true), good);
});

test('binary form: 71 bytes public, 135 with private, offsets and bytes consumed', (t) => {
  const v = byName.get('node-A')!;
  const sec = parseIdentity(v.secret);
  const pub = serializeIdentity(sec);
  t.is(pub.length, IDENTITY_PUBLIC_BINARY_LENGTH);
  t.is(toHex(pub.subarray(0, 6)), '664dc8ba7100');
  t.is(pub[70], 0);
  const full = serializeIdentity(sec, true);
  t.is(full.length, IDENTITY_SECRET_BINARY_LENGTH);
  t.is(full[70], 64);

  const buf = new Uint8Array(3 + 71 + 135 + 2);
  let p = 3;
  p += writeIdentity(sec, buf, p);
  p += writeIdentity(sec, buf, p, true);
  t.is(p, 3 + 71 + 135);
  const a = readIdentity(buf, 3);
  t.true(a.ok);
  if (!a.ok) return;
  t.is(a.length, 71);
  t.true(a.identity.equals(sec));
  t.false(a.identity.hasPrivate);
  const b = deserializeIdentity(buf, 3 + a.length);
  t.is(b.length, 135);
  t.is(b.identity.toString(true), v.secret);
});

test('binary form rejects truncation, unknown type, bad key length, reserved address', (t) => {
  const sec = parseIdentity(byName.get('node-B')!.secret);
  const full = serializeIdentity(sec, true);
  for (let n = 0; n < full.length; n++) {
    const r = readIdentity(full.subarray(0, n));
    t.false(r.ok, `truncated at ${n}`);
  }
  const badType = serializeIdentity(sec);
  badType[5] = 1;
  t.deepEqual(readIdentity(badType), { ok: false, error: 'unknown identity type' });
  const badLen = serializeIdentity(sec);
  badLen[70] = 32;
  t.deepEqual(readIdentity(badLen), { ok: false, error: 'bad private key length' });
  const reserved = serializeIdentity(sec);
  reserved[0] = 0xff;
  t.deepEqual(readIdentity(reserved), { ok: false, error: 'reserved address' });
  t.deepEqual(readIdentity(full, -1), { ok: false, error: 'truncated' });
  t.throws(() => deserializeIdentity(badType), { instanceOf: IdentityError });
  // Random mutations and lengths never throw.
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed;
  };
  for (let i = 0; i < 5000; i++) {
    const b = full.slice(0, rnd() % (full.length + 4));
    for (let k = 0; k < 3; k++) if (b.length) b[rnd() % b.length] = rnd() & 0xff;
    t.notThrows(() => readIdentity(b, rnd() % 3));
  }
});

test('signature vector: ours is byte-identical and verifies', (t) => {
  const sv = keyValueLines(read('signature.txt'));
  const msg = fromHex(sv.get('message_hex')!)!;
  t.is(Buffer.from(msg).toString(), 'ZeroTier test message for C25519 signatures\n');
  const signer = parseIdentity(byName.get('id1')!.secret);
  const sig = signWithIdentity(signer, msg);
  t.is(sig.length, 96);
  t.is(toHex(sig), sv.get('signature_hex')!);
  t.is(toHex(sig.subarray(64)), toHex(sha512(msg).subarray(0, 32)));
  const pub = parseIdentity(sv.get('signer_public')!);
  t.true(verifyWithIdentity(pub, msg, fromHex(sv.get('signature_hex')!)!));
  // Deterministic.
  t.is(toHex(signWithIdentity(signer, msg)), toHex(sig));
});

test('signature verification fails on any change', (t) => {
  const signer = parseIdentity(byName.get('id1')!.secret);
  const other = parseIdentity(byName.get('id2')!.public);
  const msg = new TextEncoder().encode('hello world');
  const sig = signWithIdentity(signer, msg);
  t.true(verifyWithIdentity(signer, msg, sig));
  t.false(verifyWithIdentity(other, msg, sig));
  t.false(verifyWithIdentity(signer, new TextEncoder().encode('hello worle'), sig));
  for (const i of [0, 31, 63, 64, 95]) {
    const bad = sig.slice();
    bad[i]! ^= 1;
    t.false(verifyWithIdentity(signer, msg, bad), `byte ${i}`);
  }
  t.false(verifyWithIdentity(signer, msg, sig.subarray(0, 95)));
  t.false(verifyWithIdentity(signer, msg, new Uint8Array(0)));
  const e = t.throws(() => signWithIdentity(signer.toPublic(), msg), { instanceOf: IdentityError });
  t.is(e?.code, 'NO_PRIVATE_KEY');
});

test('shared-keys vector: key agreement gives the 48-byte keys, symmetrically', (t) => {
  const text = read('shared-keys.txt');
  const pairs = [...text.matchAll(/pair \w+\((\w+)\) <-> \w+\((\w+)\)\n\s+key48 = ([0-9a-f]+)/g)];
  t.is(pairs.length, 3);
  const byAddr = new Map(identities.map((v) => [v.address, parseIdentity(v.secret)]));
  for (const [, a, b, key] of pairs) {
    const ia = byAddr.get(a!)!;
    const ib = byAddr.get(b!)!;
    t.is(toHex(agree(ia, ib)), key);
    t.is(toHex(agree(ib, ia.toPublic())), key);
    t.is(agree(ia, ib).length, 48);
  }
  const rawKeyHalf = parseIdentity(byName.get('node-R')!.secret);
  const nodeA = parseIdentity(byName.get('node-A')!.public);
  t.is(toHex(c25519Agree(rawKeyHalf.privateKey!, nodeA.publicKey)), pairs[0]![3]!);
  t.throws(() => agree(rawKeyHalf.toPublic(), rawKeyHalf), { instanceOf: IdentityError });
});

test('generated identities validate, sign, and round-trip through text and binary', (t) => {
  for (let i = 0; i < 2; i++) {
    let attempts = 0;
    const id = newIdentity({ onAttempt: (n) => (attempts = n) });
    t.true(attempts >= 1);
    t.true(id.hasPrivate);
    t.false(isReservedAddress(id.address));
    t.deepEqual(validateIdentity(id), { valid: true });
    t.true(locallyValidate(id.toPublic()));
    const again = parseIdentity(id.toString(true));
    t.is(again.toString(true), id.toString(true));
    const bin = deserializeIdentity(serializeIdentity(id, true));
    t.is(bin.identity.toString(true), id.toString(true));
    const msg = new Uint8Array([1, 2, 3]);
    t.true(verifyWithIdentity(id.toPublic(), msg, signWithIdentity(id, msg)));
  }
});

test('identity constructor rejects wrong lengths; compare orders by address then key', (t) => {
  t.throws(() => new Identity(1, new Uint8Array(63)), { instanceOf: IdentityError });
  t.throws(() => new Identity(1, new Uint8Array(64), new Uint8Array(1)), { instanceOf: IdentityError });
  t.throws(() => new Identity(2 ** 40, new Uint8Array(64)), { instanceOf: IdentityError });
  const a = new Identity(5, new Uint8Array(64).fill(2));
  const b = new Identity(5, new Uint8Array(64).fill(1));
  const c = new Identity(4, new Uint8Array(64).fill(9));
  t.deepEqual(
    [a, b, c].sort((x, y) => x.compare(y)),
    [c, b, a],
  );
});
