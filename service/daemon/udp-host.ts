// The VL1 node's edge: real UDP sockets (IPv4 and IPv6 on the node's port), the clock, and the timer that
// drives Node.tick. Local socket 0 is the IPv4 socket, 1 the IPv6 one. UdpWire owns the sockets; a UdpNode
// either opens a wire of its own (a single service) or is attached to a SharedWire that many nodes in one
// process share (shared-wire.ts, host mode).
import { randomFillSync } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { formatInetIp, type InetAddress, parseInetAddress } from '../core/inet-address.js';
import { ANY_SOCKET, type Host, Node, type NodeOptions } from '../core/node.js';
import type { LocalSocket } from '../core/path.js';
import type { TickWheel } from './tick-wheel.js';
import { BatchSocket, batchedUdpAvailable } from './udp-batch.js';

export interface WireOptions {
  port: number;
  /** Addresses to bind (default: 0.0.0.0 and ::). Tests bind 127.0.0.1 only. */
  bind4?: string | false;
  bind6?: string | false;
  /** Use node:dgram even when the addon has batched UDP (sendmmsg/recvmmsg); default: NETCON_UDP=dgram. */
  dgram?: boolean;
}

export interface UdpNodeOptions extends Omit<NodeOptions, 'random'>, WireOptions {
  /** The node's randomness; node:crypto's randomFillSync by default. */
  random?: NodeOptions['random'];
}

export type HostHooks = Omit<Host, 'wireSend'>;

/** Where a wire hands each datagram: the local socket it came in on, the sender, the bytes (may be kept). */
export type WireReceiver = (ls: LocalSocket, remote: InetAddress, data: Uint8Array) => void;

/** What a UdpNode needs of its wire: sending, and the errors to report. */
export interface NodeWire {
  send(ls: LocalSocket, remote: InetAddress, data: Uint8Array, ttl?: number): void;
  readonly sendErrors: number;
  port(): number;
}

/** Remote addresses cached per socket, so a datagram costs no string parsing; cleared when it grows this big. */
const REMOTE_CACHE_MAX = 4096;

/** The UDP sockets of a port (IPv4 and IPv6): batched through the addon where it can, node:dgram otherwise. */
export class UdpWire implements NodeWire {
  /** Per local socket: text address → port → the InetAddress handed to the node for it. */
  private readonly remotes: Map<string, Map<number, InetAddress>>[] = [new Map(), new Map()];
  private remoteCount = 0;
  /** The text form of addresses we send to (the node passes the same objects again and again). */
  private readonly ipTexts = new WeakMap<InetAddress, string>();
  private readonly onSent = (err: Error | null): void => {
    if (err) this.dgramErrors++;
  };
  private readonly sockets: (Socket | undefined)[] = [undefined, undefined];
  private readonly batch: (BatchSocket | undefined)[] = [undefined, undefined];
  private closed = false;
  private dgramErrors = 0;
  /** Datagrams that could not be sent (no socket of that family, send errors) or received (too long). */
  get sendErrors(): number {
    return this.dgramErrors + (this.batch[0]?.errors ?? 0) + (this.batch[1]?.errors ?? 0);
  }

  private constructor(private readonly receive: WireReceiver) {}

