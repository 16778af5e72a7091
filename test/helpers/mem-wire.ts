// An in-memory UDP "wire" with a fake clock: many VL1 nodes in one process, deterministic and fast.
// Every node has one socket (local socket 0) at an address like 10.0.0.1/9993.

import { randomFillSync } from 'node:crypto';
import type { C25519KeyPair } from '../../service/core/c25519.js';
import type { Identity } from '../../service/core/identity.js';
import { formatInetAddress, type InetAddress, parseInetAddress } from '../../service/core/inet-address.js';
import { type Host, Node, type NodeOptions } from '../../service/core/node.js';
import { makeWorld, WORLD_ID_EARTH, WORLD_TYPE_PLANET, type World } from '../../service/core/world.js';
import { newKeyPair } from '../../service/random.js';

interface InFlight {
  at: number;
  from: InetAddress;
  to: string;
  data: Uint8Array;
}

export interface SimNode {
  node: Node;
  address: InetAddress;
  worlds: World[];
  messages: { source: number; typeId: bigint; data: Uint8Array }[];
  nextTick: number;
  up: boolean;
}

export class MemWire {
  now = 1_795_300_000_000;
  readonly nodes = new Map<string, SimNode>();
  private queue: InFlight[] = [];
  /** Datagrams delivered, by "from>to". */
  readonly traffic = new Map<string, number>();
  latency = 1;

  /** A node on the wire; its randomness is node:crypto's unless `opts.random` is given (as the daemon does). */
  add(addr: string, opts: Omit<NodeOptions, 'random'> & Partial<Pick<NodeOptions, 'random'>>): SimNode {
    const address = parseInetAddress(addr);
    if (!address) throw new Error(`bad address ${addr}`);
    const sim: SimNode = {
      node: undefined as unknown as Node,
      address,
      worlds: [],
      messages: [],
      nextTick: this.now,
      up: true,
    };
    const host: Host = {
      wireSend: (_ls, remote, data) => {
        if (!sim.up) return;
        this.queue.push({
          at: this.now + this.latency,
          from: address,
          to: formatInetAddress(remote),
          data: data.slice(),
        });
      },
      worldUpdated: (w) => sim.worlds.push(w),
      userMessage: (source, typeId, data) => sim.messages.push({ source, typeId, data }),
    };
    sim.node = new Node(host, { identityValidationGate: 0, ...opts, random: opts.random ?? randomFillSync });
    this.nodes.set(addr, sim);
    return sim;
  }

  /** Runs until `until` (absolute fake ms) or until `done()` holds. Returns whether done() held. */
  run(ms: number, done?: () => boolean): boolean {
    const until = this.now + ms;
    for (;;) {
      if (done?.()) return true;
      for (const s of this.nodes.values()) if (s.up && s.nextTick <= this.now) s.nextTick = s.node.tick(this.now);
      const due = this.queue.filter((q) => q.at <= this.now);
      if (due.length > 0) {
        this.queue = this.queue.filter((q) => q.at > this.now);
        for (const q of due) {
          const dest = this.nodes.get(q.to);
          if (!dest?.up) continue;
          const k = `${formatInetAddress(q.from)}>${q.to}`;
          this.traffic.set(k, (this.traffic.get(k) ?? 0) + 1);
          dest.node.processWirePacket(this.now, 0, q.from, q.data);
          // The datagram was lent for the call, as the daemon's receive slots are (reused by the next
          // recvmmsg): whatever the node kept of it must have been copied.
          q.data.fill(0xee);
        }
        continue;
      }
      let next = until;
      for (const q of this.queue) next = Math.min(next, q.at);
      for (const s of this.nodes.values()) if (s.up) next = Math.min(next, s.nextTick);
      if (next >= until && this.now >= until) return done?.() ?? false;
      this.now = Math.max(this.now + (next > this.now ? 0 : 1), Math.min(next, until));
      if (this.now >= until && this.queue.every((q) => q.at > until)) {
        for (const s of this.nodes.values()) if (s.up && s.nextTick <= this.now) s.nextTick = s.node.tick(this.now);
        return done?.() ?? false;
      }
    }
  }

  /** Datagrams sent from one node's address to another's. */
  count(from: SimNode, to: SimNode): number {
    return this.traffic.get(`${formatInetAddress(from.address)}>${formatInetAddress(to.address)}`) ?? 0;
  }
}

/** A planet whose one root is `root` at `endpoint`, signed with a fresh key pair (returned for updates). */
export function testPlanet(root: Identity, endpoint = '10.0.0.1/9993'): { planet: World; keys: C25519KeyPair } {
  const keys = newKeyPair();
  const planet = makeWorld(
    {
      type: WORLD_TYPE_PLANET,
      id: WORLD_ID_EARTH,
      timestamp: 1_795_300_000_000n,
      updatesMustBeSignedBy: keys.publicKey,
      roots: [{ identity: root, stableEndpoints: [parseInetAddress(endpoint)!] }],
    },
    keys,
  );
  return { planet, keys };
}
