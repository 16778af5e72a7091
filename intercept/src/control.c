/* The control channel: one SOCK_SEQPACKET connection to the service per thread, fork
 * handling, and the request/response exchange (RPC.md). */
#include "nc.h"

struct ctl ctls[NC_MAXCTL];
pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER; /* slot allocation and fd moves */
static __thread int my_slot = -1;
static pthread_key_t slot_key;


static void slot_release(void *p) {
  int i = (int)(intptr_t)p - 1;
  if (i < 0 || i >= NC_WATCH_SLOT) return;
  pthread_mutex_lock(&ctls[i].mu);
  pthread_mutex_lock(&reg_lock);
  if (ctls[i].fd >= 0 && ctls[i].pid == getpid() && fd_ino(ctls[i].fd) == ctls[i].ino) real.close(ctls[i].fd);
  ctls[i].fd = -1;
  ctls[i].used = 0;
  pthread_mutex_unlock(&reg_lock);
  pthread_mutex_unlock(&ctls[i].mu);
}

void ctl_init(void) {
  for (int i = 0; i < NC_MAXCTL; i++) {
    pthread_mutex_init(&ctls[i].mu, NULL);
    ctls[i].fd = -1;
  }
  ctls[NC_SHARED_SLOT].used = 1;
  ctls[NC_WATCH_SLOT].used = 1;
  pthread_key_create(&slot_key, slot_release);
}

static struct ctl *my_ctl(void) {
  if (my_slot >= 0) return &ctls[my_slot];
  pthread_mutex_lock(&reg_lock);
  int slot = NC_SHARED_SLOT;
  for (int i = 0; i < NC_WATCH_SLOT; i++)
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


static void settle_slot(int slot);

void atfork_prepare(void) {
  /* A child cannot read the answers its parent's connections owe: read them now. */
  for (int i = 0; i < NC_MAXCTL; i++)
    if (__atomic_load_n(&ctls[i].owed, __ATOMIC_RELAXED) > 0) settle_slot(i);
  pthread_mutex_lock(&reg_lock);
  pthread_mutex_lock(&tab_lock);
}
void atfork_parent(void) {
  pthread_mutex_unlock(&tab_lock);
  pthread_mutex_unlock(&reg_lock);
}
void atfork_child(void) {
  pthread_mutex_unlock(&tab_lock);
  /* The connections are the parent's: drop the copies; the forking thread opens its own at once,
   * while it still has the parent's privileges (nginx workers and sshd children drop them). */
  int had = my_slot >= 0 && ctls[my_slot].fd >= 0;
  for (int i = 0; i < NC_MAXCTL; i++) {
    pthread_mutex_init(&ctls[i].mu, NULL);
    if (ctls[i].fd >= 0 && fd_ino(ctls[i].fd) == ctls[i].ino) real.close(ctls[i].fd);
    ctls[i].fd = -1;
    ctls[i].owed = 0;
    ctls[i].refusing = 0;
    if (i != my_slot && i != NC_SHARED_SLOT && i != NC_WATCH_SLOT) ctls[i].used = 0;
  }
  pthread_mutex_unlock(&reg_lock);
  if (active && had) ctl_ensure(&ctls[my_slot]);
  relisten_atfork_child();
}

/* The lowest fd number a control socket may take: high, out of the way of programs that
 * expect the lowest free numbers and of dup2 targets. */
int high_fd_base(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) return 512;
  if (rl.rlim_cur > 1024) return (int)(rl.rlim_cur > NC_MAXFD ? NC_MAXFD / 2 : rl.rlim_cur - 256);
  if (rl.rlim_cur > 64) return (int)rl.rlim_cur - 80;
  return (int)rl.rlim_cur / 2;
}

/* With c->mu held: makes sure the slot has a working connection of this process. */
int ctl_ensure(struct ctl *c) {
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

void ctl_drop(struct ctl *c) {
  pthread_mutex_lock(&reg_lock);
  real.close(c->fd);
  c->fd = -1;
  pthread_mutex_unlock(&reg_lock);
}

/* With c->mu held: marks the sockets whose SOCKET answers were owed on c as failed with err (the
 * connection is gone, and the sockets with it). */
static void owed_fail_locked(struct ctl *c, int err) {
  pthread_mutex_lock(&tab_lock);
  for (int i = 0; i < c->owed; i++) {
    int fd = c->owed_q[i].fd;
    if (fd >= 0 && fd < NC_MAXFD && tab[fd] && tab[fd]->owed && tab[fd]->ino == c->owed_q[i].ino) {
      tab[fd]->owed = 0;
      tab[fd]->state = NC_ST_CLOSED;
      tab[fd]->so_error = err;
    }
  }
  pthread_mutex_unlock(&tab_lock);
  c->owed = 0;
}

/* With c->mu held: sends one request; fd_in (if >= 0) travels with it. A connection the service
 * closed is replaced once, unless it owed answers or the request names ID_LAST: both meant the old
 * service's sockets, which are gone. 0 or -errno. */
static int send_locked(struct ctl *c, const uint8_t *req, size_t reqlen, int fd_in, int names_last) {
  int n = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    n = ctl_ensure(c);
    if (n < 0) return n;
    struct iovec iov = {(void *)req, reqlen};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } sb;
    if (fd_in >= 0) {
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
    if (w >= 0) return 0;
    n = -errno;
    ctl_drop(c);
    if (n != -EPIPE && n != -ECONNRESET && n != -ENOTCONN) return n;
    n = -ENETDOWN;
    int owed = c->owed;
    owed_fail_locked(c, ECONNRESET);
    if (owed || names_last) return n;
    /* the service restarted: one more try on a fresh connection */
  }
  return n;
}

