// One joined network, member side (PROTOCOL-VL2.md §1-3, §5-7): its config and status, the memberships of
// the peers we exchange frames with (their COMs, COOs, tags, revocation thresholds), and the frame paths in
// both directions with the rules applied. Pure: time is a parameter; packets go out through NetworkHost
// (implemented by Vl2, which owns the node), frames go to the host's stack through Tap.
// Beside the frame path, in their own modules: the peers' credentials (memberships.ts), our multicast
// subscriptions (multicast-subscriptions.ts) and NDP emulation (ndp-emulation.ts).
import type { Address } from '../address.js';
import { ErrorCode, Verb } from '../constants.js';
import type { Identity } from '../identity.js';
import type { InetAddress } from '../inet-address.js';
import { type RandomFill, randomU32 } from '../random.js';
import { encodeNetworkError, encodeOk } from '../verbs.js';
import {
  type Capability,
  type CertificateOfMembership,
  type CertificateOfOwnership,
  cooOwnsIp,
  cooOwnsMac,
  type Revocation,
  type Tag,
} from './credentials.js';
import {
  decodeExtFrame,
  decodeFrame,
  decodeMulticastFrame,
  EXT_FRAME_FLAG,
  encodeExtFrame,
  encodeExtFrameOk,
  encodeFrame,
  encodeMulticastFrame,
  encodeMulticastFrameOk,
  encodeMulticastGather,
  ethernetFrame,
  MAX_FRAME_PAYLOAD,
  parseEthernetFrame,
} from './frames.js';
import {
  addressFromMac,
  isMulticastMac,
  type Mac,
  type MulticastGroup,
  macFromAddress,
  macToBytes,
  multicastGroupForFrame,
} from './mac.js';
import { type Membership, Memberships } from './memberships.js';
import { MulticastSubscriptions } from './multicast-subscriptions.js';
import type { Multicaster, PendingMulticast } from './multicaster.js';
import { emulatedNeighborAdvertisement } from './ndp-emulation.js';
import {
  CONFIG_FLAG,
  ConfigReassembler,
  decodeNetworkConfig,
  type NetworkConfig,
  NetworkStatus,
  networkConfigBytes,
  networkController,
  SPECIALIST,
} from './network-config.js';
import { type FilterResult, filterFrame, type RuleEnv, type RuleFrame } from './rules.js';

interface Verdict {
  readonly accept: boolean;
  readonly superAccept: boolean;
  readonly reason: string | undefined;
  /** The frame went to another member (REDIRECT): neither deliver nor send it normally. */
  readonly redirected: boolean;
}

const ACCEPTED: Verdict = { accept: true, superAccept: false, reason: undefined, redirected: false };

/** Member config refresh: re-request when the last update is this old (every tick while there is none). */
export const NETWORK_AUTOCONF_DELAY = 60_000;
export { CREDENTIALS_PUSH_PERIOD } from './memberships.js';
/** Frames that failed the credential gate are retried for this long. */
export const RX_CREDENTIAL_WAIT = 5_000;

/** The host's side of a network: its user-space stack (or a test double). */
export interface Tap {
  /** Ethernet frames for the stack, in arrival order. */
  deliver(frames: Uint8Array[]): void;
  /**
   * One frame as its header fields and payload, when the tap can take it without the frame being built
   * first (the payload is a view valid only during the call). False: not taken; it then comes by deliver().
   */
  deliverFrame?(dst: Mac, src: Mac, etherType: number, payload: Uint8Array): boolean;
  /** A new config was applied (its dictionary bytes, to persist and to reconfigure the stack). */
  configChanged?(net: Network, dictionary: Uint8Array): void;
  /** The status changed (denied, not found …). */
  statusChanged?(net: Network): void;
}

/** What a network needs from its owner (Vl2). */
export interface NetworkHost {
  readonly address: Address;
  readonly identity: Identity;
  readonly multicaster: Multicaster;
  /** The host's randomness, for MATCH_RANDOM (without it such a match holds only at probability 0xffffffff). */
  readonly random?: RandomFill;
  send(now: number, destination: Address, verb: number, payload: Uint8Array, compress: boolean): void;
  /** The identity of a peer we know (undefined: not known yet). */
  peerIdentity(address: Address): Identity | undefined;
  /** Roots (upstreams) to LIKE to and GATHER from. */
  upstreams(): Address[];
  /** Sends NETWORK_CONFIG_REQUEST (or asks the local controller). */
  requestConfig(now: number, net: Network): void;
  drop(reason: string): void;
}

