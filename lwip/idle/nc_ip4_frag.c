/* lwIP's ip4_frag.c, compiled through this file (see ../Makefile) to ask whether its timer has work. */
#include "build/lwip-src/src/core/ipv4/ip4_frag.c"

/* 1 while an IPv4 datagram waits for its other fragments (its reassembly times out on the timer). */
int nc_ip4_reass_busy(void) { return reassdatagrams != NULL; }
