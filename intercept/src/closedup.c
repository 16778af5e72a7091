/* close/dup and the protection of the library's own fds from the program. */
#include "nc.h"

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

int is_ctl(int fd) {
  if (!active || fd < 0) return 0;
  int r = 0;
  pthread_mutex_lock(&reg_lock);
  for (int i = 0; i < NC_MAXCTL && !r; i++) r = ctls[i].fd == fd && ctls[i].pid == getpid();
  pthread_mutex_unlock(&reg_lock);
  return r;
}

int do_close(int fd) {
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

int do_close_range(unsigned first, unsigned last, int flags) {
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

int do_dup(int fd) {
  NEED(dup);
  int r = real.dup(fd);
  if (r >= 0 && active) tab_copy(fd, r);
  return r;
}

int do_dup3(int oldfd, int newfd, int flags, int is3) {
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

int do_fcntl(int fd, int cmd, long arg, int is64) {
  int (*f)(int, int, ...) = is64 && real.fcntl64 ? real.fcntl64 : real.fcntl;
  if (!f) return fail(ENOSYS);
  int r = f(fd, cmd, arg);
  if (r >= 0 && active && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) tab_copy(fd, r);
  return r;
}
