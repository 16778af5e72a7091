// A physical path to a peer: one of our local UDP sockets and the remote address seen on it.
import { PATH_ALIVE_TIMEOUT, PEER_PATH_EXPIRATION } from './constants.js';
import { formatInetAddress, type InetAddress } from './inet-address.js';

/** A local socket as the host names it (an index into the host's bound sockets). */
export type LocalSocket = number;

/** Unique key of (local socket, remote address), for maps. */
export function pathKey(localSocket: LocalSocket, remote: InetAddress): string {
  return `${localSocket}|${formatInetAddress(remote)}`;
}

/** IP scope, as ZeroTier ranks addresses (higher is "more global"). */
export function ipScope(a: InetAddress): number {
  const ip = a.ip;
  if (a.family === 4) {
    if (ip[0] === 127) return 1; // loopback
    if (ip[0] === 10 || (ip[0] === 172 && (ip[1]! & 0xf0) === 16) || (ip[0] === 192 && ip[1] === 168)) return 4;
    if (ip[0] === 169 && ip[1] === 254) return 3; // link-local
    if (ip[0] === 100 && (ip[1]! & 0xc0) === 64) return 5; // shared (CGNAT)
    return 7; // global
  }
  if (ip.every((b, i) => (i === 15 ? b === 1 : b === 0))) return 1; // ::1
  if (ip[0] === 0xfe && (ip[1]! & 0xc0) === 0x80) return 3;
  if ((ip[0]! & 0xfe) === 0xfc) return 4; // ULA
  return 7;
}

export class Path {
  readonly key: string;
  lastIn = 0;
  lastOut = 0;
  /** Round-trip latency in ms from OK(HELLO)/OK(ECHO), or -1 when unknown. */
  latency = -1;
  lastEchoAnswered = 0;

  constructor(
    readonly localSocket: LocalSocket,
    readonly remote: InetAddress,
  ) {
    this.key = pathKey(localSocket, remote);
  }

  received(now: number): void {
    this.lastIn = now;
  }

  sent(now: number): void {
    this.lastOut = now;
  }

  updateLatency(ms: number): void {
    this.latency = this.latency < 0 ? ms : Math.round((this.latency * 3 + ms) / 4);
  }

  /** Something was received on it recently. */
  alive(now: number): boolean {
    return now - this.lastIn < PATH_ALIVE_TIMEOUT;
  }

  /** Too long without an authenticated receive to be used for sending. */
  expired(now: number): boolean {
    return now - this.lastIn >= PEER_PATH_EXPIRATION;
  }

  /** Lower is better: latency, heavily penalised when not alive, scaled by scope. */
  quality(now: number): number {
    const l = this.latency < 0 ? 0xffff : this.latency;
    const dead = this.alive(now) ? 0 : 0x7fffff;
    return (l + dead) * (8 - ipScope(this.remote) + 1);
  }

  toString(): string {
    return formatInetAddress(this.remote);
  }
}
