// The native crypto part: key derivation, the worked examples of PROTOCOL-VL1.md §9 byte for byte, our
// Salsa20/12 against libsodium's, Poly1305 against RFC 8439, armor/dearmor round trips for every suite and
// length, tampering, batches, and LZ4 bounds.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import {
  aesKeysOf,
  armor,
  armorBatch,
  createPeerKey,
  cryptField,
  DearmorError,
  dearmor,
  dearmorBatch,
  lz4Compress,
  lz4Decompress,
  type PeerKey,
  poly1305,
  salsa2012Xor,
  salsa2012XorReference,
} from '../../service/core/crypto.js';
import { fromHex, toHex } from '../../service/core/wire.js';
import { loadSharedKeys } from '../helpers/vl1-vectors.js';

const hex = (s: string) => fromHex(s.replace(/\s+/g, ''))!;
const pairs = loadSharedKeys();
const ra = pairs.find((p) => p.a === 0x29077f37cd && p.b === 0x664dc8ba71)!;
const keyRA = createPeerKey(ra.key48);

test('K0/K1 (KBKDF HMAC-SHA-384) match shared-keys.txt for every pair', (t) => {
  t.is(pairs.length, 3);
  for (const p of pairs) {
    const k = aesKeysOf(createPeerKey(p.key48));
    t.is(toHex(k.subarray(0, 32)), toHex(p.k0));
    t.is(toHex(k.subarray(32, 64)), toHex(p.k1));
  }
  t.throws(() => createPeerKey(new Uint8Array(32)));
  t.throws(() => dearmor({} as PeerKey, new Uint8Array(40)), { instanceOf: TypeError }, 'not a key');
});

const golden0 = hex(`b12bd98b4adc2beb29077f37cd664dc8ba71000b6f1d3cd287504e010c010e00
  01000001a200460bab664dc8ba7100d8f8254762a76c3dc8451a4375c19d5d22
  d735901ded78ebf588bb36bbff7639c939284a0af51fc1975acaadc0ab1f10ac
  85265fec7eaf5225d7059474d4891800040a63000127090000000008eac90a00
  0001a200459617adab`);
const golden1 = hex(
  '3a525a794ff14ef5664dc8ba7129077f37cd88e1610ce474797455f8b6f6deac0e7bd9a3d5e0e402b2a45fd03df6a93e431e734c63ab5875741528',
);
const golden4 = hex('d2cf0ec61d1f243329077f37cd664dc8ba7118f5a270d6e92a3b8636389e5b2e61');

test('§9.1 golden#0 HELLO (suite 0): authenticates, tail decrypts to 0000, re-armors exactly', (t) => {
  const b = golden0.slice();
  t.is(dearmor(keyRA, b), 0);
  t.is(toHex(b), toHex(golden0), 'suite 0 does not encrypt');
  cryptField(keyRA, b, 0, 135, 2);
  t.is(toHex(b.subarray(135)), '0000');
  cryptField(keyRA, b, 0, 135, 2);
  b.fill(0, 19, 27);
  armor(keyRA, b, 0);
  t.is(toHex(b), toHex(golden0));
});

test('§9.2 golden#1 OK(HELLO) (suite 1): authenticates, decrypts, re-armors exactly', (t) => {
  const b = golden1.slice();
  t.is(dearmor(keyRA, b), 1);
  t.is(toHex(b.subarray(27)), '0301b12bd98b4adc2beb000001a200460bab0c010e0001040a63000227090000');
  armor(keyRA, b, 1);
  t.is(toHex(b), toHex(golden1));
});

test('§9.3 golden#4 WHOIS (suite 3): authenticates, decrypts, re-armors exactly from the inner IV', (t) => {
  const b = golden4.slice();
  t.is(dearmor(keyRA, b), 3);
  t.is(toHex(b.subarray(27)), '0429077f37cd');
  t.is(toHex(b.subarray(0, 8)), 'd2cf0ec61d1f2433', 'the wire ID stays in place');
  b.set(hex('632b431cef3988dc'), 0);
  armor(keyRA, b, 3);
  t.is(toHex(b), toHex(golden4));
});

