// Bounds of the local API, so no local user can starve the service (or the apps it serves) through it:
//   - concurrent connections: the service's own user and root (the token holders: zerotier-cli) have their
//     own allowance; every other local user gets a few each, and all of them together a bounded total.
//     Users are told apart by the kernel (sock_diag: the uid owning the client's socket); where that
//     cannot be told, by the client address. A connection over its allowance is closed at once, so it
//     holds no fd.
//   - time: the headers must arrive within HEADERS_TIMEOUT, the whole request within REQUEST_TIMEOUT, and
//     an idle connection closes after IDLE_TIMEOUT.
//   - size: a body over MAX_BODY is answered 413 and the connection closed.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { native } from '../../native/index.js';

export const API_LIMITS = {
  /** Concurrent connections of the service's own user and root together. */
  owner: 64,
  /** Concurrent connections per other local user (or per client address when the user is unknown). */
  perClient: 8,
  /** Concurrent connections of all other users together. */
  others: 128,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 10_000,
  /** How often Node checks the header and request timeouts. */
  checkIntervalMs: 500,
  maxBody: 1 << 20,
  /** Listen backlog: room for the token holder's connection while a flood is being refused (capped by somaxconn). */
  backlog: 4096,
};

const limits = native.limits as {
  tcpPeerUid(clientIp: string, clientPort: number, serverIp: string, serverPort: number): number;
};

/** The uid owning the client end of a local TCP connection, or undefined when the kernel cannot say. */
export function peerUid(s: Socket): number | undefined {
  if (!s.remoteAddress || !s.localAddress || s.remotePort === undefined || s.localPort === undefined) return undefined;
  const uid = limits.tcpPeerUid(s.remoteAddress, s.remotePort, s.localAddress, s.localPort);
  return uid >= 0 ? uid : undefined;
}

export interface GateStats {
  /** Connections offered to the gate. */
  attempted: number;
  /** Closed at once for being over an allowance. */
  refused: number;
  /** Open now. */
  held: number;
  /** Most open at once. */
  peak: number;
}

/** Counts open API connections by client and refuses those over their allowance. */
export class ConnectionGate {
  readonly stats: GateStats = { attempted: 0, refused: 0, held: 0, peak: 0 };
  private readonly byClient = new Map<string, number>();
  private owner = 0;
  private others = 0;
  private lastWarning = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly warn: (msg: string) => void = () => {},
    private readonly ownUid: number = process.getuid?.() ?? -1,
    private readonly l = API_LIMITS,
  ) {}

  /** For the server's 'connection' event: admits the socket, or destroys it and returns false. */
  admit(s: Socket): boolean {
    this.stats.attempted++;
    const uid = peerUid(s);
    const privileged = uid !== undefined && (uid === this.ownUid || uid === 0);
    const key = uid !== undefined ? `uid ${uid}` : `address ${s.remoteAddress}`;
    const mine = this.byClient.get(key) ?? 0;
    const over = privileged ? this.owner >= this.l.owner : mine >= this.l.perClient || this.others >= this.l.others;
    if (over) {
      this.stats.refused++;
      const now = performance.now();
      if (now - this.lastWarning >= 10_000) {
        this.lastWarning = now;
        this.warn(`local API: too many connections from ${key}; refusing (${this.stats.refused} refused so far)`);
      }
      s.destroy();
      return false;
    }
    this.byClient.set(key, mine + 1);
    if (privileged) this.owner++;
    else this.others++;
    this.stats.held++;
    this.stats.peak = Math.max(this.stats.peak, this.stats.held);
    s.once('close', () => {
      const n = (this.byClient.get(key) ?? 1) - 1;
      if (n > 0) this.byClient.set(key, n);
      else this.byClient.delete(key);
      if (privileged) this.owner--;
      else this.others--;
      this.stats.held--;
    });
    return true;
  }
}

/**
 * For a client still sending a body we refused (413): once our answer is out, close our side but read and
 * discard what still comes for up to LINGER_MS / LINGER_BYTES before closing, so the client reads the answer
 * instead of a reset (closing with unread data makes the kernel send RST, which can discard the answer).
 */
export function lingerOnClose(s: Socket | null, ms = 2000, maxBytes = 16 << 20): void {
  if (!s) return;
  (s as Socket & { destroySoon(): void }).destroySoon = () => {
    s.end();
    let n = 0;
    const stop = () => s.destroy();
    const timer = setTimeout(stop, ms);
    timer.unref();
    s.on('data', (d: Buffer) => {
      n += d.length;
      if (n > maxBytes) stop();
    });
    s.once('close', () => clearTimeout(timer));
    s.resume();
  };
}

export type BodyResult = { ok: true; bytes: Buffer } | { ok: false; status: 413 | 400; error: string };

/**
 * Reads a request body up to API_LIMITS.maxBody: 413 when the declared or received length is over. A refused
 * body is then read on and discarded (not destroyed: that would reset the connection before our answer).
 */
export function readLimitedBody(req: IncomingMessage, max = API_LIMITS.maxBody): Promise<BodyResult> {
  const tooLarge = { ok: false, status: 413, error: `request body is larger than ${max} bytes` } as const;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) {
    req.resume();
    return Promise.resolve(tooLarge);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const finish = (r: BodyResult) => {
      req.off('data', onData);
      resolve(r);
    };
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > max) {
        finish(tooLarge);
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => finish({ ok: true, bytes: Buffer.concat(chunks) }));
    req.once('error', (e) => finish({ ok: false, status: 400, error: `request body could not be read: ${e.message}` }));
  });
}
