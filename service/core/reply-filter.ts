// Which OKs we accept: only those naming a packet we sent recently. Like ZeroTier One, the upper 32 bits of
// each sent packet's wire ID are remembered in 256 buckets (chosen by ID byte 3) of the last 32 values each.
const BUCKETS = 256;
const PER_BUCKET = 32;

export class ReplyFilter {
  private readonly ids = new Uint32Array(BUCKETS * PER_BUCKET);
  private readonly next = new Uint8Array(BUCKETS);
  private readonly filled = new Uint8Array(BUCKETS);

  /** Remembers a sent packet by the upper half of its wire ID (bytes 0-3, read without making a BigInt). */
  expect(pkt: Uint8Array): void {
    const top = ((pkt[0]! << 24) | (pkt[1]! << 16) | (pkt[2]! << 8) | pkt[3]!) >>> 0;
    const bucket = top & 0xff;
    const slot = this.next[bucket]!;
    this.ids[bucket * PER_BUCKET + slot] = top;
    this.next[bucket] = (slot + 1) % PER_BUCKET;
    if (this.filled[bucket]! < PER_BUCKET) this.filled[bucket] = this.filled[bucket]! + 1;
  }

  expecting(inReId: bigint): boolean {
    const top = Number(inReId >> 32n);
    const bucket = top & 0xff;
    const base = bucket * PER_BUCKET;
    const n = this.filled[bucket]!;
    for (let i = 0; i < n; i++) if (this.ids[base + i] === top) return true;
    return false;
  }
}
