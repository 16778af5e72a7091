// The data path's buffer slab: zeroed, disjoint, aligned regions; big requests get their own buffer.
import test from 'ava';
import { Slab } from '../../service/core/slab.js';

test('slab regions are zeroed, disjoint and 8-byte aligned, across block boundaries', (t) => {
  const slab = new Slab(4096);
  const seen: Uint8Array[] = [];
  for (let i = 0; i < 200; i++) {
    const n = 1 + ((i * 37) % 1000);
    const r = slab.take(n);
    t.is(r.length, n);
    t.is(r.byteOffset % 8, 0);
    t.true(
      r.every((b) => b === 0),
      'a region starts zeroed',
    );
    r.fill(0xa5);
    seen.push(r);
  }
  // Writing every region left all the others intact: no two overlap.
  for (const r of seen) t.true(r.every((b) => b === 0xa5));
});

test('a request over a quarter block gets its own buffer', (t) => {
  const slab = new Slab(4096);
  const small = slab.take(16);
  const big = slab.take(2000);
  t.not(big.buffer, small.buffer);
  t.is(big.byteOffset, 0);
});
