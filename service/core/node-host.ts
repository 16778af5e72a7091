// What a Node talks to: the host (datagrams out, worlds to persist, user messages, logs) and the VL2 layer that
// plugs into it. node.ts re-exports these; they live apart so that the node's parts (incoming.ts) can name them.
import type { InetAddress } from './inet-address.js';
import type { OpenedPacket } from './packet.js';
import type { LocalSocket } from './path.js';
import type { Peer } from './peer.js';
import type { ErrorMessage, Ok } from './verbs.js';
import type { World } from './world.js';

/** "Any local socket of the remote's address family": the host picks. */
export const ANY_SOCKET: LocalSocket = -1;

/** VL2 plugs in here: it sees authenticated, decompressed packets of the verbs VL1 does not handle. */
export interface Vl2Handler {
  /** A packet of a VL2 verb (FRAME, EXT_FRAME, MULTICAST_*, NETWORK_*). Returns false if it was dropped. */
  handlePacket(now: number, peer: Peer, packet: OpenedPacket): boolean;
  /** OK replies to VL2 requests (in-re NETWORK_CONFIG_REQUEST, MULTICAST_GATHER …). */
  handleOk(now: number, peer: Peer, ok: Ok & { kind: 'other' }): void;
  /** ERROR replies that name a network. */
  handleError(now: number, peer: Peer, error: ErrorMessage): void;
  /** A peer restored from the peer cache answered on one of its cached paths (our memberships may be news to it). */
  peerReturned?(now: number, peer: Peer): void;
  /** VL2 timers, run from Node.tick; returns its next deadline (absolute ms) if sooner than the node's. */
  tick?(now: number): number | undefined;
}

export interface Host {
  /**
   * Sends one datagram; ttl is set only for the NAT-opening "junk" packet. The node may reuse `data` once
   * this returns: a host that sends later copies it.
   */
  wireSend(localSocket: LocalSocket, remote: InetAddress, data: Uint8Array, ttl?: number): void;
  /** A world (planet or moon) was accepted from the wire: persist it. */
  worldUpdated?(world: World, serialized: Uint8Array): void;
  /**
   * Store this peer's cache record (peer-cache.ts; ZeroTier One's state object PEER, peers.d/<address>.peer).
   * Given when a peer is forgotten after 500 s of silence, when its direct paths change (checked every 30 s),
   * and for every peer on cachePeers() (at shutdown).
   */
  peerCached?(address: number, record: Uint8Array): void;
  /** USER_MESSAGE from a peer. */
  userMessage?(source: number, typeId: bigint, data: Uint8Array): void;
  log?(level: 'debug' | 'info' | 'warn', msg: string): void;
}
