// The RPC server of one network: a SOCK_SEQPACKET Unix socket at <home>/nc_<nwid> (mode 0600, a
// stale file from a dead service is replaced) that intercepted apps talk to (intercept/RPC.md).
// Each request is answered at once; fds travel with SCM_RIGHTS.
import { unlinkSync } from 'node:fs';
import { parseIp } from '../common/ip-text.js';
import type { NetBackend } from './backend.js';
import { EAGAIN, EV_READ, fdpass, type PollerHandle } from './fdpass.js';
import { type Answer, NO_NAMES, Resolver } from './names.js';
import {
  CONNECT_USE_HOST,
  decodeAddr,
  decodeReattach,
  decodeRequest,
  decodeSetOpt,
  decodeSocketBody,
  decodeU32,
  decodeU64,
  Errno,
  encodeResponse,
  ID_LAST,
  MSG_MAX,
  Op,
  ReqFlag,
  State,
} from './rpc-codec.js';
import {
  decodeResolve,
  decodeReverse,
  encodeNameError,
  encodeQueryAnswer,
  encodeResolveAnswer,
  encodeReverseAnswer,
  NAME_MSG_MAX,
  NameOp,
  QUERY_MAX,
} from './rpc-names.js';
import { type Result, SocketTable } from './socket-table.js';

interface Conn {
  fd: number;
  poller: PollerHandle;
  pid: number;
  /** What ID_LAST names on this connection: the socket its last SOCKET made (0: none, or it failed). */
  last: { id: number };
}

export interface ServerStats {
  requests: number;
  /** Requests that named ID_LAST: sent right after their socket's SOCKET, before its answer came. */
  pipelined: number;
  badRequests: number;
  connections: number;
  /** Times accepting paused because the service was out of fds. */
  acceptBackoffs: number;
}

const EMFILE = 24;
const ENFILE = 23;

export class RpcServer {
  readonly table: SocketTable;
  private fd = -1;
  private poller: PollerHandle | null = null;
  private conns = new Set<Conn>();
  // Name requests may be longer than socket ones (up to NAME_MSG_MAX; RPC.md "Names").
  private readonly buf = new Uint8Array(Math.max(MSG_MAX, NAME_MSG_MAX));
  readonly stats: ServerStats = {
    requests: 0,
    pipelined: 0,
    badRequests: 0,
    connections: 0,
    acceptBackoffs: 0,
  };
  /** Warnings for the operator's log (set by the daemon). */
  onWarn: ((msg: string) => void) | undefined;
  private lastFdWarning = Number.NEGATIVE_INFINITY;
  private readingOthers = false;

  constructor(
    readonly path: string,
    backend: NetBackend,
    /** Answers RESOLVE, REVERSE and QUERY (default: /etc/hosts only, no names of a network). */
    private readonly resolver: Resolver = new Resolver(backend, NO_NAMES),
  ) {
    this.table = new SocketTable(backend);
  }

  /** Starts listening; throws if the path is in use by a live service. */
  start(): void {
    const fd = fdpass.listenSeqpacket(this.path, 256);
    if (fd < 0) throw new Error(`netcon: cannot listen on ${this.path} (errno ${-fd})`);
    this.fd = fd;
    this.poller = new fdpass.Poller(fd, () => this.onAccept());
    this.poller.start(EV_READ);
  }

  private onAccept(): void {
    for (;;) {
      const c = fdpass.accept(this.fd);
      if (c === -EMFILE || c === -ENFILE) return this.acceptBackoff(-c);
      if (c < 0) return;
      const conn: Conn = {
        fd: c,
        poller: new fdpass.Poller(c, () => this.onReadable(conn)),
        pid: fdpass.peerPid(c),
        last: { id: 0 },
      };
      this.conns.add(conn);
      this.stats.connections++;
      conn.poller.start(EV_READ);
    }
  }

  /** Out of fds: stop accepting for a while (a level-triggered listener would spin), then try again. */
  private acceptBackoff(errno: number): void {
    this.poller?.stop();
    this.stats.acceptBackoffs++;
    const now = performance.now();
    if (now - this.lastFdWarning >= 10_000) {
      this.lastFdWarning = now;
      this.onWarn?.(
        `${this.path}: out of file descriptors (${errno === EMFILE ? 'EMFILE' : 'ENFILE'}), accepting again in 100 ms`,
      );
    }
    setTimeout(() => this.poller?.start(EV_READ), 100).unref();
  }

  private dropConn(conn: Conn): void {
    conn.poller.close();
    fdpass.close(conn.fd);
    this.conns.delete(conn);
  }

