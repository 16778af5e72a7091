// 64 MiB of TCP in each direction at once between two stacks, verified by SHA-256.
import test from 'ava';
import { Stack } from '../../netcon/stack.js';
import { connectPair, makePair, pattern, pump, sha256 } from './_pair.js';

const SIZE = 64 * 1024 * 1024;
const up = pattern(SIZE, 1);
const down = pattern(SIZE, 2);
const upHash = sha256(up);
const downHash = sha256(down);

async function bulk(t: import('ava').ExecutionContext, mtu: number, family: 4 | 6, faults = {}, size = SIZE) {
  const p = makePair(mtu, faults, 7);
  try {
    const { client, server } = await connectPair(p, family, 5001);
    const t0 = performance.now();
    const [atServer, atClient] = await Promise.all([
      pump(client, size === SIZE ? up : up.subarray(0, size)),
      pump(server, size === SIZE ? down : down.subarray(0, size)),
    ]);
    const ms = performance.now() - t0;
    t.is(atServer.length, size);
    t.is(atClient.length, size);
    t.is(atClient.hash, size === SIZE ? upHash : sha256(up.subarray(0, size)));
    t.is(atServer.hash, size === SIZE ? downHash : sha256(down.subarray(0, size)));
    const sa = p.a.stats();
    const sb = p.b.stats();
    t.log(
      `MTU ${mtu} IPv${family}: ${((2 * size) / 1e6 / (ms / 1000)).toFixed(0)} MB/s total in ${ms.toFixed(0)} ms; ` +
        `frames a→b ${sa.framesOut}, retransmits ${sa.tcpRetransmits}/${sb.tcpRetransmits}, link ${JSON.stringify(p.link.counters.ab)}`,
    );
    t.is(Stack.totalDrops(sa), 0);
    return { sa, sb };
  } finally {
    p.close();
  }
}

test.serial('64 MiB each way at once, MTU 1500, IPv4', async (t) => {
  await bulk(t, 1500, 4);
});

test.serial('64 MiB each way at once, MTU 2800, IPv4', async (t) => {
  await bulk(t, 2800, 4);
});

test.serial('64 MiB each way at once, MTU 2800, IPv6', async (t) => {
  await bulk(t, 2800, 6);
});

test.serial('64 MiB each way at once with 2% loss and 2% reordering, MTU 2800', async (t) => {
  const { sa, sb } = await bulk(t, 2800, 4, { drop: 0.02, reorder: 0.02, duplicate: 0.005 });
  t.true(sa.tcpRetransmits + sb.tcpRetransmits > 0, 'losses were repaired by retransmission');
});
