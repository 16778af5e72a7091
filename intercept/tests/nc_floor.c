/* nc_floor connect SECONDS THREADS | pingpong ROUNDS [WARMUP]
 * The floor of netcon's design on this machine: the least work any service built this way must do, with no
 * TCP/IP stack, no crypto, no runtime, in C. It runs without the preload; the benchmarks put its figures
 * beside netcon's and the kernel's (bench/netcon-connect.ts, bench/vl2-latency.ts).
 *
 * connect: what nc_connbench's client and server cost at the least. Three processes: the clients (THREADS
 *   threads), a "service" and a "server". A client makes a socketpair, sends one end to the service with a
 *   request (socket() and connect() in one message), waits for the answer, reads the server's EOF, closes.
 *   The service makes the accepted connection's socketpair, hands its app end to the server over the
 *   listening pair, answers, watches both of its ends, and at the server's close shuts the client's pair for
 *   writing (the FIN), then closes the client's end once the client closed. Prints "connections N seconds S".
 *
 * pingpong: what vl2-latency's round trip crosses at the least. Four processes: app A, relay 1, relay 2,
 *   app B. The apps talk to their relays over stream socketpairs (an app's socket is one), the relays to each
 *   other over UDP on 127.0.0.1 (the members' path); each relay waits in epoll, as a service does. One byte
 *   goes A → B and back, ROUNDS times after WARMUP (default 200) uncounted; six wake-ups each, as in netcon's
 *   path. Prints the percentiles as nc_pingpong does. */
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nctest.h"

static int send_fd(int s, const void *b, size_t n, int fd) {
  struct iovec io = {(void *)b, n};
  char c[CMSG_SPACE(sizeof(int))];
  struct msghdr m = {0};
  m.msg_iov = &io;
  m.msg_iovlen = 1;
  if (fd >= 0) {
    memset(c, 0, sizeof(c));
    m.msg_control = c;
    m.msg_controllen = sizeof(c);
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &fd, sizeof(fd));
  }
  return (int)sendmsg(s, &m, MSG_NOSIGNAL);
}

/* One message; *fd = the fd it carried, or -1. */
static int recv_fd(int s, void *b, size_t n, int *fd) {
  struct iovec io = {b, n};
  char c[CMSG_SPACE(sizeof(int))];
  struct msghdr m = {0};
  m.msg_iov = &io;
  m.msg_iovlen = 1;
  m.msg_control = c;
  m.msg_controllen = sizeof(c);
  int r = (int)recvmsg(s, &m, MSG_CMSG_CLOEXEC);
  *fd = -1;
  struct cmsghdr *h = r >= 0 ? CMSG_FIRSTHDR(&m) : NULL;
  if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(h), sizeof(int));
  return r;
}

/* ---- connect ---- */

#define MAXTHREADS 64
#define MAXFD 65536
static int ctl[MAXTHREADS][2]; /* [0] a client thread's, [1] the service's */
static int lsn[2];             /* the listening pair: [0] the server's, [1] the service's */
static double secs;
static long total;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *client(void *arg) {
  int c = *(int *)arg;
  double end = now_s() + secs;
  long n = 0;
  char b[16];
  while (now_s() < end) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    CHECK(send_fd(c, "CONNECT", 8, sv[1]) == 8, "request");
    close(sv[1]);
    int none;
    CHECK(recv_fd(c, b, sizeof(b), &none) > 0, "answer");
    CHECK(read(sv[0], b, 1) == 0, "EOF from the server");
    close(sv[0]);
    n++;
  }
  pthread_mutex_lock(&mu);
  total += n;
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void server(void) {
  char b[16];
  for (;;) {
    int fd;
    if (recv_fd(lsn[0], b, sizeof(b), &fd) <= 0) return;
    if (fd >= 0) close(fd);
  }
}

/* epoll tags: a control connection is (1 << 32) | its index; a connection's end is its fd. */
static void service(int threads) {
  static int partner[MAXFD]; /* the server-side end's client end */
  static char server_side[MAXFD];
  int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep >= 0, "epoll");
  for (int i = 0; i < threads; i++) {
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = (1ull << 32) | (unsigned)i};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ctl[i][1], &e) == 0, "epoll_ctl");
  }
  int open = threads;
  struct epoll_event evs[256];
  char b[16];
  while (open > 0) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag >> 32) {
        int c = ctl[tag & 0xffffffffu][1], app;
        if (recv_fd(c, b, sizeof(b), &app) <= 0) {
          epoll_ctl(ep, EPOLL_CTL_DEL, c, NULL);
          close(c);
          open--;
          continue;
        }
        CHECK(app >= 0 && app < MAXFD, "the client's end");
        int sp[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) == 0, "socketpair");
        CHECK(sp[1] < MAXFD, "fd");
        CHECK(send_fd(lsn[1], "ACCEPT", 8, sp[0]) == 8, "accept");
        close(sp[0]);
        partner[sp[1]] = app;
        server_side[sp[1]] = 1;
        server_side[app] = 0;
        struct epoll_event e1 = {.events = EPOLLIN, .data.u64 = (unsigned)sp[1]};
        struct epoll_event e2 = {.events = EPOLLIN, .data.u64 = (unsigned)app};
        CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sp[1], &e1) == 0 && epoll_ctl(ep, EPOLL_CTL_ADD, app, &e2) == 0, "add");
        CHECK(send_fd(c, "OK", 8, -1) == 8, "answer");
      } else {
        int fd = (int)tag;
        if (recv(fd, b, sizeof(b), MSG_DONTWAIT) != 0) continue;
        if (server_side[fd]) {
          shutdown(partner[fd], SHUT_WR); /* the server closed: the client sees EOF */
          close(fd);                      /* only ours: leaves the epoll set with it */
        } else {
          epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL); /* an fd the app sent: it may hold a copy */
          close(fd);
        }
      }
    }
  }
}

