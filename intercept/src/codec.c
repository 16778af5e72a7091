/* The netcon RPC wire format; layouts are drawn in intercept/RPC.md. */
#include "codec.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)v);
  put16(p + 2, (uint16_t)(v >> 16));
}
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16); }

size_t nc_put_u32(uint8_t *p, uint32_t v) {
  put32(p, v);
  return 4;
}

size_t nc_put_u64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
  return 8;
}

size_t nc_put_addr(uint8_t *p, const struct nc_addr *a) {
  memset(p, 0, NC_ADDR_LEN);
  p[0] = a->family;
  put16(p + 2, a->port);
  put32(p + 4, a->scope);
  memcpy(p + 8, a->addr, 16);
  return NC_ADDR_LEN;
}

int nc_get_addr(const uint8_t *p, size_t len, struct nc_addr *a) {
  if (len < NC_ADDR_LEN) return -1;
  if (p[0] != 0 && p[0] != 4 && p[0] != 6) return -1;
  memset(a, 0, sizeof(*a));
  a->family = p[0];
  a->port = get16(p + 2);
  a->scope = get32(p + 4);
  memcpy(a->addr, p + 8, 16);
  return 0;
}

size_t nc_put_info(uint8_t *p, const struct nc_info *i) {
  p[0] = i->family;
  p[1] = i->type;
  p[2] = i->state;
  p[3] = i->flags;
  put32(p + 4, (uint32_t)i->so_error);
  nc_put_addr(p + 8, &i->local);
  nc_put_addr(p + 8 + NC_ADDR_LEN, &i->remote);
  return NC_INFO_LEN;
}

int nc_get_info(const uint8_t *p, size_t len, struct nc_info *i) {
  if (len < NC_INFO_LEN) return -1;
  i->family = p[0];
  i->type = p[1];
  i->state = p[2];
  i->flags = p[3];
  i->so_error = (int32_t)get32(p + 4);
  if (nc_get_addr(p + 8, len - 8, &i->local) < 0) return -1;
  if (nc_get_addr(p + 8 + NC_ADDR_LEN, len - 8 - NC_ADDR_LEN, &i->remote) < 0) return -1;
  return 0;
}

size_t nc_put_hdr(uint8_t *p, uint16_t op, uint16_t flags, uint32_t id) {
  put16(p, op);
  put16(p + 2, flags);
  put32(p + 4, id);
  return NC_HDR_LEN;
}

int nc_get_resp(const uint8_t *p, size_t len, struct nc_resp *r) {
  if (len < NC_HDR_LEN) return -1;
  memset(r, 0, sizeof(*r));
  r->op = get16(p);
  r->result = (int32_t)get32(p + 4);
  if (len >= NC_HDR_LEN + NC_INFO_LEN) {
    if (nc_get_info(p + NC_HDR_LEN, len - NC_HDR_LEN, &r->info) < 0) return -1;
    r->has_info = 1;
  }
  return 0;
}

size_t nc_put_accept(uint8_t *p, const struct nc_accept *a) {
  put32(p, a->id);
  put32(p + 4, 0);
  nc_put_addr(p + 8, &a->local);
  nc_put_addr(p + 8 + NC_ADDR_LEN, &a->remote);
  return NC_ACCEPT_LEN;
}

int nc_get_accept(const uint8_t *p, size_t len, struct nc_accept *a) {
  if (len < NC_ACCEPT_LEN) return -1;
  a->id = get32(p);
  if (nc_get_addr(p + 8, len - 8, &a->local) < 0) return -1;
  return nc_get_addr(p + 8 + NC_ADDR_LEN, len - 8 - NC_ADDR_LEN, &a->remote);
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int nc_from_sockaddr(const struct sockaddr *sa, socklen_t len, int domain, struct nc_addr *a) {
  memset(a, 0, sizeof(*a));
  if (!sa || len < (socklen_t)sizeof(sa_family_t)) return -EINVAL;
  if (sa->sa_family == AF_UNSPEC) return 0;
  if (domain == AF_INET) {
    if (sa->sa_family != AF_INET) return -EAFNOSUPPORT;
    if (len < (socklen_t)sizeof(struct sockaddr_in)) return -EINVAL;
    const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
    a->family = 4;
    a->port = ntohs(s->sin_port);
    memcpy(a->addr, &s->sin_addr, 4);
    return 0;
  }
  if (sa->sa_family != AF_INET6) return -EAFNOSUPPORT;
  if (len < (socklen_t)sizeof(struct sockaddr_in6)) return -EINVAL;
  const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
  a->port = ntohs(s->sin6_port);
  if (memcmp(&s->sin6_addr, v4mapped, 12) == 0) {
    a->family = 4;
    memcpy(a->addr, (const uint8_t *)&s->sin6_addr + 12, 4);
  } else {
    a->family = 6;
    a->scope = s->sin6_scope_id;
    memcpy(a->addr, &s->sin6_addr, 16);
  }
  return 0;
}

socklen_t nc_to_sockaddr(const struct nc_addr *a, int domain, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (domain == AF_INET) {
    struct sockaddr_in *s = (struct sockaddr_in *)ss;
    s->sin_family = AF_INET;
    s->sin_port = htons(a->port);
    if (a->family == 4) memcpy(&s->sin_addr, a->addr, 4);
    return sizeof(*s);
  }
  struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(a->port);
  if (a->family == 4) {
    memcpy(&s->sin6_addr, v4mapped, 12);
    memcpy((uint8_t *)&s->sin6_addr + 12, a->addr, 4);
  } else if (a->family == 6) {
    memcpy(&s->sin6_addr, a->addr, 16);
    s->sin6_scope_id = a->scope;
  }
  return sizeof(*s);
}

size_t nc_put_reattach(uint8_t *p, uint64_t ino, uint8_t family, uint32_t backlog, uint32_t opts,
                       const struct nc_addr *local) {
  nc_put_u64(p, ino);
  p[8] = family;
  p[9] = 0;
  p[10] = p[11] = 0;
  nc_put_u32(p + 12, backlog);
  nc_put_u32(p + 16, opts);
  nc_put_addr(p + 20, local);
  return NC_REATTACH_LEN;
}
