// TCP loss recovery between two stacks (lwip/patches/tcp-loss-recovery.diff and the loss probe in
// lwip/glue/tcp.c): losses are repaired in round trips, not by lwIP's RTO (400-600 ms in 200 ms ticks, then slow
// start from one segment and everything in flight sent again). Each test checks the counters that tell which
// mechanism repaired the loss; the data arrives intact in every case.
import test from 'ava';
import { connectPair, makePair, type Pair, pattern, pump, sha256 } from './_pair.js';

/** The TCP header of an IPv4 frame: [offset of the TCP header, payload length], or undefined for others. */
function tcp4(f: Uint8Array): [number, number] | undefined {
  if (f.length < 14 + 20 + 20 || f[12] !== 0x08 || f[13] !== 0x00 || f[14 + 9] !== 6) return undefined;
  const ihl = (f[14]! & 0x0f) * 4;
  const total = (f[16]! << 8) | f[17]!;
  const at = 14 + ihl;
  const dataOff = (f[at + 12]! >> 4) * 4;
  return [at, total - ihl - dataOff];
}

/** One-way transfer a → b of `data`: what b received, how long it took, a's retransmission counters. */
async function oneWay(p: Pair, data: Uint8Array) {
  const { client, server } = await connectPair(p, 4, 5001);
  const t0 = performance.now();
  const [received] = await Promise.all([pump(server, new Uint8Array(0)), pump(client, data)]);
  return { received, ms: performance.now() - t0, counters: p.a.debugCounters() };
}

test('a lost ACK is repaired by a loss probe, not by the RTO', async (t) => {
  const p = makePair(2800);
  try {
    // b acknowledges the client's first flight with one ACK (output coalescing): losing it leaves the sender
    // with its window in flight and nothing to clock it.
    let dropped = 0;
    p.link.transform = (f, dir) => {
      const h = dir === 'ba' ? tcp4(f) : undefined;
      if (h && dropped === 0 && h[1] === 0 && f[h[0] + 13] === 0x10) {
        const sent = p.a.stats().bytesOut;
        if (sent > 8192) {
          dropped++;
          return undefined;
        }
      }
      return f;
    };
    const data = pattern(256 * 1024, 3);
    const r = await oneWay(p, data);
    t.is(dropped, 1, 'one ACK was dropped');
    t.is(r.received.length, data.length);
    t.is(r.received.hash, sha256(data));
    t.log(`256 KiB with one ACK lost: ${r.ms.toFixed(0)} ms, counters ${JSON.stringify(r.counters)}`);
    t.true(r.counters.probes >= 1, 'a loss probe went out');
    t.is(r.counters.rto, 0, 'no retransmission timeout');
  } finally {
    p.close();
  }
});

test('three segments lost from one window: NewReno repairs each on its partial ACK, no RTO', async (t) => {
  const p = makePair(2800);
  try {
    // In steady state (after 120 data segments), segments 0, 2 and 4 of the next ones are lost: Reno leaves
    // recovery on the first partial ACK and the two later holes wait for the RTO (or a probe each).
    let data = 0;
    const lost: number[] = [];
    p.link.transform = (f, dir) => {
      const h = dir === 'ab' ? tcp4(f) : undefined;
      if (h && h[1] > 0) {
        const n = data++;
        if (n >= 120 && n <= 124 && (n - 120) % 2 === 0 && lost.length < 3) {
          lost.push(n);
          return undefined;
        }
      }
      return f;
    };
    const payload = pattern(4 * 1024 * 1024, 4);
    const r = await oneWay(p, payload);
    t.deepEqual(lost, [120, 122, 124]);
    t.is(r.received.hash, sha256(payload));
    t.log(`4 MiB with 3 segments of one window lost: ${r.ms.toFixed(0)} ms, counters ${JSON.stringify(r.counters)}`);
    t.is(r.counters.rto, 0, 'no retransmission timeout');
    // The first hole goes on the duplicate ACKs, the next two on partial ACKs (one of them may go on a loss
    // probe instead when the machine is too busy to answer within twice the round trip).
    t.true(r.counters.partial >= 1, `segments sent again on a partial ACK: ${r.counters.partial}`);
  } finally {
    p.close();
  }
});

test('3% loss both ways: 4 MiB arrive intact three times over, with few RTOs', async (t) => {
  let rtos = 0;
  const lines: string[] = [];
  for (const seed of [7, 8, 9]) {
    const p = makePair(2800, { drop: 0.03 }, seed);
    try {
      const payload = pattern(4 * 1024 * 1024, seed);
      const r = await oneWay(p, payload);
      t.is(r.received.hash, sha256(payload));
      rtos += r.counters.rto;
      lines.push(
        `seed ${seed}: ${((4 * 1.048576) / (r.ms / 1000)).toFixed(1)} MB/s, ${p.link.counters.ab.dropped} + ${p.link.counters.ba.dropped} frames lost, counters ${JSON.stringify(r.counters)}`,
      );
    } finally {
      p.close();
    }
  }
  t.log(lines.join('\n'));
  // Measured: 3 RTOs in all three, 3-9 MB/s (lwIP alone: 28 RTOs, 0.7-1.4 MB/s). Most of what is left is a
  // retransmission lost again, which only a timeout can find without SACK.
  t.true(rtos <= 6, `RTOs: ${rtos}`);
});
