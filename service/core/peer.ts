// A peer: another node's identity, the key we share with it, what we know of its version, and its paths.
import { PEER_ACTIVITY_TIMEOUT, PROTO_VERSION_AES } from './constants.js';
import { createPeerKey, type PeerKey } from './crypto.js';
import { agree, type Identity } from './identity.js';
import { type InetAddress, inetAddressEquals } from './inet-address.js';
import { type LocalSocket, Path } from './path.js';

/** At most this many paths per peer (ZeroTier One keeps 16). */
export const MAX_PEER_PATHS = 16;

export class Peer {
  readonly address: number;
  readonly key: PeerKey;
  /** Protocol version, 0 while unknown. */
  vProto = 0;
  vMajor = -1;
  vMinor = -1;
  vRevision = -1;
  readonly paths: Path[] = [];
  lastReceive = 0;
  /** Last FRAME/EXT_FRAME/MULTICAST_FRAME/NETWORK_CONFIG(_REQUEST) in either direction. */
  lastNontrivial = 0;
  lastHelloSent = 0;
  /** Per-path HELLO gate for unconfirmed paths: path key → last HELLO time. */
  readonly helloGate = new Map<string, number>();
  lastWhoisAnswered = 0;
  lastPushDirectPaths = 0;
  pushCutoffCount = 0;
  lastPushReceived = 0;
  /** Restored from the peer cache and not reached yet: its cached paths, tried until `restoreUntil`. */
  restoring: InetAddress[] | undefined;
  restoreUntil = 0;
  /** The last cache record handed to the host (hex), so an unchanged peer is not stored again. */
  lastCached: string | undefined;

  constructor(
    me: Identity,
    readonly identity: Identity,
  ) {
    this.address = identity.address;
    this.key = createPeerKey(agree(me, identity));
  }

  /** The suite for anything but HELLO: AES-GMAC-SIV once the peer is known to speak it. */
  suite(): 1 | 3 {
    return this.vProto >= PROTO_VERSION_AES ? 3 : 1;
  }

  setVersion(proto: number, major: number, minor: number, revision: number): void {
    this.vProto = proto;
    this.vMajor = major;
    this.vMinor = minor;
    this.vRevision = revision;
  }

  findPath(localSocket: LocalSocket, remote: InetAddress): Path | undefined {
    for (const p of this.paths) if (p.localSocket === localSocket && inetAddressEquals(p.remote, remote)) return p;
    return undefined;
  }

  /** Adds a confirmed path: a free slot, else a dead path with the same IP, else the oldest. */
  learnPath(now: number, localSocket: LocalSocket, remote: InetAddress): Path {
    const path = new Path(localSocket, remote);
    path.received(now);
    if (this.paths.length < MAX_PEER_PATHS) {
      this.paths.push(path);
      return path;
    }
    let victim = this.paths.findIndex((p) => !p.alive(now) && sameIp(p.remote, remote));
    if (victim < 0) {
      victim = 0;
      for (let i = 1; i < this.paths.length; i++) if (this.paths[i]!.lastIn < this.paths[victim]!.lastIn) victim = i;
    }
    this.paths[victim] = path;
    return path;
  }

  /** The best path that has not expired, if any. */
  bestPath(now: number): Path | undefined {
    let best: Path | undefined;
    let bestQ = Number.POSITIVE_INFINITY;
    for (const p of this.paths) {
      if (p.expired(now)) continue;
      const q = p.quality(now);
      if (q < bestQ) {
        best = p;
        bestQ = q;
      }
    }
    return best;
  }

  /** Best path even if expired (the last resort of the send order). */
  anyPath(now: number): Path | undefined {
    return (
      this.bestPath(now) ??
      this.paths.reduce<Path | undefined>((a, p) => (!a || p.lastIn > a.lastIn ? p : a), undefined)
    );
  }

  expirePaths(now: number): void {
    for (let i = this.paths.length - 1; i >= 0; i--) if (this.paths[i]!.expired(now)) this.paths.splice(i, 1);
  }

  /** Latency of the best path, or -1. */
  latency(now: number): number {
    return this.bestPath(now)?.latency ?? -1;
  }

  /** Relay quality for choosing the best upstream: latency × (1 + ⌊silence / 61 s⌋); silent 500 s = worst. */
  relayQuality(now: number): number {
    const silence = now - this.lastReceive;
    if (silence >= PEER_ACTIVITY_TIMEOUT) return Number.MAX_SAFE_INTEGER;
    const l = this.latency(now);
    return (l < 0 ? 0xffff : l) * (1 + Math.floor(silence / 61000));
  }

  alive(now: number): boolean {
    return now - this.lastReceive < PEER_ACTIVITY_TIMEOUT;
  }

  active(now: number): boolean {
    return now - this.lastNontrivial < PEER_ACTIVITY_TIMEOUT;
  }

  versionString(): string {
    return this.vMajor < 0 ? '-' : `${this.vMajor}.${this.vMinor}.${this.vRevision}`;
  }
}

function sameIp(a: InetAddress, b: InetAddress): boolean {
  return a.family === b.family && a.ip.every((v, i) => v === b.ip[i]);
}
