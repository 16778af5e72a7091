/* nc_sem TEST PEER TCPPORT UDPPORT SELF: socket semantics under the preload, one test per run.
 * PEER runs nc_echo (TCP on TCPPORT, UDP on UDPPORT) on the other stack; SELF is this stack's
 * IPv4 address. Prints "ok TEST" and exits 0, or "FAIL …" and exits 1. */
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nctest.h"

static const char *peer, *self;
static int tport, uport;
static char *argv0;

static int tcp_connect(const char *ip, int port) {
  struct sockaddr_storage ss;
  socklen_t l = mkaddr(&ss, ip, port);
  int s = socket(ss.ss_family, SOCK_STREAM, 0);
  CHECK(s >= 0, "socket");
  CHECK(connect(s, (struct sockaddr *)&ss, l) == 0, "connect %s:%d", ip, port);
  return s;
}

static void roundtrip(int s, const char *msg) {
  size_t n = strlen(msg);
  CHECK(write(s, msg, n) == (ssize_t)n, "write");
  char buf[256];
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(s, buf + got, sizeof(buf) - got);
    CHECK(r > 0, "read echo (%zd)", r);
    got += (size_t)r;
  }
  CHECK(memcmp(buf, msg, n) == 0, "echo differs");
}

static int listener(const char *ip, int port, int type, int backlog) {
  struct sockaddr_storage ss;
  socklen_t l = mkaddr(&ss, ip, port);
  int s = socket(ss.ss_family, type, 0);
  CHECK(s >= 0, "socket");
  CHECK(bind(s, (struct sockaddr *)&ss, l) == 0, "bind %s:%d", ip, port);
  if ((type & 0xf) == SOCK_STREAM) CHECK(listen(s, backlog) == 0, "listen");
  return s;
}

static int local_port(int s) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof(ss);
  CHECK(getsockname(s, (struct sockaddr *)&ss, &l) == 0, "getsockname");
  return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
}

static int getint(int s, int level, int name) {
  int v = -1;
  socklen_t l = sizeof(v);
  CHECK(getsockopt(s, level, name, &v, &l) == 0, "getsockopt %d/%d", level, name);
  return v;
}