test('our Salsa20/12 equals libsodium for many lengths and keeps counting across blocks', (t) => {
  for (const len of [0, 1, 31, 63, 64, 65, 127, 128, 1000, 4097]) {
    const key = randomBytes(32);
    const nonce = randomBytes(8);
    const data = randomBytes(len);
    const a = Uint8Array.from(data);
    const b = Uint8Array.from(data);
    salsa2012Xor(key, nonce, a);
    salsa2012XorReference(key, nonce, b);
    t.is(toHex(a), toHex(b), `len ${len}`);
  }
  const key = randomBytes(32);
  const nonce = randomBytes(8);
  const ref = new Uint8Array(64 * 5);
  salsa2012XorReference(key, nonce, ref);
  const from2 = new Uint8Array(64 * 3);
  salsa2012Xor(key, nonce, from2, 2);
  t.is(toHex(from2), toHex(ref.subarray(128)), 'starting counter');
  // The 8-block (AVX2) path against the block-at-a-time path, from odd counters and across a 32-bit carry.
  for (const start of [0, 2, 7, 0xfffffffc]) {
    const long = new Uint8Array(64 * 21 + 5);
    salsa2012Xor(key, nonce, long, start);
    const pieces = new Uint8Array(long.length);
    for (let b = 0; b * 64 < pieces.length; b++) {
      const chunk = pieces.subarray(b * 64, b * 64 + 64);
      salsa2012Xor(key, nonce, chunk, start + b);
    }
    t.is(toHex(long), toHex(pieces), `counter ${start}`);
  }
});

test('Poly1305: RFC 8439 §2.5.2 vector', (t) => {
  const key = hex('85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b');
  const tag = poly1305(key, new TextEncoder().encode('Cryptographic Forum Research Group'));
  t.is(toHex(tag), 'a8061dc1305136c6c22b8baf0c0127a9');
});

function packet(len: number, fill?: Uint8Array): Uint8Array {
  const b = fill ? Uint8Array.from(fill) : new Uint8Array(randomBytes(len));
  b.set(hex('29077f37cd664dc8ba71'), 8);
  b[18] = 0;
  return b;
}

test('armor then dearmor round-trips for suites 0, 1 and 3 at every interesting length', (t) => {
  for (const suite of [0, 1, 3] as const) {
    for (const len of [28, 29, 43, 44, 91, 92, 100, 1432, 2800, 9928, 10024]) {
      const plain = packet(len);
      const b = plain.slice();
      armor(keyRA, b, suite);
      t.is(b[18]! & 0x38, suite << 3, 'suite bits');
      t.is(b[18]! & 0x80, suite === 1 ? 0x80 : 0, 'legacy encrypted bit only for suite 1');
      if (suite !== 0) t.not(toHex(b.subarray(27)), toHex(plain.subarray(27)), 'encrypted');
      t.is(dearmor(keyRA, b), suite, `suite ${suite} len ${len}`);
      t.is(toHex(b.subarray(27)), toHex(plain.subarray(27)));
      t.is(toHex(b.subarray(8, 18)), toHex(plain.subarray(8, 18)));
    }
  }
});

test('hops are outside the MAC; every other bit is inside it; a rejected packet is left as received', (t) => {
  for (const suite of [0, 1, 3] as const) {
    const b = packet(120);
    armor(keyRA, b, suite);
    const wire = b.slice();
    const relayed = wire.slice();
    relayed[18] = (relayed[18]! & ~7) | 2;
    t.is(dearmor(keyRA, relayed), suite, 'hops changed: still authentic');
    for (let i = 0; i < wire.length; i++) {
      for (const bit of [0x01, 0x80]) {
        if (i === 18 && bit === 0x01) continue; // hops
        const x = wire.slice();
        x[i]! ^= bit;
        const r = dearmor(keyRA, x);
        t.true(r < 0, `suite ${suite}: flipping bit ${bit} of byte ${i} is rejected`);
        if (r === DearmorError.BAD_MAC) t.is(toHex(x), toHex(Uint8Array.from(wire, (v, j) => (j === i ? v ^ bit : v))));
      }
    }
    const other = createPeerKey(pairs[1]!.key48);
    t.is(dearmor(other, wire.slice()), DearmorError.BAD_MAC, 'wrong key');
  }
  t.is(dearmor(keyRA, new Uint8Array(27)), DearmorError.LENGTH);
  const trusted = packet(40);
  trusted[18] = 0x10;
  t.is(dearmor(keyRA, trusted), DearmorError.UNSUPPORTED_CIPHER);
  t.throws(() => armor(keyRA, new Uint8Array(20), 3));
});

