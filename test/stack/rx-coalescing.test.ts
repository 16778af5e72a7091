// Receive coalescing: consecutive in-order frames of one TCP stream in a batch go to lwIP as one segment. Runs
// are merged on trusted in-process links and, after each frame's checksums are verified, on any link; a
// corrupted frame is never merged (lwIP drops it); out of order nothing is merged, so each frame still earns
// its duplicate ACK; and a merged run is acknowledged at once, as several segments would be.
import test from 'ava';
import { makePair, pattern, pump, sha256 } from './_pair.js';

async function transfer(p: ReturnType<typeof makePair>, family: 4 | 6, size: number): Promise<boolean> {
  const data = pattern(size, family);
  const got = new Promise<string>((resolve, reject) => {
    p.b.tcpListen({ family, address: '', port: 7300 }, {}, (s) => {
      pump(s, new Uint8Array(0)).then((r) => resolve(r.hash), reject);
    });
  });
  const c = await p.a.connect({ family, address: family === 4 ? '10.7.0.2' : 'fd07::2', port: 7300 });
  const sent = pump(c, data);
  const ok = (await got) === sha256(data);
  await sent;
  return ok;
}

for (const family of [4, 6] as const) {
  test(`IPv${family}: a trusted link's bulk stream arrives intact, mostly in merged runs`, async (t) => {
    const p = makePair(2800);
    try {
      t.true(await transfer(p, family, 16 * 1024 * 1024));
      const s = p.b.stats();
      t.true(s.tcpCoalesced > s.framesIn / 2, `${s.tcpCoalesced} of ${s.framesIn} frames merged`);
    } finally {
      p.close();
    }
  });

  test(`IPv${family}: on a verified link frames are merged after their checksums are checked; a corrupted one is not`, async (t) => {
    const p = makePair(2800);
    let n = 0;
    p.link.transform = (f, dir) => {
      if (dir !== 'ab' || ++n % 50 !== 0 || f.length < 1000) return f;
      const c = f.slice();
      c[c.length - 7]! ^= 0x20; // payload: only the TCP checksum catches it
      return c;
    };
    try {
      t.true(await transfer(p, family, 8 * 1024 * 1024));
      const s = p.b.stats();
      t.true(s.drops.badChecksum > 0, `${s.drops.badChecksum} corrupted frames dropped`);
      t.true(s.tcpCoalesced > 0, `${s.tcpCoalesced} frames merged`);
    } finally {
      p.close();
    }
  });
}
