/* lwIP options for netcon: one instance per ZeroTier network, driven from JavaScript (NO_SYS).
 * The values follow measurements made on this design (see ../shared/DESIGN.md §5). */
#ifndef NETCON_LWIPOPTS_H
#define NETCON_LWIPOPTS_H

/* ---- system: no OS, no threads; the host calls in, timers come from the host clock ---- */
#define NO_SYS 1
#define LWIP_TIMERS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_CALLBACK_API 1
#define LWIP_ASSERT_CORE_LOCKED()

/* ---- memory: libc malloc (lwIP's own heap walks in-flight segments; pools would cap PCB counts) ---- */
#define MEM_LIBC_MALLOC 1
/* lwIP's heap goes through glue.c's per-size free lists in front of dlmalloc */
#include <stddef.h>
void *nc_mem_malloc(size_t n);
void *nc_mem_calloc(size_t count, size_t n);
void nc_mem_free(void *p);
#define mem_clib_malloc nc_mem_malloc
#define mem_clib_calloc nc_mem_calloc
#define mem_clib_free nc_mem_free
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 4
/* With MEMP_MEM_MALLOC these are not hard limits; they are sized for 1000+ connections per network. */
#define MEMP_NUM_TCP_PCB 8192
#define MEMP_NUM_TCP_PCB_LISTEN 1024
#define MEMP_NUM_UDP_PCB 1024
#define MEMP_NUM_RAW_PCB 16
#define MEMP_NUM_TCP_SEG 16384
#define MEMP_NUM_REASSDATA 64
#define MEMP_NUM_FRAG_PBUF 256
#define MEMP_NUM_ARP_QUEUE 256
#define MEMP_NUM_ND6_QUEUE 256
#define MEMP_NUM_SYS_TIMEOUT 64
#define PBUF_POOL_SIZE 1024

/* ---- link: Ethernet frames (ZeroTier's virtual Ethernet); a frame out may be a pbuf chain (headers, then
 * data referenced in a connection's send buffer: glue.c's nc_tcp_wbuf), copied whole into the out ring ---- */
#define LWIP_ETHERNET 1
#define ETH_PAD_SIZE 0
#define LWIP_ARP 1
#define ARP_TABLE_SIZE 256
#define ARP_QUEUEING 1
#define ARP_QUEUE_LEN 16
#define ETHARP_TABLE_MATCH_NETIF 0
#define LWIP_NETIF_HWADDRHINT 1
#define LWIP_NETIF_TX_SINGLE_PBUF 0
#define LWIP_SINGLE_NETIF 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
/* The stack's own addresses (and 127.0.0.1, ::1) reach its own sockets. */
#define LWIP_NETIF_LOOPBACK 1
#define LWIP_HAVE_LOOPIF 1
#define LWIP_LOOPBACK_MAX_PBUFS 0
#define LWIP_NETIF_LOOPBACK_MULTITHREADING 0

/* ---- IPv4 ---- */
#define LWIP_IPV4 1
#define IP_FORWARD 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IP_REASS_MAX_PBUFS 128
#define IP_DEFAULT_TTL 64
#define IP_SOF_BROADCAST 0
#define LWIP_ICMP 1
#define LWIP_BROADCAST_PING 0
#define LWIP_MULTICAST_PING 0
#define LWIP_RAW 1
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0

/* ---- IPv6: static addresses from the network config, link-local from the MAC, neighbour discovery ---- */
#define LWIP_IPV6 1
#define LWIP_IPV6_NUM_ADDRESSES 8
#define LWIP_IPV6_FORWARD 0
#define LWIP_IPV6_FRAG 1
#define LWIP_IPV6_REASS 1
#define LWIP_IPV6_MLD 0
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_IPV6_DHCP6 0
#define LWIP_ICMP6 1
#define LWIP_ND6_NUM_NEIGHBORS 120 /* lwIP indexes these with s8_t: at most 127 */
#define LWIP_ND6_NUM_DESTINATIONS 120
#define LWIP_ND6_QUEUEING 1
#define LWIP_ND6_ALLOW_RA_UPDATES 0
#define LWIP_ND6_TCP_REACHABILITY_HINTS 1

