// Batched UDP through the native addon (native/src/udp.cc): datagrams queued during one event-loop turn leave
// in one sendmmsg (flushed in a microtask, never on a timer), runs of equal ones to one destination as one
// message the kernel cuts (UDP GSO); a poll watcher on the socket (native/poller.ts) reads everything the
// kernel holds with recvmmsg, up to 32 messages per call, each one datagram or a run the kernel joined (UDP
// GRO). udp-host.ts falls back to node:dgram without it.
import { constants } from 'node:os';
import { native } from '../../native/index.js';
import { Poller, type PollerHandle } from '../../native/poller.js';

interface UdpPart {
  udpOpen(family: 4 | 6, ip: Uint8Array, port: number, rcvbuf: number, sndbuf: number): number;
  udpLocalPort(fd: number): number;
  udpSendBatch(
    fd: number,
    family: 4 | 6,
    data: Uint8Array,
    meta: Int32Array,
    addrs: Uint8Array,
    n: number,
    stats: Int32Array,
    gso: number,
  ): number;
  udpRecvBatch(
    fd: number,
    family: 4 | 6,
    data: Uint8Array,
    slot: number,
    meta: Int32Array,
    addrs: Uint8Array,
    max: number,
  ): number;
}

const udp = native.udp as UdpPart | undefined;
const fdpass = native.fdpass as { close(fd: number): number } | undefined;

/** True when the addon has the batched UDP part. */
export const batchedUdpAvailable = udp !== undefined && fdpass !== undefined;

const MAX_BATCH = 64;
/** Messages read per recvmmsg. */
const RECV_BATCH = 32;
/**
 * Receive slots: one message may be a run of datagrams the kernel joined (UDP GRO, up to 64 KB); a single
 * datagram is at most ZT_MAX_PACKET_LENGTH (10 KB). Longer ones are dropped.
 */
const SLOT = 65536;
const SEND_BYTES = 256 * 1024;
/** Batches read per wake-up before yielding to the rest of the event loop. */
const READS_PER_WAKE = 16;
const RESOLVED = Promise.resolve();

function errnoError(syscall: string, neg: number, where: string): NodeJS.ErrnoException {
  const code = Object.entries(constants.errno).find(([, v]) => v === -neg)?.[0] ?? `errno ${-neg}`;
  const e = new Error(`${syscall} ${code} ${where}`) as NodeJS.ErrnoException;
  e.code = code;
  e.errno = neg;
  e.syscall = syscall;
  return e;
}

/** A received datagram: `data` and `addrs` are lent for the call (reused by the next read). */
export type DatagramHandler = (data: Uint8Array, addrs: Uint8Array, addrOffset: number, port: number) => void;

export class BatchSocket {
  /** Datagrams that could not be sent or were too long to receive. */
  errors = 0;
  /**
   * Runs of datagrams to one destination and of one length leave as one message the kernel cuts (UDP GSO);
   * off for good once the kernel refuses it (then they went one by one).
   */
  segmentation = true;
  /** [datagrams sent, messages they left in] since the socket opened. */
  readonly sent = [0, 0];
  /** [datagrams received, messages they arrived in (UDP GRO joins runs)] since the socket opened. */
  readonly received = [0, 0];
  private readonly sendStats = new Int32Array(2);
  private readonly poller: PollerHandle;
  private readonly sendData = new Uint8Array(SEND_BYTES);
  private readonly sendMeta = new Int32Array(4 * MAX_BATCH);
  private readonly sendAddrs = new Uint8Array(16 * MAX_BATCH);
  private sendCount = 0;
  private sendBytes = 0;
  private flushQueued = false;
  private readonly recvData = new Uint8Array(SLOT * RECV_BATCH);
  private readonly recvMeta = new Int32Array(4 * RECV_BATCH);
  private readonly recvAddrs = new Uint8Array(16 * RECV_BATCH);
  private closed = false;
  private readonly flushNow = (): void => {
    this.flushQueued = false;
    this.flush();
  };

  private constructor(
    private readonly fd: number,
    readonly family: 4 | 6,
    private readonly onDatagram: DatagramHandler,
  ) {
    this.poller = new Poller(fd, () => this.onReadable());
    this.poller.start(1);
  }

  /** Opens and binds a socket; throws an errno error (EADDRINUSE …) like dgram's bind. */
  static open(family: 4 | 6, ip: Uint8Array, ipText: string, port: number, onDatagram: DatagramHandler): BatchSocket {
    const fd = udp!.udpOpen(family, ip, port, 4 << 20, 4 << 20);
    if (fd < 0) throw errnoError('bind', fd, `${ipText}:${port}`);
    return new BatchSocket(fd, family, onDatagram);
  }

  port(): number {
    const p = udp!.udpLocalPort(this.fd);
    return p < 0 ? 0 : p;
  }

  /** Queues a datagram; it leaves with the others of this turn. ttl: the NAT junk packet's own TTL. */
  send(data: Uint8Array, ip: Uint8Array, port: number, ttl = -1): void {
    if (this.closed || data.length > SEND_BYTES) {
      this.errors++;
      return;
    }
    if (this.sendCount === MAX_BATCH || this.sendBytes + data.length > SEND_BYTES) this.flush();
    const i = this.sendCount++;
    this.sendData.set(data, this.sendBytes);
    const m = 4 * i;
    this.sendMeta[m] = this.sendBytes;
    this.sendMeta[m + 1] = data.length;
    this.sendMeta[m + 2] = port;
    this.sendMeta[m + 3] = ttl;
    this.sendAddrs.set(ip, 16 * i);
    this.sendBytes += data.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      RESOLVED.then(this.flushNow);
    }
  }

  flush(): void {
    if (this.sendCount === 0) return;
    const n = this.sendCount;
    this.sendCount = 0;
    this.sendBytes = 0;
    if (this.closed) return;
    const st = this.sendStats;
    st[0] = 0;
    st[1] = 0;
    const failed = udp!.udpSendBatch(
      this.fd,
      this.family,
      this.sendData,
      this.sendMeta,
      this.sendAddrs,
      n,
      st,
      this.segmentation ? 1 : 0,
    );
    this.errors += failed < 0 ? n : failed;
    this.sent[0] += n;
    this.sent[1] += st[0]!;
    if (st[1] !== 0) this.segmentation = false;
  }

  private onReadable(): void {
    for (let round = 0; round < READS_PER_WAKE && !this.closed; round++) {
      const n = udp!.udpRecvBatch(this.fd, this.family, this.recvData, SLOT, this.recvMeta, this.recvAddrs, RECV_BATCH);
      if (n <= 0) {
        if (n < 0) this.errors++;
        return;
      }
      // Each datagram is handed over in place, a view of its receive slot: the node copies what it keeps
      // (Node.processWirePacket lends it for the call), and the slot is refilled by the next recvmmsg.
      for (let k = 0; k < n && !this.closed; k++) {
        const m = 4 * k;
        if (this.recvMeta[m + 2] !== 0) {
          this.errors++;
          continue;
        }
        const start = k * SLOT;
        const end = start + this.recvMeta[m]!;
        const port = this.recvMeta[m + 1]!;
        const seg = this.recvMeta[m + 3]! > 0 ? this.recvMeta[m + 3]! : end - start;
        this.received[0] += Math.ceil((end - start) / seg);
        this.received[1]++;
        for (let at = start; at < end && !this.closed; at += seg) {
          this.onDatagram(this.recvData.subarray(at, Math.min(at + seg, end)), this.recvAddrs, 16 * k, port);
        }
      }
      if (n < RECV_BATCH) return;
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.poller.close();
    fdpass!.close(this.fd);
  }
}
