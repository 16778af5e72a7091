/* Surviving the service: a watcher thread per process notices the service going away (its own idle
 * control connection hangs up) and parks every listening socket of the process: the program's fd is
 * replaced in place by one end of a socketpair the library holds, so it is neither readable nor hung
 * up and nothing spins (poll, select and epoll see no events; accept waits or says EAGAIN). When the
 * service is back on the same socket path, the watcher re-creates each listener (REATTACH: same
 * address, port, options and backlog; processes sharing a listening fd get the same new one) and puts
 * it in place of the parked fd: same fd number, same flags, and the program's epoll registrations of
 * the fd (recorded by the epoll_ctl hook) are made again. Connected sockets stay failed. */
#include <signal.h>
#include <sys/epoll.h>

#include "nc.h"

#define NC_EPREGS 4
struct epregs {
  int n;
  int epfd[NC_EPREGS];
  struct epoll_event ev[NC_EPREGS];
};

static int parked_peer[NC_MAXFD];           /* 1 + the library's end of a parked listener's pair; under tab_lock */
static struct epregs *epregs[NC_MAXFD];     /* epoll registrations of listening fds; under tab_lock */
static pthread_mutex_t w_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t w_pid;                          /* the process whose watcher runs */
static pthread_cond_t w_cond = PTHREAD_COND_INITIALIZER;
static int w_kick;                           /* accept() saw the listener hang up */
int nc_service_down;                         /* the watcher saw the service go (atomic) */

static void re_register_locked(int fd) {
  struct epregs *r = epregs[fd];
  if (!r || !real.epoll_ctl) return;
  for (int i = 0; i < r->n; i++) {
    struct epoll_event ev = r->ev[i];
    if (real.epoll_ctl(r->epfd[i], EPOLL_CTL_ADD, fd, &ev) < 0 && errno == EEXIST)
      real.epoll_ctl(r->epfd[i], EPOLL_CTL_MOD, fd, &ev);
  }
}

/* Called by tab_del_locked: the fd is closed or replaced by the program. */
void relisten_forget_locked(int fd) {
  if (parked_peer[fd]) {
    real.close(parked_peer[fd] - 1);
    parked_peer[fd] = 0;
  }
  free(epregs[fd]);
  epregs[fd] = NULL;
}

int relisten_parked(int fd) {
  if ((unsigned)fd >= NC_MAXFD) return 0;
  pthread_mutex_lock(&tab_lock);
  int p = parked_peer[fd] != 0;
  pthread_mutex_unlock(&tab_lock);
  return p;
}

/* Replaces fd by `with` in place, keeping FD_CLOEXEC and O_NONBLOCK. With tab_lock held. */
static int swap_in_locked(int fd, int with) {
  int fdfl = real_fcntl(fd, F_GETFD, 0), fl = real_fcntl(fd, F_GETFL, 0);
  if (real.dup3(with, fd, (fdfl >= 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0) < 0) return -1;
  if (fl >= 0 && (fl & O_NONBLOCK)) set_nonblock(fd, 1);
  re_register_locked(fd);
  return 0;
}

/* Listeners (reattached later) and datagram sockets (stay parked: sends fail with ENETDOWN). */
static int parkable(const struct ncfd *e) { return e && (e->state == NC_ST_LISTENING || e->type == SOCK_DGRAM); }

static void park_locked(int fd) {
  if (parked_peer[fd] || !parkable(tab[fd])) return;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return;
  int peer = real_fcntl(sv[1], F_DUPFD_CLOEXEC, high_fd_base());
  if (peer >= 0) {
    real.close(sv[1]);
    sv[1] = peer;
  }
  if (swap_in_locked(fd, sv[0]) == 0) parked_peer[fd] = sv[1] + 1;
  else real.close(sv[1]);
  real.close(sv[0]);
}

/* Parks one listener whose pair hung up (accept saw it), and every other one with the watcher. */
void relisten_hangup(int fd) {
  if ((unsigned)fd >= NC_MAXFD) return;
  pthread_mutex_lock(&tab_lock);
  park_locked(fd);
  pthread_mutex_unlock(&tab_lock);
  pthread_mutex_lock(&w_lock);
  w_kick = 1;
  pthread_cond_signal(&w_cond);
  pthread_mutex_unlock(&w_lock);
}

static void park_all(void) {
  pthread_mutex_lock(&tab_lock);
  for (int fd = 0; fd < NC_MAXFD; fd++)
    if (parkable(tab[fd])) park_locked(fd);
  pthread_mutex_unlock(&tab_lock);
}

/* Re-creates the listener of every parked fd; returns how many are still parked. */
static int reattach_all(void) {
  int left = 0;
  for (int fd = 0; fd < NC_MAXFD; fd++) {
    struct ncfd e;
    pthread_mutex_lock(&tab_lock);
    int parked = parked_peer[fd] != 0 && tab[fd] && tab[fd]->state == NC_ST_LISTENING;
    if (parked) e = *tab[fd];
    pthread_mutex_unlock(&tab_lock);
    if (!parked) continue;
    uint8_t body[NC_REATTACH_LEN];
    uint32_t opts = (e.reuseaddr ? NC_RA_REUSEADDR : 0) | (e.reuseport ? NC_RA_REUSEPORT : 0) |
                    (e.v6only ? NC_RA_V6ONLY : 0) | (e.nodelay ? NC_RA_NODELAY : 0) |
                    (e.keepalive ? NC_RA_KEEPALIVE : 0);
    nc_put_reattach(body, e.ino, e.domain == AF_INET6 ? 6 : 4, (uint32_t)e.backlog, opts, &e.local);
    struct ncfd n = e;
    int nfd = -1;
    int r = rpc_sock(-1, &n, NC_OP_REATTACH, 0, body, sizeof(body), &nfd);
    if (r <= 0 || nfd < 0) {
      if (nfd >= 0) real.close(nfd);
      left++;
      continue;
    }
    pthread_mutex_lock(&tab_lock);
    if (tab[fd] && tab[fd]->id == e.id && parked_peer[fd] && swap_in_locked(fd, nfd) == 0) {
      tab[fd]->id = (uint32_t)r;
      tab[fd]->ino = fd_ino(fd);
      tab[fd]->state = NC_ST_LISTENING;
      tab[fd]->local = n.local;
      real.close(parked_peer[fd] - 1); /* a blocked accept() on the parked pair wakes up (ECONNABORTED) */
      parked_peer[fd] = 0;
    }
    pthread_mutex_unlock(&tab_lock);
    real.close(nfd);
  }
  return left;
}

static void wait_ms(int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&w_lock);
  if (!w_kick) pthread_cond_timedwait(&w_cond, &w_lock, &ts);
  pthread_mutex_unlock(&w_lock);
}

