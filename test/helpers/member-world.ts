// VL2 in one process: a root that is also the controller (node-R with the embedded controller) and members
// over the in-memory wire with a fake clock, each member with a real netcon Stack as its tap.
// The wire is synchronous and the stacks and the controller are asynchronous, so `until` alternates:
// run the wire a little (fake time), then let the event loop run (real time).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack } from '../../netcon/stack.js';
import { EmbeddedController } from '../../service/controller/controller.js';
import type { Identity } from '../../service/core/identity.js';
import type { Network } from '../../service/core/vl2/network.js';
import { Vl2 } from '../../service/core/vl2/vl2.js';
import type { World } from '../../service/core/world.js';
import { StackTap, stackConfigOf } from '../../service/daemon/networks.js';
import { vectorIdentity } from './controller-fixtures.js';
import { MemWire, type SimNode, testPlanet } from './mem-wire.js';

export interface Member {
  sim: SimNode;
  vl2: Vl2;
  stacks: Map<bigint, Stack>;
}

export class MemberWorld {
  readonly wire: MemWire;
  readonly r: SimNode;
  readonly rVl2: Vl2;
  private readonly members: Member[] = [];

  private constructor(
    wire: MemWire,
    readonly controller: EmbeddedController,
    private readonly home: string,
    private readonly planet: World,
    R: Identity,
  ) {
    this.wire = wire;
    this.r = wire.add('10.0.0.1/9993', { identity: R, planet });
    this.rVl2 = new Vl2(this.r.node, { controller });
  }

  static async create(): Promise<MemberWorld> {
    const home = mkdtempSync(join(tmpdir(), 'netcon-member-'));
    const R = vectorIdentity('node-R');
    const { planet } = testPlanet(R);
    const wire = new MemWire();
    const { controller } = await EmbeddedController.open({ home, identity: R, clock: () => wire.now });
    return new MemberWorld(wire, controller, home, planet, R);
  }

  /** A member node at 10.0.0.<n> with the vector identity `name` (node-A, node-B, id1 …). */
  addMember(n: number, name: string): Member {
    const sim = this.wire.add(`10.0.0.${n}/9993`, { identity: vectorIdentity(name), planet: this.planet });
    const m: Member = { sim, vl2: new Vl2(sim.node), stacks: new Map() };
    this.members.push(m);
    return m;
  }

  /** Joins with a real stack as the tap (reconfigured on every config). */
  join(m: Member, nwid: bigint): Network {
    const net = m.vl2.join(this.wire.now, nwid);
    const stack = new Stack(stackConfigOf(net));
    const tap = new StackTap(stack);
    tap.onConfig = (n) => stack.setConfig(stackConfigOf(n));
    stack.onOutput = (frames) => {
      for (const f of frames) m.vl2.sendFrame(this.wire.now, nwid, f);
    };
    net.tap = tap;
    m.stacks.set(nwid, stack);
    m.sim.nextTick = this.wire.now; // tick now: the first request goes out
    return net;
  }

  /** The controller's JSON API. */
  async api(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const r = await this.controller.route({ method, segments: path.split('/').filter((s) => s), body });
    if (!r) return { status: 404, json: {} };
    await this.controller.idle();
    const json = (r.text !== undefined ? (r.text ? JSON.parse(r.text) : {}) : r.body) as Record<string, unknown>;
    return { status: r.status, json };
  }

  /**
   * Runs the wire (fake time) and the event loop (real time) until cond() holds. Fake time runs at most
   * `speed` times as fast as real time, so real-time work (the controller's fsyncs, lwIP's timers) keeps up.
   */
  async until(
    cond: () => boolean,
    label: string,
    fakeMs = 60_000,
    realMs = 60_000,
    step = 5,
    speed = 20,
  ): Promise<void> {
    const end = this.wire.now + fakeMs;
    const realStart = Date.now();
    const fakeStart = this.wire.now;
    while (!cond()) {
      if (this.wire.now > end || Date.now() - realStart > realMs)
        throw new Error(
          `timed out waiting for ${label} (fake ${this.wire.now - fakeStart} ms, real ${Date.now() - realStart} ms)`,
        );
      const allowed = fakeStart + (Date.now() - realStart) * speed;
      this.wire.run(Math.max(0, Math.min(step, Math.floor(allowed - this.wire.now))));
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Waits for a promise while the wire keeps running. */
  async drive<T>(p: Promise<T>, label: string, realMs = 60_000, step = 1): Promise<T> {
    let done = false;
    let value: T | undefined;
    let error: unknown;
    p.then(
      (v) => {
        done = true;
        value = v;
      },
      (e) => {
        done = true;
        error = e ?? new Error('rejected');
      },
    );
    await this.until(() => done, label, Number.POSITIVE_INFINITY, realMs, step);
    if (error !== undefined) throw error;
    return value as T;
  }

  close(): void {
    for (const m of this.members) for (const s of m.stacks.values()) if (!s.closed) s.close();
    rmSync(this.home, { recursive: true, force: true });
  }
}
