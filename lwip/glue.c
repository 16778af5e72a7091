/* netcon glue: the narrow C ABI between one lwIP instance (one WebAssembly instance) and JavaScript.
 *
 * Frames cross the boundary in batches through buffers in wasm memory:
 *   in:  JS writes [u32 len][bytes, padded to 4] × n into the input buffer (ctl.in_buf), then calls nc_input(n)
 *        once; frames lwIP keeps stay where they are, and the next batch goes into another buffer.
 *   out: linkoutput appends [u32 len][bytes, padded to 4] to the out ring; when it is full it calls
 *        js_out_full() (JS drains it synchronously); JS also drains it after each call into the module.
 * Addresses cross through a scratch area: struct nc_addr (family, port, 16 address bytes).
 * PCBs are identified by their pointer; each carries the JS id of its socket as callback_arg.
 * Callbacks into JS are imports (js_*); every one of them may call back into the exports
 * (write, recved, close, abort …), which lwIP's raw API allows from its callbacks.
 */
#include <string.h>
#include <stdlib.h>
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#define EXPORT EMSCRIPTEN_KEEPALIVE
#else
#define EXPORT /* native builds (debugging) */
#endif

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "lwip/raw.h"
#include "lwip/icmp.h"
#include "lwip/icmp6.h"
#include "lwip/ip.h"
#include "lwip/ip4.h"
#include "lwip/ip6.h"
#include "lwip/inet_chksum.h"
#include "lwip/timeouts.h"
#include "lwip/stats.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/nd6.h"
#include "lwip/priv/tcp_priv.h"
#include "netif/ethernet.h"

/* ---- imports (JavaScript) ---- */
extern uint32_t js_now(void);
extern void js_out_full(void);
extern int js_tcp_accept(int listen_id, struct tcp_pcb *pcb);
extern void js_tcp_connected(int id);
extern void js_tcp_recv(int id, const uint8_t *data, int len); /* len 0: FIN */
extern void js_tcp_sent(int id, int len);
extern void js_tcp_err(int id, int err);
extern void js_udp_recv(int id, const uint8_t *data, int len); /* source in scratch A */
extern void js_ping_reply(int family, int seq, int len);
/* An echo reply that is not the stack's own ping (an app's ICMP socket): the ICMP message (header and
 * payload), its source in scratch C. */
extern void js_icmp_echo_reply(int family, const uint8_t *msg, int len);
extern void js_assert(const char *msg, int line, const char *file);
extern void js_rx_flush(void); /* JS delivers the rx area and sets rx_used = rx_count = 0 */

/* ---- shared control block, read and written by JS through the heap views ---- */
struct nc_addr {
  uint8_t family; /* 4 or 6; 0 = none */
  uint8_t prefix;
  uint16_t port;
  uint8_t addr[16];
};

#define IN_CAP (512 * 1024)
/* Received TCP data: copied here (consecutive segments of one connection merged into one record) and
 * handed to JS in one piece when lwIP returns, or before any other callback (ordering is kept). */
#define RX_CAP (1024 * 1024)
#define RX_RECS 4096
struct nc_rx_rec {
  int32_t id;
  uint32_t off;
  uint32_t len;
};
#define OUT_CAP (512 * 1024)

struct nc_ctl {
  uint32_t out_used;  /* bytes in the out ring */
  uint32_t out_count; /* frames in the out ring */
  uint32_t rx_used;   /* bytes of received TCP data in the rx area */
  uint32_t rx_count;  /* records in rx_recs */
  struct nc_addr a;
  struct nc_addr b;
  struct nc_addr c;
  uint32_t wlen; /* nc_tcp_wbuf: bytes granted at the pointer it returned */
  uint8_t *in_buf; /* where JS stages the next batch of frames (nc_input may move it) */
};

static struct nc_ctl ctl;
static uint8_t *in_buf;
static uint8_t *out_buf;
static uint8_t *udp_tmp;
static uint8_t *rx_buf;
static struct nc_rx_rec *rx_recs;

static struct netif nif;
/* More IPv4 addresses: one netif each on the same link (same MAC), with a /32 mask so that the address
 * itself routes to it (and loops back); its real prefix is an on-link route (below) bound to it, so that
 * replies and connections within that prefix leave from it with it as the source. ARP for it is handed
 * to it. IPv6 addresses all live on the primary netif. */
#define NC_IP4_MAX 4
static struct netif nif4[NC_IP4_MAX - 1];
static int mtu_cfg = 2800;
static uint32_t rand_state = 0x9e3779b9u;

/* Our own drop counters (lwIP's are in lwip_stats). */
static uint32_t drop_not_for_us, drop_oom, drop_truncated, drop_oversized, drop_out_full, tcp_rexmit_seen;
static int deferring; /* tcp_output holds back (see nc_flush_output) */
static u8_t wbuf_ext_id; /* the pcb ext arg holding its send buffer (struct wbuf) */
static uint32_t frames_in, frames_out, bytes_in_lo, bytes_in_hi, bytes_out_lo, bytes_out_hi;

/* ---- platform ---- */
void nc_assert_fail(const char *msg, int line, const char *file) { js_assert(msg, line, file); abort(); }
uint32_t nc_rand(void) {
  uint32_t x = rand_state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return rand_state = x;
}
u32_t sys_now(void) { return js_now(); }

/* lwIP's heap (mem_malloc, and every memp pool: MEMP_MEM_MALLOC): per segment lwIP allocates and frees about
 * four blocks (the segment, its header and data pbufs, the frame received), always of the same few sizes.
 * Freed blocks of up to 4 KiB go on a LIFO list per size class and are handed out again from there, which
 * costs a few instructions instead of a trip through dlmalloc. Each list keeps a bounded number (a bulk
 * transfer's batch); beyond that blocks go back to dlmalloc. A header before each block holds its class. */
#define MEM_HDR 8
#define MEM_CLASSES 33 /* 1–16: 16-byte steps to 256; 17–32: 256-byte steps to 4096; 0: larger */
static void *mem_list[MEM_CLASSES];
static uint16_t mem_list_n[MEM_CLASSES];

static int mem_class(size_t n) {
  if (n <= 256) return n == 0 ? 1 : (int)((n + 15) >> 4);
  if (n <= 4096) return 16 + (int)((n + 255) >> 8);
  return 0;
}

void *nc_mem_malloc(size_t n) {
  int c = mem_class(n);
  if (c != 0 && mem_list[c] != NULL) {
    void *p = mem_list[c];
    mem_list[c] = *(void **)p;
    mem_list_n[c]--;
    return p;
  }
  size_t size = c == 0 ? n : c <= 16 ? (size_t)c * 16 : (size_t)(c - 16) * 256;
  uint32_t *h = malloc(size + MEM_HDR);
  if (h == NULL) return NULL;
  h[0] = (uint32_t)c;
  return (uint8_t *)h + MEM_HDR;
}

void *nc_mem_calloc(size_t count, size_t n) {
  if (n != 0 && count > SIZE_MAX / n) return NULL;
  void *p = nc_mem_malloc(count * n);
  if (p != NULL) memset(p, 0, count * n);
  return p;
}

void nc_mem_free(void *p) {
  uint32_t *h = (uint32_t *)((uint8_t *)p - MEM_HDR);
  int c = (int)h[0];
  if (c != 0 && mem_list_n[c] < (c <= 16 ? 4096 : 128)) {
    *(void **)p = mem_list[c];
    mem_list[c] = p;
    mem_list_n[c]++;
  } else {
    free(h);
  }
}

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

/* ---- addresses ---- */
static int addr_from(const struct nc_addr *s, ip_addr_t *out) {
  if (s->family == 4) {
    uint32_t v;
    memcpy(&v, s->addr, 4);
    ip_addr_set_ip4_u32_val(*out, v);
    return 1;
  }
  if (s->family == 6) {
    uint32_t w[4];
    memcpy(w, s->addr, 16);
    IP_ADDR6(out, w[0], w[1], w[2], w[3]);
#if LWIP_IPV6_SCOPES
    ip6_addr_clear_zone(ip_2_ip6(out));
    if (ip6_addr_has_scope(ip_2_ip6(out), IP6_UNKNOWN) && !ip6_addr_isloopback(ip_2_ip6(out)))
      ip6_addr_assign_zone(ip_2_ip6(out), IP6_UNKNOWN, &nif);
#endif
    return 1;
  }
  return 0;
}

static void addr_to(struct nc_addr *d, const ip_addr_t *a, uint16_t port) {
  memset(d, 0, sizeof(*d));
  d->port = port;
  if (a == NULL) return;
  if (IP_IS_V6(a)) {
    const ip6_addr_t *a6 = ip_2_ip6(a);
    if (ip6_addr_isipv4mappedipv6(a6)) {
      d->family = 4;
      memcpy(d->addr, &a6->addr[3], 4);
    } else {
      d->family = 6;
      memcpy(d->addr, a6->addr, 16);
    }
  } else {
    d->family = 4;
    memcpy(d->addr, &ip_2_ip4(a)->addr, 4);
  }
}

