#ifndef NC_GLUE_ABI_H
#define NC_GLUE_ABI_H
/* netcon glue: the narrow C ABI between one lwIP instance (one WebAssembly instance) and JavaScript.
 *
 * Frames cross the boundary in batches through buffers in wasm memory:
 *   in:  JS writes [u32 len][bytes, padded to 4] × n into the input buffer (ctl.in_buf), then calls nc_input(n)
 *        once; frames lwIP keeps stay where they are, and the next batch goes into another buffer.
 *   out: linkoutput appends [u32 len][bytes, padded to 4] to the out ring; when it is full it calls
 *        js_out_full() (JS drains it synchronously); JS also drains it after each call into the module.
 * Addresses cross through a scratch area: struct nc_addr (family, port, 16 address bytes).
 * PCBs are identified by their pointer; each carries the JS id of its socket as callback_arg.
 * Callbacks into JS are imports (js_*); every one of them may call back into the exports
 * (write, recved, close, abort …), which lwIP's raw API allows from its callbacks.
 */
#include <string.h>
#include <stdlib.h>
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#define EXPORT EMSCRIPTEN_KEEPALIVE
#else
#define EXPORT /* native builds (debugging) */
#endif

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "lwip/raw.h"
#include "lwip/icmp.h"
#include "lwip/icmp6.h"
#include "lwip/ip.h"
#include "lwip/ip4.h"
#include "lwip/ip6.h"
#include "lwip/inet_chksum.h"
#include "lwip/timeouts.h"
#include "lwip/stats.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/nd6.h"
#include "lwip/priv/nd6_priv.h"
#include "lwip/priv/tcp_priv.h"
#include "netif/ethernet.h"

/* ---- imports (JavaScript) ---- */
extern uint32_t js_now(void);
extern void js_out_full(void);
extern int js_tcp_accept(int listen_id, struct tcp_pcb *pcb);
extern void js_tcp_connected(int id);
extern void js_tcp_recv(int id, const uint8_t *data, int len); /* len 0: FIN */
extern void js_tcp_sent(int id, int len);
extern void js_tcp_err(int id, int err);
extern void js_udp_recv(int id, const uint8_t *data, int len); /* source in scratch A */
extern void js_ping_reply(int family, int seq, int len);
/* An echo reply that is not the stack's own ping (an app's ICMP socket): the ICMP message (header and
 * payload), its source in scratch C. */
extern void js_icmp_echo_reply(int family, const uint8_t *msg, int len);
extern void js_assert(const char *msg, int line, const char *file);
extern void js_rx_flush(void); /* JS delivers the rx area and sets rx_used = rx_count = 0 */

/* ---- shared control block, read and written by JS through the heap views ---- */
struct nc_addr {
  uint8_t family; /* 4 or 6; 0 = none */
  uint8_t prefix;
  uint16_t port;
  uint8_t addr[16];
};

#define IN_CAP (512 * 1024)
/* Received TCP data: copied here (consecutive segments of one connection merged into one record) and
 * handed to JS in one piece when lwIP returns, or before any other callback (ordering is kept). */
#define RX_CAP (1024 * 1024)
#define RX_RECS 4096
struct nc_rx_rec {
  int32_t id;
  uint32_t off;
  uint32_t len;
};
#define OUT_CAP (512 * 1024)

struct nc_ctl {
  uint32_t out_used;  /* bytes in the out ring */
  uint32_t out_count; /* frames in the out ring */
  uint32_t rx_used;   /* bytes of received TCP data in the rx area */
  uint32_t rx_count;  /* records in rx_recs */
  struct nc_addr a;
  struct nc_addr b;
  struct nc_addr c;
  uint32_t wlen; /* nc_tcp_wbuf: bytes granted at the pointer it returned */
  uint8_t *in_buf; /* where JS stages the next batch of frames (nc_input may move it) */
};

/* The control block's layout as JS reads it (nc_layout): offsets and sizes, in this order. */
enum nc_layout_index {
  NC_L_COUNT, /* entries in the table */
  NC_L_OUT_USED,
  NC_L_OUT_COUNT,
  NC_L_RX_USED,
  NC_L_RX_COUNT,
  NC_L_A,
  NC_L_B,
  NC_L_C,
  NC_L_WLEN,
  NC_L_IN_BUF,
  NC_L_ADDR_SIZE,
  NC_L_RX_REC_SIZE,
  NC_L_IN_CAP,
  NC_L_IP4_MAX,
  NC_L_END
};
#endif
