// Who is in which multicast group (PROTOCOL-VL2.md §7): members learned from MULTICAST_LIKE, OK(GATHER)
// and OK(MULTICAST_FRAME), expiring after 600 s; and the outbound multicasts waiting for gather results
// (max 32 per group, 5 s each). Pure bookkeeping: sending is the caller's.

import type { Address } from '../address.js';
import { type RandomFill, randomIndex } from '../random.js';
import { type MulticastGroup, multicastGroupKey } from './mac.js';

export const MULTICAST_LIKE_EXPIRE = 600_000;
export const MULTICAST_ANNOUNCE_PERIOD = 60_000;
export const MULTICAST_EXPLICIT_GATHER_DELAY = 60_000;
export const MULTICAST_TRANSMIT_TIMEOUT = 5_000;
export const MULTICAST_MAX_PENDING_PER_GROUP = 32;

export interface PendingMulticast {
  readonly created: number;
  readonly limit: number;
  readonly etherType: number;
  readonly payload: Uint8Array;
  readonly sourceMac: number | undefined;
  readonly gatherLimit: number;
  readonly sentTo: Set<Address>;
}

interface GroupState {
  readonly nwid: bigint;
  readonly group: MulticastGroup;
  readonly members: Map<Address, number>;
  lastExplicitGather: number;
  pending: PendingMulticast[];
}

export class Multicaster {
  private readonly groups = new Map<string, GroupState>();

  /** `random`: the host's randomness for sample(). */
  constructor(private readonly random?: RandomFill) {}

  private key(nwid: bigint, g: MulticastGroup): string {
    return `${nwid.toString(16)}/${multicastGroupKey(g)}`;
  }

  private state(nwid: bigint, g: MulticastGroup): GroupState {
    const k = this.key(nwid, g);
    let s = this.groups.get(k);
    if (!s) {
      s = { nwid, group: g, members: new Map(), lastExplicitGather: Number.NEGATIVE_INFINITY, pending: [] };
      this.groups.set(k, s);
    }
    return s;
  }

  /** Records (or refreshes) a member; returns the pending multicasts it has not received yet. */
  add(now: number, nwid: bigint, g: MulticastGroup, member: Address): PendingMulticast[] {
    const s = this.state(nwid, g);
    s.members.set(member, now);
    return s.pending.filter((p) => !p.sentTo.has(member) && p.sentTo.size < p.limit);
  }

  remove(nwid: bigint, g: MulticastGroup, member: Address): void {
    this.groups.get(this.key(nwid, g))?.members.delete(member);
  }

  /** Members known for the group, freshest first. */
  members(now: number, nwid: bigint, g: MulticastGroup): Address[] {
    const s = this.groups.get(this.key(nwid, g));
    if (!s) return [];
    return [...s.members]
      .filter(([, t]) => now - t < MULTICAST_LIKE_EXPIRE)
      .sort((a, b) => b[1] - a[1])
      .map(([a]) => a);
  }

  /**
   * Random distinct members excluding `exclude`, at most `limit` (without a random source: the most recently
   * seen first).
   */
  sample(now: number, nwid: bigint, g: MulticastGroup, limit: number, exclude: Address): Address[] {
    const all = this.members(now, nwid, g).filter((a) => a !== exclude);
    for (let i = all.length - 1; i > 0; i--) {
      const j = this.random ? randomIndex(this.random, i + 1) : i;
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, limit);
  }

  /** Queues an outbound multicast awaiting gather results. */
  queue(nwid: bigint, g: MulticastGroup, p: PendingMulticast): void {
    const s = this.state(nwid, g);
    s.pending.push(p);
    while (s.pending.length > MULTICAST_MAX_PENDING_PER_GROUP) s.pending.shift();
  }

  /** True (and records now) if an explicit GATHER is due for the group. */
  gatherDue(now: number, nwid: bigint, g: MulticastGroup, knownCount: number): boolean {
    const s = this.state(nwid, g);
    if (knownCount > 0 && now - s.lastExplicitGather < MULTICAST_EXPLICIT_GATHER_DELAY) return false;
    s.lastExplicitGather = now;
    return true;
  }

  /** Drops expired members and pending multicasts; forgets the state of a left network. */
  clean(now: number, joined?: (nwid: bigint) => boolean): void {
    for (const [k, s] of this.groups) {
      for (const [a, t] of s.members) if (now - t >= MULTICAST_LIKE_EXPIRE) s.members.delete(a);
      s.pending = s.pending.filter((p) => now - p.created < MULTICAST_TRANSMIT_TIMEOUT && p.sentTo.size < p.limit);
      if (s.members.size === 0 && s.pending.length === 0 && !joined?.(s.nwid)) this.groups.delete(k);
    }
  }

  hasPending(): boolean {
    for (const s of this.groups.values()) if (s.pending.length > 0) return true;
    return false;
  }
}
