/* libzerotierintercept: LD_PRELOAD shim that moves an unmodified program's AF_INET/AF_INET6
 * sockets onto a netcon user-space stack. Inert unless ZT_NC_NETWORK names the service socket.
 *
 * Discipline (DESIGN.md §3.10): every exported hook is a thin stub that calls one logic function;
 * real symbols are resolved once with dlsym(RTLD_NEXT) (a circular result is refused); anything that
 * is not ours passes through untouched; the per-fd table is locked; the control fd is kept out of
 * the program's reach; errno is set on every failure; fork and exec are survived.
 * The protocol is in intercept/RPC.md. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"

#define EXPORT __attribute__((visibility("default")))
#define NC_MAXFD 65536

/* ---------- real symbols ---------- */

static struct {
  int (*socket)(int, int, int);
  int (*bind)(int, const struct sockaddr *, socklen_t);
  int (*listen)(int, int);
  int (*accept)(int, struct sockaddr *, socklen_t *);
  int (*accept4)(int, struct sockaddr *, socklen_t *, int);
  int (*connect)(int, const struct sockaddr *, socklen_t);
  int (*getsockname)(int, struct sockaddr *, socklen_t *);
  int (*getpeername)(int, struct sockaddr *, socklen_t *);
  int (*getsockopt)(int, int, int, void *, socklen_t *);
  int (*setsockopt)(int, int, int, const void *, socklen_t);
  int (*shutdown)(int, int);
  int (*close)(int);
  int (*close_range)(unsigned, unsigned, int);
  void (*closefrom)(int);
  int (*dup)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
  int (*fcntl)(int, int, ...);
  int (*fcntl64)(int, int, ...);
  ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
  ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
  ssize_t (*sendmsg)(int, const struct msghdr *, int);
  ssize_t (*recvmsg)(int, struct msghdr *, int);
  ssize_t (*send)(int, const void *, size_t, int);
  ssize_t (*recv)(int, void *, size_t, int);
  ssize_t (*read)(int, void *, size_t);
  ssize_t (*readv)(int, const struct iovec *, int);
  ssize_t (*read_chk)(int, void *, size_t, size_t);
  ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
  ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
  int (*recvmmsg)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
  int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
} real;

static int active;      /* ZT_NC_NETWORK is set */
static int fallthrough; /* ZT_NC_FALLTHROUGH=1 */
static struct sockaddr_un ctl_addr;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Resolves one symbol; refuses to return our own hook (a circular lookup). */
static void *resolve(const char *name, void *self) {
  void *p = dlsym(RTLD_NEXT, name);
  if (p == self) p = NULL;
  return p;
}

