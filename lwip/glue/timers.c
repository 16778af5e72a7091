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

EXPORT uint32_t nc_timers(void) {
  sys_check_timeouts();
  trim_time_wait();
  return sys_timeouts_sleeptime();
}

EXPORT uint32_t nc_sleeptime(void) { return sys_timeouts_sleeptime(); }

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
