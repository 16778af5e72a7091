// The per-network user-space TCP/IP stack: one lwIP instance (WebAssembly) per ZeroTier network.
//
//   frames in:  stack.input(frames)          — one call into wasm per batch (frames staged in wasm memory)
//   frames out: stack.onOutput(frames)        — a batch per JS task (microtask), or when the out ring fills
//   sockets:    tcpListen / tcpConnect / udpOpen, implementing the contract in stack-types.ts (the sockets
//               themselves: stack-tcp.ts and stack-udp.ts; what they use of the stack: StackCore in stack-abi.ts)
//   timers:     lwIP's own, on the host clock; one unref'd setTimeout to the next lwIP deadline, none while
//               idle (no connection, ARP/ND entry or reassembly to age: glue/timers.c)
//
// Re-entrancy: lwIP's raw API may be called from its own callbacks (a socket's onData may write, close …),
// but frames and timers are never fed in while lwIP is running: input() during a callback is queued and
// processed when the outermost call returns. Exceptions thrown by handlers are rethrown asynchronously
// so they never unwind through lwIP.
import { formatIp, parseIp } from '../common/ip-text.js';
import type { NetBackend } from './backend.js';
import { instantiate, type LwipExports, type LwipHost, type WasmMemory } from './lwip-module.js';
import {
  ADDR_A,
  ADDR_B,
  ADDR_C,
  ADDR_SIZE,
  CTL_IN_BUF,
  CTL_OUT_COUNT,
  CTL_OUT_USED,
  CTL_RX_COUNT,
  CTL_RX_USED,
  CTL_WLEN,
  ERR_RTE,
  ERR_VAL,
  errName,
  IP4_MAX,
  RX_REC_SIZE,
  readLayout,
  rethrowLater,
  STAGE_SIZE,
  type StackCore,
  WBUF_MIN,
} from './stack-abi.js';
import { StackListener, type StackTcpListener, StackTcpSocket } from './stack-tcp.js';
import {
  type ConnectOutcome,
  type IpAssignment,
  type Route,
  type SockAddr,
  type StackConfig,
  StackError,
  type StackStats,
  type TcpSocket,
} from './stack-types.js';
import { StackUdpSocket } from './stack-udp.js';

export type { StackTcpListener } from './stack-tcp.js';
export { StackUdpSocket } from './stack-udp.js';

const INFINITE = 0xffffffff;
const TIMER_GRID = 250;
const RESOLVED = Promise.resolve();

export interface StackListenOptions {
  backlog?: number;
  /** An IPv6 wildcard listener also takes IPv4 connections unless v6only. */
  v6only?: boolean;
  reuseAddr?: boolean;
}

export interface StackConnectOptions {
  /** Give up after this long with ETIMEDOUT (default: lwIP's own SYN retries, about a minute). */
  timeoutMs?: number;
  reuseAddr?: boolean;
}

export interface PendingConnect {
  abort(): void;
}

export interface PingOptions {
  timeoutMs?: number;
  size?: number;
}

export class Stack implements NetBackend, StackCore {
  /** Receives the frames the stack sends, in batches; the arrays are the caller's to keep. */
  onOutput?: ((frames: Uint8Array[]) => void) | undefined;
  /**
   * The fast path: frames as views into the stack's own memory, valid only until the call returns (copy
   * what you keep, e.g. encrypt straight from them). Takes precedence over onOutput.
   */
  onOutputBorrowed?: ((frames: Uint8Array[]) => void) | undefined;
  /**
   * The fastest path, for in-process links: the whole batch as one view of the stack's out ring,
   * `count` records of [u32 length (little-endian)][frame][padding to 4 bytes], valid only until the call
   * returns; inputPacked() on another stack takes it as it is. Takes precedence over the others.
   */
  onOutputPacked?: ((packed: Uint8Array, count: number) => void) | undefined;

  private readonly ex: LwipExports;
  private readonly memory: WasmMemory;
  private u8: Uint8Array;
  private dv: DataView;
  private readonly ctl: number;
  private inBuf: number; // where the next batch is staged (moves when the stack keeps frames of a batch)
  private readonly inCap: number;
  private readonly outBuf: number;
  private readonly stage: number;
  private readonly statsBuf: number;

  private config: StackConfig;
  private depth = 0;
  private dead = false;
  private pendingIn: Uint8Array[] = [];
  private stagedBytes = 0;
  private stagedCount = 0;
  private stagedScheduled = false;
  private stagedTrusted = false;
  // Received TCP data waits in the module's rx area (glue.c) and is delivered when lwIP returns, or
  // before any other event; consecutive segments of one socket arrive as one chunk.
  private readonly rxBuf: number;
  private readonly rxRecs: number;
  private flushQueued = false;
  private draining = false;
  private readonly flushOut = () => {
    this.flushQueued = false;
    if (!this.dead && this.depth === 0) this.drainOut();
  };
  private rxBusy = false;
  private drainUsed = 0;
  private drainCount = 0;
  private loopQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private nextId = 1;
  private readonly tcp = new Map<number, StackTcpSocket>();
  private readonly listeners = new Map<number, StackListener>();
  private readonly udp = new Map<number, StackUdpSocket>();
  private readonly pings = new Map<number, { resolve(rtt: number): void; t0: number; timer: NodeJS.Timeout }>();
  private pingSeq = 0;
  private jsDrops = { truncated: 0, oversized: 0 };

