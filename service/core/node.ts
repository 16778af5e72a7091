// The VL1 node: a pure state machine. The host feeds it datagrams and the time, and it answers through the
// Host interface (send a datagram, persist a world, deliver a message). It never reads the clock, opens a
// socket or touches a file, so many nodes can run in one test process over an in-memory wire.
//
//   processWirePacket(now, localSocket, remote, bytes)   a UDP datagram arrived
//   tick(now) → next deadline                            timers: keepalives, WHOIS retries, queues, expiry
import {
  DEFAULT_PHYSMTU,
  ECHO_ANSWER_GATE,
  ErrorCode,
  FLAGS_HOPS_MASK,
  HOUSEKEEPING_PERIOD,
  IDENTITY_VALIDATION_GATE,
  MAX_PACKET_LENGTH,
  MIN_UNITE_INTERVAL,
  PACKET_IDX_FLAGS,
  PACKET_IDX_PAYLOAD,
  PACKET_IDX_VERB,
  PATH_HEARTBEAT_PERIOD,
  PATH_HELLO_GATE,
  PEER_ACTIVITY_TIMEOUT,
  PEER_PING_PERIOD,
  PEER_RESTORE_CONTACT_WINDOW,
  PING_CHECK_INTERVAL,
  PROTO_VERSION,
  PROTO_VERSION_MIN,
  PUSH_DIRECT_PATHS_CUTOFF_LIMIT,
  PUSH_DIRECT_PATHS_CUTOFF_TIME,
  RELAY_MAX_HOPS,
  RX_QUEUE_SIZE,
  RX_QUEUE_TIMEOUT,
  TX_QUEUE_SIZE,
  TX_QUEUE_TIMEOUT,
  UPSTREAM_HELLO_INTERVAL,
  VERB_MASK,
  VERSION_MAJOR,
  VERSION_MINOR,
  VERSION_REVISION,
  Verb,
  verbName,
  WHOIS_ANSWER_GATE,
  WHOIS_RETRY_DELAY,
} from './constants.js';
import { createPeerKey, dearmor } from './crypto.js';
import { emitPieces, Reassembler, setFragmentHops } from './fragment.js';
import { agree, Identity, locallyValidate } from './identity.js';
import { type InetAddress, inetAddressEquals } from './inet-address.js';
import {
  classifyDatagram,
  decryptHelloTail,
  type OpenedPacket,
  openPacket,
  type PacketHeader,
  packetIdOf,
  sealHello,
  sealPacket,
} from './packet.js';
import { type LocalSocket, type Path, pathKey } from './path.js';
import { Peer } from './peer.js';
import { type CachedPeer, encodeCachedPeer } from './peer-cache.js';
import { type RandomFill, randomIndex } from './random.js';
import { ReplyFilter } from './reply-filter.js';
import { type PeerRole, Topology } from './topology.js';
import {
  decodeError,
  decodeHello,
  decodeHelloTail,
  decodeOk,
  decodePushDirectPaths,
  decodeRendezvous,
  decodeUserMessage,
  decodeWhois,
  type ErrorMessage,
  encodeError,
  encodeHello,
  encodeOk,
  encodeOkHello,
  encodeOkWhois,
  encodeRendezvous,
  encodeUserMessage,
  encodeWhois,
  type Ok,
} from './verbs.js';
import { toHex } from './wire.js';
import { readWorld, serializeWorld, WORLD_TYPE_MOON, type World, type WorldUpdateCheck } from './world.js';

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

export interface NodeOptions {
  identity: Identity;
  planet?: World | undefined;
  moons?: readonly World[];
  /** Physical MTU for our datagrams (1432 by default). */
  mtu?: number;
  /** One new identity check per this many ms per source address bucket (2000, as ZeroTier One on x86-64). */
  identityValidationGate?: number;
  /** The host's randomness (the core has none of its own): node:crypto's randomFillSync in the daemon. */
  random: RandomFill;
}

export interface PeerInfo {
  address: number;
  identity: Identity;
  role: PeerRole;
  versionMajor: number;
  versionMinor: number;
  versionRevision: number;
  protocolVersion: number;
  latency: number;
  lastReceive: number;
  paths: {
    localSocket: LocalSocket;
    address: InetAddress;
    lastSend: number;
    lastReceive: number;
    active: boolean;
    expired: boolean;
    preferred: boolean;
  }[];
}

interface TxEntry {
  created: number;
  destination: number;
  verb: number;
  payload: Uint8Array;
  compress: boolean;
}

interface RxEntry {
  arrived: number;
  source: number;
  localSocket: LocalSocket;
  remote: InetAddress;
  packet: Uint8Array;
}

const JUNK_TTL = 2;

export class Node {
  readonly identity: Identity;
  readonly address: number;
  readonly topology: Topology;
  /** Dropped datagrams and packets by reason. */
  readonly drops = new Map<string, number>();
  /** Packets received by verb name. */
  readonly received = new Map<string, number>();
  vl2: Vl2Handler | undefined;

  private readonly host: Host;
  private readonly mtu: number;
  private readonly idGate: number;
  private readonly reassembler = new Reassembler();
  private readonly replies = new ReplyFilter();
  private readonly txQueue: TxEntry[] = [];
  private readonly rxQueue: RxEntry[] = [];
  /** Address → last WHOIS sent for it. */
  private readonly whoisPending = new Map<number, number>();
  private readonly idGateBuckets = new Map<number, number>();
  /** "a|b" (a < b) → last RENDEZVOUS between them. */
  private readonly lastUnite = new Map<string, number>();
  /** How peers see us: reporter|scope → address. */
  private readonly surface = new Map<string, { address: InetAddress; at: number }>();
  private lastPing = Number.NEGATIVE_INFINITY;
  private lastHousekeeping = 0;
  private lastSwitchTimer = 0;
  private readonly idPool = new Uint8Array(8 * 512);
  /** Fragments are built here (the host copies what it sends later). */
  private readonly scratch = new Uint8Array(MAX_PACKET_LENGTH);
  private idPoolPos = this.idPool.length;

