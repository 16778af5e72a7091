/* Golden-byte test of the C codec against the intercept/fixtures hex files (the TS codec reads the same
 * files). Usage: test_codec <fixtures dir>. Prints one line per fixture; exit 0 if all match. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "names_codec.h"

static const char *dir;
static int failures;

static size_t load(const char *name, uint8_t *out, size_t cap) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s.hex", dir, name);
  FILE *f = fopen(path, "r");
  if (!f) {
    printf("FAIL %s: cannot open %s\n", name, path);
    failures++;
    return 0;
  }
  size_t n = 0;
  char line[512];
  while (fgets(line, sizeof(line), f)) {
    if (line[0] == '#') continue;
    char *p = line;
    unsigned v;
    int used;
    while (sscanf(p, "%2x%n", &v, &used) == 1 && n < cap) {
      out[n++] = (uint8_t)v;
      p += used;
    }
  }
  fclose(f);
  return n;
}

static void check(const char *name, const uint8_t *got, size_t n) {
  uint8_t want[NC_MSG_MAX];
  size_t m = load(name, want, sizeof(want));
  if (m != n || memcmp(want, got, n) != 0) {
    printf("FAIL %s: encoding differs (%zu vs %zu bytes)\n", name, n, m);
    failures++;
  } else {
    printf("ok %s\n", name);
  }
}

static struct nc_addr mk(uint8_t fam, uint16_t port, uint32_t scope, const char *s) {
  struct nc_addr a;
  memset(&a, 0, sizeof(a));
  a.family = fam;
  a.port = port;
  a.scope = scope;
  inet_pton(fam == 4 ? AF_INET : AF_INET6, s, a.addr);
  return a;
}

int main(int argc, char **argv) {
  dir = argc > 1 ? argv[1] : "fixtures";
  uint8_t b[NC_MSG_MAX];
  size_t n;

  n = nc_put_hdr(b, NC_OP_SOCKET, 0, 0);
  memset(b + n, 0, 8);
  b[n] = 6;
  b[n + 1] = NC_TYPE_STREAM;
  check("socket-request", b, n + 8);

  n = nc_put_hdr(b, NC_OP_SOCKET, 0, 0);
  memset(b + n, 0, 8);
  b[n] = 6;
  b[n + 1] = NC_TYPE_DGRAM;
  nc_put_u32(b + n + 4, 58); /* IPPROTO_ICMPV6 */
  check("socket-request-icmp6", b, n + 8);

  n = nc_put_hdr(b, NC_OP_SOCKET, 0, 0);
  memset(b + n, 0, NC_SOCKET_OWN_PAIR_LEN);
  b[n] = 4;
  b[n + 1] = NC_TYPE_STREAM;
  nc_put_u32(b + n + 4, 6);
  nc_put_u64(b + n + 8, 0x1122334455667788ULL);
  check("socket-request-own-pair", b, n + NC_SOCKET_OWN_PAIR_LEN);

  struct nc_addr a = mk(4, 80, 0, "10.147.17.1");
  n = nc_put_hdr(b, NC_OP_CONNECT, NC_REQ_WAIT, NC_ID_LAST);
  n += nc_put_addr(b + n, &a);
  check("connect-request-last", b, n);

  a = mk(4, 8080, 0, "10.147.17.1");
  n = nc_put_hdr(b, NC_OP_BIND, 0, 7);
  n += nc_put_addr(b + n, &a);
  check("bind-request", b, n);

  a = mk(6, 443, 3, "fd80::1");
  n = nc_put_hdr(b, NC_OP_CONNECT, NC_REQ_FALLTHROUGH, 0x01020304);
  n += nc_put_addr(b + n, &a);
  check("connect-request-v6", b, n);

  n = nc_put_hdr(b, NC_OP_LOOKUP, 0, 0);
  n += nc_put_u64(b + n, 0x1122334455667788ULL);
  check("lookup-request", b, n);

  a = mk(4, 8080, 0, "10.147.17.1");
  n = nc_put_hdr(b, NC_OP_REATTACH, 0, 0);
  n += nc_put_reattach(b + n, 0x1122334455667788ULL, 4, 128, NC_RA_REUSEADDR, &a);
  check("reattach-request", b, n);

  a = mk(4, 53, 0, "192.0.2.1");
  n = nc_put_hdr(b, NC_OP_ROUTE, 0, 3);
  n += nc_put_addr(b + n, &a);
  check("route-request", b, n);

  n = nc_put_hdr(b, NC_OP_SETOPT, 0, 5);
  n += nc_put_u32(b + n, 6);
  n += nc_put_u32(b + n, 1);
  n += nc_put_u32(b + n, 1);
  check("setopt-request", b, n);

  a = mk(6, 5353, 0, "fd80::2");
  n = nc_put_addr(b, &a);
  check("udp-header-v6", b, n);

  struct nc_accept acc = {42, mk(4, 80, 0, "10.147.17.1"), mk(4, 40000, 0, "10.147.17.2")};
  n = nc_put_accept(b, &acc);
  check("accept-message", b, n);
  struct nc_accept acc2;
  if (nc_get_accept(b, n, &acc2) < 0 || acc2.id != 42 || acc2.remote.port != 40000 || nc_get_accept(b, n - 1, &acc2) == 0) {
    printf("FAIL accept-message decode\n");
    failures++;
  }

  /* Responses: decode the golden bytes, check fields, re-encode, compare. */
  uint8_t g[NC_MSG_MAX];
  size_t gn = load("info-response", g, sizeof(g));
  struct nc_resp r;
  if (nc_get_resp(g, gn, &r) < 0 || r.op != NC_OP_INFO || r.result != 0 || !r.has_info || r.info.family != 4 ||
      r.info.state != NC_ST_CONNECTED || r.info.local.port != 40000 || r.info.remote.port != 80 ||
      r.info.remote.addr[3] != 1) {
    printf("FAIL info-response decode\n");
    failures++;
  } else {
    n = 0;
    b[0] = NC_OP_INFO;
    b[1] = 0;
    memset(b + 2, 0, 6);
    n = NC_HDR_LEN + nc_put_info(b + NC_HDR_LEN, &r.info);
    check("info-response", b, n);
  }
  gn = load("info-response-icmp", g, sizeof(g));
  if (nc_get_resp(g, gn, &r) < 0 || !r.has_info || r.info.type != NC_TYPE_DGRAM || r.info.flags != NC_FLAG_ICMP ||
      r.info.state != NC_ST_BOUND || r.info.local.port != 4660 || r.info.remote.family != 0) {
    printf("FAIL info-response-icmp decode\n");
    failures++;
  } else {
    b[0] = NC_OP_INFO;
    memset(b + 1, 0, 7);
    n = NC_HDR_LEN + nc_put_info(b + NC_HDR_LEN, &r.info);
    check("info-response-icmp", b, n);
  }
  gn = load("connect-refused-response", g, sizeof(g));
  if (nc_get_resp(g, gn, &r) < 0 || r.op != NC_OP_CONNECT || r.result != -111 || r.info.so_error != 111 ||
      r.info.state != NC_ST_CLOSED) {
    printf("FAIL connect-refused-response decode\n");
    failures++;
  } else {
    printf("ok connect-refused-response\n");
  }
  /* Truncated input is refused, never read past. */
  for (size_t cut = 0; cut < NC_HDR_LEN; cut++)
    if (nc_get_resp(g, cut, &r) == 0) {
      printf("FAIL short response accepted (%zu bytes)\n", cut);
      failures++;
    }
  g[NC_HDR_LEN + 8] = 9; /* bad address family */
  if (nc_get_resp(g, gn, &r) == 0) {
    printf("FAIL bad address family accepted\n");
    failures++;
  }
  /* Names (RPC.md "Names"): requests encoded, answers decoded. */
  {
    uint8_t nb[NC_NAME_MSG_MAX];
    n = nc_put_resolve(nb, NC_REQ_FALLTHROUGH, 0, "web.lan");
    check("resolve-request", nb, n);
    uint8_t a4[16] = {10, 147, 20, 5};
    n = nc_put_reverse(nb, 0, 4, a4);
    check("reverse-request", nb, n);
    static const uint8_t q[] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 'w', 'e', 'b',
                                0x03, 'l',  'a',  'n',  0x00, 0x00, 0x01, 0x00, 0x01};
    n = nc_put_query(nb, 0, q, sizeof(q));
    check("query-request", nb, n);
    struct nc_resolve_answer ra;
    gn = load("resolve-response", g, sizeof(g));
    if (nc_get_resolve_answer(g, gn, &ra) < 0 || ra.count != 2 || strcmp(ra.canon, "web.lan") != 0 ||
        ra.addrs[0].family != 4 || ra.addrs[0].addr[3] != 5 || ra.addrs[1].family != 6 || ra.addrs[1].addr[0] != 0xfd ||
        ra.addrs[1].addr[15] != 5) {
      printf("FAIL resolve-response decode\n");
      failures++;
    } else {
      printf("ok resolve-response\n");
    }
    for (size_t cut = 0; cut < gn; cut++)
      if (nc_get_resolve_answer(g, cut, &ra) == 0 && cut < gn && ra.count > 0) {
        printf("FAIL short resolve-response accepted (%zu bytes)\n", cut);
        failures++;
      }
    int32_t res;
    const uint8_t *body;
    gn = load("reverse-response", g, sizeof(g));
    if (nc_get_name_answer(g, gn, NC_OP_REVERSE, &res, &body) < 0 || res != 7 || memcmp(body, "web.lan", 7) != 0 ||
        nc_get_name_answer(g, gn - 1, NC_OP_REVERSE, &res, &body) == 0) {
      printf("FAIL reverse-response decode\n");
      failures++;
    } else {
      printf("ok reverse-response\n");
    }
  }
  printf(failures ? "FAILED %d\n" : "ALL OK\n", failures);
  return failures ? 1 : 0;
}