  constructor(config: StackConfig) {
    const host: LwipHost = {
      now: () => Math.floor(performance.now()) >>> 0,
      outFull: () => this.drainOut(),
      tcpAccept: (lid, pcb) => {
        this.flushRx();
        return this.onAccept(lid, pcb);
      },
      tcpConnected: (id) => {
        this.flushRx();
        this.tcp.get(id)?.connected();
      },
      tcpRecv: (id) => {
        // FIN (data comes through the rx area)
        this.flushRx();
        this.tcp.get(id)?.finReceived();
      },
      rxFlush: () => this.flushRx(),
      tcpSent: (id) => {
        this.flushRx();
        this.tcp.get(id)?.sent();
      },
      tcpErr: (id, err) => {
        this.flushRx();
        this.tcp.get(id)?.failed(err);
      },
      udpRecv: (id, ptr, len) => {
        this.flushRx();
        this.udp.get(id)?.received(ptr, len);
      },
      pingReply: (_family, seq) => this.onPingReply(seq),
      icmpEchoReply: (_family, ptr, len) => {
        const h = this.onIcmpEchoReply;
        if (!h) return;
        const msg = this.heap().slice(ptr, ptr + len);
        try {
          h(this.getAddr(ADDR_C).address, msg);
        } catch (e) {
          rethrowLater(e);
        }
      },
      assertFail: (msg, line) => {
        this.dead = true;
        throw new Error(`lwIP assertion failed: ${this.cstr(msg)} (line ${line})`);
      },
    };
    const inst = instantiate(host);
    this.ex = inst.exports;
    this.memory = inst.memory;
    this.u8 = new Uint8Array(this.memory.buffer);
    this.dv = new DataView(this.memory.buffer);
    const rc = this.ex.nc_init(config.mtu, (Math.random() * 0x100000000) >>> 0);
    if (rc !== 0) throw new Error(`lwip: init failed (${rc})`);
    this.refresh();
    readLayout(this.ex, this.dv);
    this.ctl = this.ex.nc_ctl();
    this.inBuf = this.ex.nc_in_buf();
    this.inCap = this.ex.nc_in_cap();
    this.outBuf = this.ex.nc_out_buf();
    this.rxBuf = this.ex.nc_rx_buf();
    this.rxRecs = this.ex.nc_rx_recs();
    this.stage = this.ex.malloc(STAGE_SIZE);
    this.statsBuf = this.ex.malloc(32 * 4);
    this.config = config;
    this.enter();
    try {
      this.applyConfig(config);
    } finally {
      this.leave();
    }
  }

  // ---- configuration ----

  get mac(): Uint8Array {
    return this.config.mac;
  }
  get mtu(): number {
    return this.config.mtu;
  }
  get addresses(): readonly IpAssignment[] {
    return this.config.addresses;
  }
  get routes(): readonly Route[] {
    return this.config.routes;
  }

  /** Applies a new configuration (a network's config can change at runtime); connections stay up. */
  setConfig(config: StackConfig): void {
    this.alive();
    this.enter();
    try {
      this.applyConfig(config);
      this.config = config;
    } finally {
      this.leave();
    }
  }

  private applyConfig(c: StackConfig): void {
    if (c.mac.length !== 6) throw new StackError('EINVAL', 'MAC must be 6 bytes');
    if (!(c.mtu >= 1280 && c.mtu <= 10000)) throw new StackError('EINVAL', 'MTU must be 1280…10000');
    this.heap().fill(0, this.ctl + ADDR_A, this.ctl + ADDR_A + ADDR_SIZE);
    this.heap().set(c.mac, this.ctl + ADDR_A + 4);
    this.ex.nc_set_link(c.mtu);
    const v4 = c.addresses.filter((a) => parseIp(a.address)?.family === 4);
    const v6 = c.addresses.filter((a) => parseIp(a.address)?.family === 6);
    // Up to IP4_MAX IPv4 addresses are served (more are ignored); the first is the primary.
    for (let i = 0; i < IP4_MAX; i++) {
      const a = v4[i];
      if (a) this.putAddr(ADDR_A, { family: 4, address: a.address, port: 0 }, a.prefix, false);
      else this.clearAddr(ADDR_A);
      this.ex.nc_set_ip4(i);
    }
    this.ex.nc_clear_ip6();
    for (const a of v6) {
      this.putAddr(ADDR_A, { family: 6, address: a.address, port: 0 }, a.prefix);
      if (this.ex.nc_add_ip6() !== 0) throw new StackError('ENOSPC', 'too many IPv6 addresses');
    }
    this.ex.nc_clear_routes();
    for (const r of c.routes) {
      const t = parseIp(r.target);
      if (!t) throw new StackError('EINVAL', `bad route target ${r.target}`);
      this.putAddr(ADDR_A, { family: t.family, address: r.target, port: 0 }, r.prefix, false);
      if (r.via) this.putAddr(ADDR_B, { family: t.family, address: r.via, port: 0 });
      else this.clearAddr(ADDR_B);
      if (this.ex.nc_add_route() !== 0) throw new StackError('ENOSPC', 'too many routes');
    }
  }