static void t_socket_flags(void) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  CHECK(s >= 0, "socket");
  CHECK(fcntl(s, F_GETFL) & O_NONBLOCK, "O_NONBLOCK");
  CHECK(fcntl(s, F_GETFD) & FD_CLOEXEC, "FD_CLOEXEC");
  CHECK(getint(s, SOL_SOCKET, SO_TYPE) == SOCK_STREAM, "SO_TYPE");
  CHECK(getint(s, SOL_SOCKET, SO_DOMAIN) == AF_INET, "SO_DOMAIN");
  CHECK(getint(s, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP, "SO_PROTOCOL");
  CHECK(getint(s, SOL_SOCKET, SO_ACCEPTCONN) == 0, "SO_ACCEPTCONN");
  close(s);
  s = socket(AF_INET6, SOCK_DGRAM, 0);
  CHECK(s >= 0, "socket6");
  CHECK(!(fcntl(s, F_GETFL) & O_NONBLOCK), "blocking by default");
  CHECK(!(fcntl(s, F_GETFD) & FD_CLOEXEC), "no cloexec by default");
  CHECK(getint(s, SOL_SOCKET, SO_TYPE) == SOCK_DGRAM, "SO_TYPE dgram");
  CHECK(getint(s, SOL_SOCKET, SO_DOMAIN) == AF_INET6, "SO_DOMAIN 6");
  CHECK(getint(s, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_UDP, "SO_PROTOCOL udp");
  close(s);
  s = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK(s >= 0 && getint(s, SOL_SOCKET, SO_DOMAIN) == AF_INET6, "inet6 stream");
  close(s);
  /* AF_UNIX and AF_NETLINK pass through untouched */
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
  CHECK(getint(sv[0], SOL_SOCKET, SO_DOMAIN) == AF_UNIX, "unix domain");
  CHECK(write(sv[0], "x", 1) == 1 && read(sv[1], &(char){0}, 1) == 1, "unix data");
  close(sv[0]);
  close(sv[1]);
  s = socket(AF_NETLINK, SOCK_RAW, 0);
  CHECK(s >= 0 && getint(s, SOL_SOCKET, SO_DOMAIN) == AF_NETLINK, "netlink");
  close(s);
}

static void t_bind(void) {
  int a = listener(self, 0, SOCK_STREAM, 8);
  int p = local_port(a);
  CHECK(p > 0, "ephemeral port visible");
  struct sockaddr_storage ss;
  socklen_t l = sizeof(ss);
  char b[80];
  CHECK(getsockname(a, (struct sockaddr *)&ss, &l) == 0, "getsockname");
  char want[80];
  snprintf(want, sizeof(want), "%s:%d", self, p);
  CHECK(strcmp(fmtaddr(&ss, b, sizeof(b)), want) == 0, "bound address %s", b);
  /* the same port again: EADDRINUSE, on the specific address and on the wildcard */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  l = mkaddr(&ss, self, p);
  CHECK(bind(s, (struct sockaddr *)&ss, l) < 0 && errno == EADDRINUSE, "EADDRINUSE");
  l = mkaddr(&ss, "0.0.0.0", p);
  CHECK(bind(s, (struct sockaddr *)&ss, l) < 0 && errno == EADDRINUSE, "EADDRINUSE wildcard");
  close(s);
  /* an address the network does not give us */
  s = socket(AF_INET, SOCK_STREAM, 0);
  l = mkaddr(&ss, "10.99.99.99", 0);
  CHECK(bind(s, (struct sockaddr *)&ss, l) < 0 && errno == EADDRNOTAVAIL, "EADDRNOTAVAIL");
  close(s);
  /* wildcard */
  int w = listener("0.0.0.0", 0, SOCK_STREAM, 8);
  CHECK(local_port(w) > 0, "wildcard ephemeral");
  close(w);
  /* SO_REUSEPORT on both: two listeners on one port */
  int one = 1;
  int r1 = socket(AF_INET, SOCK_STREAM, 0), r2 = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(r1, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  setsockopt(r2, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  l = mkaddr(&ss, self, 0);
  CHECK(bind(r1, (struct sockaddr *)&ss, l) == 0 && listen(r1, 4) == 0, "reuseport 1");
  l = mkaddr(&ss, self, local_port(r1));
  CHECK(bind(r2, (struct sockaddr *)&ss, l) == 0 && listen(r2, 4) == 0, "reuseport 2");
  /* closing frees the port, at once (the service sees the hang-up when it checks the conflict) */
  close(a);
  s = socket(AF_INET, SOCK_STREAM, 0);
  l = mkaddr(&ss, self, p);
  CHECK(bind(s, (struct sockaddr *)&ss, l) == 0, "port free after close");
  close(s);
}

static void t_listen_accept(void) {
  int l = listener(self, 0, SOCK_STREAM | SOCK_NONBLOCK, 8);
  CHECK(getint(l, SOL_SOCKET, SO_ACCEPTCONN) == 1, "SO_ACCEPTCONN");
  CHECK(accept(l, NULL, NULL) < 0 && errno == EAGAIN, "EAGAIN with nothing waiting");
  struct pollfd p = {l, POLLIN, 0};
  CHECK(poll(&p, 1, 0) == 0, "not readable yet");
  int c = tcp_connect(self, local_port(l));
  CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN), "listener readable when a connection waits");
  struct sockaddr_storage peer_addr, cname;
  socklen_t pl = sizeof(peer_addr), cl = sizeof(cname);
  int a = accept4(l, (struct sockaddr *)&peer_addr, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
  CHECK(a >= 0, "accept4");
  CHECK(fcntl(a, F_GETFL) & O_NONBLOCK, "accept4 SOCK_NONBLOCK");
  CHECK(fcntl(a, F_GETFD) & FD_CLOEXEC, "accept4 SOCK_CLOEXEC");
  CHECK(getsockname(c, (struct sockaddr *)&cname, &cl) == 0, "client getsockname");
  char x[80], y[80];
  CHECK(strcmp(fmtaddr(&peer_addr, x, sizeof(x)), fmtaddr(&cname, y, sizeof(y))) == 0, "peer %s vs %s", x, y);
  CHECK(getint(a, SOL_SOCKET, SO_ACCEPTCONN) == 0, "accepted not listening");
  CHECK(write(c, "ping", 4) == 4, "write");
  struct pollfd pa = {a, POLLIN, 0};
  CHECK(poll(&pa, 1, 5000) == 1, "data readable");
  char buf[8];
  CHECK(read(a, buf, sizeof(buf)) == 4 && memcmp(buf, "ping", 4) == 0, "data");
  int b = accept(l, NULL, NULL);
  CHECK(b < 0 && errno == EAGAIN, "one connection, one accept");
  /* a blocking accept in a blocking listener waits for the connection */
  int l2 = listener(self, 0, SOCK_STREAM, 8);
  pid_t parent = getpid();
  if (fork() == 0) {
    /* connect once the parent is blocked in accept (the library's recvmsg on the listening pair) */
    CHECK(wait_in_syscall(parent, parent, SYS_recvmsg), "parent blocked in accept");
    int cc = tcp_connect(self, local_port(l2));
    (void)cc;
    _exit(0);
  }
  int a2 = accept(l2, NULL, NULL);
  CHECK(a2 >= 0, "blocking accept");
  wait(NULL);
  close(a2);
  close(a);
  close(c);
  close(l);
}

static void t_connect_refused(void) {
  struct sockaddr_storage ss;
  socklen_t l = mkaddr(&ss, peer, 1);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(s, (struct sockaddr *)&ss, l) < 0 && errno == ECONNREFUSED, "blocking connect ECONNREFUSED");
  close(s);
  s = socket(AF_INET, SOCK_STREAM, 0);
  l = mkaddr(&ss, "192.0.2.1", 80);
  CHECK(connect(s, (struct sockaddr *)&ss, l) < 0 && errno == ENETUNREACH, "ENETUNREACH outside the network");
  close(s);
}

static void t_connect_nonblock(void) {
  struct sockaddr_storage ss;
  socklen_t l = mkaddr(&ss, peer, tport);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int r = connect(s, (struct sockaddr *)&ss, l);
  CHECK(r < 0 && errno == EINPROGRESS, "EINPROGRESS");
  r = connect(s, (struct sockaddr *)&ss, l);
  CHECK(r < 0 && (errno == EALREADY || errno == EISCONN), "second connect");
  struct pollfd p = {s, POLLOUT, 0};
  CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLOUT), "writable when connected");
  CHECK(getint(s, SOL_SOCKET, SO_ERROR) == 0, "SO_ERROR 0");
  struct sockaddr_storage pn;
  socklen_t pl = sizeof(pn);
  char b[80], want[80];
  CHECK(getpeername(s, (struct sockaddr *)&pn, &pl) == 0, "getpeername");
  snprintf(want, sizeof(want), "%s:%d", peer, tport);
  CHECK(strcmp(fmtaddr(&pn, b, sizeof(b)), want) == 0, "peer name %s", b);
  CHECK(local_port(s) > 0, "local port after connect");
  int fl = fcntl(s, F_GETFL);
  fcntl(s, F_SETFL, fl & ~O_NONBLOCK);
  roundtrip(s, "hello nonblocking");
  close(s);
  /* refused, seen through SO_ERROR */
  s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  l = mkaddr(&ss, peer, 1);
  r = connect(s, (struct sockaddr *)&ss, l);
  CHECK(r < 0 && errno == EINPROGRESS, "EINPROGRESS (refused)");
  p.fd = s;
  CHECK(poll(&p, 1, 5000) == 1, "poll refused");
  CHECK(getint(s, SOL_SOCKET, SO_ERROR) == ECONNREFUSED, "SO_ERROR ECONNREFUSED");
  CHECK(getint(s, SOL_SOCKET, SO_ERROR) == 0, "SO_ERROR cleared");
  /* getpeername on an unconnected socket */
  int u = socket(AF_INET, SOCK_STREAM, 0);
  pl = sizeof(pn);
  CHECK(getpeername(u, (struct sockaddr *)&pn, &pl) < 0 && errno == ENOTCONN, "ENOTCONN");
  close(u);
  close(s);
}

static void t_sockopts(void) {
  int s = tcp_connect(peer, tport);
  int one = 1, five = 5;
  CHECK(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0, "TCP_NODELAY");
  CHECK(getint(s, IPPROTO_TCP, TCP_NODELAY) == 1, "TCP_NODELAY read back");
  CHECK(setsockopt(s, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)) == 0, "TCP_CORK");
  CHECK(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == 0, "SO_KEEPALIVE");
  CHECK(getint(s, SOL_SOCKET, SO_KEEPALIVE) == 1, "SO_KEEPALIVE read back");
  CHECK(setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &five, sizeof(five)) == 0, "TCP_KEEPIDLE");
  CHECK(setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &five, sizeof(five)) == 0, "TCP_KEEPINTVL");
  CHECK(setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &five, sizeof(five)) == 0, "TCP_KEEPCNT");
  int big = 1 << 20;
  CHECK(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)) == 0, "SO_RCVBUF");
  CHECK(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)) == 0, "SO_SNDBUF");
  struct linger lg = {1, 5};
  CHECK(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0, "SO_LINGER");
  roundtrip(s, "still works");
  close(s);
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  CHECK(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "SO_REUSEADDR");
  CHECK(setsockopt(l, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0, "SO_REUSEPORT");
  CHECK(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == 0, "IPV6_V6ONLY");
  CHECK(getint(l, IPPROTO_IPV6, IPV6_V6ONLY) == 1, "IPV6_V6ONLY read back");
  CHECK(setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &five, sizeof(five)) == 0, "TCP_DEFER_ACCEPT");
  CHECK(getint(l, SOL_SOCKET, SO_REUSEADDR) == 1, "SO_REUSEADDR read back");
  close(l);
}