/* ---- routes (beyond the on-link subnets of the assigned addresses) ---- */
#define MAX_ROUTES 64
struct nc_route {
  uint8_t family, prefix, has_via;
  ip_addr_t target, via;
  struct netif *netif; /* on-link routes of assigned addresses: their netif; else NULL (the primary) */
};
static struct nc_route routes[MAX_ROUTES];
static int n_routes;
/* Assigned IPv6 prefixes: on-link by their real prefix length (lwIP alone assumes /64). */
static struct nc_route ip6_onlink[LWIP_IPV6_NUM_ADDRESSES];
static int n_ip6_onlink;
/* Assigned IPv4 prefixes (one per address slot; prefix 0xff = unused). */
static struct nc_route ip4_onlink[NC_IP4_MAX];

static int prefix_match(const uint8_t *a, const uint8_t *b, int bits) {
  int full = bits / 8, rest = bits % 8;
  if (memcmp(a, b, full)) return 0;
  if (rest) {
    uint8_t m = (uint8_t)(0xff << (8 - rest));
    if ((a[full] & m) != (b[full] & m)) return 0;
  }
  return 1;
}

static const struct nc_route *route_lookup(int family, const uint8_t *dest) {
  const struct nc_route *best = NULL;
  for (int i = 0; i < n_routes; i++) {
    const struct nc_route *r = &routes[i];
    if (r->family != family) continue;
    const uint8_t *t = family == 4 ? (const uint8_t *)&ip_2_ip4(&r->target)->addr : (const uint8_t *)ip_2_ip6(&r->target)->addr;
    if (prefix_match(t, dest, r->prefix) && (best == NULL || r->prefix > best->prefix)) best = r;
  }
  if (family == 4) {
    for (int i = 0; i < NC_IP4_MAX; i++) {
      const struct nc_route *r = &ip4_onlink[i];
      if (r->family == 4 && prefix_match((const uint8_t *)&ip_2_ip4(&r->target)->addr, dest, r->prefix) &&
          (best == NULL || r->prefix > best->prefix))
        best = r;
    }
  }
  if (family == 6) {
    for (int i = 0; i < n_ip6_onlink; i++) {
      const struct nc_route *r = &ip6_onlink[i];
      if (prefix_match((const uint8_t *)ip_2_ip6(&r->target)->addr, dest, r->prefix) && (best == NULL || r->prefix > best->prefix))
        best = r;
    }
  }
  return best;
}

static struct netif *ip4_netif_of(const ip4_addr_t *a) {
  if (a == NULL || ip4_addr_isany(a)) return NULL;
  if (netif_is_up(&nif) && ip4_addr_cmp(a, netif_ip4_addr(&nif))) return &nif;
  for (int i = 0; i < NC_IP4_MAX - 1; i++)
    if (netif_is_up(&nif4[i]) && ip4_addr_cmp(a, netif_ip4_addr(&nif4[i]))) return &nif4[i];
  return NULL;
}

struct netif *nc_ip4_route_src(const ip4_addr_t *src, const ip4_addr_t *dest) {
  const struct nc_route *r = route_lookup(4, (const uint8_t *)&dest->addr);
  /* A socket bound to one of our addresses sends from that address's netif (all share the link). */
  struct netif *own = ip4_netif_of(src);
  if (own && (r || ip4_addr_netcmp(dest, netif_ip4_addr(&nif), netif_ip4_netmask(&nif)))) return own;
  if (!r) return NULL;
  struct netif *n = r->netif ? r->netif : &nif;
  return netif_is_up(n) && !ip4_addr_isany_val(*netif_ip4_addr(n)) ? n : NULL;
}

const ip4_addr_t *nc_ip4_gw(struct netif *netif, const ip4_addr_t *dest) {
  static ip4_addr_t gw;
  LWIP_UNUSED_ARG(netif);
  const struct nc_route *r = route_lookup(4, (const uint8_t *)&dest->addr);
  if (r == NULL) return NULL;
  if (r->has_via) ip4_addr_copy(gw, *ip_2_ip4(&r->via));
  else ip4_addr_copy(gw, *dest);
  return &gw;
}

/* nd6.c's "same prefix" test (nd6_onlink.h): lwIP's /64 rule, or both inside one on-link prefix of the
 * configuration (an assigned address's prefix, or a route without a gateway). */
int nc_nd6_netcmp(const ip6_addr_t *a, const ip6_addr_t *b) {
  if (ip6_addr_netcmp(a, b)) return 1;
  const struct nc_route *r = route_lookup(6, (const uint8_t *)a->addr);
  return r != NULL && !r->has_via && prefix_match((const uint8_t *)ip_2_ip6(&r->target)->addr, (const uint8_t *)b->addr, r->prefix);
}

struct netif *nc_ip6_route(const ip6_addr_t *src, const ip6_addr_t *dest) {
  LWIP_UNUSED_ARG(src);
  if (!netif_is_up(&nif)) return NULL;
  return route_lookup(6, (const uint8_t *)dest->addr) ? &nif : NULL;
}

const ip6_addr_t *nc_ip6_gw(struct netif *netif, const ip6_addr_t *dest) {
  static ip6_addr_t gw;
  LWIP_UNUSED_ARG(netif);
  const struct nc_route *r = route_lookup(6, (const uint8_t *)dest->addr);
  if (r == NULL) return NULL;
  if (r->has_via) ip6_addr_copy(gw, *ip_2_ip6(&r->via));
  else ip6_addr_copy(gw, *dest);
  ip6_addr_assign_zone(&gw, IP6_UNICAST, &nif);
  return &gw;
}

/* ---- input buffers ----
 * Frames are not copied out of the input buffer: each becomes a pbuf referring to its bytes there (a custom
 * PBUF_REF that counts references to the buffer). Most are done with when nc_input returns (their data copied
 * to the rx area or answered); those lwIP keeps (out-of-order segments, fragments awaiting reassembly) keep
 * the buffer: it is set aside (pinned) until the last of them is freed, and JS stages the next batch in a
 * fresh buffer (ctl.in_buf), the spare one. Frames are referenced only while a spare exists (so a buffer
 * lwIP still refers to is never written again) and at most IN_PINNED_MAX buffers are pinned; otherwise they are
 * copied into pbufs of their own, as a plain driver would. */
#define IN_PINNED_MAX 4
struct in_block {
  int refs;      /* frames of it still held, +1 while it is the current input buffer */
  int pinned;    /* set aside: freed when refs reaches 0 */
  uint8_t *data; /* IN_CAP bytes */
};
struct in_pbuf {
  struct pbuf_custom pc;
  struct in_block *block;
};
static struct in_block *in_cur;
static struct in_block *in_spare; /* the next input buffer when the current one is pinned */
static int in_pinned;

static struct in_block *in_block_new(void) {
  struct in_block *b = malloc(sizeof(*b));
  if (b == NULL) return NULL;
  b->data = malloc(IN_CAP);
  if (b->data == NULL) {
    free(b);
    return NULL;
  }
  b->refs = 1;
  b->pinned = 0;
  return b;
}

static void in_block_unref(struct in_block *b) {
  if (--b->refs > 0 || !b->pinned) return;
  in_pinned--;
  if (in_spare == NULL) {
    b->refs = 1;
    b->pinned = 0;
    in_spare = b;
  } else {
    free(b->data);
    free(b);
  }
}

static void in_pbuf_free(struct pbuf *p) {
  struct in_pbuf *ip = (struct in_pbuf *)p;
  struct in_block *b = ip->block;
  mem_free(ip);
  in_block_unref(b);
}

/* A pbuf for frame f (len bytes in the current input buffer): a reference when the buffer could be pinned,
 * else a copy. NULL: out of memory. */
static struct pbuf *in_frame_pbuf(const uint8_t *f, uint32_t len) {
  if (in_spare != NULL && in_pinned < IN_PINNED_MAX) {
    struct in_pbuf *ip = mem_malloc(sizeof(*ip));
    if (ip == NULL) return NULL;
    ip->pc.custom_free_function = in_pbuf_free;
    ip->block = in_cur;
    in_cur->refs++;
    return pbuf_alloced_custom(PBUF_RAW, (u16_t)len, PBUF_REF, &ip->pc, (void *)f, (u16_t)len);
  }
  struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
  if (p != NULL) memcpy(p->payload, f, len);
  return p;
}

/* After a batch: if lwIP kept frames of the current buffer, it is pinned and the spare takes its place; a new
 * spare is allocated (without one, frames are copied until a pinned buffer is released and becomes it). */
static void in_batch_done(void) {
  if (in_cur->refs == 1) return;
  struct in_block *next = in_spare;
  in_spare = in_block_new();
  in_cur->pinned = 1;
  in_pinned++;
  in_block_unref(in_cur);
  in_cur = next;
  in_buf = ctl.in_buf = next->data;
}

/* ---- the link ---- */
/* TCP checksum offload: lwIP leaves the TCP checksum of frames for the network at 0 (NETIF_CHECKSUM_GEN_TCP off
 * on our netifs) and link_output sums each segment while it copies it into the out ring: one pass over the
 * data instead of a pass to sum and another to copy. Frames lwIP sends to itself never reach link_output, so
 * their checksums are not verified either (nc_poll_loop), as on Linux loopback. A TCP segment is never
 * fragmented while the MTU stays the same or grows; when it shrinks, segments queued for the old MTU could be,
 * and a fragment cannot be summed alone: lwIP then generates TCP checksums itself for the rest of the stack's
 * life (nc_set_link). */
