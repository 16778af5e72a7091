// The common baseline of the throughput benchmarks: the same bytes between two Node net sockets over
// 127.0.0.1 in this process (two syscalls per write: what an app pays on the kernel's loopback).
import { createServer, connect as netConnect, type Socket } from 'node:net';

/** Seconds to move `data` from a client to a server socket over 127.0.0.1, written in `chunk`-byte pieces. */
export async function netLoopbackSeconds(data: Uint8Array, chunk = 64 * 1024): Promise<number> {
  const size = data.length;
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
        const piece = data.subarray(sent, Math.min(size, sent + chunk));
        sent += piece.length;
        if (!client.write(piece)) return;
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