  /** Binds the sockets. Rejects with EADDRINUSE etc. if the port is taken. */
  static async open(opts: WireOptions, receive: WireReceiver): Promise<UdpWire> {
    const n = new UdpWire(receive);
    const binds: [number, 'udp4' | 'udp6', string | false][] = [
      [0, 'udp4', opts.bind4 ?? '0.0.0.0'],
      [1, 'udp6', opts.bind6 ?? '::'],
    ];
    try {
      for (const [i, type, addr] of binds) {
        if (addr === false) continue;
        if (batchedUdpAvailable && !(opts.dgram ?? process.env.NETCON_UDP === 'dgram')) {
          const family = type === 'udp4' ? 4 : 6;
          const ip = parseInetAddress(`${addr}/0`);
          if (!ip || ip.family !== family) throw new Error(`bad bind address ${addr}`);
          n.batch[i] = BatchSocket.open(family, ip.ip, addr, opts.port, (data, addrs, at, port) =>
            n.onBatchDatagram(i, data, addrs, at, port),
          );
          continue;
        }
        const s = createSocket({ type, ipv6Only: type === 'udp6', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(opts.port, addr, () => {
            s.off('error', reject);
            resolve();
          });
        });
        s.on('message', (msg, rinfo) => n.onMessage(i, msg, rinfo.address, rinfo.port));
        s.on('error', () => n.dgramErrors++);
        n.sockets[i] = s;
      }
    } catch (e) {
      n.close();
      throw e;
    }
    return n;
  }

  /** The UDP port actually bound (useful with port 0). */
  port(): number {
    const b = this.batch[0] ?? this.batch[1];
    if (b) return b.port();
    const s = this.sockets[0] ?? this.sockets[1];
    return s ? s.address().port : 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s?.close();
    for (const b of this.batch) b?.close();
  }

  private onMessage(ls: LocalSocket, msg: Buffer, address: string, port: number): void {
    const byIp = this.remotes[ls]!;
    let ports = byIp.get(address);
    let remote = ports?.get(port);
    if (!remote) {
      const parsed = parseInetAddress(`${address}/${port}`);
      if (!parsed) return;
      remote = parsed;
      if (this.remoteCount >= REMOTE_CACHE_MAX) {
        for (const m of this.remotes) m.clear();
        this.remoteCount = 0;
        ports = undefined;
      }
      if (!ports) {
        ports = new Map();
        byIp.set(address, ports);
      }
      ports.set(port, remote);
      this.remoteCount++;
    }
    this.receive(ls, remote, msg);
  }

  /** IPv4 remotes by ip << 16 | port (a number), IPv6 ones by hex text; the same InetAddress each time. */
  private readonly batchRemotes = new Map<number | string, InetAddress>();

  private onBatchDatagram(ls: LocalSocket, data: Uint8Array, addrs: Uint8Array, at: number, port: number): void {
    let key: number | string;
    if (ls === 0) {
      key =
        (((addrs[at]! << 24) | (addrs[at + 1]! << 16) | (addrs[at + 2]! << 8) | addrs[at + 3]!) >>> 0) * 65536 + port;
    } else {
      key = `${Buffer.from(addrs.buffer, addrs.byteOffset + at, 16).toString('hex')}/${port}`;
    }
    let remote = this.batchRemotes.get(key);
    if (!remote) {
      const family = ls === 0 ? 4 : 6;
      remote = { family, ip: addrs.slice(at, at + (family === 4 ? 4 : 16)), port };
      if (this.batchRemotes.size >= REMOTE_CACHE_MAX) this.batchRemotes.clear();
      this.batchRemotes.set(key, remote);
    }
    this.receive(ls, remote, data);
  }

  send(ls: LocalSocket, remote: InetAddress, data: Uint8Array, ttl?: number): void {
    const idx = ls === ANY_SOCKET ? (remote.family === 4 ? 0 : 1) : ls;
    const b = this.batch[idx];
    if (b) {
      if (this.closed || remote.family !== b.family) this.dgramErrors++;
      else b.send(data, remote.ip, remote.port, ttl !== undefined && remote.family === 4 ? ttl : -1);
      return;
    }
    const s = this.sockets[idx];
    if (!s || this.closed) {
      this.dgramErrors++;
      return;
    }
    let ip = this.ipTexts.get(remote);
    if (ip === undefined) {
      ip = formatInetIp(remote);
      this.ipTexts.set(remote, ip);
    }
    // dgram sends later and keeps the buffer until then: a copy (the node may reuse what it passed).
    const copy = data.slice();
    if (ttl !== undefined && isIPv4(ip)) {
      s.setTTL(ttl);
      s.send(copy, remote.port, ip, () => s.setTTL(64));
      return;
    }
    s.send(copy, remote.port, ip, this.onSent);
  }
}

