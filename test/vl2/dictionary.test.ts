// The text Dictionary: ZeroTier's escaping and lookup, numbers read like strtoull, capacity limits, and a
// byte-exact round trip of the cached configs ZeroTier One 1.14.1 wrote (vectors/node-state).
import { readFileSync } from 'node:fs';
import test from 'ava';
import {
  CONFIG_DICT_CAPACITY,
  Dictionary,
  escapeValue,
  hexU64,
  parseHexI64,
  parseHexU64,
  unescapeValue,
} from '../../service/core/vl2/dictionary.js';
import { vectorPath } from '../helpers/vl1-vectors.js';

const enc = new TextEncoder();
const CONFS = ['nodeA-networks.d-29077f37cd90d431.conf', 'nodeB-networks.d-29077f37cd90d431.conf'];
const conf = (n: string) => new Uint8Array(readFileSync(vectorPath(`node-state/${n}`)));

test('escapes exactly the five bytes ZeroTier escapes', (t) => {
  const raw = Uint8Array.from([0x00, 0x0d, 0x0a, 0x5c, 0x3d, 0x41, 0xff, 0x80]);
  const esc = escapeValue(raw);
  t.is(Buffer.from(esc).toString('latin1'), '\\0\\r\\n\\\\\\eA\xff\x80');
  t.deepEqual(unescapeValue(esc), raw);
  // a backslash before any other byte yields that byte
  t.deepEqual(unescapeValue(enc.encode('\\x\\y')), enc.encode('xy'));
});

test('writes key=value lines joined by LF, no trailing LF', (t) => {
  const d = new Dictionary();
  t.true(d.addU64('v', 7));
  t.true(d.add('n', 'ztref'));
  t.true(d.addBool('ssoe', false));
  t.true(d.addAddress('id', 0x664dc8ba71));
  t.true(d.addI64('neg', -5));
  t.is(d.toString(), 'v=0000000000000007\nn=ztref\nssoe=0\nid=664dc8ba71\nneg=-0000000000000005');
  t.is(d.getU64('v'), 7n);
  t.is(d.getString('n'), 'ztref');
  t.false(d.getBool('ssoe', true));
  t.is(d.getAddress('id'), 0x664dc8ba71);
  t.is(d.getI64('neg'), -5n);
});

test('lookup: first exact key wins, prefixes do not match, CR also separates lines', (t) => {
  const d = Dictionary.fromString('ab=1\na=2\r\na=3\nb\nc=x\\ny');
  t.deepEqual(d.get('a'), enc.encode('2'));
  t.deepEqual(d.get('ab'), enc.encode('1'));
  t.is(d.get('b'), undefined);
  t.is(d.get('abc'), undefined);
  t.deepEqual(d.get('c'), enc.encode('x\ny'));
  t.true(d.has('c'));
  t.false(d.has('zz'));
  t.is(d.getU64('zz', 42n), 42n);
  t.deepEqual(
    d.entries().map(([k, v]) => [k, Buffer.from(v).toString()]),
    [
      ['ab', '1'],
      ['a', '2'],
      ['a', '3'],
      ['b', ''],
      ['c', 'x\ny'],
    ],
  );
});

test('a NUL ends the dictionary; capacity truncates what is loaded', (t) => {
  const d = Dictionary.from(Uint8Array.from([...enc.encode('a=1'), 0, ...enc.encode('\nb=2')]));
  t.is(d.length, 3);
  t.is(d.get('b'), undefined);
  const e = Dictionary.from(enc.encode('a=12345'), 6);
  t.is(e.toString(), 'a=123');
});

test('add refuses what would not fit below the capacity and leaves the dictionary unchanged', (t) => {
  const d = new Dictionary(16);
  t.true(d.add('a', '1234567890'));
  t.is(d.length, 12);
  t.false(d.add('b', '1'));
  t.is(d.length, 12);
  t.true(d.add('b', ''));
  t.is(d.toString(), 'a=1234567890\nb=');
  t.false(d.add('c', ''));
});

