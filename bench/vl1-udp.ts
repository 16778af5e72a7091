// CPU cost of the VL1 data path over real UDP, in one process: two UdpNodes on 127.0.0.1 (B's planet names A
// as its root), B sends 2800-byte USER_MESSAGEs to A (two datagrams each, AES-GMAC-SIV), at most WINDOW in
// flight. Reports messages per CPU-second (user+system of this process, both ends) and per wall second.
// Baseline: the same datagrams (two of 1432 and ~1400 bytes per message) sent unencrypted between two dgram
// sockets in this process, per CPU-second.

import { createSocket } from 'node:dgram';
import { Verb } from '../service/core/constants.js';
import { parseInetAddress } from '../service/core/inet-address.js';
import { encodeUserMessage } from '../service/core/verbs.js';
import { makeWorld, WORLD_ID_EARTH, WORLD_TYPE_PLANET } from '../service/core/world.js';
import { UdpNode } from '../service/daemon/udp-host.js';
import { newIdentity, newKeyPair } from '../service/random.js';
import { report } from './result.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const WINDOW = 256;
const SIZE = 2800;
/** VL1_DGRAM=1: node:dgram instead of the addon's batched UDP (for A/B runs). */
const DGRAM = process.env.VL1_DGRAM === '1';

const idA = newIdentity();
const idB = newIdentity();
const keys = newKeyPair();
let received = 0;
const a = await UdpNode.start(
  { identity: idA, planet: undefined, port: 0, bind4: '127.0.0.1', bind6: false, dgram: DGRAM },
  { userMessage: () => void received++ },
);
const planet = makeWorld(
  {
    type: WORLD_TYPE_PLANET,
    id: WORLD_ID_EARTH,
    timestamp: 1n,
    updatesMustBeSignedBy: keys.publicKey,
    roots: [{ identity: idA, stableEndpoints: [parseInetAddress(`127.0.0.1/${a.port()}`)!] }],
  },
  keys,
);
const b = await UdpNode.start({ identity: idB, planet, port: 0, bind4: '127.0.0.1', bind6: false, dgram: DGRAM });
const payload = encodeUserMessage({ typeId: 0x10000n, data: new Uint8Array(SIZE) });
// Wait for the HELLO exchange (version known: AES-GMAC-SIV from then on).
await new Promise((r) => setTimeout(r, 300));
b.node.sendTo(Date.now(), idA.address, Verb.USER_MESSAGE, payload);
while (received < 1) await new Promise((r) => setTimeout(r, 10));
await new Promise((r) => setTimeout(r, 200));

async function run(): Promise<{ perCpu: number; perWall: number }> {
  received = 0;
  let sent = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const end = t0 + SECONDS * 1000;
  await new Promise<void>((resolve) => {
    const pump = () => {
      if (performance.now() >= end) return resolve();
      const now = Date.now();
      while (sent - received < WINDOW) {
        b.node.sendTo(now, idA.address, Verb.USER_MESSAGE, payload);
        sent++;
      }
      setImmediate(pump);
    };
    pump();
  });
  const c = process.cpuUsage(c0);
  const wall = (performance.now() - t0) / 1000;
  return { perCpu: received / ((c.user + c.system) / 1e6), perWall: received / wall };
}

async function baselineRun(): Promise<number> {
  const s1 = createSocket('udp4');
  const s2 = createSocket('udp4');
  await new Promise<void>((r) => s1.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => s2.bind(0, '127.0.0.1', r));
  const port = s1.address().port;
  let got = 0;
  s1.on('message', () => void got++);
  const d1 = new Uint8Array(1432);
  const d2 = new Uint8Array(SIZE + 60 - 1432 + 16);
  let sent = 0;
  const c0 = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  await new Promise<void>((resolve) => {
    const pump = () => {
      if (performance.now() >= end) return resolve();
      while (sent - got < WINDOW * 2) {
        s2.send(d1, port, '127.0.0.1');
        s2.send(d2, port, '127.0.0.1');
        sent += 2;
      }
      setImmediate(pump);
    };
    pump();
  });
  const c = process.cpuUsage(c0);
  s1.close();
  s2.close();
  return got / 2 / ((c.user + c.system) / 1e6);
}

const runs = [];
for (let i = 0; i < 3; i++) runs.push(await run());
const best = Math.max(...runs.map((r) => r.perCpu));
const wall = Math.max(...runs.map((r) => r.perWall));
const baseline = await baselineRun();
a.close();
b.close();
process.stdout.write(
  `VL1 over UDP, 2800-byte messages: ${best.toFixed(0)}/CPU-s (${((best * SIZE) / 1048576).toFixed(1)} MiB per CPU-s), ${wall.toFixed(0)}/s wall; runs ${runs.map((r) => r.perCpu.toFixed(0)).join(' ')}; bare dgram pairs ${baseline.toFixed(0)}/CPU-s\n`,
);
report({
  bench: 'vl1-udp',
  value: Math.round(best),
  unit: 'messages/CPU-second',
  baseline: Math.round(baseline),
  baselineWhat: 'the same datagram pairs, unencrypted, between two dgram sockets in this process, per CPU-second',
  perWall: Math.round(wall),
  seconds: SECONDS,
});