  /** The host's randomness (NodeOptions.random), for the VL2 layer too. */
  readonly random: RandomFill;

  constructor(host: Host, opts: NodeOptions) {
    if (!opts.identity.privateKey) throw new Error('a node needs an identity with its private key');
    this.host = host;
    this.identity = opts.identity;
    this.random = opts.random;
    this.address = opts.identity.address;
    this.mtu = opts.mtu ?? DEFAULT_PHYSMTU;
    this.idGate = opts.identityValidationGate ?? IDENTITY_VALIDATION_GATE;
    this.topology = new Topology(opts.identity);
    this.topology.load(opts.planet, opts.moons ?? []);
  }

  // ---- Public API -------------------------------------------------------------------------------------------

  /** A datagram arrived on `localSocket` from `remote`. The buffer may be modified in place. Never throws. */
  processWirePacket(now: number, localSocket: LocalSocket, remote: InetAddress, data: Uint8Array): void {
    try {
      this.onDatagram(now, localSocket, remote, data);
    } catch (e) {
      // A decoder bug must not take the node down: count it and go on.
      this.drop('internal-error');
      this.host.log?.(
        'warn',
        `internal error on a datagram from ${pathKey(localSocket, remote)}: ${(e as Error).stack}`,
      );
    }
  }

  /** Runs the timers that are due; returns when it wants to be called next (absolute ms). */
  tick(now: number): number {
    if (now - this.lastPing >= PING_CHECK_INTERVAL) {
      this.lastPing = now;
      this.pingPeers(now);
    }
    if (now - this.lastSwitchTimer >= WHOIS_RETRY_DELAY) {
      this.lastSwitchTimer = now;
      this.switchTimer(now);
    }
    if (now - this.lastHousekeeping >= HOUSEKEEPING_PERIOD) {
      this.lastHousekeeping = now;
      this.housekeeping(now);
    }
    this.reassembler.expire(now);
    let next = this.lastPing + PING_CHECK_INTERVAL;
    const vl2Next = this.vl2?.tick?.(now);
    if (vl2Next !== undefined) next = Math.min(next, vl2Next);
    if (this.txQueue.length > 0 || this.rxQueue.length > 0 || this.whoisPending.size > 0)
      next = Math.min(next, this.lastSwitchTimer + WHOIS_RETRY_DELAY);
    next = Math.min(next, this.lastHousekeeping + HOUSEKEEPING_PERIOD, this.reassembler.nextDeadline() ?? next);
    return Math.max(next, now + 1);
  }

  /** Sends a USER_MESSAGE; false if the destination is unknown (a WHOIS goes out and the message waits). */
  sendUserMessage(now: number, destination: number, typeId: bigint, data: Uint8Array): boolean {
    return this.sendTo(now, destination, Verb.USER_MESSAGE, encodeUserMessage({ typeId, data }), true);
  }

  /**
   * Sends a packet of any verb to a node by address (used by VL2). If the node is unknown, a WHOIS goes out
   * and the packet waits up to 5 s in the TX queue. Returns true if it was sent at once.
   */
  sendTo(now: number, destination: number, verb: number, payload: Uint8Array, compress = false): boolean {
    const peer = this.topology.peers.get(destination);
    if (peer && this.send(now, peer, verb, payload, compress)) return true;
    if (this.txQueue.length >= TX_QUEUE_SIZE) {
      this.txQueue.shift();
      this.drop('tx-queue-full');
    }
    this.txQueue.push({ created: now, destination, verb, payload, compress });
    if (!peer) this.requestWhois(now, destination);
    return false;
  }

  /** Orbits a moon: fetch it from `seed` (0: only load it if we hold it). */
  orbit(now: number, moonId: bigint, seed: number): void {
    this.topology.orbit(moonId, seed);
    if (seed !== 0 && !this.topology.peers.has(seed)) this.requestWhois(now, seed);
    this.lastPing = Number.NEGATIVE_INFINITY; // contact the seed on the next tick
  }

  /**
   * Installs a world given by the local operator (a root issuing a planet update, or a moon file added):
   * the same update rule as for worlds from the wire. On acceptance the host is asked to persist it.
   */
  installWorld(world: World): WorldUpdateCheck {
    const check = this.topology.offerWorld(world, true);
    if (check.accept) this.host.worldUpdated?.(world, serializeWorld(world));
    return check;
  }

  /**
   * Peers from the host's peer cache: each unknown one is created with its cached version and sent HELLO at its
   * cached paths (ZeroTier One's Peer::deserializeFromCache tries them the same way); until one answers, they
   * are tried again on every ping check for PEER_RESTORE_CONTACT_WINDOW. Peers already known (roots) and
   * ourselves are skipped. Returns how many were restored.
   */
  restorePeers(now: number, cached: readonly CachedPeer[]): number {
    let n = 0;
    for (const c of cached) {
      const a = c.identity.address;
      if (a === this.address || this.topology.peers.has(a) || c.paths.length === 0) continue;
      const peer = new Peer(this.identity, c.identity);
      if (c.protocolVersion > 0) peer.setVersion(c.protocolVersion, c.versionMajor, c.versionMinor, c.versionRevision);
      peer.restoring = [...c.paths];
      peer.restoreUntil = now + PEER_RESTORE_CONTACT_WINDOW;
      peer.lastCached = toHex(encodeCachedPeer(c));
      this.topology.peers.set(a, peer);
      for (const p of peer.restoring) this.sendHello(now, peer, ANY_SOCKET, p);
      n++;
    }
    return n;
  }

