// A controller on a real (pure) Node over the in-memory wire: R is the planet root and runs the embedded
// controller through a ControllerLink; members are Nodes with a small member-side VL2 handler that sends
// NETWORK_CONFIG_REQUESTs and keeps what comes back (configs reassembled and decoded, errors, revocations).

import { EmbeddedController } from '../../service/controller/controller.js';
import { Verb } from '../../service/core/constants.js';
import type { Identity } from '../../service/core/identity.js';
import type { Vl2Handler } from '../../service/core/node.js';
import type { OpenedPacket } from '../../service/core/packet.js';
import type { Peer } from '../../service/core/peer.js';
import type { ErrorMessage, Ok } from '../../service/core/verbs.js';
import { ControllerLink } from '../../service/core/vl2/controller-link.js';
import { decodeNetworkCredentials, type Revocation } from '../../service/core/vl2/credentials.js';
import {
  ConfigReassembler,
  decodeNetworkConfig,
  encodeConfigRequest,
  type NetworkConfig,
} from '../../service/core/vl2/network-config.js';
import type { ApiResponse, Method } from '../../service/daemon/api.js';
import { METADATA_1_14_1, vectorIdentity } from './controller-fixtures.js';
import { MemWire, type SimNode, testPlanet } from './mem-wire.js';

/** Member side, just enough to talk to a controller: requests, reassembly, errors, revocations. */
export class TestMember implements Vl2Handler {
  readonly configs: { config: NetworkConfig; via: 'ok' | 'push' }[] = [];
  readonly errors: { code: number; networkId: bigint | undefined }[] = [];
  readonly revocations: Revocation[] = [];
  readonly drops: string[] = [];
  private readonly reassemblers = new Map<bigint, ConfigReassembler>();

  constructor(readonly sim: Pick<SimNode, 'node'>) {
    sim.node.vl2 = this;
  }

  request(now: number, networkId: bigint, metadata: Uint8Array = METADATA_1_14_1): void {
    const payload = encodeConfigRequest({ networkId, metadata, revision: 0n, timestamp: 0n });
    this.sim.node.sendTo(now, Number(networkId >> 24n), Verb.NETWORK_CONFIG_REQUEST, payload, true);
  }

  get last(): NetworkConfig | undefined {
    return this.configs.at(-1)?.config;
  }

  handlePacket(_now: number, peer: Peer, p: OpenedPacket): boolean {
    if (p.verb === Verb.NETWORK_CONFIG) return this.chunk(peer, p.header.packetId, p.payload, 'push');
    if (p.verb === Verb.NETWORK_CREDENTIALS) {
      const d = decodeNetworkCredentials(p.payload);
      if (!d.ok) return false;
      this.revocations.push(...d.value.revocations);
      return true;
    }
    return false;
  }

  handleOk(_now: number, peer: Peer, ok: Ok & { kind: 'other' }): void {
    if (ok.inReVerb === Verb.NETWORK_CONFIG_REQUEST) this.chunk(peer, ok.inRePacketId, ok.data, 'ok');
  }

  handleError(_now: number, _peer: Peer, e: ErrorMessage): void {
    if (e.inReVerb === Verb.NETWORK_CONFIG_REQUEST) this.errors.push({ code: e.code, networkId: e.networkId });
  }

  private chunk(peer: Peer, packetId: bigint, bytes: Uint8Array, via: 'ok' | 'push'): boolean {
    const nwid = bytes.length >= 8 ? Buffer.from(bytes.subarray(0, 8)).readBigUInt64BE(0) : 0n;
    let r = this.reassemblers.get(nwid);
    if (!r) {
      r = new ConfigReassembler(nwid);
      this.reassemblers.set(nwid, r);
    }
    const res = r.accept(bytes, peer.address, packetId, peer.identity);
    if (res.kind === 'dropped') this.drops.push(res.reason);
    if (res.kind !== 'complete') return res.kind !== 'dropped';
    const d = decodeNetworkConfig(res.dictionary);
    if (!d.ok) {
      this.drops.push(d.reason);
      return false;
    }
    this.configs.push({ config: d.value, via });
    return true;
  }
}

export interface ControllerSim {
  wire: MemWire;
  R: Identity;
  r: SimNode;
  controller: EmbeddedController;
  link: ControllerLink;
  members: Record<'A' | 'B', TestMember>;
  call(method: Method, path: string, body?: unknown): Promise<ApiResponse>;
  /** Runs the wire and lets the controller finish its queued work, until `done` or `ms` pass. */
  settle(ms: number, done?: () => boolean): Promise<boolean>;
}

export async function controllerSim(home: string): Promise<ControllerSim> {
  const R = vectorIdentity('node-R');
  const { planet } = testPlanet(R);
  const wire = new MemWire();
  const r = wire.add('10.0.0.1/9993', { identity: R, planet });
  const a = wire.add('10.0.0.2/9993', { identity: vectorIdentity('node-A'), planet });
  const b = wire.add('10.0.0.3/9993', { identity: vectorIdentity('node-B'), planet });
  const { controller } = await EmbeddedController.open({ home, identity: R, clock: () => wire.now });
  const link = new ControllerLink(r.node, controller);
  r.node.vl2 = link.install();
  const members = { A: new TestMember(a), B: new TestMember(b) };
  const call = async (method: Method, path: string, body?: unknown): Promise<ApiResponse> =>
    (await controller.route({ method, segments: path.split('/').filter((s) => s.length > 0), body }))!;
  const settle = async (ms: number, done?: () => boolean): Promise<boolean> => {
    const until = wire.now + ms;
    for (;;) {
      await controller.idle();
      if (done?.()) return true;
      if (wire.now >= until) return false;
      wire.run(Math.min(50, until - wire.now));
    }
  };
  if (!wire.run(20_000, () => a.node.online(wire.now) && b.node.online(wire.now)))
    throw new Error('members not online');
  return { wire, R, r, controller, link, members, call, settle };
}
