/* lwIP's etharp.c, compiled through this file (see ../Makefile) to ask whether its timer has work: the ARP
 * table is private to it. */
#include "build/lwip-src/src/core/ipv4/etharp.c"

/* 1 while any ARP entry exists (pending ones are retried and expire, stable ones age out after ARP_MAXAGE). */
int nc_etharp_busy(void) {
  for (int i = 0; i < ARP_TABLE_SIZE; i++)
    if (arp_table[i].state != ETHARP_STATE_EMPTY) return 1;
  return 0;
}
