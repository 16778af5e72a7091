/* Frames in: input buffers (zero-copy pbufs, pinning), nc_input, and receive coalescing (GRO).
 * Part of glue.c's one translation unit (glue.c includes the parts in order; see there). */

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