/* Forward declarations of our hooks, to recognise a circular resolution. */
EXPORT int socket(int, int, int);
EXPORT int bind(int, const struct sockaddr *, socklen_t);
EXPORT int listen(int, int);
EXPORT int accept(int, struct sockaddr *, socklen_t *);
EXPORT int accept4(int, struct sockaddr *, socklen_t *, int);
EXPORT int connect(int, const struct sockaddr *, socklen_t);
EXPORT int getsockname(int, struct sockaddr *, socklen_t *);
EXPORT int getpeername(int, struct sockaddr *, socklen_t *);
EXPORT int getsockopt(int, int, int, void *, socklen_t *);
EXPORT int setsockopt(int, int, int, const void *, socklen_t);
EXPORT int shutdown(int, int);
EXPORT int close(int);
EXPORT int close_range(unsigned, unsigned, int);
EXPORT void closefrom(int);
EXPORT int dup(int);
EXPORT int dup2(int, int);
EXPORT int dup3(int, int, int);
EXPORT int fcntl(int, int, ...);
EXPORT int fcntl64(int, int, ...);
EXPORT ssize_t sendto(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
EXPORT ssize_t recvfrom(int, void *, size_t, int, struct sockaddr *, socklen_t *);
EXPORT ssize_t sendmsg(int, const struct msghdr *, int);
EXPORT ssize_t recvmsg(int, struct msghdr *, int);
EXPORT ssize_t send(int, const void *, size_t, int);
EXPORT ssize_t recv(int, void *, size_t, int);
EXPORT ssize_t read(int, void *, size_t);
EXPORT ssize_t readv(int, const struct iovec *, int);
EXPORT ssize_t __read_chk(int, void *, size_t, size_t);
EXPORT ssize_t __recv_chk(int, void *, size_t, size_t, int);
EXPORT ssize_t __recvfrom_chk(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
EXPORT int recvmmsg(int, struct mmsghdr *, unsigned int, int, struct timespec *);
EXPORT int sendmmsg(int, struct mmsghdr *, unsigned int, int);

static void atfork_prepare(void);
static void atfork_parent(void);
static void atfork_child(void);
static void ctl_init(void);
static int is_ctl(int fd);

static void init(void) {
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

#define ENSURE() pthread_once(&init_once, init)
#define NEED(fn)        \
  do {                  \
    if (!real.fn) {     \
      errno = ENOSYS;   \
      return -1;        \
    }                   \
  } while (0)

static int real_fcntl(int fd, int cmd, long arg) {
  if (real.fcntl) return real.fcntl(fd, cmd, arg);
  errno = ENOSYS;
  return -1;
}

/* ---------- the per-fd table ---------- */

struct ncfd {
  uint32_t id;
  int domain; /* AF_INET / AF_INET6 */
  int type;   /* SOCK_STREAM / SOCK_DGRAM */
  uint8_t state, flags;
  int so_error; /* from the last INFO */
  uint64_t ino;
  struct nc_addr local, remote;
  /* options as the program set them (read back by getsockopt) */
  int reuseaddr, reuseport, keepalive, nodelay, v6only;
  struct linger linger;
};

static pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ncfd *tab[NC_MAXFD];
static uint64_t notours_ino[NC_MAXFD]; /* fstat inode of an fd we asked about and is not ours */
/* 1 = the fd is in the table as an unconnected UDP socket, whose messages carry the ADDR header:
 * read/readv/__read_chk look here, without the lock, and only these fds take their slow path.
 * Written under tab_lock, whenever tab[fd] changes (tab_sync_locked). */
static uint8_t headed_fd[NC_MAXFD];

/* UDP without connect(): every message starts with an ADDR header (RPC.md). */
static int udp_headed(const struct ncfd *e) { return e->type == SOCK_DGRAM && !(e->flags & NC_FLAG_UDP_CONNECTED); }

static void tab_sync_locked(int fd) {
  __atomic_store_n(&headed_fd[fd], (uint8_t)(tab[fd] && udp_headed(tab[fd])), __ATOMIC_RELAXED);
}

static int fd_headed(int fd) {
  return (unsigned)fd < NC_MAXFD && __atomic_load_n(&headed_fd[fd], __ATOMIC_RELAXED);
}

static uint64_t fd_ino(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) return 0;
  return (uint64_t)st.st_ino;
}

static void tab_put(int fd, const struct ncfd *e) {
  if (fd < 0 || fd >= NC_MAXFD) return;
  pthread_mutex_lock(&tab_lock);
  if (!tab[fd]) tab[fd] = malloc(sizeof(struct ncfd));
  if (tab[fd]) *tab[fd] = *e;
  notours_ino[fd] = 0;
  tab_sync_locked(fd);
  pthread_mutex_unlock(&tab_lock);
}

static void tab_del_locked(int fd) {
  if (fd < 0 || fd >= NC_MAXFD) return;
  free(tab[fd]);
  tab[fd] = NULL;
  notours_ino[fd] = 0;
  tab_sync_locked(fd);
}

static void tab_del(int fd) {
  pthread_mutex_lock(&tab_lock);
  tab_del_locked(fd);
  pthread_mutex_unlock(&tab_lock);
}

/* Copies the entry of `from` to `to` (dup family); clears `to` if `from` is not ours. */
static void tab_copy(int from, int to) {
  if (from < 0 || from >= NC_MAXFD || to < 0 || to >= NC_MAXFD) return;
  pthread_mutex_lock(&tab_lock);
  tab_del_locked(to);
  if (tab[from]) {
    tab[to] = malloc(sizeof(struct ncfd));
    if (tab[to]) *tab[to] = *tab[from];
  }
  tab_sync_locked(to);
  pthread_mutex_unlock(&tab_lock);
}

static int tab_peek(int fd, struct ncfd *out) {
  if (fd < 0 || fd >= NC_MAXFD) return 0;
  int found = 0;
  pthread_mutex_lock(&tab_lock);
  if (tab[fd]) {
    *out = *tab[fd];
    found = 1;
  }
  pthread_mutex_unlock(&tab_lock);
  return found;
}

static void apply_info(struct ncfd *e, const struct nc_info *i) {
  e->domain = i->family == 6 ? AF_INET6 : AF_INET;
  e->type = i->type == NC_TYPE_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
  e->state = i->state;
  e->flags = i->flags;
  e->so_error = i->so_error;
  e->local = i->local;
  e->remote = i->remote;
  e->v6only = (i->flags & NC_FLAG_V6ONLY) != 0;
}

/* ---------- the control channel ---------- */

/* One control connection per thread (so threads never wait for each other's requests, and a
 * thread may wait for an answer as long as it needs); the slots also tell which fds are ours. */
#define NC_MAXCTL 64
#define NC_SHARED_SLOT (NC_MAXCTL - 1) /* used when there are more threads than slots */
struct ctl {
  pthread_mutex_t mu; /* held for a whole request/response */
  int fd;
  pid_t pid;
  uint64_t ino;
  int used;
};
static struct ctl ctls[NC_MAXCTL];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER; /* slot allocation and fd moves */
static __thread int my_slot = -1;
static pthread_key_t slot_key;

static void slot_release(void *p) {
  int i = (int)(intptr_t)p - 1;
  if (i < 0 || i >= NC_SHARED_SLOT) return;
  pthread_mutex_lock(&ctls[i].mu);
  pthread_mutex_lock(&reg_lock);
  if (ctls[i].fd >= 0 && ctls[i].pid == getpid() && fd_ino(ctls[i].fd) == ctls[i].ino) real.close(ctls[i].fd);
  ctls[i].fd = -1;
  ctls[i].used = 0;
  pthread_mutex_unlock(&reg_lock);
  pthread_mutex_unlock(&ctls[i].mu);
}

static void ctl_init(void) {
  for (int i = 0; i < NC_MAXCTL; i++) {
    pthread_mutex_init(&ctls[i].mu, NULL);
    ctls[i].fd = -1;
  }
  ctls[NC_SHARED_SLOT].used = 1;
  pthread_key_create(&slot_key, slot_release);
}

static struct ctl *my_ctl(void) {
  if (my_slot >= 0) return &ctls[my_slot];
  pthread_mutex_lock(&reg_lock);
  int slot = NC_SHARED_SLOT;
  for (int i = 0; i < NC_SHARED_SLOT; i++)
    if (!ctls[i].used) {
      ctls[i].used = 1;
      ctls[i].fd = -1;
      slot = i;
      break;
    }
  pthread_mutex_unlock(&reg_lock);
  if (slot != NC_SHARED_SLOT) {
    my_slot = slot;
    pthread_setspecific(slot_key, (void *)(intptr_t)(slot + 1));
  }
  return &ctls[slot];
}

static int ctl_ensure(struct ctl *c);

static void atfork_prepare(void) {
  pthread_mutex_lock(&reg_lock);
  pthread_mutex_lock(&tab_lock);
}
static void atfork_parent(void) {
  pthread_mutex_unlock(&tab_lock);
  pthread_mutex_unlock(&reg_lock);
}
static void atfork_child(void) {
  pthread_mutex_unlock(&tab_lock);
  /* The connections are the parent's: drop the copies; the forking thread opens its own at once,
   * while it still has the parent's privileges (nginx workers and sshd children drop them). */
  int had = my_slot >= 0 && ctls[my_slot].fd >= 0;
  for (int i = 0; i < NC_MAXCTL; i++) {
    pthread_mutex_init(&ctls[i].mu, NULL);
    if (ctls[i].fd >= 0 && fd_ino(ctls[i].fd) == ctls[i].ino) real.close(ctls[i].fd);
    ctls[i].fd = -1;
    if (i != my_slot && i != NC_SHARED_SLOT) ctls[i].used = 0;
  }
  pthread_mutex_unlock(&reg_lock);
  if (active && had) ctl_ensure(&ctls[my_slot]);
}

/* The lowest fd number a control socket may take: high, out of the way of programs that
 * expect the lowest free numbers and of dup2 targets. */
static int high_fd_base(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) return 512;
  if (rl.rlim_cur > 1024) return (int)(rl.rlim_cur > NC_MAXFD ? NC_MAXFD / 2 : rl.rlim_cur - 256);
  if (rl.rlim_cur > 64) return (int)rl.rlim_cur - 80;
  return (int)rl.rlim_cur / 2;
}

/* With c->mu held: makes sure the slot has a working connection of this process. */
static int ctl_ensure(struct ctl *c) {
  if (c->fd >= 0) {
    if (c->pid == getpid() && fd_ino(c->fd) == c->ino) return 0;
    /* Forked child, or the program managed to replace our fd: drop it if it is still ours. */
    pthread_mutex_lock(&reg_lock);
    if (fd_ino(c->fd) == c->ino) real.close(c->fd);
    c->fd = -1;
    pthread_mutex_unlock(&reg_lock);
  }
  if (!real.socket || !real.connect || !real.close) return -ENOSYS;
  int s = real.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  int r;
  do r = real.connect(s, (struct sockaddr *)&ctl_addr, sizeof(ctl_addr));
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    real.close(s);
    return (e == ENOENT || e == ECONNREFUSED) ? -ENETDOWN : -e;
  }
  int hi = real_fcntl(s, F_DUPFD_CLOEXEC, high_fd_base());
  if (hi >= 0) {
    real.close(s);
    s = hi;
  }
  pthread_mutex_lock(&reg_lock);
  c->fd = s;
  c->pid = getpid();
  c->ino = fd_ino(s);
  pthread_mutex_unlock(&reg_lock);
  return 0;
}

static void ctl_drop(struct ctl *c) {
  pthread_mutex_lock(&reg_lock);
  real.close(c->fd);
  c->fd = -1;
  pthread_mutex_unlock(&reg_lock);
}

/* One request/response exchange on this thread's connection. Returns the response length, or
 * -errno. fd_in (if >= 0) travels with the request; an attached fd in the answer is stored in
 * *fd_out (close-on-exec) if fd_out is not NULL, else closed. */
static int rpc(const uint8_t *req, size_t reqlen, int fd_in, uint8_t *resp, size_t cap, int *fd_out) {
  if (fd_out) *fd_out = -1;
  if (!real.sendmsg || !real.recvmsg) return -ENOSYS;
  int saved = errno;
  struct ctl *c = my_ctl();
  pthread_mutex_lock(&c->mu);
  int n = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    n = ctl_ensure(c);
    if (n < 0) break;
    struct iovec iov = {(void *)req, reqlen};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } sb;
    if (fd_in >= 0) {
      /* the socket itself travels with the request (CONNECT: RPC.md) */
      mh.msg_control = sb.buf;
      mh.msg_controllen = sizeof(sb.buf);
      struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(cm), &fd_in, sizeof(int));
    }
    ssize_t w;
    do w = real.sendmsg(c->fd, &mh, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0) {
      n = -errno;
      ctl_drop(c);
      if (n == -EPIPE || n == -ECONNRESET || n == -ENOTCONN) {
        n = -ENETDOWN;
        continue; /* the service restarted: one more try on a fresh connection */
      }
      break;
    }
    union {
      char buf[CMSG_SPACE(sizeof(int) * 4)];
      struct cmsghdr align;
    } cb;
    struct iovec riov = {resp, cap};
    struct msghdr rm = {0};
    rm.msg_iov = &riov;
    rm.msg_iovlen = 1;
    rm.msg_control = cb.buf;
    rm.msg_controllen = sizeof(cb.buf);
    ssize_t r;
    do r = real.recvmsg(c->fd, &rm, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
      n = r == 0 ? -ENETDOWN : -errno;
      ctl_drop(c);
      break;
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&rm); cm; cm = CMSG_NXTHDR(&rm, cm)) {
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
      int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < k; i++) {
        int f;
        memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
        if (fd_out && *fd_out < 0)
          *fd_out = f;
        else
          real.close(f);
      }
    }
    n = (int)r;
    break;
  }
  pthread_mutex_unlock(&c->mu);
  errno = saved;
  return n;
}

