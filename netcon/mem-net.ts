// An in-memory network of hosts speaking the stack contract (stack-types.ts) without packets:
// TCP as pairs of sockets with a flow-controlled window, UDP as message delivery. It serves as
// the loopback of every netcon host (127.0.0.1, ::1 and the host's own addresses) and as the test
// double of the lwIP stack. Events are delivered asynchronously (microtasks), never re-entrantly.
import type { ListenOptions, NetBackend, PendingConnect } from './backend.js';
import { parseWireIp } from './rpc-codec.js';
import {
  type ConnectOutcome,
  type IpAssignment,
  type Route,
  type SockAddr,
  StackError,
  type TcpHandlers,
  type TcpListener,
  type TcpSocket,
  type UdpSocket,
} from './stack-types.js';

const WINDOW = 256 * 1024;

export function isWildcard(a: SockAddr): boolean {
  return a.address === '0.0.0.0' || a.address === '::';
}

export function sameIp(a: string, b: string, family: 4 | 6): boolean {
  if (a === b) return true;
  const x = parseWireIp(a, family);
  const y = parseWireIp(b, family);
  return !!x && !!y && x.every((v, i) => v === y[i]);
}

/** Does a listener/UDP socket bound to `bound` take traffic addressed to `dst`? */
export function addrMatches(bound: SockAddr, v6only: boolean, dst: SockAddr): boolean {
  if (bound.port !== dst.port) return false;
  if (bound.family === dst.family) return isWildcard(bound) || sameIp(bound.address, dst.address, dst.family);
  return bound.family === 6 && dst.family === 4 && bound.address === '::' && !v6only;
}

class MemTcpSocket implements TcpSocket {
  handlers: TcpHandlers = {};
  peer: MemTcpSocket | null = null;
  private inflight = 0; // bytes sent to the peer and not yet consumed by it
  private blocked = false; // a write was refused: owe an onWritable
  private finSent = false;
  private finReceived = false;
  private closedByUser = false;
  private dead = false;
  constructor(
    readonly local: SockAddr,
    readonly remote: SockAddr,
  ) {}

  write(data: Uint8Array): number {
    if (this.dead || this.finSent || !this.peer) throw new StackError('EPIPE');
    const n = Math.min(data.length, WINDOW - this.inflight);
    if (n < data.length) this.blocked = true;
    if (n <= 0) return 0;
    this.inflight += n;
    const copy = data.slice(0, n);
    const peer = this.peer;
    queueMicrotask(() => peer.receive(copy));
    return n;
  }
  writable(): number {
    return this.dead || this.finSent ? 0 : WINDOW - this.inflight;
  }
  consumed(n: number): void {
    const peer = this.peer;
    if (peer) peer.acked(n);
  }
  private acked(n: number): void {
    this.inflight -= n;
    if (this.blocked && !this.dead && this.inflight < WINDOW) {
      this.blocked = false;
      queueMicrotask(() => {
        if (!this.dead) this.handlers.onWritable?.();
      });
    }
  }
  private receive(chunk: Uint8Array): void {
    if (this.dead) return;
    if (this.closedByUser) {
      // data for a closed socket: the peer is reset, as a real stack does
      this.consumed(chunk.length);
      this.peer?.reset();
      this.dead = true;
      return;
    }
    const h = this.handlers;
    if (h.onDataBorrowed) h.onDataBorrowed(chunk);
    else h.onData?.(chunk);
  }
  private receiveFin(): void {
    if (this.dead) return;
    this.finReceived = true;
    if (!this.closedByUser) this.handlers.onEnd?.();
    this.maybeGone();
  }
  private maybeGone(): void {
    if (this.finSent && this.finReceived && !this.dead) {
      this.dead = true;
      if (!this.closedByUser) queueMicrotask(() => this.handlers.onClose?.());
    }
  }
  private reset(): void {
    if (this.dead) return;
    this.dead = true;
    if (!this.closedByUser) this.handlers.onClose?.('ECONNRESET');
  }
  shutdown(): void {
    if (this.finSent || this.dead) return;
    this.finSent = true;
    const peer = this.peer;
    queueMicrotask(() => {
      peer?.receiveFin();
      this.maybeGone();
    });
  }
  close(): void {
    if (this.closedByUser) return;
    this.closedByUser = true;
    this.shutdown();
  }
  abort(): void {
    if (this.dead) return;
    this.closedByUser = true;
    this.dead = true;
    const peer = this.peer;
    queueMicrotask(() => peer?.reset());
  }
  setNoDelay(): void {}
  setKeepAlive(): void {}
}

interface MemListener extends TcpListener {
  v6only: boolean;
  accept(sock: TcpSocket): void;
}

