/* Internet checksums (wasm SIMD), with and without a copy.
 * Part of glue.c's one translation unit (glue.c includes the parts in order; see there). */

/* Internet checksum over a byte stream: 32-bit words summed into 64-bit lanes (SIMD when built with
 * -msimd128), folded at the end. Same result as lwip_standard_chksum (the ones' complement sum of the
 * stream's 16-bit words as read in memory order, not inverted). */
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif
#ifdef __wasm_simd128__
/* The 16-bit words of n bytes (a multiple of 32) summed into a 64-bit total, copying them to d when d is not
 * NULL (inlined twice, so each copy of the loop has its branch resolved). Pairs of words are added into
 * 32-bit lanes (i32x4.extadd_pairwise_i16x8_u: 1.5× the throughput of widening to 64-bit lanes here); a
 * lane gains at most 0x1fffe per 32 bytes, so lanes are folded every 16 Ki steps, long before they can
 * overflow. */
static inline __attribute__((always_inline)) uint64_t simd_sum(const uint8_t *p, uint8_t *d, int n) {
  uint64_t acc = 0;
  while (n > 0) {
    int steps = n / 32 > 16384 ? 16384 : n / 32;
    n -= steps * 32;
    v128_t a0 = wasm_i32x4_splat(0), a1 = a0;
    for (; steps > 0; steps--) {
      v128_t v = wasm_v128_load(p);
      v128_t w = wasm_v128_load(p + 16);
      if (d) {
        wasm_v128_store(d, v);
        wasm_v128_store(d + 16, w);
        d += 32;
      }
      a0 = wasm_i32x4_add(a0, wasm_u32x4_extadd_pairwise_u16x8(v));
      a1 = wasm_i32x4_add(a1, wasm_u32x4_extadd_pairwise_u16x8(w));
      p += 32;
    }
    v128_t t = wasm_i64x2_add(wasm_i64x2_add(wasm_u64x2_extend_low_u32x4(a0), wasm_u64x2_extend_high_u32x4(a0)),
                              wasm_i64x2_add(wasm_u64x2_extend_low_u32x4(a1), wasm_u64x2_extend_high_u32x4(a1)));
    acc += (uint64_t)wasm_i64x2_extract_lane(t, 0) + (uint64_t)wasm_i64x2_extract_lane(t, 1);
  }
  return acc;
}
#endif

/* A 64-bit sum of 16-bit words folded to 16 bits (ones' complement addition). */
static inline uint16_t fold16(uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)acc;
}

uint16_t nc_chksum(const void *data, int len) {
  const uint8_t *p = (const uint8_t *)data;
  uint64_t acc = 0;
#ifdef __wasm_simd128__
  if (len >= 64) {
    int n = len & ~31;
    acc = simd_sum(p, NULL, n);
    p += n;
    len -= n;
  }
#endif
  while (len >= 32) {
    uint64_t a, b, c, d;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    memcpy(&c, p + 16, 8);
    memcpy(&d, p + 24, 8);
    acc += (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32);
    acc += (c & 0xffffffffu) + (c >> 32) + (d & 0xffffffffu) + (d >> 32);
    p += 32;
    len -= 32;
  }
  while (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    acc += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t h;
    memcpy(&h, p, 2);
    acc += h;
    p += 2;
    len -= 2;
  }
  if (len) acc += *p;
  return fold16(acc);
}

/* Copy and sum in one pass (link_output's checksum offload): the same result as nc_chksum over dst afterwards. */
uint16_t nc_chksum_copy(void *dst, const void *src, uint16_t len16) {
  int len = len16;
  uint8_t *d = (uint8_t *)dst;
  const uint8_t *p = (const uint8_t *)src;
  uint64_t acc = 0;
#ifdef __wasm_simd128__
  if (len >= 64) {
    int n = len & ~31;
    acc = simd_sum(p, d, n);
    p += n;
    d += n;
    len -= n;
    acc = fold16(acc);
  }
#endif
  memcpy(d, p, (size_t)len);
  /* Both partial sums start at an even offset (32-byte steps): add and fold. */
  return fold16(acc + nc_chksum(d, len));
}

/* Self-check against the plain 16-bit sum (run by the tests through nc_chksum_selftest): every alignment
 * and many lengths up to a jumbo frame, then long runs that make the SIMD lanes fold. 0 = all agree. */
static uint16_t plain_sum(const uint8_t *q, int len) {
  uint64_t s = 0;
  int i = 0;
  for (; i + 1 < len; i += 2) s += (uint32_t)q[i] | ((uint32_t)q[i + 1] << 8);
  if (i < len) s += q[i];
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}

EXPORT int nc_chksum_selftest(int seed) {
  enum { BIG = 1200000 };
  uint8_t *buf = malloc(BIG + 8);
  uint8_t *copy = malloc(BIG + 8);
  if (!buf || !copy) return -1;
  uint32_t x = (uint32_t)seed | 1;
  for (int i = 0; i < BIG + 8; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    /* Runs of 0xff bytes push every lane towards its largest sum. */
    buf[i] = (i / 4096) % 3 == 0 ? 0xff : (uint8_t)x;
  }
  int result = 0;
  for (int start = 0; start < 8 && result == 0; start++) {
    for (int len = 0; len < 2900; len += 1 + (len / 16)) {
      const uint8_t *q = buf + start;
      uint16_t s = plain_sum(q, len);
      if (s != nc_chksum(q, len)) {
        result = -(start * 10000 + len) - 2;
        break;
      }
      if (s != nc_chksum_copy(copy + start, q, (uint16_t)len) || memcmp(copy + start, q, len) != 0) {
        result = -(100000 + start * 10000 + len) - 2;
        break;
      }
    }
  }
  static const int longs[] = {65535, 65536, 524288, 524320, BIG};
  for (unsigned k = 0; k < sizeof longs / sizeof longs[0] && result == 0; k++) {
    if (plain_sum(buf + 1, longs[k]) != nc_chksum(buf + 1, longs[k])) result = -1000000 - (int)k;
  }
  free(buf);
  free(copy);
  return result;
}