  /** Handles the requests waiting on every connection but the one whose ID_LAST state is `except`. */
  private readOthers(except: { id: number }): void {
    if (this.readingOthers) return;
    this.readingOthers = true;
    try {
      for (const c of [...this.conns]) if (c.last !== except && this.conns.has(c)) this.onReadable(c);
    } finally {
      this.readingOthers = false;
    }
  }

  private onReadable(conn: Conn): void {
    for (let i = 0; i < 64; i++) {
      const fds: number[] = [];
      const n = fdpass.recvmsg(conn.fd, this.buf, fds);
      if (n === -EAGAIN) return;
      if (n <= 0) {
        for (const f of fds) fdpass.close(f);
        return this.dropConn(conn);
      }
      this.stats.requests++;
      // A library waits for each answer, except a TCP SOCKET's (RPC.md): after any other request the
      // queue is empty, so no read only to hear EAGAIN (the poll is level-triggered should it not be).
      const more = n >= 2 && this.buf[0] === Op.SOCKET && this.buf[1] === 0;
      const answer = this.handle(
        this.buf.subarray(0, n),
        fds,
        (late) => {
          // a blocking connect's answer, when the outcome is known; a name's, when it is found
          if (this.conns.has(conn) && fdpass.sendmsg(conn.fd, late, []) < 0) this.dropConn(conn);
        },
        conn.pid,
        conn.last,
      );
      for (const f of fds) if (f >= 0) fdpass.close(f); // fds the handler did not take
      if (answer) {
        const { bytes, fd } = answer;
        const r = fdpass.sendmsg(conn.fd, bytes, fd !== undefined ? [fd] : []);
        if (fd !== undefined) fdpass.close(fd);
        if (r < 0) return this.dropConn(conn);
      } // else deferred
      if (!more) return;
    }
  }

  /**
   * Decodes and answers one request. Received fds the handler keeps are replaced by -1 in fds.
   * Returns null when the answer is deferred (a blocking connect): it then goes to `later`.
   * `last` is the connection's: what ID_LAST names.
   */
  handle(
    msg: Uint8Array,
    fds: number[],
    later: (bytes: Uint8Array) => void = () => {},
    pid = 0,
    last: { id: number } = { id: 0 },
  ): { bytes: Uint8Array; fd?: number } | null {
    const d = decodeRequest(msg);
    if (!d.ok) {
      this.stats.badRequests++;
      return { bytes: encodeResponse(0, -Errno.EINVAL) };
    }
    const req = d.value;
    const t = this.table;
    const bad = () => {
      this.stats.badRequests++;
      return { bytes: encodeResponse(req.op, -Errno.EINVAL) };
    };
    const answer = (r: Result) => {
      const info = r.info ?? r.sock?.info();
      return { bytes: encodeResponse(req.op, r.result, info), fd: r.fd };
    };
    if (req.op === Op.SOCKET) {
      last.id = 0;
      const b = decodeSocketBody(req.body);
      if (!b.ok) return bad();
      const { family, type, protocol, ino } = b.value;
      let own: { fd: number; ino: number } | undefined;
      if (ino !== undefined) {
        // the app made the pair: its end's inode in the body, the service's end attached
        if (fds.length !== 1 || ino > BigInt(Number.MAX_SAFE_INTEGER)) return bad();
        own = { fd: fds[0]!, ino: Number(ino) };
      }
      const r = t.socket(family, type, protocol, own);
      // the table owns it now; a refused one is left to the caller, maybe moved to another number (reclaim)
      if (own) fds[0] = r.result > 0 ? -1 : own.fd;
      if (r.result > 0) last.id = r.result;
      return answer(r);
    }
    if (req.op === Op.LOOKUP) {
      const b = decodeU64(req.body);
      if (!b.ok) return bad();
      let s = t.byInode(Number(b.value));
      if (!s) {
        // The socket's SOCKET may still wait unread on another connection: a process sent it without
        // waiting for the answer, then exec'ed (RPC.md). Read what the others have sent, then look again.
        this.readOthers(last);
        s = t.byInode(Number(b.value));
      }
      if (!s) return { bytes: encodeResponse(req.op, -Errno.ENOENT) };
      return answer({ result: s.id, sock: s });
    }
    if (req.op === Op.REATTACH) {
      const b = decodeReattach(req.body);
      if (!b.ok) return bad();
      return answer(t.reattach(b.value));
    }
    if (req.op >= NameOp.RESOLVE && req.op <= NameOp.QUERY)
      return this.names(req.op, req.body, req.flags, pid, later, bad);
    if (req.id === ID_LAST) this.stats.pipelined++;
    const s = t.get(req.id === ID_LAST ? last.id : req.id);
    if (req.op === Op.ROUTE) {
      const a = decodeAddr(req.body, 0);
      if (!a.ok || !a.value) return bad();
      return { bytes: encodeResponse(req.op, t.outside(a.value) ? CONNECT_USE_HOST : 0) };
    }
    if (req.op < Op.BIND || req.op > Op.SETOPT) return { bytes: encodeResponse(req.op, -Errno.ENOSYS) };
    if (!s) {
      // a connection that ended with an error (RST): the library asks at EOF
      const b = req.op === Op.INFO ? decodeU32(req.body) : null;
      const gone = b?.ok ? t.infoGone(req.id, b.value === 1) : null;
      if (gone) return answer(gone);
      return { bytes: encodeResponse(req.op, -Errno.EBADF) };
    }
    const withInfo = (r: Result) => answer({ ...r, sock: r.sock ?? s });
    switch (req.op) {
      case Op.BIND: {
        const a = decodeAddr(req.body, 0);
        if (!a.ok) return bad();
        return withInfo(t.bind(s, a.value));
      }
      case Op.LISTEN: {
        const b = decodeU32(req.body);
        if (!b.ok) return bad();
        return withInfo(t.listen(s, b.value));
      }
      case Op.CONNECT: {
        const a = decodeAddr(req.body, 0);
        if (!a.ok) return bad();
        let appFd = -1;
        if (fds.length > 0 && s.type === 1) {
          appFd = fds[0]!;
          fds[0] = -1;
        }
        const r = t.connect(s, a.value, (req.flags & ReqFlag.FALLTHROUGH) !== 0, appFd);
        if (appFd >= 0 && s.filler?.dupFd !== appFd) fdpass.close(appFd);
        if (r.result === -Errno.EINPROGRESS && req.flags & ReqFlag.WAIT) {
          s.waiter = () => {
            // the error is the answer (as SO_ERROR would have been): report it once
            const result = s.state === State.CONNECTED ? 0 : -(s.soError || Errno.ECONNREFUSED);
            s.soError = 0;
            later(encodeResponse(req.op, result, s.info()));
          };
          return null;
        }
        return withInfo(r);
      }
      case Op.INFO: {
        const b = decodeU32(req.body);
        if (!b.ok) return bad();
        return withInfo(t.info(s, b.value === 1));
      }
      case Op.SETOPT: {
        const o = decodeSetOpt(req.body);
        if (!o.ok) return bad();
        return withInfo(t.setopt(s, o.value.level, o.value.name, o.value.value));
      }
    }
    return { bytes: encodeResponse(req.op, -Errno.ENOSYS) };
  }