class MemUdpSocket implements UdpSocket {
  onMessage?: (data: Uint8Array, from: SockAddr) => void;
  private peer: SockAddr | null = null;
  closed = false;
  constructor(
    private readonly host: MemHost,
    readonly local: SockAddr,
    readonly v6only: boolean,
  ) {}
  sendTo(data: Uint8Array, to: SockAddr): void {
    if (this.closed) throw new StackError('EBADF');
    if (data.length > 65507) throw new StackError('EMSGSIZE');
    this.host.deliverUdp(this.sourceFor(to), to, data.slice());
  }
  connect(to: SockAddr): void {
    this.peer = to;
  }
  send(data: Uint8Array): void {
    if (!this.peer) throw new StackError('EDESTADDRREQ');
    this.sendTo(data, this.peer);
  }
  close(): void {
    this.closed = true;
    this.host.udpClosed(this);
  }
  private sourceFor(to: SockAddr): SockAddr {
    if (!isWildcard(this.local) && this.local.family === to.family) return this.local;
    return { family: to.family, address: this.host.sourceAddress(to), port: this.local.port };
  }
}

/** One host on a MemNet. With loopbackOnly it is a host's private loopback: every destination is itself. */
export class MemHost implements NetBackend {
  readonly routes: Route[];
  private listeners: MemListener[] = [];
  private udps: MemUdpSocket[] = [];
  constructor(
    private readonly net: MemNet,
    readonly addresses: IpAssignment[],
    private readonly loopbackOnly = false,
  ) {
    this.routes = addresses.map((a) => ({ target: a.address, prefix: a.prefix }));
  }

  owns(address: string, family: 4 | 6): boolean {
    return this.addresses.some((a) => a.address.includes(':') === (family === 6) && sameIp(a.address, address, family));
  }

  sourceAddress(to: SockAddr): string {
    if (this.loopbackOnly) return to.address;
    const a = this.addresses.find((x) => x.address.includes(':') === (to.family === 6));
    return a ? a.address : to.family === 4 ? '0.0.0.0' : '::';
  }

  private resolve(dst: SockAddr): MemHost | undefined {
    return this.loopbackOnly ? this : this.net.hostFor(dst);
  }

  tcpListen(local: SockAddr, opts: ListenOptions, onConnection: (sock: TcpSocket) => void): TcpListener {
    for (const l of this.listeners) {
      if (addrMatches(l.local, l.v6only, local) || addrMatches(local, opts.v6only, l.local))
        throw new StackError('EADDRINUSE');
    }
    const host = this;
    const listener: MemListener = {
      local,
      v6only: opts.v6only,
      onConnection,
      accept(sock) {
        this.onConnection?.(sock);
      },
      close() {
        host.listeners = host.listeners.filter((x) => x !== listener);
      },
    };
    this.listeners.push(listener);
    return listener;
  }

  findListener(dst: SockAddr): MemListener | undefined {
    // an exact address wins over a wildcard
    return (
      this.listeners.find((l) => !isWildcard(l.local) && addrMatches(l.local, l.v6only, dst)) ??
      this.listeners.find((l) => addrMatches(l.local, l.v6only, dst))
    );
  }

  tcpConnect(local: SockAddr, remote: SockAddr, done: (o: ConnectOutcome, s?: TcpSocket) => void): PendingConnect {
    let aborted = false;
    queueMicrotask(() => {
      if (aborted) return;
      const host = this.resolve(remote);
      if (!host) return done('EHOSTUNREACH');
      const listener = host.findListener(remote);
      if (!listener) return done('ECONNREFUSED');
      const client = new MemTcpSocket(local, remote);
      const server = new MemTcpSocket(remote, local);
      client.peer = server;
      server.peer = client;
      listener.accept(server);
      done('connected', client);
    });
    return {
      abort() {
        aborted = true;
      },
    };
  }

  udpOpen(local: SockAddr, opts: { v6only: boolean }): UdpSocket {
    for (const u of this.udps) {
      if (addrMatches(u.local, u.v6only, local) || addrMatches(local, opts.v6only, u.local))
        throw new StackError('EADDRINUSE');
    }
    const u = new MemUdpSocket(this, local, opts.v6only);
    this.udps.push(u);
    return u;
  }

  udpClosed(u: MemUdpSocket): void {
    this.udps = this.udps.filter((x) => x !== u);
  }

  deliverUdp(from: SockAddr, to: SockAddr, data: Uint8Array): void {
    const host = this.resolve(to);
    if (!host) return;
    const target =
      host.udps.find((u) => !isWildcard(u.local) && addrMatches(u.local, u.v6only, to)) ??
      host.udps.find((u) => addrMatches(u.local, u.v6only, to));
    if (!target) return;
    queueMicrotask(() => {
      if (!target.closed) target.onMessage?.(data, from);
    });
  }
}

export class MemNet {
  private hosts: MemHost[] = [];
  addHost(addresses: IpAssignment[]): MemHost {
    const h = new MemHost(this, addresses);
    this.hosts.push(h);
    return h;
  }
  hostFor(dst: SockAddr): MemHost | undefined {
    return this.hosts.find((h) => h.owns(dst.address, dst.family));
  }
}

/** A host's private loopback: 127.0.0.0/8, ::1 and its own addresses all lead back to it. */
export function loopbackHost(): MemHost {
  return new MemHost(new MemNet(), [], true);
}