interface WaitingFrame {
  arrived: number;
  source: Address;
  verb: number;
  packetId: bigint;
  payload: Uint8Array;
}

export type NetworkFailure = 'ACCESS_DENIED' | 'NOT_FOUND' | 'AUTHENTICATION_REQUIRED';

export class Network {
  readonly id: bigint;
  readonly controller: Address;
  readonly mac: Mac;
  tap: Tap | undefined;
  config: NetworkConfig | undefined;
  /** The config's encoding, kept so a refresh is compared with one encode instead of two. */
  private configBytes: Uint8Array | undefined;
  failure: NetworkFailure | undefined;
  /** Set by the host when its stack could not be set up. */
  portError = 0;
  lastConfigUpdate = 0;
  lastRequest = Number.NEGATIVE_INFINITY;
  /** Frames dropped by reason (also counted on the host). */
  readonly drops = new Map<string, number>();
  /** Frames delivered to the tap / sent from it. */
  framesIn = 0;
  framesOut = 0;
  /** Neighbor advertisements made up by NDP emulation. */
  ndpEmulated = 0;

  private readonly host: NetworkHost;
  private readonly reassembler: ConfigReassembler;
  private readonly members: Memberships;
  private readonly waiting: WaitingFrame[] = [];
  /** Groups the tap reports (beyond those derived from our addresses). */
  private readonly subscriptions: MulticastSubscriptions;
  private readonly peerMacs = new Map<Address, Mac>();
  /** The rules are the default accept-all. */
  private acceptAll = false;
  /** Rule environment of the first outbound multicast pass (no destination). */
  private multicastEnv: RuleEnv | undefined;

  constructor(host: NetworkHost, id: bigint, tap?: Tap) {
    this.host = host;
    this.id = id;
    this.controller = networkController(id);
    this.mac = macFromAddress(host.address, id);
    this.reassembler = new ConfigReassembler(id);
    this.members = new Memberships(host, this.controller, this);
    this.subscriptions = new MulticastSubscriptions(host, this, this.members);
    this.tap = tap;
  }

  // ---- status -----------------------------------------------------------------------------------------------

  get status(): NetworkStatus {
    if (this.portError) return NetworkStatus.PORT_ERROR;
    if (this.failure) return NetworkStatus[this.failure];
    return this.config ? NetworkStatus.OK : NetworkStatus.REQUESTING_CONFIGURATION;
  }

  /** Our multicast subscriptions, sorted (for the API and for LIKEs). */
  get multicastGroups(): readonly MulticastGroup[] {
    return this.subscriptions.groups;
  }

  get broadcastEnabled(): boolean {
    return !!this.config && (this.config.flags & CONFIG_FLAG.ENABLE_BROADCAST) !== 0;
  }

  /** We are an active bridge of this network. */
  get bridge(): boolean {
    return this.isActiveBridge(this.host.address);
  }

  private isActiveBridge(a: Address): boolean {
    for (const s of this.config?.specialists ?? [])
      if (Number(s & 0xffffffffffn) === a && (s & SPECIALIST.ACTIVE_BRIDGE) !== 0n) return true;
    return false;
  }

  /** The MAC a member has on this network (cached: it is computed for every frame received). */
  macOf(a: Address): Mac {
    let m = this.peerMacs.get(a);
    if (m === undefined) {
      m = macFromAddress(a, this.id);
      if (this.peerMacs.size > 4096) this.peerMacs.clear();
      this.peerMacs.set(a, m);
    }
    return m;
  }

  private dropFrame(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
    this.host.drop(reason);
  }

  // ---- config -----------------------------------------------------------------------------------------------

  /** Periodic work (every few seconds): config requests, announcements, waiting frames. */
  tick(now: number): void {
    const due = !this.config || now - this.lastConfigUpdate >= NETWORK_AUTOCONF_DELAY;
    if (due && now - this.lastRequest >= 5000 - 50) {
      this.lastRequest = now;
      this.host.requestConfig(now, this);
    }
    if (this.config) this.subscriptions.tick(now);
    this.retryWaiting(now);
  }

