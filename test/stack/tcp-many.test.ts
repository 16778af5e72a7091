// 1,000 concurrent TCP connections between two stacks, each echoing 64 KiB.
import test from 'ava';
import type { TcpSocket } from '../../netcon/stack-types.js';
import { makePair, pattern, sendAll, sha256, until } from './_pair.js';

const CONNECTIONS = 1000;
const SIZE = 64 * 1024;

test('1000 concurrent connections each echo 64 KiB', async (t) => {
  const p = makePair(2800);
  try {
    let accepted = 0;
    p.b.tcpListen({ family: 4, address: '', port: 8080 }, { backlog: 255 }, (s) => {
      accepted++;
      // Echo with backpressure: what the reply cannot take stays unconsumed (the window closes).
      const queue: Uint8Array[] = [];
      const flush = () => {
        while (queue.length > 0) {
          const c = queue[0]!;
          const n = s.write(c);
          s.consumed(n);
          if (n < c.length) {
            queue[0] = c.subarray(n);
            return;
          }
          queue.shift();
        }
      };
      s.handlers = {
        onData(c) {
          queue.push(c);
          flush();
        },
        onWritable: flush,
        onEnd() {
          s.shutdown();
        },
      };
    });
    const data = pattern(SIZE, 3);
    const want = sha256(data);
    const one = (i: number) =>
      new Promise<string>((resolve, reject) => {
        p.a.tcpConnect(undefined, { family: 4, address: '10.7.0.2', port: 8080 }, (outcome, sock?: TcpSocket) => {
          if (outcome !== 'connected' || !sock) return reject(new Error(`connection ${i}: ${outcome}`));
          const got: Uint8Array[] = [];
          sock.handlers = {
            onData(c) {
              got.push(c);
              sock.consumed(c.length);
            },
            onEnd() {
              sock.close();
              resolve(sha256(got));
            },
            onClose(err) {
              if (err) reject(new Error(`connection ${i} closed: ${err}`));
            },
          };
          sendAll(sock, data, () => sock.shutdown());
        });
      });
    const t0 = performance.now();
    const hashes = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => one(i)));
    const ms = performance.now() - t0;
    t.is(accepted, CONNECTIONS);
    t.is(hashes.filter((h) => h === want).length, CONNECTIONS);
    const sa = p.a.stats();
    t.log(
      `${CONNECTIONS} × 64 KiB echoed in ${ms.toFixed(0)} ms; client retransmits ${JSON.stringify(p.a.debugCounters())} ` +
        `(the listener's backlog is 255: the other SYNs are retried), server ${p.b.stats().tcpRetransmits}; pcbs now a ${sa.tcpPcbs}`,
    );
  } finally {
    p.close();
  }
});

test('a server closing first keeps a bounded number of TIME_WAIT connections (each SYN walks them)', async (t) => {
  const p = makePair(1500);
  const COUNT = 1200;
  try {
    p.b.tcpListen({ family: 4, address: '', port: 8081 }, { backlog: 255 }, (s) => {
      s.handlers = {};
      s.close(); // the server closes first: its side goes through TIME_WAIT
    });
    const one = () =>
      new Promise<void>((resolve, reject) => {
        p.a.tcpConnect(undefined, { family: 4, address: '10.7.0.2', port: 8081 }, (outcome, sock?: TcpSocket) => {
          if (outcome !== 'connected' || !sock) return reject(new Error(outcome));
          sock.handlers = {
            onEnd: () => {
              sock.close();
              resolve();
            },
          };
        });
      });
    for (let i = 0; i < COUNT; i += 100) await Promise.all(Array.from({ length: 100 }, one));
    // The stack's TCP timer (100 ms) trims the list.
    await until(() => p.b.stats().tcpPcbs <= 257, 'TIME_WAIT trimmed');
    const pcbs = p.b.stats().tcpPcbs;
    t.log(`${COUNT} connections closed by the server: ${pcbs} TCP PCBs left on its side (listener included)`);
    t.true(pcbs <= 257, `${pcbs} PCBs: TIME_WAIT is not bounded`);
    t.true(pcbs >= 100, 'TIME_WAIT still protects the most recent connections');
  } finally {
    p.close();
  }
});
