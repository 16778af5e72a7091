// An in-memory Ethernet link between two frame endpoints (stacks, or a stack and a test double), with a
// fault injector: drop, duplicate and reorder at given rates, from a seeded generator so runs repeat.
// Frames cross asynchronously (one setImmediate per batch), as they would through a real network.

export interface FrameEndpoint {
  input(frames: readonly Uint8Array[]): void;
  onOutput?: ((frames: Uint8Array[]) => void) | undefined;
  /** When the endpoint has it (Stack does), the link takes views and copies them into reused blocks. */
  onOutputBorrowed?: ((frames: Uint8Array[]) => void) | undefined;
  /** Whole batches in one piece (Stack.onOutputPacked / inputPacked): used while no faults are set. */
  onOutputPacked?: ((packed: Uint8Array, count: number) => void) | undefined;
  inputPacked?(packed: Uint8Array, count: number, trusted?: boolean): void;
  /** Takes a packed batch now, processes it later (Stack.enqueuePacked); false = not taken. */
  enqueuePacked?(packed: Uint8Array, count: number, trusted?: boolean): boolean;
  /** Told whether its frames need TCP checksums (Stack.setLinkChecksums): not while the link is perfect. */
  setLinkChecksums?(on: boolean): void;
}

interface Packed {
  packed: Uint8Array;
  count: number;
}

function unpack(p: Packed, copy: boolean): Uint8Array[] {
  const dv = new DataView(p.packed.buffer, p.packed.byteOffset, p.packed.byteLength);
  const out: Uint8Array[] = new Array(p.count);
  let off = 0;
  for (let i = 0; i < p.count; i++) {
    const len = dv.getUint32(off, true);
    const f = p.packed.subarray(off + 4, off + 4 + len);
    out[i] = copy ? f.slice() : f;
    off += 4 + ((len + 3) & ~3);
  }
  return out;
}

function packedBytes(p: Packed): number {
  const dv = new DataView(p.packed.buffer, p.packed.byteOffset, p.packed.byteLength);
  let off = 0;
  let bytes = 0;
  for (let i = 0; i < p.count; i++) {
    const len = dv.getUint32(off, true);
    bytes += len;
    off += 4 + ((len + 3) & ~3);
  }
  return bytes;
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
  private queue: (Uint8Array | Packed)[] = [];
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
    readonly name: 'ab' | 'ba',
  ) {}

  push(frames: Uint8Array[]): void {
    if (this.link.down) return;
    for (const f of frames) this.queue.push(f);
    this.schedule();
  }

  /** Copies f into the current block (a new or recycled one when it is full); returns the copy. */
  private copy(f: Uint8Array): Uint8Array {
    if (!this.block || this.blockOff + f.length > this.block.length) {
      this.block = this.free.pop() ?? new Uint8Array(Math.max(BLOCK, f.length));
      if (this.block.length < f.length) this.block = new Uint8Array(f.length);
      this.inUse.push(this.block);
      this.blockOff = 0;
    }
    this.block.set(f, this.blockOff);
    const c = this.block.subarray(this.blockOff, this.blockOff + f.length);
    this.blockOff += (f.length + 3) & ~3;
    return c;
  }

  /** Frames valid only during this call: copied into a block. */
  pushBorrowed(frames: Uint8Array[]): void {
    if (this.link.down) return;
    for (const f of frames) this.queue.push(this.copy(f));
    this.schedule();
  }

  /** A packed batch valid only during this call: straight into the peer when it can take it, else copied. */
  pushPacked(packed: Uint8Array, count: number): void {
    if (this.link.down) return;
    if (
      this.link.perfect &&
      this.queue.length === 0 &&
      this.held.length === 0 &&
      this.to.enqueuePacked?.(packed, count, true)
    ) {
      this.counters.frames += count;
      this.counters.bytes += packedBytes({ packed, count });
      return;
    }
    this.queue.push({ packed: this.copy(packed), count });
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
    const perfect = this.link.perfect;
    const transform = this.link.transform;
    const rand = this.link.random;
    let out: Uint8Array[] = this.held;
    this.held = [];
    const items = this.queue;
    this.queue = [];
    const blocks = this.inUse;
    this.inUse = [];
    this.block = undefined;
    const flush = () => {
      if (out.length === 0) return;
      const frames = out;
      out = [];
      if (this.link.down) return;
      this.counters.frames += frames.length;
      for (const x of frames) this.counters.bytes += x.length;
      this.to.input(frames); // copies them (a Stack stages them into its own memory)
    };
    const one = (original: Uint8Array) => {
      const frame = transform ? transform(original, this.name) : original;
      if (!frame) {
        this.counters.dropped++;
        return;
      }
      if (f.drop && rand() < f.drop) {
        this.counters.dropped++;
        return;
      }
      if (f.reorder && rand() < f.reorder) {
        this.counters.reordered++;
        this.held.push(frame.slice()); // its block is reused after this batch
        return;
      }
      out.push(frame);
      if (f.duplicate && rand() < f.duplicate) {
        this.counters.duplicated++;
        out.push(frame);
      }
    };
    for (const item of items) {
      if (item instanceof Uint8Array) one(item);
      else if (perfect && this.to.inputPacked) {
        flush();
        if (this.link.down) continue;
        this.counters.frames += item.count;
        this.counters.bytes += packedBytes(item);
        this.to.inputPacked(item.packed, item.count, true);
      } else for (const frame of unpack(item, false)) one(frame);
    }
    flush();
    if (this.held.length > 0) this.schedule();
    for (const b of blocks) if (this.free.length < 4) this.free.push(b);
  }
}