static int tcp_offload = 1;
/* 0: the link carries this stack's frames only to another stack in this process that does not verify them
 * (nc_link_checksums): TCP checksums are left out, as Linux leaves them out on loopback and veth. */
static int link_sums = 1;
EXPORT void nc_link_checksums(int on) { link_sums = on; }
#define NC_CSUM_CHECK (NETIF_CHECKSUM_CHECK_IP | NETIF_CHECKSUM_CHECK_UDP | NETIF_CHECKSUM_CHECK_TCP | \
                       NETIF_CHECKSUM_CHECK_ICMP | NETIF_CHECKSUM_CHECK_ICMP6)
static void set_checksums(struct netif *n, int check) {
  u16_t gen = NETIF_CHECKSUM_GEN_IP | NETIF_CHECKSUM_GEN_UDP | NETIF_CHECKSUM_GEN_ICMP | NETIF_CHECKSUM_GEN_ICMP6 |
              (tcp_offload ? 0 : NETIF_CHECKSUM_GEN_TCP);
  NETIF_SET_CHECKSUM_CTRL(n, gen | (check ? NC_CSUM_CHECK : 0));
}

static uint32_t load16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

/* Where the TCP header of frame f starts (0: not an unfragmented TCP segment over IPv4 or IPv6, or not all of
 * it within `total` bytes), its length, and the sum of its pseudo-header in the byte order of nc_chksum's
 * sums. The headers must be within the first `hdrs` bytes. */
static uint32_t frame_tcp(const uint8_t *f, uint32_t hdrs, uint32_t total, uint32_t *pseudo, uint32_t *tcplen) {
  if (hdrs < 54) return 0;
  uint32_t s = 0, l4, n;
  if (f[12] == 0x08 && f[13] == 0x00) {
    uint32_t ihl = (uint32_t)(f[14] & 15) * 4;
    if (f[23] != IP_PROTO_TCP || (f[20] & 0x3f) != 0 || f[21] != 0 || ihl < 20 || 14 + ihl + 20 > hdrs) return 0;
    l4 = 14 + ihl;
    n = (((uint32_t)f[16] << 8) | f[17]) - ihl;
    for (int i = 26; i < 34; i += 2) s += load16(f + i);
  } else if (f[12] == 0x86 && f[13] == 0xdd) {
    if (f[20] != IP_PROTO_TCP) return 0;
    l4 = 54;
    n = ((uint32_t)f[18] << 8) | f[19];
    for (int i = 22; i < 54; i += 2) s += load16(f + i);
  } else {
    return 0;
  }
  if (n < 20 || n > 0xffff || l4 + n > total) return 0;
  const uint8_t tail[4] = {0, IP_PROTO_TCP, (uint8_t)(n >> 8), (uint8_t)n};
  *pseudo = s + load16(tail) + load16(tail + 2);
  *tcplen = n;
  return l4;
}

/* frame_tcp for frame p, whose headers lwIP builds in its first pbuf. */
static uint32_t tcp_offset(const struct pbuf *p, uint32_t *pseudo) {
  uint32_t tcplen;
  return frame_tcp(p->payload, p->len, p->tot_len, pseudo, &tcplen);
}

/* Copies frame p (len bytes) to d, summing its TCP segment from offset l4 on and storing the checksum. */
static void copy_summing_tcp(uint8_t *d, const struct pbuf *p, uint32_t len, uint32_t l4, uint32_t pseudo) {
  uint64_t acc = pseudo;
  uint32_t off = 0;
  for (const struct pbuf *q = p; q != NULL && off < len; q = q->next) {
    const uint8_t *s = q->payload;
    uint32_t n = q->len < len - off ? q->len : len - off;
    if (off < l4) {
      uint32_t h = l4 - off < n ? l4 - off : n;
      memcpy(d + off, s, h);
      off += h;
      s += h;
      n -= h;
    }
    if (n > 0) {
      uint32_t part = nc_chksum_copy(d + off, s, (uint16_t)n);
      /* A piece starting at an odd offset into the segment has its bytes swapped within the 16-bit words. */
      acc += ((off - l4) & 1) ? ((part >> 8) | ((part & 0xff) << 8)) : part;
      off += n;
    }
  }
  uint16_t sum = (uint16_t)~fold16(acc);
  memcpy(d + l4 + 16, &sum, 2);
}

static err_t link_output(struct netif *netif, struct pbuf *p) {
  LWIP_UNUSED_ARG(netif);
  uint32_t len = p->tot_len;
  uint32_t need = 4 + ((len + 3) & ~3u);
  if (need > OUT_CAP) {
    drop_out_full++;
    return ERR_MEM;
  }
  if (ctl.out_used + need > OUT_CAP) {
    js_out_full(); /* JS drains the ring and sets out_used = out_count = 0 */
    if (ctl.out_used + need > OUT_CAP) {
      drop_out_full++;
      return ERR_MEM;
    }
  }
  uint8_t *d = out_buf + ctl.out_used;
  memcpy(d, &len, 4);
  uint32_t pseudo;
  uint32_t l4 = tcp_offload && link_sums ? tcp_offset(p, &pseudo) : 0;
  if (l4 != 0) copy_summing_tcp(d + 4, p, len, l4, pseudo);
  else if (p->next == NULL) memcpy(d + 4, p->payload, len);
  else pbuf_copy_partial(p, d + 4, (u16_t)len, 0);
  ctl.out_used += need;
  ctl.out_count++;
  frames_out++;
  uint32_t lo = bytes_out_lo + len;
  if (lo < bytes_out_lo) bytes_out_hi++;
  bytes_out_lo = lo;
  return ERR_OK;
}

static err_t nif_init(struct netif *netif) {
  netif->name[0] = 'z';
  netif->name[1] = netif == &nif ? 't' : (char)('1' + (netif - nif4));
  netif->output = etharp_output;
  netif->output_ip6 = ethip6_output;
  netif->linkoutput = link_output;
  netif->mtu = (u16_t)mtu_cfg;
  netif->hwaddr_len = 6;
  netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
  set_checksums(netif, 1);
  return ERR_OK;
}

EXPORT struct nc_ctl *nc_ctl(void) { return &ctl; }
EXPORT uint8_t *nc_in_buf(void) { return in_buf; }
EXPORT uint8_t *nc_out_buf(void) { return out_buf; }
EXPORT uint32_t nc_in_cap(void) { return IN_CAP; }
EXPORT uint8_t *nc_rx_buf(void) { return rx_buf; }
EXPORT struct nc_rx_rec *nc_rx_recs(void) { return rx_recs; }

static void rx_append(int id, const uint8_t *data, uint32_t len) {
  while (len > 0) {
    if (ctl.rx_used >= RX_CAP || ctl.rx_count >= RX_RECS) js_rx_flush();
    uint32_t n = RX_CAP - ctl.rx_used;
    if (n > len) n = len;
    memcpy(rx_buf + ctl.rx_used, data, n);
    struct nc_rx_rec *last = ctl.rx_count ? &rx_recs[ctl.rx_count - 1] : NULL;
    if (last && last->id == id && last->off + last->len == ctl.rx_used) {
      last->len += n;
    } else {
      struct nc_rx_rec *r = &rx_recs[ctl.rx_count++];
      r->id = id;
      r->off = ctl.rx_used;
      r->len = n;
    }
    ctl.rx_used += n;
    data += n;
    len -= n;
  }
}

EXPORT int nc_init(int mtu, uint32_t seed) {
  in_cur = in_block_new();
  in_spare = in_block_new();
  in_buf = ctl.in_buf = in_cur ? in_cur->data : NULL;
  out_buf = malloc(OUT_CAP);
  udp_tmp = malloc(65536);
  rx_buf = malloc(RX_CAP);
  rx_recs = malloc(RX_RECS * sizeof(struct nc_rx_rec));
  if (!in_buf || !out_buf || !udp_tmp || !rx_buf || !rx_recs) return -1;
  rand_state = seed ? seed : 0x9e3779b9u;
  mtu_cfg = mtu;
  lwip_init();
  wbuf_ext_id = tcp_ext_arg_alloc_id();
  ip4_addr_t any;
  ip4_addr_set_zero(&any);
  if (netif_add(&nif, &any, &any, &any, NULL, nif_init, ethernet_input) == NULL) return -2;
  for (int i = 0; i < NC_IP4_MAX - 1; i++)
    if (netif_add(&nif4[i], &any, &any, &any, NULL, nif_init, ethernet_input) == NULL) return -2;
  for (int i = 0; i < NC_IP4_MAX; i++) ip4_onlink[i].family = 0;
  netif_set_default(NULL);
  return 0;
}

