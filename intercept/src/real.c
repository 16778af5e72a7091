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


/* netcon's own programs: the service, zerotier-cli, zerotier-idtool and zerotier-netcon, i.e. node running one
 * of the package's bin/<name>.js (by whatever path: launcher, npm bin, docker exec). They are never
 * intercepted, even when ZT_NC_NETWORK is set for a whole container with the library in /etc/ld.so.preload:
 * the service would send its own UDP and API traffic into its own network, the CLI would look for the API
 * there. Recognised by the first arguments of /proc/self/cmdline, which node's own options may precede. */
static int own_program(void) {
  static const char *const names[] = {"zerotier-netcon-service.js", "zerotier-cli.js", "zerotier-idtool.js",
                                      "zerotier-netcon.js"};
  char buf[4096];
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = real.read(fd, buf, sizeof buf - 1);
  real.close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char *p = buf, *end = buf + n;
  for (int arg = 0; arg < 4 && p < end; arg++, p += strlen(p) + 1) {
    const char *base = strrchr(p, '/');
    base = base ? base + 1 : p;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (strcmp(base, names[i]) == 0 && base - p >= 4 && memcmp(base - 4, "bin/", 4) == 0) return 1;
  }
  return 0;
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
  if (path && *path && strlen(path) < sizeof(ctl_addr.sun_path) && !own_program()) {
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
