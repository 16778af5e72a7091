// What each incoming packet does, verb by verb (ZeroTier's IncomingPacket): HELLO and its OK, ERROR, WHOIS,
// RENDEZVOUS, ECHO, PUSH_DIRECT_PATHS, USER_MESSAGE, beacons, worlds carried in OK(HELLO), and the receive
// bookkeeping (liveness, path learning). VL2 verbs go on to the Vl2Handler. The node (node.ts) classifies,
// reassembles, relays, queues and sends; these handlers use it through IncomingContext.
import {
  ECHO_ANSWER_GATE,
  ErrorCode,
  PACKET_IDX_PAYLOAD,
  PATH_HELLO_GATE,
  PROTO_VERSION,
  PROTO_VERSION_MIN,
  PUSH_DIRECT_PATHS_CUTOFF_LIMIT,
  PUSH_DIRECT_PATHS_CUTOFF_TIME,
  VERSION_MAJOR,
  VERSION_MINOR,
  VERSION_REVISION,
  Verb,
  WHOIS_ANSWER_GATE,
} from './constants.js';
import { createPeerKey, dearmor } from './crypto.js';
import { agree, Identity, locallyValidate } from './identity.js';
import { type InetAddress, inetAddressEquals } from './inet-address.js';
import { ANY_SOCKET, type Host, type Vl2Handler } from './node-host.js';
import { decryptHelloTail, type OpenedPacket, type PacketHeader, sealPacket } from './packet.js';
import { type LocalSocket, type Path, pathKey } from './path.js';
import { Peer } from './peer.js';
import type { RandomFill } from './random.js';
import type { ReplyFilter } from './reply-filter.js';
import type { Topology } from './topology.js';
import {
  decodeError,
  decodeHello,
  decodeHelloTail,
  decodeOk,
  decodePushDirectPaths,
  decodeRendezvous,
  decodeUserMessage,
  decodeWhois,
  encodeError,
  encodeOk,
  encodeOkHello,
  encodeOkWhois,
} from './verbs.js';
import { readWorld, serializeWorld, WORLD_TYPE_MOON } from './world.js';

const JUNK_TTL = 2;

/** What the handlers use of the node: its identity and tables, and its send path. */
export interface IncomingContext {
  readonly identity: Identity;
  readonly address: number;
  readonly topology: Topology;
  readonly host: Host;
  readonly mtu: number;
  readonly replies: ReplyFilter;
  /** Address → last WHOIS sent for it. */
  readonly whoisPending: Map<number, number>;
  readonly vl2: Vl2Handler | undefined;
  readonly random: RandomFill;
  count(verb: number): void;
  drop(reason: string): void;
  identityGate(now: number, remote: InetAddress): boolean;
  newPacketId(): bigint;
  transmit(now: number, ls: LocalSocket, remote: InetAddress, pkt: Uint8Array, path: Path | undefined): void;
  send(now: number, peer: Peer, verb: number, payload: Uint8Array, compress: boolean): boolean;
  sendVia(now: number, peer: Peer, ls: LocalSocket, remote: InetAddress, verb: number, payload: Uint8Array): void;
  sendHello(now: number, peer: Peer, ls: LocalSocket, remote: InetAddress | null): void;
  contactAt(now: number, peer: Peer, ls: LocalSocket, remote: InetAddress): void;
  requestWhois(now: number, address: number): void;
  retryWaiting(now: number, peer: Peer): void;
  recordSurface(now: number, reporter: number, address: InetAddress): void;
}

export class IncomingHandlers {
  constructor(private readonly n: IncomingContext) {}

