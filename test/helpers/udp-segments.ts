// Sends runs of datagrams from one batched UDP socket (service/daemon/udp-batch.ts) to others on 127.0.0.1 and
// prints what left and what arrived, as one JSON line. Run in this process by test/vl1/udp-batch.test.ts, and in
// a network namespace whose loopback MTU is below the datagrams (where the kernel refuses to segment them).
//   node udp-segments.js   → {"sent":[datagrams, messages],"received":[[datagrams, messages]×2],"segmentation":bool,"errors":n,"got":[[to, len, first byte]…]}
import { BatchSocket } from '../../service/daemon/udp-batch.js';

const LO = new Uint8Array([127, 0, 0, 1]);

export interface SegmentsReport {
  sent: number[];
  /** Per receiver: [datagrams, messages they arrived in]. */
  received: number[][];
  segmentation: boolean;
  errors: number;
  /** Arrivals in order: [receiver 0|1, length, first byte]. */
  got: [number, number, number][];
}

/**
 * Twelve datagrams queued in one turn: five of 1391 bytes to receiver 0 and a shorter one ending the run, two to
 * receiver 1, then four more of 1391 to receiver 0. Resolves once all twelve arrived (or after 5 s).
 */
export async function sendRuns(): Promise<SegmentsReport> {
  const got: [number, number, number][] = [];
  const rx = [0, 1].map((k) => BatchSocket.open(4, LO, '127.0.0.1', 0, (d) => void got.push([k, d.length, d[0]!]))) as [
    BatchSocket,
    BatchSocket,
  ];
  const tx = BatchSocket.open(4, LO, '127.0.0.1', 0, () => {});
  const plan: [number, number][] = [
    ...Array.from({ length: 5 }, () => [0, 1391] as [number, number]),
    [0, 600],
    [1, 1391],
    [1, 1391],
    ...Array.from({ length: 4 }, () => [0, 1391] as [number, number]),
  ];
  plan.forEach(([to, len], i) => void tx.send(new Uint8Array(len).fill(i), LO, rx[to].port()));
  tx.flush();
  const t0 = Date.now();
  while (got.length < plan.length && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5));
  const report = {
    sent: [...tx.sent],
    received: rx.map((r) => [...r.received]),
    segmentation: tx.segmentation,
    errors: tx.errors,
    got,
  };
  for (const s of [tx, ...rx]) s.close();
  return report;
}

if (process.argv[1]?.endsWith('udp-segments.js')) process.stdout.write(`${JSON.stringify(await sendRuns())}\n`);
