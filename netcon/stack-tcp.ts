// A Stack's TCP listeners and connections (stack.ts): lwIP pcbs behind the TcpListener and TcpSocket contract of
// stack-types.ts, driven by the stack's callbacks (accept, connected, data, sent, error).
import {
  ADDR_A,
  ADDR_B,
  ERR_ABRT,
  ERR_CLSD,
  ERR_RST,
  ESTABLISHED,
  rethrowLater,
  STAGE_SIZE,
  type StackCore,
  TCP_SND_BUF,
  TCP_SNDLOWAT,
  zero,
} from './stack-abi.js';
import {
  type ConnectOutcome,
  type SockAddr,
  StackError,
  type TcpHandlers,
  type TcpListener,
  type TcpSocket,
} from './stack-types.js';

/** A TCP listener; pause() holds new connections in the backlog (further SYNs wait) until resume(). */
export interface StackTcpListener extends TcpListener {
  pause(): void;
  resume(): void;
  /** Connections established and waiting in the backlog. */
  readonly pending: number;
}

export class StackListener implements StackTcpListener {
  onConnection?: (sock: TcpSocket) => void;
  closed = false;
  private paused = false;
  private readonly queue: StackTcpSocket[] = [];

  constructor(
    private readonly stack: StackCore,
    private readonly id: number,
    private readonly pcb: number,
    readonly local: SockAddr,
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  /** @internal a connection completed the handshake (called from inside lwIP). */
  arrived(sock: StackTcpSocket): void {
    if (this.paused || this.queue.length > 0 || !this.onConnection) {
      this.stack.api.nc_tcp_backlog_delayed(sock.pcb);
      this.queue.push(sock);
      return;
    }
    this.deliver(sock);
  }

  private deliver(sock: StackTcpSocket): void {
    try {
      this.onConnection?.(sock);
    } catch (e) {
      rethrowLater(e);
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.stack.enter();
    try {
      while (!this.paused && !this.closed && this.onConnection && this.queue.length > 0) {
        const sock = this.queue.shift()!;
        if (!sock.closed) this.stack.api.nc_tcp_backlog_accepted(sock.pcb);
        this.deliver(sock);
      }
    } finally {
      this.stack.leave();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stack.forgetListener(this.id);
    this.stack.enter();
    try {
      this.stack.api.nc_tcp_close(this.pcb);
      for (const s of this.queue) s.abort();
      this.queue.length = 0;
    } finally {
      this.stack.leave();
    }
  }

  forget(): void {
    this.closed = true;
  }
}

type TcpState = 'connecting' | 'open' | 'closed';

export class StackTcpSocket implements TcpSocket {
  onOutcome?: (outcome: ConnectOutcome, sock?: TcpSocket) => void;
  connectTimer?: NodeJS.Timeout;
  private h: TcpHandlers = {};
  private held: Uint8Array[] = [];
  private heldEnd = false;
  private heldClose: { err: string | undefined } | undefined;
  private wantWritable = false;
  private txShut = false;
  private ownerClosed = false;
  private _local: SockAddr | undefined;
  private _remote: SockAddr | undefined;

  constructor(
    private readonly stack: StackCore,
    private readonly id: number,
    public pcb: number,
    private state: TcpState,
    local: SockAddr | undefined,
    remote: SockAddr | undefined,
  ) {
    this._local = local;
    this._remote = remote;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  get handlers(): TcpHandlers {
    return this.h;
  }

  /** Installing handlers delivers what arrived before (data, EOF, close). */
  set handlers(h: TcpHandlers) {
    this.h = h;
    const onData = h.onDataBorrowed ?? h.onData;
    if (onData && this.held.length > 0) {
      const held = this.held;
      this.held = [];
      for (const c of held) this.call(() => onData.call(h, c));
    }
    if (h.onEnd && this.heldEnd) {
      this.heldEnd = false;
      this.call(() => h.onEnd?.());
    }
    if (h.onClose && this.heldClose && this.held.length === 0) {
      const { err } = this.heldClose;
      this.heldClose = undefined;
      this.call(() => h.onClose?.(err));
    }
  }

  get local(): SockAddr {
    if (!this._local) return this.addrs().local;
    return this._local;
  }

  get remote(): SockAddr {
    if (!this._remote) return this.addrs().remote;
    return this._remote;
  }

  private addrs(): { local: SockAddr; remote: SockAddr } {
    if (this.state === 'closed') return { local: zero(), remote: zero() };
    this.stack.api.nc_tcp_addrs(this.pcb);
    const local = this.stack.getAddr(ADDR_A);
    const remote = this.stack.getAddr(ADDR_B);
    if (this.state === 'open') {
      this._local = local;
      this._remote = remote;
    }
    return { local, remote };
  }

  private call(f: () => void): void {
    try {
      f();
    } catch (e) {
      rethrowLater(e);
    }
  }

  // ---- events from lwIP ----

  connected(): void {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.addrs();
    const done = this.onOutcome;
    this.onOutcome = undefined;
    // Asynchronous like every outcome; data that arrives meanwhile is held for the handlers.
    if (done) queueMicrotask(() => done('connected', this));
  }

  /** The peer's FIN arrived (its data came before it, through deliver()). */
  finReceived(): void {
    if (this.h.onEnd) this.call(() => this.h.onEnd?.());
    else this.heldEnd = true;
  }

  deliver(heap: Uint8Array, off: number, len: number): void {
    if (this.ownerClosed) return;
    const h = this.h;
    if (h.onDataBorrowed) {
      const view = heap.subarray(off, off + len);
      this.call(() => h.onDataBorrowed?.(view));
      return;
    }
    const chunk = heap.slice(off, off + len);
    if (h.onData) this.call(() => h.onData?.(chunk));
    else this.held.push(chunk); // delivered when handlers are installed
  }

  sent(): void {
    if (!this.wantWritable || this.state !== 'open') return;
    const room = this.stack.api.nc_tcp_writable(this.pcb);
    if (room >= TCP_SNDLOWAT || room >= TCP_SND_BUF / 2) {
      this.wantWritable = false;
      this.stack.api.nc_tcp_want_sent(this.pcb, 0);
      this.call(() => this.h.onWritable?.());
    }
  }

  failed(err: number): void {
    // The pcb is gone (lwIP freed it).
    const wasConnecting = this.state === 'connecting';
    this.state = 'closed';
    this.pcb = 0;
    this.stack.forgetTcp(this.id);
    if (wasConnecting) {
      this.finishConnect(err === ERR_RST ? 'ECONNREFUSED' : 'ETIMEDOUT');
      return;
    }
    const reason =
      err === ERR_CLSD ? undefined : err === ERR_RST ? 'ECONNRESET' : err === ERR_ABRT ? 'ETIMEDOUT' : 'EIO';
    if (this.h.onClose && this.held.length === 0) this.call(() => this.h.onClose?.(reason));
    else this.heldClose = { err: reason };
  }

  private finishConnect(outcome: ConnectOutcome): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    const done = this.onOutcome;
    this.onOutcome = undefined;
    if (done) queueMicrotask(() => done(outcome));
  }

  /** A connect that failed before lwIP took it, or that timed out: the pcb is aborted. */
  failConnect(outcome: ConnectOutcome, abortPcb: boolean): void {
    if (this.state !== 'connecting') return;
    this.state = 'closed';
    this.stack.forgetTcp(this.id);
    if (abortPcb && this.pcb !== 0 && !this.stack.closed) {
      this.stack.enter();
      try {
        this.stack.api.nc_tcp_abort(this.pcb);
      } finally {
        this.stack.leave();
      }
    }
    this.pcb = 0;
    this.finishConnect(outcome);
  }

  cancelConnect(): void {
    if (this.state !== 'connecting') return;
    this.onOutcome = undefined;
    this.failConnect('ETIMEDOUT', true);
  }

  forget(): void {
    this.state = 'closed';
    this.pcb = 0;
    if (this.connectTimer) clearTimeout(this.connectTimer);
  }

  // ---- the owner's calls ----

  private check(): void {
    if (this.state === 'closed') throw new StackError('EPIPE', 'socket is closed');
  }

  writable(): number {
    if (this.state === 'closed' || this.txShut || this.stack.closed) return 0;
    return this.stack.api.nc_tcp_writable(this.pcb);
  }

  write(data: Uint8Array): number {
    this.check();
    if (this.txShut) throw new StackError('EPIPE', 'socket is shut down for writing');
    const api = this.stack.api;
    let taken = 0;
    this.stack.enter();
    try {
      while (taken < data.length && this.state !== 'closed') {
        const room = api.nc_tcp_writable(this.pcb);
        if (room === 0) break;
        const want = Math.min(data.length - taken, room, STAGE_SIZE);
        const ptr = this.stack.stageTcp(
          this.pcb,
          taken === 0 && want === data.length ? data : data.subarray(taken, taken + want),
        );
        const n = this.stack.stagedLen;
        const k = api.nc_tcp_write(this.pcb, ptr, n, taken + n < data.length ? 1 : 0);
        if (k <= 0) break;
        taken += k;
        if (k < n) break;
      }
    } finally {
      this.stack.leave();
    }
    if (taken < data.length && !this.wantWritable && this.state !== 'closed') {
      this.wantWritable = true;
      this.stack.api.nc_tcp_want_sent(this.pcb, 1);
    }
    return taken;
  }

  consumed(n: number): void {
    if (this.state === 'closed' || n <= 0) return;
    this.stack.enter();
    try {
      this.stack.api.nc_tcp_recved(this.pcb, n);
    } finally {
      this.stack.leave();
    }
  }

  shutdown(): void {
    if (this.state === 'closed' || this.txShut) return;
    this.txShut = true;
    this.stack.enter();
    try {
      this.stack.api.nc_tcp_shutdown(this.pcb);
    } finally {
      this.stack.leave();
    }
  }

  close(): void {
    this.end(false);
  }

  abort(): void {
    this.end(true);
  }

  private end(rst: boolean): void {
    this.ownerClosed = true;
    if (this.state === 'closed') return;
    const pcb = this.pcb;
    this.state = 'closed';
    this.pcb = 0;
    this.onOutcome = undefined;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.stack.forgetTcp(this.id);
    if (this.stack.closed) return;
    this.stack.enter();
    try {
      if (rst) this.stack.api.nc_tcp_abort(pcb);
      else this.stack.api.nc_tcp_close(pcb);
    } finally {
      this.stack.leave();
    }
  }

  setNoDelay(on: boolean): void {
    if (this.state === 'closed') return;
    this.stack.api.nc_tcp_nodelay(this.pcb, on ? 1 : 0);
  }

  setKeepAlive(on: boolean, idleMs = 0, intervalMs = 0, count = 0): void {
    if (this.state === 'closed') return;
    this.stack.api.nc_tcp_keepalive(this.pcb, on ? 1 : 0, idleMs, intervalMs, count);
  }

  /** lwIP's TCP state (tcpbase.h enum tcp_state), for tests and diagnostics. */
  tcpState(): number {
    return this.state === 'closed' ? 0 : this.stack.api.nc_tcp_state(this.pcb);
  }

  get established(): boolean {
    return this.tcpState() === ESTABLISHED;
  }
}