/** A node on a wire: the core's Node, its clock, and the one timer that drives Node.tick. */
export class UdpNode {
  readonly node: Node;
  private wire: NodeWire | undefined;
  /** The wire's own close when this node opened it (a single service); undefined on a shared wire. */
  private release: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** On a shared wire: the host's one timer for every node's ticks (a kick still runs at once). */
  private wheel: TickWheel | undefined;
  private readonly tickNow = (): void => {
    this.timer = undefined;
    const now = this.clock();
    const next = this.node.tick(now);
    this.schedule(Math.max(1, next - this.clock()));
  };
  private closed = false;
  private ownErrors = 0;
  /** Whether the wire is this node's own (then its errors are the node's). */
  private ownsWire = false;
  /** Datagrams that could not be sent or received (on a shared wire: only those the node itself could not send). */
  get sendErrors(): number {
    return this.ownErrors + (this.ownsWire ? (this.wire?.sendErrors ?? 0) : 0);
  }

  private constructor(
    opts: Omit<UdpNodeOptions, keyof WireOptions>,
    hooks: HostHooks,
    private readonly clock: () => number,
  ) {
    const host: Host = { ...hooks, wireSend: (ls, remote, data, ttl) => this.wireSend(ls, remote, data, ttl) };
    this.node = new Node(host, { ...opts, random: opts.random ?? randomFillSync });
  }

  /** Binds the node's own sockets and starts the timer. Rejects with EADDRINUSE etc. if the port is taken. */
  static async start(opts: UdpNodeOptions, hooks: HostHooks = {}, clock: () => number = Date.now): Promise<UdpNode> {
    const n = new UdpNode(opts, hooks, clock);
    const wire = await UdpWire.open(opts, (ls, remote, data) => n.receive(ls, remote, data));
    n.wire = wire;
    n.ownsWire = true;
    n.release = () => wire.close();
    n.schedule(0);
    return n;
  }

  /**
   * A node on a wire it shares with others (host mode): `attach` gets the node's receive function and returns
   * the wire and the function that detaches the node again (at close).
   */
  static attach(
    opts: Omit<UdpNodeOptions, keyof WireOptions>,
    hooks: HostHooks,
    clock: () => number,
    attach: (address: number, receive: WireReceiver) => { wire: NodeWire; detach: () => void; wheel?: TickWheel },
  ): UdpNode {
    const n = new UdpNode(opts, hooks, clock);
    const { wire, detach, wheel } = attach(n.node.address, (ls, remote, data) => n.receive(ls, remote, data));
    n.wire = wire;
    n.wheel = wheel;
    n.release = detach;
    n.schedule(0);
    return n;
  }

  /** The UDP port the node is reached on (useful with port 0). */
  port(): number {
    return this.wire?.port() ?? 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.wheel?.cancel(this.tickNow);
    this.release?.();
  }

  /** Runs the node's timers now (after an API call changed something). */
  kick(): void {
    this.schedule(0);
  }

  private receive(ls: LocalSocket, remote: InetAddress, data: Uint8Array): void {
    if (!this.closed) this.node.processWirePacket(this.clock(), ls, remote, data);
  }

  private wireSend(ls: LocalSocket, remote: InetAddress, data: Uint8Array, ttl?: number): void {
    if (this.closed || !this.wire) this.ownErrors++;
    else this.wire.send(ls, remote, data, ttl);
  }

  private schedule(delay: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.wheel && delay > 0) {
      this.wheel.schedule(this.tickNow, delay);
      return;
    }
    this.wheel?.cancel(this.tickNow);
    this.timer = setTimeout(this.tickNow, delay);
  }
}
