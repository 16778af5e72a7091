// Moves one TCP connection's bytes between the app's socketpair (the service's end, never blocking)
// and a stack socket, with backpressure both ways and no polling:
//  app → stack: read the fd only while the stack has send space; a partial write stops reading
//               until onWritable.
//  stack → app: consumed(n) only for bytes the fd took; when the app stops reading the fd fills,
//               consumed stops, and the stack's receive window closes.
// The app closing its last reference (EOF with POLLHUP) closes the stack socket (or resets it
// after SO_LINGER 0); EOF without POLLHUP (shutdown(SHUT_WR)) sends FIN. The stack's FIN becomes
// shutdown(SHUT_WR) on the fd, the end of the connection closes the fd.
import { EAGAIN, EV_READ, EV_SHUT, EV_WRITE, fdpass, POLLHUP, POLLIN, SHUT_WR } from './fdpass.js';
import type { TcpSocket } from './stack-types.js';

const readBuf = new Uint8Array(256 * 1024);

export interface PumpOwner {
  /** Watch the fd for these events (EV_READ | EV_WRITE), 0 = none. */
  watch(events: number): void;
  /** The pump is about to close the fd: stop watching it for good. */
  unwatchForClose(): void;
  /** SO_LINGER 0 was set: an app close resets the connection. */
  abortive(): boolean;
  /** The pump is finished and has closed the fd; err is set if the connection failed. */
  done(err?: string): void;
}

