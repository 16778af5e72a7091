// The VL1 node: a pure state machine. The host feeds it datagrams and the time, and it answers through the
// Host interface (send a datagram, persist a world, deliver a message). It never reads the clock, opens a
// socket or touches a file, so many nodes can run in one test process over an in-memory wire.
//
//   processWirePacket(now, localSocket, remote, bytes)   a UDP datagram arrived
//   tick(now) → next deadline                            timers: keepalives, WHOIS retries, queues, expiry
//
// Node is the façade and the switch: classification, reassembly, relaying, the send path, routing and the
// queues live here; what each incoming verb does lives in incoming.ts (as ZeroTier keeps IncomingPacket apart
// from Switch); the host and VL2 interfaces in node-host.ts.
import {
  DEFAULT_PHYSMTU,
  FLAGS_HOPS_MASK,
  HOUSEKEEPING_PERIOD,
  IDENTITY_VALIDATION_GATE,
  MAX_PACKET_LENGTH,
  MIN_UNITE_INTERVAL,
  PACKET_IDX_FLAGS,
  PACKET_IDX_VERB,
  PATH_HEARTBEAT_PERIOD,
  PEER_ACTIVITY_TIMEOUT,
  PEER_PING_PERIOD,
  PEER_RESTORE_CONTACT_WINDOW,
  PING_CHECK_INTERVAL,
  PROTO_VERSION,
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
  WHOIS_RETRY_DELAY,
} from './constants.js';
import { emitPieces, Reassembler, setFragmentHops } from './fragment.js';
import type { Identity } from './identity.js';
import { IncomingHandlers } from './incoming.js';
import type { InetAddress } from './inet-address.js';
import { ANY_SOCKET, type Host, type Vl2Handler } from './node-host.js';
import { classifyDatagram, openPacket, type PacketHeader, sealHello, sealPacket } from './packet.js';
import { type LocalSocket, type Path, pathKey } from './path.js';
import { Peer } from './peer.js';
import { type CachedPeer, encodeCachedPeer } from './peer-cache.js';
import { type RandomFill, randomIndex } from './random.js';
import { ReplyFilter } from './reply-filter.js';
import { type PeerRole, Topology } from './topology.js';
import { encodeHello, encodeRendezvous, encodeUserMessage, encodeWhois } from './verbs.js';
import { toHex } from './wire.js';
import { serializeWorld, WORLD_TYPE_MOON, type World, type WorldUpdateCheck } from './world.js';

export { ANY_SOCKET, type Host, type Vl2Handler };

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
  /** The handlers of incoming packets (incoming.ts). */
  private readonly incoming: IncomingHandlers;
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
    // What the verb handlers may use of the node: its identity and tables, and its send path.
    const node = this;
    this.incoming = new IncomingHandlers({
      identity: this.identity,
      address: this.address,
      topology: this.topology,
      host: this.host,
      mtu: this.mtu,
      replies: this.replies,
      whoisPending: this.whoisPending,
      get vl2() {
        return node.vl2;
      },
      random: this.random,
      count: (verb) => this.count(verb),
      drop: (reason) => this.drop(reason),
      identityGate: (now, remote) => this.identityGate(now, remote),
      newPacketId: () => this.newPacketId(),
      transmit: (now, ls, remote, pkt, path) => this.transmit(now, ls, remote, pkt, path),
      send: (now, peer, verb, payload, compress) => this.send(now, peer, verb, payload, compress),
      sendVia: (now, peer, ls, remote, verb, payload) => this.sendVia(now, peer, ls, remote, verb, payload),
      sendHello: (now, peer, ls, remote) => this.sendHello(now, peer, ls, remote),
      contactAt: (now, peer, ls, remote) => this.contactAt(now, peer, ls, remote),
      requestWhois: (now, address) => this.requestWhois(now, address),
      retryWaiting: (now, peer) => this.retryWaiting(now, peer),
      recordSurface: (now, reporter, address) => this.recordSurface(now, reporter, address),
    });
  }

  // ---- Public API -------------------------------------------------------------------------------------------

  /**
   * A datagram arrived on `localSocket` from `remote`. Never throws. The buffer is lent for the call: it may be
   * modified in place, and the host reuses it once the call returns (the daemon's receive slots are refilled
   * by the next recvmmsg), so whatever the node keeps past the call it copies.
   */
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
        this.incoming.onBeacon(now, ls, remote, d.source);
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
    if (h.cipher === 0 && (b[PACKET_IDX_VERB]! & VERB_MASK) === Verb.HELLO)
      return this.incoming.onHello(now, ls, remote, b.slice(), h); // rare, and keeps parts (identity, worlds)
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
    let p = opened.value;
    // The datagram is lent (processWirePacket). Unicast frames, the data path, are handed on in place: their
    // handlers copy what they keep (a frame into the stack, one waiting for credentials). Every other verb
    // gets its own copy, as control traffic is kept in many places (identities, credentials, config chunks,
    // a controller's request, a user message); a decompressed payload is its own buffer already.
    if (!p.compressed && p.verb !== Verb.FRAME && p.verb !== Verb.EXT_FRAME) p = { ...p, payload: p.payload.slice() };
    this.incoming.dispatch(now, ls, remote, peer, p);
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
    this.replies.expect(pkt);
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
    this.replies.expect(pkt);
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
    this.replies.expect(pkt);
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
      if (opened.ok) this.incoming.dispatch(now, e.localSocket, e.remote, peer, opened.value);
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