/* ---- UDP ---- */
#define LWIP_UDP 1
#define LWIP_UDPLITE 0
#define UDP_TTL 64

/* ---- TCP: big windows with scaling (256 KiB is the CPU sweet spot), MSS for MTU 2800 ---- */
#define LWIP_TCP 1
#define TCP_TTL 64
#define TCP_MSS 2760
/* The TCP timer: lwIP's default is 250 ms (RTO granularity 500 ms, delayed ACK 250 ms); 100 ms gives a
 * 200 ms RTO floor and 100 ms delayed ACKs, close to Linux. It runs only while connections exist. */
#define TCP_TMR_INTERVAL 100
#define TCP_CALCULATE_EFF_SEND_MSS 1
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 3
#define TCP_WND (256 * 1024)
#define TCP_SND_BUF (256 * 1024)
#define TCP_SND_QUEUELEN 4096
#define TCP_SNDLOWAT (32 * 1024)
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
#define TCP_OVERSIZE TCP_MSS
#define TCP_QUEUE_OOSEQ 1
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_MAX_SACK_NUM 4
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 0xff
#define LWIP_TCP_KEEPALIVE 1
#define LWIP_TCP_TIMESTAMPS 0
#define TCP_MAXRTX 12
#define TCP_SYNMAXRTX 6
#define LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS 1
#define SO_REUSE 1
#define LWIP_TCP_PCB_NUM_EXT_ARGS 1 /* glue.c: the send buffer's chunks, freed with the pcb */

/* ---- checksums: a fast SIMD sum (glue.c), all generated and checked. TCP checksums of frames leaving on the
 * network are summed by glue.c's link_output as it copies each frame out (checksum offload, as a NIC does);
 * lwIP generates them itself only on its loopback interface and after an MTU decrease (see glue.c). ---- */
#include <stdint.h>
uint16_t nc_chksum(const void *data, int len);
#define LWIP_CHKSUM nc_chksum
/* Off: with the offload, tcp_write would sum data nobody uses the sum of. */
#define LWIP_CHECKSUM_ON_COPY 0
/* Per-netif control: frames from a trusted in-process link skip verification (as Linux loopback does). */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1

/* ---- statistics: counters the host reads for Stack.stats() ---- */
#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
#define LINK_STATS 1
#define ETHARP_STATS 1
#define IP_STATS 1
#define IPFRAG_STATS 1
#define ICMP_STATS 1
#define UDP_STATS 1
#define TCP_STATS 1
#define MEM_STATS 0
#define MEMP_STATS 0
#define SYS_STATS 0
#define IP6_STATS 1
#define ICMP6_STATS 1
#define IP6_FRAG_STATS 1
#define MLD6_STATS 0
#define ND6_STATS 1
#define MIB2_STATS 1

/* ---- hooks: routes with gateways (implemented in glue.c) ---- */
struct netif;
struct ip4_addr;
struct ip6_addr;
struct netif *nc_ip4_route_src(const struct ip4_addr *src, const struct ip4_addr *dest);
const struct ip4_addr *nc_ip4_gw(struct netif *netif, const struct ip4_addr *dest);
struct netif *nc_ip6_route(const struct ip6_addr *src, const struct ip6_addr *dest);
const struct ip6_addr *nc_ip6_gw(struct netif *netif, const struct ip6_addr *dest);
#define LWIP_HOOK_IP4_ROUTE_SRC(src, dest) nc_ip4_route_src((src), (dest))
#define LWIP_HOOK_ETHARP_GET_GW(netif, dest) nc_ip4_gw((netif), (dest))
#define LWIP_HOOK_IP6_ROUTE(src, dest) nc_ip6_route((src), (dest))
#define LWIP_HOOK_ND6_GET_GW(netif, dest) nc_ip6_gw((netif), (dest))


#endif