  /** Forces a config request on the next tick. */
  requestSoon(): void {
    this.lastRequest = Number.NEGATIVE_INFINITY;
    this.lastConfigUpdate = 0;
  }

  /** Applies a cached config at start; a fresh request still goes out on the first tick. */
  loadCached(dictionary: Uint8Array): boolean {
    const d = decodeNetworkConfig(dictionary);
    if (!d.ok || d.value.networkId !== this.id || d.value.issuedTo !== this.host.address) return false;
    this.install(0, d.value, dictionary, false);
    this.lastConfigUpdate = 0;
    return true;
  }

  /**
   * A config chunk, from OK(NETWORK_CONFIG_REQUEST) (isPush false) or NETWORK_CONFIG (true). Returns the
   * update ID when it completed an update (the caller acknowledges pushes).
   */
  handleConfigChunk(
    now: number,
    source: Address,
    packetId: bigint,
    chunk: Uint8Array,
    isPush: boolean,
  ): bigint | undefined {
    const ctrl = this.controller === this.host.address ? this.host.identity : this.host.peerIdentity(this.controller);
    const r = this.reassembler.accept(chunk, source, packetId, ctrl);
    switch (r.kind) {
      case 'incomplete':
        return undefined;
      case 'need-identity':
        this.host.drop('config-controller-unknown');
        return undefined;
      case 'dropped':
        this.host.drop(`config-${r.reason}`);
        return undefined;
      case 'complete': {
        const d = decodeNetworkConfig(r.dictionary);
        if (!d.ok) {
          this.host.drop(`config-${d.reason}`);
          return undefined;
        }
        if (d.value.networkId !== this.id || d.value.issuedTo !== this.host.address) {
          this.host.drop('config-not-ours');
          return undefined;
        }
        this.install(now, d.value, r.dictionary, true);
        if (isPush)
          this.host.send(now, source, Verb.OK, encodeOk(Verb.ECHO, packetId, ackData(this.id, r.updateId)), false);
        return r.updateId;
      }
    }
  }

  /** A whole config from the local controller (self-join): applied as if it had come in chunks. */
  applyLocalConfig(now: number, dictionary: Uint8Array): void {
    const d = decodeNetworkConfig(dictionary);
    if (!d.ok || d.value.networkId !== this.id || d.value.issuedTo !== this.host.address) return;
    this.install(now, d.value, dictionary, true);
  }

  private install(now: number, c: NetworkConfig, dictionary: Uint8Array, notify: boolean): void {
    const bytes = networkConfigBytes(c);
    const same =
      this.config !== undefined &&
      !this.failure &&
      this.configBytes !== undefined &&
      Buffer.compare(this.configBytes, bytes) === 0;
    this.lastConfigUpdate = now;
    if (same) return;
    const hadFailure = this.failure !== undefined;
    this.config = c;
    this.configBytes = bytes;
    this.failure = undefined;
    // New credentials: push them again to everyone we talk to.
    for (const m of this.members.values()) {
      m.lastPushedCredentials = Number.NEGATIVE_INFINITY;
      m.inEnv = undefined;
      m.outEnv = undefined;
    }
    this.multicastEnv = undefined;
    // The default rule set (one unconditional ACCEPT) accepts every frame: skip the engine for it.
    const r0 = c.rules[0];
    this.acceptAll = c.rules.length === 1 && r0?.type === 'ACTION_ACCEPT' && !r0.not && !r0.or;
    this.subscriptions.update(now);
    if (notify) this.tap?.configChanged?.(this, dictionary);
    if (hadFailure) this.tap?.statusChanged?.(this);
  }

  /** ERROR(NETWORK_CONFIG_REQUEST) from the controller. */
  handleConfigError(code: number): void {
    const before = this.failure;
    if (code === ErrorCode.NETWORK_ACCESS_DENIED) this.failure = 'ACCESS_DENIED';
    else if (code === ErrorCode.OBJ_NOT_FOUND || code === ErrorCode.UNSUPPORTED_OPERATION) this.failure = 'NOT_FOUND';
    else if (code === ErrorCode.NETWORK_AUTHENTICATION_REQUIRED) this.failure = 'AUTHENTICATION_REQUIRED';
    else return;
    if (before !== this.failure) this.tap?.statusChanged?.(this);
  }

