// An in-memory Ethernet link between two frame endpoints (stacks, or a stack and a test double), with a
// fault injector: drop, duplicate and reorder at given rates, from a seeded generator so runs repeat.
// Frames cross asynchronously (one setImmediate per batch), as they would through a real network.

export interface FrameEndpoint {
  input(frames: readonly Uint8Array[]): void;
  onOutput?: ((frames: Uint8Array[]) => void) | undefined;
  /** When the endpoint has it (Stack does), the link takes views and copies them into reused blocks. */
  onOutputBorrowed?: ((frames: Uint8Array[]) => void) | undefined;
}

const BLOCK = 1024 * 1024;

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
  // Copies of borrowed frames live in blocks that are reused once the peer has taken the batch.
  private free: Uint8Array[] = [];
  private inUse: Uint8Array[] = [];
  private block: Uint8Array | undefined;
  private blockOff = 0;
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

  /** Frames valid only during this call: copied into a block. */
  pushBorrowed(frames: Uint8Array[]): void {
    if (this.link.down) return;
    for (const f of frames) {
      if (!this.block || this.blockOff + f.length > this.block.length) {
        this.block = this.free.pop() ?? new Uint8Array(Math.max(BLOCK, f.length));
        if (this.block.length < f.length) this.block = new Uint8Array(f.length);
        this.inUse.push(this.block);
        this.blockOff = 0;
      }
      this.block.set(f, this.blockOff);
      this.queue.push(this.block.subarray(this.blockOff, this.blockOff + f.length));
      this.blockOff += f.length;
    }
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
    const blocks = this.inUse;
    this.inUse = [];
    this.block = undefined;
    for (const frame of batch) {
      if (f.drop && rand() < f.drop) {
        this.counters.dropped++;
        continue;
      }
      if (f.reorder && rand() < f.reorder) {
        this.counters.reordered++;
        this.held.push(frame.slice()); // its block is reused after this batch
        continue;
      }
      out.push(frame);
      if (f.duplicate && rand() < f.duplicate) {
        this.counters.duplicated++;
        out.push(frame);
      }
    }
    if (this.held.length > 0) this.schedule();
    if (out.length > 0 && !this.link.down) {
      this.counters.frames += out.length;
      for (const x of out) this.counters.bytes += x.length;
      this.to.input(out); // copies them (a Stack stages them into its own memory)
    }
    for (const b of blocks) if (this.free.length < 4) this.free.push(b);
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
    if ('onOutputBorrowed' in a) a.onOutputBorrowed = (frames) => this.ab.pushBorrowed(frames);
    else a.onOutput = (frames) => this.ab.push(frames);
    if ('onOutputBorrowed' in b) b.onOutputBorrowed = (frames) => this.ba.pushBorrowed(frames);
    else b.onOutput = (frames) => this.ba.push(frames);
  }

  /** Counters of frames from a to b and from b to a. */
  get counters(): { ab: LinkCounters; ba: LinkCounters } {
    return { ab: this.ab.counters, ba: this.ba.counters };
  }
}
