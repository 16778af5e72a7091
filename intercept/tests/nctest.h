/* Small helpers for the intercept test programs: checks that print "FAIL <what>: <why>" and exit 1. */
#ifndef NCTEST_H
#define NCTEST_H
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, ...)                                                        \
  do {                                                                          \
    if (!(cond)) {                                                              \
      printf("FAIL %s:%d %s: ", __func__, __LINE__, #cond);                     \
      printf(__VA_ARGS__);                                                      \
      printf(" (errno %d %s)\n", errno, strerror(errno));                       \
      fflush(stdout);                                                           \
      exit(1);                                                                  \
    }                                                                           \
  } while (0)

/* Fills ss from "a.b.c.d" or "x::y" and a port; returns the length. */
static inline socklen_t mkaddr(struct sockaddr_storage *ss, const char *ip, int port) {
  memset(ss, 0, sizeof(*ss));
  if (strchr(ip, ':')) {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, ip, &s->sin6_addr) != 1) return 0;
    return sizeof(*s);
  }
  struct sockaddr_in *s = (struct sockaddr_in *)ss;
  s->sin_family = AF_INET;
  s->sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, ip, &s->sin_addr) != 1) return 0;
  return sizeof(*s);
}

static inline double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static inline double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static inline int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The p-th percentile of n sorted values. */
static inline double pct(const double *v, long n, double p) {
  long i = (long)(p / 100.0 * (double)n + 0.5) - 1;
  if (i < 0) i = 0;
  if (i >= n) i = n - 1;
  return v[i];
}

/* Sorts n round trips (µs) and prints one JSON line: mean, min, percentiles, max, and q, the 100
 * percentiles (q[i] = the i-th, i = 1..100) for a CDF. */
static inline void print_latencies(double *v, long n) {
  double sum = 0;
  for (long i = 0; i < n; i++) sum += v[i];
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  printf("{\"rounds\":%ld,\"mean\":%.1f,\"min\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
         "\"max\":%.1f,\"q\":[",
         n, sum / (double)n, v[0], pct(v, n, 50), pct(v, n, 90), pct(v, n, 99), pct(v, n, 99.9), v[n - 1]);
  for (int q = 1; q <= 100; q++) printf("%s%.1f", q > 1 ? "," : "", pct(v, n, q));
  printf("]}\n");
}

static inline const char *fmtaddr(const struct sockaddr_storage *ss, char *buf, size_t n) {
  char ip[64];
  int port;
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
    port = ntohs(s->sin6_port);
  } else {
    const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
    port = ntohs(s->sin_port);
  }
  snprintf(buf, n, "%s:%d", ip, port);
  return buf;
}
/* Waits (up to 10 s) until thread `tid` of process `pid` is blocked in system call `nr` (read from
 * /proc/<pid>/task/<tid>/syscall and its state): a condition instead of a sleep. 1 if it is. */
static inline int wait_in_syscall(pid_t pid, pid_t tid, long nr) {
  char path[96], stat[96];
  snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
  snprintf(stat, sizeof(stat), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
  for (int i = 0; i < 10000; i++) {
    long got = -1;
    char st = 0;
    FILE *f = fopen(path, "r");
    if (f) {
      if (fscanf(f, "%ld", &got) != 1) got = -1;
      fclose(f);
    }
    f = fopen(stat, "r");
    if (f) {
      char line[512];
      if (fgets(line, sizeof(line), f)) {
        char *p = strrchr(line, ')');
        if (p && p[1] == ' ') st = p[2];
      }
      fclose(f);
    }
    if (got == nr && st == 'S') return 1;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

#endif