test('batch armor/dearmor: one call for many packets, mixed keys and suites, equals the single calls', (t) => {
  const keys: PeerKey[] = pairs.map((p) => createPeerKey(p.key48));
  const n = 64;
  const lens = new Uint32Array(n);
  const offs = new Uint32Array(n);
  const suites = new Uint8Array(n);
  const perKey: PeerKey[] = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    lens[i] = 28 + ((i * 97) % 3000);
    offs[i] = total;
    total += lens[i]! + 3; // gaps between packets
    suites[i] = [0, 1, 3][i % 3]!;
    perKey.push(keys[i % keys.length]!);
  }
  const buf = new Uint8Array(randomBytes(total));
  const original = buf.slice();
  const single = buf.slice();
  t.is(armorBatch(perKey, buf, offs, lens, suites), 0);
  for (let i = 0; i < n; i++) {
    armor(perKey[i]!, single, suites[i] as 0 | 1 | 3, offs[i]!, lens[i]!);
  }
  t.is(toHex(buf), toHex(single), 'batch equals one call per packet');
  const results = new Int32Array(n);
  t.is(dearmorBatch(perKey, buf, offs, lens, results), n);
  t.deepEqual([...results], [...suites]);
  for (let i = 0; i < n; i++) {
    const a = offs[i]!;
    t.is(toHex(buf.subarray(a + 27, a + lens[i]!)), toHex(original.subarray(a + 27, a + lens[i]!)));
  }
  // One key for all, one suite for all; one packet tampered.
  const one = new Uint8Array(randomBytes(total));
  t.is(armorBatch(keys[0]!, one, offs, lens, 3), 0);
  one[offs[5]! + 30]! ^= 1;
  t.is(dearmorBatch(keys[0]!, one, offs, lens, results), n - 1);
  t.is(results[5], DearmorError.BAD_MAC);
  // Out-of-range entries are reported, not thrown.
  const badOffs = Uint32Array.from([0, total]);
  const badLens = Uint32Array.from([10, 100]);
  t.is(dearmorBatch(keys[0]!, one, badOffs, badLens, results, 2), 0);
  t.deepEqual([...results.subarray(0, 2)], [DearmorError.LENGTH, DearmorError.LENGTH]);
});

test('LZ4 raw blocks: round trip, bounded output, malformed input rejected', (t) => {
  const text = new TextEncoder().encode('v=0000000000000007\nvend=0000000000000001\n'.repeat(40));
  const out = new Uint8Array(text.length);
  const n = lz4Compress(text, out);
  t.true(n > 0 && n < text.length / 4);
  const block = out.subarray(0, n);
  const back = new Uint8Array(10000);
  t.is(lz4Decompress(block, back), text.length);
  t.is(toHex(back.subarray(0, text.length)), toHex(text));
  t.is(lz4Decompress(block, new Uint8Array(text.length - 1)), -1, 'never writes past the bound');
  t.is(lz4Compress(new Uint8Array(randomBytes(500)), new Uint8Array(400)), 0, 'incompressible: does not fit');
  for (let i = 0; i < 2000; i++) {
    const junk = new Uint8Array(randomBytes(1 + (i % 300)));
    const r = lz4Decompress(junk, back, 0, 9996);
    t.true(r >= -1 && r <= 9996);
  }
});
