/* The netcon RPC wire format (intercept/RPC.md): encoders and length-checked decoders.
 * Pure functions, no I/O; shared by the library and its tests. */
#ifndef NC_CODEC_H
#define NC_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NC_ADDR_LEN 24
#define NC_INFO_LEN 56
#define NC_HDR_LEN 8
#define NC_ACCEPT_LEN 56
#define NC_MSG_MAX 256
#define NC_REATTACH_LEN 44
#define NC_SOCKET_OWN_PAIR_LEN 16 /* SOCKET body with the inode of the app's end (the other end attached) */
#define NC_ID_LAST 0xffffffffu    /* the socket the last SOCKET on this control connection made */

enum nc_op {
  NC_OP_SOCKET = 1,
  NC_OP_BIND = 2,
  NC_OP_LISTEN = 3,
  NC_OP_CONNECT = 4,
  NC_OP_INFO = 5,
  NC_OP_SETOPT = 6,
  NC_OP_LOOKUP = 7,
  NC_OP_REATTACH = 8,
  NC_OP_ROUTE = 9,
};

enum nc_state {
  NC_ST_NEW = 0,
  NC_ST_BOUND = 1,
  NC_ST_LISTENING = 2,
  NC_ST_CONNECTING = 3,
  NC_ST_CONNECTED = 4,
  NC_ST_CLOSED = 5,
};

#define NC_TYPE_STREAM 1
#define NC_TYPE_DGRAM 2
#define NC_FLAG_V6ONLY 1
#define NC_FLAG_UDP_CONNECTED 2
#define NC_FLAG_ICMP 4 /* an ICMP (echo) datagram socket */
#define NC_REQ_FALLTHROUGH 1
#define NC_REQ_WAIT 2
#define NC_CONNECT_USE_HOST 1
#define NC_ROUTE_HOST 1 /* ROUTE: outside the network */
/* REATTACH options */
#define NC_RA_REUSEADDR 1
#define NC_RA_REUSEPORT 2
#define NC_RA_V6ONLY 4
#define NC_RA_NODELAY 8
#define NC_RA_KEEPALIVE 16

struct nc_addr {
  uint8_t family; /* 0, 4 or 6 */
  uint16_t port;
  uint32_t scope;
  uint8_t addr[16];
};

struct nc_info {
  uint8_t family, type, state, flags;
  int32_t so_error;
  struct nc_addr local, remote;
};

struct nc_resp {
  uint16_t op;
  int32_t result;
  int has_info;
  struct nc_info info;
};

struct nc_accept {
  uint32_t id;
  struct nc_addr local, remote;
};

size_t nc_put_addr(uint8_t *p, const struct nc_addr *a);
int nc_get_addr(const uint8_t *p, size_t len, struct nc_addr *a);
size_t nc_put_info(uint8_t *p, const struct nc_info *i);
int nc_get_info(const uint8_t *p, size_t len, struct nc_info *i);
size_t nc_put_hdr(uint8_t *p, uint16_t op, uint16_t flags, uint32_t id);
size_t nc_put_u32(uint8_t *p, uint32_t v);
size_t nc_put_u64(uint8_t *p, uint64_t v);
/* Decodes a response: 0, or -1 if it is too short or malformed. */
int nc_get_resp(const uint8_t *p, size_t len, struct nc_resp *r);
size_t nc_put_accept(uint8_t *p, const struct nc_accept *a);
int nc_get_accept(const uint8_t *p, size_t len, struct nc_accept *a);
/* REATTACH body (44): u64 old inode, u8 family, u8 0, u16 0, u32 backlog, u32 options, ADDR local. */
size_t nc_put_reattach(uint8_t *p, uint64_t ino, uint8_t family, uint32_t backlog, uint32_t opts,
                       const struct nc_addr *local);

/* sockaddr ⇄ ADDR. An IPv4-mapped IPv6 address becomes family 4. Returns 0 or -errno. */
int nc_from_sockaddr(const struct sockaddr *sa, socklen_t len, int domain, struct nc_addr *a);
/* For a socket of `domain` (AF_INET/AF_INET6): IPv4 on an AF_INET6 socket is written v4-mapped. */
socklen_t nc_to_sockaddr(const struct nc_addr *a, int domain, struct sockaddr_storage *ss);

#endif