static void *watcher_main(void *arg) {
  (void)arg;
  struct ctl *w = &ctls[NC_WATCH_SLOT];
  int down = 0, backoff = 50;
  for (;;) {
    pthread_mutex_lock(&w_lock);
    int kicked = w_kick;
    w_kick = 0;
    pthread_mutex_unlock(&w_lock);
    if (kicked && !down) {
      /* accept() saw a listener hang up: is the service gone? (poll our connection below) */
    }
    pthread_mutex_lock(&w->mu);
    int r = ctl_ensure(w);
    int fd = w->fd;
    pthread_mutex_unlock(&w->mu);
    if (r < 0) {
      if (!down) {
        down = 1;
        __atomic_store_n(&nc_service_down, 1, __ATOMIC_RELAXED);
        park_all();
      }
      wait_ms(backoff);
      backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
      continue;
    }
    if (down) {
      __atomic_store_n(&nc_service_down, 0, __ATOMIC_RELAXED);
      if (reattach_all() > 0) {
        /* the service is there but refused (a restart still loading the network …): again soon */
        wait_ms(backoff);
        backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
        continue;
      }
      down = 0;
      backoff = 50;
    }
    /* The service never writes on this connection: readable means it hung up. */
    struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
    int n = poll(&p, 1, kicked ? 0 : 1000);
    if (n < 0 || (n > 0 && (p.revents & POLLNVAL))) continue; /* moved by ctl_evade, or EINTR */
    if (n == 0) continue;
    pthread_mutex_lock(&w->mu);
    if (w->fd == fd) ctl_drop(w);
    pthread_mutex_unlock(&w->mu);
    down = 1;
    __atomic_store_n(&nc_service_down, 1, __ATOMIC_RELAXED);
    park_all();
  }
  return NULL;
}

/* Starts this process's watcher once it has a listening socket. Its connection is made here, by the
 * calling thread (while the process still has the privileges it had at listen() or fork()). */
void relisten_watch(void) {
  pid_t me = getpid();
  if (__atomic_load_n(&w_pid, __ATOMIC_RELAXED) == me) return;
  pthread_mutex_lock(&w_lock);
  if (w_pid != me) {
    struct ctl *w = &ctls[NC_WATCH_SLOT];
    pthread_mutex_lock(&w->mu);
    int r = ctl_ensure(w);
    pthread_mutex_unlock(&w->mu);
    if (r == 0) {
      sigset_t all, old;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &old); /* the program's signals are never handled on our thread */
      pthread_attr_t a;
      pthread_attr_init(&a);
      pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
      pthread_attr_setstacksize(&a, 64 * 1024);
      pthread_t t;
      if (pthread_create(&t, &a, watcher_main, NULL) == 0) w_pid = me;
      pthread_attr_destroy(&a);
      pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
  }
  pthread_mutex_unlock(&w_lock);
}

/* In a forked child: no watcher runs here yet; start one if the child has listeners. */
void relisten_atfork_child(void) {
  pthread_mutex_init(&w_lock, NULL);
  pthread_cond_init(&w_cond, NULL);
  w_kick = 0;
  int any = 0;
  pthread_mutex_lock(&tab_lock);
  for (int fd = 0; fd < NC_MAXFD && !any; fd++) any = tab[fd] && tab[fd]->state == NC_ST_LISTENING;
  pthread_mutex_unlock(&tab_lock);
  if (active && any) relisten_watch();
}

/* epoll_ctl: registrations of our listening fds are recorded, to be made again after a swap. */
int do_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
  NEED(epoll_ctl);
  int r = real.epoll_ctl(epfd, op, fd, ev);
  if (r < 0 || !active || (unsigned)fd >= NC_MAXFD) return r;
  int saved = errno;
  pthread_mutex_lock(&tab_lock);
  if (tab[fd] && tab[fd]->state == NC_ST_LISTENING) {
    struct epregs *g = epregs[fd];
    int i = 0;
    if (g)
      for (; i < g->n && g->epfd[i] != epfd; i++) {
      }
    if (op == EPOLL_CTL_DEL) {
      if (g && i < g->n) {
        g->n--;
        g->epfd[i] = g->epfd[g->n];
        g->ev[i] = g->ev[g->n];
      }
    } else if (ev) {
      if (!g) g = epregs[fd] = calloc(1, sizeof(struct epregs));
      if (g && i < NC_EPREGS) {
        if (i == g->n) g->n++;
        g->epfd[i] = epfd;
        g->ev[i] = *ev;
      }
    }
  }
  pthread_mutex_unlock(&tab_lock);
  errno = saved;
  return r;
}