/* MAC (in scratch a.addr[0..5]) and MTU; brings the interface up and (re)makes the link-local address. */
EXPORT void nc_set_link(int mtu) {
  if (tcp_offload && mtu < nif.mtu) {
    tcp_offload = 0; /* segments queued for the larger MTU may be fragmented: lwIP sums them itself */
    set_checksums(&nif, 1);
    for (int i = 0; i < NC_IP4_MAX - 1; i++) set_checksums(&nif4[i], 1);
  }
  memcpy(nif.hwaddr, ctl.a.addr, 6);
  mtu_cfg = mtu;
  nif.mtu = (u16_t)mtu;
  for (int i = 0; i < NC_IP4_MAX - 1; i++) {
    memcpy(nif4[i].hwaddr, ctl.a.addr, 6);
    nif4[i].mtu = (u16_t)mtu;
  }
  netif_set_up(&nif);
  netif_set_link_up(&nif);
  netif_create_ip6_linklocal_address(&nif, 1);
  netif_ip6_addr_set_state(&nif, 0, IP6_ADDR_PREFERRED);
}

/* IPv4 address number idx (0 = primary) in a (prefix in a.prefix); family 0 clears the slot. */
EXPORT int nc_set_ip4(int idx) {
  if (idx < 0 || idx >= NC_IP4_MAX) return -1;
  struct netif *n = idx == 0 ? &nif : &nif4[idx - 1];
  struct nc_route *r = &ip4_onlink[idx];
  ip4_addr_t addr, mask, gw;
  ip4_addr_set_zero(&gw);
  r->family = 0;
  if (ctl.a.family == 4) {
    memcpy(&addr.addr, ctl.a.addr, 4);
    uint8_t prefix = ctl.a.prefix > 32 ? 32 : ctl.a.prefix;
    mask.addr = prefix == 0 ? 0 : lwip_htonl(0xffffffffu << (32 - prefix));
    r->family = 4;
    r->prefix = prefix;
    r->has_via = 0;
    r->netif = n;
    ip_addr_set_ip4_u32_val(r->target, addr.addr & mask.addr);
    if (idx > 0) mask.addr = 0xffffffffu;
    netif_set_addr(n, &addr, &mask, &gw);
    if (idx > 0) {
      netif_set_link_up(n);
      netif_set_up(n);
    }
  } else {
    ip4_addr_set_zero(&addr);
    ip4_addr_set_zero(&mask);
    if (idx > 0) netif_set_down(n);
    netif_set_addr(n, &addr, &mask, &gw);
  }
  return 0;
}

/* Removes all assigned IPv6 addresses except the link-local one (slot 0). */
EXPORT void nc_clear_ip6(void) {
  for (int i = 1; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
    if (!ip6_addr_isinvalid(netif_ip6_addr_state(&nif, i))) netif_ip6_addr_set_state(&nif, i, IP6_ADDR_INVALID);
  }
  n_ip6_onlink = 0;
}

/* Adds the IPv6 address in a (prefix in a.prefix). Returns 0 or -1 when full. */
EXPORT int nc_add_ip6(void) {
  ip_addr_t a;
  if (!addr_from(&ctl.a, &a) || !IP_IS_V6(&a)) return -1;
  s8_t idx = -1;
  for (int i = 1; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
    if (ip6_addr_isinvalid(netif_ip6_addr_state(&nif, i))) {
      idx = (s8_t)i;
      break;
    }
  }
  if (idx < 0) return -1;
  netif_ip6_addr_set(&nif, idx, ip_2_ip6(&a));
  netif_ip6_addr_set_state(&nif, idx, IP6_ADDR_PREFERRED);
  if (n_ip6_onlink < LWIP_IPV6_NUM_ADDRESSES) {
    struct nc_route *r = &ip6_onlink[n_ip6_onlink++];
    r->family = 6;
    r->prefix = ctl.a.prefix;
    r->has_via = 0;
    ip_addr_copy(r->target, a);
  }
  return 0;
}

EXPORT void nc_clear_routes(void) { n_routes = 0; }

/* Route: target in a (prefix in a.prefix), gateway in b (family 0 = on-link). */
EXPORT int nc_add_route(void) {
  if (n_routes >= MAX_ROUTES) return -1;
  struct nc_route *r = &routes[n_routes];
  if (!addr_from(&ctl.a, &r->target)) return -1;
  r->family = ctl.a.family;
  r->prefix = ctl.a.prefix;
  r->has_via = addr_from(&ctl.b, &r->via) ? 1 : 0;
  n_routes++;
  return 0;
}

/* ---- frames in ----
 * Receive coalescing (as Linux's GRO): consecutive frames of a batch that continue one TCP stream (same
 * addresses, ports, ACK and window, no options, no flags but ACK and PSH, each starting where the previous one
 * ended, the first one where its connection expects it) go to lwIP as one segment of up to 64 KiB: a chain of
 * their payloads behind the first one's headers. lwIP then does its per-segment work (parsing, lookup, window
 * and ACK bookkeeping, delivery) once per run instead of once per frame. Checksums are verified frame by frame before merging (unless the link is
 * trusted), and the merged segment skips lwIP's own check (as a NIC's verified checksum does on Linux). */
struct gro {
  struct pbuf *head;  /* the first frame, whole (NULL: nothing pending) */
  uint32_t l4;        /* its TCP header's offset */
  uint32_t next_seq;  /* where the next frame must start */
  uint32_t data;      /* payload bytes merged */
  uint32_t frames;
  uint8_t psh;
};
static struct gro gro;
/* Set while a merged segment is in lwIP: it stands for several, so its data is acknowledged at once (on_recv),
 * as every second full-sized segment is; lwIP alone would delay the ACK for what it takes as one segment. */
static int gro_in_lwip;
static uint32_t gro_frames_merged; /* frames that went to lwIP merged with others */

/* The TCP header offset when frame f (len bytes) can be merged (see above), else 0. */
static uint32_t gro_candidate(const uint8_t *f, uint32_t len, int trusted) {
  uint32_t pseudo, tcplen;
  uint32_t l4 = frame_tcp(f, len, len, &pseudo, &tcplen);
  if (l4 == 0 || l4 + tcplen != len || tcplen <= 20) return 0; /* not TCP, padded, or no data */
  if (l4 == 34 && f[14] != 0x45) return 0;                     /* IPv4 options */
  if (f[l4 + 12] != 0x50 || (f[l4 + 13] & ~0x08) != 0x10) return 0;
  if (!trusted) {
    if (l4 == 34 && nc_chksum(f + 14, 20) != 0xffff) return 0;
    if (fold16((uint64_t)pseudo + nc_chksum(f + l4, (int)tcplen)) != 0xffff) return 0;
  }
  return l4;
}

static uint32_t load32be(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Does frame f (a candidate at l4, len bytes) continue the pending segment? */
static int gro_continues(const uint8_t *f, uint32_t len, uint32_t l4) {
  const uint8_t *h = gro.head->payload;
  if (l4 != gro.l4 || load32be(f + l4 + 4) != gro.next_seq) return 0;
  if (gro.head->tot_len + (len - l4 - 20) > 0xffff) return 0;
  if (l4 == 34 ? memcmp(f + 26, h + 26, 12) != 0 : memcmp(f + 22, h + 22, 36) != 0) return 0; /* addresses, ports */
  return memcmp(f + l4 + 8, h + l4 + 8, 4) == 0 && memcmp(f + l4 + 14, h + l4 + 14, 2) == 0; /* ACK, window */
}

/* Does the segment in frame f (TCP at l4) start at what its connection expects next, with no hole being
 * repaired? Only then is a run merged: while segments arrive out of order, each must get its own duplicate
 * ACK (the sender's fast retransmit counts them). */
static int gro_in_order(const uint8_t *f, uint32_t l4) {
  uint16_t sport = (uint16_t)((f[l4] << 8) | f[l4 + 1]);
  uint16_t dport = (uint16_t)((f[l4 + 2] << 8) | f[l4 + 3]);
  for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next) {
    if (pcb->local_port != dport || pcb->remote_port != sport) continue;
    if (l4 == 34) {
      if (!IP_IS_V4_VAL(pcb->remote_ip) || memcmp(&ip_2_ip4(&pcb->remote_ip)->addr, f + 26, 4) != 0 ||
          memcmp(&ip_2_ip4(&pcb->local_ip)->addr, f + 30, 4) != 0)
        continue;
    } else if (!IP_IS_V6_VAL(pcb->remote_ip) || memcmp(ip_2_ip6(&pcb->remote_ip)->addr, f + 22, 16) != 0 ||
               memcmp(ip_2_ip6(&pcb->local_ip)->addr, f + 38, 16) != 0) {
      continue;
    }
    return pcb->ooseq == NULL && load32be(f + l4 + 4) == pcb->rcv_nxt;
  }
  return 0;
}

static void gro_flush(int trusted) {
  struct pbuf *p = gro.head;
  if (p == NULL) return;
  gro.head = NULL;
  int merged = gro.frames > 1;
  if (merged) {
    uint8_t *h = p->payload;
    uint32_t l4 = gro.l4;
    uint32_t n = l4 - 14 + 20 + gro.data; /* IPv4: total length */
    if (l4 == 34) {
      h[16] = (uint8_t)(n >> 8);
      h[17] = (uint8_t)n;
      h[24] = h[25] = 0;
      uint16_t c = (uint16_t)~nc_chksum(h + 14, 20);
      memcpy(h + 24, &c, 2);
    } else {
      n = 20 + gro.data; /* IPv6: payload length */
      h[18] = (uint8_t)(n >> 8);
      h[19] = (uint8_t)n;
    }
    h[l4 + 13] |= gro.psh;
    if (!trusted) set_checksums(&nif, 0); /* verified frame by frame */
  }
  gro_in_lwip = merged;
  if (merged) gro_frames_merged += gro.frames;
  if (nif.input(p, &nif) != ERR_OK) pbuf_free(p);
  gro_in_lwip = 0;
  if (merged && !trusted) set_checksums(&nif, 1);
}

