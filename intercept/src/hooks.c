/* The exported hooks: each one line (ENSURE, then one logic function). */
#include "nc.h"


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
EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
  ENSURE();
  return do_epoll_ctl(epfd, op, fd, ev);
}
