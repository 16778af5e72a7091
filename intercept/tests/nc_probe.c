/* nc_probe ADDR PORT: exit 0 if a TCP connect to ADDR:PORT succeeds (blocking connect). */
#include <unistd.h>

#include "nctest.h"

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  struct sockaddr_storage ss;
  socklen_t l = mkaddr(&ss, argv[1], atoi(argv[2]));
  int s = socket(ss.ss_family, SOCK_STREAM, 0);
  if (s < 0) return 3;
  if (connect(s, (struct sockaddr *)&ss, l) < 0) {
    printf("connect: %s\n", strerror(errno));
    return 1;
  }
  close(s);
  return 0;
}