  // ---- multicast subscriptions (multicast-subscriptions.ts holds them) ------------------------------------

  /** The groups the host's stack listens to beyond the address-derived ones. */
  setTapGroups(now: number, groups: MulticastGroup[]): void {
    this.subscriptions.setTapGroups(now, groups);
  }

  /** Do we listen to this group? */
  subscribed(g: MulticastGroup): boolean {
    return this.subscriptions.subscribed(g);
  }

  // ---- credentials (memberships.ts holds them) -----------------------------------------------------------

  /** The gate of §6.3: we hold a config and the network is public or the peer's COM agrees with ours. */
  allows(a: Address): boolean {
    return this.members.allows(a);
  }

  /** A received COM (filed under its issued-to address). 'ok' if stored or redundant. */
  addCom(com: CertificateOfMembership): 'ok' | 'rejected' | 'need-controller' {
    return this.members.addCom(com);
  }

  addCoo(coo: CertificateOfOwnership): void {
    this.members.addCoo(coo);
  }

  /** A capability presented by its holder (the last custody entry's `to`), verified against the controller. */
  addCapability(cap: Capability): void {
    this.members.addCapability(cap);
  }

  addTag(tag: Tag): void {
    this.members.addTag(tag);
  }

  /** A verified revocation for this network. Returns true if it was new (raised the threshold). */
  addRevocation(now: number, rev: Revocation): boolean {
    if (!this.members.raiseRevocationThreshold(rev)) return false;
    if (rev.target === this.host.address) {
      // We were deauthorized (or re-keyed): ask the controller now rather than at the next refresh.
      this.requestSoon();
      this.lastRequest = now - 5000;
    }
    return true;
  }

  /** Members we hold credentials of (other than us): where fast-propagated revocations are forwarded. */
  knownMembers(): Address[] {
    return this.members.knownMembers();
  }

  /** Pushes our COM, tags and COOs to a peer if it has not had them since our last config update or 500 s. */
  pushCredentials(now: number, to: Address, force = false): void {
    this.members.pushCredentials(now, to, force);
  }

  /**
   * A peer we knew before a restart (the peer cache) answered: push our credentials and announce our groups to
   * it, so that with every root down each side still learns the other is a member and which groups it
   * listens to (ARP broadcasts reach it). A peer that shares no network with us ignores both.
   */
  peerReturned(now: number, to: Address): void {
    if (!this.config?.com || to === this.host.address) return;
    this.pushCredentials(now, to, true);
    this.subscriptions.likeNow(now, to);
  }

  /** Credentials from `source` arrived: retry what waited for them. */
  credentialsArrived(now: number): void {
    this.retryWaiting(now, true);
  }

  // ---- receive --------------------------------------------------------------------------------------------------

  /**
   * FRAME, EXT_FRAME or MULTICAST_FRAME from `source`. Returns false if dropped. A frame failing the
   * credential gate is answered with ERROR(NEED_MEMBERSHIP_CERTIFICATE) and kept for up to 5 s.
   */
  handleFrame(
    now: number,
    source: Address,
    verb: number,
    packetId: bigint,
    payload: Uint8Array,
    retry = false,
  ): boolean {
    // Inline COMs (deprecated, never sent by 1.14.1) are offered first.
    if (!this.allows(source)) {
      this.host.send(
        now,
        source,
        Verb.ERROR,
        encodeNetworkError(verb, packetId, ErrorCode.NEED_MEMBERSHIP_CERTIFICATE, this.id),
        false,
      );
      if (!this.config) {
        this.dropFrame('no-config');
        return false;
      }
      if (!retry) this.waiting.push({ arrived: now, source, verb, packetId, payload: payload.slice() });
      if (this.waiting.length > 64) this.waiting.shift();
      this.dropFrame('credentials-pending');
      return false;
    }
    this.maybeSendLikes(now, source);
    switch (verb) {
      case Verb.FRAME:
        return this.onFrame(now, source, payload);
      case Verb.EXT_FRAME:
        return this.onExtFrame(now, source, packetId, payload);
      default:
        return this.onMulticastFrame(now, source, packetId, payload);
    }
  }

  private maybeSendLikes(now: number, peer: Address): void {
    this.subscriptions.likeTo(now, peer);
  }