/* Sends a request about socket `e` and refreshes `e` from the INFO in the answer; fd_in, if
 * not -1, travels with the request. Returns the result field (>= 0 or -errno). */
static int rpc_sock_fd(int fd, int fd_in, struct ncfd *e, uint16_t op, uint16_t flags, const uint8_t *body,
                       size_t blen, int *fd_out) {
  uint8_t req[NC_MSG_MAX], resp[NC_MSG_MAX];
  size_t n = nc_put_hdr(req, op, flags, e ? e->id : 0);
  if (blen > sizeof(req) - n) return -EINVAL;
  memcpy(req + n, body, blen);
  int len = rpc(req, n + blen, fd_in, resp, sizeof(resp), fd_out);
  if (len < 0) return len;
  struct nc_resp r;
  if (nc_get_resp(resp, (size_t)len, &r) < 0 || r.op != op) {
    if (fd_out && *fd_out >= 0) {
      real.close(*fd_out);
      *fd_out = -1;
    }
    return -EIO;
  }
  if (e && r.has_info) {
    apply_info(e, &r.info);
    if (fd >= 0) {
      /* keep the table in step, without clobbering a concurrent close */
      pthread_mutex_lock(&tab_lock);
      if (fd < NC_MAXFD && tab[fd] && tab[fd]->id == e->id) {
        tab[fd]->state = e->state;
        tab[fd]->flags = e->flags;
        tab[fd]->local = e->local;
        tab[fd]->remote = e->remote;
        tab_sync_locked(fd);
      }
      pthread_mutex_unlock(&tab_lock);
    }
  }
  return r.result;
}

static int rpc_sock(int fd, struct ncfd *e, uint16_t op, uint16_t flags, const uint8_t *body, size_t blen,
                    int *fd_out) {
  return rpc_sock_fd(fd, -1, e, op, flags, body, blen, fd_out);
}

/* Is fd one of ours? Fills *e. Fds we have not seen (inherited through exec) are looked up by
 * the inode of the socket; answers are remembered per fd and inode. */
static int lookup(int fd, struct ncfd *e) {
  if (!active || fd < 0 || fd >= NC_MAXFD) return 0;
  if (tab_peek(fd, e)) return 1;
  uint64_t ino = fd_ino(fd);
  if (!ino) return 0;
  pthread_mutex_lock(&tab_lock);
  int known_not = notours_ino[fd] == ino;
  pthread_mutex_unlock(&tab_lock);
  if (known_not) return 0;
  int dom = 0;
  socklen_t dl = sizeof(dom);
  int ours = 0;
  if (!is_ctl(fd) && real.getsockopt && real.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) == 0 && dom == AF_UNIX) {
    uint8_t body[8];
    nc_put_u64(body, ino);
    memset(e, 0, sizeof(*e));
    int saved = errno;
    int r = rpc_sock(-1, e, NC_OP_LOOKUP, 0, body, sizeof(body), NULL);
    errno = saved;
    if (r > 0) {
      e->id = (uint32_t)r;
      e->ino = ino;
      tab_put(fd, e);
      ours = 1;
    }
  }
  if (!ours) {
    pthread_mutex_lock(&tab_lock);
    if (!tab[fd]) notours_ino[fd] = ino;
    pthread_mutex_unlock(&tab_lock);
  }
  return ours;
}

static int fail(int err) {
  errno = err;
  return -1;
}

static void set_nonblock(int fd, int on) {
  int fl = real_fcntl(fd, F_GETFL, 0);
  if (fl >= 0) real_fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

static void set_cloexec(int fd, int on) { real_fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0); }

static void put_sockaddr(const struct nc_addr *a, int domain, struct sockaddr *addr, socklen_t *alen) {
  if (!addr || !alen) return;
  struct sockaddr_storage ss;
  socklen_t l = nc_to_sockaddr(a, domain, &ss);
  memcpy(addr, &ss, *alen < l ? *alen : l);
  *alen = l;
}

/* ---------- logic ---------- */

static int do_socket(int domain, int type, int protocol) {
  int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  int mine = active && (domain == AF_INET || domain == AF_INET6) &&
             ((base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP)) ||
              (base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP)));
  if (!mine) {
    NEED(socket);
    return real.socket(domain, type, protocol);
  }
  uint8_t body[8] = {0};
  body[0] = domain == AF_INET6 ? 6 : 4;
  body[1] = base == SOCK_DGRAM ? NC_TYPE_DGRAM : NC_TYPE_STREAM;
  nc_put_u32(body + 4, (uint32_t)protocol);
  struct ncfd e;
  memset(&e, 0, sizeof(e));
  int fd = -1;
  int r = rpc_sock(-1, &e, NC_OP_SOCKET, 0, body, sizeof(body), &fd);
  if (r < 0 || fd < 0) {
    if (fd >= 0) real.close(fd);
    return fail(r < 0 ? -r : EIO);
  }
  if (!(type & SOCK_CLOEXEC)) set_cloexec(fd, 0);
  if (type & SOCK_NONBLOCK) set_nonblock(fd, 1);
  e.id = (uint32_t)r;
  e.ino = fd_ino(fd);
  e.domain = domain;
  e.type = base;
  tab_put(fd, &e);
  return fd;
}

static int do_bind(int fd, const struct sockaddr *addr, socklen_t len) {
  struct ncfd e;
  if (!lookup(fd, &e)) {
    NEED(bind);
    return real.bind(fd, addr, len);
  }
  struct nc_addr a;
  int r = nc_from_sockaddr(addr, len, e.domain, &a);
  if (r < 0) return fail(-r);
  if (a.family == 0) return fail(EAFNOSUPPORT);
  uint8_t body[NC_ADDR_LEN];
  nc_put_addr(body, &a);
  r = rpc_sock(fd, &e, NC_OP_BIND, 0, body, sizeof(body), NULL);
  return r < 0 ? fail(-r) : 0;
}

