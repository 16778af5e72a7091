// The socket table: every socket an intercepted app holds, by id and by the inode of the app's
// end, mapped to stack PCBs (TCP listeners, connections, UDP sockets) through a NetBackend.
// Destinations on 127.0.0.0/8, ::1 and the host's own addresses use the host's loopback
// (mem-net.ts); other destinations use the network's stack. Requests are answered synchronously;
// outcomes that take time (TCP connect) are signalled through the app's fd (intercept/RPC.md).
import type { NetBackend, PendingConnect } from './backend.js';
import { addReaper, inReserve, reclaim } from './fd-reserve.js';
import {
  AF_UNIX,
  EAGAIN,
  EV_READ,
  EV_WRITE,
  fdpass,
  POLLHUP,
  POLLIN,
  type PollerHandle,
  SHUT_RDWR,
  SHUT_WR,
  SO_DOMAIN,
  SO_SNDBUF,
  SO_TYPE,
  SOL_SOCKET,
} from './fdpass.js';
import { addrMatches, isWildcard, loopbackHost, type MemHost, sameIp } from './mem-net.js';
import {
  ADDR_LEN,
  CONNECT_USE_HOST,
  decodeAddr,
  Errno,
  encodeAccept,
  encodeAddr,
  errnoOf,
  type Info,
  InfoFlag,
  parseWireIp,
  type Reattach,
  ReattachOpt,
  State,
} from './rpc-codec.js';
import type { SockAddr, TcpListener, TcpSocket, UdpSocket } from './stack-types.js';
import { StackError } from './stack-types.js';
import { TcpPump } from './tcp-pump.js';

export interface Result {
  result: number;
  sock?: Sock;
  fd?: number; // an fd to pass back (closed by the caller after sending)
  info?: Info; // the INFO to answer with, if not the socket's current one
}

interface Opts {
  reuseaddr: boolean;
  reuseport: boolean;
  keepalive: boolean;
  nodelay: boolean;
  linger0: boolean;
  v6only: boolean;
  keepIdle: number;
  keepIntvl: number;
  keepCnt: number;
}

interface ListenGroup {
  key: string;
  members: Sock[];
  next: number;
  listeners: TcpListener[];
}

interface PendingAccept {
  msg: Uint8Array;
  fd: number;
  conn: Sock;
}

interface Filler {
  dupFd: number;
  bytes: number;
  sndbuf: number;
}

export class Sock {
  state: number = State.NEW;
  soError = 0;
  local: SockAddr | null = null;
  remote: SockAddr | null = null;
  fd = -1;
  /** fd is a pair end this table made and never sent (not the one an app sent): only the service has it. */
  unshared = false;
  ino = 0;
  poller: PollerHandle | null = null;
  opts: Opts = {
    reuseaddr: false,
    reuseport: false,
    keepalive: false,
    nodelay: false,
    linger0: false,
    v6only: false,
    keepIdle: 7200,
    keepIntvl: 75,
    keepCnt: 9,
  };
  pump: TcpPump | null = null;
  pending: PendingConnect | null = null;
  filler: Filler | null = null;
  group: ListenGroup | null = null;
  backlog = 0;
  acceptQueue: PendingAccept[] = [];
  udp: UdpSocket[] = [];
  udpConnected: SockAddr | null = null;
  /** An ICMP echo datagram socket (unprivileged ping): its "port" is the echo identifier. */
  icmp = false;
  /** A blocking connect() waiting for its answer (RPC CONNECT with the WAIT flag). */
  waiter: (() => void) | null = null;
  closed = false;
  constructor(
    readonly id: number,
    readonly family: 4 | 6,
    readonly type: 1 | 2,
  ) {
    this.opts.v6only = false;
  }
  info(): Info {
    let flags = 0;
    if (this.opts.v6only) flags |= InfoFlag.V6ONLY;
    if (this.udpConnected) flags |= InfoFlag.UDP_CONNECTED;
    if (this.icmp) flags |= InfoFlag.ICMP;
    return {
      family: this.family,
      type: this.type,
      state: this.state,
      flags,
      soError: this.soError,
      local: this.local,
      remote: this.remote,
    };
  }
}

export function isLoopback(a: SockAddr): boolean {
  if (a.family === 4) return a.address.startsWith('127.');
  return sameIp(a.address, '::1', 6);
}

function inPrefix(addr: string, family: 4 | 6, net: string, prefix: number): boolean {
  const a = parseWireIp(addr, family);
  const n = parseWireIp(net, family);
  if (!a || !n) return false;
  for (let bit = 0; bit < prefix; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((a[byte]! & mask) !== (n[byte]! & mask)) return false;
  }
  return true;
}

function sameAddr(a: SockAddr, b: SockAddr): boolean {
  return a.family === b.family && a.port === b.port && sameIp(a.address, b.address, a.family);
}

const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;

