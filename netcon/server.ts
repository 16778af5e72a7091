// The RPC server of one network: a SOCK_SEQPACKET Unix socket at <home>/nc_<nwid> (mode 0600, a
// stale file from a dead service is replaced) that intercepted apps talk to (intercept/RPC.md).
// Each request is answered at once; fds travel with SCM_RIGHTS.
import { unlinkSync } from 'node:fs';
import type { NetBackend } from './backend.js';
import { EAGAIN, EV_READ, fdpass, type PollerHandle } from './fdpass.js';
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
  MSG_MAX,
  Op,
  ReqFlag,
  State,
} from './rpc-codec.js';
import { type Result, SocketTable } from './socket-table.js';

interface Conn {
  fd: number;
  poller: PollerHandle;
  pid: number;
}

export interface ServerStats {
  requests: number;
  badRequests: number;
  connections: number;
}

export class RpcServer {
  readonly table: SocketTable;
  private fd = -1;
  private poller: PollerHandle | null = null;
  private conns = new Set<Conn>();
  private readonly buf = new Uint8Array(MSG_MAX);
  readonly stats: ServerStats = { requests: 0, badRequests: 0, connections: 0 };

  constructor(
    readonly path: string,
    backend: NetBackend,
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
      if (c < 0) return;
      const conn: Conn = { fd: c, poller: new fdpass.Poller(c, () => this.onReadable(conn)), pid: fdpass.peerPid(c) };
      this.conns.add(conn);
      this.stats.connections++;
      conn.poller.start(EV_READ);
    }
  }

  private dropConn(conn: Conn): void {
    conn.poller.close();
    fdpass.close(conn.fd);
    this.conns.delete(conn);
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
      const answer = this.handle(this.buf.subarray(0, n), fds, (late) => {
        // a blocking connect's answer, when the outcome is known
        if (this.conns.has(conn) && fdpass.sendmsg(conn.fd, late, []) < 0) this.dropConn(conn);
      });
      for (const f of fds) if (f >= 0) fdpass.close(f); // fds the handler did not take
      if (!answer) continue; // deferred
      const { bytes, fd } = answer;
      const r = fdpass.sendmsg(conn.fd, bytes, fd !== undefined ? [fd] : []);
      if (fd !== undefined) fdpass.close(fd);
      if (r < 0) return this.dropConn(conn);
    }
  }

  /**
   * Decodes and answers one request. Received fds the handler keeps are replaced by -1 in fds.
   * Returns null when the answer is deferred (a blocking connect): it then goes to `later`.
   */
  handle(
    msg: Uint8Array,
    fds: number[],
    later: (bytes: Uint8Array) => void = () => {},
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
      const b = decodeSocketBody(req.body);
      if (!b.ok) return bad();
      return answer(t.socket(b.value.family, b.value.type, b.value.protocol));
    }
    if (req.op === Op.LOOKUP) {
      const b = decodeU64(req.body);
      if (!b.ok) return bad();
      const s = t.byInode(Number(b.value));
      if (!s) return { bytes: encodeResponse(req.op, -Errno.ENOENT) };
      return answer({ result: s.id, sock: s });
    }
    if (req.op === Op.REATTACH) {
      const b = decodeReattach(req.body);
      if (!b.ok) return bad();
      return answer(t.reattach(b.value));
    }
    const s = t.get(req.id);
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
