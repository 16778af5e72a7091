/* Every resolver entry point the library hooks, one per mode, printing what it got (test/intercept/names).
 *   nc_resolve gai <name> [4|6]   getaddrinfo (AI_CANONNAME): "canon <name>" then one address per line
 *   nc_resolve ghbn <name>        gethostbyname:  "<h_name> <addr>..."
 *   nc_resolve ghbn2 <name> 4|6   gethostbyname2
 *   nc_resolve ghbnr <name>       gethostbyname_r
 *   nc_resolve ghba <ip>          gethostbyaddr:  "<h_name>"
 *   nc_resolve gni <ip>           getnameinfo (NI_NAMEREQD): "<host>"
 *   nc_resolve resq <name> A|AAAA|PTR   res_query: "rcode <n> answers <n>" then the A/AAAA addresses / PTR names
 * Failures print "error <code> <text>" and exit 2. */
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>

#include "nctest.h"

static void print_addr(int af, const void *a) {
  char t[INET6_ADDRSTRLEN];
  inet_ntop(af, a, t, sizeof(t));
  printf("%s\n", t);
}

static int hostent_out(struct hostent *h) {
  if (!h) {
    printf("error %d %s\n", h_errno, hstrerror(h_errno));
    return 2;
  }
  printf("%s", h->h_name);
  for (char **p = h->h_addr_list; *p; p++) {
    char t[INET6_ADDRSTRLEN];
    inet_ntop(h->h_addrtype, *p, t, sizeof(t));
    printf(" %s", t);
  }
  printf("\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) return 1;
  const char *mode = argv[1], *name = argv[2];
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!strcmp(mode, "gai")) {
    struct addrinfo hints = {0}, *res;
    hints.ai_flags = AI_CANONNAME;
    hints.ai_socktype = SOCK_STREAM;
    if (argc > 3) hints.ai_family = argv[3][0] == '4' ? AF_INET : AF_INET6;
    int e = getaddrinfo(name, "80", &hints, &res);
    if (e) {
      printf("error %d %s\n", e, gai_strerror(e));
      return 2;
    }
    printf("canon %s\n", res->ai_canonname ? res->ai_canonname : "-");
    for (struct addrinfo *a = res; a; a = a->ai_next)
      print_addr(a->ai_family, a->ai_family == AF_INET ? (void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                                       : (void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr);
    freeaddrinfo(res);
    return 0;
  }
  if (!strcmp(mode, "ghbn")) return hostent_out(gethostbyname(name));
  if (!strcmp(mode, "ghbn2")) return hostent_out(gethostbyname2(name, argc > 3 && argv[3][0] == '6' ? AF_INET6 : AF_INET));
  if (!strcmp(mode, "ghbnr")) {
    struct hostent h, *r = NULL;
    char buf[1024];
    int herr = 0;
    int rv = gethostbyname_r(name, &h, buf, sizeof(buf), &r, &herr);
    if (!r) {
      printf("error %d %s (returned %d)\n", herr, hstrerror(herr), rv);
      return 2;
    }
    return hostent_out(r);
  }
  if (!strcmp(mode, "ghba") || !strcmp(mode, "gni")) {
    struct sockaddr_storage ss;
    socklen_t len = mkaddr(&ss, name, 0);
    CHECK(len > 0, "address %s", name);
    if (!strcmp(mode, "ghba")) {
      int v6 = ss.ss_family == AF_INET6;
      const void *a = v6 ? (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr : (void *)&((struct sockaddr_in *)&ss)->sin_addr;
      return hostent_out(gethostbyaddr(a, v6 ? 16 : 4, ss.ss_family));
    }
    char host[NI_MAXHOST];
    int e = getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL, 0, NI_NAMEREQD);
    if (e) {
      printf("error %d %s\n", e, gai_strerror(e));
      return 2;
    }
    printf("%s\n", host);
    return 0;
  }
  if (!strcmp(mode, "resq")) {
    const char *t = argc > 3 ? argv[3] : "A";
    int type = !strcmp(t, "AAAA") ? ns_t_aaaa : !strcmp(t, "PTR") ? ns_t_ptr : ns_t_a;
    unsigned char ans[4096];
    int n = res_query(name, ns_c_in, type, ans, sizeof(ans));
    if (n < 0) {
      printf("error %d %s\n", h_errno, hstrerror(h_errno));
      return 2;
    }
    ns_msg msg;
    CHECK(ns_initparse(ans, n, &msg) == 0, "parse the answer");
    printf("rcode %d answers %d\n", ns_msg_getflag(msg, ns_f_rcode), ns_msg_count(msg, ns_s_an));
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
      ns_rr rr;
      CHECK(ns_parserr(&msg, ns_s_an, i, &rr) == 0, "record %d", i);
      if (ns_rr_type(rr) == ns_t_a) print_addr(AF_INET, ns_rr_rdata(rr));
      if (ns_rr_type(rr) == ns_t_aaaa) print_addr(AF_INET6, ns_rr_rdata(rr));
      if (ns_rr_type(rr) == ns_t_ptr) {
        char dn[NS_MAXDNAME];
        CHECK(ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr), dn, sizeof(dn)) >= 0, "ptr");
        printf("%s\n", dn);
      }
    }
    return 0;
  }
  return 1;
}