static void t_shutdown(void) {
  int s = tcp_connect(peer, tport);
  CHECK(write(s, "half", 4) == 4, "write");
  CHECK(shutdown(s, SHUT_WR) == 0, "shutdown");
  char buf[16];
  size_t got = 0;
  for (;;) {
    ssize_t r = read(s, buf + got, sizeof(buf) - got);
    CHECK(r >= 0, "read after shutdown");
    if (r == 0) break;
    got += (size_t)r;
  }
  CHECK(got == 4 && memcmp(buf, "half", 4) == 0, "echo then EOF (got %zu)", got);
  close(s);
  int u = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(shutdown(u, SHUT_WR) < 0 && errno == ENOTCONN, "shutdown unconnected");
  close(u);
}

static pid_t reader_tid;
static void *closer(void *arg) {
  /* close once the other thread is blocked in read() */
  CHECK(wait_in_syscall(getpid(), reader_tid, SYS_read), "reader blocked in read");
  close((int)(long)arg);
  return NULL;
}

static void t_close(void) {
  int l = listener(self, 0, SOCK_STREAM, 8);
  int c = tcp_connect(self, local_port(l));
  int a = accept(l, NULL, NULL);
  CHECK(a >= 0, "accept");
  /* close from another thread: the peer sees EOF */
  pthread_t t;
  reader_tid = (pid_t)syscall(SYS_gettid);
  pthread_create(&t, NULL, closer, (void *)(long)c);
  char buf[8];
  CHECK(read(a, buf, sizeof(buf)) == 0, "peer sees EOF after close in another thread");
  pthread_join(t, NULL);
  close(a);
  /* abortive close (SO_LINGER 0): the peer's connection ends at once */
  c = tcp_connect(self, local_port(l));
  a = accept(l, NULL, NULL);
  struct linger lg = {1, 0};
  CHECK(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0, "linger 0");
  close(c);
  ssize_t r = read(a, buf, sizeof(buf));
  CHECK(r == 0 || (r < 0 && errno == ECONNRESET), "reset seen (%zd)", r);
  close(a);
  close(l);
}

static void t_udp(void) {
  struct sockaddr_storage to, from;
  socklen_t tl = mkaddr(&to, peer, uport);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s >= 0, "socket");
  static char big[60000];
  memset(big, 'u', sizeof(big));
  size_t sizes[3] = {1, 1000, sizeof(big)};
  for (int i = 0; i < 3; i++)
    CHECK(sendto(s, big, sizes[i], 0, (struct sockaddr *)&to, tl) == (ssize_t)sizes[i], "sendto %zu", sizes[i]);
  char buf[65536];
  for (int i = 0; i < 3; i++) {
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
    CHECK(n == (ssize_t)sizes[i], "datagram %d kept its size (%zd)", i, n);
    char b[80], want[80];
    snprintf(want, sizeof(want), "%s:%d", peer, uport);
    CHECK(strcmp(fmtaddr(&from, b, sizeof(b)), want) == 0, "source %s", b);
  }
  CHECK(local_port(s) > 0, "auto-bound port");
  /* sendmsg / recvmsg with addresses */
  struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
  struct msghdr mh = {0};
  mh.msg_name = &to;
  mh.msg_namelen = tl;
  mh.msg_iov = iov;
  mh.msg_iovlen = 2;
  CHECK(sendmsg(s, &mh, 0) == 4, "sendmsg");
  struct iovec riov = {buf, sizeof(buf)};
  struct msghdr rm = {0};
  rm.msg_name = &from;
  rm.msg_namelen = sizeof(from);
  rm.msg_iov = &riov;
  rm.msg_iovlen = 1;
  CHECK(recvmsg(s, &rm, 0) == 4 && memcmp(buf, "abcd", 4) == 0, "recvmsg");
  CHECK(rm.msg_namelen == sizeof(struct sockaddr_in) && ((struct sockaddr_in *)&from)->sin_port == htons(uport),
        "recvmsg address");
  /* truncation: MSG_TRUNC in msg_flags */
  CHECK(sendto(s, big, 100, 0, (struct sockaddr *)&to, tl) == 100, "sendto 100");
  riov.iov_len = 10;
  rm.msg_namelen = sizeof(from);
  CHECK(recvmsg(s, &rm, 0) == 10 && (rm.msg_flags & MSG_TRUNC), "truncated datagram");
  /* recv() without an address on an unconnected socket: the payload only; send() needs one */
  CHECK(sendto(s, "plain", 5, 0, (struct sockaddr *)&to, tl) == 5, "sendto plain");
  CHECK(recv(s, buf, sizeof(buf), 0) == 5 && memcmp(buf, "plain", 5) == 0, "recv on an unconnected socket");
  CHECK(send(s, "x", 1, 0) < 0 && errno == EDESTADDRREQ, "send without a destination");
  close(s);
  /* connected UDP: plain write/read */
  int c = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(connect(c, (struct sockaddr *)&to, tl) == 0, "connect udp");
  struct sockaddr_storage pn;
  socklen_t pl = sizeof(pn);
  CHECK(getpeername(c, (struct sockaddr *)&pn, &pl) == 0, "udp getpeername");
  CHECK(write(c, "conn", 4) == 4, "write");
  CHECK(read(c, buf, sizeof(buf)) == 4 && memcmp(buf, "conn", 4) == 0, "read");
  CHECK(send(c, "x", 1, 0) == 1 && recv(c, buf, sizeof(buf), 0) == 1, "send/recv");
  close(c);
}

/* glibc's fortified read() (_FORTIFY_SOURCE with a known buffer size) calls this, not read() */
extern ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen);

/* Sends one datagram of `len` bytes of `c` to `to` from s. */
static void send_dg(int s, const struct sockaddr_storage *to, socklen_t tl, char c, size_t len) {
  static char b[65536];
  memset(b, c, len);
  CHECK(sendto(s, b, len, 0, (const struct sockaddr *)to, tl) == (ssize_t)len, "sendto %zu", len);
}

/* The next datagram (echoed back, or sent to s) arrives within 5 s. */
static void wait_readable(int s) {
  struct pollfd p = {s, POLLIN, 0};
  CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN), "a datagram arrives");
}

static int all_are(const char *b, size_t n, char c) {
  for (size_t i = 0; i < n; i++)
    if (b[i] != c) return 0;
  return 1;
}

