// Shared by the stack tests: two stacks back to back through an in-memory link, and bulk transfers.
import { createHash } from 'node:crypto';
import { type LinkFaults, MemoryLink } from '../../netcon/memory-link.js';
import { Stack } from '../../netcon/stack.js';
import type { TcpSocket } from '../../netcon/stack-types.js';

export interface Pair {
  a: Stack;
  b: Stack;
  link: MemoryLink;
  close(): void;
}

export function mac(n: number): Uint8Array {
  return new Uint8Array([0x02, 0x00, 0x5e, 0x00, 0x00, n]);
}

/** a = 10.7.0.1 / fd07::1, b = 10.7.0.2 / fd07::2, on one /24 and /64. */
export function makePair(mtu = 2800, faults: LinkFaults = {}, seed = 1): Pair {
  const mk = (n: number) =>
    new Stack({
      mac: mac(n),
      mtu,
      addresses: [
        { address: `10.7.0.${n}`, prefix: 24 },
        { address: `fd07::${n}`, prefix: 64 },
      ],
      routes: [],
    });
  const a = mk(1);
  const b = mk(2);
  const link = new MemoryLink(a, b, faults, seed);
  return {
    a,
    b,
    link,
    close() {
      a.close();
      b.close();
    },
  };
}

/** Deterministic pseudo-random bytes (xorshift), fast enough for tens of MiB. */
export function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  const w = new Uint32Array(out.buffer, 0, size >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < w.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    w[i] = x >>> 0;
  }
  return out;
}

export function sha256(data: Uint8Array | Uint8Array[]): string {
  const h = createHash('sha256');
  for (const d of Array.isArray(data) ? data : [data]) h.update(d);
  return h.digest('hex');
}

/**
 * Sends all of data on sock with backpressure, then half-closes; receives on sock until EOF, consuming
 * as it goes. Resolves with the received bytes' SHA-256 and length.
 */
export function pump(sock: TcpSocket, data: Uint8Array, chunk = 256 * 1024): Promise<{ hash: string; length: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let received = 0;
    let gotEnd = false;
    sock.handlers = {
      onData(c) {
        h.update(c);
        received += c.length;
        sock.consumed(c.length);
      },
      onEnd() {
        gotEnd = true;
        resolve({ hash: h.digest('hex'), length: received });
      },
      onClose(err) {
        if (!gotEnd) reject(new Error(`closed before EOF: ${err}`));
      },
    };
    sendAll(sock, data, () => sock.shutdown(), chunk);
  });
}

/**
 * Writes all of data on sock with backpressure: what the stack cannot take now goes when it calls onWritable
 * (added to the socket's handlers here). `then` runs once, when everything is written (e.g. shutdown).
 */
export function sendAll(sock: TcpSocket, data: Uint8Array, then?: () => void, chunk = data.length): void {
  let sent = 0;
  let finished = false;
  const send = () => {
    while (sent < data.length) {
      const n = sock.write(data.subarray(sent, Math.min(data.length, sent + chunk)));
      sent += n;
      if (n === 0) return;
    }
    if (!finished) {
      finished = true;
      then?.();
    }
  };
  sock.handlers = { ...sock.handlers, onWritable: send };
  send();
}

/** Accepts one connection on b:port and connects to it from a; resolves with both ends. */
export async function connectPair(
  p: Pair,
  family: 4 | 6,
  port: number,
): Promise<{ client: TcpSocket; server: TcpSocket }> {
  let server: TcpSocket | undefined;
  const accepted = new Promise<TcpSocket>((resolve) => {
    const l = p.b.tcpListen({ family, address: '', port }, { backlog: 16 }, (s) => {
      server = s;
      l.close();
      resolve(s);
    });
  });
  const client = await p.a.connect({ family, address: family === 4 ? '10.7.0.2' : 'fd07::2', port });
  await accepted;
  return { client, server: server! };
}

/** Waits until `cond()` holds, polling every 5 ms; throws naming `what` after `ms` (a busy machine gets time). */
export async function until(cond: () => boolean, what = 'condition', ms = 10_000): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
