/* UDP: datagrams with the ADDR header until connect(); the send/recv/read families. */
#include "nc.h"

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

/* The message vector of a headed datagram: the ADDR header hdr, then the caller's iov (copied into stack_iov
 * when it fits, else into a malloc'ed array the caller frees when it is not stack_iov). NULL: no memory. */
static struct iovec *headed_iov(uint8_t hdr[NC_ADDR_LEN], const struct iovec *iov, size_t iovlen,
                                struct iovec stack_iov[17], struct msghdr *mh) {
  struct iovec *v = iovlen < 16 ? stack_iov : malloc(sizeof(struct iovec) * (iovlen + 1));
  if (!v) return NULL;
  v[0].iov_base = hdr;
  v[0].iov_len = NC_ADDR_LEN;
  if (iovlen) memcpy(v + 1, iov, sizeof(struct iovec) * iovlen);
  mh->msg_iov = v;
  mh->msg_iovlen = iovlen + 1;
  return v;
}

static ssize_t udp_send(int fd, const struct ncfd *e, const struct iovec *iov, size_t iovlen, int flags,
                        const struct sockaddr *addr, socklen_t alen) {
  struct nc_addr a;
  if (!addr) return fail(EDESTADDRREQ);
  int r = nc_from_sockaddr(addr, alen, e->domain, &a);
  if (r < 0) return fail(-r);
  if (a.family == 0) return fail(EAFNOSUPPORT);
  if (fallthrough && e->state == NC_ST_NEW) {
    /* ZT_NC_FALLTHROUGH: a fresh socket whose first datagram leaves the network becomes the host's */
    uint8_t body[NC_ADDR_LEN];
    nc_put_addr(body, &a);
    struct ncfd c = *e;
    r = rpc_sock(fd, &c, NC_OP_ROUTE, 0, body, sizeof(body), NULL);
    if (r == NC_ROUTE_HOST) {
      if (host_swap(fd, e) < 0) return -1;
      struct msghdr mh = {0};
      mh.msg_name = (void *)addr;
      mh.msg_namelen = alen;
      mh.msg_iov = (struct iovec *)iov;
      mh.msg_iovlen = iovlen;
      return real.sendmsg(fd, &mh, flags);
    }
  }
  if (relisten_parked(fd)) return fail(ENETDOWN); /* its service is gone */
  r = udp_autobind(fd, e);
  if (r < 0) return fail(-r);
  uint8_t hdr[NC_ADDR_LEN];
  nc_put_addr(hdr, &a);
  struct iovec stack_iov[17];
  struct msghdr mh = {0};
  struct iovec *v = headed_iov(hdr, iov, iovlen, stack_iov, &mh);
  if (!v) return fail(ENOMEM);
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
  struct msghdr mh = {0};
  struct iovec *v = headed_iov(hdr, iov, iovlen, stack_iov, &mh);
  if (!v) return fail(ENOMEM);
  ssize_t n = real.recvmsg(fd, &mh, flags);
  int err = errno;
  if (v != stack_iov) free(v);
  errno = err;
  if (n < 0) return -1;
  if (msg_flags) *msg_flags = mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC | MSG_EOR | MSG_OOB);
  struct nc_addr a;
  if (n < (ssize_t)sizeof(hdr) || nc_get_addr(hdr, sizeof(hdr), &a) < 0) {
    if (n == 0) {
      /* the service went away: park the socket (nothing spins on it any more) and say so once */
      relisten_hangup(fd);
      return fail(ENETDOWN);
    }
    return fail(EIO);
  }
  put_sockaddr(&a, e->domain, addr, alen);
  return n - (ssize_t)sizeof(hdr);
}

ssize_t do_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
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
    return n == 0 && len > 0 ? tcp_eof(fd, flags) : n;
  }
  if (!udp_headed(&e)) {
    ssize_t n = real.recvfrom(fd, buf, len, flags, NULL, NULL);
    if (n >= 0) put_sockaddr(&e.remote, e.domain, addr, alen);
    return n;
  }
  struct iovec iov = {buf, len};
  return udp_recv(fd, &e, &iov, 1, flags, addr, alen, NULL);
}