static int do_listen(int fd, int backlog) {
  struct ncfd e;
  if (!lookup(fd, &e)) {
    NEED(listen);
    return real.listen(fd, backlog);
  }
  if (e.type != SOCK_STREAM) return fail(EOPNOTSUPP);
  if (e.state == NC_ST_CONNECTED || e.state == NC_ST_CONNECTING) return fail(EINVAL);
  uint8_t body[4];
  nc_put_u32(body, (uint32_t)(backlog < 0 ? 0 : backlog));
  int nfd = -1;
  int r = rpc_sock(fd, &e, NC_OP_LISTEN, 0, body, sizeof(body), &nfd);
  if (r < 0) {
    if (nfd >= 0) real.close(nfd);
    return fail(-r);
  }
  if (nfd >= 0) {
    /* The listening end replaces the program's fd in place, keeping its flags. */
    int fdfl = real_fcntl(fd, F_GETFD, 0), fl = real_fcntl(fd, F_GETFL, 0);
    if (real.dup3(nfd, fd, (fdfl >= 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0) < 0) {
      int err = errno;
      real.close(nfd);
      return fail(err);
    }
    real.close(nfd);
    if (fl >= 0 && (fl & O_NONBLOCK)) set_nonblock(fd, 1);
    e.ino = fd_ino(fd);
    tab_put(fd, &e);
  }
  return 0;
}

static int do_accept(int fd, struct sockaddr *addr, socklen_t *alen, int flags, int is4) {
  struct ncfd e;
  if (!lookup(fd, &e)) {
    if (is4) {
      NEED(accept4);
      return real.accept4(fd, addr, alen, flags);
    }
    NEED(accept);
    return real.accept(fd, addr, alen);
  }
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return fail(EINVAL);
  if (e.type != SOCK_STREAM || e.state != NC_ST_LISTENING) return fail(EINVAL);
  uint8_t buf[NC_ACCEPT_LEN + 8];
  union {
    char b[CMSG_SPACE(sizeof(int) * 4)];
    struct cmsghdr align;
  } cb;
  struct iovec iov = {buf, sizeof(buf)};
  struct msghdr mh = {0};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cb.b;
  mh.msg_controllen = sizeof(cb.b);
  ssize_t n = real.recvmsg(fd, &mh, (flags & SOCK_CLOEXEC) ? MSG_CMSG_CLOEXEC : 0);
  if (n < 0) return -1; /* EAGAIN, EINTR …: as the kernel said */
  int nfd = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k; i++) {
      int f;
      memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (nfd < 0)
        nfd = f;
      else
        real.close(f);
    }
  }
  struct nc_accept acc;
  if (n == 0 && nfd < 0) return fail(EINVAL); /* the service went away */
  if (nfd < 0 || nc_get_accept(buf, (size_t)n, &acc) < 0) {
    if (nfd >= 0) real.close(nfd);
    return fail(ECONNABORTED);
  }
  if (flags & SOCK_NONBLOCK) set_nonblock(nfd, 1);
  struct ncfd c;
  memset(&c, 0, sizeof(c));
  c.id = acc.id;
  c.domain = e.domain;
  c.type = SOCK_STREAM;
  c.state = NC_ST_CONNECTED;
  c.local = acc.local;
  c.remote = acc.remote;
  c.ino = fd_ino(nfd);
  c.nodelay = e.nodelay;
  c.keepalive = e.keepalive;
  tab_put(nfd, &c);
  put_sockaddr(&acc.remote, e.domain, addr, alen);
  return nfd;
}

/* Replaces our fd with a host-stack socket (ZT_NC_FALLTHROUGH) and connects it. */
static int host_connect(int fd, const struct ncfd *e, const struct sockaddr *addr, socklen_t len) {
  int fl = real_fcntl(fd, F_GETFL, 0), fdfl = real_fcntl(fd, F_GETFD, 0);
  int s = real.socket(e->domain, e->type | ((fl >= 0 && (fl & O_NONBLOCK)) ? SOCK_NONBLOCK : 0), 0);
  if (s < 0) return -1;
  if (e->nodelay) real.setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &e->nodelay, sizeof(int));
  if (e->keepalive) real.setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &e->keepalive, sizeof(int));
  if (real.dup3(s, fd, (fdfl >= 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0) < 0) {
    int err = errno;
    real.close(s);
    return fail(err);
  }
  real.close(s);
  tab_del(fd);
  return real.connect(fd, addr, len);
}

static int do_connect(int fd, const struct sockaddr *addr, socklen_t len) {
  struct ncfd e;
  if (!lookup(fd, &e)) {
    NEED(connect);
    return real.connect(fd, addr, len);
  }
  struct nc_addr a;
  int r = nc_from_sockaddr(addr, len, e.domain, &a);
  if (r < 0) return fail(-r);
  if (e.type == SOCK_STREAM) {
    if (a.family == 0) return fail(EAFNOSUPPORT);
    if (e.state == NC_ST_CONNECTING) {
      /* a second connect() asks how the first is doing (hiredis, for one, does this) */
      uint8_t clear[4];
      nc_put_u32(clear, 1);
      r = rpc_sock(fd, &e, NC_OP_INFO, 0, clear, sizeof(clear), NULL);
      if (r < 0) return fail(-r);
      if (e.state == NC_ST_CONNECTED) return fail(EISCONN);
      if (e.state == NC_ST_CONNECTING) return fail(EALREADY);
      if (e.so_error) return fail(e.so_error);
    }
    if (e.state == NC_ST_CONNECTED) return fail(EISCONN);
    if (e.state == NC_ST_LISTENING) return fail(EINVAL);
  }
  uint8_t body[NC_ADDR_LEN];
  nc_put_addr(body, &a);
  int fl = real_fcntl(fd, F_GETFL, 0);
  uint16_t rf = fallthrough ? NC_REQ_FALLTHROUGH : 0;
  if (e.type == SOCK_STREAM && fl >= 0 && !(fl & O_NONBLOCK)) {
    /* Blocking connect: this thread's control connection waits for the outcome (RPC.md). */
    r = rpc_sock(fd, &e, NC_OP_CONNECT, rf | NC_REQ_WAIT, body, sizeof(body), NULL);
    if (r == NC_CONNECT_USE_HOST) return host_connect(fd, &e, addr, len);
    return r < 0 ? fail(-r) : 0;
  }
  r = rpc_sock_fd(fd, e.type == SOCK_STREAM ? fd : -1, &e, NC_OP_CONNECT, rf, body, sizeof(body), NULL);
  if (r == NC_CONNECT_USE_HOST) return host_connect(fd, &e, addr, len);
  if (r == 0) return 0;
  if (r != -EINPROGRESS) return fail(-r);
  if (fl >= 0 && (fl & O_NONBLOCK)) return fail(EINPROGRESS);
  /* Blocking connect: the fd becomes writable when the outcome is known, readable (EOF) too if
   * the connect failed (RPC.md); only then (or if data came at once) is the state asked for. */
  struct pollfd p = {fd, POLLOUT | POLLIN | POLLRDHUP, 0};
  while (poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
  if (!(p.revents & (POLLHUP | POLLERR | POLLIN | POLLRDHUP))) {
    pthread_mutex_lock(&tab_lock);
    if (fd < NC_MAXFD && tab[fd] && tab[fd]->id == e.id) {
      tab[fd]->state = NC_ST_CONNECTED;
      tab[fd]->local.port = 0; /* getsockname asks the service */
    }
    pthread_mutex_unlock(&tab_lock);
    return 0;
  }
  uint8_t clear[4];
  nc_put_u32(clear, 1);
  r = rpc_sock(fd, &e, NC_OP_INFO, 0, clear, sizeof(clear), NULL);
  if (r < 0) return fail(-r);
  if (e.so_error) return fail(e.so_error);
  if (e.state != NC_ST_CONNECTED) return fail(ECONNREFUSED);
  return 0;
}

static int do_getname(int fd, struct sockaddr *addr, socklen_t *alen, int peer) {
  struct ncfd e;
  if (!lookup(fd, &e)) {
    if (peer) {
      NEED(getpeername);
      return real.getpeername(fd, addr, alen);
    }
    NEED(getsockname);
    return real.getsockname(fd, addr, alen);
  }
  if (!addr || !alen) return fail(EFAULT);
  if (e.state == NC_ST_CONNECTING || (!peer && e.state != NC_ST_NEW && e.local.port == 0)) {
    uint8_t clear[4];
    nc_put_u32(clear, 0);
    int r = rpc_sock(fd, &e, NC_OP_INFO, 0, clear, sizeof(clear), NULL);
    if (r < 0) return fail(-r);
  }
  if (peer) {
    int connected = e.type == SOCK_STREAM ? e.state == NC_ST_CONNECTED : (e.flags & NC_FLAG_UDP_CONNECTED) != 0;
    if (!connected) return fail(ENOTCONN);
    put_sockaddr(&e.remote, e.domain, addr, alen);
  } else {
    put_sockaddr(&e.local, e.domain, addr, alen);
  }
  return 0;
}

static int put_int(void *val, socklen_t *len, int v) {
  if (!val || !len || *len < (socklen_t)sizeof(int)) return fail(EINVAL);
  memcpy(val, &v, sizeof(int));
  *len = sizeof(int);
  return 0;
}

static int do_getsockopt(int fd, int level, int name, void *val, socklen_t *len) {
  struct ncfd e;
  if (!lookup(fd, &e)) {
    NEED(getsockopt);
    return real.getsockopt(fd, level, name, val, len);
  }
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_TYPE:
        return put_int(val, len, e.type);
      case SO_DOMAIN:
        return put_int(val, len, e.domain);
      case SO_PROTOCOL:
        return put_int(val, len, e.type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
      case SO_ACCEPTCONN:
        return put_int(val, len, e.state == NC_ST_LISTENING);
      case SO_REUSEADDR:
        return put_int(val, len, e.reuseaddr);
      case SO_REUSEPORT:
        return put_int(val, len, e.reuseport);
      case SO_KEEPALIVE:
        return put_int(val, len, e.keepalive);
      case SO_ERROR: {
        uint8_t clear[4];
        nc_put_u32(clear, 1);
        int r = rpc_sock(fd, &e, NC_OP_INFO, 0, clear, sizeof(clear), NULL);
        if (r < 0) return put_int(val, len, -r);
        return put_int(val, len, e.so_error);
      }
      case SO_LINGER:
        if (!val || !len || *len < (socklen_t)sizeof(struct linger)) return fail(EINVAL);
        memcpy(val, &e.linger, sizeof(struct linger));
        *len = sizeof(struct linger);
        return 0;
      default:
        NEED(getsockopt);
        return real.getsockopt(fd, level, name, val, len);
    }
  }
  if (level == IPPROTO_TCP) {
    if (e.type != SOCK_STREAM) return fail(EOPNOTSUPP);
    if (name == TCP_NODELAY) return put_int(val, len, e.nodelay);
    if (name == TCP_MAXSEG) return put_int(val, len, 1400);
    if (name == TCP_INFO) {
      if (!val || !len) return fail(EFAULT);
      struct tcp_info ti;
      memset(&ti, 0, sizeof(ti));
      ti.tcpi_state = e.state == NC_ST_CONNECTED ? 1 : e.state == NC_ST_LISTENING ? 10 : 7;
      ti.tcpi_snd_mss = ti.tcpi_rcv_mss = 1400;
      socklen_t l = *len < (socklen_t)sizeof(ti) ? *len : (socklen_t)sizeof(ti);
      memcpy(val, &ti, l);
      *len = l;
      return 0;
    }
    return put_int(val, len, 0);
  }
  if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) return put_int(val, len, e.v6only);
  if (level == IPPROTO_IP && name == IP_OPTIONS) {
    if (len) *len = 0; /* no IP options (sshd checks) */
    return 0;
  }
  if (level == IPPROTO_IP || level == IPPROTO_IPV6) return put_int(val, len, 0);
  return fail(ENOPROTOOPT);
}