/* Takes frame f if it starts or continues a run to merge; 0: not taken (gro_flush first, then process it). */
static int gro_take(const uint8_t *f, uint32_t len, int trusted) {
  uint32_t l4 = gro_candidate(f, len, trusted);
  if (l4 == 0) return 0;
  if (gro.head != NULL && !gro_continues(f, len, l4)) gro_flush(trusted);
  if (gro.head == NULL && !gro_in_order(f, l4)) return 0;
  struct pbuf *p = in_frame_pbuf(f, len);
  if (p == NULL) {
    drop_oom++;
    return 1;
  }
  uint32_t data = len - l4 - 20;
  if (gro.head == NULL) {
    gro.head = p;
    gro.l4 = l4;
    gro.data = data;
    gro.frames = 1;
    gro.psh = 0;
  } else {
    pbuf_remove_header(p, l4 + 20);
    pbuf_cat(gro.head, p);
    gro.data += data;
    gro.frames++;
  }
  gro.psh |= f[l4 + 13] & 0x08;
  gro.next_seq = load32be(f + l4 + 4) + data;
  return 1;
}

static int for_us(const uint8_t *dst) {
  if (dst[0] & 1) return 1; /* broadcast and multicast */
  return memcmp(dst, nif.hwaddr, 6) == 0;
}

/* trusted: the frames come from an in-process link that cannot corrupt them (another stack's output):
 * checksums are not verified, as on Linux loopback. Checksums are always generated. */
EXPORT void nc_input(int count, int trusted) {
  uint8_t *s = in_buf;
  deferring = 1; /* until nc_flush_output */
  if (trusted) set_checksums(&nif, 0);
  const uint8_t *end = in_buf + IN_CAP;
  for (int i = 0; i < count; i++) {
    uint32_t len;
    if (s + 4 > end) break;
    memcpy(&len, s, 4);
    const uint8_t *f = s + 4;
    if (len > (uint32_t)(end - f)) {
      drop_oversized++;
      break; /* a malformed batch: the rest cannot be trusted */
    }
    s += 4 + ((len + 3) & ~3u);
    if (len < 14) {
      drop_truncated++;
      continue;
    }
    if (len > (uint32_t)mtu_cfg + 14) {
      drop_oversized++;
      continue;
    }
    frames_in++;
    uint32_t lo = bytes_in_lo + len;
    if (lo < bytes_in_lo) bytes_in_hi++;
    bytes_in_lo = lo;
    if (!for_us(f)) {
      drop_not_for_us++;
      continue;
    }
    if (gro_take(f, len, trusted)) continue;
    gro_flush(trusted);
    struct pbuf *p = in_frame_pbuf(f, len);
    if (p == NULL) {
      drop_oom++;
      continue;
    }
    struct netif *to = &nif;
    if (len >= 42 && f[12] == 0x08 && f[13] == 0x06) {
      /* ARP: to the netif that holds the target address (a reply to a secondary's request, too). */
      ip4_addr_t tpa;
      memcpy(&tpa.addr, f + 38, 4);
      struct netif *own = ip4_netif_of(&tpa);
      if (own) to = own;
    }
    if (to->input(p, to) != ERR_OK) pbuf_free(p);
  }
  gro_flush(trusted);
  in_batch_done();
  if (trusted) set_checksums(&nif, 1);
}

/* ---- timers and the loopback queue ---- */
/* TIME_WAIT connections kept at most (newest first; older ones are freed silently, as Linux does past
 * tcp_max_tw_buckets). lwIP keeps them on a list that every segment not matching an active connection
 * walks (each SYN, for one), for 2 × MSL: without a bound a server closing 3,000 connections a second
 * would walk hundreds of thousands of them per SYN. */
#define NC_MAX_TIME_WAIT 256
static void trim_time_wait(void) {
  int n = 0;
  for (struct tcp_pcb *pcb = tcp_tw_pcbs; pcb != NULL; pcb = pcb->next) {
    if (++n < NC_MAX_TIME_WAIT) continue;
    while (pcb->next != NULL) tcp_abort(pcb->next); /* TIME_WAIT: unlinked and freed, no RST */
    break;
  }
}

EXPORT uint32_t nc_timers(void) {
  sys_check_timeouts();
  trim_time_wait();
  return sys_timeouts_sleeptime();
}

EXPORT uint32_t nc_sleeptime(void) { return sys_timeouts_sleeptime(); }

/* Delivers packets the stack sent to itself; returns 1 when more are queued (call again later). */
EXPORT int nc_poll_loop(void) {
  for (int round = 0; round < 16; round++) {
    int pending = 0;
    struct netif *n;
    NETIF_FOREACH(n) {
      if (n->loop_first != NULL) {
        pending = 1;
        u16_t flags = n->chksum_flags; /* what a netif sends itself is not verified (see tcp_offload) */
        NETIF_SET_CHECKSUM_CTRL(n, flags & ~NC_CSUM_CHECK);
        netif_poll(n);
        NETIF_SET_CHECKSUM_CTRL(n, flags);
      }
    }
    if (!pending) return 0;
  }
  struct netif *n;
  NETIF_FOREACH(n) {
    if (n->loop_first != NULL) return 1;
  }
  return 0;
}

/* ---- TCP ---- */
static struct tcp_pcb *cb_pcb; /* the pcb whose callback is running */
static int cb_aborted;         /* JS aborted cb_pcb inside its callback */

static int id_of(void *arg) { return (int)(intptr_t)arg; }

static void detach(struct tcp_pcb *pcb) {
  tcp_arg(pcb, NULL);
  if (pcb->state != LISTEN) {
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    tcp_poll(pcb, NULL, 0);
  } else {
    tcp_accept(pcb, NULL);
  }
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  int id = id_of(arg);
  LWIP_UNUSED_ARG(err);
  if (id == 0) {
    if (p) {
      tcp_recved(pcb, p->tot_len);
      pbuf_free(p);
    }
    return ERR_OK;
  }
  struct tcp_pcb *prev = cb_pcb;
  int prev_aborted = cb_aborted;
  cb_pcb = pcb;
  cb_aborted = 0;
  if (p == NULL) {
    /* FIN. When our side has already sent its FIN, lwIP owns the pcb from now on (TIME_WAIT):
       detach it and tell JS the connection is over. */
    int done = pcb->state == TIME_WAIT || pcb->state == CLOSING;
    if (done) detach(pcb);
    js_tcp_recv(id, NULL, 0);
    if (done && !cb_aborted) js_tcp_err(id, ERR_CLSD);
  } else {
    if (gro_in_lwip) tcp_ack_now(pcb);
    for (struct pbuf *q = p; q != NULL; q = q->next) rx_append(id, q->payload, q->len);
    pbuf_free(p);
  }
  int aborted = cb_aborted;
  cb_pcb = prev;
  cb_aborted = prev_aborted;
  return aborted ? ERR_ABRT : ERR_OK;
}

/* ---- TCP send buffers ----
 * Bulk writes are not copied by lwIP: nc_tcp_wbuf gives JS room in a chunk of the connection's send buffer,
 * JS writes the bytes there, and nc_tcp_write queues them as PBUF_ROM references (link_output sums them when
 * it copies each segment out, see tcp_offload). A chunk lives until no queued segment holds its
 * bytes: every segment lwIP keeps (unsent or unacknowledged) starts at or after the chunk's last sequence
 * number. Chunks are checked when an ACK frees send buffer and before each write, and freed with the pcb
 * (an ext-arg destroy callback: lwIP may keep a closed connection's data queued for a while).
 * Small writes are copied by lwIP as before (a chunk per small write would pin 64 KiB for a few bytes). */
#define WCHUNK_SIZE (64 * 1024)
#define WCHUNK_MIN 2048
#define WCHUNK_CACHE 16 /* free chunks kept for reuse (1 MiB) */
struct wchunk {
  struct wchunk *next;
  uint32_t end_seq; /* sequence number after its last byte queued so far */
  uint32_t used;
  uint8_t data[WCHUNK_SIZE];
};
struct wbuf {
  struct wchunk *head, *tail; /* oldest first */
  const uint8_t *pending;     /* the room nc_tcp_wbuf handed out (the next nc_tcp_write from it is ROM) */
  int js_wants_sent;          /* JS waits for room (nc_tcp_want_sent) */
};
static struct wchunk *wchunk_free;
static int wchunk_free_n;
static uint32_t wchunks_held; /* chunks held by connections (not on the free list) */

static void wchunk_release(struct wchunk *c) {
  wchunks_held--;
  if (wchunk_free_n < WCHUNK_CACHE) {
    c->next = wchunk_free;
    wchunk_free = c;
    wchunk_free_n++;
  } else {
    free(c);
  }
}