  // ---- frames ----

  /** Ethernet frames from the network. Bad frames are counted as drops, never thrown. */
  input(frames: readonly Uint8Array[]): void {
    if (this.dead) return;
    if (this.depth > 0) {
      // Copies: the caller may be handing us views it will reuse (borrowed output of some stack).
      for (const f of frames) this.pendingIn.push(f.slice());
      return;
    }
    this.enter();
    try {
      this.stageInput(frames);
    } finally {
      this.leave();
    }
  }

  /**
   * For in-process links: on = false when this stack's frames go only to another stack in this process that
   * does not verify them (trusted input): TCP checksums are then left out, as Linux leaves them out on
   * loopback and veth. Frames for a network always carry them (the default).
   */
  setLinkChecksums(on: boolean): void {
    if (!this.dead) this.ex.nc_link_checksums(on ? 1 : 0);
  }

  /**
   * For in-process links: copies a packed batch into the stack's input buffer now and processes it when the
   * current callback returns (scheduleStaged), so the link keeps no copy of its own. Returns false (nothing
   * taken) when the stack is busy or the buffer is full; the caller then queues the batch itself.
   */
  enqueuePacked(packed: Uint8Array, count: number, trusted = false): boolean {
    if (this.dead) return true;
    if (this.depth > 0 || this.stagedBytes + packed.length > this.inCap) return false;
    if (this.stagedCount > 0 && this.stagedTrusted !== trusted) return false;
    this.stagedTrusted = trusted;
    this.heap().set(packed, this.inBuf + this.stagedBytes);
    this.stagedBytes += packed.length;
    this.stagedCount += count;
    this.scheduleStaged();
    return true;
  }

  /**
   * For a VL2 tap: writes one Ethernet frame, given as its header fields (MACs as 48-bit numbers) and its
   * payload, straight into the stack's input buffer, to be processed with the others staged by the current
   * callback (as enqueuePacked; when the buffer is full, what it holds is processed at once). Saves
   * building the frame in JS memory first. Returns false (nothing taken) when the stack is busy (called from
   * one of its own callbacks); the caller then builds the frame and uses input().
   */
  enqueueFrame(dst: number, src: number, etherType: number, payload: Uint8Array): boolean {
    if (this.dead) return true;
    const len = 14 + payload.length;
    const need = 4 + ((len + 3) & ~3);
    if (this.depth > 0 || need > this.inCap) return false;
    if (this.stagedCount > 0 && this.stagedTrusted) return false;
    if (this.stagedBytes + need > this.inCap) {
      // Full: what is staged goes in now, and this frame starts the next batch.
      this.enter();
      try {
        this.processStaged();
      } finally {
        this.leave();
      }
      if (this.dead) return true;
    }
    this.stagedTrusted = false;
    const at = this.inBuf + this.stagedBytes;
    const dv = this.view();
    dv.setUint32(at, len, true);
    dv.setUint16(at + 4, Math.floor(dst / 0x100000000), false);
    dv.setUint32(at + 6, dst >>> 0, false);
    dv.setUint16(at + 10, Math.floor(src / 0x100000000), false);
    dv.setUint32(at + 12, src >>> 0, false);
    dv.setUint16(at + 16, etherType, false);
    this.heap().set(payload, at + 18);
    this.stagedBytes += need;
    this.stagedCount++;
    this.scheduleStaged();
    return true;
  }

  /**
   * Staged frames go in when the callback that staged them returns (a microtask): a UDP wake-up's whole
   * recvmmsg batch is one batch here, and the answer leaves in the same wake-up, without a turn of the event
   * loop in between (a setImmediate cost a second epoll_wait per round trip).
   */
  private scheduleStaged(): void {
    if (this.stagedScheduled) return;
    this.stagedScheduled = true;
    RESOLVED.then(this.runStaged);
  }

  private readonly runStaged = (): void => {
    this.stagedScheduled = false;
    if (this.dead || this.stagedCount === 0) return;
    this.enter();
    try {
      this.processStaged();
    } finally {
      this.leave();
    }
  };

  /** Processes the count frames staged at inBuf; the next batch goes where the stack says (ctl.in_buf). */
  private runInput(count: number, trusted: boolean): void {
    this.ex.nc_input(count, trusted ? 1 : 0);
    this.inBuf = this.view().getUint32(this.ctl + CTL_IN_BUF, true);
  }

  /** Frames staged by enqueuePacked go first (their order is older than anything arriving now). */
  private processStaged(): void {
    if (this.stagedCount === 0) return;
    const n = this.stagedCount;
    this.stagedCount = 0;
    this.stagedBytes = 0;
    this.runInput(n, this.stagedTrusted);
  }