static void t_udp_read(void) {
  struct sockaddr_storage to;
  socklen_t tl = mkaddr(&to, peer, uport);
  char buf[65536];
  /* a bound, unconnected socket: read() gives the payload of one datagram, nothing else */
  int s = listener(self, 0, SOCK_DGRAM, 0);
  CHECK(sendto(s, "hello", 5, 0, (struct sockaddr *)&to, tl) == 5, "sendto");
  ssize_t n = read(s, buf, sizeof(buf));
  CHECK(n == 5 && memcmp(buf, "hello", 5) == 0, "read() returns the payload only (%zd)", n);
  /* datagram boundaries are kept */
  size_t sizes[3] = {3, 1000, 60000};
  for (int i = 0; i < 3; i++) send_dg(s, &to, tl, (char)('a' + i), sizes[i]);
  for (int i = 0; i < 3; i++) {
    n = read(s, buf, sizeof(buf));
    CHECK(n == (ssize_t)sizes[i] && all_are(buf, sizes[i], (char)('a' + i)), "datagram %d by read() (%zd)", i, n);
  }
  /* truncation as the kernel does it: the rest of the datagram is gone */
  send_dg(s, &to, tl, 't', 100);
  send_dg(s, &to, tl, 'n', 4);
  wait_readable(s);
  CHECK(read(s, buf, 10) == 10 && all_are(buf, 10, 't'), "truncated read()");
  CHECK(read(s, buf, sizeof(buf)) == 4 && all_are(buf, 4, 'n'), "the next datagram after a truncated one");
  /* a zero-length read consumes a datagram, as on the kernel's UDP */
  send_dg(s, &to, tl, 'z', 7);
  send_dg(s, &to, tl, 'y', 2);
  wait_readable(s);
  CHECK(read(s, buf, 0) == 0, "zero-length read()");
  CHECK(read(s, buf, sizeof(buf)) == 2 && all_are(buf, 2, 'y'), "after a zero-length read()");
  /* readv: scattered payload, truncation */
  CHECK(sendto(s, "abcdefgh", 8, 0, (struct sockaddr *)&to, tl) == 8, "sendto abcdefgh");
  char v1[3], v2[10];
  struct iovec iov[2] = {{v1, sizeof(v1)}, {v2, sizeof(v2)}};
  n = readv(s, iov, 2);
  CHECK(n == 8 && memcmp(v1, "abc", 3) == 0 && memcmp(v2, "defgh", 5) == 0, "readv() returns the payload only (%zd)",
        n);
  send_dg(s, &to, tl, 'r', 100);
  send_dg(s, &to, tl, 'q', 5);
  wait_readable(s);
  char w1[4], w2[4];
  struct iovec iw[2] = {{w1, sizeof(w1)}, {w2, sizeof(w2)}};
  CHECK(readv(s, iw, 2) == 8 && all_are(w1, 4, 'r') && all_are(w2, 4, 'r'), "truncated readv()");
  CHECK(read(s, buf, sizeof(buf)) == 5 && all_are(buf, 5, 'q'), "the next datagram after a truncated readv()");
  /* fortified read() */
  CHECK(sendto(s, "fortified", 9, 0, (struct sockaddr *)&to, tl) == 9, "sendto fortified");
  n = __read_chk(s, buf, sizeof(buf), sizeof(buf));
  CHECK(n == 9 && memcmp(buf, "fortified", 9) == 0, "__read_chk() returns the payload only (%zd)", n);
  /* non-blocking: EAGAIN, errno as the kernel sets it */
  int fl = fcntl(s, F_GETFL);
  fcntl(s, F_SETFL, fl | O_NONBLOCK);
  errno = 0;
  CHECK(read(s, buf, sizeof(buf)) < 0 && errno == EAGAIN, "EAGAIN with nothing waiting");
  errno = 0;
  CHECK(readv(s, iov, 2) < 0 && errno == EAGAIN, "readv EAGAIN");
  fcntl(s, F_SETFL, fl);
  /* a dup of the socket is the same socket */
  int d = dup(s);
  CHECK(sendto(s, "dup", 3, 0, (struct sockaddr *)&to, tl) == 3, "sendto dup");
  CHECK(read(d, buf, sizeof(buf)) == 3 && memcmp(buf, "dup", 3) == 0, "read() on a dup");
  close(d);
  /* an unbound socket that sendto() bound */
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(sendto(u, "auto", 4, 0, (struct sockaddr *)&to, tl) == 4, "sendto auto-bind");
  CHECK(read(u, buf, sizeof(buf)) == 4 && memcmp(buf, "auto", 4) == 0, "read() after auto-bind");
  close(u);
  /* IPv6, on the program's own stack (::1) */
  int r6 = listener("::1", 0, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_storage a6;
  socklen_t l6 = mkaddr(&a6, "::1", local_port(r6));
  CHECK(sendto(s6, "six", 3, 0, (struct sockaddr *)&a6, l6) == 3, "sendto ::1");
  CHECK(read(r6, buf, sizeof(buf)) == 3 && memcmp(buf, "six", 3) == 0, "read() on IPv6");
  close(r6);
  close(s6);
  /* once connected, the header is gone and read() is plain */
  CHECK(connect(s, (struct sockaddr *)&to, tl) == 0, "connect");
  CHECK(write(s, "conn", 4) == 4, "write");
  CHECK(read(s, buf, sizeof(buf)) == 4 && memcmp(buf, "conn", 4) == 0, "read() once connected");
  close(s);
  /* the fd number taken by something else afterwards: read() is the plain one again */
  s = listener(self, 0, SOCK_DGRAM, 0);
  int num = s;
  close(s);
  int pfd[2];
  CHECK(pipe(pfd) == 0, "pipe");
  if (pfd[0] != num) {
    CHECK(dup2(pfd[0], num) == num, "dup2 onto the old number");
    close(pfd[0]);
  }
  CHECK(write(pfd[1], "pipe", 4) == 4, "write pipe");
  CHECK(read(num, buf, sizeof(buf)) == 4 && memcmp(buf, "pipe", 4) == 0, "read() on a pipe at the old number");
  close(num);
  close(pfd[1]);
}

/* glibc's fortified recv()/recvfrom() (_FORTIFY_SOURCE with a known buffer size) call these, not
 * recv()/recvfrom(); declared here so that this program references them without being fortified */
extern ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
extern ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *addr,
                              socklen_t *alen);

/* A forked child calls __recv_chk (which == 0) or __recvfrom_chk with len > buflen on s, with a
 * datagram waiting: the check must still abort it, as glibc's does. */
static void chk_overflow_aborts(int s, int which) {
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  if (pid == 0) {
    int dn = open("/dev/null", O_WRONLY);
    if (dn >= 0) dup2(dn, 2); /* glibc's "buffer overflow detected" message */
    char small[8];
    volatile size_t len = 16; /* not known at compile time */
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n = which == 0 ? __recv_chk(s, small, len, sizeof(small), 0)
                           : __recvfrom_chk(s, small, len, sizeof(small), 0, (struct sockaddr *)&from, &fl);
    printf("FAIL the child was not aborted (%zd)\n", n);
    fflush(stdout);
    _exit(1);
  }
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "%s with len > buflen aborts (status %#x)",
        which == 0 ? "__recv_chk" : "__recvfrom_chk", st);
}

