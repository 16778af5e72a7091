// The lwIP stack (netcon/stack.ts) as the socket table's NetBackend.
import type { ListenOptions, NetBackend, PendingConnect } from './backend.js';
import type { Stack } from './stack.js';
import type {
  ConnectOutcome,
  IpAssignment,
  Route,
  SockAddr,
  StackConfig,
  TcpListener,
  TcpSocket,
  UdpSocket,
} from './stack-types.js';

export class LwipBackend implements NetBackend {
  addresses: IpAssignment[];
  routes: Route[];
  constructor(
    readonly stack: Stack,
    config: StackConfig,
  ) {
    this.addresses = config.addresses;
    this.routes = config.routes;
  }

  /** Follow a configuration change (the stack itself is reconfigured by its owner). */
  setConfig(config: StackConfig): void {
    this.addresses = config.addresses;
    this.routes = config.routes;
  }

  tcpListen(local: SockAddr, opts: ListenOptions, onConnection: (sock: TcpSocket) => void): TcpListener {
    return this.stack.tcpListen(
      local,
      { backlog: opts.backlog, v6only: opts.v6only, reuseAddr: opts.reuseAddr },
      onConnection,
    );
  }

  tcpConnect(local: SockAddr, remote: SockAddr, done: (o: ConnectOutcome, s?: TcpSocket) => void): PendingConnect {
    // The socket table chose the local port and decided it is free (as Linux: a port some old connection
    // holds in TIME_WAIT serves a connection to another peer); lwIP's bind must not refuse it, and its
    // connect still refuses a duplicate of a live or TIME_WAIT connection's addresses and ports.
    return this.stack.tcpConnect(local, remote, done, { reuseAddr: true });
  }

  udpOpen(local: SockAddr, opts: { v6only: boolean }): UdpSocket {
    return this.stack.udpOpen(local, { v6only: opts.v6only });
  }

  icmpEcho(address: string, msg: Uint8Array): void {
    this.stack.icmpEcho(address, msg);
  }

  set onIcmpEchoReply(h: ((from: string, msg: Uint8Array) => void) | undefined) {
    this.stack.onIcmpEchoReply = h;
  }

  get onIcmpEchoReply(): ((from: string, msg: Uint8Array) => void) | undefined {
    return this.stack.onIcmpEchoReply;
  }
}