  /**
   * Frames in the packed form of onOutputPacked (count records), copied into the stack in one piece.
   * trusted: they come from another stack over a link that cannot corrupt them, so checksums are not
   * verified (as on Linux loopback).
   */
  inputPacked(packed: Uint8Array, count: number, trusted = false): void {
    if (this.dead || count === 0) return;
    if (this.depth > 0) {
      this.input(unpack(packed, count));
      return;
    }
    this.enter();
    try {
      this.processStaged();
      let start = 0;
      let n = 0;
      let off = 0;
      const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
      const flush = () => {
        if (n === 0) return;
        this.heap().set(packed.subarray(start, off), this.inBuf);
        this.runInput(n, trusted);
        start = off;
        n = 0;
      };
      for (let i = 0; i < count; i++) {
        if (off + 4 > packed.length) break;
        const len = dv.getUint32(off, true);
        const need = 4 + ((len + 3) & ~3);
        if (off + 4 + len > packed.length) {
          this.jsDrops.oversized++; // a record past the end: the rest of the batch cannot be trusted
          break;
        }
        if (need > this.inCap) {
          flush();
          this.jsDrops.oversized++;
          off += need;
          start = off;
          continue;
        }
        if (off + need - start > this.inCap) flush();
        off += need;
        n++;
      }
      flush();
    } finally {
      this.leave();
    }
  }

  private stageInput(frames: readonly Uint8Array[]): void {
    this.processStaged();
    const max = this.config.mtu + 14;
    let end = this.inBuf + this.inCap;
    let off = this.inBuf;
    let count = 0;
    let u8 = this.heap();
    for (const f of frames) {
      const len = f.length;
      if (len < 14) {
        this.jsDrops.truncated++;
        continue;
      }
      if (len > max) {
        this.jsDrops.oversized++;
        continue;
      }
      const need = 4 + ((len + 3) & ~3);
      if (off + need > end) {
        this.runInput(count, false);
        u8 = this.heap();
        off = this.inBuf;
        end = this.inBuf + this.inCap;
        count = 0;
      }
      this.view().setUint32(off, len, true);
      u8.set(f, off + 4);
      off += need;
      count++;
    }
    if (count > 0) this.runInput(count, false);
  }

  /**
   * @internal Delivers received TCP data queued in the rx area (in arrival order), one chunk per record:
   * a view for onDataBorrowed, a copy for onData.
   */
  flushRx(): void {
    if (this.rxBusy) return; // delivering already; the outer call continues with what was added
    let dv = this.view();
    let done = 0;
    this.rxBusy = true;
    try {
      for (;;) {
        const count = dv.getUint32(this.ctl + CTL_RX_COUNT, true);
        if (done >= count) break;
        const p = this.rxRecs + done * RX_REC_SIZE;
        const sock = this.tcp.get(dv.getInt32(p, true));
        const off = this.rxBuf + dv.getUint32(p + 4, true);
        const len = dv.getUint32(p + 8, true);
        done++;
        sock?.deliver(this.heap(), off, len);
        dv = this.view();
      }
    } finally {
      this.rxBusy = false;
      dv.setUint32(this.ctl + CTL_RX_USED, 0, true);
      dv.setUint32(this.ctl + CTL_RX_COUNT, 0, true);
    }
  }

  /** The out ring → onOutputBorrowed (views) or onOutput (copies), as one batch. */
  private drainOut(): void {
    const dv = this.view();
    const count = dv.getUint32(this.ctl + CTL_OUT_COUNT, true);
    const used = dv.getUint32(this.ctl + CTL_OUT_USED, true);
    // Nested (the ring filled while a borrowed batch is out): only the frames after it, as copies.
    const nested = this.draining;
    const base = nested ? this.drainUsed : 0;
    const baseCount = nested ? this.drainCount : 0;
    if (count <= baseCount) return;
    const u8 = this.heap();
    const packed = nested ? undefined : this.onOutputPacked;
    const borrowed = nested ? undefined : packed ? (f: Uint8Array[]) => packed(f[0]!, count) : this.onOutputBorrowed;
    const frames: Uint8Array[] = new Array(packed ? 1 : count - baseCount);
    if (packed) {
      frames[0] = u8.subarray(this.outBuf, this.outBuf + used);
    } else if (borrowed) {
      let off = this.outBuf;
      for (let i = 0; i < frames.length; i++) {
        const len = dv.getUint32(off, true);
        frames[i] = u8.subarray(off + 4, off + 4 + len);
        off += 4 + ((len + 3) & ~3);
      }
    } else {
      // One copy of the ring, then views into it: one allocation per batch, not per frame.
      const block = u8.slice(this.outBuf + base, this.outBuf + used);
      const bv = new DataView(block.buffer);
      let off = 0;
      for (let i = 0; i < frames.length; i++) {
        const len = bv.getUint32(off, true);
        frames[i] = block.subarray(off + 4, off + 4 + len);
        off += 4 + ((len + 3) & ~3);
      }
      dv.setUint32(this.ctl + CTL_OUT_USED, base, true);
      dv.setUint32(this.ctl + CTL_OUT_COUNT, baseCount, true);
      try {
        if (this.onOutputPacked) this.onOutputPacked(block, frames.length);
        else if (this.onOutputBorrowed) this.onOutputBorrowed(frames);
        else this.onOutput?.(frames);
      } catch (e) {
        rethrowLater(e);
      }
      return;
    }
    // Borrowed: the views stay valid until the callback returns. Frames it causes (a write, frames fed
    // back in) are appended after them, then moved to the front.
    this.draining = true;
    this.drainUsed = used;
    this.drainCount = count;
    this.depth++;
    try {
      borrowed!(frames);
    } catch (e) {
      rethrowLater(e);
    } finally {
      this.depth--;
      this.draining = false;
      const v = this.view();
      const nowUsed = v.getUint32(this.ctl + CTL_OUT_USED, true);
      const nowCount = v.getUint32(this.ctl + CTL_OUT_COUNT, true);
      if (nowCount > count) this.heap().copyWithin(this.outBuf, this.outBuf + used, this.outBuf + nowUsed);
      v.setUint32(this.ctl + CTL_OUT_USED, nowUsed - used, true);
      v.setUint32(this.ctl + CTL_OUT_COUNT, nowCount - count, true);
    }
    if (this.depth === 0 && !this.dead) {
      // Process what the callback fed back in, and flush what it caused.
      this.enter();
      this.leave();
    }
  }

