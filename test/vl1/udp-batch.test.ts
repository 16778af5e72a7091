// The UDP edge with the addon's batched sockets (sendmmsg/recvmmsg) and with node:dgram: two nodes in this
// process exchange fragmented USER_MESSAGEs over IPv4 and IPv6 loopback, each edge against the other, and
// the NAT junk packet (own TTL) leaves through the batched socket without counting an error. Runs of equal
// datagrams leave as one segmented message (UDP GSO), and one by one where the kernel refuses that; joined
// runs that arrive as one message (UDP GRO) are handed to the node datagram by datagram.

import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { parseInetAddress } from '../../service/core/inet-address.js';
import { makeWorld, WORLD_ID_EARTH, WORLD_TYPE_PLANET } from '../../service/core/world.js';
import { batchedUdpAvailable } from '../../service/daemon/udp-batch.js';
import { UdpNode } from '../../service/daemon/udp-host.js';
import { newIdentity, newKeyPair } from '../../service/random.js';
import { ROOT } from '../../tools/cluster.js';
import { type SegmentsReport, sendRuns } from '../helpers/udp-segments.js';

const idA = newIdentity();
const idB = newIdentity();

async function pair(family: 4 | 6, dgramA: boolean, dgramB: boolean) {
  const got: Uint8Array[] = [];
  const bind = family === 4 ? { bind4: '127.0.0.1', bind6: false as const } : { bind4: false as const, bind6: '::1' };
  const a = await UdpNode.start(
    { identity: idA, planet: undefined, port: 0, ...bind, dgram: dgramA },
    { userMessage: (_s, _t, d) => void got.push(d) },
  );
  const keys = newKeyPair();
  const planet = makeWorld(
    {
      type: WORLD_TYPE_PLANET,
      id: WORLD_ID_EARTH,
      timestamp: 1n,
      updatesMustBeSignedBy: keys.publicKey,
      roots: [
        { identity: idA, stableEndpoints: [parseInetAddress(`${family === 4 ? '127.0.0.1' : '::1'}/${a.port()}`)!] },
      ],
    },
    keys,
  );
  const b = await UdpNode.start({ identity: idB, planet, port: 0, ...bind, dgram: dgramB });
  return { a, b, got };
}

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const family of [4, 6] as const) {
  for (const [da, db] of [
    [false, false],
    [true, false],
    [false, true],
  ] as const) {
    test(`IPv${family}: ${da ? 'dgram' : 'batched'} ← ${db ? 'dgram' : 'batched'}: 100 fragmented messages arrive intact`, async (t) => {
      if (!batchedUdpAvailable) return t.pass('the addon has no batched UDP');
      const { a, b, got } = await pair(family, da, db);
      t.teardown(() => {
        a.close();
        b.close();
      });
      const msgs = Array.from({ length: 100 }, (_, i) => new Uint8Array(2800).fill(i));
      // Warm-up: one-byte messages until one arrives (B has found A); they are told apart from the test's by size.
      const warm = setInterval(() => b.node.sendUserMessage(Date.now(), idA.address, 0x10000n, new Uint8Array(1)), 50);
      try {
        await until(() => got.length > 0, 'the first message');
      } finally {
        clearInterval(warm);
      }
      for (const m of msgs) b.node.sendUserMessage(Date.now(), idA.address, 0x10000n, m);
      await until(() => got.filter((g) => g.length === 2800).length >= msgs.length, 'the 100 messages');
      // Only the big ones: a warm-up message that waited for the HELLO may still come in.
      const big = got.filter((g) => g.length === 2800);
      t.is(big.length, msgs.length);
      for (let i = 0; i < big.length; i++) t.deepEqual(Buffer.from(big[i]!), Buffer.from(msgs[i]!));
      t.is(a.sendErrors + b.sendErrors, 0);
    });
  }
}

test('the junk packet (TTL 2) leaves the batched IPv4 socket', async (t) => {
  if (!batchedUdpAvailable) return t.pass('the addon has no batched UDP');
  const u = await UdpNode.start({ identity: idA, planet: undefined, port: 0, bind4: '127.0.0.1', bind6: false });
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  t.teardown(() => {
    u.close();
    s.close();
  });
  const got = new Promise<Buffer>((r) => s.once('message', (m) => r(m)));
  // The node's host hook, as onRendezvous calls it.
  (u as unknown as { wireSend: (ls: number, r: unknown, d: Uint8Array, ttl?: number) => void }).wireSend(
    -1,
    parseInetAddress(`127.0.0.1/${s.address().port}`),
    new Uint8Array([1, 2, 3, 4]),
    2,
  );
  t.deepEqual([...(await got)], [1, 2, 3, 4]);
  t.is(u.sendErrors, 0);
});

// The expected arrivals of sendRuns (test/helpers/udp-segments.ts): each receiver's datagrams in the order sent.
const RUNS_EXPECTED: [number, number, number][] = [
  ...[0, 1, 2, 3, 4].map((i) => [0, 1391, i] as [number, number, number]),
  [0, 600, 5],
  [1, 1391, 6],
  [1, 1391, 7],
  ...[8, 9, 10, 11].map((i) => [0, 1391, i] as [number, number, number]),
];
const byReceiver = (got: [number, number, number][]) => [0, 1].map((k) => got.filter((g) => g[0] === k));

test('runs of equal datagrams to one destination leave as one message each (UDP GSO), arrive as one (GRO) and are handed on intact, in order', async (t) => {
  if (!batchedUdpAvailable) return t.pass('the addon has no batched UDP');
  const r = await sendRuns();
  t.deepEqual(byReceiver(r.got), byReceiver(RUNS_EXPECTED));
  // 5 × 1391 + 600 (a shorter datagram may end a run), 2 × 1391 to the other receiver, 4 × 1391: 3 messages.
  t.deepEqual(r.sent, [12, 3]);
  // The receivers (UDP GRO on) got each run as one message, as loopback passes it on uncut.
  t.deepEqual(r.received, [
    [10, 2],
    [2, 1],
  ]);
  t.true(r.segmentation);
  t.is(r.errors, 0);
});

test('where the kernel refuses to segment (loopback MTU 1280 < 1391), the datagrams go one by one and segmentation stays off', async (t) => {
  if (!batchedUdpAvailable) return t.pass('the addon has no batched UDP');
  if (process.getuid?.() !== 0) return t.pass('needs root for a network namespace; skipped');
  const helper = join(ROOT, 'dist', 'test', 'helpers', 'udp-segments.js');
  const r = await execa(
    'unshare',
    ['-n', 'sh', '-c', `ip link set lo up mtu 1280 && "${process.execPath}" "${helper}"`],
    {
      reject: false,
      timeout: 60_000,
    },
  );
  t.is(r.exitCode, 0, r.stderr);
  const report = JSON.parse(r.stdout) as SegmentsReport;
  t.deepEqual(byReceiver(report.got), byReceiver(RUNS_EXPECTED));
  t.false(report.segmentation);
  t.is(report.errors, 0);
});
