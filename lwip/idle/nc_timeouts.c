/* lwIP's timeouts.c, compiled through this file (see ../Makefile) to add one question it alone can answer,
 * since its list of timeouts is private: how long until the next timeout that has work to do. */
#include "build/lwip-src/src/core/timeouts.c"

/* Milliseconds until the next timeout, leaving out the cyclic timers (ARP, neighbour discovery, reassembly)
 * unless `cyclic_busy`; others (TCP's timer while connections exist) always count.
 * SYS_TIMEOUTS_SLEEPTIME_INFINITE when none is left. The list is sorted: the first one that counts is it. */
u32_t nc_timeouts_sleeptime(int cyclic_busy) {
  u32_t now = sys_now();
  for (struct sys_timeo *t = next_timeout; t != NULL; t = t->next) {
    if (!cyclic_busy && t->h == lwip_cyclic_timer) continue;
    return TIME_LESS_THAN(t->time, now) ? 0 : (u32_t)(t->time - now);
  }
  return SYS_TIMEOUTS_SLEEPTIME_INFINITE;
}