static void wbuf_destroy(u8_t id, void *data) {
  LWIP_UNUSED_ARG(id);
  struct wbuf *w = data;
  if (w == NULL) return;
  while (w->head != NULL) {
    struct wchunk *c = w->head;
    w->head = c->next;
    wchunk_release(c);
  }
  free(w);
}
static const struct tcp_ext_arg_callbacks wbuf_callbacks = {wbuf_destroy, NULL};

static struct wbuf *wbuf_of(struct tcp_pcb *pcb) { return tcp_ext_arg_get(pcb, wbuf_ext_id); }

/* Frees the chunks no queued segment refers to any more. */
static void wbuf_reclaim(struct tcp_pcb *pcb, struct wbuf *w) {
  uint32_t low = pcb->snd_lbb;
  if (pcb->unacked != NULL && TCP_SEQ_LT(lwip_ntohl(pcb->unacked->tcphdr->seqno), low))
    low = lwip_ntohl(pcb->unacked->tcphdr->seqno);
  if (pcb->unsent != NULL && TCP_SEQ_LT(lwip_ntohl(pcb->unsent->tcphdr->seqno), low))
    low = lwip_ntohl(pcb->unsent->tcphdr->seqno);
  while (w->head != NULL && TCP_SEQ_LEQ(w->head->end_seq, low) && w->head->data + w->head->used != w->pending) {
    struct wchunk *c = w->head;
    w->head = c->next;
    if (w->tail == c) w->tail = NULL;
    wchunk_release(c);
  }
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len) {
  struct wbuf *w = wbuf_of(pcb);
  if (w != NULL) {
    wbuf_reclaim(pcb, w);
    if (!w->js_wants_sent) return ERR_OK;
  }
  int id = id_of(arg);
  if (id == 0) return ERR_OK;
  struct tcp_pcb *prev = cb_pcb;
  int prev_aborted = cb_aborted;
  cb_pcb = pcb;
  cb_aborted = 0;
  js_tcp_sent(id, len);
  int aborted = cb_aborted;
  cb_pcb = prev;
  cb_aborted = prev_aborted;
  return aborted ? ERR_ABRT : ERR_OK;
}

static void on_err(void *arg, err_t err) {
  int id = id_of(arg);
  if (id != 0) js_tcp_err(id, err);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err) {
  int id = id_of(arg);
  LWIP_UNUSED_ARG(err);
  if (id == 0) return ERR_OK;
  struct tcp_pcb *prev = cb_pcb;
  int prev_aborted = cb_aborted;
  cb_pcb = pcb;
  cb_aborted = 0;
  js_tcp_connected(id);
  int aborted = cb_aborted;
  cb_pcb = prev;
  cb_aborted = prev_aborted;
  return aborted ? ERR_ABRT : ERR_OK;
}

/* RTO tuning. lwIP starts the RTT variance at 3 s, and with its integer update the variance never decays
 * below 3 timer ticks: every timeout would cost at least 3 ticks plus the tick phase even on a sub-millisecond
 * link. Starting it at two ticks (an RTO of 200–400 ms with 100 ms ticks) lets the estimator converge from below (the mean adapts within a few RTTs on
 * slower paths). The first SYN's timeout is 1 s (RFC 6298) instead of lwIP's 3 s. */
static void tune_rto(struct tcp_pcb *pcb, int initial) {
  pcb->sv = 2;
  if (initial) pcb->rto = 1000 / TCP_SLOW_INTERVAL;
}

/* The sent callback (ACKs that free send buffer) is installed only while JS waits for room: a bulk
 * receiver's ACK stream then costs no call into JS per ACK. */
static void attach(struct tcp_pcb *pcb, int id) {
  tcp_arg(pcb, (void *)(intptr_t)id);
  tcp_recv(pcb, on_recv);
  tcp_sent(pcb, NULL);
  tcp_err(pcb, on_err);
}

EXPORT void nc_tcp_want_sent(struct tcp_pcb *pcb, int on) {
  if (pcb->state == LISTEN || pcb->callback_arg == NULL) return;
  struct wbuf *w = wbuf_of(pcb);
  if (w != NULL) w->js_wants_sent = on; /* its chunks keep on_sent installed */
  else tcp_sent(pcb, on ? on_sent : NULL);
}

static err_t on_accept(void *arg, struct tcp_pcb *newpcb, err_t err) {
  int lid = id_of(arg);
  if (err != ERR_OK || newpcb == NULL) return ERR_VAL;
  if (lid == 0) {
    tcp_abort(newpcb);
    return ERR_ABRT;
  }
  tcp_arg(newpcb, NULL);
  struct tcp_pcb *prev = cb_pcb;
  int prev_aborted = cb_aborted;
  cb_pcb = newpcb;
  cb_aborted = 0;
  int id = js_tcp_accept(lid, newpcb);
  int aborted = cb_aborted;
  cb_pcb = prev;
  cb_aborted = prev_aborted;
  if (aborted) return ERR_ABRT;
  if (id == 0) {
    tcp_abort(newpcb);
    return ERR_ABRT;
  }
  attach(newpcb, id);
  tune_rto(newpcb, 0);
  return ERR_OK;
}

/* family: 4, 6, or 46 (dual stack: an IPv6 socket bound to :: that also serves IPv4). */
static u8_t ip_type(int family) { return family == 4 ? IPADDR_TYPE_V4 : family == 6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY; }

EXPORT struct tcp_pcb *nc_tcp_new(int id, int family) {
  struct tcp_pcb *pcb = tcp_new_ip_type(ip_type(family));
  if (pcb == NULL) return NULL;
  attach(pcb, id);
  tune_rto(pcb, 1);
  return pcb;
}

/* Local address in a (family 0 = any of the pcb's type). */
EXPORT int nc_tcp_bind(struct tcp_pcb *pcb, int reuse) {
  ip_addr_t a;
  if (reuse) ip_set_option(pcb, SOF_REUSEADDR);
  if (!addr_from(&ctl.a, &a)) {
    if (IP_IS_ANY_TYPE_VAL(pcb->local_ip)) ip_addr_copy(a, *IP_ANY_TYPE);
    else if (IP_IS_V6_VAL(pcb->local_ip)) ip_addr_copy(a, *IP6_ADDR_ANY);
    else ip_addr_copy(a, *IP4_ADDR_ANY);
  }
  return tcp_bind(pcb, &a, ctl.a.port);
}

/* Returns the listening pcb (the old one is freed) or NULL. */
EXPORT struct tcp_pcb *nc_tcp_listen(struct tcp_pcb *pcb, int id, int backlog) {
  err_t err;
  struct tcp_pcb *lpcb = tcp_listen_with_backlog_and_err(pcb, (u8_t)(backlog < 1 ? 1 : backlog > 255 ? 255 : backlog), &err);
  if (lpcb == NULL) return NULL;
  tcp_arg(lpcb, (void *)(intptr_t)id);
  tcp_accept(lpcb, on_accept);
  return lpcb;
}

EXPORT void nc_tcp_backlog_delayed(struct tcp_pcb *pcb) { tcp_backlog_delayed(pcb); }
EXPORT void nc_tcp_backlog_accepted(struct tcp_pcb *pcb) { tcp_backlog_accepted(pcb); }

/* Remote address in a. */
EXPORT int nc_tcp_connect(struct tcp_pcb *pcb) {
  ip_addr_t a;
  if (!addr_from(&ctl.a, &a)) return ERR_VAL;
  return tcp_connect(pcb, &a, ctl.a.port, on_connected);
}

/* Local address → a, remote → b. */
EXPORT void nc_tcp_addrs(struct tcp_pcb *pcb) {
  addr_to(&ctl.a, &pcb->local_ip, pcb->local_port);
  if (pcb->state == LISTEN) memset(&ctl.b, 0, sizeof(ctl.b));
  else addr_to(&ctl.b, &pcb->remote_ip, pcb->remote_port);
}

EXPORT int nc_tcp_state(struct tcp_pcb *pcb) { return pcb->state; }

static int can_write(struct tcp_pcb *pcb) {
  return pcb->state == ESTABLISHED || pcb->state == CLOSE_WAIT || pcb->state == SYN_SENT || pcb->state == SYN_RCVD;
}

EXPORT uint32_t nc_tcp_writable(struct tcp_pcb *pcb) {
  if (!can_write(pcb)) return 0;
  if (pcb->snd_queuelen >= TCP_SND_QUEUELEN - 4) return 0;
  return tcp_sndbuf(pcb);
}

/* Room for a write of up to n bytes in the connection's send buffer: returns where to put them and sets
 * ctl.wlen to how many fit there (at most n), or returns NULL: copy them to a staging area instead (a small
 * write, or no memory). */
