/* lwIP's ip6_frag.c, compiled through this file (see ../Makefile) to ask whether its timer has work. */
#include "build/lwip-src/src/core/ipv6/ip6_frag.c"

/* 1 while an IPv6 datagram waits for its other fragments (its reassembly times out on the timer). */
int nc_ip6_reass_busy(void) { return reassdatagrams != NULL; }
