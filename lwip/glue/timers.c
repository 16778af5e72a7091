/* lwIP's timers, the TIME_WAIT bound, and the loopback queue.
 * Part of glue.c's one translation unit (glue.c includes the parts in order; see there). */

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

/* An idle stack sets no timer. lwIP's cyclic timers (ARP, neighbour discovery, IPv4 and IPv6 reassembly, once
 * a second) only age state; with none of that state they have nothing to do, and the sleep time leaves them
 * out: a host with 1,000 idle stacks then wakes for none of them. Whatever creates such state (a frame in or
 * out) is a call into the stack, after which the host asks the sleep time again; overdue cyclic timers then
 * run once, at once (lwip_cyclic_timer restarts them from now). The skipped seconds only fed counters that
 * never expire anything: destination cache ages and STALE neighbours' stale_time (both only rank entries for
 * replacement). */
u32_t nc_timeouts_sleeptime(int cyclic_busy); /* idle/nc_timeouts.c */
int nc_etharp_busy(void);                     /* idle/nc_etharp.c */
int nc_ip4_reass_busy(void);                  /* idle/nc_ip4_frag.c */
int nc_ip6_reass_busy(void);                  /* idle/nc_ip6_frag.c */

/* 1 while nd6_tmr has work: a neighbour being resolved, probed or REACHABLE (it turns STALE on the timer), a
 * router or prefix learnt (they expire), a tentative address. */
static int nd6_busy(void) {
  for (int i = 0; i < LWIP_ND6_NUM_NEIGHBORS; i++) {
    u8_t s = neighbor_cache[i].state;
    if (s != ND6_NO_ENTRY && s != ND6_STALE) return 1;
  }
  for (int i = 0; i < LWIP_ND6_NUM_ROUTERS; i++)
    if (default_router_list[i].neighbor_entry != NULL) return 1;
  for (int i = 0; i < LWIP_ND6_NUM_PREFIXES; i++)
    if (prefix_list[i].netif != NULL) return 1;
  struct netif *n;
  NETIF_FOREACH(n) {
    for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++)
      if (ip6_addr_istentative(netif_ip6_addr_state(n, i))) return 1;
  }
  return 0;
}

static uint32_t sleeptime(void) {
  int busy = nc_etharp_busy() || nc_ip4_reass_busy() || nc_ip6_reass_busy() || nd6_busy();
  return nc_timeouts_sleeptime(busy);
}

EXPORT uint32_t nc_timers(void) {
  sys_check_timeouts();
  trim_time_wait();
  return sleeptime();
}

EXPORT uint32_t nc_sleeptime(void) { return sleeptime(); }

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
