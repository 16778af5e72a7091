/* nc_connbench server ADDR PORT | client ADDR PORT SECONDS THREADS [COUNT]
 * Connection rate: the client connects, waits for the server's close (EOF), closes, repeats (for
 * SECONDS, or COUNT connections per thread if given); prints "connections N seconds S". The server
 * accepts and closes at once. */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "nctest.h"

static struct sockaddr_storage ss;
static socklen_t sl;
static double secs;
static long count; /* per thread; 0: until SECONDS have passed */
static long total;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *client(void *arg) {
  (void)arg;
  double end = now_s() + secs;
  long n = 0;
  while (count ? n < count : now_s() < end) {
    int s = socket(ss.ss_family, SOCK_STREAM, 0);
    CHECK(s >= 0, "socket");
    CHECK(connect(s, (struct sockaddr *)&ss, sl) == 0, "connect");
    char b;
    CHECK(read(s, &b, 1) == 0, "EOF from the server");
    close(s);
    n++;
  }
  pthread_mutex_lock(&mu);
  total += n;
  pthread_mutex_unlock(&mu);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  sl = mkaddr(&ss, argv[2], atoi(argv[3]));
  if (strcmp(argv[1], "server") == 0) {
    int l = socket(ss.ss_family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    CHECK(bind(l, (struct sockaddr *)&ss, sl) == 0, "bind");
    CHECK(listen(l, 512) == 0, "listen");
    printf("ready\n");
    fflush(stdout);
    for (;;) {
      int c = accept(l, NULL, NULL);
      if (c >= 0) close(c);
    }
  }
  secs = argc > 4 ? atof(argv[4]) : 3;
  int threads = argc > 5 ? atoi(argv[5]) : 1;
  count = argc > 6 ? atol(argv[6]) : 0;
  pthread_t t[64];
  double t0 = now_s();
  for (int i = 0; i < threads && i < 64; i++) pthread_create(&t[i], NULL, client, NULL);
  for (int i = 0; i < threads && i < 64; i++) pthread_join(t[i], NULL);
  printf("connections %ld seconds %.3f\n", total, now_s() - t0);
  return 0;
}
