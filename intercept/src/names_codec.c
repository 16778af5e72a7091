/* The name operations of the netcon RPC: encoders and length-checked decoders (RPC.md, "Names"). */
#include "names_codec.h"

#include <string.h>

#include "codec.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static int32_t get32(const uint8_t *p) { return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24); }

size_t nc_put_resolve(uint8_t *b, uint16_t flags, uint8_t family, const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len > NC_NAME_MAX + 1) return 0;
  size_t n = nc_put_hdr(b, NC_OP_RESOLVE, flags, 0);
  b[n] = family;
  b[n + 1] = 0;
  b[n + 2] = (uint8_t)len;
  b[n + 3] = (uint8_t)(len >> 8);
  memcpy(b + n + 4, name, len);
  return n + 4 + len;
}

size_t nc_put_reverse(uint8_t *b, uint16_t flags, uint8_t family, const uint8_t *addr) {
  size_t n = nc_put_hdr(b, NC_OP_REVERSE, flags, 0);
  memset(b + n, 0, 20);
  b[n] = family;
  memcpy(b + n + 4, addr, family == 4 ? 4 : 16);
  return n + 20;
}

size_t nc_put_query(uint8_t *b, uint16_t flags, const uint8_t *query, size_t qlen) {
  if (qlen < 12 || qlen > NC_QUERY_MAX) return 0;
  size_t n = nc_put_hdr(b, NC_OP_QUERY, flags, 0);
  memcpy(b + n, query, qlen);
  return n + qlen;
}

int nc_get_name_answer(const uint8_t *b, size_t n, uint16_t op, int32_t *result, const uint8_t **body) {
  if (n < NC_HDR_LEN || get16(b) != op) return -1;
  *result = get32(b + 4);
  *body = b + NC_HDR_LEN;
  if (op != NC_OP_RESOLVE && *result > 0 && (size_t)*result > n - NC_HDR_LEN) return -1;
  return 0;
}

int nc_get_resolve_answer(const uint8_t *b, size_t n, struct nc_resolve_answer *a) {
  const uint8_t *p;
  memset(a, 0, sizeof(*a));
  if (nc_get_name_answer(b, n, NC_OP_RESOLVE, &a->result, &p) < 0) return -1;
  if (a->result <= 0) return 0;
  size_t left = n - NC_HDR_LEN;
  if (left < 2 || a->result > NC_NAME_ADDRS_MAX) return -1;
  size_t c = get16(p);
  if (c > NC_NAME_MAX || left < 2 + c + 17 * (size_t)a->result) return -1;
  memcpy(a->canon, p + 2, c);
  a->canon[c] = 0;
  p += 2 + c;
  for (int i = 0; i < a->result; i++, p += 17) {
    if (p[0] != 4 && p[0] != 6) return -1;
    a->addrs[i].family = p[0];
    memcpy(a->addrs[i].addr, p + 1, 16);
  }
  a->count = a->result;
  return 0;
}
