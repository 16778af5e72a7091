// The contract between the user-space stack (netcon/stack.ts, lwIP in WebAssembly) and its users:
// the RPC server that serves intercepted apps, and the ZeroTier node that carries its frames.
// Addresses are plain strings ('10.1.2.3', 'fd00::1'); ports are numbers.

export interface SockAddr {
  family: 4 | 6;
  address: string;
  port: number;
}

export interface IpAssignment {
  address: string; // '10.147.17.5' or 'fd80::1'
  prefix: number; // 24, 64 …
}

export interface Route {
  target: string; // network address
  prefix: number;
  via?: string; // gateway; absent = on-link
}

export interface StackConfig {
  mac: Uint8Array; // 6 bytes
  mtu: number; // 1280…10000 (ZeroTier default 2800)
  addresses: IpAssignment[];
  routes: Route[];
}

/** Outcome of an outgoing TCP connect, as the errno the app will see. */
export type ConnectOutcome = 'connected' | 'ECONNREFUSED' | 'ETIMEDOUT' | 'ENETUNREACH' | 'EHOSTUNREACH';

export interface StackStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  drops: Record<string, number>; // reason → count (truncated, oversized, badChecksum, noRoute, …)
  tcpRetransmits: number;
  /** Loss probes sent: a segment sent again after a stall shorter than the RTO (glue/tcp.c). */
  tcpLossProbes: number;
  /** TCP frames received in runs that went to lwIP as one segment (receive coalescing). */
  tcpCoalesced: number;
  /** Bytes of send buffer chunks held by connections (written data not yet acknowledged, in 64 KiB chunks). */
  tcpSendBuffers: number;
  tcpPcbs: number;
  udpPcbs: number;
}

/** Handlers a TCP socket's owner installs; all optional, all called synchronously from stack events. */
export interface TcpHandlers {
  /** Received bytes. The owner calls sock.consumed(n) once it has passed n bytes on; until then the window stays closed. */
  onData?(chunk: Uint8Array): void;
  /**
   * Fast path instead of onData: the chunk is a view into the stack's memory, valid only until the call
   * returns (pass it on or copy it; call consumed() as with onData). Takes precedence over onData.
   */
  onDataBorrowed?(chunk: Uint8Array): void;
  /** The peer half-closed (FIN): no more data will arrive. */
  onEnd?(): void;
  /** Send buffer space became available after a write() that did not take everything. */
  onWritable?(): void;
  /** The connection is gone: err is undefined for an orderly close, else 'ECONNRESET' | 'ETIMEDOUT' | … */
  onClose?(err?: string): void;
}

export interface TcpSocket {
  readonly local: SockAddr;
  readonly remote: SockAddr;
  handlers: TcpHandlers;
  /** Queues bytes; returns how many were taken (0…len). Less than len means: wait for onWritable. */
  write(data: Uint8Array): number;
  /** Bytes that can be written now without being refused. */
  writable(): number;
  /** Flow control: n received bytes have been consumed; opens the receive window by n. */
  consumed(n: number): void;
  /** Half-close: sends FIN after queued data. */
  shutdown(): void;
  /** Orderly close (FIN); the socket is unusable afterwards. */
  close(): void;
  /** Abortive close (RST). */
  abort(): void;
  setNoDelay(on: boolean): void;
  setKeepAlive(on: boolean, idleMs?: number, intervalMs?: number, count?: number): void;
}

export interface TcpListener {
  readonly local: SockAddr;
  /** Each accepted connection; install handlers on it before returning. */
  onConnection?: (sock: TcpSocket) => void;
  close(): void;
}

export interface UdpSocket {
  readonly local: SockAddr;
  onMessage?: (data: Uint8Array, from: SockAddr) => void;
  sendTo(data: Uint8Array, to: SockAddr): void; // throws StackError('EMSGSIZE' | 'ENETUNREACH' …)
  connect(to: SockAddr): void;
  send(data: Uint8Array): void; // connected only
  close(): void;
}

/** An error with a POSIX errno name as its code, e.g. EADDRINUSE; the RPC turns it into a number. */
export class StackError extends Error {
  constructor(
    readonly code: string,
    message?: string,
  ) {
    super(message ?? code);
  }
}
