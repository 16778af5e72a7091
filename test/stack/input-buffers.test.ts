// Frames are not copied out of the stack's input buffer: lwIP works on them in place, and a buffer holding
// frames lwIP keeps (IP fragments awaiting the rest, out-of-order TCP segments) is set aside while the next
// batches go elsewhere. Here fragments arrive one batch at a time, with batches of other traffic between them
// that would overwrite a buffer still in use.
import test from 'ava';
import { makePair, pattern, sha256, until } from './_pair.js';

function isFragment(f: Uint8Array): boolean {
  if (f[12] === 0x08 && f[13] === 0x00) return (f[20]! & 0x3f) !== 0 || f[21] !== 0;
  return f[12] === 0x86 && f[13] === 0xdd && f[20] === 44;
}

/** The last fragment of a datagram (more-fragments clear, offset not zero). */
function isLastFragment(f: Uint8Array): boolean {
  if (f[12] === 0x08) return (f[20]! & 0x20) === 0 && ((f[20]! & 0x1f) !== 0 || f[21] !== 0);
  return (f[57]! & 1) === 0;
}

for (const family of [4, 6] as const) {
  test(`IPv${family}: fragments kept across later batches reassemble intact`, async (t) => {
    const p = makePair(1500);
    const B = family === 4 ? '10.7.0.2' : 'fd07::2';
    try {
      const server = p.b.udpOpen({ family, address: '', port: 9100 });
      const client = p.a.udpOpen({ family, address: '', port: 0 });
      const got: Uint8Array[] = [];
      server.onMessage = (d) => got.push(d.slice());
      // Resolve the neighbour first, so the datagrams below leave at once.
      client.sendTo(new Uint8Array(8), { family, address: B, port: 9100 });
      await until(() => got.length === 1, 'the first datagram');
      got.length = 0;
      const held: Uint8Array[] = [];
      p.link.transform = (f, dir) => {
        if (dir === 'ab' && isFragment(f)) {
          held.push(f.slice());
          return undefined;
        }
        return f;
      };
      const datagrams = [pattern(20000, 1), pattern(30001, 2), pattern(9000, 3)];
      for (const d of datagrams) client.sendTo(d, { family, address: B, port: 9100 });
      await until(() => held.filter(isLastFragment).length === 3, 'every fragment of the three datagrams held');
      p.link.transform = undefined;
      t.true(held.length >= 40, `${held.length} fragments held`);
      // Interleave the three datagrams' fragments; between any two, a batch of 64 frames for another host
      // (written over the input buffer from its start, then dropped).
      const order = held.map((f, i) => ({ f, k: (i * 7919) % held.length })).sort((x, y) => x.k - y.k);
      const junk = pattern(1400, 9);
      junk.set([2, 0, 0x5e, 0, 0, 0x77], 0);
      const notForUs = p.b.stats().drops.notForUs;
      for (const { f } of order) {
        p.b.input([f]);
        p.b.input(Array.from({ length: 64 }, () => junk));
      }
      await until(() => got.length === 3, 'the three datagrams reassembled');
      t.is(p.b.stats().drops.notForUs - notForUs, 64 * held.length);
      t.deepEqual(got.map(sha256).sort(), datagrams.map(sha256).sort());
    } finally {
      p.close();
    }
  });
}
