/* UDP sockets and ping (ICMP/ICMPv6 echo over a raw pcb).
 * Part of glue.c's one translation unit (glue.c includes the parts in order; see there). */

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
  bind_addr(&pcb->local_ip, &a);
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