  private retryWaiting(now: number, credentials = false): void {
    if (this.waiting.length === 0) return;
    const list = this.waiting.splice(0);
    for (const w of list) {
      if (now - w.arrived >= RX_CREDENTIAL_WAIT) {
        this.dropFrame('credentials-timeout');
        continue;
      }
      if (!this.allows(w.source)) {
        if (!credentials) {
          this.host.send(
            now,
            w.source,
            Verb.ERROR,
            encodeNetworkError(w.verb, w.packetId, ErrorCode.NEED_MEMBERSHIP_CERTIFICATE, this.id),
            false,
          );
        }
        this.waiting.push(w);
        continue;
      }
      this.handleFrame(now, w.source, w.verb, w.packetId, w.payload, true);
    }
  }

  get hasWaiting(): boolean {
    return this.waiting.length > 0;
  }

  private inbound(
    now: number,
    source: Address,
    srcMac: Mac,
    dstMac: Mac,
    etherType: number,
    payload: Uint8Array,
  ): Verdict {
    if (this.acceptAll) return ACCEPTED;
    const c = this.config!;
    const m = this.members.get(source);
    const fr: RuleFrame = {
      inbound: true,
      ztSource: source,
      ztDest: this.host.address,
      macSource: srcMac,
      macDest: dstMac,
      etherType,
      payload,
    };
    const mem = m ?? this.members.of(source);
    if (!mem.inEnv) {
      mem.inEnv = this.ruleEnv(mem, true);
      mem.inCaps = [...mem.capabilities.values()]
        .filter((x) => this.members.fresh(x.timestamp))
        .sort((x, y) => x.id - y.id);
    }
    const env = mem.inEnv;
    const r = filterFrame(c.rules, mem.inCaps, fr, env);
    return this.divert(now, r, true, false, srcMac, dstMac, etherType, payload);
  }

  private deliver(dst: Mac, src: Mac, etherType: number, payload: Uint8Array): void {
    this.framesIn++;
    const tap = this.tap;
    if (!tap) return;
    if (tap.deliverFrame?.(dst, src, etherType, payload)) return;
    tap.deliver([ethernetFrame(dst, src, etherType, payload)]);
  }

  private onFrame(now: number, source: Address, payload: Uint8Array): boolean {
    const d = decodeFrame(payload);
    if (!d.ok || d.value.payload.length === 0) {
      this.dropFrame('frame-malformed');
      return false;
    }
    const srcMac = this.macOf(source);
    const f = this.inbound(now, source, srcMac, this.mac, d.value.etherType, d.value.payload);
    if (!f.accept) {
      this.dropFrame(`inbound-${f.reason}`);
      return false;
    }
    if (f.redirected) return true;
    this.deliver(this.mac, srcMac, d.value.etherType, d.value.payload);
    return true;
  }

  private onExtFrame(now: number, source: Address, packetId: bigint, payload: Uint8Array): boolean {
    const d = decodeExtFrame(payload);
    if (!d.ok) {
      this.dropFrame('ext-frame-malformed');
      return false;
    }
    const x = d.value;
    if (x.from === 0 || x.from === this.mac) {
      this.dropFrame('ext-frame-bad-source');
      return false;
    }
    const f = this.inbound(now, source, x.from, x.to, x.etherType, x.payload);
    if (!f.accept) {
      this.dropFrame(`inbound-${f.reason}`);
      return false;
    }
    if (f.redirected) return true;
    if (!f.superAccept) {
      if (x.from !== this.macOf(source) && !this.isActiveBridge(source)) {
        this.dropFrame('bridging-not-allowed');
        return false;
      }
      if (x.to !== this.mac) {
        if (isMulticastMac(x.to) ? (this.config?.multicastLimit ?? 0) === 0 : !this.bridge) {
          this.dropFrame('ext-frame-not-for-us');
          return false;
        }
      }
    }
    this.deliver(x.to, x.from, x.etherType, x.payload);
    if (x.flags & EXT_FRAME_FLAG.ACK_REQUESTED)
      this.host.send(now, source, Verb.OK, encodeOk(Verb.EXT_FRAME, packetId, encodeExtFrameOk(this.id)), false);
    return true;
  }

