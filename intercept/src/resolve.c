/* Names without the host's resolver (RPC.md, "Names"). glibc's resolver opens its DNS sockets through
 * internal calls an LD_PRELOAD library never sees, so, as torsocks does, the resolver's entry points are
 * hooked: getaddrinfo, gethostbyname(2)(_r), gethostbyaddr(_r), getnameinfo, res_query, res_search,
 * res_querydomain, res_send and their res_n* and __res_* forms. Each asks the service (RESOLVE, REVERSE,
 * QUERY on the thread's control connection), which answers from the program's /etc/hosts, the network's
 * own names, the network's DNS servers (allowDNS=1, over the network) or, with ZT_NC_FALLTHROUGH=1 only,
 * says "use the host's resolver". Numeric addresses and service names never leave the process: they go to
 * the real functions, which do no lookups for them. Inactive (everything passes through) unless
 * ZT_NC_NETWORK is set. The exported hooks are the one-line stubs at the end of this file. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <net/if.h>
#include <netdb.h>
#include <resolv.h>

#include "names_codec.h"
#include "nc.h"

/* The real resolver functions, resolved once (refusing our own). */
static struct {
  int (*getaddrinfo)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
  int (*getnameinfo)(const struct sockaddr *, socklen_t, char *, socklen_t, char *, socklen_t, int);
  int (*gethostbyname_r)(const char *, struct hostent *, char *, size_t, struct hostent **, int *);
  int (*gethostbyname2_r)(const char *, int, struct hostent *, char *, size_t, struct hostent **, int *);
  int (*gethostbyaddr_r)(const void *, socklen_t, int, struct hostent *, char *, size_t, struct hostent **, int *);
  int (*res_query)(const char *, int, int, unsigned char *, int);
  int (*res_search)(const char *, int, int, unsigned char *, int);
  int (*res_send)(const unsigned char *, int, unsigned char *, int);
} rreal;
static pthread_once_t rreal_once = PTHREAD_ONCE_INIT;

EXPORT int getaddrinfo(const char *, const char *, const struct addrinfo *, struct addrinfo **);
EXPORT int getnameinfo(const struct sockaddr *, socklen_t, char *, socklen_t, char *, socklen_t, int);
EXPORT int gethostbyname_r(const char *, struct hostent *, char *, size_t, struct hostent **, int *);
EXPORT int gethostbyname2_r(const char *, int, struct hostent *, char *, size_t, struct hostent **, int *);
EXPORT int gethostbyaddr_r(const void *, socklen_t, int, struct hostent *, char *, size_t, struct hostent **, int *);
EXPORT int res_query(const char *, int, int, unsigned char *, int);
EXPORT int res_search(const char *, int, int, unsigned char *, int);
EXPORT int res_send(const unsigned char *, int, unsigned char *, int);

static void *next_sym(const char *name, void *ours) {
  void *p = dlsym(RTLD_NEXT, name);
  return p == ours ? NULL : p;
}

static void rreal_init(void) {
  rreal.getaddrinfo = next_sym("getaddrinfo", (void *)getaddrinfo);
  rreal.getnameinfo = next_sym("getnameinfo", (void *)getnameinfo);
  rreal.gethostbyname_r = next_sym("gethostbyname_r", (void *)gethostbyname_r);
  rreal.gethostbyname2_r = next_sym("gethostbyname2_r", (void *)gethostbyname2_r);
  rreal.gethostbyaddr_r = next_sym("gethostbyaddr_r", (void *)gethostbyaddr_r);
  rreal.res_query = next_sym("res_query", (void *)res_query);
  rreal.res_search = next_sym("res_search", (void *)res_search);
  rreal.res_send = next_sym("res_send", (void *)res_send);
}

#define RENSURE()                            \
  do {                                       \
    ENSURE();                                \
    pthread_once(&rreal_once, rreal_init);   \
  } while (0)

/* ---------- asking the service ---------- */

static uint16_t req_flags(void) { return fallthrough ? NC_REQ_FALLTHROUGH : 0; }

