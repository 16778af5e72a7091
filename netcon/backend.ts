// What the socket table needs from a network: the user-space stack (netcon/stack.ts) behind an
// adapter, or the in-memory network (mem-net.ts) that also serves loopback.
import type {
  ConnectOutcome,
  IpAssignment,
  Route,
  SockAddr,
  TcpListener,
  TcpSocket,
  UdpSocket,
} from './stack-types.js';

export interface ListenOptions {
  backlog: number;
  /** An IPv6 wildcard listener also takes IPv4 connections unless v6only. */
  v6only: boolean;
  /**
   * SO_REUSEADDR: the port may be taken while connections of an earlier listener on it remain (a server
   * that closes its listener and listens again, as iperf3 -s does after each test). The socket table
   * decides conflicts; a backend must not refuse what it allowed.
   */
  reuseAddr: boolean;
}

export interface PendingConnect {
  abort(): void;
}

export interface NetBackend {
  readonly addresses: readonly IpAssignment[];
  readonly routes: readonly Route[];
  /** Throws StackError('EADDRINUSE' …). onConnection must install handlers before returning. */
  tcpListen(local: SockAddr, opts: ListenOptions, onConnection: (sock: TcpSocket) => void): TcpListener;
  /** local has a concrete address and port. done is called once, asynchronously. */
  tcpConnect(
    local: SockAddr,
    remote: SockAddr,
    done: (outcome: ConnectOutcome, sock?: TcpSocket) => void,
  ): PendingConnect;
  /** Throws StackError('EADDRINUSE' …). */
  udpOpen(local: SockAddr, opts: { v6only: boolean }): UdpSocket;
  /** Sends an ICMP/ICMPv6 echo request (the message from type to payload; checksum computed); absent: no ICMP. */
  icmpEcho?(address: string, msg: Uint8Array): void;
  /** Set by the socket table: echo replies to icmpEcho's requests (the ICMP message). */
  onIcmpEchoReply?: ((from: string, msg: Uint8Array) => void) | undefined;
}
