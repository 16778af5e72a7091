/* Resolving the real symbols (once, with dlsym(RTLD_NEXT); a circular result is refused), the
 * environment and the library constructor. */
#include "nc.h"

struct nc_real real;

int active;      /* ZT_NC_NETWORK is set */
int fallthrough; /* ZT_NC_FALLTHROUGH=1 */
struct sockaddr_un ctl_addr;
pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Resolves one symbol; refuses to return our own hook (a circular lookup). */
static void *resolve(const char *name, void *self) {
  void *p = dlsym(RTLD_NEXT, name);
  if (p == self) p = NULL;
  return p;
}


void init(void) {
#define R(n) real.n = (__typeof__(real.n))resolve(#n, (void *)n)
  R(socket);
  R(bind);
  R(listen);
  R(accept);
  R(accept4);
  R(connect);
  R(getsockname);
  R(getpeername);
  R(getsockopt);
  R(setsockopt);
  R(shutdown);
  R(close);
  R(close_range);
  R(closefrom);
  R(dup);
  R(dup2);
  R(dup3);
  R(fcntl);
  R(fcntl64);
  R(sendto);
  R(recvfrom);
  R(sendmsg);
  R(recvmsg);
  R(send);
  R(recv);
  R(read);
  R(readv);
  real.read_chk = (__typeof__(real.read_chk))resolve("__read_chk", (void *)__read_chk);
  real.recv_chk = (__typeof__(real.recv_chk))resolve("__recv_chk", (void *)__recv_chk);
  real.recvfrom_chk = (__typeof__(real.recvfrom_chk))resolve("__recvfrom_chk", (void *)__recvfrom_chk);
  R(recvmmsg);
  R(sendmmsg);
  R(epoll_ctl);
#undef R
  const char *path = getenv("ZT_NC_NETWORK");
  if (path && *path && strlen(path) < sizeof(ctl_addr.sun_path)) {
    ctl_addr.sun_family = AF_UNIX;
    strcpy(ctl_addr.sun_path, path);
    active = 1;
  }
  const char *ft = getenv("ZT_NC_FALLTHROUGH");
  fallthrough = ft && strcmp(ft, "1") == 0;
  ctl_init();
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

__attribute__((constructor)) static void nc_ctor(void) { pthread_once(&init_once, init); }

int real_fcntl(int fd, int cmd, long arg) {
  if (real.fcntl) return real.fcntl(fd, cmd, arg);
  errno = ENOSYS;
  return -1;
}