  private onMulticastFrame(now: number, source: Address, packetId: bigint, payload: Uint8Array): boolean {
    const d = decodeMulticastFrame(payload);
    if (!d.ok) {
      this.dropFrame('multicast-frame-malformed');
      return false;
    }
    const mf = d.value;
    const c = this.config!;
    if (c.multicastLimit === 0) {
      this.dropFrame('multicast-disabled');
      return false;
    }
    const g: MulticastGroup = { mac: mf.mac, adi: mf.adi };
    let delivered = false;
    if (mf.payload.length >= 1 && mf.payload.length <= MAX_FRAME_PAYLOAD) {
      const src = mf.sourceMac ?? this.macOf(source);
      if (!isMulticastMac(mf.mac) || src === 0 || isMulticastMac(src) || src === this.mac) {
        this.dropFrame('multicast-frame-bad-mac');
      } else if (src !== this.macOf(source) && !this.isActiveBridge(source)) {
        this.dropFrame('bridging-not-allowed');
      } else {
        const f = this.inbound(now, source, src, mf.mac, mf.etherType, mf.payload);
        if (!f.accept) this.dropFrame(`inbound-${f.reason}`);
        else if (!f.redirected) {
          this.deliver(mf.mac, src, mf.etherType, mf.payload);
          delivered = true;
        }
      }
    }
    if (mf.gatherLimit !== undefined && mf.gatherLimit > 0) {
      const gather = this.gatherResult(now, g, mf.gatherLimit, source);
      if (gather.members.length > 0)
        this.host.send(
          now,
          source,
          Verb.OK,
          encodeOk(
            Verb.MULTICAST_FRAME,
            packetId,
            encodeMulticastFrameOk({ networkId: this.id, mac: g.mac, adi: g.adi, flags: 0x02, gather }),
          ),
          false,
        );
    }
    return delivered;
  }

  /** Members to list in a gather answer: ourselves first if subscribed, then random known members. */
  gatherResult(now: number, g: MulticastGroup, limit: number, requester: Address) {
    const lim = Math.min(limit, 65535, 1900);
    const members: Address[] = [];
    const me = this.subscribed(g);
    if (me) members.push(this.host.address);
    const known = this.host.multicaster.members(now, this.id, g).filter((a) => a !== this.host.address);
    for (const a of this.host.multicaster.sample(now, this.id, g, lim - members.length, requester))
      if (a !== this.host.address) members.push(a);
    return { totalKnown: known.length + (me ? 1 : 0), members };
  }

  // ---- send (frames from the tap) -----------------------------------------------------------------------------

  /** An Ethernet frame from the host's stack. Returns false if it was dropped. */
  sendFrame(now: number, frame: Uint8Array): boolean {
    const c = this.config;
    if (!c || this.failure) {
      this.dropFrame('no-config');
      return false;
    }
    const e = parseEthernetFrame(frame);
    if (!e.ok) {
      this.dropFrame('tap-frame-malformed');
      return false;
    }
    const { dst, src, etherType, payload } = e.value;
    if (src !== this.mac && !this.bridge) {
      this.dropFrame('bridged-source');
      return false;
    }
    if (payload.length > c.mtu) {
      this.dropFrame('tap-frame-too-big');
      return false;
    }
    this.framesOut++;
    if (isMulticastMac(dst)) return this.sendMulticast(now, dst, src, etherType, payload);
    if (dst === this.mac) {
      this.dropFrame('to-self');
      return false;
    }
    const to = addressFromMac(dst, this.id);
    if (to === undefined) {
      this.dropFrame('unknown-destination');
      return false;
    }
    const f = this.outbound(now, to, src, dst, etherType, payload);
    if (!f.accept) {
      this.dropFrame(`outbound-${f.reason}`);
      return false;
    }
    if (f.redirected) return true;
    this.pushCredentials(now, to);
    this.host.send(now, to, Verb.FRAME, encodeFrame({ networkId: this.id, etherType, payload }, true), false);
    return true;
  }

