// Typed outcomes for the wire decoders: a value, or a failure with a stable reason that names a drop
// counter. Network input is dropped and counted, never thrown (DESIGN.md §3.2).

/** Why a datagram, packet or payload was dropped. Stable strings: they name drop counters. */
export type DropReason =
  | 'too-short'
  | 'too-long'
  | 'beacon'
  | 'bad-mac'
  | 'bad-length'
  | 'unsupported-cipher'
  | 'trusted-path'
  | 'decompress-failed'
  | 'malformed'
  | 'unknown-verb'
  | 'bad-fragment'
  | 'fragment-too-long'
  | 'fragment-evicted'
  | 'fragment-timeout';

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: DropReason };

export function ok<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function fail<T = never>(reason: DropReason): Decoded<T> {
  return { ok: false, reason };
}

/** Counts drops by reason (what the receive path does with every failure instead of throwing). */
export class DropCounter {
  private readonly counts = new Map<DropReason, number>();
  total = 0;

  count(reason: DropReason, n = 1): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
    this.total += n;
  }

  get(reason: DropReason): number {
    return this.counts.get(reason) ?? 0;
  }

  /** A plain object for logs and the JSON API, sorted by reason. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}
