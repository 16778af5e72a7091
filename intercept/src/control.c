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


void atfork_prepare(void) {
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

/* One request/response exchange on this thread's connection. Returns the response length, or
 * -errno. fd_in (if >= 0) travels with the request; an attached fd in the answer is stored in
 * *fd_out (close-on-exec) if fd_out is not NULL, else closed. */
int rpc(const uint8_t *req, size_t reqlen, int fd_in, uint8_t *resp, size_t cap, int *fd_out) {
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
      /* EOF, or ECONNRESET: the service died with our request unread */
      n = (r == 0 || errno == ECONNRESET || errno == EPIPE) ? -ENETDOWN : -errno;
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
int rpc_sock_fd(int fd, int fd_in, struct ncfd *e, uint16_t op, uint16_t flags, const uint8_t *body,
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

int rpc_sock(int fd, struct ncfd *e, uint16_t op, uint16_t flags, const uint8_t *body, size_t blen,
                    int *fd_out) {
  return rpc_sock_fd(fd, -1, e, op, flags, body, blen, fd_out);
}