  /**
   * TEE/WATCH copies and REDIRECT (§8.3): copies go out as EXT_FRAME (0x02/0x16 sending, 0x08/0x1c
   * receiving; none on a per-recipient pass), a redirected frame as EXT_FRAME 0x04/0x0a and not normally.
   */
  private divert(
    now: number,
    r: FilterResult,
    inbound: boolean,
    perRecipient: boolean,
    from: Mac,
    to: Mac,
    etherType: number,
    payload: Uint8Array,
  ): Verdict {
    if (!r.accept) return { accept: false, superAccept: false, reason: r.dropReason, redirected: false };
    const ext = (dest: Address, flags: number, p: Uint8Array) =>
      this.host.send(
        now,
        dest,
        Verb.EXT_FRAME,
        encodeExtFrame({ networkId: this.id, flags, to, from, etherType, payload: p }),
        true,
      );
    if (!perRecipient) {
      const copies: [Address, number, boolean][] = [
        [r.copyTo, r.copyLength, r.copyWatch],
        [r.capabilityCopyTo, r.capabilityCopyLength, r.capabilityCopyWatch],
      ];
      for (const [target, len, watch] of copies) {
        if (target === 0 || target === this.host.address) continue;
        const flags = inbound
          ? watch
            ? EXT_FRAME_FLAG.WATCH_INBOUND
            : EXT_FRAME_FLAG.TEE_INBOUND
          : watch
            ? EXT_FRAME_FLAG.WATCH_OUTBOUND
            : EXT_FRAME_FLAG.TEE_OUTBOUND;
        ext(target, flags, len > 0 && len < payload.length ? payload.subarray(0, len) : payload);
      }
    }
    if (r.verdict === 'redirect' && r.redirectTo !== 0 && r.redirectTo !== this.host.address) {
      ext(r.redirectTo, inbound ? EXT_FRAME_FLAG.REDIRECT_INBOUND : EXT_FRAME_FLAG.REDIRECT_OUTBOUND, payload);
      return { accept: true, superAccept: false, reason: undefined, redirected: true };
    }
    return { accept: true, superAccept: r.verdict === 'super-accept', reason: undefined, redirected: false };
  }

  /** What the rules need besides the frame: our tags, the peer's tags, and whose COOs authenticate a sender. */
  private ruleEnv(m: Membership | undefined, inbound: boolean): RuleEnv {
    const c = this.config!;
    const random = this.host.random;
    const coos = inbound
      ? [...(m?.coos.values() ?? [])].filter((x) => this.members.fresh(x.timestamp))
      : c.certificatesOfOwnership;
    return {
      self: this.host.address,
      configFlags: c.flags,
      myTags: new Map(c.tags.map((t) => [t.id, t.value])),
      peerTags: new Map(
        [...(m?.tags.values() ?? [])].filter((t) => this.members.fresh(t.timestamp)).map((t) => [t.id, t.value]),
      ),
      ipAuthenticated: (ip) => coos.some((coo) => cooOwnsIp(coo, ip)),
      macAuthenticated: (mac) => coos.some((coo) => cooOwnsMac(coo, macToBytes(mac))),
      ...(random ? { random32: () => randomU32(random) } : {}),
    };
  }

  private outbound(
    now: number,
    dest: Address,
    srcMac: Mac,
    dstMac: Mac,
    etherType: number,
    payload: Uint8Array,
    perRecipient = false,
  ): Verdict {
    if (this.acceptAll) return ACCEPTED;
    const c = this.config!;
    const m = dest ? this.members.of(dest) : undefined;
    const fr: RuleFrame = {
      inbound: false,
      ztSource: this.host.address,
      ztDest: dest,
      macSource: srcMac,
      macDest: dstMac,
      etherType,
      payload,
    };
    let env: RuleEnv;
    if (m) {
      m.outEnv ??= this.ruleEnv(m, false);
      env = m.outEnv;
    } else {
      this.multicastEnv ??= this.ruleEnv(undefined, false);
      env = this.multicastEnv;
    }
    const r = filterFrame(c.rules, c.capabilities, fr, env);
    return this.divert(now, r, false, perRecipient, srcMac, dstMac, etherType, payload);
  }