  // ---- the call discipline: every entry into wasm is bracketed by enter/leave ----

  /** @internal */
  enter(): void {
    this.depth++;
  }

  /** @internal */
  leave(): void {
    if (this.depth > 1) {
      this.depth--;
      return;
    }
    try {
      // Still inside (depth 1): loopback deliveries and queued input may call handlers that call us.
      while (!this.dead) {
        this.flushRx();
        if (this.pendingIn.length > 0) {
          const batch = this.pendingIn;
          this.pendingIn = [];
          this.stageInput(batch);
          continue;
        }
        // Output held back while input was processed and its data delivered (glue.c: output coalescing).
        this.ex.nc_flush_output();
        if (this.ex.nc_poll_loop() !== 0) {
          this.scheduleLoop();
        }
        this.flushRx();
        if (this.pendingIn.length === 0) break;
      }
    } finally {
      this.depth--;
    }
    if (this.dead) return;
    this.scheduleTimer(this.ex.nc_sleeptime());
    if (!this.flushQueued && this.view().getUint32(this.ctl + CTL_OUT_COUNT, true) > 0) {
      this.flushQueued = true;
      // A resolved promise's then: a microtask without queueMicrotask's async-hooks bookkeeping.
      RESOLVED.then(this.flushOut);
    }
  }

  private scheduleLoop(): void {
    if (this.loopQueued) return;
    this.loopQueued = true;
    setImmediate(() => {
      this.loopQueued = false;
      if (this.dead) return;
      this.enter();
      this.leave();
    });
  }

  private scheduleTimer(sleep: number): void {
    // wasm returns the u32 as an i32: SYS_TIMEOUTS_SLEEPTIME_INFINITE arrives as -1.
    if (sleep >>> 0 === INFINITE) {
      // Nothing left for lwIP's timers (glue/timers.c: an idle stack has no work on them): no wake-up at all.
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    const now = performance.now();
    let at = now + sleep;
    // Long sleeps (lwIP's once-a-second ARP/ND/reassembly timers) end on a shared 250 ms grid, so that
    // the idle stacks of a process wake together instead of each on its own.
    if (sleep >= TIMER_GRID) {
      at = Math.ceil(at / TIMER_GRID) * TIMER_GRID;
      sleep = at - now;
    }
    if (!this.timer || this.timerAt > at + 1) {
      if (this.timer) clearTimeout(this.timer);
      this.timerAt = at;
      // The timers run in the check phase of the loop turn the timeout ends, after the poll phase has read what
      // arrived meanwhile: an ACK already waiting in a socket is seen before a retransmission timer or loss
      // probe (lwip/glue/tcp.c) decides that it never came, as in a kernel, where both are one path.
      this.timer = setTimeout(this.timersAfterInput, sleep);
    }
    // An idle stack never keeps the process alive; one with open connections or pings does, like net sockets.
    if (this.tcp.size > 0 || this.pings.size > 0) this.timer.ref();
    else this.timer.unref();
  }

  private readonly timersAfterInput = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    setImmediate(this.fireTimers);
  };

  private readonly fireTimers = (): void => {
    if (this.dead) return;
    this.enter();
    try {
      this.ex.nc_timers();
    } finally {
      this.leave();
    }
  };

  /** @internal Memory views, re-read after the wasm memory grew (growth detaches the old buffer). */
  heap(): Uint8Array {
    if (this.u8.byteLength === 0) this.refresh();
    return this.u8;
  }

  private view(): DataView {
    if (this.u8.byteLength === 0) this.refresh();
    return this.dv;
  }

