/* TCP: listen, accept, connect (and the host-stack fall-through). */
#include "nc.h"

int do_listen(int fd, int backlog) {
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
    e.backlog = backlog < 0 ? 0 : backlog;
    tab_put(fd, &e);
    relisten_watch();
  }
  return 0;
}

int do_accept(int fd, struct sockaddr *addr, socklen_t *alen, int flags, int is4) {
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
  int nfd = first_passed_fd(&mh);
  struct nc_accept acc;
  if (n == 0 && nfd < 0) {
    /* The listening pair hung up: the service went away (park the listener, so that nothing spins,
     * until the watcher reattaches it), or the parked pair was just replaced by the new listener. */
    relisten_hangup(fd);
    return fail(ECONNABORTED);
  }
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

NC_COLD ssize_t tcp_eof(int fd, int flags) {
  struct ncfd e;
  if (!tab_peek(fd, &e) || e.type != SOCK_STREAM || e.state == NC_ST_LISTENING || e.state == NC_ST_NEW) return 0;
  if (__atomic_load_n(&nc_service_down, __ATOMIC_RELAXED)) return fail(ECONNRESET);
  int saved = errno;
  if (e.state == NC_ST_CONNECTED) {
    /* The service shuts its end for writing at the peer's FIN, and closes it when the connection
     * failed (RST …) or ended: EOF without a hang-up is an orderly close, with nothing to ask. */
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 0) == 1 && !(p.revents & (POLLHUP | POLLERR))) {
      errno = saved;
      return 0;
    }
  }
  uint8_t clear[4];
  nc_put_u32(clear, (flags & MSG_PEEK) ? 0 : 1);
  int r = rpc_sock(fd, &e, NC_OP_INFO, 0, clear, sizeof(clear), NULL);
  if (r == -ENETDOWN) return fail(ECONNRESET); /* the service is gone, and the connection with it */
  if (r >= 0 && e.so_error) return fail(e.so_error);
  errno = saved;
  return 0;
}

/* Replaces our fd with a host-stack socket (ZT_NC_FALLTHROUGH) and connects it. */
static int host_connect(int fd, const struct ncfd *e, const struct sockaddr *addr, socklen_t len) {
  if (host_swap(fd, e) < 0) return -1;
  return real.connect(fd, addr, len);
}

int do_connect(int fd, const struct sockaddr *addr, socklen_t len) {
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