test('numbers read like strtoull/strtoll base 16', (t) => {
  t.is(parseHexU64('7'), 7n);
  t.is(parseHexU64('0000000000000af0'), 2800n);
  t.is(parseHexU64('  0x1F zz'), 31n);
  t.is(parseHexU64('ffffffffffffffff'), 0xffffffffffffffffn);
  t.is(parseHexU64('1ffffffffffffffff'), 0xffffffffffffffffn);
  t.is(parseHexU64('-1'), 0xffffffffffffffffn);
  t.is(parseHexU64('zz'), 0n);
  t.is(parseHexI64('-0000000000000005'), -5n);
  t.is(parseHexI64('8000000000000000'), 0x7fffffffffffffffn);
  t.is(parseHexI64('-8000000000000001'), -0x8000000000000000n);
  t.is(hexU64(2800), '0000000000000af0');
  t.is(hexU64(-1n), 'ffffffffffffffff');
  const d = Dictionary.fromString('b=true\nc=T\nd=0\ne=\nf=1');
  t.true(d.getBool('b'));
  t.true(d.getBool('c'));
  t.false(d.getBool('d'));
  t.false(d.getBool('e', true));
  t.true(d.getBool('f'));
  t.is(d.getU64('e', 9n), 9n);
});

for (const name of CONFS) {
  test(`cached config ${name}: entries re-serialize byte for byte`, (t) => {
    const bytes = conf(name);
    const d = Dictionary.from(bytes, CONFIG_DICT_CAPACITY);
    t.is(d.length, bytes.length);
    const keys = d.entries().map(([k]) => k);
    t.deepEqual(keys, [
      'v',
      'nwid',
      'ts',
      'ctmd',
      'r',
      'id',
      'tt',
      'tl',
      'f',
      'ml',
      't',
      'n',
      'mtu',
      'C',
      'COO',
      'RT',
      'I',
      'R',
      'DNS',
      'ssov',
      'ssoe',
    ]);
    const out = new Dictionary();
    for (const [k, v] of d.entries()) t.true(out.add(k, v));
    t.deepEqual(out.bytes(), bytes);
    t.is(d.get('C')!.length, 272);
    t.is(d.get('COO')!.length, 158);
    t.is(d.get('DNS')!.length, 132);
    t.is(d.getU64('nwid'), 0x29077f37cd90d431n);
  });
}

test('big dictionaries answer lookups from an index with the same results as the scan', (t) => {
  const d = new Dictionary();
  for (let i = 0; i < 40; i++) d.add(`k${i}`, `v${i}`);
  d.add('k3', 'second');
  d.add('', 'empty-key');
  const raw = Dictionary.from(new Uint8Array([...d.bytes(), ...enc.encode('\r\nodd line\na=b=c')]));
  t.true(raw.length >= 256);
  t.is(raw.getString('k3'), 'v3');
  t.is(raw.getString('k39'), 'v39');
  t.is(raw.getString(''), 'empty-key');
  t.is(raw.get('k40'), undefined);
  t.is(raw.getString('a'), 'b=c');
  t.is(raw.getString('a=b'), 'c', 'a key with = takes the scan');
  t.is(raw.get('odd line'), undefined);
  d.add('late', 'x');
  t.is(d.getString('late'), 'x', 'adding invalidates the index');
});

test('set replaces, delete removes every entry of a key', (t) => {
  const d = Dictionary.fromString('a=1\nb=x\\ny\na=2\nc=3');
  t.true(d.setU64('a', 9));
  t.is(d.toString(), 'b=x\\ny\nc=3\na=0000000000000009');
  t.true(d.delete('b'));
  t.false(d.delete('zz'));
  t.true(d.setBool('c', true));
  t.true(d.set('n', 'name'));
  t.true(d.setAddress('id', 0x664dc8ba71));
  t.is(d.toString(), 'a=0000000000000009\nc=1\nn=name\nid=664dc8ba71');
});