static void t_udp_recv_chk(void) {
  struct sockaddr_storage to, from;
  socklen_t tl = mkaddr(&to, peer, uport);
  char buf[65536], b[80], want[80];
  snprintf(want, sizeof(want), "%s:%d", peer, uport);
  /* unconnected UDP: the payload only, and the source */
  int s = listener(self, 0, SOCK_DGRAM, 0);
  CHECK(sendto(s, "hello", 5, 0, (struct sockaddr *)&to, tl) == 5, "sendto");
  ssize_t n = __recv_chk(s, buf, sizeof(buf), sizeof(buf), 0);
  CHECK(n == 5 && memcmp(buf, "hello", 5) == 0, "__recv_chk() returns the payload only (%zd)", n);
  CHECK(sendto(s, "world!", 6, 0, (struct sockaddr *)&to, tl) == 6, "sendto");
  memset(&from, 0, sizeof(from));
  socklen_t fl = sizeof(from);
  n = __recvfrom_chk(s, buf, sizeof(buf), sizeof(buf), 0, (struct sockaddr *)&from, &fl);
  CHECK(n == 6 && memcmp(buf, "world!", 6) == 0, "__recvfrom_chk() returns the payload only (%zd)", n);
  CHECK(fl == sizeof(struct sockaddr_in) && strcmp(fmtaddr(&from, b, sizeof(b)), want) == 0,
        "__recvfrom_chk() source %s (len %u)", b, (unsigned)fl);
  /* a null address is allowed */
  CHECK(sendto(s, "noaddr", 6, 0, (struct sockaddr *)&to, tl) == 6, "sendto");
  n = __recvfrom_chk(s, buf, sizeof(buf), sizeof(buf), 0, NULL, NULL);
  CHECK(n == 6 && memcmp(buf, "noaddr", 6) == 0, "__recvfrom_chk() without an address (%zd)", n);
  /* flags reach the socket: MSG_PEEK keeps the datagram, truncation drops the rest */
  send_dg(s, &to, tl, 'p', 100);
  send_dg(s, &to, tl, 'k', 3);
  wait_readable(s);
  n = __recv_chk(s, buf, 4, sizeof(buf), MSG_PEEK);
  CHECK(n == 4 && all_are(buf, 4, 'p'), "__recv_chk(MSG_PEEK) (%zd)", n);
  fl = sizeof(from);
  n = __recvfrom_chk(s, buf, 10, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
  CHECK(n == 10 && all_are(buf, 10, 'p'), "truncated __recvfrom_chk() (%zd)", n);
  CHECK(strcmp(fmtaddr(&from, b, sizeof(b)), want) == 0, "source of a truncated datagram %s", b);
  n = __recv_chk(s, buf, sizeof(buf), sizeof(buf), 0);
  CHECK(n == 3 && all_are(buf, 3, 'k'), "the next datagram after a truncated one (%zd)", n);
  errno = 0;
  CHECK(__recv_chk(s, buf, sizeof(buf), sizeof(buf), MSG_DONTWAIT) < 0 && errno == EAGAIN, "__recv_chk EAGAIN");
  errno = 0;
  CHECK(__recvfrom_chk(s, buf, sizeof(buf), sizeof(buf), MSG_DONTWAIT, NULL, NULL) < 0 && errno == EAGAIN,
        "__recvfrom_chk EAGAIN");
  /* len > buflen: glibc's check still aborts the program */
  CHECK(sendto(s, "overflow", 8, 0, (struct sockaddr *)&to, tl) == 8, "sendto");
  wait_readable(s);
  chk_overflow_aborts(s, 0);
  chk_overflow_aborts(s, 1);
  n = __recv_chk(s, buf, sizeof(buf), sizeof(buf), 0);
  CHECK(n == 8 && memcmp(buf, "overflow", 8) == 0, "the datagram is still there after the aborts (%zd)", n);
  /* IPv6, on the program's own stack (::1) */
  int r6 = listener("::1", 0, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_storage a6;
  socklen_t l6 = mkaddr(&a6, "::1", local_port(r6));
  CHECK(sendto(s6, "six", 3, 0, (struct sockaddr *)&a6, l6) == 3, "sendto ::1");
  fl = sizeof(from);
  n = __recvfrom_chk(r6, buf, sizeof(buf), sizeof(buf), 0, (struct sockaddr *)&from, &fl);
  snprintf(want, sizeof(want), "::1:%d", local_port(s6));
  CHECK(n == 3 && memcmp(buf, "six", 3) == 0, "__recvfrom_chk() on IPv6 (%zd)", n);
  CHECK(fl == sizeof(struct sockaddr_in6) && strcmp(fmtaddr(&from, b, sizeof(b)), want) == 0, "IPv6 source %s", b);
  close(r6);
  close(s6);
  /* connected UDP: plain payload; recvfrom gives the peer */
  snprintf(want, sizeof(want), "%s:%d", peer, uport);
  CHECK(connect(s, (struct sockaddr *)&to, tl) == 0, "connect");
  CHECK(write(s, "conn", 4) == 4, "write");
  CHECK(__recv_chk(s, buf, sizeof(buf), sizeof(buf), 0) == 4 && memcmp(buf, "conn", 4) == 0, "connected __recv_chk");
  CHECK(write(s, "conn2", 5) == 5, "write");
  fl = sizeof(from);
  memset(&from, 0, sizeof(from));
  n = __recvfrom_chk(s, buf, sizeof(buf), sizeof(buf), 0, (struct sockaddr *)&from, &fl);
  CHECK(n == 5 && memcmp(buf, "conn2", 5) == 0, "connected __recvfrom_chk (%zd)", n);
  CHECK(fl == sizeof(struct sockaddr_in) && strcmp(fmtaddr(&from, b, sizeof(b)), want) == 0,
        "connected __recvfrom_chk source %s", b);
  close(s);
  /* TCP: the stream, and no address (as the kernel's TCP) */
  int c = tcp_connect(peer, tport);
  CHECK(write(c, "stream", 6) == 6, "write");
  size_t got = 0;
  while (got < 6) {
    fl = sizeof(from);
    n = __recvfrom_chk(c, buf + got, sizeof(buf) - got, sizeof(buf) - got, 0, (struct sockaddr *)&from, &fl);
    CHECK(n > 0, "tcp __recvfrom_chk (%zd)", n);
    CHECK(fl == 0, "tcp __recvfrom_chk address length %u", (unsigned)fl);
    got += (size_t)n;
  }
  CHECK(memcmp(buf, "stream", 6) == 0, "tcp echo");
  CHECK(write(c, "again", 5) == 5, "write");
  for (got = 0; got < 5; got += (size_t)n) {
    n = __recv_chk(c, buf + got, sizeof(buf) - got, sizeof(buf) - got, 0);
    CHECK(n > 0, "tcp __recv_chk (%zd)", n);
  }
  CHECK(memcmp(buf, "again", 5) == 0, "tcp echo by __recv_chk");
  close(c);
  /* not ours: an AF_UNIX datagram pair goes straight to libc */
  int sp[2];
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) == 0, "socketpair");
  CHECK(write(sp[1], "unix", 4) == 4, "write unix");
  CHECK(__recv_chk(sp[0], buf, sizeof(buf), sizeof(buf), 0) == 4 && memcmp(buf, "unix", 4) == 0, "unix __recv_chk");
  CHECK(write(sp[1], "unix2", 5) == 5, "write unix");
  fl = sizeof(from);
  n = __recvfrom_chk(sp[0], buf, sizeof(buf), sizeof(buf), 0, (struct sockaddr *)&from, &fl);
  CHECK(n == 5 && memcmp(buf, "unix2", 5) == 0, "unix __recvfrom_chk (%zd)", n);
  CHECK(write(sp[1], "unix3", 5) == 5, "write unix");
  chk_overflow_aborts(sp[0], 0);
  close(sp[0]);
  close(sp[1]);
}

/* mmsghdr set-ups for t_udp_mmsg. To send: message i is `len` bytes of bufs[i], filled with fill + i, to
 * `to` (NULL when connected). To receive: into bufs[i] (`len` bytes, 0 = the whole buffer, zeroed first),
 * the source into from[i] when from is not NULL. */
