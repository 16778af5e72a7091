// The memberships of one network (PROTOCOL-VL2.md §5-6): per peer, its COM, COOs, tags and capabilities with
// their checks against the controller, the COM agreement gate of §6.3, revocation thresholds, and the push of
// our own credentials. The frame path (network.ts) reads a peer's record and caches its rule environments in it.
import type { Address } from '../address.js';
import { Verb } from '../constants.js';
import type { Identity } from '../identity.js';
import {
  type Capability,
  type CertificateOfMembership,
  type CertificateOfOwnership,
  capabilityIssuedTo,
  comAgrees,
  comIssuedTo,
  comTimestamp,
  encodeNetworkCredentials,
  type Revocation,
  type Tag,
  verifyCapability,
  verifyCom,
  verifyCoo,
  verifyTag,
} from './credentials.js';
import { type NetworkConfig, NetworkType } from './network-config.js';
import type { RuleEnv } from './rules.js';

/** Re-push our credentials to a peer after this long. */
export const CREDENTIALS_PUSH_PERIOD = 500_000;

export interface Membership {
  com: CertificateOfMembership | undefined;
  comRevocationThreshold: number;
  coos: Map<number, CertificateOfOwnership>;
  tags: Map<number, Tag>;
  capabilities: Map<number, Capability>;
  lastPushedCredentials: number;
  lastLikeSent: number;
  /** The last COM agreement check (valid while both COMs and the peer's key are the same objects). */
  gate: { mine: CertificateOfMembership; theirs: CertificateOfMembership; key: Uint8Array; ok: boolean } | undefined;
  /** Rule environments, rebuilt when credentials or our config change. */
  inEnv: RuleEnv | undefined;
  outEnv: RuleEnv | undefined;
  /** The sender's valid capabilities, by ID (rebuilt with inEnv). */
  inCaps: Capability[];
}

/** What memberships need of the node (NetworkHost provides it). */
export interface MembershipHost {
  readonly address: Address;
  readonly identity: Identity;
  send(now: number, destination: Address, verb: number, payload: Uint8Array, compress: boolean): void;
  /** The identity of a peer we know (undefined: not known yet). */
  peerIdentity(address: Address): Identity | undefined;
}

export class Memberships {
  private readonly map = new Map<Address, Membership>();

  /** `net`: the network's config and the time of its last update (read on each use). */
  constructor(
    private readonly host: MembershipHost,
    private readonly controller: Address,
    private readonly net: { readonly config: NetworkConfig | undefined; readonly lastConfigUpdate: number },
  ) {}

  get(a: Address): Membership | undefined {
    return this.map.get(a);
  }

  values(): IterableIterator<Membership> {
    return this.map.values();
  }

  entries(): IterableIterator<[Address, Membership]> {
    return this.map.entries();
  }

  /** The membership record of `a`, made if there is none. */
  of(a: Address): Membership {
    let m = this.map.get(a);
    if (!m) {
      m = {
        com: undefined,
        comRevocationThreshold: 0,
        coos: new Map(),
        tags: new Map(),
        capabilities: new Map(),
        lastPushedCredentials: Number.NEGATIVE_INFINITY,
        lastLikeSent: Number.NEGATIVE_INFINITY,
        gate: undefined,
        inEnv: undefined,
        outEnv: undefined,
        inCaps: [],
      };
      this.map.set(a, m);
    }
    return m;
  }

  private controllerIdentity(): Identity | undefined {
    return this.controller === this.host.address ? this.host.identity : this.host.peerIdentity(this.controller);
  }

  comOk(a: Address, m: Membership | undefined): boolean {
    const mine = this.net.config?.com;
    if (!m?.com || !mine) return false;
    const ts = comTimestamp(m.com) ?? 0;
    if (ts <= m.comRevocationThreshold) return false;
    const id = this.host.peerIdentity(a);
    if (!id) return false;
    // The agreement check hashes the peer's identity: remember its answer for these two COMs and this key.
    const g = m.gate;
    if (g && g.mine === mine && g.theirs === m.com && g.key === id.publicKey) return g.ok;
    const ok = comAgrees(mine, m.com, id);
    m.gate = { mine, theirs: m.com, key: id.publicKey, ok };
    return ok;
  }

