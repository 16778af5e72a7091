/* libzerotierintercept's internal header: shared by its files, never installed.
 *
 * libzerotierintercept is an LD_PRELOAD shim that moves an unmodified program's AF_INET/AF_INET6
 * sockets onto a netcon user-space stack. Inert unless ZT_NC_NETWORK names the service socket.
 *
 * Discipline (DESIGN.md §3.10): every exported hook is a thin stub that calls one logic function;
 * real symbols are resolved once with dlsym(RTLD_NEXT) (a circular result is refused); anything that
 * is not ours passes through untouched; the per-fd table is locked; the control fd is kept out of
 * the program's reach; errno is set on every failure; fork and exec are survived.
 * The protocol is in intercept/RPC.md.
 *
 * Files (as torsocks' src/lib): real.c (real symbols, environment, constructor), fdtable.c (the
 * per-fd table), control.c (the control channel: per-thread connections, fork, rpc), socket.c (what
 * every socket shares: socket, bind, names, options, shutdown), tcp.c, udp.c, closedup.c (close/dup
 * and own-fd protection), hooks.c (only the one-line exported hooks). Every non-static symbol is
 * hidden (-fvisibility=hidden) except the hooks. */
#ifndef NC_INTERNAL_H
#define NC_INTERNAL_H

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
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"

#define EXPORT __attribute__((visibility("default")))
#define NC_MAXFD 65536

#define NC_COLD __attribute__((noinline, cold))
#define NC_UIO_MAXIOV 1024
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

/* ---------- real.c: the real symbols ---------- */

struct nc_real {
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
  int (*epoll_ctl)(int, int, int, struct epoll_event *);
};
extern struct nc_real real;
extern int active;      /* ZT_NC_NETWORK is set */
extern int fallthrough; /* ZT_NC_FALLTHROUGH=1 */
extern struct sockaddr_un ctl_addr;
extern pthread_once_t init_once;

void init(void);
int real_fcntl(int fd, int cmd, long arg);

#define ENSURE() pthread_once(&init_once, init)
#define NEED(fn)        \
  do {                  \
    if (!real.fn) {     \
      errno = ENOSYS;   \
      return -1;        \
    }                   \
  } while (0)

/* Our hooks (hooks.c), declared to recognise a circular resolution. */
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
EXPORT int epoll_ctl(int, int, int, struct epoll_event *);


/* ---------- fdtable.c: the per-fd table ---------- */

struct ncfd {
  uint32_t id;
  int domain; /* AF_INET / AF_INET6 */
  int type;   /* SOCK_STREAM / SOCK_DGRAM */
  uint8_t state, flags;
  int so_error; /* from the last INFO */
  uint64_t ino;
  struct nc_addr local, remote;
  /* options as the program set them (read back by getsockopt) */
  int protocol; /* as the program asked for it, reported by SO_PROTOCOL */
  int backlog; /* of listen(), for REATTACH */
  int reuseaddr, reuseport, keepalive, nodelay, v6only;
  struct linger linger;
  /* 1: the answer to this socket's SOCKET is still to be read, on ctls[owed_slot] (id is 0 until then) */
  uint8_t owed, owed_slot;
};

extern pthread_mutex_t tab_lock;
extern struct ncfd *tab[NC_MAXFD];
extern uint64_t notours_ino[NC_MAXFD];
extern uint8_t headed_fd[NC_MAXFD];

/* UDP without connect(): every message starts with an ADDR header (RPC.md). */
static inline int udp_headed(const struct ncfd *e) { return e->type == SOCK_DGRAM && !(e->flags & NC_FLAG_UDP_CONNECTED); }

/* headed_fd[fd]: NC_FD_HEADED = an unconnected UDP socket of ours (read/readv/__read_chk strip the
 * header), NC_FD_TCP = a TCP socket of ours (an EOF read on it asks why: tcp_eof). */
#define NC_FD_HEADED 1
#define NC_FD_TCP 2
static inline int fd_headed(int fd) {
  return (unsigned)fd < NC_MAXFD && __atomic_load_n(&headed_fd[fd], __ATOMIC_RELAXED) == NC_FD_HEADED;
}
static inline int fd_tcp(int fd) {
  return (unsigned)fd < NC_MAXFD && __atomic_load_n(&headed_fd[fd], __ATOMIC_RELAXED) == NC_FD_TCP;
}

static inline int is_icmp(const struct ncfd *e) {
  return e->protocol == IPPROTO_ICMP || e->protocol == IPPROTO_ICMPV6;
}
void tab_sync_locked(int fd);
uint64_t fd_ino(int fd);
void tab_put(int fd, const struct ncfd *e);
void tab_del_locked(int fd);
void tab_del(int fd);
void tab_copy(int from, int to);
int tab_peek(int fd, struct ncfd *out);
void apply_info(struct ncfd *e, const struct nc_info *i);
/* Is fd one of ours? Fills *e (fds inherited through exec are asked for by inode). */
int lookup(int fd, struct ncfd *e);
/* Asks the service for the socket whose app end has inode `ino` (LOOKUP) and puts it in the table
 * for fd; 1 found (e filled), 0 not. */