static void mm_send(struct mmsghdr *mm, struct iovec *iov, char (*bufs)[2048], int n, size_t len, char fill,
                    struct sockaddr_storage *to, socklen_t tl) {
  memset(mm, 0, sizeof(*mm) * (size_t)n);
  for (int i = 0; i < n; i++) {
    memset(bufs[i], fill + i, len);
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = len;
    mm[i].msg_hdr.msg_name = to;
    mm[i].msg_hdr.msg_namelen = to ? tl : 0;
    mm[i].msg_hdr.msg_iov = &iov[i];
    mm[i].msg_hdr.msg_iovlen = 1;
  }
}

static void mm_recv(struct mmsghdr *mm, struct iovec *iov, char (*bufs)[2048], int n, size_t len,
                    struct sockaddr_storage *from) {
  memset(mm, 0, sizeof(*mm) * (size_t)n);
  for (int i = 0; i < n; i++) {
    memset(bufs[i], 0, sizeof(bufs[i]));
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = len ? len : sizeof(bufs[i]);
    mm[i].msg_hdr.msg_name = from ? &from[i] : NULL;
    mm[i].msg_hdr.msg_namelen = from ? sizeof(from[i]) : 0;
    mm[i].msg_hdr.msg_iov = &iov[i];
    mm[i].msg_hdr.msg_iovlen = 1;
  }
}

static void t_udp_mmsg(void) {
  struct sockaddr_storage to, from[4];
  socklen_t tl = mkaddr(&to, peer, uport);
  char bufs[4][2048];
  struct iovec iov[4];
  struct mmsghdr mm[4];
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s >= 0, "socket");
  /* sendmmsg: three datagrams with addresses, msg_len filled in */
  memset(mm, 0, sizeof(mm));
  size_t sizes[3] = {1, 1000, 5};
  for (int i = 0; i < 3; i++) {
    memset(bufs[i], 'a' + i, sizes[i]);
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = sizes[i];
    mm[i].msg_hdr.msg_name = &to;
    mm[i].msg_hdr.msg_namelen = tl;
    mm[i].msg_hdr.msg_iov = &iov[i];
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  CHECK(sendmmsg(s, mm, 3, 0) == 3, "sendmmsg sends three");
  for (int i = 0; i < 3; i++) CHECK(mm[i].msg_len == sizes[i], "sendmmsg msg_len %d = %u", i, mm[i].msg_len);
  wait_readable(s);
  /* recvmmsg with MSG_WAITFORONE until all three are in, with their sources */
  int got = 0;
  char want[80];
  snprintf(want, sizeof(want), "%s:%d", peer, uport);
  while (got < 3) {
    mm_recv(mm, iov, bufs, 4, 0, from);
    int r = recvmmsg(s, mm, 4, MSG_WAITFORONE, NULL);
    CHECK(r >= 1 && r <= 3 - got, "recvmmsg MSG_WAITFORONE (%d)", r);
    for (int i = 0; i < r; i++, got++) {
      char b[80];
      CHECK(mm[i].msg_len == sizes[got] && all_are(bufs[i], sizes[got], (char)('a' + got)), "message %d (%u bytes)",
            got, mm[i].msg_len);
      CHECK(mm[i].msg_hdr.msg_namelen == sizeof(struct sockaddr_in), "msg_namelen %d", got);
      CHECK(strcmp(fmtaddr(&from[i], b, sizeof(b)), want) == 0, "source %s", b);
      CHECK(!(mm[i].msg_hdr.msg_flags & MSG_TRUNC), "not truncated");
    }
  }
  /* nothing waiting: MSG_DONTWAIT says EAGAIN */
  errno = 0;
  CHECK(recvmmsg(s, mm, 4, MSG_DONTWAIT, NULL) < 0 && errno == EAGAIN, "EAGAIN");
  /* blocking without MSG_WAITFORONE: waits for all vlen; truncation shows in msg_len and msg_flags */
  send_dg(s, &to, tl, 'x', 100);
  send_dg(s, &to, tl, 'y', 3);
  mm_recv(mm, iov, bufs, 2, 10, NULL);
  CHECK(recvmmsg(s, mm, 2, 0, NULL) == 2, "blocking recvmmsg gets both");
  CHECK(mm[0].msg_len == 10 && (mm[0].msg_hdr.msg_flags & MSG_TRUNC) && all_are(bufs[0], 10, 'x'), "truncated");
  CHECK(mm[1].msg_len == 3 && !(mm[1].msg_hdr.msg_flags & MSG_TRUNC) && all_are(bufs[1], 3, 'y'), "second");
  /* the timeout: one datagram, four asked for, returns with the one */
  send_dg(s, &to, tl, 'w', 6);
  wait_readable(s);
  mm_recv(mm, iov, bufs, 4, 0, NULL);
  struct timespec tmo = {0, 200 * 1000 * 1000}, t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK(recvmmsg(s, mm, 4, 0, &tmo) == 1 && mm[0].msg_len == 6, "recvmmsg returns at the timeout");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  CHECK(el < 3.0, "timeout honoured (%.2f s)", el);
  /* sendmmsg without a destination on an unconnected socket: EDESTADDRREQ; after one sent: the count */
  memset(mm, 0, sizeof(mm));
  iov[0].iov_base = "one";
  iov[0].iov_len = 3;
  mm[0].msg_hdr.msg_iov = &iov[0];
  mm[0].msg_hdr.msg_iovlen = 1;
  errno = 0;
  CHECK(sendmmsg(s, mm, 1, 0) < 0 && errno == EDESTADDRREQ, "EDESTADDRREQ");
  mm[1] = mm[0];
  mm[0].msg_hdr.msg_name = &to;
  mm[0].msg_hdr.msg_namelen = tl;
  CHECK(sendmmsg(s, mm, 2, 0) == 1, "sendmmsg stops at the failing message");
  wait_readable(s);
  CHECK(recv(s, bufs[0], sizeof(bufs[0]), 0) == 3 && memcmp(bufs[0], "one", 3) == 0, "the one sent arrives");
  close(s);
  /* connected UDP: no names needed, the peer's name comes back */
  int c = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(connect(c, (struct sockaddr *)&to, tl) == 0, "connect udp");
  mm_send(mm, iov, bufs, 2, 7, 'k', NULL, 0);
  CHECK(sendmmsg(c, mm, 2, 0) == 2 && mm[0].msg_len == 7 && mm[1].msg_len == 7, "sendmmsg connected");
  mm_recv(mm, iov, bufs, 2, 0, from);
  CHECK(recvmmsg(c, mm, 2, 0, NULL) == 2, "recvmmsg connected");
  for (int i = 0; i < 2; i++) {
    char b[80];
    CHECK(mm[i].msg_len == 7 && all_are(bufs[i], 7, (char)('k' + i)), "connected message %d", i);
    CHECK(strcmp(fmtaddr(&from[i], b, sizeof(b)), want) == 0, "connected source %s", b);
  }
  close(c);
  /* IPv6 on the program's own stack */
  int r6 = listener("::1", 0, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_storage a6;
  socklen_t l6 = mkaddr(&a6, "::1", local_port(r6));
  mm_send(mm, iov, bufs, 2, 9, '6', &a6, l6);
  CHECK(sendmmsg(s6, mm, 2, 0) == 2, "sendmmsg IPv6");
  mm_recv(mm, iov, bufs, 2, 0, from);
  CHECK(recvmmsg(r6, mm, 2, 0, NULL) == 2, "recvmmsg IPv6");
  for (int i = 0; i < 2; i++) {
    CHECK(mm[i].msg_len == 9 && all_are(bufs[i], 9, (char)('6' + i)), "IPv6 message %d", i);
    CHECK(mm[i].msg_hdr.msg_namelen == sizeof(struct sockaddr_in6) && from[i].ss_family == AF_INET6 &&
              ((struct sockaddr_in6 *)&from[i])->sin6_port == htons((uint16_t)local_port(s6)),
          "IPv6 source %d", i);
  }
  close(r6);
  close(s6);
  /* not ours: an AF_UNIX datagram pair goes straight to the kernel */
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "socketpair");
  mm_send(mm, iov, bufs, 2, 4, 'u', NULL, 0);
  CHECK(sendmmsg(sv[0], mm, 2, 0) == 2, "sendmmsg AF_UNIX");
  for (int i = 0; i < 2; i++) iov[i].iov_len = sizeof(bufs[i]);
  CHECK(recvmmsg(sv[1], mm, 2, 0, NULL) == 2 && mm[0].msg_len == 4 && mm[1].msg_len == 4 &&
            all_are(bufs[1], 4, 'v'),
        "recvmmsg AF_UNIX");
  close(sv[0]);
  close(sv[1]);
}

