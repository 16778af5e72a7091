// npm run bench -- stack [MiB]: bulk TCP between two in-process stacks (lwIP in WebAssembly) at MTU 2800,
// against the same bytes between two Node net sockets over 127.0.0.1 in the same process (the baseline).
// Last line: one JSON object (bench/result.ts).
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { MemoryLink } from '../netcon/memory-link.js';
import { Stack } from '../netcon/stack.js';
import type { TcpSocket } from '../netcon/stack-types.js';
import { report } from './result.js';

const MiB = 1024 * 1024;
const size = Number(process.argv[3] ?? 256) * MiB;
const rounds = Number(process.env.ROUNDS ?? 5);
const CHUNK = Number(process.env.CHUNK_KIB ?? 256) * 1024;

const data = new Uint8Array(size);
{
  const w = new Uint32Array(data.buffer);
  let x = 0x12345678;
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = x >>> 0;
  }
}

function stackPair(): { a: Stack; b: Stack } {
  const mk = (n: number) =>
    new Stack({
      mac: new Uint8Array([2, 0, 0x5e, 0, 0, n]),
      mtu: 2800,
      addresses: [{ address: `10.200.0.${n}`, prefix: 24 }],
      routes: [],
    });
  const a = mk(1);
  const b = mk(2);
  new MemoryLink(a, b);
  return { a, b };
}

/** Seconds to move `size` bytes from a to b over one TCP connection. */
async function viaStacks(): Promise<{ seconds: number; retransmits: number }> {
  const { a, b } = stackPair();
  try {
    let server: TcpSocket | undefined;
    const accepted = new Promise<void>((resolve) => {
      b.tcpListen({ family: 4, address: '', port: 5201 }, {}, (s) => {
        server = s;
        resolve();
      });
    });
    const client = await a.connect({ family: 4, address: '10.200.0.2', port: 5201 });
    await accepted;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let received = 0;
      // The receiver takes data the way the RPC server does: straight from the stack's memory, counted and
      // released (it would write it into the app's socketpair); see TcpHandlers.onDataBorrowed.
      server!.handlers = {
        onDataBorrowed(c) {
          received += c.length;
          server!.consumed(c.length);
          if (received === size) resolve();
        },
      };
      let sent = 0;
      const send = () => {
        while (sent < size) {
          const n = client.write(data.subarray(sent, Math.min(size, sent + CHUNK)));
          sent += n;
          if (n === 0) return;
        }
      };
      client.handlers = { onWritable: send };
      send();
    });
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, retransmits: a.stats().tcpRetransmits };
  } finally {
    a.close();
    b.close();
  }
}

/** Seconds to move `size` bytes between two net sockets over 127.0.0.1 in this process. */
async function viaNet(): Promise<number> {
  let serverSock: Socket | undefined;
  const server = createServer((s) => {
    serverSock = s;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const client = netConnect(port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', r));
  while (!serverSock) await new Promise((r) => setImmediate(r));
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let received = 0;
    serverSock!.on('data', (c: Buffer) => {
      received += c.length;
      if (received === size) resolve();
    });
    let sent = 0;
    const send = () => {
      while (sent < size) {
        const chunk = data.subarray(sent, Math.min(size, sent + CHUNK));
        sent += chunk.length;
        if (!client.write(chunk)) return;
      }
    };
    client.on('drain', send);
    send();
  });
  const seconds = (performance.now() - t0) / 1000;
  client.destroy();
  serverSock.destroy();
  server.close();
  return seconds;
}

const stackRuns: number[] = [];
const netRuns: number[] = [];
let retransmits = 0;
for (let r = 0; r < rounds; r++) {
  const s = await viaStacks();
  stackRuns.push(s.seconds);
  retransmits += s.retransmits;
  netRuns.push(await viaNet());
  process.stdout.write(
    `round ${r + 1}: stacks ${(size / MiB / s.seconds).toFixed(0)} MiB/s, net ${(size / MiB / netRuns[r]!).toFixed(0)} MiB/s\n`,
  );
}
const best = (xs: number[]) => Math.min(...xs);
const value = size / MiB / best(stackRuns);
const baseline = size / MiB / best(netRuns);
report({
  bench: 'stack',
  value: Math.round(value),
  unit: 'MiB/s',
  baseline: Math.round(baseline),
  bytes: size,
  mtu: 2800,
  rounds,
  retransmits,
  what: 'one TCP stream between two in-process lwIP stacks (borrowed receive) vs. two Node net sockets over 127.0.0.1, best of rounds',
});