/** Sets an ICMP message's checksum; ICMPv6 (v6src = the source, also the destination: loopback) adds the pseudo-header. */
function icmpChecksum(msg: Uint8Array, v6src: string | null): void {
  msg[2] = 0;
  msg[3] = 0;
  let sum = 0;
  const add = (b: Uint8Array) => {
    for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  };
  if (v6src) {
    const a = parseWireIp(v6src, 6);
    if (a) {
      add(a);
      add(a);
    }
    sum += msg.length + 58;
  }
  add(msg);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  msg[2] = c >> 8;
  msg[3] = c & 0xff;
}

/** How long the new listening end made by REATTACH is kept to hand to the other processes that shared the old one. */
const REATTACH_GRACE_MS = 10_000;
/** Failed connections remembered for the library's question at EOF. */
const FAILED_MAX = 4096;
const EPHEMERAL_LOW = 49152;
const EPHEMERAL_HIGH = 65535;
const scratch = new Uint8Array(65536 + ADDR_LEN);

export class SocketTable {
  private socks = new Map<number, Sock>();
  private byIno = new Map<number, Sock>();
  private groups = new Map<string, ListenGroup>();
  private nextId = 1;
  private nextPort = EPHEMERAL_LOW + Math.floor(Math.random() * (EPHEMERAL_HIGH - EPHEMERAL_LOW));
  /** Connections that ended with an error (a peer's RST …), by id: the library asks at EOF (RPC.md). Bounded. */
  private readonly failed = new Map<number, { family: 4 | 6; soError: number }>();
  /** Listeners re-created for apps whose service restarted, by the inode of their old listening fd (REATTACH). */
  private reattached = new Map<number, { sock: Sock; appFd: number; timer: NodeJS.Timeout }>();
  readonly loop: MemHost = loopbackHost();
  readonly drops: Record<string, number> = {};
  /** Unregisters the table's reaper from the fd reserve (registered with the first socket). */
  private unreap: (() => void) | undefined;

  constructor(readonly backend: NetBackend) {
    backend.onIcmpEchoReply = (from, msg) => this.onIcmpEchoReply(from, msg);
  }

  get size(): number {
    return this.socks.size;
  }

  get(id: number): Sock | undefined {
    return this.socks.get(id);
  }

  byInode(ino: number): Sock | undefined {
    return this.byIno.get(ino);
  }

  private drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  // ---- addresses and routes ----

  private ownsAddress(a: SockAddr): boolean {
    return this.backend.addresses.some(
      (x) => x.address.includes(':') === (a.family === 6) && sameIp(x.address, a.address, a.family),
    );
  }

  private routable(a: SockAddr): boolean {
    for (const x of this.backend.addresses)
      if (x.address.includes(':') === (a.family === 6) && inPrefix(a.address, a.family, x.address, x.prefix))
        return true;
    for (const r of this.backend.routes)
      if (r.target.includes(':') === (a.family === 6) && inPrefix(a.address, a.family, r.target, r.prefix)) return true;
    return false;
  }

  private sourceFor(dst: SockAddr): string | null {
    if (isLoopback(dst)) return dst.family === 4 ? '127.0.0.1' : '::1';
    if (this.ownsAddress(dst)) return dst.address;
    const a = this.backend.addresses.find((x) => x.address.includes(':') === (dst.family === 6));
    return a ? a.address : null;
  }

  /** The port space a socket's port is in: TCP (1), UDP (2), ICMP echo identifiers (3). */
  private space(s: Sock): number {
    return s.icmp ? 3 : s.type;
  }

  private portBusy(type: number, port: number): boolean {
    for (const s of this.socks.values()) if (this.space(s) === type && s.local && s.local.port === port) return true;
    return false;
  }

  private ephemeralPort(type: number): number {
    for (let i = 0; i <= EPHEMERAL_HIGH - EPHEMERAL_LOW; i++) {
      const p = this.nextPort;
      this.nextPort = p >= EPHEMERAL_HIGH ? EPHEMERAL_LOW : p + 1;
      if (!this.portBusy(type, p)) return p;
    }
    return 0;
  }

  private overlaps(a: SockAddr, av6only: boolean, b: SockAddr, bv6only: boolean): boolean {
    if (a.port !== b.port) return false;
    return addrMatches(a, av6only, b) || addrMatches(b, bv6only, a);
  }

  /** Linux's bind conflict rule, simplified: both SO_REUSEPORT, or both SO_REUSEADDR and the other not listening. */
  private conflict(s: Sock, local: SockAddr, listening: boolean): boolean {
    for (const o of this.socks.values()) {
      if (o === s || o.type !== s.type || o.icmp !== s.icmp || !o.local || o.closed || o.state === State.CLOSED)
        continue;
      if (!this.overlaps(local, s.opts.v6only, o.local, o.opts.v6only)) continue;
      // The app may have closed it an instant ago (close() then bind() again, as iperf3 does):
      // the hang-up is already visible on our end even if its event has not been handled yet.
      if (this.hungUp(o)) continue;
      if (s.opts.reuseport && o.opts.reuseport) continue;
      // SO_REUSEADDR: a restarted server binds even while connections of the old one remain
      if (s.type === 1 && s.opts.reuseaddr && (o.state === State.CONNECTED || o.state === State.CONNECTING)) continue;
      if (s.type === 1 && s.opts.reuseaddr && o.opts.reuseaddr && !listening && o.state !== State.LISTENING) continue;
      if (s.type === 1 && s.opts.reuseaddr && o.opts.reuseaddr && o.state !== State.LISTENING && listening) continue;
      return true;
    }
    return false;
  }