static void t_dup(void) {
  int s = tcp_connect(peer, tport);
  int d1 = dup(s);
  int d2 = dup2(s, 40);
  int d3 = dup3(s, 41, O_CLOEXEC);
  int d4 = fcntl(s, F_DUPFD, 50);
  int d5 = fcntl(s, F_DUPFD_CLOEXEC, 60);
  CHECK(d1 >= 0 && d2 == 40 && d3 == 41 && d4 >= 50 && d5 >= 60, "dups");
  int ds[] = {d1, d2, d3, d4, d5};
  for (int i = 0; i < 5; i++) {
    struct sockaddr_storage pn;
    socklen_t pl = sizeof(pn);
    CHECK(getpeername(ds[i], (struct sockaddr *)&pn, &pl) == 0, "getpeername on dup %d", i);
    CHECK(getint(ds[i], SOL_SOCKET, SO_TYPE) == SOCK_STREAM, "SO_TYPE on dup");
  }
  CHECK(fcntl(d3, F_GETFD) & FD_CLOEXEC, "dup3 O_CLOEXEC");
  close(s);
  roundtrip(d1, "via dup");
  roundtrip(d4, "via F_DUPFD");
  /* dup2 onto an existing socket replaces it */
  int other = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(dup2(d1, other) == other, "dup2 over a socket");
  CHECK(getint(other, SOL_SOCKET, SO_TYPE) == SOCK_STREAM, "replaced entry");
  for (int i = 0; i < 5; i++) close(ds[i]);
  roundtrip(other, "last one");
  close(other);
}

