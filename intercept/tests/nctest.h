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