ssize_t do_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *alen) {
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

ssize_t do_sendmsg(int fd, const struct msghdr *msg, int flags) {
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
    if (n == 0 && e.type == SOCK_STREAM && iov_len(m.msg_iov, m.msg_iovlen) > 0) return tcp_eof(fd, flags);
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

ssize_t do_recvmsg(int fd, struct msghdr *msg, int flags) {
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

static int64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int do_recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *tmo) {
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

int do_sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags) {
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
ssize_t do_send(int fd, const void *buf, size_t len, int flags) {
  struct ncfd e;
  if (!real.send) return fail(ENOSYS);
  if (!tab_peek(fd, &e) || !udp_headed(&e)) return real.send(fd, buf, len, flags);
  return fail(EDESTADDRREQ);
}

ssize_t do_recv(int fd, void *buf, size_t len, int flags) {
  struct ncfd e;
  if (!real.recv) return fail(ENOSYS);
  if (!tab_peek(fd, &e) || !udp_headed(&e)) {
    ssize_t n = real.recv(fd, buf, len, flags);
    return n == 0 && len > 0 && fd_tcp(fd) ? tcp_eof(fd, flags) : n;
  }
  struct iovec iov = {buf, len};
  return udp_recv(fd, &e, &iov, 1, flags, NULL, NULL, NULL);
}

/* __recv_chk/__recvfrom_chk: glibc's fortified recv()/recvfrom() (_FORTIFY_SOURCE with a known
 * buffer size) call libc's recv/recvfrom internally, past our hooks, so they are hooked too: within
 * the buffer, the same logic as recv()/recvfrom(); len > buflen: the real one reports the overflow
 * and aborts; an fd that is not ours: the real one. */
ssize_t do_recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags) {
  struct ncfd e;
  if (!real.recv_chk) return fail(ENOSYS);
  if (len > buflen || !tab_peek(fd, &e) || !udp_headed(&e)) {
    ssize_t n = real.recv_chk(fd, buf, len, buflen, flags);
    return n == 0 && len > 0 && fd_tcp(fd) ? tcp_eof(fd, flags) : n;
  }
  if (!real.recvmsg) return fail(ENOSYS);
  struct iovec iov = {buf, len};
  return udp_recv(fd, &e, &iov, 1, flags, NULL, NULL, NULL);
}

ssize_t do_recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags, struct sockaddr *addr,
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

/* An EOF (0 from a non-empty read) on one of our TCP sockets asks why (tcp_eof); one array lookup. */
ssize_t do_read(int fd, void *buf, size_t len) {
  if (fd_headed(fd)) return udp_read(fd, buf, len);
  if (!real.read) return read_early(fd, buf, len);
  ssize_t n = real.read(fd, buf, len);
  return n == 0 && len > 0 && fd_tcp(fd) ? tcp_eof(fd, 0) : n;
}

ssize_t do_readv(int fd, const struct iovec *iov, int iovcnt) {
  if (fd_headed(fd)) return udp_readv(fd, iov, iovcnt);
  if (!real.readv) return readv_early(fd, iov, iovcnt);
  ssize_t n = real.readv(fd, iov, iovcnt);
  return n == 0 && fd_tcp(fd) && iovcnt > 0 && iov_len(iov, (size_t)iovcnt) > 0 ? tcp_eof(fd, 0) : n;
}

ssize_t do_read_chk(int fd, void *buf, size_t len, size_t buflen) {
  /* len > buflen: the real one reports the overflow and aborts */
  if (fd_headed(fd) && len <= buflen) return udp_read(fd, buf, len);
  if (!real.read_chk) return read_chk_early(fd, buf, len, buflen);
  ssize_t n = real.read_chk(fd, buf, len, buflen);
  return n == 0 && len > 0 && fd_tcp(fd) ? tcp_eof(fd, 0) : n;
}
