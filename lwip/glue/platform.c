/* Platform: randomness, assertions, and the heap's per-size free lists in front of dlmalloc.
 * Part of glue.c's one translation unit (glue.c includes the parts in order; see there). */

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