static int get_int_arg(const void *val, socklen_t len, int *out) {
  if (!val || len < (socklen_t)sizeof(int)) return -1;
  memcpy(out, val, sizeof(int));
  return 0;
}

static int do_setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  struct ncfd e;
  if (!lookup(fd, &e)) {
    NEED(setsockopt);
    return real.setsockopt(fd, level, name, val, len);
  }
  int v = 0, send = 0;
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_REUSEADDR:
      case SO_REUSEPORT:
      case SO_KEEPALIVE:
        if (get_int_arg(val, len, &v) < 0) return fail(EINVAL);
        v = v != 0;
        if (name == SO_REUSEADDR) e.reuseaddr = v;
        if (name == SO_REUSEPORT) e.reuseport = v;
        if (name == SO_KEEPALIVE) e.keepalive = v;
        send = 1;
        break;
      case SO_LINGER:
        if (!val || len < (socklen_t)sizeof(struct linger)) return fail(EINVAL);
        memcpy(&e.linger, val, sizeof(struct linger));
        v = (e.linger.l_onoff && e.linger.l_linger == 0) ? 1 : 0; /* 1 = abortive close */
        send = 1;
        break;
      case SO_RCVBUF:
      case SO_SNDBUF:
      case SO_RCVBUFFORCE:
      case SO_SNDBUFFORCE:
      case SO_RCVTIMEO:
      case SO_SNDTIMEO:
      case SO_RCVLOWAT:
        /* act on the fd the program reads and writes */
        NEED(setsockopt);
        return real.setsockopt(fd, level, name, val, len);
      default:
        return 0; /* accepted; no meaning on a virtual network (SO_BINDTODEVICE, SO_PRIORITY …) */
    }
  } else if (level == IPPROTO_TCP) {
    if (e.type != SOCK_STREAM) return fail(EOPNOTSUPP);
    if (get_int_arg(val, len, &v) < 0) return fail(EINVAL);
    switch (name) {
      case TCP_NODELAY:
        e.nodelay = v != 0;
        send = 1;
        break;
      case TCP_KEEPIDLE:
      case TCP_KEEPINTVL:
      case TCP_KEEPCNT:
        send = 1;
        break;
      default:
        return 0; /* TCP_CORK, TCP_DEFER_ACCEPT, TCP_FASTOPEN, TCP_QUICKACK … accepted */
    }
  } else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
    if (e.domain != AF_INET6) return fail(ENOPROTOOPT);
    if (get_int_arg(val, len, &v) < 0) return fail(EINVAL);
    e.v6only = v != 0;
    send = 1;
  } else if (level == IPPROTO_IP || level == IPPROTO_IPV6) {
    return 0;
  } else {
    return fail(ENOPROTOOPT);
  }
  pthread_mutex_lock(&tab_lock);
  if (tab[fd] && tab[fd]->id == e.id) {
    tab[fd]->reuseaddr = e.reuseaddr;
    tab[fd]->reuseport = e.reuseport;
    tab[fd]->keepalive = e.keepalive;
    tab[fd]->nodelay = e.nodelay;
    tab[fd]->v6only = e.v6only;
    tab[fd]->linger = e.linger;
  }
  pthread_mutex_unlock(&tab_lock);
  if (send) {
    uint8_t body[12];
    nc_put_u32(body, (uint32_t)level);
    nc_put_u32(body + 4, (uint32_t)name);
    nc_put_u32(body + 8, (uint32_t)v);
    int r = rpc_sock(fd, &e, NC_OP_SETOPT, 0, body, sizeof(body), NULL);
    if (r < 0 && r != -ENETDOWN) return fail(-r);
  }
  return 0;
}

static int do_shutdown(int fd, int how) {
  struct ncfd e;
  if (!lookup(fd, &e)) {
    NEED(shutdown);
    return real.shutdown(fd, how);
  }
  if (how < SHUT_RD || how > SHUT_RDWR) return fail(EINVAL);
  int connected = e.type == SOCK_STREAM ? (e.state == NC_ST_CONNECTED || e.state == NC_ST_CONNECTING)
                                        : (e.flags & NC_FLAG_UDP_CONNECTED) != 0;
  if (!connected) return fail(ENOTCONN);
  return real.shutdown(fd, how);
}

/* Moves a control fd away from `fd` if the program is about to take that number. */
static void ctl_evade(int fd) {
  if (!active || fd < 0) return;
  for (int i = 0; i < NC_MAXCTL; i++) {
    pthread_mutex_lock(&reg_lock);
    int hit = ctls[i].fd == fd && ctls[i].pid == getpid();
    pthread_mutex_unlock(&reg_lock);
    if (!hit) continue;
    /* wait for the slot's request in flight, if any (same thread: the lock is not held here) */
    pthread_mutex_lock(&ctls[i].mu);
    pthread_mutex_lock(&reg_lock);
    if (ctls[i].fd == fd) {
      int hi = real_fcntl(fd, F_DUPFD_CLOEXEC, fd + 1 > high_fd_base() ? fd + 1 : high_fd_base());
      if (hi < 0) hi = real_fcntl(fd, F_DUPFD_CLOEXEC, 3);
      real.close(fd);
      ctls[i].fd = hi;
    }
    pthread_mutex_unlock(&reg_lock);
    pthread_mutex_unlock(&ctls[i].mu);
  }
}