export class TcpPump {
  private out: Uint8Array[] = [];
  private outBytes = 0;
  private stash: Uint8Array | null = null;
  private appEof = false;
  /** A wake-up reported both directions of the fd shut (EV_SHUT): the app closed its end. */
  private appClosed = false;
  private shutSent = false;
  private stackEnd = false;
  private stackGone = false;
  private stackErr: string | undefined;
  private finished = false;
  private events = -1;
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    private readonly fd: number,
    readonly sock: TcpSocket,
    private readonly owner: PumpOwner,
  ) {
    sock.handlers = {
      // A view of the stack's memory: written to the fd from there; what the fd cannot take is copied.
      onDataBorrowed: (c) => this.onData(c),
      onEnd: () => this.onEnd(),
      onWritable: () => this.pumpIn(),
      onClose: (err) => this.onClose(err),
    };
    // Data already waiting in the pair is reported by the (level-triggered) watch at once.
    this.update();
  }

  onEvent(events: number): void {
    if (this.finished) return;
    if (events & EV_SHUT) this.appClosed = true;
    if (events & EV_WRITE) this.flushOut();
    if (events & ~EV_WRITE) this.pumpIn();
  }

  private update(): void {
    if (this.finished) return;
    let ev = 0;
    if (!this.appEof && !this.stash && !this.stackGone) ev |= EV_READ;
    if (this.outBytes > 0) ev |= EV_WRITE;
    if (ev !== this.events) {
      this.events = ev;
      this.owner.watch(ev);
    }
  }

  private write(data: Uint8Array): number {
    try {
      return this.sock.write(data);
    } catch {
      this.stackGone = true;
      return -1;
    }
  }

  pumpIn(): void {
    if (this.finished || this.appEof || this.stackGone) return;
    if (this.stash) {
      const n = this.write(this.stash);
      if (n < 0) return this.finish();
      this.bytesOut += n;
      if (n < this.stash.length) {
        this.stash = this.stash.subarray(n);
        return this.update();
      }
      this.stash = null;
    }
    for (;;) {
      // Read what the stack can take, but at least 16 KiB: a write the stack cannot take in full
      // is what arms its onWritable (the remainder waits in the stash, and the fd is not read).
      const w = this.sock.writable();
      const want = Math.min(Math.max(w, 16384), readBuf.length);
      const r = fdpass.read(this.fd, readBuf, 0, want);
      if (r > 0) {
        const n = this.write(readBuf.subarray(0, r));
        if (n < 0) return this.finish();
        this.bytesOut += n;
        if (n < r) {
          this.stash = readBuf.slice(n, r);
          break;
        }
        // A short read emptied the socket: no second read only to hear EAGAIN (the poll is level-triggered,
        // so more data, or the app's EOF, wakes us again). One syscall less per small message.
        if (r < want) break;
        continue;
      }
      if (r === 0) return this.onAppEof();
      if (r === -EAGAIN) break;
      return this.onAppGone(); // ECONNRESET …
    }
    this.update();
  }

  private onAppEof(): void {
    this.appEof = true;
    // closed, or only shut for writing (FIN)? The wake-up may have said; else ask the fd
    if (this.appClosed) return this.onAppGone();
    const rev = fdpass.pollNow(this.fd, POLLIN);
    if (rev > 0 && rev & POLLHUP) return this.onAppGone();
    try {
      this.sock.shutdown();
    } catch {
      // already gone
    }
    this.update();
  }

  /** The app closed its last reference: close (or reset) the stack socket and finish. */
  private onAppGone(): void {
    if (!this.stackGone) {
      this.stackGone = true;
      try {
        if (this.owner.abortive()) this.sock.abort();
        else this.sock.close();
      } catch {
        // already gone
      }
    }
    this.out = [];
    this.outBytes = 0;
    this.finish();
  }

  private onData(chunk: Uint8Array): void {
    if (this.finished) {
      if (!this.stackGone) this.sock.consumed(chunk.length);
      return;
    }
    this.bytesIn += chunk.length;
    let n = 0;
    if (this.outBytes === 0) {
      n = fdpass.write(this.fd, chunk, 0, chunk.length);
      if (n === chunk.length) {
        this.sock.consumed(n);
        return;
      }
      if (n < 0 && n !== -EAGAIN) {
        this.sock.consumed(chunk.length);
        return this.onAppGone();
      }
    }
    // The rest is copied before consumed() runs: a view of the stack's memory does not outlive a call into it.
    const rest = chunk.slice(Math.max(n, 0));
    if (n > 0) this.sock.consumed(n);
    this.out.push(rest);
    this.outBytes += rest.length;
    this.update();
  }

  private flushOut(): void {
    while (this.out.length > 0) {
      const n =
        this.out.length === 1
          ? fdpass.write(this.fd, this.out[0]!, 0, this.out[0]!.length)
          : fdpass.writev(this.fd, this.out.slice(0, 64));
      if (n === -EAGAIN) break;
      if (n < 0) return this.onAppGone();
      if (!this.stackGone) this.sock.consumed(n);
      this.outBytes -= n;
      let left = n;
      while (left > 0) {
        const head = this.out[0]!;
        if (head.length <= left) {
          left -= head.length;
          this.out.shift();
        } else {
          this.out[0] = head.subarray(left);
          left = 0;
        }
      }
    }
    if (this.out.length === 0) this.afterFlush();
    this.update();
  }

  private afterFlush(): void {
    if (this.stackEnd && !this.shutSent) {
      this.shutSent = true;
      fdpass.shutdown(this.fd, SHUT_WR);
    }
    if (this.stackGone) this.finish();
  }

  private onEnd(): void {
    this.stackEnd = true;
    if (this.outBytes === 0) this.afterFlush();
  }

  private onClose(err?: string): void {
    this.stackGone = true;
    this.stackErr = err;
    this.stackEnd = true;
    if (this.outBytes === 0 || err) {
      if (!err) this.afterFlush();
      else this.finish();
    } else {
      this.update();
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.owner.unwatchForClose();
    fdpass.close(this.fd);
    this.owner.done(this.stackErr);
  }

  /** The service is shutting down. */
  destroy(): void {
    if (this.finished) return;
    try {
      this.sock.abort();
    } catch {
      // gone
    }
    this.finish();
  }
}
