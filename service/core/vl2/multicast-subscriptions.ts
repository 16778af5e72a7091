// A network's multicast subscriptions (PROTOCOL-VL2.md §5.6): the groups we listen to (derived from our
// addresses, plus those the host's stack reports), and the MULTICAST_LIKEs that announce them to the
// controller, the roots and the members we talk to.
import type { Address } from '../address.js';
import { Verb } from '../constants.js';
import { encodeMulticastLikes } from './frames.js';
import {
  BROADCAST_GROUP,
  compareMulticastGroups,
  groupsForAddresses,
  type MulticastGroup,
  multicastGroupKey,
} from './mac.js';
import type { Memberships } from './memberships.js';
import { MULTICAST_ANNOUNCE_PERIOD } from './multicaster.js';
import type { NetworkConfig } from './network-config.js';

/** What subscriptions need of the node (NetworkHost provides it). */
export interface SubscriptionHost {
  readonly address: Address;
  send(now: number, destination: Address, verb: number, payload: Uint8Array, compress: boolean): void;
  /** Roots (upstreams) to LIKE to. */
  upstreams(): Address[];
}

/** What subscriptions read of their network (read on each use). */
export interface SubscriptionNetwork {
  readonly id: bigint;
  readonly controller: Address;
  readonly config: NetworkConfig | undefined;
  readonly broadcastEnabled: boolean;
}

export class MulticastSubscriptions {
  /** Our groups, sorted (for the API and for LIKEs). */
  groups: MulticastGroup[] = [];
  private tapGroups: MulticastGroup[] = [];
  private lastAnnounce = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly host: SubscriptionHost,
    private readonly net: SubscriptionNetwork,
    private readonly members: Memberships,
  ) {}

  /** Periodic announcement of all our groups to the controller and the roots (the network holds a config). */
  tick(now: number): void {
    if (now - this.lastAnnounce < MULTICAST_ANNOUNCE_PERIOD) return;
    this.lastAnnounce = now;
    this.announce(now, this.announceTargets());
  }

  /** LIKEs to a member we exchange frames with, at most once per announce period. */
  likeTo(now: number, peer: Address): void {
    const m = this.members.of(peer);
    if (now - m.lastLikeSent < MULTICAST_ANNOUNCE_PERIOD) return;
    m.lastLikeSent = now;
    this.sendLikes(now, peer, this.announced());
  }

  /** LIKEs to a member at once, whenever the last were sent (a peer back from the peer cache). */
  likeNow(now: number, peer: Address): void {
    this.members.of(peer).lastLikeSent = now;
    this.sendLikes(now, peer, this.announced());
  }

  /** The groups the host's stack listens to beyond the address-derived ones. */
  setTapGroups(now: number, groups: MulticastGroup[]): void {
    this.tapGroups = groups;
    this.update(now);
  }

  /** Recomputes our groups (after a config or tap change) and LIKEs the new ones at once. */
  update(now: number): void {
    const ips = (this.net.config?.staticIps ?? []).map((a) => a.ip);
    const m = new Map<string, MulticastGroup>();
    for (const g of groupsForAddresses(ips, false)) m.set(multicastGroupKey(g), g);
    for (const g of this.tapGroups) m.set(multicastGroupKey(g), g);
    const next = [...m.values()].sort(compareMulticastGroups);
    const old = new Set(this.groups.map(multicastGroupKey));
    this.groups = next;
    if (!this.net.config) return;
    const fresh = next.filter((g) => !old.has(multicastGroupKey(g)));
    if (fresh.length === 0) return;
    const targets = new Set(this.announceTargets());
    for (const [a, mem] of this.members.entries()) if (this.members.comOk(a, mem)) targets.add(a);
    for (const g of fresh) for (const t of targets) this.sendLikes(now, t, [g]);
  }

  /** Groups we announce: ours, plus broadcast when enabled. */
  private announced(): MulticastGroup[] {
    if (!this.net.broadcastEnabled) return [...this.groups];
    const k = multicastGroupKey(BROADCAST_GROUP);
    const out = this.groups.filter((g) => multicastGroupKey(g) !== k);
    out.push(BROADCAST_GROUP);
    return out.sort(compareMulticastGroups);
  }

  private announceTargets(): Address[] {
    const s = new Set<Address>([this.net.controller, ...this.host.upstreams()]);
    s.delete(this.host.address);
    return [...s].sort((a, b) => a - b);
  }

  private announce(now: number, targets: Address[]): void {
    const groups = this.announced();
    for (const t of targets) this.sendLikes(now, t, groups);
  }

  private sendLikes(now: number, to: Address, groups: MulticastGroup[]): void {
    if (groups.length === 0 || to === this.host.address) return;
    for (const p of encodeMulticastLikes(groups.map((g) => ({ networkId: this.net.id, mac: g.mac, adi: g.adi }))))
      this.host.send(now, to, Verb.MULTICAST_LIKE, p, p.length > 64);
  }

  /** Do we listen to this group? */
  subscribed(g: MulticastGroup): boolean {
    const k = multicastGroupKey(g);
    if (this.net.broadcastEnabled && k === multicastGroupKey(BROADCAST_GROUP)) return true;
    return this.groups.some((x) => multicastGroupKey(x) === k);
  }
}