static int is_ctl(int fd) {
  if (!active || fd < 0) return 0;
  int r = 0;
  pthread_mutex_lock(&reg_lock);
  for (int i = 0; i < NC_MAXCTL && !r; i++) r = ctls[i].fd == fd && ctls[i].pid == getpid();
  pthread_mutex_unlock(&reg_lock);
  return r;
}

static int do_close(int fd) {
  NEED(close);
  if (!active) return real.close(fd);
  if (is_ctl(fd)) return 0; /* the library's own fd: the program never opened it */
  tab_del(fd);
  return real.close(fd);
}

static int cr(unsigned first, unsigned last, int flags) {
  if (real.close_range) return real.close_range(first, last, flags);
  return (int)syscall(SYS_close_range, first, last, flags);
}

static int do_close_range(unsigned first, unsigned last, int flags) {
  if (!active || first > last) return cr(first, last, flags);
  int keep[NC_MAXCTL], nk = 0;
  pthread_mutex_lock(&reg_lock);
  for (int i = 0; i < NC_MAXCTL; i++)
    if (ctls[i].fd >= 0 && ctls[i].pid == getpid() && (unsigned)ctls[i].fd >= first && (unsigned)ctls[i].fd <= last)
      keep[nk++] = ctls[i].fd;
  pthread_mutex_unlock(&reg_lock);
  if (!(flags & CLOSE_RANGE_CLOEXEC)) {
    pthread_mutex_lock(&tab_lock);
    for (unsigned f = first; f <= last && f < NC_MAXFD; f++) tab_del_locked((int)f);
    pthread_mutex_unlock(&tab_lock);
  }
  /* close around the control fds, lowest first */
  for (int i = 1; i < nk; i++)
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
      int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  unsigned lo = first;
  int r = 0;
  for (int i = 0; i < nk && r == 0; i++) {
    if ((unsigned)keep[i] > lo) r = cr(lo, (unsigned)keep[i] - 1, flags);
    lo = (unsigned)keep[i] + 1;
  }
  if (r == 0 && lo <= last && lo != 0) r = cr(lo, last, flags);
  return r;
}

static int do_dup(int fd) {
  NEED(dup);
  int r = real.dup(fd);
  if (r >= 0 && active) tab_copy(fd, r);
  return r;
}

static int do_dup3(int oldfd, int newfd, int flags, int is3) {
  if (active && oldfd != newfd) ctl_evade(newfd);
  int r;
  if (is3) {
    NEED(dup3);
    r = real.dup3(oldfd, newfd, flags);
  } else {
    NEED(dup2);
    r = real.dup2(oldfd, newfd);
  }
  if (r >= 0 && active && oldfd != newfd) tab_copy(oldfd, newfd);
  return r;
}

static int do_fcntl(int fd, int cmd, long arg, int is64) {
  int (*f)(int, int, ...) = is64 && real.fcntl64 ? real.fcntl64 : real.fcntl;
  if (!f) return fail(ENOSYS);
  int r = f(fd, cmd, arg);
  if (r >= 0 && active && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) tab_copy(fd, r);
  return r;
}

/* The first send from an unbound UDP socket binds it (as the kernel does), so getsockname
 * right after sendto shows the port. */
static int udp_autobind(int fd, const struct ncfd *e) {
  if (e->state != NC_ST_NEW) return 0;
  struct nc_addr any;
  memset(&any, 0, sizeof(any));
  any.family = e->domain == AF_INET6 ? 6 : 4;
  uint8_t body[NC_ADDR_LEN];
  nc_put_addr(body, &any);
  struct ncfd c = *e;
  int r = rpc_sock(fd, &c, NC_OP_BIND, 0, body, sizeof(body), NULL);
  return r == -EINVAL ? 0 : r; /* EINVAL: bound meanwhile */
}

static ssize_t udp_send(int fd, const struct ncfd *e, const struct iovec *iov, size_t iovlen, int flags,
                        const struct sockaddr *addr, socklen_t alen) {
  struct nc_addr a;
  if (!addr) return fail(EDESTADDRREQ);
  int r = nc_from_sockaddr(addr, alen, e->domain, &a);
  if (r < 0) return fail(-r);
  if (a.family == 0) return fail(EAFNOSUPPORT);
  r = udp_autobind(fd, e);
  if (r < 0) return fail(-r);
  uint8_t hdr[NC_ADDR_LEN];
  nc_put_addr(hdr, &a);
  struct iovec stack_iov[17];
  struct iovec *v = iovlen < 16 ? stack_iov : malloc(sizeof(struct iovec) * (iovlen + 1));
  if (!v) return fail(ENOMEM);
  v[0].iov_base = hdr;
  v[0].iov_len = sizeof(hdr);
  if (iovlen) memcpy(v + 1, iov, sizeof(struct iovec) * iovlen);
  struct msghdr mh = {0};
  mh.msg_iov = v;
  mh.msg_iovlen = iovlen + 1;
  ssize_t n = real.sendmsg(fd, &mh, flags | MSG_NOSIGNAL);
  int err = errno;
  if (v != stack_iov) free(v);
  errno = err;
  if (n < 0) return -1;
  return n >= (ssize_t)sizeof(hdr) ? n - (ssize_t)sizeof(hdr) : 0;
}

static ssize_t udp_recv(int fd, const struct ncfd *e, struct iovec *iov, size_t iovlen, int flags,
                        struct sockaddr *addr, socklen_t *alen, int *msg_flags) {
  uint8_t hdr[NC_ADDR_LEN];
  struct iovec stack_iov[17];
  struct iovec *v = iovlen < 16 ? stack_iov : malloc(sizeof(struct iovec) * (iovlen + 1));
  if (!v) return fail(ENOMEM);
  v[0].iov_base = hdr;
  v[0].iov_len = sizeof(hdr);
  if (iovlen) memcpy(v + 1, iov, sizeof(struct iovec) * iovlen);
  struct msghdr mh = {0};
  mh.msg_iov = v;
  mh.msg_iovlen = iovlen + 1;
  ssize_t n = real.recvmsg(fd, &mh, flags);
  int err = errno;
  if (v != stack_iov) free(v);
  errno = err;
  if (n < 0) return -1;
  if (msg_flags) *msg_flags = mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC | MSG_EOR | MSG_OOB);
  struct nc_addr a;
  if (n < (ssize_t)sizeof(hdr) || nc_get_addr(hdr, sizeof(hdr), &a) < 0) {
    if (n == 0) return 0; /* the service closed the socket */
    return fail(EIO);
  }
  put_sockaddr(&a, e->domain, addr, alen);
  return n - (ssize_t)sizeof(hdr);
}

static ssize_t do_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                         socklen_t alen) {
  struct ncfd e;
  if (!real.sendto || !real.sendmsg) return fail(ENOSYS);
  if (!lookup(fd, &e)) return real.sendto(fd, buf, len, flags, addr, alen);
  if (e.type == SOCK_STREAM) return real.sendto(fd, buf, len, flags, NULL, 0);
  if (!udp_headed(&e)) {
    if (addr) return fail(EISCONN);
    return real.sendto(fd, buf, len, flags, NULL, 0);
  }
  struct iovec iov = {(void *)buf, len};
  return udp_send(fd, &e, &iov, 1, flags, addr, alen);
}

