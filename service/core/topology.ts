// What this node knows of the world: the planet and moons it holds or wants, which nodes are roots
// (upstreams), and the peers it talks to.
import { bytesEqual } from './c25519.js';
import type { Identity } from './identity.js';
import type { InetAddress } from './inet-address.js';
import { Peer } from './peer.js';
import {
  acceptMoonFromSeed,
  checkWorldUpdate,
  WORLD_TYPE_MOON,
  WORLD_TYPE_PLANET,
  type World,
  type WorldUpdateCheck,
} from './world.js';

export type PeerRole = 'PLANET' | 'MOON' | 'LEAF';

export class Topology {
  planet: World | undefined;
  readonly moons = new Map<bigint, World>();
  /** Moons asked for with `orbit` that we do not hold yet: id → seed address (0 for none). */
  readonly wantedMoons = new Map<bigint, number>();
  readonly peers = new Map<number, Peer>();
  /** Root address → its stable endpoints (from the planet and held moons). */
  private upstreams = new Map<number, { role: PeerRole; endpoints: InetAddress[] }>();
  private amUpstream = false;

  constructor(readonly me: Identity) {}

  /** Sets the worlds loaded from disk (no signature check, as for an empty slot) and recomputes roots. */
  load(planet: World | undefined, moons: readonly World[]): void {
    this.planet = planet;
    for (const m of moons) this.moons.set(m.id, m);
    this.memoize();
  }

  /** Applies a world from the wire; returns the check's outcome. */
  /** Offers a world (from the wire, or `local` from the operator); applies it if the update rule allows. */
  offerWorld(world: World, local = false): WorldUpdateCheck {
    let check: WorldUpdateCheck;
    if (world.type === WORLD_TYPE_PLANET) {
      check = this.planet || local ? checkWorldUpdate(this.planet, world) : { accept: false, reason: 'no planet held' };
      if (check.accept) this.planet = world;
    } else if (world.type === WORLD_TYPE_MOON) {
      const held = this.moons.get(world.id);
      if (held) check = checkWorldUpdate(held, world);
      else if (local) check = checkWorldUpdate(undefined, world);
      else if (this.wantedMoons.has(world.id) && acceptMoonFromSeed(world.id, this.wantedMoons.get(world.id)!, world))
        check = { accept: true };
      else check = { accept: false, reason: 'moon not wanted' };
      if (check.accept) {
        this.moons.set(world.id, world);
        this.wantedMoons.delete(world.id);
      }
    } else check = { accept: false, reason: 'null world' };
    if (check.accept) this.memoize();
    return check;
  }

  orbit(id: bigint, seed: number): void {
    if (!this.moons.has(id)) this.wantedMoons.set(id, seed);
  }

  deorbit(id: bigint): boolean {
    const had = this.moons.delete(id) || this.wantedMoons.delete(id);
    this.memoize();
    return had;
  }

  isUpstream(address: number): boolean {
    return this.upstreams.has(address);
  }

  /** This node is itself a root of the planet or a held moon. */
  get iAmUpstream(): boolean {
    return this.amUpstream;
  }

  upstreamAddresses(): number[] {
    return [...this.upstreams.keys()];
  }

  stableEndpoints(address: number): InetAddress[] {
    return this.upstreams.get(address)?.endpoints ?? [];
  }

  role(address: number): PeerRole {
    return this.upstreams.get(address)?.role ?? 'LEAF';
  }

  /** Seeds of wanted moons. */
  isMoonSeed(address: number): boolean {
    for (const s of this.wantedMoons.values()) if (s === address) return true;
    return false;
  }

  /** Roots with stable endpoints may only be reached (and learned) at those endpoints. */
  isProhibitedEndpoint(address: number, remote: InetAddress): boolean {
    const eps = this.upstreams.get(address)?.endpoints;
    if (!eps || eps.length === 0) return false;
    return !eps.some((e) => e.family === remote.family && e.port === remote.port && bytesEqual(e.ip, remote.ip));
  }

  /** A root's identity comes from the world: make sure a peer object exists for each. */
  private memoize(): void {
    this.upstreams = new Map();
    this.amUpstream = false;
    const add = (w: World, role: PeerRole) => {
      for (const r of w.roots) {
        if (r.identity.address === this.me.address) {
          this.amUpstream = true;
          continue;
        }
        const prev = this.upstreams.get(r.identity.address);
        this.upstreams.set(r.identity.address, {
          role: prev?.role === 'PLANET' ? 'PLANET' : role,
          endpoints: [...(prev?.endpoints ?? []), ...r.stableEndpoints],
        });
        const peer = this.peers.get(r.identity.address);
        if (!peer?.identity.equals(r.identity)) this.peers.set(r.identity.address, new Peer(this.me, r.identity));
      }
    };
    if (this.planet) add(this.planet, 'PLANET');
    for (const m of this.moons.values()) add(m, 'MOON');
  }
}
