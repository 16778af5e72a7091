/* The per-fd table: which fds are ours, with what state; fds inherited through exec are
 * recognised by the inode of the socket (LOOKUP). */
#include "nc.h"

pthread_mutex_t tab_lock = PTHREAD_MUTEX_INITIALIZER;
struct ncfd *tab[NC_MAXFD];
uint64_t notours_ino[NC_MAXFD]; /* fstat inode of an fd we asked about and is not ours */
/* 1 = the fd is in the table as an unconnected UDP socket, whose messages carry the ADDR header:
 * read/readv/__read_chk look here, without the lock, and only these fds take their slow path.
 * Written under tab_lock, whenever tab[fd] changes (tab_sync_locked). */
uint8_t headed_fd[NC_MAXFD];

void tab_sync_locked(int fd) {
  uint8_t c = !tab[fd] ? 0 : udp_headed(tab[fd]) ? NC_FD_HEADED : tab[fd]->type == SOCK_STREAM ? NC_FD_TCP : 0;
  __atomic_store_n(&headed_fd[fd], c, __ATOMIC_RELAXED);
}

uint64_t fd_ino(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) return 0;
  return (uint64_t)st.st_ino;
}

void tab_put(int fd, const struct ncfd *e) {
  if (fd < 0 || fd >= NC_MAXFD) return;
  pthread_mutex_lock(&tab_lock);
  if (!tab[fd]) tab[fd] = malloc(sizeof(struct ncfd));
  if (tab[fd]) *tab[fd] = *e;
  notours_ino[fd] = 0;
  tab_sync_locked(fd);
  pthread_mutex_unlock(&tab_lock);
}

void tab_del_locked(int fd) {
  if (fd < 0 || fd >= NC_MAXFD) return;
  free(tab[fd]);
  tab[fd] = NULL;
  notours_ino[fd] = 0;
  relisten_forget_locked(fd);
  tab_sync_locked(fd);
}

void tab_del(int fd) {
  pthread_mutex_lock(&tab_lock);
  tab_del_locked(fd);
  pthread_mutex_unlock(&tab_lock);
}

/* Copies the entry of `from` to `to` (dup family); clears `to` if `from` is not ours. */
void tab_copy(int from, int to) {
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

int tab_peek(int fd, struct ncfd *out) {
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

void apply_info(struct ncfd *e, const struct nc_info *i) {
  e->domain = i->family == 6 ? AF_INET6 : AF_INET;
  e->type = i->type == NC_TYPE_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
  e->state = i->state;
  e->flags = i->flags;
  e->so_error = i->so_error;
  e->local = i->local;
  e->remote = i->remote;
  e->v6only = (i->flags & NC_FLAG_V6ONLY) != 0;
  if (i->flags & NC_FLAG_ICMP) e->protocol = e->domain == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
}

int lookup_ino(int fd, uint64_t ino, struct ncfd *e) {
  uint8_t body[8];
  nc_put_u64(body, ino);
  memset(e, 0, sizeof(*e));
  int saved = errno;
  int r = rpc_sock(-1, e, NC_OP_LOOKUP, 0, body, sizeof(body), NULL);
  errno = saved;
  if (r <= 0) return 0;
  e->id = (uint32_t)r;
  e->ino = ino;
  if (e->state == NC_ST_LISTENING) e->backlog = 128; /* not known after exec */
  tab_put(fd, e);
  if (e->state == NC_ST_LISTENING) relisten_watch();
  return 1;
}

/* Is fd one of ours? Fills *e. Fds we have not seen (inherited through exec) are looked up by
 * the inode of the socket; answers are remembered per fd and inode. */
int lookup(int fd, struct ncfd *e) {
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
  if (!is_ctl(fd) && real.getsockopt && real.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &dl) == 0 && dom == AF_UNIX)
    ours = lookup_ino(fd, ino, e);
  if (!ours) {
    pthread_mutex_lock(&tab_lock);
    if (!tab[fd]) notours_ino[fd] = ino;
    pthread_mutex_unlock(&tab_lock);
  }
  return ours;
}