  private sendMulticast(now: number, dst: Mac, src: Mac, etherType: number, payload: Uint8Array): boolean {
    const c = this.config!;
    const g = multicastGroupForFrame(dst, etherType, payload, this.broadcastEnabled);
    if (!g) {
      this.dropFrame('broadcast-disabled');
      return false;
    }
    if (
      etherType === 0x86dd &&
      (c.flags & CONFIG_FLAG.ENABLE_IPV6_NDP_EMULATION) !== 0 &&
      this.emulateNdp(src, payload)
    )
      return true;
    if (c.multicastLimit === 0) {
      this.dropFrame('multicast-disabled');
      return false;
    }
    const f = this.outbound(now, 0, src, dst, etherType, payload);
    if (!f.accept) {
      this.dropFrame(`outbound-${f.reason}`);
      return false;
    }
    if (f.redirected) return true;
    const mc = this.host.multicaster;
    const limit = c.multicastLimit;
    const known = mc.members(now, this.id, g).filter((a) => a !== this.host.address);
    const sourceMac = src === this.mac ? undefined : src;
    if (known.length >= limit) {
      const p: PendingMulticast = {
        created: now,
        limit,
        etherType,
        payload,
        sourceMac,
        gatherLimit: 1,
        sentTo: new Set(),
      };
      for (const a of mc.sample(now, this.id, g, limit, this.host.address)) this.sendMulticastTo(now, g, p, a);
      return true;
    }
    const p: PendingMulticast = {
      created: now,
      limit,
      etherType,
      payload: payload.slice(),
      sourceMac,
      gatherLimit: limit - known.length + 1,
      sentTo: new Set(),
    };
    mc.queue(this.id, g, p);
    if (mc.gatherDue(now, this.id, g, known.length)) {
      const gather = encodeMulticastGather({
        networkId: this.id,
        flags: 0,
        mac: g.mac,
        adi: g.adi,
        gatherLimit: p.gatherLimit,
        ...(c.com ? { com: c.com } : {}),
      });
      for (const t of [...this.host.upstreams(), this.controller])
        if (t !== this.host.address) this.host.send(now, t, Verb.MULTICAST_GATHER, gather, true);
    }
    for (const a of known) this.sendMulticastTo(now, g, p, a);
    return true;
  }

  /**
   * IPv6 NDP emulation (§7.5 step 2): a neighbor solicitation for an address inside one of our rfc4193 /88
   * or 6plane /40 prefixes names its owner's ZeroTier address, so the advertisement is made up here and
   * handed to our own stack; nothing goes on the wire. Returns true if it answered.
   */
  /** NDP emulation (ndp-emulation.ts): answers a solicitation for another member's managed address ourselves. */
  private emulateNdp(ourMac: Mac, p: Uint8Array): boolean {
    const r = emulatedNeighborAdvertisement(this.id, this.config?.staticIps ?? [], this.host.address, p, (a) =>
      this.macOf(a),
    );
    if (!r) return false;
    this.ndpEmulated++;
    this.deliver(ourMac, r.peerMac, 0x86dd, r.advertisement);
    return true;
  }

  /** Sends one queued or immediate multicast to one member (per-recipient rules, credentials first). */
  sendMulticastTo(now: number, g: MulticastGroup, p: PendingMulticast, to: Address): void {
    if (to === this.host.address || p.sentTo.has(to) || p.sentTo.size >= p.limit || !this.config) return;
    p.sentTo.add(to);
    const f = this.outbound(now, to, p.sourceMac ?? this.mac, g.mac, p.etherType, p.payload, true);
    if (!f.accept) {
      this.dropFrame(`outbound-${f.reason}`);
      return;
    }
    if (f.redirected) return;
    this.pushCredentials(now, to);
    const payload = encodeMulticastFrame({
      networkId: this.id,
      flags: 0,
      gatherLimit: p.gatherLimit,
      ...(p.sourceMac !== undefined ? { sourceMac: p.sourceMac } : {}),
      mac: g.mac,
      adi: g.adi,
      etherType: p.etherType,
      payload: p.payload,
    });
    this.host.send(now, to, Verb.MULTICAST_FRAME, payload, (this.config.flags & CONFIG_FLAG.DISABLE_COMPRESSION) === 0);
  }

  /** Members learned for a group (OK(GATHER), OK(MULTICAST_FRAME)): send them what waits. */
  learnMembers(now: number, g: MulticastGroup, members: readonly Address[]): void {
    for (const a of members) {
      if (a === this.host.address) continue;
      for (const p of this.host.multicaster.add(now, this.id, g, a)) this.sendMulticastTo(now, g, p, a);
    }
  }

  /** Assigned addresses as InetAddress (port = prefix bits). */
  get assignedAddresses(): readonly InetAddress[] {
    return this.config?.staticIps ?? [];
  }
}

function ackData(nwid: bigint, updateId: bigint): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, nwid);
  v.setBigUint64(8, updateId);
  return b;
}
