// Bad frames (truncated, oversized, garbage, corrupted) are counted as drops and never throw.
import test from 'ava';
import { Stack } from '../../netcon/stack.js';
import { connectPair, mac, makePair, sendAll } from './_pair.js';

function rng(seed: number) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

test('truncated, oversized and garbage frames are dropped and counted', (t) => {
  const s = new Stack({ mac: mac(5), mtu: 1500, addresses: [{ address: '10.1.0.5', prefix: 24 }], routes: [] });
  try {
    const before = Stack.totalDrops(s.stats());
    const r = rng(42);
    const frames: Uint8Array[] = [];
    // truncated: shorter than an Ethernet header
    for (let n = 0; n < 14; n++) frames.push(new Uint8Array(n));
    // oversized: more than MTU + header
    frames.push(new Uint8Array(1515), new Uint8Array(9000), new Uint8Array(70000));
    // garbage addressed to us (our MAC), with every kind of ethertype
    const garbage = 500;
    for (let i = 0; i < garbage; i++) {
      const f = new Uint8Array(14 + Math.floor(r() * 1400));
      for (let j = 0; j < f.length; j++) f[j] = Math.floor(r() * 256);
      f.set(i % 2 === 0 ? mac(5) : [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
      if (i % 5 === 1) f.set([0x08, 0x00], 12); // "IPv4"
      if (i % 5 === 2) f.set([0x86, 0xdd], 12); // "IPv6"
      if (i % 5 === 3) f.set([0x08, 0x06], 12); // "ARP"
      frames.push(f);
    }
    // not for us: another unicast MAC
    frames.push(new Uint8Array([2, 9, 9, 9, 9, 9, ...mac(7), 0x08, 0x00, ...new Uint8Array(40)]));
    t.notThrows(() => s.input(frames));
    t.notThrows(() => {
      for (const f of frames.slice(0, 30)) s.input([f]);
    });
    const st = s.stats();
    t.is(st.drops.truncated, 28);
    t.is(st.drops.oversized, 6);
    t.is(st.drops.notForUs, 1);
    const total = Stack.totalDrops(st) - before;
    t.log(JSON.stringify(st.drops));
    t.true(total >= 14 * 2 + 3 * 2 + garbage + 1, `every bad frame counted (${total})`);
    t.is(st.framesIn, garbage + 1 + 30 - 17, 'frames that reached the stack');
  } finally {
    s.close();
  }
});

test('malformed packed batches are dropped, never thrown', (t) => {
  const s = new Stack({ mac: mac(5), mtu: 1500, addresses: [{ address: '10.1.0.5', prefix: 24 }], routes: [] });
  try {
    const packed = new Uint8Array(64);
    const dv = new DataView(packed.buffer);
    dv.setUint32(0, 0xffffff00, true); // a length far past the batch
    t.notThrows(() => s.inputPacked(packed, 3));
    dv.setUint32(0, 20, true); // then records that claim more than there is
    dv.setUint32(24, 5000, true);
    t.notThrows(() => s.inputPacked(packed, 50));
    t.notThrows(() => s.inputPacked(new Uint8Array(0), 10));
    const st = s.stats();
    t.true(st.drops.oversized + st.drops.truncated >= 2, JSON.stringify(st.drops));
  } finally {
    s.close();
  }
});

test('the SIMD checksum (with and without copying) equals the plain 16-bit sum at every alignment and length', (t) => {
  const s = new Stack({ mac: mac(6), mtu: 1500, addresses: [{ address: '10.1.0.6', prefix: 24 }], routes: [] });
  try {
    for (const seed of [1, 0x5eed, 0x7fffffff]) t.is(s.api.nc_chksum_selftest(seed), 0, `seed ${seed}`);
  } finally {
    s.close();
  }
});

test('a TCP stream survives corrupted frames (checksums) in both directions', async (t) => {
  const p = makePair(1500);
  try {
    const { client, server } = await connectPair(p, 4, 9000);
    // Corrupt every 40th frame from a to b: flip a payload byte (the checksum catches it).
    let n = 0;
    p.link.transform = (f, dir) => {
      if (dir !== 'ab' || ++n % 40 !== 0 || f.length < 100) return f;
      const c = f.slice();
      c[c.length - 10]! ^= 0x55;
      return c;
    };
    const data = new Uint8Array(256 * 1024).map((_, i) => i * 7);
    const got: Uint8Array[] = [];
    let len = 0;
    const done = new Promise<void>((resolve) => {
      server.handlers = {
        onData(c) {
          got.push(c);
          len += c.length;
          server.consumed(c.length);
          if (len === data.length) resolve();
        },
      };
    });
    sendAll(client, data);
    await done;
    t.deepEqual(Buffer.concat(got), Buffer.from(data));
    t.true(p.b.stats().drops.badChecksum > 0);
  } finally {
    p.close();
  }
});