  /** The gate of §6.3: we hold a config and the network is public or the peer's COM agrees with ours. */
  allows(a: Address): boolean {
    if (!this.net.config) return false;
    if (this.net.config.type === NetworkType.PUBLIC) return true;
    return this.comOk(a, this.map.get(a));
  }

  /** A received COM (filed under its issued-to address). 'ok' if stored or redundant. */
  addCom(com: CertificateOfMembership): 'ok' | 'rejected' | 'need-controller' {
    const to = comIssuedTo(com);
    if (to === undefined) return 'rejected';
    const m = this.of(to);
    const ts = comTimestamp(com) ?? 0;
    if (ts <= m.comRevocationThreshold) return 'rejected';
    if (m.com) {
      const old = comTimestamp(m.com) ?? 0;
      if (ts < old) return 'rejected';
      if (ts === old && Buffer.compare(Buffer.from(m.com.signature), Buffer.from(com.signature)) === 0) return 'ok';
    }
    const ctrl = this.controllerIdentity();
    if (!ctrl) return 'need-controller';
    if (!verifyCom(com, ctrl)) return 'rejected';
    m.com = com;
    return 'ok';
  }

  addCoo(coo: CertificateOfOwnership): void {
    const ctrl = this.controllerIdentity();
    if (!ctrl || !verifyCoo(coo, ctrl)) return;
    const m = this.of(coo.issuedTo);
    const old = m.coos.get(coo.id);
    if (old && old.timestamp > coo.timestamp) return;
    m.coos.set(coo.id, coo);
    m.inEnv = undefined;
  }

  /** A capability presented by its holder (the last custody entry's `to`), verified against the controller. */
  addCapability(cap: Capability): void {
    const ctrl = this.controllerIdentity();
    const to = capabilityIssuedTo(cap);
    if (!ctrl || to === undefined || verifyCapability(cap, ctrl, (a) => this.host.peerIdentity(a)) !== 'ok') return;
    const m = this.of(to);
    const old = m.capabilities.get(cap.id);
    if (old && old.timestamp > cap.timestamp) return;
    m.capabilities.set(cap.id, cap);
    m.inEnv = undefined;
  }

  /** A credential is used only while its timestamp is within `ctmd` of our config's (§5.8). */
  fresh(ts: number): boolean {
    const c = this.net.config;
    return !!c && Math.abs(ts - c.timestamp) <= c.credentialTimeMaxDelta;
  }

  addTag(tag: Tag): void {
    const ctrl = this.controllerIdentity();
    if (!ctrl || !verifyTag(tag, ctrl)) return;
    const m = this.of(tag.issuedTo);
    const old = m.tags.get(tag.id);
    if (old && old.timestamp > tag.timestamp) return;
    m.tags.set(tag.id, tag);
    m.inEnv = undefined;
    m.outEnv = undefined;
  }

  /** Raises the COM revocation threshold of the revocation's target; false if it was not higher. */
  raiseRevocationThreshold(rev: Revocation): boolean {
    const m = this.of(rev.target);
    if (rev.threshold <= m.comRevocationThreshold) return false;
    m.comRevocationThreshold = rev.threshold;
    m.gate = undefined;
    return true;
  }

  /** Members we hold credentials of (other than us): where fast-propagated revocations are forwarded. */
  knownMembers(): Address[] {
    return [...this.map.entries()].filter(([a, m]) => a !== this.host.address && m.com !== undefined).map(([a]) => a);
  }

  /** Pushes our COM, tags and COOs to a peer if it has not had them since our last config update or 500 s. */
  pushCredentials(now: number, to: Address, force = false): void {
    const c = this.net.config;
    if (!c?.com || to === this.host.address) return;
    const m = this.of(to);
    if (
      !force &&
      m.lastPushedCredentials >= this.net.lastConfigUpdate &&
      now - m.lastPushedCredentials < CREDENTIALS_PUSH_PERIOD
    )
      return;
    if (force && now - m.lastPushedCredentials < 1000 && m.lastPushedCredentials >= this.net.lastConfigUpdate) return;
    m.lastPushedCredentials = now;
    const payload = encodeNetworkCredentials({
      coms: [c.com],
      capabilities: c.capabilities,
      tags: c.tags,
      revocations: [],
      coos: c.certificatesOfOwnership,
    });
    this.host.send(now, to, Verb.NETWORK_CREDENTIALS, payload, true);
  }
}
