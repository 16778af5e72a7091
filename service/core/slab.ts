// Short-lived buffers on the data path, carved from large blocks. A typed array with its own ArrayBuffer
// costs an off-heap allocation that the collector must track and free; a view of a shared block is an
// ordinary small object. Each region is handed out once (so it starts zeroed, like a new Uint8Array);
// a block is dropped when it is used up and lives on only while some view of it is still referenced.
// Views share their block's `.buffer`: use byteOffset with it.

export class Slab {
  private block: Uint8Array;
  private used = 0;

  constructor(private readonly blockSize = 256 * 1024) {
    this.block = new Uint8Array(blockSize);
  }

  /** A zeroed region of n bytes (its own buffer when n is more than a quarter of a block). */
  take(n: number): Uint8Array {
    if (n > this.blockSize >> 2) return new Uint8Array(n);
    if (this.used + n > this.block.length) {
      this.block = new Uint8Array(this.blockSize);
      this.used = 0;
    }
    const r = this.block.subarray(this.used, this.used + n);
    // 8-byte aligned starts keep multi-byte reads aligned (and the regions apart).
    this.used += (n + 7) & ~7;
    return r;
  }
}