/* recvfrom on our socket `e` (also __recvfrom_chk). */
static ssize_t nc_recvfrom(int fd, const struct ncfd *ep, void *buf, size_t len, int flags, struct sockaddr *addr,
                           socklen_t *alen) {
  struct ncfd e = *ep;
  if (e.type == SOCK_STREAM) {
    ssize_t n = real.recvfrom(fd, buf, len, flags, NULL, NULL);
    if (n >= 0 && alen) *alen = 0;
    return n;
  }
  if (!udp_headed(&e)) {
    ssize_t n = real.recvfrom(fd, buf, len, flags, NULL, NULL);
    if (n >= 0) put_sockaddr(&e.remote, e.domain, addr, alen);
    return n;
  }
  struct iovec iov = {buf, len};
  return udp_recv(fd, &e, &iov, 1, flags, addr, alen, NULL);
}

static ssize_t do_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *alen) {
  struct ncfd e;
  if (!real.recvfrom || !real.recvmsg) return fail(ENOSYS);
  if (!lookup(fd, &e)) return real.recvfrom(fd, buf, len, flags, addr, alen);
  return nc_recvfrom(fd, &e, buf, len, flags, addr, alen);
}

/* sendmsg on our socket `e` (also one message of sendmmsg). */
static ssize_t nc_sendmsg(int fd, const struct ncfd *ep, const struct msghdr *msg, int flags) {
  struct ncfd e = *ep;
  struct msghdr m = *msg;
  m.msg_control = NULL; /* IP-level ancillary data has no meaning on the pair */
  m.msg_controllen = 0;
  if (e.type == SOCK_STREAM || !udp_headed(&e)) {
    if (e.type == SOCK_DGRAM && m.msg_name) return fail(EISCONN);
    m.msg_name = NULL;
    m.msg_namelen = 0;
    return real.sendmsg(fd, &m, flags);
  }
  return udp_send(fd, &e, m.msg_iov, m.msg_iovlen, flags, (const struct sockaddr *)m.msg_name, m.msg_namelen);
}

static ssize_t do_sendmsg(int fd, const struct msghdr *msg, int flags) {
  struct ncfd e;
  if (!real.sendmsg) return fail(ENOSYS);
  if (!lookup(fd, &e)) return real.sendmsg(fd, msg, flags);
  return nc_sendmsg(fd, &e, msg, flags);
}

/* recvmsg on our socket `e` (also one message of recvmmsg). */
static ssize_t nc_recvmsg(int fd, const struct ncfd *ep, struct msghdr *msg, int flags) {
  struct ncfd e = *ep;
  if (e.type == SOCK_STREAM || !udp_headed(&e)) {
    struct msghdr m = *msg;
    m.msg_name = NULL;
    m.msg_namelen = 0;
    m.msg_control = NULL;
    m.msg_controllen = 0;
    ssize_t n = real.recvmsg(fd, &m, flags);
    if (n < 0) return n;
    msg->msg_flags = m.msg_flags;
    msg->msg_controllen = 0;
    if (msg->msg_name) {
      if (e.type == SOCK_DGRAM)
        put_sockaddr(&e.remote, e.domain, (struct sockaddr *)msg->msg_name, &msg->msg_namelen);
      else
        msg->msg_namelen = 0;
    }
    return n;
  }
  int mf = 0;
  ssize_t n = udp_recv(fd, &e, msg->msg_iov, msg->msg_iovlen, flags, (struct sockaddr *)msg->msg_name,
                       &msg->msg_namelen, &mf);
  if (n >= 0) {
    msg->msg_flags = mf;
    msg->msg_controllen = 0;
  }
  return n;
}

static ssize_t do_recvmsg(int fd, struct msghdr *msg, int flags) {
  struct ncfd e;
  if (!real.recvmsg) return fail(ENOSYS);
  if (!lookup(fd, &e)) return real.recvmsg(fd, msg, flags);
  return nc_recvmsg(fd, &e, msg, flags);
}

/* recvmmsg/sendmmsg on our sockets: one recvmsg/sendmsg per message, as the kernel loops
 * (man recvmmsg, sendmmsg): at most UIO_MAXIOV messages; an error after the first message ends
 * the call with the count so far; MSG_WAITFORONE turns on MSG_DONTWAIT after the first message.
 * The timeout bounds the wait for every message after the first (the kernel only checks it
 * between messages, so a blocking socket may wait for the second one forever); the remaining
 * time is written back, as the kernel does. */
#define NC_UIO_MAXIOV 1024

static int64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int do_recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *tmo) {
  struct ncfd e;
  if (!real.recvmmsg || !real.recvmsg) return fail(ENOSYS);
  if (!lookup(fd, &e)) return real.recvmmsg(fd, vec, vlen, flags, tmo);
  if (tmo && (tmo->tv_sec < 0 || tmo->tv_nsec < 0 || tmo->tv_nsec >= 1000000000)) return fail(EINVAL);
  if (vlen > NC_UIO_MAXIOV) vlen = NC_UIO_MAXIOV;
  int64_t deadline = tmo ? mono_ns() + (int64_t)tmo->tv_sec * 1000000000 + tmo->tv_nsec : 0;
  int fl = flags & ~MSG_WAITFORONE;
  int nonblock = (flags & MSG_DONTWAIT) != 0;
  if (tmo && !nonblock) {
    int f = real_fcntl(fd, F_GETFL, 0);
    nonblock = f >= 0 && (f & O_NONBLOCK);
  }
  int saved = errno;
  unsigned int got = 0;
  int err = 0;
  while (got < vlen) {
    if (got > 0 && tmo && !nonblock && !(fl & MSG_DONTWAIT)) {
      /* wait for the next message no longer than the timeout allows */
      int64_t left = deadline - mono_ns();
      if (left <= 0) break;
      struct pollfd p = {fd, POLLIN, 0};
      int r = poll(&p, 1, (int)((left + 999999) / 1000000));
      if (r == 0) break;
      if (r < 0) {
        err = errno;
        break;
      }
    }
    ssize_t n = nc_recvmsg(fd, &e, &vec[got].msg_hdr, fl);
    if (n < 0) {
      err = errno;
      break;
    }
    vec[got].msg_len = (unsigned int)n;
    got++;
    if (flags & MSG_WAITFORONE) fl |= MSG_DONTWAIT;
    if (tmo && mono_ns() >= deadline) break;
  }
  if (tmo) {
    int64_t left = deadline - mono_ns();
    if (left < 0) left = 0;
    tmo->tv_sec = (time_t)(left / 1000000000);
    tmo->tv_nsec = (long)(left % 1000000000);
  }
  if (got == 0) return fail(err ? err : EAGAIN);
  errno = saved; /* a later message's EAGAIN is not the call's */
  return (int)got;
}

static int do_sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags) {
  struct ncfd e;
  if (!real.sendmmsg || !real.sendmsg) return fail(ENOSYS);
  if (!lookup(fd, &e)) return real.sendmmsg(fd, vec, vlen, flags);
  if (vlen > NC_UIO_MAXIOV) vlen = NC_UIO_MAXIOV;
  int saved = errno;
  unsigned int sent = 0;
  while (sent < vlen) {
    ssize_t n = nc_sendmsg(fd, &e, &vec[sent].msg_hdr, flags);
    if (n < 0) {
      if (sent == 0) return -1; /* errno as the send left it */
      break;
    }
    vec[sent].msg_len = (unsigned int)n;
    sent++;
    if (e.type == SOCK_DGRAM && e.state == NC_ST_NEW) tab_peek(fd, &e); /* the first send bound it */
  }
  errno = saved;
  return (int)sent;
}

/* send/recv without an address: only an unconnected UDP socket of ours needs care (its messages
 * carry the ADDR header); everything else goes straight through. */
static ssize_t do_send(int fd, const void *buf, size_t len, int flags) {
  struct ncfd e;
  if (!real.send) return fail(ENOSYS);
  if (!tab_peek(fd, &e) || !udp_headed(&e)) return real.send(fd, buf, len, flags);
  return fail(EDESTADDRREQ);
}