/* RESOLVE: 0 and *a filled (a->result > 0 found, 0 use the host), or -errno. */
static int ask_resolve(const char *name, int family, struct nc_resolve_answer *a) {
  uint8_t req[NC_NAME_MSG_MAX], resp[NC_NAME_MSG_MAX];
  size_t n = nc_put_resolve(req, req_flags(), (uint8_t)family, name);
  if (n == 0) return -ENOENT;
  int r = rpc(req, n, -1, resp, sizeof(resp), NULL);
  if (r < 0) return r;
  if (nc_get_resolve_answer(resp, (size_t)r, a) < 0) return -EIO;
  return a->result < 0 ? a->result : 0;
}

/* REVERSE / QUERY: the result (> 0: body bytes copied into out, at most cap; 0: use the host) or -errno. */
static int ask_body(uint8_t *req, size_t n, uint16_t op, uint8_t *out, size_t cap) {
  uint8_t resp[NC_NAME_MSG_MAX];
  int r = rpc(req, n, -1, resp, sizeof(resp), NULL);
  if (r < 0) return r;
  int32_t result;
  const uint8_t *body;
  if (nc_get_name_answer(resp, (size_t)r, op, &result, &body) < 0) return -EIO;
  if (result > 0) memcpy(out, body, (size_t)result < cap ? (size_t)result : cap);
  return result;
}

static int ask_reverse(int family, const uint8_t *addr, char *name, size_t cap) {
  uint8_t req[NC_NAME_MSG_MAX];
  size_t n = nc_put_reverse(req, req_flags(), (uint8_t)family, addr);
  char tmp[NC_NAME_MAX + 1];
  int r = ask_body(req, n, NC_OP_REVERSE, (uint8_t *)tmp, NC_NAME_MAX);
  if (r <= 0) return r;
  if (r > NC_NAME_MAX) return -EIO; /* longer than any name: a malformed answer */
  tmp[r] = 0;
  if ((size_t)r >= cap) return -ERANGE;
  memcpy(name, tmp, (size_t)r + 1);
  return r;
}

/* Is `name` an address literal (the real functions answer those without any lookup)? */
static int numeric(const char *name) {
  struct in_addr a4;
  struct in6_addr a6;
  char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (inet_aton(name, &a4)) return 1;
  size_t n = strcspn(name, "%");
  if (n >= sizeof(tmp)) return 0;
  memcpy(tmp, name, n);
  tmp[n] = 0;
  return inet_pton(AF_INET6, tmp, &a6) == 1;
}

static int fam_of(int af) { return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0; }

/* ---------- getaddrinfo ---------- */

static int gai_err(int err) {
  switch (err) {
    case -ENOENT: return EAI_NONAME;
    case -ENODATA: return EAI_NODATA;
    case -EAGAIN: return EAI_AGAIN;
    default: return EAI_AGAIN; /* the service did not answer: a temporary failure, never the host's resolver */
  }
}