  onHello(now: number, ls: LocalSocket, remote: InetAddress, b: Uint8Array, h: PacketHeader): void {
    const hello = decodeHello(b.subarray(PACKET_IDX_PAYLOAD));
    if (!hello.ok) return this.n.drop(`hello-${hello.reason}`);
    const hv = hello.value;
    if (hv.protocolVersion < PROTO_VERSION_MIN) return this.n.drop('hello-old-protocol');
    if (hv.identity.address !== h.source) return this.n.drop('hello-address-mismatch');
    const claimed = new Identity(hv.identity.address, hv.identity.publicKey);
    let peer = this.n.topology.peers.get(h.source);
    if (peer && !peer.identity.equals(claimed)) {
      // Someone claims a known address with another key: tell them if they can prove the key, then drop.
      if (!this.n.identityGate(now, remote)) return this.n.drop('hello-rate-gated');
      const key = createPeerKey(agree(this.n.identity, claimed));
      if (dearmor(key, b) >= 0) {
        const pkt = sealPacket(
          key,
          {
            packetId: this.n.newPacketId(),
            destination: h.source,
            source: this.n.address,
            verb: Verb.ERROR,
            payload: encodeError(Verb.HELLO, h.packetId, ErrorCode.IDENTITY_COLLISION),
          },
          1,
          this.n.mtu,
        );
        this.n.transmit(now, ls, remote, pkt, undefined);
      }
      return this.n.drop('hello-identity-collision');
    }
    let isNew = false;
    if (!peer) {
      if (!this.n.identityGate(now, remote)) return this.n.drop('hello-rate-gated');
      const candidate = new Peer(this.n.identity, claimed);
      if (dearmor(candidate.key, b) < 0) return this.n.drop('bad-mac');
      if (!locallyValidate(claimed)) return this.n.drop('hello-invalid-identity');
      peer = candidate;
      isNew = true;
    } else if (dearmor(peer.key, b) < 0) return this.n.drop('bad-mac');
    if (isNew) this.n.topology.peers.set(peer.address, peer);
    if (hv.tailOffset !== undefined) decryptHelloTail(peer.key, b, hv.tailOffset);
    const moons =
      hv.tailOffset !== undefined ? decodeHelloTail(b.subarray(PACKET_IDX_PAYLOAD + hv.tailOffset)) : undefined;
    this.n.count(Verb.HELLO);
    if (h.hops === 0 && hv.physicalDestination) this.n.recordSurface(now, peer.address, hv.physicalDestination);

    // OK(HELLO): our version, where we saw them, and any newer worlds they asked about.
    const worlds: Uint8Array[] = [];
    const planet = this.n.topology.planet;
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
        const held = m.type === WORLD_TYPE_MOON ? this.n.topology.moons.get(m.id) : undefined;
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
    if (h.hops === 0) this.n.sendVia(now, peer, ls, remote, Verb.OK, okPayload);
    else this.n.send(now, peer, Verb.OK, okPayload, false);
    peer.setVersion(hv.protocolVersion, hv.versionMajor, hv.versionMinor, hv.versionRevision);
    this.afterReceive(now, ls, remote, peer, h.hops, Verb.HELLO);
  }

