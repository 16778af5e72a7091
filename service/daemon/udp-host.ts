// The VL1 node's edge: real UDP sockets (IPv4 and IPv6 on the node's port), the clock, and the timer that
// drives Node.tick. Local socket 0 is the IPv4 socket, 1 the IPv6 one.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { formatInetAddress, type InetAddress, parseInetAddress } from '../core/inet-address.js';
import { ANY_SOCKET, type Host, Node, type NodeOptions } from '../core/node.js';
import type { LocalSocket } from '../core/path.js';

export interface UdpNodeOptions extends NodeOptions {
  port: number;
  /** Addresses to bind (default: 0.0.0.0 and ::). Tests bind 127.0.0.1 only. */
  bind4?: string | false;
  bind6?: string | false;
}

export type HostHooks = Omit<Host, 'wireSend'>;

function ipText(a: InetAddress): string {
  return formatInetAddress(a).replace(/\/\d+$/, '');
}

export class UdpNode {
  readonly node: Node;
  private readonly sockets: (Socket | undefined)[] = [undefined, undefined];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Datagrams that could not be sent (no socket of that family, send errors). */
  sendErrors = 0;

  private constructor(
    opts: UdpNodeOptions,
    hooks: HostHooks,
    private readonly clock: () => number,
  ) {
    const host: Host = { ...hooks, wireSend: (ls, remote, data, ttl) => this.wireSend(ls, remote, data, ttl) };
    this.node = new Node(host, opts);
  }

  /** Binds the sockets and starts the timer. Rejects with EADDRINUSE etc. if the port is taken. */
  static async start(opts: UdpNodeOptions, hooks: HostHooks = {}, clock: () => number = Date.now): Promise<UdpNode> {
    const n = new UdpNode(opts, hooks, clock);
    const binds: [number, 'udp4' | 'udp6', string | false][] = [
      [0, 'udp4', opts.bind4 ?? '0.0.0.0'],
      [1, 'udp6', opts.bind6 ?? '::'],
    ];
    try {
      for (const [i, type, addr] of binds) {
        if (addr === false) continue;
        const s = createSocket({ type, ipv6Only: type === 'udp6', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(opts.port, addr, () => {
            s.off('error', reject);
            resolve();
          });
        });
        s.on('message', (msg, rinfo) => n.onMessage(i, msg, rinfo.address, rinfo.port));
        s.on('error', () => n.sendErrors++);
        n.sockets[i] = s;
      }
    } catch (e) {
      n.close();
      throw e;
    }
    n.schedule(0);
    return n;
  }

  /** The UDP port actually bound (useful with port 0). */
  port(): number {
    const s = this.sockets[0] ?? this.sockets[1];
    return s ? s.address().port : 0;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.sockets) s?.close();
  }

  /** Runs the node's timers now (after an API call changed something). */
  kick(): void {
    this.schedule(0);
  }

  private onMessage(ls: LocalSocket, msg: Buffer, address: string, port: number): void {
    const remote = parseInetAddress(`${address}/${port}`);
    if (!remote) return;
    this.node.processWirePacket(this.clock(), ls, remote, msg);
  }

  private wireSend(ls: LocalSocket, remote: InetAddress, data: Uint8Array, ttl?: number): void {
    const idx = ls === ANY_SOCKET ? (remote.family === 4 ? 0 : 1) : ls;
    const s = this.sockets[idx];
    if (!s || this.closed) {
      this.sendErrors++;
      return;
    }
    const ip = ipText(remote);
    if (ttl !== undefined && isIPv4(ip)) {
      s.setTTL(ttl);
      s.send(data, remote.port, ip, () => s.setTTL(64));
      return;
    }
    s.send(data, remote.port, ip, (err) => {
      if (err) this.sendErrors++;
    });
  }

  private schedule(delay: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const now = this.clock();
      const next = this.node.tick(now);
      this.schedule(Math.max(1, next - this.clock()));
    }, delay);
  }
}