static int do_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
  if (!rreal.getaddrinfo) return EAI_SYSTEM;
  int flags = hints ? hints->ai_flags : 0;
  int af = hints ? hints->ai_family : AF_UNSPEC;
  if (!active || !node || (flags & AI_NUMERICHOST) || numeric(node) || (af != AF_UNSPEC && af != AF_INET && af != AF_INET6))
    return rreal.getaddrinfo(node, service, hints, res);
  struct nc_resolve_answer a;
  /* AF_INET6 with AI_V4MAPPED takes IPv4 answers too (mapped by the real function below). */
  int want = (af == AF_INET6 && (flags & AI_V4MAPPED)) ? 0 : fam_of(af);
  int r = ask_resolve(node, want, &a);
  if (r < 0) return gai_err(r);
  if (a.result == 0) return rreal.getaddrinfo(node, service, hints, res);
  /* Each address through the real function as a numeric host: it applies the service, socktype and
   * protocol, and allocates nodes freeaddrinfo() frees. The host's interfaces do not decide (no
   * AI_ADDRCONFIG): the network's do, and it has these addresses. */
  struct addrinfo h;
  memset(&h, 0, sizeof(h));
  if (hints) h = *hints;
  h.ai_flags = (flags & ~(AI_CANONNAME | AI_ADDRCONFIG)) | AI_NUMERICHOST;
  h.ai_canonname = NULL;
  h.ai_addr = NULL;
  h.ai_next = NULL;
  struct addrinfo *head = NULL, **tail = &head;
  int last = EAI_NONAME;
  int v6first = af == AF_INET6;
  for (int pass = 0; pass < 2; pass++) /* with AI_V4MAPPED, IPv6 answers first */
    for (int i = 0; i < a.count; i++) {
      if (v6first && (a.addrs[i].family == 6) != (pass == 0)) continue;
      if (!v6first && pass == 1) continue;
      char text[INET6_ADDRSTRLEN];
      inet_ntop(a.addrs[i].family == 4 ? AF_INET : AF_INET6, a.addrs[i].addr, text, sizeof(text));
      struct addrinfo *part = NULL;
      int e = rreal.getaddrinfo(text, service, &h, &part);
      if (e != 0) {
        last = e;
        continue;
      }
      *tail = part;
      while (*tail) tail = &(*tail)->ai_next;
    }
  if (!head) return last;
  if (flags & AI_CANONNAME) head->ai_canonname = strdup(a.canon[0] ? a.canon : node);
  *res = head;
  return 0;
}

/* ---------- gethostbyname*, gethostbyaddr* ---------- */

/* Lays out a hostent with one name and `count` addresses of `af` in buf. 0, or ERANGE. */
static int fill_hostent(struct hostent *h, char *buf, size_t buflen, const char *name, int af,
                        const uint8_t (*addrs)[16], int count) {
  size_t alen = af == AF_INET ? 4 : 16;
  size_t align = sizeof(char *);
  size_t pad = (align - ((uintptr_t)buf % align)) % align;
  size_t need = pad + sizeof(char *) * (size_t)(count + 2) + alen * (size_t)count + strlen(name) + 1;
  if (need > buflen) return ERANGE;
  char **ptrs = (char **)(buf + pad);
  char *p = (char *)(ptrs + count + 2);
  ptrs[count] = NULL;     /* end of h_addr_list */
  ptrs[count + 1] = NULL; /* h_aliases: none */
  for (int i = 0; i < count; i++) {
    memcpy(p, addrs[i], alen);
    ptrs[i] = p;
    p += alen;
  }
  strcpy(p, name);
  h->h_name = p;
  h->h_aliases = ptrs + count + 1;
  h->h_addrtype = af;
  h->h_length = (int)alen;
  h->h_addr_list = ptrs;
  return 0;
}

static int herr_of(int err) {
  return err == -ENOENT ? HOST_NOT_FOUND : err == -ENODATA ? NO_DATA : TRY_AGAIN;
}

/* 1 when answered here (*result set, return value in *ret), 0 when the real function should answer. */
static int byname(const char *name, int af, struct hostent *ret, char *buf, size_t buflen, struct hostent **result,
                  int *herr, int *rv) {
  if (!active || !name || numeric(name) || (af != AF_INET && af != AF_INET6)) return 0;
  struct nc_resolve_answer a;
  int r = ask_resolve(name, fam_of(af), &a);
  *result = NULL;
  if (r == 0 && a.result == 0) return 0;
  if (r < 0) {
    *herr = herr_of(r);
    *rv = *herr == TRY_AGAIN ? EAGAIN : 0;
    return 1;
  }
  uint8_t addrs[NC_NAME_ADDRS_MAX][16];
  int n = 0;
  for (int i = 0; i < a.count; i++)
    if (a.addrs[i].family == fam_of(af)) memcpy(addrs[n++], a.addrs[i].addr, 16);
  if (n == 0) {
    *herr = NO_DATA;
    *rv = 0;
    return 1;
  }
  int e = fill_hostent(ret, buf, buflen, a.canon[0] ? a.canon : name, af, (const uint8_t(*)[16])addrs, n);
  if (e) {
    *herr = NETDB_INTERNAL;
    errno = ERANGE;
    *rv = ERANGE;
    return 1;
  }
  *result = ret;
  *herr = 0;
  *rv = 0;
  return 1;
}