int first_passed_fd(struct msghdr *mh) {
  int first = -1;
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k; i++) {
      int f;
      memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      if (first < 0)
        first = f;
      else
        real.close(f);
    }
  }
  return first;
}

/* With c->mu held: receives one answer; an attached fd goes to *fd_out (close-on-exec) if fd_out is
 * not NULL, else is closed. The answer's length, or -errno (the connection is then dropped). */
static int recv_locked(struct ctl *c, uint8_t *resp, size_t cap, int *fd_out) {
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
    /* EOF, or ECONNRESET: the service died with our request unread */
    int n = (r == 0 || errno == ECONNRESET || errno == EPIPE) ? -ENETDOWN : -errno;
    ctl_drop(c);
    return n;
  }
  int f = first_passed_fd(&rm);
  if (fd_out)
    *fd_out = f;
  else if (f >= 0)
    real.close(f);
  return (int)r;
}

/* With c->mu held: reads the answers owed to SOCKET requests sent without waiting, in order, and
 * puts each socket's id (or its failure) in the table. */
static void settle_locked(struct ctl *c) {
  while (c->owed > 0) {
    int fd = c->owed_q[0].fd;
    uint64_t ino = c->owed_q[0].ino;
    uint8_t resp[NC_MSG_MAX];
    int n = recv_locked(c, resp, sizeof(resp), NULL);
    if (n < 0) {
      owed_fail_locked(c, n == -ENETDOWN ? ECONNRESET : -n);
      return;
    }
    c->owed--;
    memmove(c->owed_q, c->owed_q + 1, sizeof(c->owed_q[0]) * (size_t)c->owed);
    struct nc_resp r;
    int ok = nc_get_resp(resp, (size_t)n, &r) == 0 && r.op == NC_OP_SOCKET;
    c->refusing = !ok || r.result <= 0;
    pthread_mutex_lock(&tab_lock);
    struct ncfd *e = fd >= 0 && fd < NC_MAXFD ? tab[fd] : NULL;
    if (e && e->owed && e->ino == ino) {
      e->owed = 0;
      if (ok && r.result > 0) {
        e->id = (uint32_t)r.result;
        if (r.has_info) apply_info(e, &r.info);
      } else {
        e->state = NC_ST_CLOSED;
        e->so_error = ok && r.result < 0 ? -r.result : EIO;
      }
      tab_sync_locked(fd);
    }
    pthread_mutex_unlock(&tab_lock);
  }
}

/* With c->mu held: one request and its answer, after the answers owed before it. */
static int exchange_locked(struct ctl *c, const uint8_t *req, size_t reqlen, int fd_in, uint8_t *resp, size_t cap,
                           int *fd_out, int names_last) {
  int n = send_locked(c, req, reqlen, fd_in, names_last);
  if (n < 0) return n;
  settle_locked(c);
  if (c->fd < 0) return -ENETDOWN;
  return recv_locked(c, resp, cap, fd_out);
}

/* One request/response exchange on this thread's connection. Returns the response length, or
 * -errno. fd_in (if >= 0) travels with the request; an attached fd in the answer is stored in
 * *fd_out (close-on-exec) if fd_out is not NULL, else closed. */
int rpc(const uint8_t *req, size_t reqlen, int fd_in, uint8_t *resp, size_t cap, int *fd_out) {
  if (fd_out) *fd_out = -1;
  if (!real.sendmsg || !real.recvmsg) return -ENOSYS;
  int saved = errno;
  struct ctl *c = my_ctl();
  pthread_mutex_lock(&c->mu);
  int n = exchange_locked(c, req, reqlen, fd_in, resp, cap, fd_out, 0);
  pthread_mutex_unlock(&c->mu);
  errno = saved;
  return n;
}