static ssize_t do_recv(int fd, void *buf, size_t len, int flags) {
  struct ncfd e;
  if (!real.recv) return fail(ENOSYS);
  if (!tab_peek(fd, &e) || !udp_headed(&e)) return real.recv(fd, buf, len, flags);
  struct iovec iov = {buf, len};
  return udp_recv(fd, &e, &iov, 1, flags, NULL, NULL, NULL);
}

/* __recv_chk/__recvfrom_chk: glibc's fortified recv()/recvfrom() (_FORTIFY_SOURCE with a known
 * buffer size) call libc's recv/recvfrom internally, past our hooks, so they are hooked too: within
 * the buffer, the same logic as recv()/recvfrom(); len > buflen: the real one reports the overflow
 * and aborts; an fd that is not ours: the real one. */
static ssize_t do_recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags) {
  struct ncfd e;
  if (!real.recv_chk) return fail(ENOSYS);
  if (len > buflen || !tab_peek(fd, &e) || !udp_headed(&e)) return real.recv_chk(fd, buf, len, buflen, flags);
  if (!real.recvmsg) return fail(ENOSYS);
  struct iovec iov = {buf, len};
  return udp_recv(fd, &e, &iov, 1, flags, NULL, NULL, NULL);
}

static ssize_t do_recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *addr,
                               socklen_t *alen) {
  struct ncfd e;
  if (!real.recvfrom_chk) return fail(ENOSYS);
  if (len > buflen || !lookup(fd, &e)) return real.recvfrom_chk(fd, buf, len, buflen, flags, addr, alen);
  if (!real.recvfrom || !real.recvmsg) return fail(ENOSYS);
  return nc_recvfrom(fd, &e, buf, len, flags, addr, alen);
}

/* read/readv/__read_chk: every fd but an unconnected UDP socket of ours (headed_fd) goes straight
 * to the real function after one array lookup; those return the payload of one datagram, as recv()
 * does (the slow path, out of line). An fd we have not seen yet (inherited through exec) is
 * recognised by its first socket call (recvfrom …). */
#define NC_COLD __attribute__((noinline, cold))

/* Called before the constructor ran (another library's constructor reading a file): resolve now. */
NC_COLD static ssize_t read_early(int fd, void *buf, size_t len) {
  ENSURE();
  if (!real.read) return fail(ENOSYS);
  return real.read(fd, buf, len);
}

NC_COLD static ssize_t readv_early(int fd, const struct iovec *iov, int iovcnt) {
  ENSURE();
  if (!real.readv) return fail(ENOSYS);
  return real.readv(fd, iov, iovcnt);
}

NC_COLD static ssize_t read_chk_early(int fd, void *buf, size_t len, size_t buflen) {
  ENSURE();
  if (!real.read_chk) return fail(ENOSYS);
  return real.read_chk(fd, buf, len, buflen);
}

NC_COLD static ssize_t udp_readv(int fd, const struct iovec *iov, int iovcnt) {
  struct ncfd e;
  if (!tab_peek(fd, &e) || !udp_headed(&e)) /* not any more */
    return real.readv ? real.readv(fd, iov, iovcnt) : readv_early(fd, iov, iovcnt);
  if (iovcnt < 0 || iovcnt > NC_UIO_MAXIOV) return fail(EINVAL);
  if (!real.recvmsg) return fail(ENOSYS);
  return udp_recv(fd, &e, (struct iovec *)iov, (size_t)iovcnt, 0, NULL, NULL, NULL);
}

NC_COLD static ssize_t udp_read(int fd, void *buf, size_t len) {
  struct iovec iov = {buf, len};
  return udp_readv(fd, &iov, 1);
}

static ssize_t do_read(int fd, void *buf, size_t len) {
  if (fd_headed(fd)) return udp_read(fd, buf, len);
  if (!real.read) return read_early(fd, buf, len);
  return real.read(fd, buf, len);
}

static ssize_t do_readv(int fd, const struct iovec *iov, int iovcnt) {
  if (fd_headed(fd)) return udp_readv(fd, iov, iovcnt);
  if (!real.readv) return readv_early(fd, iov, iovcnt);
  return real.readv(fd, iov, iovcnt);
}

static ssize_t do_read_chk(int fd, void *buf, size_t len, size_t buflen) {
  /* len > buflen: the real one reports the overflow and aborts */
  if (fd_headed(fd) && len <= buflen) return udp_read(fd, buf, len);
  if (!real.read_chk) return read_chk_early(fd, buf, len, buflen);
  return real.read_chk(fd, buf, len, buflen);
}

/* ---------- exported stubs ---------- */

EXPORT int socket(int domain, int type, int protocol) {
  ENSURE();
  return do_socket(domain, type, protocol);
}
EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  ENSURE();
  return do_bind(fd, addr, len);
}
EXPORT int listen(int fd, int backlog) {
  ENSURE();
  return do_listen(fd, backlog);
}
EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  ENSURE();
  return do_accept(fd, addr, len, 0, 0);
}
EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  ENSURE();
  return do_accept(fd, addr, len, flags, 1);
}
EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  ENSURE();
  return do_connect(fd, addr, len);
}
EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len) {
  ENSURE();
  return do_getname(fd, addr, len, 0);
}
EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len) {
  ENSURE();
  return do_getname(fd, addr, len, 1);
}
EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len) {
  ENSURE();
  return do_getsockopt(fd, level, name, val, len);
}
EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  ENSURE();
  return do_setsockopt(fd, level, name, val, len);
}
EXPORT int shutdown(int fd, int how) {
  ENSURE();
  return do_shutdown(fd, how);
}
EXPORT int close(int fd) {
  ENSURE();
  return do_close(fd);
}
EXPORT int close_range(unsigned first, unsigned last, int flags) {
  ENSURE();
  return do_close_range(first, last, flags);
}
EXPORT void closefrom(int lowfd) {
  ENSURE();
  if (lowfd < 0) lowfd = 0;
  do_close_range((unsigned)lowfd, ~0U, 0);
}
EXPORT int dup(int fd) {
  ENSURE();
  return do_dup(fd);
}
EXPORT int dup2(int oldfd, int newfd) {
  ENSURE();
  return do_dup3(oldfd, newfd, 0, 0);
}
EXPORT int dup3(int oldfd, int newfd, int flags) {
  ENSURE();
  return do_dup3(oldfd, newfd, flags, 1);
}
EXPORT int fcntl(int fd, int cmd, ...) {
  ENSURE();
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  return do_fcntl(fd, cmd, arg, 0);
}
EXPORT int fcntl64(int fd, int cmd, ...) {
  ENSURE();
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  return do_fcntl(fd, cmd, arg, 1);
}
EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t alen) {
  ENSURE();
  return do_sendto(fd, buf, len, flags, addr, alen);
}
EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *alen) {
  ENSURE();
  return do_recvfrom(fd, buf, len, flags, addr, alen);
}
EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  ENSURE();
  return do_sendmsg(fd, msg, flags);
}
EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  ENSURE();
  return do_recvmsg(fd, msg, flags);
}
EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags) {
  ENSURE();
  return do_send(fd, buf, len, flags);
}
EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags) {
  ENSURE();
  return do_recv(fd, buf, len, flags);
}
EXPORT ssize_t read(int fd, void *buf, size_t len) { return do_read(fd, buf, len); }
EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt) { return do_readv(fd, iov, iovcnt); }
EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen) { return do_read_chk(fd, buf, len, buflen); }
EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags) {
  ENSURE();
  return do_recv_chk(fd, buf, len, buflen, flags);
}
EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *addr,
                              socklen_t *alen) {
  ENSURE();
  return do_recvfrom_chk(fd, buf, len, buflen, flags, addr, alen);
}
EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *tmo) {
  ENSURE();
  return do_recvmmsg(fd, vec, vlen, flags, tmo);
}
EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags) {
  ENSURE();
  return do_sendmmsg(fd, vec, vlen, flags);
}