static int do_gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                               struct hostent **result, int *herr) {
  int rv;
  if (byname(name, af, ret, buf, buflen, result, herr, &rv)) return rv;
  if (!rreal.gethostbyname2_r) return ENOSYS;
  return rreal.gethostbyname2_r(name, af, ret, buf, buflen, result, herr);
}

static int do_gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                              struct hostent **result, int *herr) {
  int rv;
  if (byname(name, AF_INET, ret, buf, buflen, result, herr, &rv)) return rv;
  if (!rreal.gethostbyname_r) return ENOSYS;
  return rreal.gethostbyname_r(name, ret, buf, buflen, result, herr);
}

static int do_gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf,
                              size_t buflen, struct hostent **result, int *herr) {
  if (active && addr && ((type == AF_INET && len == 4) || (type == AF_INET6 && len == 16))) {
    char name[NC_NAME_MAX + 1];
    int r = ask_reverse(fam_of(type), addr, name, sizeof(name));
    if (r != 0) {
      *result = NULL;
      if (r < 0) {
        *herr = herr_of(r);
        return *herr == TRY_AGAIN ? EAGAIN : 0;
      }
      uint8_t a[1][16];
      memset(a, 0, sizeof(a));
      memcpy(a[0], addr, len);
      if (fill_hostent(ret, buf, buflen, name, type, (const uint8_t(*)[16])a, 1)) {
        *herr = NETDB_INTERNAL;
        errno = ERANGE;
        return ERANGE;
      }
      *result = ret;
      *herr = 0;
      return 0;
    }
  }
  if (!rreal.gethostbyaddr_r) return ENOSYS;
  return rreal.gethostbyaddr_r(addr, len, type, ret, buf, buflen, result, herr);
}

/* The non-reentrant forms share one static result, as glibc's do. */
static struct hostent static_host;
static char static_buf[2048];

static struct hostent *static_result(int rv, struct hostent *result, int herr) {
  h_errno = herr;
  if (rv == ERANGE) h_errno = NETDB_INTERNAL;
  return result;
}

/* ---------- getnameinfo ---------- */

