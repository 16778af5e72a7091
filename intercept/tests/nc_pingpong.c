/* nc_pingpong server ADDR PORT | client ADDR PORT ROUNDS [WARMUP]
 * TCP round-trip latency: the client sends 1 byte, the server echoes it, ROUNDS times (TCP_NODELAY on both
 * sides, blocking sockets, one connection). The server prints "ready" once listening and serves connections
 * one after another. The client prints one JSON line: the percentiles of the round trips in microseconds
 * and 100 quantiles (q[i] = the i-th percentile, i = 1..100) for a CDF; the first WARMUP rounds (default 200)
 * are not counted. With NC_PINGPONG_TRACE=FILE the client also writes each counted round to FILE, one line
 * each: its start on CLOCK_MONOTONIC and its duration, in microseconds (to line slow rounds up with a
 * scheduler trace, such as perf sched timehist). */
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include "nctest.h"

static void serve(int c) {
  char b;
  for (;;) {
    ssize_t r = read(c, &b, 1);
    if (r <= 0) break;
    if (write(c, &b, 1) != 1) break;
  }
  close(c);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: nc_pingpong server ADDR PORT | client ADDR PORT ROUNDS [WARMUP]\n");
    return 2;
  }
  struct sockaddr_storage ss;
  socklen_t sl = mkaddr(&ss, argv[2], atoi(argv[3]));
  CHECK(sl > 0, "address %s", argv[2]);
  int one = 1;
  if (strcmp(argv[1], "server") == 0) {
    int l = socket(ss.ss_family, SOCK_STREAM, 0);
    CHECK(l >= 0, "socket");
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    CHECK(bind(l, (struct sockaddr *)&ss, sl) == 0, "bind");
    CHECK(listen(l, 16) == 0, "listen");
    printf("ready\n");
    fflush(stdout);
    for (;;) {
      int c = accept(l, NULL, NULL);
      if (c < 0) continue;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      serve(c);
    }
  }
  long rounds = argc > 4 ? atol(argv[4]) : 3000;
  long warmup = argc > 5 ? atol(argv[5]) : 200;
  CHECK(rounds > 0 && warmup >= 0, "rounds");
  int s = socket(ss.ss_family, SOCK_STREAM, 0);
  CHECK(s >= 0, "socket");
  CHECK(connect(s, (struct sockaddr *)&ss, sl) == 0, "connect");
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  double *v = calloc((size_t)rounds, sizeof(double));
  CHECK(v != NULL, "calloc");
  const char *trace = getenv("NC_PINGPONG_TRACE");
  double *start = trace ? calloc((size_t)rounds, sizeof(double)) : NULL;
  CHECK(!trace || start != NULL, "calloc");
  char b = 'x';
  for (long i = -warmup; i < rounds; i++) {
    double t0 = now_us();
    CHECK(write(s, &b, 1) == 1, "write");
    CHECK(read(s, &b, 1) == 1, "read");
    if (i < 0) continue;
    v[i] = now_us() - t0;
    if (start) start[i] = t0;
  }
  if (trace) {
    FILE *f = fopen(trace, "w");
    CHECK(f != NULL, "%s", trace);
    for (long i = 0; i < rounds; i++) fprintf(f, "%.1f %.1f\n", start[i], v[i]);
    CHECK(fclose(f) == 0, "%s", trace);
    free(start);
  }
  close(s);
  print_latencies(v, rounds);
  free(v);
  return 0;
}
