/* netcon glue: the narrow C ABI between one lwIP instance (one WebAssembly instance) and JavaScript.
 * The ABI (control block, buffers, imports) is described in glue/abi.h. The glue is one translation unit,
 * split into files along its seams and included here in order, so that the compiler still inlines across
 * them (Debian's emcc cannot do link-time optimisation): */
#include <stddef.h>
#include "glue/abi.h"

/* ---- state ---- */
static struct nc_ctl ctl;
static uint8_t *in_buf;
static uint8_t *out_buf;
static uint8_t *udp_tmp;
static uint8_t *rx_buf;
static struct nc_rx_rec *rx_recs;

static struct netif nif;
/* More IPv4 addresses: one netif each on the same link (same MAC), with a /32 mask so that the address
 * itself routes to it (and loops back); its real prefix is an on-link route (below) bound to it, so that
 * replies and connections within that prefix leave from it with it as the source. ARP for it is handed
 * to it. IPv6 addresses all live on the primary netif. */
#define NC_IP4_MAX 4
static struct netif nif4[NC_IP4_MAX - 1];
static int mtu_cfg = 2800;
static uint32_t rand_state = 0x9e3779b9u;

/* Our own drop counters (lwIP's are in lwip_stats). */
static uint32_t drop_not_for_us, drop_oom, drop_truncated, drop_oversized, drop_out_full, tcp_rexmit_seen;
static int deferring; /* tcp_output holds back (see nc_flush_output) */
static u8_t wbuf_ext_id; /* the pcb ext arg holding its send buffer (struct wbuf) */
static uint32_t frames_in, frames_out, bytes_in_lo, bytes_in_hi, bytes_out_lo, bytes_out_hi;

#include "glue/platform.c"
#include "glue/checksum.c"
#include "glue/routes.c"
#include "glue/link.c"
#include "glue/input.c"
#include "glue/config.c"
#include "glue/timers.c"
#include "glue/tcp.c"
#include "glue/udp.c"

/* ---- statistics ---- */
EXPORT void nc_stats(uint32_t *o) {
  o[0] = frames_in;
  o[1] = frames_out;
  o[2] = bytes_in_lo;
  o[3] = bytes_in_hi;
  o[4] = bytes_out_lo;
  o[5] = bytes_out_hi;
  o[6] = drop_not_for_us;
  o[7] = drop_oom;
  o[8] = lwip_stats.etharp.proterr; /* unknown ethertype */
  o[9] = lwip_stats.etharp.drop;
  o[10] = lwip_stats.ip.drop;
  o[11] = lwip_stats.ip6.drop;
  o[12] = lwip_stats.tcp.drop;
  o[13] = lwip_stats.udp.drop;
  o[14] = lwip_stats.icmp.drop;
  o[15] = lwip_stats.icmp6.drop;
  o[16] = lwip_stats.nd6.drop;
  o[17] = lwip_stats.ip.chkerr + lwip_stats.tcp.chkerr + lwip_stats.udp.chkerr + lwip_stats.icmp.chkerr +
          lwip_stats.icmp6.chkerr;
  o[18] = lwip_stats.ip.rterr + lwip_stats.ip6.rterr;
  o[19] = lwip_stats.mib2.tcpretranssegs;
  int tcp = 0, udp = 0;
  for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next) tcp++;
  for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next) tcp++;
  for (struct tcp_pcb_listen *p = tcp_listen_pcbs.listen_pcbs; p; p = p->next) tcp++;
  for (struct udp_pcb *p = udp_pcbs; p; p = p->next) udp++;
  o[20] = (uint32_t)tcp;
  o[21] = (uint32_t)udp;
  o[22] = lwip_stats.ip_frag.drop + lwip_stats.ip6_frag.drop;
  o[23] = tcp_rexmit_seen;
  o[24] = drop_truncated;
  o[25] = drop_oversized;
  o[26] = drop_out_full;
  o[27] = gro_frames_merged;
  o[28] = wchunks_held * WCHUNK_SIZE; /* bytes */
  o[29] = loss_probes_sent;
  o[30] = nc_newreno_rexmits;
}

/* ---- the control block's layout, read once by JS (netcon/lwip-module.ts) instead of hard-coded there ---- */
static const uint32_t nc_layout_table[NC_L_END] = {
    [NC_L_COUNT] = NC_L_END,
    [NC_L_OUT_USED] = offsetof(struct nc_ctl, out_used),
    [NC_L_OUT_COUNT] = offsetof(struct nc_ctl, out_count),
    [NC_L_RX_USED] = offsetof(struct nc_ctl, rx_used),
    [NC_L_RX_COUNT] = offsetof(struct nc_ctl, rx_count),
    [NC_L_A] = offsetof(struct nc_ctl, a),
    [NC_L_B] = offsetof(struct nc_ctl, b),
    [NC_L_C] = offsetof(struct nc_ctl, c),
    [NC_L_WLEN] = offsetof(struct nc_ctl, wlen),
    [NC_L_IN_BUF] = offsetof(struct nc_ctl, in_buf),
    [NC_L_ADDR_SIZE] = sizeof(struct nc_addr),
    [NC_L_RX_REC_SIZE] = sizeof(struct nc_rx_rec),
    [NC_L_IN_CAP] = IN_CAP,
    [NC_L_IP4_MAX] = NC_IP4_MAX,
};
EXPORT const uint32_t *nc_layout(void) { return nc_layout_table; }
