// VL2 on a node (PROTOCOL-VL2.md): the node's Vl2Handler. It owns the joined networks (network.ts), the
// multicast directory (multicaster.ts), and — when the node is a controller — hands config requests to the
// NetworkController and implements its sender (chunking and signing configs, errors, revocations).
//
//   const vl2 = new Vl2(node, { controller });   node.vl2 = vl2 (done by the constructor)
//   vl2.join(now, nwid, tap) / vl2.leave(nwid)
//   vl2.sendFrame(now, nwid, frame)              an Ethernet frame from the host's stack
//   node.tick(now) → vl2.tick(now)               config requests, announcements, retries
import type { Address } from '../address.js';
import { ErrorCode, Verb } from '../constants.js';
import type { Identity } from '../identity.js';
import type { Node, Vl2Handler } from '../node.js';
import type { OpenedPacket } from '../packet.js';
import type { Peer } from '../peer.js';
import type { RandomFill } from '../random.js';
import { type ErrorMessage, encodeNetworkError, encodeOk, type Ok } from '../verbs.js';
import {
  controllerErrorCode,
  isControllerOf,
  type NetworkController,
  type NetworkControllerError,
  type NetworkControllerSender,
} from './controller-interface.js';
import { ControllerLink } from './controller-link.js';
import {
  CREDENTIAL_TYPE,
  decodeNetworkCredentials,
  decodeRevocation,
  encodeRevocation,
  REVOCATION_FLAG_FAST_PROPAGATE,
  verifyRevocation,
} from './credentials.js';
import {
  decodeGatherOk,
  decodeMulticastFrameOk,
  decodeMulticastGather,
  decodeMulticastLike,
  encodeGatherOk,
} from './frames.js';
import { Multicaster } from './multicaster.js';
import { Network, type NetworkHost, type Tap } from './network.js';
import { buildRequestMetadata, encodeConfigRequest } from './network-config.js';

/** A local controller remembers configuring a member this long (accepts its LIKE/GATHER). */
export const CONTROLLER_MEMBER_MEMORY = 180_000;
/** NETWORK_CREDENTIALS from one peer: at most one per this many ms. */
export const CREDENTIALS_RATE_GATE = 1_000;
const RETRY_INTERVAL = 500;

export interface Vl2Options {
  controller?: NetworkController;
  /** `o` in config requests. */
  osArch?: string;
  log?: (level: 'debug' | 'info' | 'warn', msg: string) => void;
}

/** NETWORK_CREDENTIALS carrying one revocation: no COMs (00), no capabilities, no tags, one revocation, no COOs. */
function revocationCredentials(revocation: Uint8Array): Uint8Array {
  const out = new Uint8Array(9 + revocation.length);
  out[6] = 1;
  out.set(revocation, 7);
  return out;
}

export class Vl2 implements Vl2Handler, NetworkControllerSender, NetworkHost {
  readonly node: Node;
  readonly networks = new Map<bigint, Network>();
  readonly multicaster: Multicaster;
  /** The host's randomness (NetworkHost.random: MATCH_RANDOM draws). */
  readonly random: RandomFill;
  /** Dropped VL2 packets and frames by reason. */
  readonly drops = new Map<string, number>();
  private readonly controller: NetworkController | undefined;
  /** Carries the controller's answers onto the wire (chunking, signing). */
  private readonly link: ControllerLink | undefined;
  private readonly metadata: Uint8Array;
  private readonly log: Vl2Options['log'];
  /** nwid|address → when our controller last sent that member a config. */
  private readonly configured = new Map<string, number>();
  private readonly credentialsGate = new Map<Address, number>();
  private lastClean = 0;

  constructor(node: Node, opts: Vl2Options = {}) {
    this.node = node;
    this.random = node.random;
    this.multicaster = new Multicaster(node.random);
    this.controller = opts.controller;
    this.log = opts.log;
    this.metadata = buildRequestMetadata({ osArch: opts.osArch ?? 'linux/x86_64' }).bytes();
    node.vl2 = this;
    if (this.controller) {
      this.link = new ControllerLink(node, this.controller);
      this.controller.attach(this);
    }
  }

