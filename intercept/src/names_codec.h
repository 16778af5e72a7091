/* The name operations of the netcon RPC (intercept/RPC.md, "Names"): RESOLVE, REVERSE, QUERY.
 * Pure functions, no I/O; shared by the library (resolve.c) and its codec test. */
#ifndef NC_NAMES_CODEC_H
#define NC_NAMES_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define NC_OP_RESOLVE 16
#define NC_OP_REVERSE 17
#define NC_OP_QUERY 18
#define NC_NAME_MSG_MAX 1024 /* name requests and answers; socket messages stay at NC_MSG_MAX */
#define NC_NAME_MAX 253
#define NC_QUERY_MAX 512
#define NC_NAME_ADDRS_MAX 16

struct nc_name_addr {
  uint8_t family; /* 4 or 6 */
  uint8_t addr[16];
};

struct nc_resolve_answer {
  int32_t result; /* > 0: count; 0: use the host's resolver; < 0: -errno */
  char canon[NC_NAME_MAX + 1];
  int count;
  struct nc_name_addr addrs[NC_NAME_ADDRS_MAX];
};

/* Requests: the whole message (header included) into b (at least NC_NAME_MSG_MAX bytes); its length,
 * or 0 when the name or query is too long. */
size_t nc_put_resolve(uint8_t *b, uint16_t flags, uint8_t family, const char *name);
size_t nc_put_reverse(uint8_t *b, uint16_t flags, uint8_t family, const uint8_t *addr);
size_t nc_put_query(uint8_t *b, uint16_t flags, const uint8_t *query, size_t qlen);

/* Answers: 0, or -1 when malformed (or not an answer to `op`). */
int nc_get_resolve_answer(const uint8_t *b, size_t n, struct nc_resolve_answer *a);
/* REVERSE and QUERY: the result, and the body (result bytes when result > 0). */
int nc_get_name_answer(const uint8_t *b, size_t n, uint16_t op, int32_t *result, const uint8_t **body);

#endif
