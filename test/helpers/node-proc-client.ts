// The test side of test/helpers/vl1-node-proc.ts: starts one of our VL1 nodes as a process (directly, or
// through `ip netns exec …`), sends it JSON commands on stdin and waits for its JSON events on stdout.
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';

export const NODE_PROC = join(import.meta.dirname, 'vl1-node-proc.js');

export type NodeEvent = Record<string, unknown>;

export interface NodeProc {
  child: ResultPromise;
  events: NodeEvent[];
  /** The first event (seen or to come) matching `pred`; rejects on timeout or when the process exits. */
  waitFor(pred: (e: NodeEvent) => boolean, ms?: number): Promise<NodeEvent>;
  cmd(c: object): void;
}

/** Runs `prefix… node vl1-node-proc.js args…` (prefix e.g. ['ip', 'netns', 'exec', ns]). */
export function startNodeProc(args: string[], prefix: string[] = []): NodeProc {
  const argv = [...prefix, process.execPath, NODE_PROC, ...args];
  const child = execa(argv[0]!, argv.slice(1), { stdin: 'pipe', stdout: 'pipe', stderr: 'inherit', reject: false });
  const events: NodeEvent[] = [];
  const waiters: { pred: (e: NodeEvent) => boolean; resolve: (e: NodeEvent) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const e = JSON.parse(l) as NodeEvent;
    events.push(e);
    for (const w of [...waiters])
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
  });
  return {
    child,
    events,
    cmd: (c) => child.stdin!.write(`${JSON.stringify(c)}\n`),
    waitFor: (pred, ms = 20000) => {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; events: ${JSON.stringify(events)}`)), ms);
        // If the node dies (its stderr is shown), say so now rather than at the timeout.
        void child.then((r) => {
          clearTimeout(timer);
          reject(new Error(`our node exited (${r.exitCode ?? r.signal}); events: ${JSON.stringify(events)}`));
        });
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
  };
}

/** Asks the node for its peer list until `pred` holds for an answer. */
export async function pollPeers(
  n: NodeProc,
  pred: (e: NodeEvent) => boolean,
  ms = 30000,
  gapMs = 250,
): Promise<NodeEvent> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const seen = n.events.length;
    n.cmd({ cmd: 'peers' });
    const e = await n.waitFor((x) => x.event === 'peers' && n.events.indexOf(x) >= seen, 5000);
    if (pred(e)) return e;
    await new Promise((r) => setTimeout(r, gapMs));
  }
  throw new Error(`condition not reached in ${ms} ms; last: ${JSON.stringify(n.events.at(-1))}`);
}
