// Deterministic mutation fuzzing for the VL2 decoders: a xorshift PRNG (reproducible from seed and
// iteration) and a mutator biased toward the bytes the VL2 formats care about (dictionary escapes and
// separators, rule type bytes with NOT/OR, lengths, 0x00/0xff).

/** xorshift32. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const INTERESTING = [0x00, 0x01, 0x0a, 0x0d, 0x3d, 0x5c, 0x30, 0x65, 0x6e, 0x72, 0x7f, 0x80, 0xc0, 0xff, 0x40, 0x3f];

/**
 * Writes a mutated copy of `src` into `buf` (1-8 mutations: bit flips, interesting bytes, random bytes,
 * inserted/deleted runs, duplicated slices, truncation, splices from `other`); returns its length.
 */
export function mutate(rnd: () => number, src: Uint8Array, buf: Uint8Array, other?: Uint8Array): number {
  let len = Math.min(src.length, buf.length);
  buf.set(src.subarray(0, len));
  const n = 1 + (rnd() % 8);
  for (let k = 0; k < n; k++) {
    const op = rnd() % 10;
    const at = len > 0 ? rnd() % len : 0;
    switch (op) {
      case 0:
      case 1:
        if (len) buf[at] = buf[at]! ^ (1 << (rnd() & 7));
        break;
      case 2:
      case 3:
        if (len) buf[at] = INTERESTING[rnd() % INTERESTING.length]!;
        break;
      case 4:
        if (len) buf[at] = rnd() & 0xff;
        break;
      case 5: {
        // insert a run
        const run = 1 + (rnd() % 8);
        if (len + run > buf.length) break;
        buf.copyWithin(at + run, at, len);
        for (let i = 0; i < run; i++) buf[at + i] = rnd() & 1 ? INTERESTING[rnd() % INTERESTING.length]! : rnd() & 0xff;
        len += run;
        break;
      }
      case 6: {
        // delete a run
        const run = Math.min(len - at, 1 + (rnd() % 16));
        buf.copyWithin(at, at + run, len);
        len -= run;
        break;
      }
      case 7:
        // truncate
        len = len ? rnd() % (len + 1) : 0;
        break;
      case 8: {
        // duplicate a slice
        const run = Math.min(len - at, 1 + (rnd() % 32));
        if (len + run > buf.length) break;
        const slice = buf.slice(at, at + run);
        const to = rnd() % (len + 1);
        buf.copyWithin(to + run, to, len);
        buf.set(slice, to);
        len += run;
        break;
      }
      default: {
        // splice in bytes of another seed
        if (!other || other.length === 0) break;
        const from = rnd() % other.length;
        const run = Math.min(other.length - from, 1 + (rnd() % 64), buf.length - at);
        buf.set(other.subarray(from, from + run), at);
        len = Math.max(len, at + run);
        break;
      }
    }
  }
  return len;
}