  /**
   * The fd reserve's reaper (fd-reserve.ts), registered while the table holds sockets: handles the hang-ups
   * already visible on the app's ends, whose events the loop has not handled yet. Returns the fds it freed.
   */
  private reap(): number {
    let freed = 0;
    for (const o of [...this.socks.values()]) if (!o.closed && o.fd >= 0 && this.hungUp(o)) freed++;
    return freed;
  }

  /** Handles a pending hang-up of the app's end now; true if the socket is gone. */
  private hungUp(o: Sock): boolean {
    if (o.fd < 0) return o.closed;
    const rev = fdpass.pollNow(o.fd, POLLIN);
    if (rev <= 0 || !(rev & POLLHUP)) return false;
    if (o.pump) o.pump.pumpIn();
    else this.release(o);
    return o.closed;
  }

  // ---- lifecycle ----

  private register(s: Sock, appFd: number, ino = fdpass.inode(appFd)): void {
    this.socks.set(s.id, s);
    this.unreap ??= addReaper(() => this.reap());
    if (ino > 0) {
      s.ino = ino;
      this.byIno.set(ino, s);
    }
  }

  private setIno(s: Sock, appFd: number): void {
    if (s.ino) this.byIno.delete(s.ino);
    const ino = fdpass.inode(appFd);
    s.ino = Math.max(ino, 0);
    if (s.ino) this.byIno.set(s.ino, s);
  }

  private watch(s: Sock, events: number): void {
    if (s.fd < 0) return;
    if (!s.poller) {
      if (events === 0) return;
      s.poller = new fdpass.Poller(s.fd, (_status, ev) => this.onEvent(s, ev));
    }
    s.poller.start(events);
  }

  /** Stops watching s.fd. closing: the fd is closed next, so an unshared one needs no epoll_ctl. */
  private unwatch(s: Sock, closing = false): void {
    if (s.poller) {
      if (closing && s.unshared) s.poller.closeUnshared();
      else s.poller.close();
      s.poller = null;
    }
  }

  private release(s: Sock): void {
    if (s.closed) return;
    s.closed = true;
    const w = s.waiter;
    s.waiter = null;
    if (w) {
      s.state = State.CLOSED;
      s.soError ||= Errno.ECONNABORTED;
      w();
    }
    this.unwatch(s, true); // s.fd is closed below (by the pump's end, if it has one)
    s.pending?.abort();
    s.pending = null;
    this.endFiller(s, false);
    if (s.group) this.leaveGroup(s);
    for (const a of s.acceptQueue) {
      fdpass.close(a.fd);
      a.conn.pump?.destroy();
    }
    s.acceptQueue = [];
    for (const u of s.udp) u.close();
    s.udp = [];
    if (s.pump) s.pump.destroy();
    else if (s.fd >= 0) fdpass.close(s.fd);
    s.fd = -1;
    this.socks.delete(s.id);
    if (s.ino && this.byIno.get(s.ino) === s) this.byIno.delete(s.ino);
  }

  /** Events on a socket's fd outside the pump: app hang-up, listener backlog room, UDP datagrams. */
  private onEvent(s: Sock, ev: number): void {
    if (s.closed) return;
    if (s.pump) return s.pump.onEvent(ev);
    if (s.state === State.LISTENING) return this.onListenerEvent(s, ev);
    if (s.type === 2) return this.onUdpEvent(s);
    // new/bound/failed sockets: only the app's hang-up matters
    const rev = fdpass.pollNow(s.fd, POLLIN);
    if (rev > 0 && rev & POLLHUP) return this.release(s);
    this.watch(s, 0); // the app wrote to an unconnected socket: ignore until it connects
  }

  closeAll(): void {
    for (const ino of [...this.reattached.keys()]) this.forgetReattached(ino);
    for (const s of [...this.socks.values()]) this.release(s);
    this.unreap?.();
    this.unreap = undefined;
    for (const g of this.groups.values()) for (const l of g.listeners) l.close();
    this.groups.clear();
  }

  // ---- requests ----

