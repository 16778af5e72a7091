/* The link: checksum offload, link_output into the out ring, the netifs, the control block's exports and the rx area.
 * Part of glue.c's one translation unit (glue.c includes the parts in order; see there). */

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