  private refresh(): void {
    this.u8 = new Uint8Array(this.memory.buffer);
    this.dv = new DataView(this.memory.buffer);
  }

  private cstr(ptr: number): string {
    const u8 = this.heap();
    let end = ptr;
    while (end < u8.length && u8[end] !== 0) end++;
    return Buffer.from(u8.subarray(ptr, end)).toString();
  }

  private alive(): void {
    if (this.dead) throw new StackError('ENETDOWN', 'stack is closed');
  }

  /** Stops the stack: timers cleared, sockets forgotten (no callbacks), memory released with the instance. */
  close(): void {
    if (this.dead) return;
    this.dead = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const p of this.pings.values()) clearTimeout(p.timer);
    this.pings.clear();
    for (const s of this.tcp.values()) s.forget();
    for (const l of this.listeners.values()) l.forget();
    for (const u of this.udp.values()) u.forget();
    this.tcp.clear();
    this.listeners.clear();
    this.udp.clear();
    this.onOutput = undefined;
    this.onOutputBorrowed = undefined;
    this.onOutputPacked = undefined;
  }

  get closed(): boolean {
    return this.dead;
  }

  // ---- addresses across the boundary ----

  /** @internal */
  putAddr(at: number, a: SockAddr | undefined, prefix = 0, anyIsWildcard = true): void {
    const base = this.ctl + at;
    const u8 = this.heap();
    u8.fill(0, base, base + ADDR_SIZE);
    if (!a) return;
    let bytes: Uint8Array | undefined;
    let family: 4 | 6 = a.family;
    if (a.address === '' || a.address === undefined) {
      bytes = undefined;
    } else {
      const p = parseIp(a.address);
      if (!p) throw new StackError('EINVAL', `bad address ${a.address}`);
      family = p.family;
      bytes = p.bytes;
      if (anyIsWildcard && isAny(p.bytes)) bytes = undefined;
    }
    this.view().setUint16(base + 2, a.port, true);
    if (!bytes) return; // family 0 = wildcard
    u8[base] = family;
    u8[base + 1] = prefix;
    u8.set(bytes, base + 4);
  }

  private clearAddr(at: number): void {
    this.heap().fill(0, this.ctl + at, this.ctl + at + ADDR_SIZE);
  }

  /** @internal */
  getAddr(at: number): SockAddr {
    const base = this.ctl + at;
    const u8 = this.heap();
    const family = u8[base] === 6 ? 6 : 4;
    const port = this.view().getUint16(base + 2, true);
    if (u8[base] === 0) return { family: 4, address: '0.0.0.0', port };
    return { family, address: formatIp(family, u8.subarray(base + 4, base + 4 + (family === 4 ? 4 : 16))), port };
  }

  // ---- TCP ----

  /** Listens on local (address '' / '0.0.0.0' / '::' = any; port 0 = ephemeral). Throws StackError. */
  tcpListen(
    local: SockAddr,
    opts: StackListenOptions = {},
    onConnection?: (sock: TcpSocket) => void,
  ): StackTcpListener {
    this.alive();
    const id = this.nextId++;
    this.enter();
    try {
      const fam = socketFamily(local, opts.v6only);
      let pcb = this.ex.nc_tcp_new(0, fam);
      if (pcb === 0) throw new StackError('ENOMEM');
      this.putAddr(ADDR_A, local);
      const err = this.ex.nc_tcp_bind(pcb, opts.reuseAddr ? 1 : 0);
      if (err !== 0) {
        this.ex.nc_tcp_abort(pcb);
        throw new StackError(errName(err), `bind ${local.address}:${local.port}`);
      }
      const lpcb = this.ex.nc_tcp_listen(pcb, id, opts.backlog ?? 128);
      if (lpcb === 0) {
        this.ex.nc_tcp_abort(pcb);
        throw new StackError('ENOMEM');
      }
      pcb = lpcb;
      this.ex.nc_tcp_addrs(pcb);
      const l = new StackListener(this, id, pcb, this.getAddr(ADDR_A));
      if (onConnection) l.onConnection = onConnection;
      this.listeners.set(id, l);
      return l;
    } finally {
      this.leave();
    }
  }

  private onAccept(lid: number, pcb: number): number {
    const l = this.listeners.get(lid);
    if (!l) return 0;
    const id = this.nextId++;
    this.ex.nc_tcp_addrs(pcb);
    const sock = new StackTcpSocket(this, id, pcb, 'open', this.getAddr(ADDR_A), this.getAddr(ADDR_B));
    this.tcp.set(id, sock);
    l.arrived(sock);
    return id;
  }

  /**
   * Connects to remote, from local when given (port 0 = ephemeral). done is called once, asynchronously,
   * with 'connected' and the socket, or a failure. Throws StackError for a bad or busy local address.
   */
  tcpConnect(
    local: SockAddr | undefined,
    remote: SockAddr,
    done: (outcome: ConnectOutcome, sock?: TcpSocket) => void,
    opts: StackConnectOptions = {},
  ): PendingConnect {
    this.alive();
    const id = this.nextId++;
    const target = parseIp(remote.address);
    if (!target) throw new StackError('EINVAL', `bad address ${remote.address}`);
    this.enter();
    try {
      const pcb = this.ex.nc_tcp_new(id, target.family);
      if (pcb === 0) throw new StackError('ENOMEM');
      if (local && (local.port !== 0 || (local.address && !isAnyText(local.address)))) {
        this.putAddr(ADDR_A, local);
        const err = this.ex.nc_tcp_bind(pcb, opts.reuseAddr ? 1 : 0);
        if (err !== 0) {
          this.ex.nc_tcp_abort(pcb);
          throw new StackError(errName(err), `bind ${local.address}:${local.port}`);
        }
      }
      const sock = new StackTcpSocket(this, id, pcb, 'connecting', undefined, undefined);
      sock.onOutcome = done;
      this.tcp.set(id, sock);
      this.putAddr(ADDR_A, remote);
      const err = this.ex.nc_tcp_connect(pcb);
      if (err !== 0) {
        // No route (or no memory): lwIP has not taken the pcb.
        sock.failConnect(err === ERR_RTE ? 'ENETUNREACH' : 'EHOSTUNREACH', true);
      } else if (opts.timeoutMs !== undefined) {
        sock.connectTimer = setTimeout(() => sock.failConnect('ETIMEDOUT', true), opts.timeoutMs);
        sock.connectTimer.unref();
      }
      return { abort: () => sock.cancelConnect() };
    } finally {
      this.leave();
    }
  }

  /** Promise form of tcpConnect: resolves with the socket, rejects with StackError(outcome). */
  connect(remote: SockAddr, opts: StackConnectOptions & { local?: SockAddr } = {}): Promise<TcpSocket> {
    return new Promise((resolve, reject) => {
      try {
        this.tcpConnect(
          opts.local,
          remote,
          (outcome, sock) => {
            if (outcome === 'connected' && sock) resolve(sock);
            else reject(new StackError(outcome));
          },
          opts,
        );
      } catch (e) {
        reject(e);
      }
    });
  }

  /** @internal */
  forgetTcp(id: number): void {
    this.tcp.delete(id);
  }
  /** @internal */
  forgetListener(id: number): void {
    this.listeners.delete(id);
  }
  /** @internal */
  forgetUdp(id: number): void {
    this.udp.delete(id);
  }

  /** @internal Copies data (≤ STAGE_SIZE bytes) into the staging buffer; returns its address. */
  stageBytes(data: Uint8Array): number {
    this.heap().set(data, this.stage);
    return this.stage;
  }

  /** @internal Bytes placed by the last stageTcp. */
  stagedLen = 0;

  /**
   * @internal Places the start of data where nc_tcp_write takes it for connection pcb: a large write goes
   * straight into the connection's send buffer (lwIP then references it instead of copying it again), a
   * small one into the staging buffer. Returns the address; stagedLen says how many bytes were placed.
   */
  stageTcp(pcb: number, data: Uint8Array): number {
    if (data.length >= WBUF_MIN) {
      const ptr = this.ex.nc_tcp_wbuf(pcb, data.length);
      if (ptr !== 0) {
        const n = this.view().getUint32(this.ctl + CTL_WLEN, true);
        this.heap().set(n === data.length ? data : data.subarray(0, n), ptr);
        this.stagedLen = n;
        return ptr;
      }
    }
    this.stagedLen = data.length;
    return this.stageBytes(data);
  }

  /** @internal */
  get api(): LwipExports {
    return this.ex;
  }

  // ---- UDP ----

  /** Binds a UDP socket (port 0 = ephemeral). Throws StackError('EADDRINUSE' …). */
  udpOpen(local: SockAddr, opts: { v6only?: boolean; reuseAddr?: boolean } = {}): StackUdpSocket {
    this.alive();
    const id = this.nextId++;
    this.enter();
    try {
      const pcb = this.ex.nc_udp_new(id, socketFamily(local, opts.v6only));
      if (pcb === 0) throw new StackError('ENOMEM');
      this.putAddr(ADDR_A, local);
      const err = this.ex.nc_udp_bind(pcb, opts.reuseAddr ? 1 : 0);
      if (err !== 0) {
        this.ex.nc_udp_remove(pcb);
        throw new StackError(errName(err), `bind ${local.address}:${local.port}`);
      }
      this.ex.nc_udp_local(pcb);
      const s = new StackUdpSocket(this, id, pcb, this.getAddr(ADDR_A), local.family);
      this.udp.set(id, s);
      return s;
    } finally {
      this.leave();
    }
  }

  /** @internal the source address of the datagram being delivered */
  udpSource(): SockAddr {
    return this.getAddr(ADDR_A);
  }

  // ---- ICMP echo ----

  /** Sends an echo request (ICMP or ICMPv6) and resolves with the round-trip time in ms. */
  ping(address: string, opts: PingOptions = {}): Promise<number> {
    this.alive();
    this.pingSeq = (this.pingSeq + 1) & 0xffff;
    const seq = this.pingSeq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(seq);
        reject(new StackError('ETIMEDOUT', `no echo reply from ${address}`));
      }, opts.timeoutMs ?? 2000);
      this.pings.set(seq, { resolve, t0: performance.now(), timer });
      this.enter();
      try {
        this.putAddr(ADDR_A, { family: 4, address, port: 0 });
        const err = this.ex.nc_ping(seq, opts.size ?? 32);
        if (err !== 0) {
          clearTimeout(timer);
          this.pings.delete(seq);
          reject(new StackError(errName(err), `ping ${address}`));
        }
      } catch (e) {
        clearTimeout(timer);
        this.pings.delete(seq);
        reject(e);
      } finally {
        this.leave();
      }
    });
  }

  /**
   * An app's echo request (an ICMP socket, netcon/socket-table.ts): the ICMP or ICMPv6 message as written
   * (type, code, identifier, sequence, payload); the checksum is computed here. Replies come to
   * onIcmpEchoReply. Throws StackError('ENETUNREACH' …).
   */
  icmpEcho(address: string, msg: Uint8Array): void {
    this.alive();
    if (msg.length < 8 || msg.length > 65535 - 48) throw new StackError('EMSGSIZE');
    this.enter();
    try {
      this.putAddr(ADDR_A, { family: address.includes(':') ? 6 : 4, address, port: 0 });
      const ptr = this.stageBytes(msg);
      const err = this.ex.nc_icmp_echo(ptr, msg.length);
      if (err !== 0) throw new StackError(err === ERR_VAL ? 'EINVAL' : errName(err), `ping ${address}`);
    } finally {
      this.leave();
    }
  }

  /** Echo replies that answer icmpEcho (not ping()): the source and the ICMP message (a copy). */
  onIcmpEchoReply?: ((from: string, msg: Uint8Array) => void) | undefined;

  private onPingReply(seq: number): void {
    const p = this.pings.get(seq);
    if (!p) return;
    this.pings.delete(seq);
    clearTimeout(p.timer);
    p.resolve(performance.now() - p.t0);
  }

  // ---- statistics ----

  stats(): StackStats {
    this.alive();
    this.ex.nc_stats(this.statsBuf);
    const dv = new DataView(this.memory.buffer, this.statsBuf, 32 * 4);
    const g = (i: number) => dv.getUint32(i * 4, true);
    return {
      framesIn: g(0),
      framesOut: g(1),
      bytesIn: g(2) + g(3) * 0x100000000,
      bytesOut: g(4) + g(5) * 0x100000000,
      drops: {
        truncated: this.jsDrops.truncated + g(24),
        oversized: this.jsDrops.oversized + g(25),
        notForUs: g(6),
        noMemory: g(7),
        ethernet: g(9), // unknown ethertypes and bad ARP
        ip4: g(10),
        ip6: g(11),
        tcp: g(12),
        udp: g(13),
        icmp: g(14),
        icmp6: g(15),
        nd6: g(16),
        fragments: g(22),
        outRingFull: g(26), // frames the stack sent while its out ring could not be drained
        badChecksum: g(17),
        noRoute: g(18),
      },
      tcpRetransmits: g(19) + g(23),
      tcpLossProbes: g(29),
      tcpCoalesced: g(27),
      tcpSendBuffers: g(28),
      tcpPcbs: g(20),
      udpPcbs: g(21),
    };
  }

  /**
   * @internal raw retransmission counters: segments sent again (all causes), RTOs, loss probes, and segments
   * sent again on a NewReno partial ACK
   */
  debugCounters(): { fast: number; rto: number; probes: number; partial: number } {
    this.ex.nc_stats(this.statsBuf);
    const dv = new DataView(this.memory.buffer, this.statsBuf, 32 * 4);
    const g = (i: number) => dv.getUint32(i * 4, true);
    return { fast: g(19), rto: g(23), probes: g(29), partial: g(30) };
  }

  /** Total of all drop counters except the informational badChecksum (already in its layer's count). */
  static totalDrops(s: StackStats): number {
    let n = 0;
    for (const [k, v] of Object.entries(s.drops)) if (k !== 'badChecksum' && k !== 'noRoute') n += v;
    return n;
  }
}

/** The frames of a packed batch (views into it). */
export function unpack(packed: Uint8Array, count: number): Uint8Array[] {
  const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const out: Uint8Array[] = new Array(count);
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off + 4 > packed.length) return out.slice(0, i);
    const len = dv.getUint32(off, true);
    out[i] = packed.subarray(off + 4, Math.min(packed.length, off + 4 + len));
    off += 4 + ((len + 3) & ~3);
  }
  return out;
}

function isAny(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

function isAnyText(a: string): boolean {
  const p = parseIp(a);
  return !p || isAny(p.bytes);
}

/** 4, 6, or 46 (an IPv6 wildcard socket that also serves IPv4, unless v6only). */
function socketFamily(local: SockAddr, v6only?: boolean): number {
  if (local.family === 4) return 4;
  if (!v6only && (!local.address || isAnyText(local.address))) return 46;
  return 6;
}