  /**
   * A new socket. The service makes the pair and answers with the app's end, or, for TCP, the app made
   * it and sent the service's end (`own`: that fd and the inode of the app's end), which this table
   * then owns: the library need not wait for the answer (RPC.md, SOCKET).
   */
  socket(family: 4 | 6, type: 1 | 2, protocol = 0, own?: { fd: number; ino: number }): Result {
    // TCP (MPTCP, 262, served as TCP), UDP, and ICMP echo datagram sockets (IPPROTO_ICMP, IPPROTO_ICMPV6)
    const icmp = type === 2 && protocol === (family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
    const ok = type === 1 ? [0, 6, 262].includes(protocol) : protocol === 0 || protocol === 17 || icmp;
    if (!ok) return { result: -Errno.EPROTONOSUPPORT };
    let appEnd = -1;
    let mine: number;
    if (own) {
      // only a Unix stream socket serves as a TCP connection's pair; an inode names one socket
      const unixStream =
        fdpass.getsockoptInt(own.fd, SOL_SOCKET, SO_DOMAIN) === AF_UNIX &&
        fdpass.getsockoptInt(own.fd, SOL_SOCKET, SO_TYPE) === fdpass.SOCK_STREAM;
      if (type !== 1 || !unixStream || !(own.ino > 0) || this.byIno.has(own.ino)) return { result: -Errno.EINVAL };
      const kept = [own.fd];
      reclaim(kept);
      own.fd = kept[0]!;
      if (inReserve(own.fd)) return { result: -Errno.EMFILE };
      mine = own.fd;
    } else {
      const pair = fdpass.socketpair(type === 1 ? fdpass.SOCK_STREAM : fdpass.SOCK_SEQPACKET);
      if (typeof pair === 'number') return { result: pair };
      [appEnd, mine] = pair;
    }
    const s = new Sock(this.nextId++, family, type);
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    s.icmp = icmp;
    s.fd = mine;
    s.unshared = !own;
    this.register(s, appEnd, own?.ino);
    this.watch(s, EV_READ); // UDP: datagrams; TCP: to notice the app closing it
    return appEnd >= 0 ? { result: s.id, sock: s, fd: appEnd } : { result: s.id, sock: s };
  }

  bind(s: Sock, a: SockAddr | null): Result {
    if (!a) return { result: -Errno.EAFNOSUPPORT };
    if (s.local) return { result: -Errno.EINVAL };
    if (s.family === 4 && a.family !== 4) return { result: -Errno.EAFNOSUPPORT };
    if (s.family === 6 && a.family === 4 && s.opts.v6only) return { result: -Errno.EINVAL };
    if (!isWildcard(a) && !isLoopback(a) && !this.ownsAddress(a)) return { result: -Errno.EADDRNOTAVAIL };
    const local = { ...a };
    if (local.port === 0) {
      local.port = this.ephemeralPort(this.space(s));
      if (!local.port) return { result: -Errno.EADDRINUSE };
    } else if (this.conflict(s, local, false)) {
      return { result: -Errno.EADDRINUSE };
    }
    if (s.type === 2) {
      const r = this.udpOpen(s, local);
      if (r) return { result: r };
    }
    s.local = local;
    s.state = State.BOUND;
    return { result: 0 };
  }

  listen(s: Sock, backlog: number): Result {
    if (s.type !== 1) return { result: -Errno.EOPNOTSUPP };
    if (s.state === State.LISTENING) {
      s.backlog = backlog;
      return { result: 0 };
    }
    if (s.state !== State.NEW && s.state !== State.BOUND) return { result: -Errno.EINVAL };
    if (!s.local) {
      const port = this.ephemeralPort(1);
      if (!port) return { result: -Errno.EADDRINUSE };
      s.local = { family: s.family, address: s.family === 4 ? '0.0.0.0' : '::', port };
    } else if (this.conflict(s, s.local, true)) {
      return { result: -Errno.EADDRINUSE };
    }
    const pair = fdpass.socketpair(fdpass.SOCK_SEQPACKET);
    if (typeof pair === 'number') return { result: pair };
    if (s.closed) {
      // the fd reserve's reaper found the app had closed this very socket
      fdpass.close(pair[0]);
      fdpass.close(pair[1]);
      return { result: -Errno.EBADF };
    }
    const err = this.joinGroup(s);
    if (err) {
      fdpass.close(pair[0]);
      fdpass.close(pair[1]);
      return { result: err };
    }
    // the stream pair made at socket() is replaced by the listening pair
    this.unwatch(s, true);
    fdpass.close(s.fd);
    s.fd = pair[1];
    s.unshared = true;
    this.setIno(s, pair[0]);
    s.backlog = backlog;
    s.state = State.LISTENING;
    this.watch(s, EV_READ);
    return { result: 0, fd: pair[0] };
  }

  /**
   * REATTACH: a listener of an app whose service restarted, made again at the same address with the
   * same options. Every process that shared the old listening fd asks with the same old inode and gets
   * the same new listener (the app's end is kept for a while to hand out again: REATTACH_GRACE_MS).
   */
  reattach(r: Reattach): Result {
    const ino = Number(r.ino);
    const prev = this.reattached.get(ino);
    if (prev && !prev.sock.closed && prev.sock.state === State.LISTENING) {
      const fd = fdpass.dup(prev.appFd);
      if (fd < 0) return { result: fd };
      return { result: prev.sock.id, sock: prev.sock, fd };
    }
    if (!r.local) return { result: -Errno.EINVAL };
    const made = this.socket(r.family, 1, 0);
    const s = made.sock;
    if (!s) return made;
    fdpass.close(made.fd!); // the stream end: the listening end replaces it
    const fail = (result: number): Result => {
      this.release(s);
      return { result };
    };
    s.opts.reuseaddr = (r.opts & ReattachOpt.REUSEADDR) !== 0;
    s.opts.reuseport = (r.opts & ReattachOpt.REUSEPORT) !== 0;
    s.opts.v6only = r.family === 6 && (r.opts & ReattachOpt.V6ONLY) !== 0;
    s.opts.nodelay = (r.opts & ReattachOpt.NODELAY) !== 0;
    s.opts.keepalive = (r.opts & ReattachOpt.KEEPALIVE) !== 0;
    const b = this.bind(s, r.local);
    if (b.result === -Errno.EADDRINUSE) {
      // a listener reattached for the same address a moment ago (this app's, parked again): the same one
      for (const x of this.reattached.values())
        if (x.sock.local && !x.sock.closed && sameAddr(x.sock.local, r.local)) {
          const fd = fdpass.dup(x.appFd);
          this.release(s);
          if (fd < 0) return { result: fd };
          return { result: x.sock.id, sock: x.sock, fd };
        }
    }
    if (b.result < 0) return fail(b.result);
    const l = this.listen(s, r.backlog);
    if (l.result < 0 || l.fd === undefined) return fail(l.result < 0 ? l.result : -Errno.EIO);
    if (ino > 0) {
      const keep = fdpass.dup(l.fd);
      if (keep >= 0) {
        prev && this.forgetReattached(ino);
        const timer = setTimeout(() => this.forgetReattached(ino), REATTACH_GRACE_MS);
        timer.unref();
        this.reattached.set(ino, { sock: s, appFd: keep, timer });
      }
    }
    return { result: s.id, sock: s, fd: l.fd };
  }

  private forgetReattached(ino: number): void {
    const r = this.reattached.get(ino);
    if (!r) return;
    this.reattached.delete(ino);
    clearTimeout(r.timer);
    fdpass.close(r.appFd);
  }

  private groupKey(l: SockAddr): string {
    return `${l.family}|${l.address}|${l.port}`;
  }

  private joinGroup(s: Sock): number {
    const local = s.local!;
    const key = this.groupKey(local);
    const existing = this.groups.get(key);
    if (existing) {
      existing.members.push(s);
      s.group = existing;
      return 0;
    }
    const g: ListenGroup = { key, members: [s], next: 0, listeners: [] };
    const onConn = (sock: TcpSocket) => this.onConnection(g, sock);
    const opts = { backlog: Math.max(s.backlog, 128), v6only: s.opts.v6only, reuseAddr: s.opts.reuseaddr };
    try {
      g.listeners.push(this.loop.tcpListen(local, opts, onConn));
      if (!isLoopback(local)) g.listeners.push(this.backend.tcpListen(local, opts, onConn));
    } catch (e) {
      for (const l of g.listeners) l.close();
      return -errnoOf(e instanceof StackError ? e.code : undefined);
    }
    this.groups.set(key, g);
    s.group = g;
    return 0;
  }

  private leaveGroup(s: Sock): void {
    const g = s.group!;
    s.group = null;
    g.members = g.members.filter((m) => m !== s);
    if (g.members.length === 0) {
      for (const l of g.listeners) l.close();
      this.groups.delete(g.key);
    }
  }

  private onConnection(g: ListenGroup, sock: TcpSocket): void {
    const live = g.members.filter((m) => !m.closed);
    if (live.length === 0) {
      sock.abort();
      return;
    }
    const l = live[g.next++ % live.length]!;
    const pair = fdpass.socketpair(fdpass.SOCK_STREAM);
    if (typeof pair === 'number' || l.closed) {
      // no fd, or the fd reserve's reaper found the app had closed the listener
      if (typeof pair === 'number') this.drop('socketpair');
      else for (const f of pair) fdpass.close(f);
      sock.abort();
      return;
    }
    const c = new Sock(this.nextId++, l.family, 1);
    c.state = State.CONNECTED;
    c.local = sock.local;
    c.remote = sock.remote;
    c.fd = pair[1];
    c.unshared = true;
    c.opts.nodelay = l.opts.nodelay;
    c.opts.keepalive = l.opts.keepalive;
    c.opts.reuseaddr = l.opts.reuseaddr;
    this.register(c, pair[0]);
    this.startPump(c, sock);
    const msg = encodeAccept({ id: c.id, local: c.local, remote: c.remote });
    if (l.acceptQueue.length === 0) {
      const r = fdpass.sendmsg(l.fd, msg, [pair[0]]);
      if (r >= 0) {
        fdpass.close(pair[0]);
        return;
      }
      if (r !== -EAGAIN) {
        fdpass.close(pair[0]);
        this.release(c);
        return;
      }
    }
    if (l.acceptQueue.length >= Math.max(l.backlog, 16) * 4) {
      this.drop('backlogFull');
      fdpass.close(pair[0]);
      sock.abort();
      this.release(c);
      return;
    }
    l.acceptQueue.push({ msg, fd: pair[0], conn: c });
    this.watch(l, EV_READ | EV_WRITE);
  }

  private onListenerEvent(l: Sock, ev: number): void {
    if (ev & EV_WRITE) {
      while (l.acceptQueue.length > 0) {
        const a = l.acceptQueue[0]!;
        const r = fdpass.sendmsg(l.fd, a.msg, [a.fd]);
        if (r === -EAGAIN) break;
        fdpass.close(a.fd);
        l.acceptQueue.shift();
        if (r < 0) a.conn.pump?.destroy();
      }
      this.watch(l, l.acceptQueue.length > 0 ? EV_READ | EV_WRITE : EV_READ);
    }
    if (ev & ~EV_WRITE) {
      // apps never write to a listening socket: readable means the app closed it
      const rev = fdpass.pollNow(l.fd, POLLIN);
      if (rev > 0 && rev & POLLHUP) this.release(l);
    }
  }

  private startPump(s: Sock, sock: TcpSocket): void {
    try {
      sock.setNoDelay(s.opts.nodelay);
      if (s.opts.keepalive) sock.setKeepAlive(true, s.opts.keepIdle * 1000, s.opts.keepIntvl * 1000, s.opts.keepCnt);
    } catch {
      // options are advisory
    }
    s.pump = new TcpPump(s.fd, sock, {
      watch: (ev) => this.watch(s, ev),
      unwatchForClose: () => this.unwatch(s, true),
      abortive: () => s.opts.linger0,
      done: (err) => {
        if (err) {
          s.soError = errnoOf(err);
          this.failed.set(s.id, { family: s.family, soError: s.soError });
          if (this.failed.size > FAILED_MAX) this.failed.delete(this.failed.keys().next().value!);
        }
        s.pump = null;
        s.fd = -1;
        s.state = State.CLOSED;
        this.release(s);
      },
    });
  }

  connect(s: Sock, dst: SockAddr | null, fallthrough: boolean, appFd: number): Result {
    if (s.type === 2) return this.udpConnect(s, dst, fallthrough);
    if (!dst) return { result: -Errno.EAFNOSUPPORT };
    if (s.state === State.CONNECTING) return { result: -Errno.EALREADY };
    if (s.state === State.CONNECTED) return { result: -Errno.EISCONN };
    if (s.state === State.LISTENING) return { result: -Errno.EINVAL };
    if (s.family === 4 && dst.family !== 4) return { result: -Errno.EAFNOSUPPORT };
    if (s.family === 6 && dst.family === 4 && s.opts.v6only) return { result: -Errno.ENETUNREACH };
    const viaLoop = isLoopback(dst) || this.ownsAddress(dst);
    if (!viaLoop && !this.routable(dst)) {
      if (fallthrough) return { result: CONNECT_USE_HOST };
      return { result: -Errno.ENETUNREACH };
    }
    if (isWildcard(dst)) return { result: -Errno.ECONNREFUSED };
    let address = s.local && !isWildcard(s.local) ? s.local.address : this.sourceFor(dst);
    if (!address) return { result: -Errno.EADDRNOTAVAIL };
    if (s.local && !isWildcard(s.local) && s.local.family !== dst.family) return { result: -Errno.EINVAL };
    if (dst.family === 4 && address.includes(':')) address = this.sourceFor(dst) ?? address;
    const port = s.local?.port || this.ephemeralPort(1);
    if (!port) return { result: -Errno.EADDRNOTAVAIL };
    const local: SockAddr = { family: dst.family, address, port };
    s.local = local;
    s.remote = { ...dst };
    s.state = State.CONNECTING;
    s.soError = 0;
    if (appFd >= 0) {
      // the filler makes the app's end readable here: stop watching until the pump takes the poller over
      this.watch(s, 0);
      this.startFiller(s, appFd);
    }
    // a blocking connect (WAIT) keeps the watch: the app cannot write meanwhile, and its hang-up still counts
    const target: NetBackend = viaLoop ? this.loop : this.backend;
    try {
      s.pending = this.startConnect(target, s, local, dst);
    } catch (e) {
      this.endFiller(s, true);
      s.state = State.NEW;
      s.local = null;
      s.remote = null;
      this.watch(s, EV_READ);
      return { result: -errnoOf(e instanceof StackError ? e.code : undefined) };
    }
    return { result: -Errno.EINPROGRESS };
  }

  private startConnect(target: NetBackend, s: Sock, local: SockAddr, dst: SockAddr): PendingConnect {
    // The table chose the local port and decided it is free, so the backend binds it with reuseAddr (NetBackend).
    return target.tcpConnect(
      local,
      dst,
      (outcome, sock) => {
        s.pending = null;
        if (s.closed) {
          sock?.abort();
          return;
        }
        if (outcome === 'connected' && sock) {
          this.endFiller(s, true);
          s.state = State.CONNECTED;
          s.local = sock.local;
          this.startPump(s, sock);
        } else {
          s.state = State.CLOSED;
          s.soError = errnoOf(outcome);
          // EOF before writability: a blocking connect() sees POLLIN with POLLOUT and knows it failed
          // without asking whether it did; the errno comes with INFO (SO_ERROR).
          if (!s.waiter) fdpass.shutdown(s.fd, SHUT_WR);
          this.endFiller(s, true);
          this.watch(s, EV_READ); // until the app closes it
        }
        const w = s.waiter;
        s.waiter = null;
        w?.();
      },
      { reuseAddr: true },
    );
  }

  /** Keeps the app's fd unwritable while the connect is pending (RPC.md). */
  private startFiller(s: Sock, appFd: number): void {
    const sndbuf = fdpass.getsockoptInt(appFd, SOL_SOCKET, SO_SNDBUF);
    fdpass.setsockoptInt(appFd, SOL_SOCKET, SO_SNDBUF, 1);
    const zeros = new Uint8Array(4096);
    let bytes = 0;
    for (let i = 0; i < 64; i++) {
      const n = fdpass.write(appFd, zeros, 0, zeros.length);
      if (n <= 0) break;
      bytes += n;
    }
    s.filler = { dupFd: appFd, bytes, sndbuf: sndbuf > 0 ? sndbuf : 212992 };
  }

  private endFiller(s: Sock, drain: boolean): void {
    const f = s.filler;
    if (!f) return;
    s.filler = null;
    if (drain && s.fd >= 0) {
      let left = f.bytes;
      while (left > 0) {
        const n = fdpass.read(s.fd, scratch, 0, Math.min(left, scratch.length));
        if (n <= 0) break;
        left -= n;
      }
    }
    fdpass.setsockoptInt(f.dupFd, SOL_SOCKET, SO_SNDBUF, Math.floor(f.sndbuf / 2));
    fdpass.close(f.dupFd);
  }

  /** INFO about a connection that is gone: how it failed, if it did (read-and-clear); null if unknown. */
  infoGone(id: number, clear: boolean): Result | null {
    const f = this.failed.get(id);
    if (!f) return null;
    if (clear) this.failed.delete(id);
    const info: Info = {
      family: f.family,
      type: 1,
      state: State.CLOSED,
      flags: 0,
      soError: f.soError,
      local: null,
      remote: null,
    };
    return { result: 0, info };
  }

  info(s: Sock, clear: boolean): Result {
    const r: Result = { result: 0, sock: s };
    if (clear && s.soError) {
      // the answer carries the error; the next read sees 0 (getsockopt SO_ERROR clears it)
      const info = s.info();
      s.soError = 0;
      return { ...r, info };
    }
    return r;
  }

  setopt(s: Sock, level: number, name: number, value: number): Result {
    const on = value !== 0;
    if (level === 1) {
      if (name === 2) s.opts.reuseaddr = on;
      else if (name === 15) s.opts.reuseport = on;
      else if (name === 9) s.opts.keepalive = on;
      else if (name === 13) s.opts.linger0 = on;
      else return { result: -Errno.ENOPROTOOPT };
    } else if (level === 6) {
      if (name === 1) s.opts.nodelay = on;
      else if (name === 4) s.opts.keepIdle = value;
      else if (name === 5) s.opts.keepIntvl = value;
      else if (name === 6) s.opts.keepCnt = value;
      else return { result: -Errno.ENOPROTOOPT };
    } else if (level === 41 && name === 26) {
      if (s.local) return { result: -Errno.EINVAL };
      s.opts.v6only = on;
    } else {
      return { result: -Errno.ENOPROTOOPT };
    }
    const sock = s.pump?.sock;
    if (sock) {
      try {
        sock.setNoDelay(s.opts.nodelay);
        sock.setKeepAlive(s.opts.keepalive, s.opts.keepIdle * 1000, s.opts.keepIntvl * 1000, s.opts.keepCnt);
      } catch {
        // advisory
      }
    }
    return { result: 0 };
  }

  // ---- UDP ----

  /** Opens the PCBs for a UDP socket bound to local; returns 0 or -errno. */
  private udpOpen(s: Sock, local: SockAddr): number {
    if (s.icmp) return 0; // echo requests go out of the stack's ICMP PCB; replies are matched by identifier
    const opened: UdpSocket[] = [];
    try {
      const onMessage = (data: Uint8Array, from: SockAddr) => this.onUdpMessage(s, data, from);
      const l = this.loop.udpOpen(local, { v6only: s.opts.v6only });
      l.onMessage = onMessage;
      opened.push(l);
      if (!isLoopback(local)) {
        const u = this.backend.udpOpen(local, { v6only: s.opts.v6only });
        u.onMessage = onMessage;
        opened.push(u);
      }
    } catch (e) {
      for (const u of opened) u.close();
      return -errnoOf(e instanceof StackError ? e.code : undefined);
    }
    s.udp = opened;
    return 0;
  }

  private udpAutobind(s: Sock): number {
    if (s.local) return 0;
    const port = this.ephemeralPort(this.space(s));
    if (!port) return -Errno.EAGAIN;
    const local: SockAddr = { family: s.family, address: s.family === 4 ? '0.0.0.0' : '::', port };
    const r = this.udpOpen(s, local);
    if (r) return r;
    s.local = local;
    s.state = State.BOUND;
    return 0;
  }

  /** ROUTE: is the destination outside the network (not loopback, not ours, not on a route)? */
  outside(dst: SockAddr): boolean {
    return !isLoopback(dst) && !this.ownsAddress(dst) && !this.routable(dst);
  }

  private udpConnect(s: Sock, dst: SockAddr | null, fallthrough = false): Result {
    if (!dst) {
      s.udpConnected = null;
      s.remote = null;
      return { result: 0 };
    }
    if (s.family === 4 && dst.family !== 4) return { result: -Errno.EAFNOSUPPORT };
    if (this.outside(dst)) return { result: fallthrough ? CONNECT_USE_HOST : -Errno.ENETUNREACH };
    const r = this.udpAutobind(s);
    if (r) return { result: r };
    s.udpConnected = { ...dst };
    s.remote = { ...dst };
    return { result: 0 };
  }

  private onUdpEvent(s: Sock): void {
    for (let i = 0; i < 64; i++) {
      const n = fdpass.read(s.fd, scratch, 0, scratch.length);
      if (n === -EAGAIN) return;
      if (n < 0) return this.release(s);
      if (n === 0) {
        const rev = fdpass.pollNow(s.fd, POLLIN);
        if (rev > 0 && rev & POLLHUP) return this.release(s);
      }
      let dst: SockAddr | null;
      let payload: Uint8Array;
      if (s.udpConnected) {
        dst = s.udpConnected;
        payload = scratch.subarray(0, n);
      } else {
        const d = decodeAddr(scratch, 0);
        if (!d.ok || !d.value || n < ADDR_LEN) {
          this.drop('udpBadHeader');
          continue;
        }
        dst = d.value;
        payload = scratch.subarray(ADDR_LEN, n);
      }
      if (this.udpAutobind(s)) {
        this.drop('udpNoPort');
        continue;
      }
      if (s.icmp) {
        this.icmpSend(s, dst, payload);
        continue;
      }
      const viaLoop = isLoopback(dst) || this.ownsAddress(dst);
      if (!viaLoop && !this.routable(dst)) {
        this.drop('udpNoRoute');
        continue;
      }
      const u = viaLoop ? s.udp[0] : s.udp[1];
      if (!u) {
        this.drop('udpNoRoute');
        continue;
      }
      try {
        u.sendTo(payload, dst);
      } catch {
        this.drop('udpSendError');
      }
    }
  }

  private onUdpMessage(s: Sock, data: Uint8Array, from: SockAddr): void {
    if (s.closed) return;
    const c = s.udpConnected;
    if (c) {
      if ((!s.icmp && c.port !== from.port) || !sameIp(c.address, from.address, from.family)) return;
      const n = fdpass.write(s.fd, data, 0, data.length);
      if (n < 0) this.drop('udpAppFull');
      return;
    }
    const msg = new Uint8Array(ADDR_LEN + data.length);
    encodeAddr(msg, 0, from);
    msg.set(data, ADDR_LEN);
    const n = fdpass.write(s.fd, msg, 0, msg.length);
    if (n < 0) this.drop('udpAppFull');
  }

  // ---- ICMP echo (unprivileged ping sockets) ----
  // As Linux's ping sockets: the app writes an echo request (type, code, checksum, identifier, sequence,
  // payload) and reads echo replies; the identifier is the socket's "port" (bind, or chosen on the first
  // send), the checksum is computed for it. Loopback destinations are answered here; the network's and
  // the stack's own addresses go through the stack, which answers its own addresses itself.

  private icmpSend(s: Sock, dst: SockAddr, payload: Uint8Array): void {
    const v6 = dst.family === 6;
    if (payload.length < 8 || payload[0] !== (v6 ? 128 : 8) || payload[1] !== 0) {
      this.drop('icmpNotEcho');
      return;
    }
    if (v6 !== (s.family === 6)) {
      this.drop('icmpFamily');
      return;
    }
    const msg = payload.slice();
    const id = s.local?.port ?? 0;
    msg[4] = id >> 8;
    msg[5] = id & 0xff;
    if (isLoopback(dst)) {
      msg[0] = v6 ? 129 : 0;
      icmpChecksum(msg, v6 ? dst.address : null);
      queueMicrotask(() => this.icmpDeliver(s, dst.address, msg));
      return;
    }
    if (!this.ownsAddress(dst) && !this.routable(dst)) {
      this.drop('icmpNoRoute');
      return;
    }
    if (!this.backend.icmpEcho) {
      this.drop('icmpUnsupported');
      return;
    }
    try {
      this.backend.icmpEcho(dst.address, msg);
    } catch {
      this.drop('icmpSendError');
    }
  }

  private onIcmpEchoReply(from: string, msg: Uint8Array): void {
    if (msg.length < 8) return;
    const id = (msg[4]! << 8) | msg[5]!;
    const family = from.includes(':') ? 6 : 4;
    for (const s of this.socks.values())
      if (s.icmp && s.family === family && s.local?.port === id && !s.closed) return this.icmpDeliver(s, from, msg);
    this.drop('icmpNoSocket');
  }

  private icmpDeliver(s: Sock, from: string, msg: Uint8Array): void {
    const family = from.includes(':') ? 6 : 4;
    this.onUdpMessage(s, msg, { family, address: from, port: 0 });
  }

  /** The app is gone for good (shutdown of the service): close everything it holds. */
  shutdownAll(): void {
    for (const s of [...this.socks.values()]) {
      if (s.fd >= 0 && !s.pump) fdpass.shutdown(s.fd, SHUT_RDWR);
    }
    this.closeAll();
  }
}