  // ---- NetworkHost ------------------------------------------------------------------------------------------

  get address(): Address {
    return this.node.address;
  }

  get identity(): Identity {
    return this.node.identity;
  }

  send(now: number, destination: Address, verb: number, payload: Uint8Array, compress: boolean): void {
    if (destination === this.node.address) return;
    this.node.sendTo(now, destination, verb, payload, compress);
    const p = this.node.peer(destination);
    if (p && (verb === Verb.FRAME || verb === Verb.MULTICAST_FRAME || verb === Verb.EXT_FRAME)) this.node.touch(now, p);
  }

  peerIdentity(address: Address): Identity | undefined {
    if (address === this.node.address) return this.node.identity;
    return this.node.peer(address)?.identity;
  }

  upstreams(): Address[] {
    return this.node.topology.upstreamAddresses().filter((a) => a !== this.node.address);
  }

  requestConfig(now: number, net: Network): void {
    if (isControllerOf(this.node.address, net.id)) {
      this.controller?.request(now, {
        networkId: net.id,
        requester: this.node.identity.toPublic(),
        metadata: this.metadata,
        packetId: 0n,
      });
      if (!this.controller) net.handleConfigError(ErrorCode.OBJ_NOT_FOUND);
      return;
    }
    this.node.sendTo(now, net.controller, Verb.NETWORK_CONFIG_REQUEST, this.configRequest(net), true);
  }

  /** The NETWORK_CONFIG_REQUEST payload for a network: 1.14.1's metadata, and what we hold (§3.1). */
  configRequest(net: Network): Uint8Array {
    const c = net.config;
    return encodeConfigRequest({
      networkId: net.id,
      metadata: this.metadata,
      revision: c ? BigInt(c.revision) : 0n,
      timestamp: c ? BigInt(c.timestamp) : 0n,
    });
  }

