// An in-memory Ethernet link between two frame endpoints (stacks, or a stack and a test double), with a
// fault injector: drop, duplicate and reorder at given rates, from a seeded generator so runs repeat.
// Frames cross asynchronously (one setImmediate per batch), as they would through a real network.

export interface FrameEndpoint {
  input(frames: readonly Uint8Array[]): void;
  onOutput?: ((frames: Uint8Array[]) => void) | undefined;
}

export interface LinkFaults {
  /** Probability that a frame is lost. */
  drop?: number;
  /** Probability that a frame arrives twice. */
  duplicate?: number;
  /** Probability that a frame is held back and arrives after the frames that follow it. */
  reorder?: number;
}

export interface LinkCounters {
  frames: number;
  bytes: number;
  dropped: number;
  duplicated: number;
  reordered: number;
}

/** mulberry32: small, fast, seeded. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Direction {
  private queue: Uint8Array[] = [];
  private held: Uint8Array[] = [];
  private scheduled = false;
  readonly counters: LinkCounters = { frames: 0, bytes: 0, dropped: 0, duplicated: 0, reordered: 0 };

  constructor(
    private readonly link: MemoryLink,
    private readonly to: FrameEndpoint,
  ) {}

  push(frames: Uint8Array[]): void {
    if (this.link.down) return;
    for (const f of frames) this.queue.push(f);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.deliver());
  }

  private deliver(): void {
    this.scheduled = false;
    const f = this.link.faults;
    const rand = this.link.random;
    const out: Uint8Array[] = this.held;
    this.held = [];
    const batch = this.queue;
    this.queue = [];
    for (const frame of batch) {
      if (f.drop && rand() < f.drop) {
        this.counters.dropped++;
        continue;
      }
      if (f.reorder && rand() < f.reorder) {
        this.counters.reordered++;
        this.held.push(frame);
        continue;
      }
      out.push(frame);
      if (f.duplicate && rand() < f.duplicate) {
        this.counters.duplicated++;
        out.push(frame);
      }
    }
    if (this.held.length > 0) this.schedule();
    if (out.length === 0 || this.link.down) return;
    this.counters.frames += out.length;
    for (const x of out) this.counters.bytes += x.length;
    this.to.input(out);
  }
}

export class MemoryLink {
  faults: LinkFaults;
  /** While down, frames are discarded (a cut cable). */
  down = false;
  readonly random: () => number;
  private readonly ab: Direction;
  private readonly ba: Direction;

  constructor(a: FrameEndpoint, b: FrameEndpoint, faults: LinkFaults = {}, seed = 1) {
    this.faults = faults;
    this.random = rng(seed);
    this.ab = new Direction(this, b);
    this.ba = new Direction(this, a);
    a.onOutput = (frames) => this.ab.push(frames);
    b.onOutput = (frames) => this.ba.push(frames);
  }

  /** Counters of frames from a to b and from b to a. */
  get counters(): { ab: LinkCounters; ba: LinkCounters } {
    return { ab: this.ab.counters, ba: this.ba.counters };
  }
}