  /** RESOLVE, REVERSE, QUERY: answered later (a lookup may ask the network's DNS servers). */
  private names(
    op: number,
    body: Uint8Array,
    flags: number,
    pid: number,
    later: (bytes: Uint8Array) => void,
    bad: () => { bytes: Uint8Array },
  ): { bytes: Uint8Array } | null {
    const r = this.resolver;
    const ft = (flags & ReqFlag.FALLTHROUGH) !== 0;
    const send = <T>(p: Promise<Answer<T>>, found: (v: T) => Uint8Array) =>
      p.then(
        (a) => later(a.kind === 'found' ? found(a.value) : encodeNameError(op, a.kind === 'host' ? 0 : -a.errno)),
        () => later(encodeNameError(op, -Errno.EIO)),
      );
    if (op === NameOp.RESOLVE) {
      const d = decodeResolve(body);
      if (!d.ok) return bad();
      void send(r.resolve(d.value.name, d.value.family, pid, ft), (v) =>
        encodeResolveAnswer(
          v.canon,
          v.addrs.map((a) => parseIp(a.address)!).filter((x) => x !== undefined),
        ),
      );
    } else if (op === NameOp.REVERSE) {
      const d = decodeReverse(body);
      if (!d.ok) return bad();
      void send(r.reverse(d.value, pid, ft), encodeReverseAnswer);
    } else {
      if (body.length < 12 || body.length > QUERY_MAX) return bad();
      void send(r.query(body.slice(), pid, ft), encodeQueryAnswer);
    }
    return null;
  }

  /** Stops serving: apps' sockets see EOF/EPIPE, new calls fail with ENETDOWN. */
  close(): void {
    this.poller?.close();
    this.poller = null;
    if (this.fd >= 0) fdpass.close(this.fd);
    this.fd = -1;
    for (const c of [...this.conns]) this.dropConn(c);
    this.table.shutdownAll();
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