  /** Hands every peer's cache record to the host (at shutdown, as ZeroTier One does when its topology goes). */
  cachePeers(now: number): void {
    for (const peer of this.topology.peers.values()) this.cachePeer(now, peer, true);
  }

  deorbit(moonId: bigint): boolean {
    return this.topology.deorbit(moonId);
  }

  /** ONLINE: heard from an upstream within 500 s, or we are one. */
  online(now: number): boolean {
    if (this.topology.iAmUpstream) return true;
    for (const a of this.topology.upstreamAddresses()) {
      const p = this.topology.peers.get(a);
      if (p && now - p.lastReceive < PEER_ACTIVITY_TIMEOUT && p.lastReceive > 0) return true;
    }
    return false;
  }

  peer(address: number): Peer | undefined {
    return this.topology.peers.get(address);
  }

  peerInfo(now: number): PeerInfo[] {
    const out: PeerInfo[] = [];
    for (const p of this.topology.peers.values()) {
      const best = p.bestPath(now);
      out.push({
        address: p.address,
        identity: p.identity,
        role: this.topology.role(p.address),
        versionMajor: p.vMajor,
        versionMinor: p.vMinor,
        versionRevision: p.vRevision,
        protocolVersion: p.vProto,
        latency: p.latency(now),
        lastReceive: p.lastReceive,
        paths: p.paths.map((x) => ({
          localSocket: x.localSocket,
          address: x.remote,
          lastSend: x.lastOut,
          lastReceive: x.lastIn,
          active: !x.expired(now),
          expired: x.expired(now),
          preferred: x === best,
        })),
      });
    }
    return out.sort((a, b) => a.address - b.address);
  }

  /** The addresses peers reported seeing us at. */
  externalAddresses(): InetAddress[] {
    return [...this.surface.values()].map((s) => s.address);
  }

  /** Marks traffic with a peer as non-trivial (VL2 frames and config), which keeps it pinged. */
  touch(now: number, peer: Peer): void {
    peer.lastNontrivial = now;
  }

  // ---- Receive path -------------------------------------------------------------------------------------------

  private onDatagram(now: number, ls: LocalSocket, remote: InetAddress, data: Uint8Array): void {
    const d = classifyDatagram(data);
    switch (d.kind) {
      case 'ignored':
        this.drop(d.reason);
        return;
      case 'beacon':
        this.onBeacon(now, ls, remote, d.source);
        return;
      case 'fragment': {
        const f = d.fragment;
        if (f.destination !== this.address) {
          this.relay(now, data, f.destination, 0, f.hops, true);
          return;
        }
        const r = this.reassembler.addFragment(now, f);
        if (r.kind === 'complete') this.onWholePacket(now, ls, remote, r.packet);
        else if (r.kind === 'dropped') this.drop(r.reason);
        return;
      }
      case 'packet': {
        const h = d.header;
        if (h.source === this.address) return this.drop('from-self');
        if (h.destination !== this.address) return this.relay(now, data, h.destination, h.source, h.hops, false);
        if (h.fragmented) {
          const r = this.reassembler.addHead(now, data);
          if (r.kind === 'complete') this.onWholePacket(now, ls, remote, r.packet);
          else if (r.kind === 'dropped') this.drop(r.reason);
          return;
        }
        this.onPacket(now, ls, remote, data, h);
        return;
      }
    }
  }

  private onWholePacket(now: number, ls: LocalSocket, remote: InetAddress, packet: Uint8Array): void {
    const d = classifyDatagram(packet);
    if (d.kind !== 'packet') return this.drop('bad-fragment');
    this.onPacket(now, ls, remote, packet, d.header);
  }

  private onPacket(now: number, ls: LocalSocket, remote: InetAddress, b: Uint8Array, h: PacketHeader): void {
    if (h.cipher === 0 && (b[PACKET_IDX_VERB]! & VERB_MASK) === Verb.HELLO) return this.onHello(now, ls, remote, b, h);
    const peer = this.topology.peers.get(h.source);
    if (!peer) {
      if (this.rxQueue.length >= RX_QUEUE_SIZE) {
        this.rxQueue.shift();
        this.drop('rx-queue-full');
      }
      this.rxQueue.push({ arrived: now, source: h.source, localSocket: ls, remote, packet: b.slice() });
      this.requestWhois(now, h.source);
      return;
    }
    const opened = openPacket(peer.key, b);
    if (!opened.ok) return this.drop(opened.reason);
    this.dispatch(now, ls, remote, peer, opened.value);
  }