  dispatch(now: number, ls: LocalSocket, remote: InetAddress, peer: Peer, p: OpenedPacket): void {
    this.n.count(p.verb);
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
        if (!e.ok) return this.n.drop(`error-${e.reason}`);
        if (e.value.code === ErrorCode.IDENTITY_COLLISION && this.n.topology.isUpstream(peer.address))
          this.n.host.log?.('warn', `root ${peer.address.toString(16)} reports an identity collision for our address`);
        if (e.value.networkId !== undefined) this.n.vl2?.handleError(now, peer, e.value);
        return;
      }
      case Verb.WHOIS:
        return this.onWhois(now, peer, p);
      case Verb.RENDEZVOUS:
        return this.onRendezvous(now, peer, p);
      case Verb.ECHO: {
        const path = hops === 0 ? peer.findPath(ls, remote) : undefined;
        if (path) {
          if (now - path.lastEchoAnswered < ECHO_ANSWER_GATE) return this.n.drop('echo-rate-gated');
          path.lastEchoAnswered = now;
        }
        const ok = encodeOk(Verb.ECHO, p.header.packetId, p.payload);
        if (hops === 0) this.n.sendVia(now, peer, ls, remote, Verb.OK, ok);
        else this.n.send(now, peer, Verb.OK, ok, false);
        return;
      }
      case Verb.PUSH_DIRECT_PATHS:
        return this.onPushDirectPaths(now, peer, p);
      case Verb.USER_MESSAGE: {
        const m = decodeUserMessage(p.payload);
        if (!m.ok) return this.n.drop(`user-message-${m.reason}`);
        this.n.host.userMessage?.(peer.address, m.value.typeId, m.value.data);
        return;
      }
      case Verb.ACK:
      case Verb.QOS_MEASUREMENT:
      case Verb.PATH_NEGOTIATION_REQUEST:
      case Verb.REMOTE_TRACE:
        return; // bonding and diagnostics: authenticated, then ignored
      default:
        if (!this.n.vl2?.handlePacket(now, peer, p)) this.n.drop(this.n.vl2 ? 'vl2-dropped' : 'unhandled-verb');
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
    if (this.n.topology.isProhibitedEndpoint(peer.address, remote)) return;
    if (verb === Verb.OK) {
      peer.learnPath(now, ls, remote);
      this.n.host.log?.('debug', `learned path ${pathKey(ls, remote)} to ${peer.address.toString(16)}`);
      if (peer.restoring) {
        peer.restoring = undefined;
        this.n.vl2?.peerReturned?.(now, peer);
      }
      this.n.retryWaiting(now, peer);
      return;
    }
    // Unconfirmed path: confirm it with a HELLO (at most once a second per path).
    const key = pathKey(ls, remote);
    if (now - (peer.helloGate.get(key) ?? Number.NEGATIVE_INFINITY) >= PATH_HELLO_GATE) {
      peer.helloGate.set(key, now);
      this.n.sendHello(now, peer, ls, remote);
    }
  }

  private onOk(now: number, ls: LocalSocket, remote: InetAddress, peer: Peer, p: OpenedPacket): void {
    const d = decodeOk(p.payload);
    if (!d.ok) return this.n.drop(`ok-${d.reason}`);
    const ok = d.value;
    if (!this.n.replies.expecting(ok.inRePacketId)) return this.n.drop('ok-unexpected');
    switch (ok.kind) {
      case 'hello': {
        const hv = ok.hello;
        if (p.header.hops === 0) {
          const path = peer.findPath(ls, remote);
          const rtt = now - Number(hv.timestamp);
          if (path && rtt >= 0 && rtt < 60000) path.updateLatency(rtt);
          if (hv.physicalAddress) this.n.recordSurface(now, peer.address, hv.physicalAddress);
        }
        peer.setVersion(hv.protocolVersion, hv.versionMajor, hv.versionMinor, hv.versionRevision);
        if (
          hv.worlds.length > 0 &&
          (this.n.topology.isUpstream(peer.address) || this.n.topology.isMoonSeed(peer.address))
        )
          this.acceptWorlds(hv.worlds, peer.address);
        return;
      }
      case 'whois': {
        if (!this.n.topology.isUpstream(peer.address)) return this.n.drop('whois-reply-not-from-upstream');
        const first = ok.identities[0];
        if (!first) return;
        this.n.whoisPending.delete(first.address);
        if (first.address === this.n.address) return;
        let known = this.n.topology.peers.get(first.address);
        if (!known) {
          known = new Peer(this.n.identity, new Identity(first.address, first.publicKey));
          this.n.topology.peers.set(known.address, known);
        }
        this.n.retryWaiting(now, known);
        return;
      }
      case 'echo':
        return;
      case 'other':
        this.n.vl2?.handleOk(now, peer, ok);
        return;
    }
  }

  private onWhois(now: number, peer: Peer, p: OpenedPacket): void {
    const w = decodeWhois(p.payload);
    if (!w.ok) return this.n.drop(`whois-${w.reason}`);
    if (!this.n.topology.iAmUpstream) {
      if (now - peer.lastWhoisAnswered < WHOIS_ANSWER_GATE) return this.n.drop('whois-rate-gated');
      peer.lastWhoisAnswered = now;
    }
    const found: Identity[] = [];
    const unknown: number[] = [];
    for (const a of w.value.addresses) {
      if (a === this.n.address) found.push(this.n.identity.toPublic());
      else {
        const known = this.n.topology.peers.get(a);
        if (known) found.push(known.identity);
        else unknown.push(a);
      }
    }
    if (found.length > 0) this.n.send(now, peer, Verb.OK, encodeOkWhois(p.header.packetId, found), false);
    for (const a of unknown) this.n.requestWhois(now, a);
  }

  private onRendezvous(now: number, peer: Peer, p: OpenedPacket): void {
    if (!this.n.topology.isUpstream(peer.address)) return this.n.drop('rendezvous-not-from-upstream');
    const r = decodeRendezvous(p.payload);
    if (!r.ok) return this.n.drop(`rendezvous-${r.reason}`);
    const other = this.n.topology.peers.get(r.value.address);
    if (!other || r.value.endpoint.port === 0) return this.n.drop('rendezvous-unknown-peer');
    const junk = new Uint8Array(4);
    this.n.random(junk);
    this.n.host.wireSend(ANY_SOCKET, r.value.endpoint, junk, JUNK_TTL);
    this.n.contactAt(now, other, ANY_SOCKET, r.value.endpoint);
  }

  private onPushDirectPaths(now: number, peer: Peer, p: OpenedPacket): void {
    if (now - peer.lastPushReceived < PUSH_DIRECT_PATHS_CUTOFF_TIME) {
      if (++peer.pushCutoffCount >= PUSH_DIRECT_PATHS_CUTOFF_LIMIT) return this.n.drop('push-rate-gated');
    } else peer.pushCutoffCount = 0;
    peer.lastPushReceived = now;
    const d = decodePushDirectPaths(p.payload);
    if (!d.ok) return this.n.drop(`push-${d.reason}`);
    let tried = 0;
    for (const path of d.value.paths) {
      if (!path.address || tried >= 8) continue;
      if (peer.paths.some((x) => inetAddressEquals(x.remote, path.address))) continue;
      tried++;
      this.n.contactAt(now, peer, ANY_SOCKET, path.address);
    }
  }

  onBeacon(now: number, ls: LocalSocket, remote: InetAddress, source: number): void {
    const peer = this.n.topology.peers.get(source);
    if (!peer || source === this.n.address) return this.n.drop('beacon');
    const key = `beacon|${pathKey(ls, remote)}`;
    if (now - (peer.helloGate.get(key) ?? Number.NEGATIVE_INFINITY) < 2500) return this.n.drop('beacon-rate-gated');
    peer.helloGate.set(key, now);
    this.n.sendVia(now, peer, ls, remote, Verb.NOP, new Uint8Array(0));
  }

  private acceptWorlds(bytes: Uint8Array, from: number): void {
    let off = 0;
    while (off < bytes.length) {
      const r = readWorld(bytes, off);
      if (!r.ok) return this.n.drop('world-malformed');
      off += r.length;
      const check = this.n.topology.offerWorld(r.world);
      if (check.accept) {
        this.n.host.log?.('info', `accepted world ${r.world.id} ts ${r.world.timestamp} from ${from.toString(16)}`);
        this.n.host.worldUpdated?.(r.world, bytes.slice(off - r.length, off));
      } else if (!check.reason.includes('not newer')) this.n.host.log?.('debug', `world refused: ${check.reason}`);
    }
  }
}
