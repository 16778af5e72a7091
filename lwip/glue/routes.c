/* Addresses across the boundary, and the routes beyond the assigned addresses' subnets.
 * Part of glue.c's one translation unit (glue.c includes the parts in order; see there). */

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

/* The local address of a bind, from scratch a: the wildcard of the pcb's own type when a holds none. */
static void bind_addr(const ip_addr_t *pcb_local, ip_addr_t *out) {
  if (addr_from(&ctl.a, out)) return;
  if (IP_IS_ANY_TYPE_VAL(*pcb_local)) ip_addr_copy(*out, *IP_ANY_TYPE);
  else if (IP_IS_V6_VAL(*pcb_local)) ip_addr_copy(*out, *IP6_ADDR_ANY);
  else ip_addr_copy(*out, *IP4_ADDR_ANY);
}