static void t_fork(void) {
  int s = tcp_connect(peer, tport);
  pid_t pid = fork();
  if (pid == 0) {
    roundtrip(s, "from the child");
    int c = tcp_connect(peer, tport); /* the child's own control connection */
    roundtrip(c, "child's own socket");
    close(c);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child ok");
  roundtrip(s, "from the parent");
  close(s);
}

/* Runs this program again as `mode` in a forked child, with socket s (also as stdin, like sshd, if
 * as_stdin), and checks that the child succeeded. */
static void exec_self(const char *mode, int s, int as_stdin) {
  pid_t pid = fork();
  if (pid == 0) {
    char fd[16];
    snprintf(fd, sizeof(fd), "%d", s);
    if (as_stdin) dup2(s, 0);
    execl(argv0, argv0, mode, peer, fd, (char *)NULL);
    _exit(127);
  }
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec'ed child ok (%d)", st);
}

static void t_exec(void) {
  int s = tcp_connect(peer, tport);
  exec_self("exec_child", s, 1);
  roundtrip(s, "parent after exec");
  close(s);
}

static void t_exec_child(const char *fdarg) {
  int s = atoi(fdarg);
  int fds[2] = {s, 0};
  for (int i = 0; i < 2; i++) {
    CHECK(getint(fds[i], SOL_SOCKET, SO_TYPE) == SOCK_STREAM, "SO_TYPE after exec");
    CHECK(getint(fds[i], SOL_SOCKET, SO_DOMAIN) == AF_INET, "SO_DOMAIN after exec");
    struct sockaddr_storage pn;
    socklen_t pl = sizeof(pn);
    CHECK(getpeername(fds[i], (struct sockaddr *)&pn, &pl) == 0, "getpeername after exec");
    char b[80], want[80];
    snprintf(want, sizeof(want), "%s:%d", peer, tport);
    CHECK(strcmp(fmtaddr(&pn, b, sizeof(b)), want) == 0, "peer after exec %s", b);
  }
  roundtrip(0, "exec'ed child");
  exit(0);
}

/* Sockets used before the answer to their SOCKET was read (the library does not wait for it: RPC.md):
 * through a dup, in a forked child, after exec, from another thread, after other sockets, with options
 * set first, and closed unused. */
static int fresh_socket(struct sockaddr_storage *ss, socklen_t *l) {
  *l = mkaddr(ss, peer, tport);
  int s = socket(ss->ss_family, SOCK_STREAM, 0);
  CHECK(s >= 0, "socket");
  return s;
}

static void *connect_in_thread(void *arg) {
  int s = *(int *)arg;
  struct sockaddr_storage ss;
  socklen_t l = mkaddr(&ss, peer, tport);
  CHECK(connect(s, (struct sockaddr *)&ss, l) == 0, "connect from another thread");
  roundtrip(s, "other thread");
  return NULL;
}

static void t_fresh(void) {
  struct sockaddr_storage ss;
  socklen_t l;
  /* a dup connects; the original sees the same connection */
  int s = fresh_socket(&ss, &l);
  int d = dup(s);
  CHECK(connect(d, (struct sockaddr *)&ss, l) == 0, "connect through a dup");
  roundtrip(s, "original of a dup");
  close(d);
  close(s);
  /* a forked child connects the parent's fresh socket */
  s = fresh_socket(&ss, &l);
  pid_t pid = fork();
  if (pid == 0) {
    CHECK(connect(s, (struct sockaddr *)&ss, l) == 0, "connect in the child");
    roundtrip(s, "child");
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child ok (%d)", st);
  struct sockaddr_storage pn;
  socklen_t pl = sizeof(pn);
  CHECK(getpeername(s, (struct sockaddr *)&pn, &pl) == 0, "the parent sees the child's connection");
  roundtrip(s, "parent after the child");
  close(s);
  /* another thread connects it */
  s = fresh_socket(&ss, &l);
  pthread_t th;
  pthread_create(&th, NULL, connect_in_thread, &s);
  pthread_join(th, NULL);
  close(s);
  /* more fresh sockets than answers the library keeps owed, connected oldest first */
  int many[40];
  for (int i = 0; i < 40; i++) many[i] = fresh_socket(&ss, &l);
  for (int i = 0; i < 40; i++) {
    CHECK(connect(many[i], (struct sockaddr *)&ss, l) == 0, "connect socket %d of 40", i);
    roundtrip(many[i], "one of many");
  }
  for (int i = 0; i < 40; i++) close(many[i]);
  /* options before the connect; one socket closed unused */
  int unused = fresh_socket(&ss, &l);
  s = fresh_socket(&ss, &l);
  close(unused);
  int one = 1;
  CHECK(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0, "TCP_NODELAY");
  CHECK(connect(s, (struct sockaddr *)&ss, l) == 0, "connect after setsockopt");
  CHECK(getint(s, IPPROTO_TCP, TCP_NODELAY) == 1, "TCP_NODELAY reads back");
  roundtrip(s, "after options");
  close(s);
  /* exec with a fresh socket: the new program connects it */
  s = fresh_socket(&ss, &l);
  exec_self("fresh_child", s, 0);
  roundtrip(s, "parent after exec");
  close(s);
}

static void t_fresh_child(const char *fdarg) {
  int s = atoi(fdarg);
  CHECK(getint(s, SOL_SOCKET, SO_TYPE) == SOCK_STREAM, "SO_TYPE of a fresh socket after exec");
  struct sockaddr_storage ss;
  socklen_t l = mkaddr(&ss, peer, tport);
  CHECK(connect(s, (struct sockaddr *)&ss, l) == 0, "connect after exec");
  roundtrip(s, "exec'ed child");
  exit(0);
}

static void t_own_fds(void) {
  int s = tcp_connect(peer, tport); /* opens the control connection */
  /* a program that closes every fd it did not open, in every way */
  for (int fd = 3; fd < 1024; fd++)
    if (fd != s) close(fd);
  close_range(3, (unsigned)s - 1, 0);
  close_range((unsigned)s + 1, ~0U, 0);
  closefrom(s + 1);
  for (int fd = s + 1; fd < 1100; fd++) dup2(2, fd); /* and takes every number */
  for (int fd = s + 1; fd < 1100; fd++) close(fd);
  roundtrip(s, "after closing everything");
  int c = tcp_connect(peer, tport);
  roundtrip(c, "new socket after closing everything");
  close(c);
  close(s);
}

static void t_localhost(void) {
  const char *addrs[2] = {"127.0.0.1", "::1"};
  for (int i = 0; i < 2; i++) {
    int l = listener(addrs[i], 0, SOCK_STREAM, 8);
    int c = tcp_connect(addrs[i], local_port(l));
    int a = accept(l, NULL, NULL);
    CHECK(a >= 0, "accept on %s", addrs[i]);
    CHECK(write(c, "lo", 2) == 2, "write");
    char buf[4];
    CHECK(read(a, buf, sizeof(buf)) == 2, "read on %s", addrs[i]);
    close(a);
    close(c);
    close(l);
  }
  int u = listener("127.0.0.1", 0, SOCK_DGRAM, 0);
  int v = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_storage ss;
  socklen_t l = mkaddr(&ss, "127.0.0.1", local_port(u));
  CHECK(sendto(v, "dg", 2, 0, (struct sockaddr *)&ss, l) == 2, "udp to localhost");
  char buf[4];
  CHECK(recv(u, buf, sizeof(buf), 0) >= 2, "udp on localhost");
}

static void t_connect_host(void) {
  /* with ZT_NC_FALLTHROUGH=1 this reaches a kernel listener outside the network */
  int s = tcp_connect(peer, tport);
  CHECK(getint(s, SOL_SOCKET, SO_DOMAIN) == AF_INET, "domain");
  close(s);
}

static void t_connect_expect_fail(void) {
  struct sockaddr_storage ss;
  socklen_t l = mkaddr(&ss, peer, tport);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(s, (struct sockaddr *)&ss, l) < 0 && errno == ENETUNREACH, "isolated by default");
}

static void t_service_stop(void) {
  int s = tcp_connect(peer, tport);
  roundtrip(s, "before");
  printf("connected\n");
  fflush(stdout);
  char line[16];
  CHECK(fgets(line, sizeof(line), stdin) != NULL, "wait for the service to stop");
  char buf[8];
  ssize_t r = read(s, buf, sizeof(buf));
  CHECK(r < 0 && errno == ECONNRESET, "read fails with ECONNRESET (%zd, %s)", r, strerror(errno));
  signal(SIGPIPE, SIG_IGN);
  r = write(s, "x", 1);
  CHECK(r < 0 && errno == EPIPE, "write fails with EPIPE (%zd)", r);
  int n = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(n < 0 && errno == ENETDOWN, "new sockets fail cleanly");
}

static void t_inert(void) {
  /* without ZT_NC_NETWORK: real kernel sockets (an empty namespace has no route) */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s >= 0, "socket");
  struct sockaddr_storage ss;
  socklen_t l = mkaddr(&ss, peer, tport);
  CHECK(connect(s, (struct sockaddr *)&ss, l) < 0 && errno == ENETUNREACH, "kernel says ENETUNREACH");
  close(s);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  argv0 = argv[0];
  if (argc < 2) return 2;
  const char *t = argv[1];
  if (strcmp(t, "exec_child") == 0) {
    peer = argv[2];
    tport = atoi(getenv("NC_TPORT") ? getenv("NC_TPORT") : "0");
    t_exec_child(argv[3]);
  }
  if (strcmp(t, "fresh_child") == 0) {
    peer = argv[2];
    tport = atoi(getenv("NC_TPORT") ? getenv("NC_TPORT") : "0");
    t_fresh_child(argv[3]);
  }
  if (argc < 6) return 2;
  peer = argv[2];
  tport = atoi(argv[3]);
  uport = atoi(argv[4]);
  self = argv[5];
  char tp[16];
  snprintf(tp, sizeof(tp), "%d", tport);
  setenv("NC_TPORT", tp, 1);
  struct {
    const char *name;
    void (*fn)(void);
  } tests[] = {
      {"socket_flags", t_socket_flags}, {"bind", t_bind},
      {"listen_accept", t_listen_accept}, {"connect_refused", t_connect_refused},
      {"connect_nonblock", t_connect_nonblock}, {"sockopts", t_sockopts},
      {"shutdown", t_shutdown}, {"close", t_close},
      {"udp", t_udp}, {"udp_read", t_udp_read},
      {"udp_mmsg", t_udp_mmsg}, {"udp_recv_chk", t_udp_recv_chk},
      {"dup", t_dup}, {"fork", t_fork},
      {"exec", t_exec}, {"own_fds", t_own_fds},
      {"fresh", t_fresh},
      {"localhost", t_localhost}, {"connect_host", t_connect_host},
      {"connect_expect_fail", t_connect_expect_fail}, {"service_stop", t_service_stop},
      {"inert", t_inert},
  };
  for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
    if (strcmp(tests[i].name, t) == 0) {
      tests[i].fn();
      printf("ok %s\n", t);
      return 0;
    }
  }
  printf("FAIL unknown test %s\n", t);
  return 2;
}