  private onHello(now: number, ls: LocalSocket, remote: InetAddress, b: Uint8Array, h: PacketHeader): void {
    const hello = decodeHello(b.subarray(PACKET_IDX_PAYLOAD));
    if (!hello.ok) return this.drop(`hello-${hello.reason}`);
    const hv = hello.value;
    if (hv.protocolVersion < PROTO_VERSION_MIN) return this.drop('hello-old-protocol');
    if (hv.identity.address !== h.source) return this.drop('hello-address-mismatch');
    const claimed = new Identity(hv.identity.address, hv.identity.publicKey);
    let peer = this.topology.peers.get(h.source);
    if (peer && !peer.identity.equals(claimed)) {
      // Someone claims a known address with another key: tell them if they can prove the key, then drop.
      if (!this.identityGate(now, remote)) return this.drop('hello-rate-gated');
      const key = createPeerKey(agree(this.identity, claimed));
      if (dearmor(key, b) >= 0) {
        const pkt = sealPacket(
          key,
          {
            packetId: this.newPacketId(),
            destination: h.source,
            source: this.address,
            verb: Verb.ERROR,
            payload: encodeError(Verb.HELLO, h.packetId, ErrorCode.IDENTITY_COLLISION),
          },
          1,
          this.mtu,
        );
        this.transmit(now, ls, remote, pkt, undefined);
      }
      return this.drop('hello-identity-collision');
    }
    let isNew = false;
    if (!peer) {
      if (!this.identityGate(now, remote)) return this.drop('hello-rate-gated');
      const candidate = new Peer(this.identity, claimed);
      if (dearmor(candidate.key, b) < 0) return this.drop('bad-mac');
      if (!locallyValidate(claimed)) return this.drop('hello-invalid-identity');
      peer = candidate;
      isNew = true;
    } else if (dearmor(peer.key, b) < 0) return this.drop('bad-mac');
    if (isNew) this.topology.peers.set(peer.address, peer);
    if (hv.tailOffset !== undefined) decryptHelloTail(peer.key, b, hv.tailOffset);
    const moons =
      hv.tailOffset !== undefined ? decodeHelloTail(b.subarray(PACKET_IDX_PAYLOAD + hv.tailOffset)) : undefined;
    this.count(Verb.HELLO);
    if (h.hops === 0 && hv.physicalDestination) this.recordSurface(now, peer.address, hv.physicalDestination);

    // OK(HELLO): our version, where we saw them, and any newer worlds they asked about.
    const worlds: Uint8Array[] = [];
    const planet = this.topology.planet;
    if (
      planet &&
      hv.planetWorldId !== undefined &&
      hv.planetWorldId !== 0n &&
      hv.planetWorldId === planet.id &&
      planet.timestamp > (hv.planetWorldTimestamp ?? 0n)
    )
      worlds.push(serializeWorld(planet));
    if (moons?.ok) {
      for (const m of moons.value) {
        const held = m.type === WORLD_TYPE_MOON ? this.topology.moons.get(m.id) : undefined;
        if (held && held.timestamp > m.timestamp) worlds.push(serializeWorld(held));
      }
    }
    const okPayload = encodeOkHello(h.packetId, {
      timestamp: hv.timestamp,
      protocolVersion: PROTO_VERSION,
      versionMajor: VERSION_MAJOR,
      versionMinor: VERSION_MINOR,
      versionRevision: VERSION_REVISION,
      physicalAddress: h.hops === 0 ? remote : null,
      worlds: Buffer.concat(worlds),
    });
    if (h.hops === 0) this.sendVia(now, peer, ls, remote, Verb.OK, okPayload);
    else this.send(now, peer, Verb.OK, okPayload, false);
    peer.setVersion(hv.protocolVersion, hv.versionMajor, hv.versionMinor, hv.versionRevision);
    this.afterReceive(now, ls, remote, peer, h.hops, Verb.HELLO);
  }

  private dispatch(now: number, ls: LocalSocket, remote: InetAddress, peer: Peer, p: OpenedPacket): void {
    this.count(p.verb);
    const hops = p.header.hops;
    // Path bookkeeping first, so an OK's latency lands on a learned path.
    this.afterReceive(now, ls, remote, peer, hops, p.verb);
    switch (p.verb) {
      case Verb.NOP:
        return;
      case Verb.HELLO: {
        // HELLO armored with another suite than 0: authenticated already; treat like a keepalive.
        return;
      }
      case Verb.OK:
        return this.onOk(now, ls, remote, peer, p);
      case Verb.ERROR: {
        const e = decodeError(p.payload);
        if (!e.ok) return this.drop(`error-${e.reason}`);
        if (e.value.code === ErrorCode.IDENTITY_COLLISION && this.topology.isUpstream(peer.address))
          this.host.log?.('warn', `root ${peer.address.toString(16)} reports an identity collision for our address`);
        if (e.value.networkId !== undefined) this.vl2?.handleError(now, peer, e.value);
        return;
      }
      case Verb.WHOIS:
        return this.onWhois(now, peer, p);
      case Verb.RENDEZVOUS:
        return this.onRendezvous(now, peer, p);
      case Verb.ECHO: {
        const path = hops === 0 ? peer.findPath(ls, remote) : undefined;
        if (path) {
          if (now - path.lastEchoAnswered < ECHO_ANSWER_GATE) return this.drop('echo-rate-gated');
          path.lastEchoAnswered = now;
        }
        const ok = encodeOk(Verb.ECHO, p.header.packetId, p.payload);
        if (hops === 0) this.sendVia(now, peer, ls, remote, Verb.OK, ok);
        else this.send(now, peer, Verb.OK, ok, false);
        return;
      }
      case Verb.PUSH_DIRECT_PATHS:
        return this.onPushDirectPaths(now, peer, p);
      case Verb.USER_MESSAGE: {
        const m = decodeUserMessage(p.payload);
        if (!m.ok) return this.drop(`user-message-${m.reason}`);
        this.host.userMessage?.(peer.address, m.value.typeId, m.value.data);
        return;
      }
      case Verb.ACK:
      case Verb.QOS_MEASUREMENT:
      case Verb.PATH_NEGOTIATION_REQUEST:
      case Verb.REMOTE_TRACE:
        return; // bonding and diagnostics: authenticated, then ignored
      default:
        if (!this.vl2?.handlePacket(now, peer, p)) this.drop(this.vl2 ? 'vl2-dropped' : 'unhandled-verb');
    }
  }