static int run_connect(double seconds, int threads) {
  CHECK(threads > 0 && threads <= MAXTHREADS, "threads");
  secs = seconds;
  CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, lsn) == 0, "socketpair");
  for (int i = 0; i < threads; i++) CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl[i]) == 0, "socketpair");
  pid_t srv = fork();
  CHECK(srv >= 0, "fork");
  if (srv == 0) {
    close(lsn[1]);
    for (int i = 0; i < threads; i++) close(ctl[i][0]), close(ctl[i][1]);
    server();
    _exit(0);
  }
  close(lsn[0]);
  pid_t svc = fork();
  CHECK(svc >= 0, "fork");
  if (svc == 0) {
    for (int i = 0; i < threads; i++) close(ctl[i][0]);
    service(threads);
    _exit(0);
  }
  close(lsn[1]);
  for (int i = 0; i < threads; i++) close(ctl[i][1]);
  pthread_t t[MAXTHREADS];
  int ends[MAXTHREADS];
  double t0 = now_s();
  for (int i = 0; i < threads; i++) {
    ends[i] = ctl[i][0];
    pthread_create(&t[i], NULL, client, &ends[i]);
  }
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  double dt = now_s() - t0;
  for (int i = 0; i < threads; i++) close(ctl[i][0]); /* the service ends, then the server */
  waitpid(svc, NULL, 0);
  waitpid(srv, NULL, 0);
  printf("connections %ld seconds %.3f\n", total, dt);
  return 0;
}

/* ---- pingpong ---- */

/* Forwards between a stream fd and a connected UDP socket until the stream ends (then tells the other
 * relay with an empty datagram) or an empty datagram arrives. */
static void relay(int stream, int udp) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event a = {.events = EPOLLIN, .data.fd = stream}, u = {.events = EPOLLIN, .data.fd = udp};
  CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, stream, &a) == 0 && epoll_ctl(ep, EPOLL_CTL_ADD, udp, &u) == 0, "epoll");
  char b[65536];
  for (;;) {
    struct epoll_event evs[2];
    int n = epoll_wait(ep, evs, 2, -1);
    for (int i = 0; i < n; i++) {
      if (evs[i].data.fd == stream) {
        ssize_t r = read(stream, b, sizeof(b));
        if (r <= 0) {
          send(udp, b, 0, 0);
          return;
        }
        CHECK(send(udp, b, (size_t)r, 0) == r, "send");
      } else {
        ssize_t r = recv(udp, b, sizeof(b), 0);
        if (r <= 0) return;
        CHECK(write(stream, b, (size_t)r) == r, "write");
      }
    }
  }
}

static int udp_on_loopback(struct sockaddr_in *me) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK(s >= 0, "socket");
  memset(me, 0, sizeof(*me));
  me->sin_family = AF_INET;
  me->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t l = sizeof(*me);
  CHECK(bind(s, (struct sockaddr *)me, l) == 0 && getsockname(s, (struct sockaddr *)me, &l) == 0, "bind");
  return s;
}

static int run_pingpong(long rounds, long warmup) {
  CHECK(rounds > 0 && warmup >= 0, "rounds");
  int pa[2], pb[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pa) == 0, "socketpair");
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pb) == 0, "socketpair");
  struct sockaddr_in a1, a2;
  int u1 = udp_on_loopback(&a1), u2 = udp_on_loopback(&a2);
  CHECK(connect(u1, (struct sockaddr *)&a2, sizeof(a2)) == 0 && connect(u2, (struct sockaddr *)&a1, sizeof(a1)) == 0, "connect");
  pid_t kids[3];
  for (int k = 0; k < 3; k++) {
    kids[k] = fork();
    CHECK(kids[k] >= 0, "fork");
    if (kids[k] > 0) continue;
    int mine[3][5] = {{pa[0], pb[0], pb[1], u2, -1}, {pa[0], pa[1], pb[1], u1, -1}, {pa[0], pa[1], pb[0], u1, u2}};
    for (int i = 0; i < 5; i++) /* what the others use, so that each end's close is seen */
      if (mine[k][i] >= 0) close(mine[k][i]);
    if (k == 0) relay(pa[1], u1);
    if (k == 1) relay(pb[0], u2);
    if (k == 2) { /* app B: echoes */
      char c;
      while (read(pb[1], &c, 1) == 1 && write(pb[1], &c, 1) == 1) {
      }
    }
    _exit(0);
  }
  close(pa[1]);
  close(pb[0]);
  close(pb[1]);
  close(u1);
  close(u2);
  double *v = calloc((size_t)rounds, sizeof(double));
  CHECK(v != NULL, "calloc");
  char c = 'x';
  for (long i = -warmup; i < rounds; i++) {
    double t0 = now_us();
    CHECK(write(pa[0], &c, 1) == 1, "write");
    CHECK(read(pa[0], &c, 1) == 1, "read");
    if (i >= 0) v[i] = now_us() - t0;
  }
  close(pa[0]);
  for (int k = 0; k < 3; k++) waitpid(kids[k], NULL, 0);
  print_latencies(v, rounds);
  free(v);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "connect") == 0) return run_connect(atof(argv[2]), atoi(argv[3]));
  if (argc >= 3 && strcmp(argv[1], "pingpong") == 0) return run_pingpong(atol(argv[2]), argc > 3 ? atol(argv[3]) : 200);
  fprintf(stderr, "usage: nc_floor connect SECONDS THREADS | pingpong ROUNDS [WARMUP]\n");
  return 2;
}
