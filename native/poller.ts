// Readiness of raw fds for the JS side, through the addon's poll set (native/src/fdpass.cc): one epoll
// instance for every watched fd, woken through one libuv handle. A wake-up delivers every ready fd in one
// call from native code; registering or changing an fd is one epoll_ctl.
//   const p = new Poller(fd, (status, events) => …);  p.start(EV_READ | EV_WRITE);  p.stop();  p.close();
// Events: 1 readable, 2 writable, 4 peer hang-up; a hang-up or error wakes every registered event, as
// libuv's uv_poll does, and adds EV_SHUT (8) when both directions are shut. Level-triggered. close() (or stop()) must come before the fd is closed.
import { nativePart } from './index.js';

export interface PollerHandle {
  /** 1 readable, 2 writable, 4 peer hang-up; 0 stops watching. */
  start(events: number): void;
  stop(): void;
  close(): void;
  /**
   * close() without a system call, right before the fd is closed, for an fd no other fd or process shares
   * (a socketpair end the service made and kept): closing its last reference takes it out of the epoll set.
   * Never for an fd an app sent: the app may still hold its open file, which would stay registered.
   */
  closeUnshared(): void;
}

interface PollSetPart {
  pollSetInit(cb: (n: number) => void, out: Int32Array): number;
  pollSetCtl(op: number, fd: number, token: number, events: number): number;
}

/** With the events of a wake-up: both directions of the fd are shut (EPOLLHUP; a socketpair's peer closed). */
export const EV_SHUT = 8;
const ADD = 1;
const DEL = 2;
const MOD = 3;
const CLOSING = 4; // no epoll_ctl: the fd's close takes it out of the set
const BATCH = 256;

/** epoll_ctl calls made (ADD, MOD, DEL), for tests. */
export const pollSetStats = { ctl: 0 };

let part: PollSetPart | undefined;
const ready = new Int32Array(BATCH * 2);
const byToken = new Map<number, Poller>();
let nextToken = 1;

function dispatch(n: number): void {
  for (let i = 0; i < n; i++) {
    // a handler earlier in the batch may have stopped or closed this one
    const p = byToken.get(ready[2 * i]!);
    if (!p) continue;
    const raw = ready[2 * i + 1]!;
    if (raw & p.events) p.cb(0, raw & (p.events | EV_SHUT));
  }
}

function set(): PollSetPart {
  if (part) return part;
  const p = nativePart('fdpass') as PollSetPart;
  const r = p.pollSetInit(dispatch, ready);
  if (r < 0) throw new Error(`netcon: cannot make the poll set (errno ${-r})`);
  part = p;
  return p;
}

/** A token no registered poller holds (tokens are handed out at registration, so they can wrap). */
function freeToken(): number {
  while (byToken.has(nextToken)) nextToken = nextToken >= 0x7fffffff ? 1 : nextToken + 1;
  const t = nextToken;
  nextToken = nextToken >= 0x7fffffff ? 1 : nextToken + 1;
  return t;
}

export class Poller implements PollerHandle {
  /** The events registered now; 0 = not in the set. */
  events = 0;
  private token = 0;
  private closed = false;

  constructor(
    private readonly fd: number,
    readonly cb: (status: number, events: number) => void,
  ) {
    set();
  }

  start(events: number): void {
    const ev = events & 7;
    if (this.closed || ev === this.events) return;
    if (ev === 0) return this.stop();
    const adding = this.events === 0;
    const token = adding ? freeToken() : this.token;
    pollSetStats.ctl++;
    const r = set().pollSetCtl(adding ? ADD : MOD, this.fd, token, ev);
    if (r < 0) throw new Error(`netcon: cannot watch fd ${this.fd} (errno ${-r})`);
    if (adding) {
      this.token = token;
      byToken.set(token, this);
    }
    this.events = ev;
  }

  stop(): void {
    if (this.events === 0) return;
    pollSetStats.ctl++;
    set().pollSetCtl(DEL, this.fd, this.token, 0);
    byToken.delete(this.token);
    this.events = 0;
  }

  close(): void {
    this.stop();
    this.closed = true;
  }

  closeUnshared(): void {
    if (this.events !== 0) {
      set().pollSetCtl(CLOSING, this.fd, this.token, 0); // counted out, so an empty set lets the process end
      // the token goes at once: an event of this fd already fetched in the batch finds no poller
      byToken.delete(this.token);
      this.events = 0;
    }
    this.closed = true;
  }
}