int lookup_ino(int fd, uint64_t ino, struct ncfd *e);

/* ---------- control.c: the control channel ---------- */

/* One control connection per thread (so threads never wait for each other's requests, and a
 * thread may wait for an answer as long as it needs); the slots also tell which fds are ours. */
#define NC_MAXCTL 64
#define NC_SHARED_SLOT (NC_MAXCTL - 1) /* used when there are more threads than slots */
#define NC_WATCH_SLOT (NC_MAXCTL - 2)  /* the watcher thread's liveness connection (relisten.c) */
#define NC_OWED_MAX 16
struct ctl {
  pthread_mutex_t mu; /* held for a whole request/response */
  int fd;
  pid_t pid;
  uint64_t ino;
  int used;
  /* SOCKET requests sent without waiting (do_socket): their answers come first, in this order, and
   * are read before the answer of the next request (settle) */
  int owed;
  int refusing; /* the last SOCKET answer read was a failure (EMFILE …): wait for the next ones */
  struct {
    int fd;
    uint64_t ino;
  } owed_q[NC_OWED_MAX];
};
extern struct ctl ctls[NC_MAXCTL];
extern pthread_mutex_t reg_lock;

void ctl_init(void);
/* With c->mu held: makes sure the slot has a working connection of this process (0 or -errno). */
int ctl_ensure(struct ctl *c);
void ctl_drop(struct ctl *c);
void atfork_prepare(void);
void atfork_parent(void);
void atfork_child(void);
int high_fd_base(void);
/* The first fd that came with a received message (SCM_RIGHTS), or -1; any others are closed. */
int first_passed_fd(struct msghdr *mh);
int rpc(const uint8_t *req, size_t reqlen, int fd_in, uint8_t *resp, size_t cap, int *fd_out);
/* Sends a SOCKET request for the app's end `fd` (inode ino) with the service's end fd_in, without
 * waiting for the answer; returns this thread's slot (the entry's owed_slot) or -errno. */
int rpc_post_socket(const uint8_t *req, size_t reqlen, int fd_in, int fd, uint64_t ino);
int my_slot_index(void);
int rpc_sock_fd(int fd, int fd_in, struct ncfd *e, uint16_t op, uint16_t flags, const uint8_t *body, size_t blen,
                int *fd_out);
int rpc_sock(int fd, struct ncfd *e, uint16_t op, uint16_t flags, const uint8_t *body, size_t blen, int *fd_out);

/* ---------- socket.c: what every socket of ours shares; helpers ---------- */

static inline size_t iov_len(const struct iovec *iov, size_t n) {
  size_t t = 0;
  for (size_t i = 0; i < n; i++) t += iov[i].iov_len;
  return t;
}
static inline int fail(int err) {
  errno = err;
  return -1;
}
void set_nonblock(int fd, int on);
void set_cloexec(int fd, int on);
void put_sockaddr(const struct nc_addr *a, int domain, struct sockaddr *addr, socklen_t *alen);
int host_swap(int fd, const struct ncfd *e);
int do_socket(int domain, int type, int protocol);
int do_bind(int fd, const struct sockaddr *addr, socklen_t len);
int do_getname(int fd, struct sockaddr *addr, socklen_t *alen, int peer);
int do_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int do_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int do_shutdown(int fd, int how);

/* ---------- tcp.c ---------- */

int do_listen(int fd, int backlog);
int do_accept(int fd, struct sockaddr *addr, socklen_t *alen, int flags, int is4);
int do_connect(int fd, const struct sockaddr *addr, socklen_t len);
/* A read on our TCP socket returned 0: EOF, or the connection was reset (the peer's RST, the service
 * gone, a failed connect): returns 0 or -1 with errno set. */
ssize_t tcp_eof(int fd, int flags);

/* ---------- udp.c ---------- */

ssize_t do_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t alen);
ssize_t do_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *alen);
ssize_t do_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t do_recvmsg(int fd, struct msghdr *msg, int flags);
int do_recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *tmo);
int do_sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags);
ssize_t do_send(int fd, const void *buf, size_t len, int flags);
ssize_t do_recv(int fd, void *buf, size_t len, int flags);
ssize_t do_recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t do_recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *addr,
                        socklen_t *alen);
ssize_t do_read(int fd, void *buf, size_t len);
ssize_t do_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t do_read_chk(int fd, void *buf, size_t len, size_t buflen);

/* ---------- closedup.c: close/dup, own-fd protection ---------- */

int is_ctl(int fd);
int do_close(int fd);
int do_close_range(unsigned first, unsigned last, int flags);
int do_dup(int fd);
int do_dup3(int oldfd, int newfd, int flags, int is3);
int do_fcntl(int fd, int cmd, long arg, int is64);

/* ---------- relisten.c: surviving the service (parked listeners, reattach) ---------- */

extern int nc_service_down; /* the watcher saw the service go and it is not back (atomic) */
void relisten_watch(void);
void relisten_hangup(int fd);
int relisten_parked(int fd);
void relisten_forget_locked(int fd);
void relisten_atfork_child(void);
int do_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);

#endif
