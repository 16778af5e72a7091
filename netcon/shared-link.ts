// A frame link between threads: one single-producer/single-consumer ring of packed frame batches
// (Stack.onOutputPacked's format) per direction, in a SharedArrayBuffer. The producer copies a batch in
// and bumps a sequence number; the consumer waits on it with Atomics.waitAsync and hands each batch to
// its stack in one piece. A full ring drops the batch (TCP repairs it), as a congested wire would.

const HEAD = 0; // bytes written (monotonic, wraps at 2^32)
const TAIL = 1; // bytes read
const SEQ = 2; // bumped after every push, for waitAsync
const CTL_BYTES = 16;
const PAD = -1; // record marker: skip to the start of the ring

type WaitAsync = (
  a: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

export class SharedRing {
  readonly sab: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly data: Uint8Array;
  private readonly dv: DataView;
  private readonly cap: number;
  drops = 0;

  constructor(sabOrCapacity: SharedArrayBuffer | number) {
    this.sab = typeof sabOrCapacity === 'number' ? new SharedArrayBuffer(CTL_BYTES + sabOrCapacity) : sabOrCapacity;
    this.ctl = new Int32Array(this.sab, 0, 4);
    this.cap = this.sab.byteLength - CTL_BYTES;
    this.data = new Uint8Array(this.sab, CTL_BYTES, this.cap);
    this.dv = new DataView(this.sab, CTL_BYTES, this.cap);
  }

  /** Copies a packed batch in; false (and counted) when the ring is full. */
  push(packed: Uint8Array, count: number): boolean {
    const need = 8 + ((packed.length + 3) & ~3);
    const head = Atomics.load(this.ctl, HEAD) >>> 0;
    const tail = Atomics.load(this.ctl, TAIL) >>> 0;
    const used = (head - tail) >>> 0;
    let pos = head % this.cap;
    const pad = pos + need > this.cap ? this.cap - pos : 0;
    if (used + pad + need > this.cap || need > this.cap) {
      this.drops++;
      return false;
    }
    let h = head;
    if (pad > 0) {
      if (pad >= 4) this.dv.setInt32(pos, PAD, true);
      h = (h + pad) >>> 0;
      pos = 0;
    }
    this.dv.setInt32(pos, count, true);
    this.dv.setUint32(pos + 4, packed.length, true);
    this.data.set(packed, pos + 8);
    Atomics.store(this.ctl, HEAD, (h + need) | 0);
    Atomics.add(this.ctl, SEQ, 1);
    Atomics.notify(this.ctl, SEQ);
    return true;
  }

  /** Hands every waiting batch to fn (a view valid during the call); returns how many. */
  drain(fn: (packed: Uint8Array, count: number) => void): number {
    let n = 0;
    for (;;) {
      const head = Atomics.load(this.ctl, HEAD) >>> 0;
      let tail = Atomics.load(this.ctl, TAIL) >>> 0;
      if (head === tail) return n;
      const pos = tail % this.cap;
      if (this.cap - pos < 8 || this.dv.getInt32(pos, true) === PAD) {
        tail = (tail + (this.cap - pos)) >>> 0;
        Atomics.store(this.ctl, TAIL, tail | 0);
        continue;
      }
      const count = this.dv.getInt32(pos, true);
      const len = this.dv.getUint32(pos + 4, true);
      fn(this.data.subarray(pos + 8, pos + 8 + len), count);
      Atomics.store(this.ctl, TAIL, (tail + 8 + ((len + 3) & ~3)) | 0);
      n++;
    }
  }

  /** Drains now and whenever the producer pushes, until stop() is called. */
  consume(fn: (packed: Uint8Array, count: number) => void): { stop(): void } {
    let stopped = false;
    const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
    const loop = async () => {
      while (!stopped) {
        const seq = Atomics.load(this.ctl, SEQ);
        this.drain(fn);
        const r = waitAsync(this.ctl, SEQ, seq);
        if (r.async) await r.value;
      }
    };
    void loop();
    return {
      stop: () => {
        stopped = true;
        Atomics.add(this.ctl, SEQ, 1);
        Atomics.notify(this.ctl, SEQ);
      },
    };
  }
}

/**
 * The stack side of a thread link: its packed output into `out`, `in`'s batches into it (trusted: both ends
 * are stacks of this process, so TCP checksums are neither generated nor verified, as on Linux loopback).
 */
export function attachSharedLink(
  stack: {
    onOutputPacked?: ((packed: Uint8Array, count: number) => void) | undefined;
    inputPacked(packed: Uint8Array, count: number, trusted?: boolean): void;
    setLinkChecksums?(on: boolean): void;
  },
  out: SharedRing,
  inp: SharedRing,
): { stop(): void } {
  stack.setLinkChecksums?.(false);
  stack.onOutputPacked = (packed, count) => {
    out.push(packed, count);
  };
  // Batches go in at most PIPELINE frames at a time: the stack answers each piece (its output is coalesced
  // per call: one ACK per piece) before taking the next, so the sender's thread refills the pipe meanwhile.
  return inp.consume((packed, count) => {
    if (count <= PIPELINE) return stack.inputPacked(packed, count, true);
    const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
    let start = 0;
    let off = 0;
    let n = 0;
    for (let i = 0; i < count && off + 4 <= packed.length; i++) {
      off += 4 + ((dv.getUint32(off, true) + 3) & ~3);
      if (++n === PIPELINE || i === count - 1) {
        stack.inputPacked(packed.subarray(start, Math.min(off, packed.length)), n, true);
        start = off;
        n = 0;
      }
    }
  });
}

const PIPELINE = 16;