  /** Receive bookkeeping: liveness and path learning (hops 0 only). */
  private afterReceive(
    now: number,
    ls: LocalSocket,
    remote: InetAddress,
    peer: Peer,
    hops: number,
    verb: number,
  ): void {
    peer.lastReceive = now;
    if (
      verb === Verb.FRAME ||
      verb === Verb.EXT_FRAME ||
      verb === Verb.MULTICAST_FRAME ||
      verb === Verb.NETWORK_CONFIG ||
      verb === Verb.NETWORK_CONFIG_REQUEST
    )
      peer.lastNontrivial = now;
    if (hops !== 0) return;
    const path = peer.findPath(ls, remote);
    if (path) {
      path.received(now);
      return;
    }
    if (this.topology.isProhibitedEndpoint(peer.address, remote)) return;
    if (verb === Verb.OK) {
      peer.learnPath(now, ls, remote);
      this.host.log?.('debug', `learned path ${pathKey(ls, remote)} to ${peer.address.toString(16)}`);
      if (peer.restoring) {
        peer.restoring = undefined;
        this.vl2?.peerReturned?.(now, peer);
      }
      this.retryWaiting(now, peer);
      return;
    }
    // Unconfirmed path: confirm it with a HELLO (at most once a second per path).
    const key = pathKey(ls, remote);
    if (now - (peer.helloGate.get(key) ?? Number.NEGATIVE_INFINITY) >= PATH_HELLO_GATE) {
      peer.helloGate.set(key, now);
      this.sendHello(now, peer, ls, remote);
    }
  }

  private onOk(now: number, ls: LocalSocket, remote: InetAddress, peer: Peer, p: OpenedPacket): void {
    const d = decodeOk(p.payload);
    if (!d.ok) return this.drop(`ok-${d.reason}`);
    const ok = d.value;
    if (!this.replies.expecting(ok.inRePacketId)) return this.drop('ok-unexpected');
    switch (ok.kind) {
      case 'hello': {
        const hv = ok.hello;
        if (p.header.hops === 0) {
          const path = peer.findPath(ls, remote);
          const rtt = now - Number(hv.timestamp);
          if (path && rtt >= 0 && rtt < 60000) path.updateLatency(rtt);
          if (hv.physicalAddress) this.recordSurface(now, peer.address, hv.physicalAddress);
        }
        peer.setVersion(hv.protocolVersion, hv.versionMajor, hv.versionMinor, hv.versionRevision);
        if (hv.worlds.length > 0 && (this.topology.isUpstream(peer.address) || this.topology.isMoonSeed(peer.address)))
          this.acceptWorlds(hv.worlds, peer.address);
        return;
      }
      case 'whois': {
        if (!this.topology.isUpstream(peer.address)) return this.drop('whois-reply-not-from-upstream');
        const first = ok.identities[0];
        if (!first) return;
        this.whoisPending.delete(first.address);
        if (first.address === this.address) return;
        let known = this.topology.peers.get(first.address);
        if (!known) {
          known = new Peer(this.identity, new Identity(first.address, first.publicKey));
          this.topology.peers.set(known.address, known);
        }
        this.retryWaiting(now, known);
        return;
      }
      case 'echo':
        return;
      case 'other':
        this.vl2?.handleOk(now, peer, ok);
        return;
    }
  }

  private onWhois(now: number, peer: Peer, p: OpenedPacket): void {
    const w = decodeWhois(p.payload);
    if (!w.ok) return this.drop(`whois-${w.reason}`);
    if (!this.topology.iAmUpstream) {
      if (now - peer.lastWhoisAnswered < WHOIS_ANSWER_GATE) return this.drop('whois-rate-gated');
      peer.lastWhoisAnswered = now;
    }
    const found: Identity[] = [];
    const unknown: number[] = [];
    for (const a of w.value.addresses) {
      if (a === this.address) found.push(this.identity.toPublic());
      else {
        const known = this.topology.peers.get(a);
        if (known) found.push(known.identity);
        else unknown.push(a);
      }
    }
    if (found.length > 0) this.send(now, peer, Verb.OK, encodeOkWhois(p.header.packetId, found), false);
    for (const a of unknown) this.requestWhois(now, a);
  }

  private onRendezvous(now: number, peer: Peer, p: OpenedPacket): void {
    if (!this.topology.isUpstream(peer.address)) return this.drop('rendezvous-not-from-upstream');
    const r = decodeRendezvous(p.payload);
    if (!r.ok) return this.drop(`rendezvous-${r.reason}`);
    const other = this.topology.peers.get(r.value.address);
    if (!other || r.value.endpoint.port === 0) return this.drop('rendezvous-unknown-peer');
    const junk = new Uint8Array(4);
    this.random(junk);
    this.host.wireSend(ANY_SOCKET, r.value.endpoint, junk, JUNK_TTL);
    this.contactAt(now, other, ANY_SOCKET, r.value.endpoint);
  }

  private onPushDirectPaths(now: number, peer: Peer, p: OpenedPacket): void {
    if (now - peer.lastPushReceived < PUSH_DIRECT_PATHS_CUTOFF_TIME) {
      if (++peer.pushCutoffCount >= PUSH_DIRECT_PATHS_CUTOFF_LIMIT) return this.drop('push-rate-gated');
    } else peer.pushCutoffCount = 0;
    peer.lastPushReceived = now;
    const d = decodePushDirectPaths(p.payload);
    if (!d.ok) return this.drop(`push-${d.reason}`);
    let tried = 0;
    for (const path of d.value.paths) {
      if (!path.address || tried >= 8) continue;
      if (peer.paths.some((x) => inetAddressEquals(x.remote, path.address))) continue;
      tried++;
      this.contactAt(now, peer, ANY_SOCKET, path.address);
    }
  }

