/* nc_echo tcp|udp BINDADDR PORT: an echo server (TCP: a thread per connection; echoes until EOF,
 * then closes). Prints "ready" once listening. */
#include <pthread.h>
#include <unistd.h>

#include "nctest.h"

static void *serve(void *arg) {
  int c = (int)(long)arg;
  char buf[65536];
  for (;;) {
    ssize_t n = read(c, buf, sizeof(buf));
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(c, buf + off, (size_t)(n - off));
      if (w <= 0) goto out;
      off += w;
    }
  }
out:
  close(c);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  int udp = strcmp(argv[1], "udp") == 0;
  struct sockaddr_storage ss;
  socklen_t l = mkaddr(&ss, argv[2], atoi(argv[3]));
  int s = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
  CHECK(s >= 0, "socket");
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  CHECK(bind(s, (struct sockaddr *)&ss, l) == 0, "bind");
  if (!udp) CHECK(listen(s, 64) == 0, "listen");
  printf("ready\n");
  fflush(stdout);
  if (udp) {
    char buf[65536];
    for (;;) {
      struct sockaddr_storage from;
      socklen_t fl = sizeof(from);
      ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
      if (n < 0) continue;
      sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
  }
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    pthread_t t;
    pthread_create(&t, NULL, serve, (void *)(long)c);
    pthread_detach(t);
  }
}
