// The bounds-checked reader and the growing writer under the wire codecs.
import test from 'ava';
import { fromHex, toHex, WireReader, WireWriter } from '../../service/core/wire.js';

test('WireWriter grows across every write kind without losing bytes', (t) => {
  const w = new WireWriter(1);
  const expect: string[] = [];
  for (let i = 0; i < 50; i++) {
    w.u8(i);
    w.u16(0x0102 + i);
    w.u32(0xdeadbeef - i);
    w.u64(0x0102030405060708n + BigInt(i));
    w.address(0x29077f37cd + i);
    w.bytes(new Uint8Array([i, i, i]));
    expect.push(
      i.toString(16).padStart(2, '0'),
      (0x0102 + i).toString(16).padStart(4, '0'),
      (0xdeadbeef - i).toString(16).padStart(8, '0'),
      (0x0102030405060708n + BigInt(i)).toString(16).padStart(16, '0'),
      (0x29077f37cd + i).toString(16).padStart(10, '0'),
      i.toString(16).padStart(2, '0').repeat(3),
    );
  }
  t.is(toHex(w.finish()), expect.join(''));
  t.is(w.length, 50 * 23);
});

test('WireReader: reads in order, fails (never throws) past the end, views do not copy', (t) => {
  const b = fromHex('01 0203 04050607 08090a0b0c0d0e0f 29077f37cd aabb'.replace(/ /g, ''))!;
  const r = new WireReader(b);
  t.is(r.u8(), 1);
  t.is(r.u16(), 0x0203);
  t.is(r.u32(), 0x04050607);
  t.is(r.u64(), 0x08090a0b0c0d0e0fn);
  t.is(r.address(), 0x29077f37cd);
  const v = r.bytesView(2);
  t.is(v.buffer, b.buffer);
  t.false(r.failed);
  t.is(r.u8(), 0);
  t.true(r.failed);
  t.is(r.u64(), 0n);
  t.is(r.remaining, 0);
  const part = new WireReader(b, 2, 5);
  t.is(part.u16(), 0x0304);
  t.is(part.u16(), 0);
  t.true(part.failed);
  const odd = new WireReader(b, 100, -5);
  t.is(odd.remaining, 0);
  t.is(odd.bytesView(1).length, 0);
  t.true(odd.failed);
  t.is(fromHex('abc'), undefined);
  t.is(fromHex('zz'), undefined);
});