  private onBeacon(now: number, ls: LocalSocket, remote: InetAddress, source: number): void {
    const peer = this.topology.peers.get(source);
    if (!peer || source === this.address) return this.drop('beacon');
    const key = `beacon|${pathKey(ls, remote)}`;
    if (now - (peer.helloGate.get(key) ?? Number.NEGATIVE_INFINITY) < 2500) return this.drop('beacon-rate-gated');
    peer.helloGate.set(key, now);
    this.sendVia(now, peer, ls, remote, Verb.NOP, new Uint8Array(0));
  }

  private acceptWorlds(bytes: Uint8Array, from: number): void {
    let off = 0;
    while (off < bytes.length) {
      const r = readWorld(bytes, off);
      if (!r.ok) return this.drop('world-malformed');
      off += r.length;
      const check = this.topology.offerWorld(r.world);
      if (check.accept) {
        this.host.log?.('info', `accepted world ${r.world.id} ts ${r.world.timestamp} from ${from.toString(16)}`);
        this.host.worldUpdated?.(r.world, bytes.slice(off - r.length, off));
      } else if (!check.reason.includes('not newer')) this.host.log?.('debug', `world refused: ${check.reason}`);
    }
  }

  // ---- Relaying -------------------------------------------------------------------------------------------------

  private relay(
    now: number,
    data: Uint8Array,
    destination: number,
    source: number,
    hops: number,
    fragment: boolean,
  ): void {
    if (!this.topology.iAmUpstream) return this.drop('relay-not-allowed');
    if (hops >= RELAY_MAX_HOPS) return this.drop('relay-too-many-hops');
    if (fragment) setFragmentHops(data, hops + 1);
    else data[PACKET_IDX_FLAGS] = (data[PACKET_IDX_FLAGS]! & ~FLAGS_HOPS_MASK) | ((hops + 1) & FLAGS_HOPS_MASK);
    const dest = this.topology.peers.get(destination);
    const path = dest?.bestPath(now);
    if (dest && path) {
      this.host.wireSend(path.localSocket, path.remote, data);
      path.sent(now);
      if (!fragment) this.maybeUnite(now, source, dest);
      return;
    }
    const up = this.bestUpstream(now);
    const upPath = up && up.address !== source ? up.bestPath(now) : undefined;
    if (up && upPath) {
      this.host.wireSend(upPath.localSocket, upPath.remote, data);
      upPath.sent(now);
      return;
    }
    this.drop('relay-no-path');
  }

  /** A root relaying S→D directly introduces them to each other (at most once per 30 s per pair). */
  private maybeUnite(now: number, source: number, dest: Peer): void {
    const src = this.topology.peers.get(source);
    if (!src) return;
    const key = source < dest.address ? `${source}|${dest.address}` : `${dest.address}|${source}`;
    if (now - (this.lastUnite.get(key) ?? Number.NEGATIVE_INFINITY) < MIN_UNITE_INTERVAL) return;
    const sp = src.bestPath(now);
    const dp = dest.bestPath(now);
    if (!sp || !dp || sp.remote.family !== dp.remote.family) return;
    this.lastUnite.set(key, now);
    const order = this.newPacketId() & 1n ? [src, dest] : [dest, src];
    for (const to of order) {
      const about = to === src ? dest : src;
      const at = to === src ? dp.remote : sp.remote;
      this.send(now, to, Verb.RENDEZVOUS, encodeRendezvous({ flags: 0, address: about.address, endpoint: at }), false);
    }
  }

  // ---- Send path --------------------------------------------------------------------------------------------------

  /** Seals and sends to a known peer by the best route. False if there is no route at all. */
  private send(now: number, peer: Peer, verb: number, payload: Uint8Array, compress: boolean): boolean {
    const route = this.route(now, peer);
    if (!route) return false;
    const pkt = sealPacket(
      peer.key,
      { packetId: this.newPacketId(), destination: peer.address, source: this.address, verb, payload, compress },
      peer.suite(),
      this.mtu,
    );
    this.replies.expect(packetIdOf(pkt));
    this.transmit(now, route.localSocket, route.remote, pkt, route);
    return true;
  }

  /** Sends on a given physical path (replies to a direct packet go back the way it came). */
  private sendVia(
    now: number,
    peer: Peer,
    ls: LocalSocket,
    remote: InetAddress,
    verb: number,
    payload: Uint8Array,
  ): void {
    const pkt = sealPacket(
      peer.key,
      { packetId: this.newPacketId(), destination: peer.address, source: this.address, verb, payload },
      peer.suite(),
      this.mtu,
    );
    this.replies.expect(packetIdOf(pkt));
    this.transmit(now, ls, remote, pkt, peer.findPath(ls, remote));
  }

  /** The peer's best direct path; else relay through the best upstream; else any path of the peer's. */
  private route(now: number, peer: Peer): Path | undefined {
    const direct = peer.bestPath(now);
    if (direct) return direct;
    const up = this.bestUpstream(now);
    if (up && up !== peer) {
      const p = up.bestPath(now);
      if (p) return p;
    }
    return peer.anyPath(now);
  }

  private transmit(now: number, ls: LocalSocket, remote: InetAddress, pkt: Uint8Array, path: Path | undefined): void {
    emitPieces(pkt, this.mtu, (p) => this.host.wireSend(ls, remote, p), this.scratch);
    path?.sent(now);
  }

