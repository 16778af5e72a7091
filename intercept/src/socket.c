/* Operations every socket of ours shares: socket, bind, names, options, shutdown; small helpers. */
#include "nc.h"

void set_nonblock(int fd, int on) {
  int fl = real_fcntl(fd, F_GETFL, 0);
  if (fl >= 0) real_fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

void set_cloexec(int fd, int on) { real_fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0); }

void put_sockaddr(const struct nc_addr *a, int domain, struct sockaddr *addr, socklen_t *alen) {
  if (!addr || !alen) return;
  struct sockaddr_storage ss;
  socklen_t l = nc_to_sockaddr(a, domain, &ss);
  memcpy(addr, &ss, *alen < l ? *alen : l);
  *alen = l;
}
/* What the network's stack serves: TCP (MPTCP served as TCP), UDP, and ICMP echo datagram sockets
 * (unprivileged ping). Returns the protocol to ask the service for, 0 if the stack does not serve
 * the socket, or -errno: what Linux answers an unprivileged user for the sockets we refuse. */
static int served(int domain, int base, int protocol) {
  if (domain == AF_PACKET) return -EPERM; /* needs CAP_NET_RAW */
  if (domain != AF_INET && domain != AF_INET6) return 0;
  if (base == SOCK_STREAM) {
    if (protocol == 0 || protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP) return IPPROTO_TCP;
    return -EPROTONOSUPPORT;
  }
  if (base == SOCK_DGRAM) {
    if (protocol == 0 || protocol == IPPROTO_UDP) return IPPROTO_UDP;
    if (domain == AF_INET && protocol == IPPROTO_ICMP) return IPPROTO_ICMP;
    if (domain == AF_INET6 && protocol == IPPROTO_ICMPV6) return IPPROTO_ICMPV6;
    return -EPROTONOSUPPORT;
  }
  if (base == SOCK_RAW || base == SOCK_PACKET) return -EPERM; /* needs CAP_NET_RAW */
  return -ESOCKTNOSUPPORT;
}

/* ZT_NC_FALLTHROUGH: replaces our fd in place with a host-stack socket of the same kind (flags and
 * the options that matter kept); the fd is not ours any more. 0 or -1 with errno. */
int host_swap(int fd, const struct ncfd *e) {
  int fl = real_fcntl(fd, F_GETFL, 0), fdfl = real_fcntl(fd, F_GETFD, 0);
  int s = real.socket(e->domain, e->type | ((fl >= 0 && (fl & O_NONBLOCK)) ? SOCK_NONBLOCK : 0),
                      is_icmp(e) ? e->protocol : 0);
  if (s < 0) return -1;
  if (e->nodelay) real.setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &e->nodelay, sizeof(int));
  if (e->keepalive) real.setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &e->keepalive, sizeof(int));
  if (e->reuseaddr) real.setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &e->reuseaddr, sizeof(int));
  if (real.dup3(s, fd, (fdfl >= 0 && (fdfl & FD_CLOEXEC)) ? O_CLOEXEC : 0) < 0) {
    int err = errno;
    real.close(s);
    return fail(err);
  }
  real.close(s);
  tab_del(fd);
  return 0;
}

/* A TCP socket: this library makes the pair and sends the service its end with a SOCKET request it
 * does not wait for; the answer (the id) is read with the next request's (RPC.md, SOCKET). */
static int socket_own_pair(int domain, int type, int proto, int protocol) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -1;
  if (!(type & SOCK_CLOEXEC)) set_cloexec(sv[0], 0);
  if (type & SOCK_NONBLOCK) set_nonblock(sv[0], 1);
  struct ncfd e;
  memset(&e, 0, sizeof(e));
  e.ino = fd_ino(sv[0]);
  e.domain = domain;
  e.type = SOCK_STREAM;
  e.protocol = protocol == IPPROTO_MPTCP ? IPPROTO_MPTCP : proto;
  e.owed = 1;
  e.owed_slot = (uint8_t)my_slot_index();
  tab_put(sv[0], &e); /* before the request: its answer may be read by another thread at once */
  uint8_t req[NC_HDR_LEN + NC_SOCKET_OWN_PAIR_LEN] = {0};
  size_t n = nc_put_hdr(req, NC_OP_SOCKET, 0, 0);
  req[n] = domain == AF_INET6 ? 6 : 4;
  req[n + 1] = NC_TYPE_STREAM;
  nc_put_u32(req + n + 4, (uint32_t)proto);
  nc_put_u64(req + n + 8, e.ino);
  int r = rpc_post_socket(req, sizeof(req), sv[1], sv[0], e.ino);
  real.close(sv[1]);
  struct ncfd now;
  /* answered already (the service was refusing sockets), and refused again */
  if (r >= 0 && tab_peek(sv[0], &now) && !now.owed && now.id == 0) r = -(now.so_error ? now.so_error : EIO);
  if (r < 0) {
    tab_del(sv[0]);
    real.close(sv[0]);
    return fail(-r);
  }
  return sv[0];
}

int do_socket(int domain, int type, int protocol) {
  int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  int proto = active ? served(domain, base, protocol) : 0;
  if (proto < 0 && fallthrough) proto = 0; /* ZT_NC_FALLTHROUGH=1: the host's stack serves it */
  if (proto < 0) return fail(-proto);
  if (proto == 0) {
    NEED(socket);
    return real.socket(domain, type, protocol);
  }
  if (base == SOCK_STREAM) return socket_own_pair(domain, type, proto, protocol);
  uint8_t body[8] = {0};
  body[0] = domain == AF_INET6 ? 6 : 4;
  body[1] = base == SOCK_DGRAM ? NC_TYPE_DGRAM : NC_TYPE_STREAM;
  nc_put_u32(body + 4, (uint32_t)proto);
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
  e.protocol = protocol == IPPROTO_MPTCP ? IPPROTO_MPTCP : proto;
  tab_put(fd, &e);
  return fd;
}

int do_bind(int fd, const struct sockaddr *addr, socklen_t len) {
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

int do_getname(int fd, struct sockaddr *addr, socklen_t *alen, int peer) {
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
  /* ask the service when the table may be behind: a connect in progress, a port not known yet, or a
   * socket another process (a forked child) may have connected since */
  int stale_peer = peer && e.type == SOCK_STREAM && (e.state == NC_ST_NEW || e.state == NC_ST_BOUND);
  if (e.state == NC_ST_CONNECTING || stale_peer || (!peer && e.state != NC_ST_NEW && e.local.port == 0)) {
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

int do_getsockopt(int fd, int level, int name, void *val, socklen_t *len) {
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
        return put_int(val, len, e.protocol ? e.protocol : e.type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
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
  if (is_icmp(&e) && (level == IPPROTO_ICMPV6 || level == SOL_RAW)) return put_int(val, len, 0);
  return fail(ENOPROTOOPT);
}

static int get_int_arg(const void *val, socklen_t len, int *out) {
  if (!val || len < (socklen_t)sizeof(int)) return -1;
  memcpy(out, val, sizeof(int));
  return 0;
}

int do_setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
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
  } else if (is_icmp(&e) && (level == IPPROTO_ICMPV6 || level == SOL_RAW)) {
    return 0; /* ICMP6_FILTER, ICMP_FILTER (ping sets them): only echo replies reach the socket anyway */
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

int do_shutdown(int fd, int how) {
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