type Transform = (frame: Uint8Array, dir: 'ab' | 'ba') => Uint8Array | undefined;

export class MemoryLink {
  private faultsNow: LinkFaults;
  private transformNow: Transform | undefined;
  /** While down, frames are discarded (a cut cable). */
  down = false;
  readonly random: () => number;
  private readonly ab: Direction;
  private readonly ba: Direction;

  constructor(
    private readonly a: FrameEndpoint,
    private readonly b: FrameEndpoint,
    faults: LinkFaults = {},
    seed = 1,
  ) {
    this.faultsNow = faults;
    this.random = rng(seed);
    this.ab = new Direction(this, b, 'ab');
    this.ba = new Direction(this, a, 'ba');
    const attach = (from: FrameEndpoint, to: FrameEndpoint, d: Direction) => {
      if ('onOutputPacked' in from && to.inputPacked) from.onOutputPacked = (p, n) => d.pushPacked(p, n);
      else if ('onOutputBorrowed' in from) from.onOutputBorrowed = (frames) => d.pushBorrowed(frames);
      else from.onOutput = (frames) => d.push(frames);
    };
    attach(a, b, this.ab);
    attach(b, a, this.ba);
    this.checksumsAsNeeded();
  }

  /** Faults injected from now on (assign a new object to change them). */
  get faults(): LinkFaults {
    return this.faultsNow;
  }
  set faults(f: LinkFaults) {
    this.faultsNow = f;
    this.checksumsAsNeeded();
  }

  /**
   * Sees (and may replace, or drop by returning undefined) every frame, a → b as 'ab'; for tests that
   * watch or corrupt traffic. While set, frames go one by one (no packed fast path).
   */
  get transform(): Transform | undefined {
    return this.transformNow;
  }
  set transform(t: Transform | undefined) {
    this.transformNow = t;
    this.checksumsAsNeeded();
  }

  /**
   * Frames on a perfect link are trusted, so the stacks leave their TCP checksums out; with faults or a
   * transform they are verified, so they carry them. (TCP frames already on their way when faults are set
   * may arrive without one and be dropped as bad: TCP sends them again.)
   */
  private checksumsAsNeeded(): void {
    const on = !this.perfect;
    this.a.setLinkChecksums?.(on);
    this.b.setLinkChecksums?.(on);
  }

  /**
   * No faults and no transform: batches from a Stack go straight into the peer in one piece, marked
   * trusted (an in-process wire cannot corrupt them: checksums are neither generated for TCP nor verified,
   * as on Linux loopback).
   */
  get perfect(): boolean {
    const f = this.faults;
    return !(f.drop || f.duplicate || f.reorder || this.transform);
  }

  /** Counters of frames from a to b and from b to a. */
  get counters(): { ab: LinkCounters; ba: LinkCounters } {
    return { ab: this.ab.counters, ba: this.ba.counters };
  }
}
