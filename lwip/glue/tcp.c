/* TCP: callbacks, send buffers, the socket calls, output coalescing, retransmission counting.
 * Part of glue.c's one translation unit (glue.c includes the parts in order; see there). */

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
  bind_addr(&pcb->local_ip, &a);
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

/* lwIP 2.1.3's tcp_output returns without sending anything when Nagle holds back a partial segment, even
 * with an ACK due (TF_ACK_NOW): the ACK then waits for the next data (or the peer's retransmission timer;
 * tcp_fasttmr only looks at TF_ACK_DELAY). Two stacks sending to each other both stall that way. tcp_out.c
 * is compiled with its tcp_output renamed; every other caller comes through here, and the due ACK goes out. */
err_t nc_real_tcp_output(struct tcp_pcb *pcb);
static void arm_loss_probe(void);
static err_t output_now(struct tcp_pcb *pcb) {
  err_t err = nc_real_tcp_output(pcb);
  if (err == ERR_OK && tcp_input_pcb != pcb && (pcb->flags & TF_ACK_NOW) && pcb->state >= ESTABLISHED &&
      pcb->state != TIME_WAIT)
    err = tcp_send_empty_ack(pcb);
  /* Whatever path sent it (a write, an ACK opening the window in nc_flush_output, a probe), data in flight
     has the loss probe watching. */
  if (pcb->unacked != NULL) arm_loss_probe();
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

/* ---- the loss probe (after RFC 8985's tail loss probe) ----
 * Data in flight and no progress (an ACK of new data, or a duplicate ACK outside recovery) for a probe timeout:
 * the first unacknowledged segment goes out again, once per stall. If it was lost, that repairs it; if the ACKs
 * were lost, the answer restarts the ACK clock. lwIP alone waits for its RTO there, counted in 200 ms ticks
 * (400-600 ms on a LAN), then slow-starts from one segment and sends everything in flight again. The stall is
 * common: output coalescing acknowledges a whole batch of segments with one ACK, so one lost ACK leaves a
 * sender whose window is in flight with nothing to clock it; so is a lost retransmission in fast recovery, and
 * a lost tail. The timeout is twice the smoothed round trip (milliseconds, patches/tcp-loss-recovery.diff),
 * plus the receiver's delayed-ACK allowance when a single segment is in flight, at least NC_PROBE_MIN_MS, and
 * 200 ms before the first sample. One lwIP timeout, every NC_PROBE_TICK_MS while any connection has data in
 * flight, checks them all; with none it is not armed, so an idle stack still sets no timer. */
#define NC_PROBE_TICK_MS 10
#define NC_PROBE_MIN_MS 25
#define NC_PROBE_NO_RTT_MS 200
#define NC_PROBE_DELACK_MS (TCP_TMR_INTERVAL + 20)
static int loss_probe_armed;
static uint32_t loss_probes_sent;
extern u32_t nc_newreno_rexmits; /* patches/tcp-loss-recovery.diff: partial ACKs answered */

static u32_t probe_timeout(const struct tcp_pcb *pcb) {
  if (pcb->nc_srtt8 == 0) return NC_PROBE_NO_RTT_MS;
  u32_t pto = 2 * (pcb->nc_srtt8 >> 3);
  if (pcb->unacked->next == NULL) pto += NC_PROBE_DELACK_MS;
  return LWIP_MAX(pto, NC_PROBE_MIN_MS);
}

static void loss_probe_tmr(void *arg) {
  (void)arg;
  loss_probe_armed = 0;
  u32_t now = sys_now();
  int in_flight = 0;
  for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next) {
    if (pcb->unacked == NULL || pcb->state < ESTABLISHED || (pcb->flags & TF_RTO)) continue;
    in_flight = 1;
    if (pcb->nc_probed || now - pcb->nc_progress < probe_timeout(pcb)) continue;
    pcb->nc_probed = 1;
    if (tcp_rexmit(pcb) == ERR_OK) {
      loss_probes_sent++;
      pcb->rtime = 0; /* the RTO counts again from the probe */
      output_now(pcb);
    }
  }
  if (in_flight) arm_loss_probe();
}

static void arm_loss_probe(void) {
  if (loss_probe_armed) return;
  loss_probe_armed = 1;
  sys_timeout(NC_PROBE_TICK_MS, loss_probe_tmr, NULL);
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
/* An RTO also ends fast recovery (NewReno: patches/tcp-loss-recovery.diff): lwIP 2.1.3 leaves TF_INFR set, so
   the first new ACK after the timeout would take cwnd from one segment straight back to ssthresh, and NewReno
   would treat it as a partial ACK of the old recovery. */
void tcp_rexmit_rto_commit(struct tcp_pcb *pcb) {
  tcp_rexmit_seen++;
  tcp_clear_flags(pcb, TF_INFR);
  nc_real_rexmit_rto_commit(pcb);
}
void tcp_rexmit_rto(struct tcp_pcb *pcb) {
  tcp_rexmit_seen++;
  tcp_clear_flags(pcb, TF_INFR);
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