  private sendHello(now: number, peer: Peer, ls: LocalSocket, remote: InetAddress | null): void {
    const planet = this.topology.planet;
    const moons = [
      ...[...this.topology.moons.values()].map((m) => ({ type: WORLD_TYPE_MOON, id: m.id, timestamp: m.timestamp })),
      ...[...this.topology.wantedMoons.keys()].map((id) => ({ type: WORLD_TYPE_MOON, id, timestamp: 0n })),
    ];
    const { payload, tailOffset } = encodeHello({
      protocolVersion: PROTO_VERSION,
      versionMajor: VERSION_MAJOR,
      versionMinor: VERSION_MINOR,
      versionRevision: VERSION_REVISION,
      timestamp: BigInt(Math.max(0, Math.floor(now))),
      identity: this.identity,
      physicalDestination: remote,
      planetWorldId: planet?.id ?? 0n,
      planetWorldTimestamp: planet?.timestamp ?? 0n,
      moons,
    });
    const pkt = sealHello(
      peer.key,
      { packetId: this.newPacketId(), destination: peer.address, source: this.address, payload },
      tailOffset,
      this.mtu,
    );
    this.replies.expect(packetIdOf(pkt));
    peer.lastHelloSent = now;
    if (remote) {
      this.transmit(now, ls, remote, pkt, peer.findPath(ls, remote));
      return;
    }
    // No address known: through the best upstream, which relays it.
    const up = this.bestUpstream(now);
    const p = up?.bestPath(now);
    if (p) this.transmit(now, p.localSocket, p.remote, pkt, p);
  }

  /** RENDEZVOUS / PUSH_DIRECT_PATHS: ECHO if the peer is known to answer it, else HELLO. */
  private contactAt(now: number, peer: Peer, ls: LocalSocket, remote: InetAddress): void {
    if (peer.vProto >= 5) this.sendVia(now, peer, ls, remote, Verb.ECHO, new Uint8Array(0));
    else this.sendHello(now, peer, ls, remote);
  }

  private requestWhois(now: number, address: number): void {
    if (address === this.address) return;
    const last = this.whoisPending.get(address);
    if (last !== undefined && now - last < WHOIS_RETRY_DELAY) return;
    this.whoisPending.set(address, now);
    const up = this.bestUpstream(now);
    if (up && up.address !== address) this.send(now, up, Verb.WHOIS, encodeWhois({ addresses: [address] }), false);
  }

  private bestUpstream(now: number): Peer | undefined {
    let best: Peer | undefined;
    let bestQ = Number.POSITIVE_INFINITY;
    for (const a of this.topology.upstreamAddresses()) {
      const p = this.topology.peers.get(a);
      if (!p?.bestPath(now)) continue;
      const q = p.relayQuality(now);
      if (q < bestQ) {
        best = p;
        bestQ = q;
      }
    }
    return best;
  }

  /** A peer just became known: deliver what waited for it. */
  private retryWaiting(now: number, peer: Peer): void {
    for (let i = 0; i < this.rxQueue.length; ) {
      const e = this.rxQueue[i]!;
      if (e.source !== peer.address) {
        i++;
        continue;
      }
      this.rxQueue.splice(i, 1);
      const opened = openPacket(peer.key, e.packet);
      if (opened.ok) this.dispatch(now, e.localSocket, e.remote, peer, opened.value);
      else this.drop(opened.reason);
    }
    for (let i = 0; i < this.txQueue.length; ) {
      const e = this.txQueue[i]!;
      if (e.destination === peer.address && this.send(now, peer, e.verb, e.payload, e.compress))
        this.txQueue.splice(i, 1);
      else i++;
    }
  }

  // ---- Timers -------------------------------------------------------------------------------------------------------

  private switchTimer(now: number): void {
    for (let i = this.txQueue.length - 1; i >= 0; i--) {
      const e = this.txQueue[i]!;
      const peer = this.topology.peers.get(e.destination);
      if (peer && this.send(now, peer, e.verb, e.payload, e.compress)) this.txQueue.splice(i, 1);
      else if (now - e.created >= TX_QUEUE_TIMEOUT) {
        this.txQueue.splice(i, 1);
        this.drop('tx-queue-timeout');
      }
    }
    for (let i = this.rxQueue.length - 1; i >= 0; i--) {
      if (now - this.rxQueue[i]!.arrived >= RX_QUEUE_TIMEOUT) {
        this.rxQueue.splice(i, 1);
        this.drop('rx-queue-timeout');
      }
    }
    const waiting = new Set<number>([
      ...this.rxQueue.map((e) => e.source),
      ...this.txQueue.filter((e) => !this.topology.peers.has(e.destination)).map((e) => e.destination),
    ]);
    for (const a of this.whoisPending.keys())
      if (!waiting.has(a) || this.topology.peers.has(a)) this.whoisPending.delete(a);
    for (const a of waiting) this.requestWhois(now, a);
  }