EXPORT uint8_t *nc_tcp_wbuf(struct tcp_pcb *pcb, uint32_t n) {
  if (n < WCHUNK_MIN || !can_write(pcb)) return NULL;
  struct wbuf *w = wbuf_of(pcb);
  if (w == NULL) {
    w = calloc(1, sizeof(*w));
    if (w == NULL) return NULL;
    tcp_ext_arg_set(pcb, wbuf_ext_id, w);
    tcp_ext_arg_set_callbacks(pcb, wbuf_ext_id, &wbuf_callbacks);
    w->js_wants_sent = pcb->sent != NULL;
    tcp_sent(pcb, on_sent);
  }
  w->pending = NULL;
  wbuf_reclaim(pcb, w);
  struct wchunk *t = w->tail;
  if (t == NULL || WCHUNK_SIZE - t->used < WCHUNK_MIN) {
    if (wchunk_free != NULL) {
      t = wchunk_free;
      wchunk_free = t->next;
      wchunk_free_n--;
    } else {
      t = malloc(sizeof(*t));
      if (t == NULL) return NULL;
    }
    wchunks_held++;
    t->next = NULL;
    t->used = 0;
    t->end_seq = pcb->snd_lbb;
    if (w->tail != NULL) w->tail->next = t;
    else w->head = t;
    w->tail = t;
  }
  uint32_t room = WCHUNK_SIZE - t->used;
  ctl.wlen = n < room ? n : room;
  w->pending = t->data + t->used;
  return t->data + t->used;
}

/* Queues up to len bytes from ptr (room from nc_tcp_wbuf, referenced; anywhere else, copied); returns how
 * many were taken. */
EXPORT int nc_tcp_write(struct tcp_pcb *pcb, const uint8_t *ptr, int len, int more) {
  if (!can_write(pcb)) return -1;
  struct wbuf *w = wbuf_of(pcb);
  struct wchunk *rom = w != NULL && ptr == w->pending ? w->tail : NULL;
  if (w != NULL) w->pending = NULL;
  if (rom != NULL && (uint32_t)len > WCHUNK_SIZE - rom->used) return -1;
  int taken = 0;
  while (taken < len) {
    uint32_t room = tcp_sndbuf(pcb);
    if (room == 0 || pcb->snd_queuelen >= TCP_SND_QUEUELEN - 4) break;
    uint32_t n = (uint32_t)(len - taken);
    if (n > room) n = room;
    if (n > 0xfff0) n = 0xfff0;
    u8_t flags = rom != NULL ? 0 : TCP_WRITE_FLAG_COPY;
    if (more || taken + (int)n < len) flags |= TCP_WRITE_FLAG_MORE;
    if (tcp_write(pcb, ptr + taken, (u16_t)n, flags) != ERR_OK) break;
    taken += (int)n;
  }
  if (rom != NULL) {
    rom->used += (uint32_t)taken;
    rom->end_seq = pcb->snd_lbb;
  }
  if (taken > 0) tcp_output(pcb);
  return taken;
}

EXPORT void nc_tcp_output(struct tcp_pcb *pcb) { tcp_output(pcb); }

EXPORT void nc_tcp_recved(struct tcp_pcb *pcb, uint32_t n) {
  while (n > 0) {
    u16_t k = n > 0xffff ? 0xffff : (u16_t)n;
    tcp_recved(pcb, k);
    n -= k;
  }
}

EXPORT int nc_tcp_shutdown(struct tcp_pcb *pcb) { return tcp_shutdown(pcb, 0, 1); }

/* Orderly close: lwIP owns the pcb afterwards; data still unread is acknowledged so no RST goes out. */
EXPORT void nc_tcp_close(struct tcp_pcb *pcb) {
  if (pcb->state != LISTEN && pcb->state != CLOSED && pcb->state != SYN_SENT) {
    tcpwnd_size_t max = TCP_WND_MAX(pcb);
    if (pcb->rcv_wnd < max) nc_tcp_recved(pcb, max - pcb->rcv_wnd);
  }
  detach(pcb);
  if (tcp_close(pcb) != ERR_OK) {
    tcp_abort(pcb);
    if (pcb == cb_pcb) cb_aborted = 1;
  }
}

EXPORT void nc_tcp_abort(struct tcp_pcb *pcb) {
  detach(pcb);
  if (pcb->state == LISTEN) {
    tcp_close(pcb);
    return;
  }
  tcp_abort(pcb);
  if (pcb == cb_pcb) cb_aborted = 1;
}

EXPORT void nc_tcp_nodelay(struct tcp_pcb *pcb, int on) {
  if (on) tcp_nagle_disable(pcb);
  else tcp_nagle_enable(pcb);
}

EXPORT void nc_tcp_keepalive(struct tcp_pcb *pcb, int on, uint32_t idle, uint32_t intvl, uint32_t cnt) {
  if (on) {
    ip_set_option(pcb, SOF_KEEPALIVE);
    if (idle) pcb->keep_idle = idle;
    if (intvl) pcb->keep_intvl = intvl;
    if (cnt) pcb->keep_cnt = cnt;
  } else {
    ip_reset_option(pcb, SOF_KEEPALIVE);
  }
}

/* ---- UDP ---- */
static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port) {
  LWIP_UNUSED_ARG(pcb);
  int id = id_of(arg);
  if (id == 0 || p == NULL) {
    if (p) pbuf_free(p);
    return;
  }
  addr_to(&ctl.a, addr, port);
  if (p->next == NULL) {
    js_udp_recv(id, p->payload, p->len);
  } else {
    u16_t n = pbuf_copy_partial(p, udp_tmp, p->tot_len > 65535 ? 65535 : p->tot_len, 0);
    js_udp_recv(id, udp_tmp, n);
  }
  pbuf_free(p);
}

EXPORT struct udp_pcb *nc_udp_new(int id, int family) {
  struct udp_pcb *pcb = udp_new_ip_type(ip_type(family));
  if (pcb == NULL) return NULL;
  udp_recv(pcb, on_udp, (void *)(intptr_t)id);
  return pcb;
}

EXPORT int nc_udp_bind(struct udp_pcb *pcb, int reuse) {
  ip_addr_t a;
  if (reuse) ip_set_option(pcb, SOF_REUSEADDR);
  if (!addr_from(&ctl.a, &a)) {
    if (IP_IS_ANY_TYPE_VAL(pcb->local_ip)) ip_addr_copy(a, *IP_ANY_TYPE);
    else if (IP_IS_V6_VAL(pcb->local_ip)) ip_addr_copy(a, *IP6_ADDR_ANY);
    else ip_addr_copy(a, *IP4_ADDR_ANY);
  }
  return udp_bind(pcb, &a, ctl.a.port);
}

EXPORT int nc_udp_connect(struct udp_pcb *pcb) {
  ip_addr_t a;
  if (!addr_from(&ctl.a, &a)) return ERR_VAL;
  return udp_connect(pcb, &a, ctl.a.port);
}

EXPORT void nc_udp_local(struct udp_pcb *pcb) { addr_to(&ctl.a, &pcb->local_ip, pcb->local_port); }

/* Destination in a (family 0: the connected peer). */
EXPORT int nc_udp_sendto(struct udp_pcb *pcb, const uint8_t *data, int len) {
  if (len > 65535 - 8 - 40) return ERR_VAL;
  struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
  if (p == NULL) return ERR_MEM;
  memcpy(p->payload, data, len);
  err_t err;
  ip_addr_t a;
  if (addr_from(&ctl.a, &a)) err = udp_sendto(pcb, p, &a, ctl.a.port);
  else err = udp_send(pcb, p);
  pbuf_free(p);
  return err;
}

EXPORT void nc_udp_remove(struct udp_pcb *pcb) { udp_remove(pcb); }

/* ---- ping (ICMP/ICMPv6 echo) ---- */
#define PING_ID 0x4e43
static struct raw_pcb *ping4, *ping6;

static u8_t on_raw(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *addr) {
  LWIP_UNUSED_ARG(arg);
  LWIP_UNUSED_ARG(addr);
  uint8_t hdr[8];
  if (pcb == ping4) {
    if (p->tot_len < 20 + 8) return 0;
    uint8_t vhl;
    pbuf_copy_partial(p, &vhl, 1, 0);
    u16_t ihl = (u16_t)((vhl & 0x0f) * 4);
    if (p->tot_len < ihl + 8) return 0;
    pbuf_copy_partial(p, hdr, 8, ihl);
    if (hdr[0] != ICMP_ER) return 0;
    addr_to(&ctl.c, addr, 0);
    if (((hdr[4] << 8) | hdr[5]) != PING_ID) {
      u16_t n = pbuf_copy_partial(p, udp_tmp, (u16_t)(p->tot_len - ihl), ihl);
      js_icmp_echo_reply(4, udp_tmp, n);
    } else {
      js_ping_reply(4, (hdr[6] << 8) | hdr[7], p->tot_len - ihl - 8);
    }
  } else {
    if (p->tot_len < 40 + 8) return 0;
    pbuf_copy_partial(p, hdr, 8, 40);
    if (hdr[0] != ICMP6_TYPE_EREP) return 0;
    addr_to(&ctl.c, addr, 0);
    if (((hdr[4] << 8) | hdr[5]) != PING_ID) {
      u16_t n = pbuf_copy_partial(p, udp_tmp, (u16_t)(p->tot_len - 40), 40);
      js_icmp_echo_reply(6, udp_tmp, n);
    } else {
      js_ping_reply(6, (hdr[6] << 8) | hdr[7], p->tot_len - 40 - 8);
    }
  }
  pbuf_free(p);
  return 1;
}

