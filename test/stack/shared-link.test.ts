// The thread link: the SharedArrayBuffer ring (wrap-around, full ring) and two stacks talking through it.
import test from 'ava';
import { attachSharedLink, SharedRing } from '../../netcon/shared-link.js';
import { Stack } from '../../netcon/stack.js';
import { mac, pattern, sendAll, sha256 } from './_pair.js';

test('ring: batches of every size survive wrap-around in order; a full ring drops and counts', (t) => {
  const ring = new SharedRing(20000);
  let seq = 0;
  let expect = 0;
  for (let round = 0; round < 300; round++) {
    for (let k = 0; k < 3; k++) {
      const len = (round * 37 + k * 101) % 3000;
      const b = new Uint8Array(len).fill(seq & 0xff);
      t.true(ring.push(b, seq));
      seq++;
    }
    ring.drain((p, count) => {
      t.is(count, expect);
      t.true(p.every((x) => x === (expect & 0xff)));
      expect++;
    });
  }
  t.is(expect, seq);
  let pushed = 0;
  while (ring.push(new Uint8Array(1000), 0)) pushed++;
  t.true(pushed >= 17 && pushed <= 20, `${pushed}`);
  t.is(ring.drops, 1);
});

test('two stacks over SharedRings: ping and 8 MiB of TCP', async (t) => {
  const mk = (n: number) =>
    new Stack({ mac: mac(n), mtu: 2800, addresses: [{ address: `10.9.0.${n}`, prefix: 24 }], routes: [] });
  const a = mk(1);
  const b = mk(2);
  const ab = new SharedRing(4 * 1024 * 1024);
  const ba = new SharedRing(4 * 1024 * 1024);
  const la = attachSharedLink(a, ab, ba);
  const lb = attachSharedLink(b, ba, ab);
  try {
    t.true((await a.ping('10.9.0.2')) >= 0);
    const data = pattern(8 * 1024 * 1024, 9);
    const got: Uint8Array[] = [];
    const done = new Promise<void>((resolve) => {
      b.tcpListen({ family: 4, address: '', port: 1 }, {}, (s) => {
        s.handlers = {
          onData(c) {
            got.push(c);
            s.consumed(c.length);
          },
          onEnd: resolve,
        };
      });
    });
    const c = await a.connect({ family: 4, address: '10.9.0.2', port: 1 });
    sendAll(c, data, () => c.shutdown());
    await done;
    t.is(sha256(got), sha256(data));
  } finally {
    la.stop();
    lb.stop();
    a.close();
    b.close();
  }
});