  /** The 5-second loop: HELLO to roots, keepalives to active peers (PROTOCOL-VL1.md §8.4). */
  private pingPeers(now: number): void {
    const whoisRoots: number[] = [];
    for (const a of this.topology.upstreamAddresses()) {
      const peer = this.topology.peers.get(a);
      if (!peer) continue;
      const hasPath = peer.bestPath(now) !== undefined;
      if (hasPath && now - peer.lastHelloSent < UPSTREAM_HELLO_INTERVAL) {
        whoisRoots.push(a); // ZeroTier One's keepalive quirk: WHOIS <root> to the root every tick
        this.keepalive(now, peer, false);
        continue;
      }
      this.keepalive(now, peer, true);
      if (!hasPath)
        for (const ep of this.pickEndpoints(this.topology.stableEndpoints(a)))
          this.sendHello(now, peer, ANY_SOCKET, ep);
    }
    for (const a of whoisRoots) {
      const up = this.bestUpstream(now);
      if (up) this.send(now, up, Verb.WHOIS, encodeWhois({ addresses: [a] }), false);
    }
    for (const [, seed] of this.topology.wantedMoons) {
      if (seed === 0) continue;
      const peer = this.topology.peers.get(seed);
      if (!peer) this.requestWhois(now, seed);
      else if (now - peer.lastHelloSent >= PATH_HEARTBEAT_PERIOD * 2) {
        const p = peer.bestPath(now);
        this.sendHello(now, peer, p?.localSocket ?? ANY_SOCKET, p?.remote ?? null);
      }
    }
    for (const peer of this.topology.peers.values()) {
      if (peer.restoring) {
        if (now >= peer.restoreUntil || peer.bestPath(now)) peer.restoring = undefined;
        else for (const p of peer.restoring) this.sendHello(now, peer, ANY_SOCKET, p);
      }
      if (this.topology.isUpstream(peer.address) || !peer.active(now)) continue;
      this.keepalive(now, peer, now - peer.lastHelloSent >= PEER_PING_PERIOD);
    }
  }

  /** HELLO on every live path when due, else ECHO on paths idle for 14 s. */
  private keepalive(now: number, peer: Peer, helloDue: boolean): void {
    for (const path of peer.paths) {
      if (path.expired(now)) continue;
      if (helloDue) this.sendHello(now, peer, path.localSocket, path.remote);
      else if (now - path.lastOut >= PATH_HEARTBEAT_PERIOD)
        this.sendVia(now, peer, path.localSocket, path.remote, Verb.ECHO, new Uint8Array(0));
    }
  }

  /** One stable endpoint per address family. */
  private pickEndpoints(eps: InetAddress[]): InetAddress[] {
    const out: InetAddress[] = [];
    for (const fam of [4, 6] as const) {
      const of = eps.filter((e) => e.family === fam);
      if (of.length > 0) out.push(of[randomIndex(this.random, of.length)]!);
    }
    return out;
  }

  private housekeeping(now: number): void {
    for (const [a, peer] of this.topology.peers) {
      peer.expirePaths(now);
      for (const [k, t] of peer.helloGate) if (now - t > 60000) peer.helloGate.delete(k);
      const forget = !this.topology.isUpstream(a) && !this.topology.isMoonSeed(a) && !peer.alive(now);
      if (forget && peer.restoring && now < peer.restoreUntil) continue; // still being tried
      this.cachePeer(now, peer, forget);
      if (forget) this.topology.peers.delete(a);
    }
    for (const [k, t] of this.lastUnite) if (now - t >= MIN_UNITE_INTERVAL) this.lastUnite.delete(k);
    for (const [k, t] of this.idGateBuckets) if (now - t >= this.idGate) this.idGateBuckets.delete(k);
    for (const [k, s] of this.surface) if (now - s.at > 600000) this.surface.delete(k);
  }

  // ---- Small helpers ------------------------------------------------------------------------------------------------

  /**
   * Gives the host the peer's cache record if it changed since the last one. Without `always`, only peers with a
   * direct path are stored (their paths are what a restart needs); a peer that was never reached keeps its
   * restored paths rather than being stored with none.
   */
  private cachePeer(now: number, peer: Peer, always: boolean): void {
    if (!this.host.peerCached || peer.address === this.address) return;
    const live = peer.paths
      .filter((p) => !p.expired(now))
      .sort((x, y) => x.quality(now) - y.quality(now))
      .map((p) => p.remote);
    const paths = live.length > 0 ? live : (peer.restoring ?? peer.paths.map((p) => p.remote));
    if (paths.length === 0 && !always) return;
    const record = encodeCachedPeer({
      identity: peer.identity,
      protocolVersion: peer.vProto,
      versionMajor: peer.vMajor,
      versionMinor: peer.vMinor,
      versionRevision: peer.vRevision,
      paths,
    });
    const hex = toHex(record);
    if (hex === peer.lastCached) return;
    peer.lastCached = hex;
    this.host.peerCached(peer.address, record);
  }

  private recordSurface(now: number, reporter: number, address: InetAddress): void {
    this.surface.set(`${reporter}|${address.family}`, { address, at: now });
  }

  /** One identity check per source bucket (IPv4 /24 or the first 6 bytes of IPv6) per gate period. */
  private identityGate(now: number, remote: InetAddress): boolean {
    if (this.idGate <= 0) return true;
    const ip = remote.ip;
    const bucket =
      remote.family === 4
        ? (ip[0]! << 16) | (ip[1]! << 8) | ip[2]!
        : 0x1000000 + ((ip[0]! << 16) ^ (ip[1]! << 8) ^ ip[2]! ^ (ip[3]! << 4) ^ (ip[4]! << 12) ^ ip[5]!);
    const last = this.idGateBuckets.get(bucket);
    if (last !== undefined && now - last < this.idGate) return false;
    this.idGateBuckets.set(bucket, now);
    return true;
  }

  private newPacketId(): bigint {
    if (this.idPoolPos >= this.idPool.length) {
      this.random(this.idPool);
      this.idPoolPos = 0;
    }
    const v = new DataView(this.idPool.buffer, this.idPool.byteOffset + this.idPoolPos, 8).getBigUint64(0);
    this.idPoolPos += 8;
    return v;
  }

  private count(verb: number): void {
    const n = verbName(verb);
    this.received.set(n, (this.received.get(n) ?? 0) + 1);
  }

  private drop(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }
}

export type { Peer };
