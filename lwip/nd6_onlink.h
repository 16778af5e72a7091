/* Force-included into lwIP's nd6.c only (see Makefile). lwIP 2.1.3 treats an IPv6 destination as on-link,
 * and picks the source of a neighbour solicitation, only within the /64 of one of its addresses. ZeroTier's
 * 6plane addresses (/80 per member inside a /40) are on-link across /64s. With this, "same prefix" in nd6.c
 * also holds when both addresses lie inside one on-link prefix of the network config (glue.c). */
#ifndef NETCON_ND6_ONLINK_H
#define NETCON_ND6_ONLINK_H
#include "lwip/opt.h"
#include "lwip/ip6_addr.h"
int nc_nd6_netcmp(const ip6_addr_t *a, const ip6_addr_t *b);
#undef ip6_addr_netcmp
#define ip6_addr_netcmp(addr1, addr2) nc_nd6_netcmp((addr1), (addr2))
#endif