  drop(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  // ---- networks ---------------------------------------------------------------------------------------------

  /** Joins (or returns the joined) network. The first config request goes out on the next tick. */
  join(_now: number, nwid: bigint, tap?: Tap, cachedConfig?: Uint8Array): Network {
    let n = this.networks.get(nwid);
    if (n) {
      if (tap) n.tap = tap;
      return n;
    }
    n = new Network(this, nwid, tap);
    if (cachedConfig && cachedConfig.length > 1) n.loadCached(cachedConfig);
    this.networks.set(nwid, n);
    return n;
  }

  leave(nwid: bigint): boolean {
    const n = this.networks.get(nwid);
    if (!n) return false;
    n.tap = undefined;
    this.networks.delete(nwid);
    return true;
  }

  network(nwid: bigint): Network | undefined {
    return this.networks.get(nwid);
  }

  /** An Ethernet frame from the host's stack for a network. */
  sendFrame(now: number, nwid: bigint, frame: Uint8Array): boolean {
    const n = this.networks.get(nwid);
    if (!n) {
      this.drop('not-joined');
      return false;
    }
    try {
      return n.sendFrame(now, frame);
    } catch (e) {
      this.drop('internal-error');
      this.log?.('warn', `vl2 send: ${(e as Error).stack}`);
      return false;
    }
  }

  /** Timers; returns the next deadline (absolute ms) or undefined for "the node's own period". */
  tick(now: number): number | undefined {
    let next: number | undefined;
    for (const n of this.networks.values()) {
      n.tick(now);
      if (n.hasWaiting) next = now + RETRY_INTERVAL;
      if (!n.config || n.failure) next = Math.min(next ?? Number.POSITIVE_INFINITY, n.lastRequest + 5000);
    }
    if (now - this.lastClean >= 5000) {
      this.lastClean = now;
      this.multicaster.clean(now, (id) => this.networks.has(id));
      for (const [k, t] of this.configured) if (now - t >= CONTROLLER_MEMBER_MEMORY) this.configured.delete(k);
      for (const [k, t] of this.credentialsGate) if (now - t >= CREDENTIALS_RATE_GATE) this.credentialsGate.delete(k);
    }
    if (this.multicaster.hasPending()) next = Math.min(next ?? Number.POSITIVE_INFINITY, now + 1000);
    return next;
  }

  // ---- Vl2Handler -------------------------------------------------------------------------------------------

  handlePacket(now: number, peer: Peer, p: OpenedPacket): boolean {
    try {
      return this.dispatch(now, peer, p);
    } catch (e) {
      this.drop('internal-error');
      this.log?.('warn', `vl2: ${(e as Error).stack}`);
      return false;
    }
  }

  private dispatch(now: number, peer: Peer, p: OpenedPacket): boolean {
    const pid = p.header.packetId;
    switch (p.verb) {
      case Verb.FRAME:
      case Verb.EXT_FRAME:
      case Verb.MULTICAST_FRAME: {
        if (p.payload.length < 8) return this.dropped('frame-too-short');
        const nwid = new DataView(p.payload.buffer, p.payload.byteOffset, 8).getBigUint64(0);
        const n = this.networks.get(nwid);
        if (!n) return this.dropped('not-joined');
        return n.handleFrame(now, peer.address, p.verb, pid, p.payload);
      }
      case Verb.NETWORK_CONFIG: {
        if (p.payload.length < 8) return this.dropped('config-too-short');
        const nwid = new DataView(p.payload.buffer, p.payload.byteOffset, 8).getBigUint64(0);
        const n = this.networks.get(nwid);
        if (!n) return this.dropped('not-joined');
        n.handleConfigChunk(now, peer.address, pid, p.payload, true);
        return true;
      }
      case Verb.NETWORK_CONFIG_REQUEST:
        return this.onConfigRequest(now, peer, pid, p.payload);
      case Verb.NETWORK_CREDENTIALS:
        return this.onCredentials(now, peer, p.payload);
      case Verb.MULTICAST_LIKE:
        return this.onLike(now, peer, p.payload);
      case Verb.MULTICAST_GATHER:
        return this.onGather(now, peer, pid, p.payload);
      default:
        return this.dropped('unhandled-verb');
    }
  }

  private dropped(reason: string): false {
    this.drop(reason);
    return false;
  }

  handleOk(now: number, peer: Peer, ok: Ok & { kind: 'other' }): void {
    try {
      switch (ok.inReVerb) {
        case Verb.NETWORK_CONFIG_REQUEST: {
          if (ok.data.length < 8) return void this.drop('ok-config-too-short');
          const nwid = new DataView(ok.data.buffer, ok.data.byteOffset, 8).getBigUint64(0);
          const n = this.networks.get(nwid);
          if (!n || peer.address !== n.controller) return void this.drop('ok-config-unexpected');
          n.handleConfigChunk(now, peer.address, ok.inRePacketId, ok.data, false);
          return;
        }
        case Verb.MULTICAST_GATHER: {
          const g = decodeGatherOk(ok.data);
          if (!g.ok) return void this.drop('ok-gather-malformed');
          const n = this.networks.get(g.value.networkId);
          if (!n) return;
          n.learnMembers(now, { mac: g.value.mac, adi: g.value.adi }, g.value.members);
          return;
        }
        case Verb.MULTICAST_FRAME: {
          const m = decodeMulticastFrameOk(ok.data);
          if (!m.ok) return void this.drop('ok-multicast-frame-malformed');
          const n = this.networks.get(m.value.networkId);
          if (!n || !m.value.gather) return;
          n.learnMembers(now, { mac: m.value.mac, adi: m.value.adi }, m.value.gather.members);
          return;
        }
        default:
          return;
      }
    } catch (e) {
      this.drop('internal-error');
      this.log?.('warn', `vl2 ok: ${(e as Error).stack}`);
    }
  }

  /** A cached peer answered after a restart: each network with a config shows it our credentials and groups. */
  peerReturned(now: number, peer: Peer): void {
    for (const n of this.networks.values()) n.peerReturned(now, peer.address);
  }

  handleError(now: number, peer: Peer, error: ErrorMessage): void {
    const nwid = error.networkId;
    if (nwid === undefined) return;
    const n = this.networks.get(nwid);
    if (!n) return;
    if (error.inReVerb === Verb.NETWORK_CONFIG_REQUEST) {
      if (peer.address !== n.controller) return void this.drop('config-error-not-from-controller');
      n.handleConfigError(error.code);
      return;
    }
    if (error.code === ErrorCode.NEED_MEMBERSHIP_CERTIFICATE) n.pushCredentials(now, peer.address, true);
    else if (error.code === ErrorCode.UNWANTED_MULTICAST && error.data.length >= 18) {
      const dv = new DataView(error.data.buffer, error.data.byteOffset, 18);
      const mac = dv.getUint16(8) * 0x100000000 + dv.getUint32(10);
      this.multicaster.remove(nwid, { mac, adi: dv.getUint32(14) }, peer.address);
    }
  }

  // ---- credentials ------------------------------------------------------------------------------------------

  private onCredentials(now: number, peer: Peer, payload: Uint8Array): boolean {
    const last = this.credentialsGate.get(peer.address);
    if (last !== undefined && now - last < CREDENTIALS_RATE_GATE) return this.dropped('credentials-rate-gated');
    this.credentialsGate.set(peer.address, now);
    const d = decodeNetworkCredentials(payload);
    if (!d.ok) return this.dropped(`credentials-${d.reason}`);
    const touched = new Set<Network>();
    for (const com of d.value.coms) {
      const q = com.qualifiers.find((x) => x.id === 1n);
      const n = q ? this.networks.get(q.value) : undefined;
      if (!n) continue;
      const r = n.addCom(com);
      if (r !== 'ok') this.drop(`com-${r}`);
      touched.add(n);
    }
    for (const coo of d.value.coos) {
      const n = this.networks.get(coo.networkId);
      if (n) n.addCoo(coo);
    }
    for (const cap of d.value.capabilities) {
      const n = this.networks.get(cap.networkId);
      if (n) n.addCapability(cap);
    }
    for (const tag of d.value.tags) {
      const n = this.networks.get(tag.networkId);
      if (n) n.addTag(tag);
    }
    for (const rev of d.value.revocations) {
      const n = this.networks.get(rev.networkId);
      if (!n) continue;
      const ctrl = this.peerIdentity(n.controller);
      if (!ctrl || rev.signedBy !== n.controller || !verifyRevocation(rev, ctrl)) {
        this.drop('revocation-rejected');
        continue;
      }
      if (rev.credentialType === CREDENTIAL_TYPE.NULL) continue;
      if (!n.addRevocation(now, rev)) continue;
      touched.add(n);
      // Fast propagation (§5.5): a new revocation flagged so goes on to every other member we know.
      if (rev.flags & REVOCATION_FLAG_FAST_PROPAGATE) {
        const out = revocationCredentials(encodeRevocation(rev));
        for (const a of n.knownMembers())
          if (a !== peer.address && a !== rev.signedBy) this.node.sendTo(now, a, Verb.NETWORK_CREDENTIALS, out, true);
      }
    }
    for (const n of touched) n.credentialsArrived(now);
    return true;
  }

  // ---- multicast directory ----------------------------------------------------------------------------------

  /** May this peer tell us about / ask us about members of this network? */
  private multicastAuthorized(now: number, nwid: bigint, peer: Address): boolean {
    if (this.node.topology.iAmUpstream) return true;
    const t = this.configured.get(`${nwid}|${peer}`);
    if (t !== undefined && now - t < CONTROLLER_MEMBER_MEMORY) return true;
    return this.networks.get(nwid)?.allows(peer) ?? false;
  }

  private onLike(now: number, peer: Peer, payload: Uint8Array): boolean {
    const d = decodeMulticastLike(payload);
    if (!d.ok) return this.dropped('like-malformed');
    for (const e of d.value) {
      if (!this.multicastAuthorized(now, e.networkId, peer.address)) {
        this.drop('like-unauthorized');
        continue;
      }
      const g = { mac: e.mac, adi: e.adi };
      const n = this.networks.get(e.networkId);
      if (n) n.learnMembers(now, g, [peer.address]);
      else this.multicaster.add(now, e.networkId, g, peer.address);
    }
    return true;
  }

  private onGather(now: number, peer: Peer, pid: bigint, payload: Uint8Array): boolean {
    const d = decodeMulticastGather(payload);
    if (!d.ok) return this.dropped('gather-malformed');
    const gth = d.value;
    const n = this.networks.get(gth.networkId);
    if (gth.com && n) n.addCom(gth.com);
    if (gth.gatherLimit === 0) return true;
    if (!this.multicastAuthorized(now, gth.networkId, peer.address)) return this.dropped('gather-unauthorized');
    const g = { mac: gth.mac, adi: gth.adi };
    let res: { totalKnown: number; members: Address[] };
    if (n) res = n.gatherResult(now, g, gth.gatherLimit, peer.address);
    else {
      const members = this.multicaster.sample(now, gth.networkId, g, Math.min(gth.gatherLimit, 1900), peer.address);
      res = { totalKnown: this.multicaster.members(now, gth.networkId, g).length, members };
    }
    if (res.members.length === 0) return true;
    const data = encodeGatherOk({ networkId: gth.networkId, mac: g.mac, adi: g.adi, ...res });
    this.node.sendTo(now, peer.address, Verb.OK, encodeOk(Verb.MULTICAST_GATHER, pid, data), true);
    return true;
  }

  // ---- controller -------------------------------------------------------------------------------------------

  private onConfigRequest(now: number, peer: Peer, pid: bigint, payload: Uint8Array): boolean {
    if (this.link) {
      const r = this.link.handleRequest(now, peer.identity, pid, payload);
      return r === 'handled' ? true : this.dropped(`config-request-${r}`);
    }
    // A node without a controller: 1.14.1 built without one answers UNSUPPORTED_OPERATION for its networks.
    if (payload.length < 8) return this.dropped('config-request-malformed');
    const nwid = new DataView(payload.buffer, payload.byteOffset, 8).getBigUint64(0);
    if (!isControllerOf(this.node.address, nwid)) return this.dropped('config-request-not-ours');
    this.node.sendTo(
      now,
      peer.address,
      Verb.ERROR,
      encodeNetworkError(Verb.NETWORK_CONFIG_REQUEST, pid, ErrorCode.UNSUPPORTED_OPERATION, nwid),
      false,
    );
    return true;
  }

  sendConfig(now: number, networkId: bigint, requestPacketId: bigint, destination: number, config: Uint8Array): void {
    this.configured.set(`${networkId}|${destination}`, now);
    if (destination === this.node.address) this.networks.get(networkId)?.applyLocalConfig(now, config);
    else this.link?.sendConfig(now, networkId, requestPacketId, destination, config);
  }

  sendError(
    now: number,
    networkId: bigint,
    requestPacketId: bigint,
    destination: number,
    error: NetworkControllerError,
  ): void {
    if (destination === this.node.address) this.networks.get(networkId)?.handleConfigError(controllerErrorCode(error));
    else this.link?.sendError(now, networkId, requestPacketId, destination, error);
  }

  sendRevocation(now: number, destination: number, revocation: Uint8Array): void {
    if (destination !== this.node.address) {
      this.link?.sendRevocation(now, destination, revocation);
      return;
    }
    const r = decodeRevocation(revocation);
    if (r.ok) this.networks.get(r.value.networkId)?.addRevocation(now, r.value);
  }
}
