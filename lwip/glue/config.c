/* Configuration: nc_init, the link (MAC, MTU), IPv4 and IPv6 addresses, routes.
 * Part of glue.c's one translation unit (glue.c includes the parts in order; see there). */

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