int my_slot_index(void) { return (int)(my_ctl() - ctls); }

int rpc_post_socket(const uint8_t *req, size_t reqlen, int fd_in, int fd, uint64_t ino) {
  if (!real.sendmsg || !real.recvmsg) return -ENOSYS;
  int saved = errno;
  struct ctl *c = my_ctl();
  pthread_mutex_lock(&c->mu);
  if (c->owed == NC_OWED_MAX) settle_locked(c);
  int n = send_locked(c, req, reqlen, fd_in, 0);
  if (n == 0) {
    c->owed_q[c->owed].fd = fd;
    c->owed_q[c->owed].ino = ino;
    c->owed++;
    n = (int)(c - ctls);
    /* While the service refuses sockets (out of fds …), wait for the answer: socket() itself fails. */
    if (c->refusing) settle_locked(c);
  }
  pthread_mutex_unlock(&c->mu);
  errno = saved;
  return n;
}

/* Reads the owed answers of the connection the socket's SOCKET went on. */
static void settle_slot(int slot) {
  if (slot < 0 || slot >= NC_MAXCTL) return;
  struct ctl *c = &ctls[slot];
  pthread_mutex_lock(&c->mu);
  if (c->fd >= 0 && c->pid == getpid()) settle_locked(c);
  pthread_mutex_unlock(&c->mu);
}

/* Refreshes e from the table entry of fd, if it is still the same socket. */
static void refresh(int fd, struct ncfd *e) {
  pthread_mutex_lock(&tab_lock);
  if (fd >= 0 && fd < NC_MAXFD && tab[fd] && tab[fd]->ino == e->ino) *e = *tab[fd];
  pthread_mutex_unlock(&tab_lock);
}

/* A request about a socket whose SOCKET answer is still owed (do_socket). If that SOCKET is the
 * last one sent on this thread's connection, the request names it ID_LAST and goes at once: one wait
 * for both answers. Otherwise the owed answers are read first (or, for a copy the answer never
 * reaches, a dup or a forked child's, the service is asked by inode) and the request names the id. */
static int rpc_owed(int fd, struct ncfd *e, uint8_t *req, size_t reqlen, int fd_in, uint8_t *resp, size_t cap,
                    int *fd_out) {
  if (fd_out) *fd_out = -1;
  if (!real.sendmsg || !real.recvmsg) return -ENOSYS;
  struct ctl *c = my_ctl();
  int saved = errno;
  pthread_mutex_lock(&c->mu);
  if (c->owed > 0 && c->pid == getpid() && c->owed_q[c->owed - 1].fd == fd && c->owed_q[c->owed - 1].ino == e->ino) {
    nc_put_u32(req + 4, NC_ID_LAST);
    int n = exchange_locked(c, req, reqlen, fd_in, resp, cap, fd_out, 1);
    pthread_mutex_unlock(&c->mu);
    errno = saved;
    refresh(fd, e);
    return n;
  }
  pthread_mutex_unlock(&c->mu);
  settle_slot(e->owed_slot);
  refresh(fd, e);
  if (e->owed) {
    struct ncfd t;
    if (!lookup_ino(fd, e->ino, &t)) return -EBADF;
    e->id = t.id;
    e->owed = 0;
    e->state = t.state;
    e->flags = t.flags;
    e->local = t.local;
    e->remote = t.remote;
    tab_put(fd, e);
  }
  if (e->id == 0) return -(e->so_error ? e->so_error : EBADF);
  nc_put_u32(req + 4, e->id);
  return rpc(req, reqlen, fd_in, resp, cap, fd_out);
}

/* Sends a request about socket `e` and refreshes `e` from the INFO in the answer; fd_in, if
 * not -1, travels with the request. Returns the result field (>= 0 or -errno). */
int rpc_sock_fd(int fd, int fd_in, struct ncfd *e, uint16_t op, uint16_t flags, const uint8_t *body,
                       size_t blen, int *fd_out) {
  uint8_t req[NC_MSG_MAX], resp[NC_MSG_MAX];
  size_t n = nc_put_hdr(req, op, flags, e ? e->id : 0);
  if (blen > sizeof(req) - n) return -EINVAL;
  memcpy(req + n, body, blen);
  int len = e && e->owed ? rpc_owed(fd, e, req, n + blen, fd_in, resp, sizeof(resp), fd_out)
                         : rpc(req, n + blen, fd_in, resp, sizeof(resp), fd_out);
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

int rpc_sock(int fd, struct ncfd *e, uint16_t op, uint16_t flags, const uint8_t *body, size_t blen,
                    int *fd_out) {
  return rpc_sock_fd(fd, -1, e, op, flags, body, blen, fd_out);
}