/* The raw PCB echo requests go out of (and replies come in to), made on first use. */
static struct raw_pcb *ping_pcb(int v6) {
  struct raw_pcb **slot = v6 ? &ping6 : &ping4;
  if (*slot == NULL) {
    *slot = raw_new_ip_type(v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4, v6 ? IP6_NEXTH_ICMP6 : IP_PROTO_ICMP);
    if (*slot == NULL) return NULL;
    if (v6) {
      (*slot)->chksum_reqd = 1;
      (*slot)->chksum_offset = 2;
    }
    raw_recv(*slot, on_raw, NULL);
  }
  return *slot;
}

/* Sends an app's echo request (an ICMP socket): the ICMP message as the app wrote it (type, code, id,
 * sequence, payload; the checksum is computed here) to the address in scratch A. */
EXPORT int nc_icmp_echo(const uint8_t *msg, int len) {
  ip_addr_t a;
  if (len < 8 || len > 65535 - 48) return ERR_VAL;
  if (!addr_from(&ctl.a, &a)) return ERR_VAL;
  int v6 = IP_IS_V6(&a);
  struct raw_pcb *pcb = ping_pcb(v6);
  if (pcb == NULL) return ERR_MEM;
  struct pbuf *p = pbuf_alloc(PBUF_IP, (u16_t)len, PBUF_RAM);
  if (p == NULL) return ERR_MEM;
  uint8_t *h = p->payload;
  memcpy(h, msg, len);
  h[2] = h[3] = 0;
  if (!v6) {
    u16_t c = inet_chksum(h, (u16_t)len);
    memcpy(h + 2, &c, 2);
  }
  err_t err = raw_sendto(pcb, p, &a);
  pbuf_free(p);
  return err;
}

/* Sends one echo request with len payload bytes to a. */
EXPORT int nc_ping(int seq, int len) {
  ip_addr_t a;
  if (len < 0 || len > 60000) return ERR_VAL;
  if (!addr_from(&ctl.a, &a)) return ERR_VAL;
  int v6 = IP_IS_V6(&a);
  struct raw_pcb **slot = v6 ? &ping6 : &ping4;
  if (ping_pcb(v6) == NULL) return ERR_MEM;
  struct pbuf *p = pbuf_alloc(PBUF_IP, (u16_t)(8 + len), PBUF_RAM);
  if (p == NULL) return ERR_MEM;
  uint8_t *h = p->payload;
  h[0] = v6 ? ICMP6_TYPE_EREQ : ICMP_ECHO;
  h[1] = 0;
  h[2] = h[3] = 0;
  h[4] = PING_ID >> 8;
  h[5] = PING_ID & 0xff;
  h[6] = (uint8_t)(seq >> 8);
  h[7] = (uint8_t)seq;
  for (int i = 0; i < len; i++) h[8 + i] = (uint8_t)i;
  if (!v6) {
    u16_t c = inet_chksum(h, (u16_t)(8 + len));
    memcpy(h + 2, &c, 2);
  }
  err_t err = raw_sendto(*slot, p, &a);
  pbuf_free(p);
  return err;
}

/* ---- statistics ---- */
EXPORT void nc_stats(uint32_t *o) {
  o[0] = frames_in;
  o[1] = frames_out;
  o[2] = bytes_in_lo;
  o[3] = bytes_in_hi;
  o[4] = bytes_out_lo;
  o[5] = bytes_out_hi;
  o[6] = drop_not_for_us;
  o[7] = drop_oom;
  o[8] = lwip_stats.etharp.proterr; /* unknown ethertype */
  o[9] = lwip_stats.etharp.drop;
  o[10] = lwip_stats.ip.drop;
  o[11] = lwip_stats.ip6.drop;
  o[12] = lwip_stats.tcp.drop;
  o[13] = lwip_stats.udp.drop;
  o[14] = lwip_stats.icmp.drop;
  o[15] = lwip_stats.icmp6.drop;
  o[16] = lwip_stats.nd6.drop;
  o[17] = lwip_stats.ip.chkerr + lwip_stats.tcp.chkerr + lwip_stats.udp.chkerr + lwip_stats.icmp.chkerr +
          lwip_stats.icmp6.chkerr;
  o[18] = lwip_stats.ip.rterr + lwip_stats.ip6.rterr;
  o[19] = lwip_stats.mib2.tcpretranssegs;
  int tcp = 0, udp = 0;
  for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next) tcp++;
  for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next) tcp++;
  for (struct tcp_pcb_listen *p = tcp_listen_pcbs.listen_pcbs; p; p = p->next) tcp++;
  for (struct udp_pcb *p = udp_pcbs; p; p = p->next) udp++;
  o[20] = (uint32_t)tcp;
  o[21] = (uint32_t)udp;
  o[22] = lwip_stats.ip_frag.drop + lwip_stats.ip6_frag.drop;
  o[23] = tcp_rexmit_seen;
  o[24] = drop_truncated;
  o[25] = drop_oversized;
  o[26] = drop_out_full;
  o[27] = gro_frames_merged;
  o[28] = wchunks_held * WCHUNK_SIZE; /* bytes */
}

/* lwIP 2.1.3's tcp_output returns without sending anything when Nagle holds back a partial segment, even
 * with an ACK due (TF_ACK_NOW): the ACK then waits for the next data (or the peer's retransmission timer;
 * tcp_fasttmr only looks at TF_ACK_DELAY). Two stacks sending to each other both stall that way. tcp_out.c
 * is compiled with its tcp_output renamed; every other caller comes through here, and the due ACK goes out. */
err_t nc_real_tcp_output(struct tcp_pcb *pcb);
static err_t output_now(struct tcp_pcb *pcb) {
  err_t err = nc_real_tcp_output(pcb);
  if (err == ERR_OK && tcp_input_pcb != pcb && (pcb->flags & TF_ACK_NOW) && pcb->state >= ESTABLISHED &&
      pcb->state != TIME_WAIT)
    err = tcp_send_empty_ack(pcb);
  return err;
}

/* Output coalescing: while a batch of frames is processed (nc_input) and until JS has delivered the data it
 * produced (nc_flush_output, called when the outermost call into the stack returns), tcp_output only marks
 * the pcb. Then each marked connection sends once: one ACK for a whole batch of segments, carrying the window
 * that the reader's consumption reopened, instead of an ACK every second segment with a shrinking window;
 * and a sender woken by that ACK sends its new data in one go. TIME_WAIT pcbs (off the active list) send at
 * once, and so does a receiver holding out-of-order data: each of its duplicate ACKs counts towards the
 * sender's fast retransmit. Nothing waits past the current call, so latency is unchanged. */
#define TF_NC_DEFERRED 0x8000U
static int n_deferred;

err_t tcp_output(struct tcp_pcb *pcb) {
  if (deferring && pcb->ooseq == NULL && pcb->state != TIME_WAIT && pcb->state != CLOSED && pcb->state != LISTEN) {
    if (!(pcb->flags & TF_NC_DEFERRED)) {
      tcp_set_flags(pcb, TF_NC_DEFERRED);
      n_deferred++;
    }
    return ERR_OK;
  }
  return output_now(pcb);
}

/* Sends what was held back; returns the number of connections that had something held. */
EXPORT int nc_flush_output(void) {
  deferring = 0;
  if (n_deferred == 0) return 0;
  int n = n_deferred;
  n_deferred = 0;
  struct tcp_pcb *next;
  for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = next) {
    next = pcb->next;
    if (pcb->flags & TF_NC_DEFERRED) {
      tcp_clear_flags(pcb, TF_NC_DEFERRED);
      output_now(pcb);
    }
  }
  return n;
}

/* RTO retransmissions: tcp_out.c is compiled with its two RTO entry points renamed (see Makefile),
   so every call from the rest of lwIP passes through here and is counted. */
void nc_real_rexmit_rto_commit(struct tcp_pcb *pcb);
void nc_real_rexmit_rto(struct tcp_pcb *pcb);
void tcp_rexmit_rto_commit(struct tcp_pcb *pcb) {
  tcp_rexmit_seen++;
  nc_real_rexmit_rto_commit(pcb);
}
void tcp_rexmit_rto(struct tcp_pcb *pcb) {
  tcp_rexmit_seen++;
  nc_real_rexmit_rto(pcb);
}

/* Diagnostics: a TCP pcb's sequence and window state (tests and debugging). */
EXPORT void nc_tcp_debug(struct tcp_pcb *pcb, uint32_t *o) {
  o[0] = pcb->state;
  o[1] = pcb->snd_wnd;
  o[2] = pcb->cwnd;
  o[3] = pcb->rcv_wnd;
  o[4] = pcb->snd_queuelen;
  o[5] = pcb->unacked != NULL;
  o[6] = pcb->unsent != NULL;
  o[7] = (uint32_t)pcb->rtime;
  o[8] = pcb->snd_nxt - pcb->lastack;
  o[9] = pcb->flags;
  o[10] = pcb->rcv_ann_wnd;
  o[11] = pcb->ooseq != NULL;
  o[12] = pcb->persist_backoff;
  o[13] = pcb->snd_buf;
  o[14] = pcb->mss;
  o[15] = pcb->rcv_nxt;
}