static int do_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen, char *serv,
                          socklen_t servlen, int flags) {
  if (!rreal.getnameinfo) return EAI_SYSTEM;
  if (!active || !sa || !host || hostlen == 0 || (flags & NI_NUMERICHOST) ||
      (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
    return rreal.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
  uint8_t addr[16] = {0};
  int fam;
  if (sa->sa_family == AF_INET) {
    if (salen < (socklen_t)sizeof(struct sockaddr_in)) return EAI_FAMILY;
    memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    fam = 4;
  } else {
    if (salen < (socklen_t)sizeof(struct sockaddr_in6)) return EAI_FAMILY;
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
      memcpy(addr, a6->s6_addr + 12, 4);
      fam = 4;
    } else {
      memcpy(addr, a6->s6_addr, 16);
      fam = 6;
    }
  }
  char name[NC_NAME_MAX + 1];
  int r = ask_reverse(fam, addr, name, sizeof(name));
  if (r == 0) return rreal.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
  if (r == -ERANGE) return EAI_OVERFLOW;
  if (r < 0 && (flags & NI_NAMEREQD)) return r == -EAGAIN ? EAI_AGAIN : EAI_NONAME;
  /* The service part (and a numeric host when there is no name) from the real function: no lookup. */
  int e = rreal.getnameinfo(sa, salen, host, hostlen, serv, servlen, (flags & ~NI_NAMEREQD) | NI_NUMERICHOST);
  if (e != 0 || r < 0) return e;
  if ((socklen_t)strlen(name) >= hostlen) return EAI_OVERFLOW;
  strcpy(host, name);
  return 0;
}

/* ---------- res_query and friends ---------- */

/* The answer `ans` (n bytes) as res_query reports it: its length, or -1 with h_errno from its rcode. */
static int res_outcome(const unsigned char *ans, int n) {
  if (n < 12) {
    h_errno = NO_RECOVERY;
    return -1;
  }
  int rcode = ans[3] & 0x0f;
  int ancount = (ans[6] << 8) | ans[7];
  if (rcode == ns_r_nxdomain) {
    h_errno = HOST_NOT_FOUND;
    return -1;
  }
  if (rcode == ns_r_servfail) {
    h_errno = TRY_AGAIN;
    return -1;
  }
  if (rcode != ns_r_noerror) {
    h_errno = NO_RECOVERY;
    return -1;
  }
  if (ancount == 0) {
    h_errno = NO_DATA;
    return -1;
  }
  return n;
}

/* A query message to the service: its answer's length (copied into answer), -2 = use the host, -1 = failed. */
static int send_query(const unsigned char *msg, int msglen, unsigned char *answer, int anslen, int *len) {
  uint8_t req[NC_NAME_MSG_MAX];
  size_t n = nc_put_query(req, req_flags(), msg, (size_t)msglen);
  if (n == 0) {
    h_errno = NO_RECOVERY;
    return -1;
  }
  uint8_t body[NC_NAME_MSG_MAX];
  int r = ask_body(req, n, NC_OP_QUERY, body, sizeof(body));
  if (r == 0) return -2;
  if (r < 0) {
    h_errno = r == -EAGAIN ? TRY_AGAIN : r == -ENOENT ? HOST_NOT_FOUND : NO_RECOVERY;
    return -1;
  }
  memcpy(answer, body, (size_t)(r < anslen ? r : anslen));
  *len = r < anslen ? r : anslen;
  return 0;
}

static int do_res_query(const char *dname, int klass, int type, unsigned char *answer, int anslen) {
  if (!active) return rreal.res_query ? rreal.res_query(dname, klass, type, answer, anslen) : -1;
  unsigned char q[NC_QUERY_MAX];
  int qlen = res_mkquery(ns_o_query, dname, klass, type, NULL, 0, NULL, q, sizeof(q));
  if (qlen < 0) {
    h_errno = NO_RECOVERY;
    return -1;
  }
  int len = 0;
  int r = send_query(q, qlen, answer, anslen, &len);
  if (r == -2) return rreal.res_query ? rreal.res_query(dname, klass, type, answer, anslen) : -1;
  if (r < 0) return -1;
  return res_outcome(answer, len);
}

static int do_res_search(const char *dname, int klass, int type, unsigned char *answer, int anslen) {
  if (!active) return rreal.res_search ? rreal.res_search(dname, klass, type, answer, anslen) : -1;
  return do_res_query(dname, klass, type, answer, anslen); /* search domains: see RPC.md, "Names" */
}

static int do_res_querydomain(const char *name, const char *domain, int klass, int type, unsigned char *answer,
                              int anslen) {
  char full[NS_MAXDNAME];
  if (!domain) return do_res_query(name, klass, type, answer, anslen);
  if ((size_t)snprintf(full, sizeof(full), "%s.%s", name, domain) >= sizeof(full)) {
    h_errno = NO_RECOVERY;
    return -1;
  }
  return do_res_query(full, klass, type, answer, anslen);
}

static int do_res_send(const unsigned char *msg, int msglen, unsigned char *answer, int anslen) {
  if (!active) return rreal.res_send ? rreal.res_send(msg, msglen, answer, anslen) : -1;
  int len = 0;
  int r = send_query(msg, msglen, answer, anslen, &len);
  if (r == -2) return rreal.res_send ? rreal.res_send(msg, msglen, answer, anslen) : -1;
  return r < 0 ? -1 : len;
}

/* ---------- the exported hooks ---------- */

EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
  RENSURE();
  return do_getaddrinfo(node, service, hints, res);
}
EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen, char *serv,
                       socklen_t servlen, int flags) {
  RENSURE();
  return do_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
}
EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen, struct hostent **result,
                           int *herr) {
  RENSURE();
  return do_gethostbyname_r(name, ret, buf, buflen, result, herr);
}
EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                            struct hostent **result, int *herr) {
  RENSURE();
  return do_gethostbyname2_r(name, af, ret, buf, buflen, result, herr);
}
EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf, size_t buflen,
                           struct hostent **result, int *herr) {
  RENSURE();
  return do_gethostbyaddr_r(addr, len, type, ret, buf, buflen, result, herr);
}
EXPORT struct hostent *gethostbyname(const char *name) {
  RENSURE();
  struct hostent *r = NULL;
  int herr = 0, rv = do_gethostbyname_r(name, &static_host, static_buf, sizeof(static_buf), &r, &herr);
  return static_result(rv, r, herr);
}
EXPORT struct hostent *gethostbyname2(const char *name, int af) {
  RENSURE();
  struct hostent *r = NULL;
  int herr = 0, rv = do_gethostbyname2_r(name, af, &static_host, static_buf, sizeof(static_buf), &r, &herr);
  return static_result(rv, r, herr);
}
EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type) {
  RENSURE();
  struct hostent *r = NULL;
  int herr = 0, rv = do_gethostbyaddr_r(addr, len, type, &static_host, static_buf, sizeof(static_buf), &r, &herr);
  return static_result(rv, r, herr);
}
EXPORT int res_query(const char *dname, int klass, int type, unsigned char *answer, int anslen) {
  RENSURE();
  return do_res_query(dname, klass, type, answer, anslen);
}
EXPORT int res_search(const char *dname, int klass, int type, unsigned char *answer, int anslen) {
  RENSURE();
  return do_res_search(dname, klass, type, answer, anslen);
}
EXPORT int res_querydomain(const char *name, const char *domain, int klass, int type, unsigned char *answer,
                           int anslen) {
  RENSURE();
  return do_res_querydomain(name, domain, klass, type, answer, anslen);
}
EXPORT int res_send(const unsigned char *msg, int msglen, unsigned char *answer, int anslen) {
  RENSURE();
  return do_res_send(msg, msglen, answer, anslen);
}
EXPORT int res_nquery(res_state s, const char *dname, int klass, int type, unsigned char *answer, int anslen) {
  (void)s;
  RENSURE();
  return do_res_query(dname, klass, type, answer, anslen);
}
EXPORT int res_nsearch(res_state s, const char *dname, int klass, int type, unsigned char *answer, int anslen) {
  (void)s;
  RENSURE();
  return do_res_search(dname, klass, type, answer, anslen);
}
EXPORT int res_nquerydomain(res_state s, const char *name, const char *domain, int klass, int type,
                            unsigned char *answer, int anslen) {
  (void)s;
  RENSURE();
  return do_res_querydomain(name, domain, klass, type, answer, anslen);
}
EXPORT int res_nsend(res_state s, const unsigned char *msg, int msglen, unsigned char *answer, int anslen) {
  (void)s;
  RENSURE();
  return do_res_send(msg, msglen, answer, anslen);
}
/* Programs built against glibc before 2.34 call these names (resolv.h's macros then). */
EXPORT int __res_query(const char *dname, int klass, int type, unsigned char *answer, int anslen) {
  RENSURE();
  return do_res_query(dname, klass, type, answer, anslen);
}
EXPORT int __res_search(const char *dname, int klass, int type, unsigned char *answer, int anslen) {
  RENSURE();
  return do_res_search(dname, klass, type, answer, anslen);
}
EXPORT int __res_querydomain(const char *name, const char *domain, int klass, int type, unsigned char *answer,
                             int anslen) {
  RENSURE();
  return do_res_querydomain(name, domain, klass, type, answer, anslen);
}
EXPORT int __res_send(const unsigned char *msg, int msglen, unsigned char *answer, int anslen) {
  RENSURE();
  return do_res_send(msg, msglen, answer, anslen);
}
EXPORT int __res_nquery(res_state s, const char *dname, int klass, int type, unsigned char *answer, int anslen) {
  (void)s;
  RENSURE();
  return do_res_query(dname, klass, type, answer, anslen);
}
EXPORT int __res_nsearch(res_state s, const char *dname, int klass, int type, unsigned char *answer, int anslen) {
  (void)s;
  RENSURE();
  return do_res_search(dname, klass, type, answer, anslen);
}
