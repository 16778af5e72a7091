// One UDP port (IPv4 and IPv6) for every node of a host (zerotier-netcon-service --nodes): datagrams are handed
// to the node they are addressed to. Every ZeroTier datagram names its destination at bytes 8..12, both a
// packet and a fragment of one:
//
//   packet:    [0..7] packet ID  [8..12] destination  [13..17] source  [18] flags/cipher/hops  [19..26] MAC ...
//   fragment:  [0..7] packet ID  [8..12] destination  [13] 0xff        [14] fragment no/total   [15] hops ...
//
// so the demultiplexer reads five bytes and looks the address up: no decryption, no per-node socket. A
// datagram too short to name a destination, or naming no hosted node, is dropped and counted by the host (a
// hosted node is an end node: it relays nothing for addresses it does not host).
//
// Why one shared port rather than one socket per node, from what ZeroTier One 1.14.1 did with three of our
// nodes hosted behind one ip/port (test/service/host-interop-zerotier-one.test.ts, real ZeroTier One as the
// planet's root, as the network controller and as a member): ZeroTier One keys peers by ZeroTier address and
// each peer's paths by (local socket, remote ip/port), so several peers at one ip/port are simply several peers
// (what any NAT in front of several nodes looks like). Its root admitted all three, listing each as a LEAF at
// the same ip/port; its controller configured two of them; the real member got direct paths to both at that
// one ip/port (RENDEZVOUS through the root) and fetched 1 MiB over TCP from each; the host counted no datagram
// for an unknown node. What slowed them down is the root's identity gate (one new identity per 2 s per /24 of
// source addresses: 3 nodes ONLINE in 16-18 s), which counts source IPs, not ports: a socket per node would not
// change it. A socket per node would cost, at 1,000 nodes, a thousand fds (apps' sockets share the fd limit),
// a thousand poll watchers and 8 GB of requested kernel buffers (4 MB each way), and a port range to open in
// firewalls; one socket also lets one recvmmsg batch serve datagrams for many nodes. ZeroTier One's small
// NAT keepalives (a few bytes, naming no node) are what a host counts as tooShort in normal operation.
import type { InetAddress } from '../core/inet-address.js';
import type { LocalSocket } from '../core/path.js';
import { TickWheel } from './tick-wheel.js';
import { type NodeWire, UdpWire, type WireOptions, type WireReceiver } from './udp-host.js';

/** The smallest datagram that names a destination (a fragment's header is 16 bytes, a packet's 28). */
const DESTINATION_END = 13;

export interface SharedWireStats {
  /** Datagrams handed to a hosted node. */
  delivered: number;
  /** Datagrams for an address no node here has. */
  unknownDestination: number;
  /** Datagrams too short to name a destination. */
  tooShort: number;
}

export class SharedWire {
  readonly stats: SharedWireStats = { delivered: 0, unknownDestination: 0, tooShort: 0 };
  private readonly nodes = new Map<number, WireReceiver>();
  /** The hosted nodes' ticks, on one timer (tick-wheel.ts). */
  readonly wheel = new TickWheel();
  private wire: UdpWire | undefined;

  private constructor() {}

  static async open(opts: WireOptions): Promise<SharedWire> {
    const s = new SharedWire();
    s.wire = await UdpWire.open(opts, (ls, remote, data) => s.demux(ls, remote, data));
    return s;
  }

  port(): number {
    return this.wire?.port() ?? 0;
  }

  /** Send errors of the shared sockets (all nodes together). */
  get sendErrors(): number {
    return this.wire?.sendErrors ?? 0;
  }

  /** How many nodes are attached. */
  get size(): number {
    return this.nodes.size;
  }

  /** For UdpNode.attach: registers the node's address; throws if another node here has it. */
  attach(address: number, receive: WireReceiver): { wire: NodeWire; detach: () => void; wheel: TickWheel } {
    if (this.nodes.has(address)) throw new Error(`address ${address.toString(16).padStart(10, '0')} is already hosted`);
    this.nodes.set(address, receive);
    const wire = this.wire!;
    return {
      wire,
      wheel: this.wheel,
      detach: () => {
        if (this.nodes.get(address) === receive) this.nodes.delete(address);
      },
    };
  }

  close(): void {
    this.wheel.close();
    this.wire?.close();
    this.nodes.clear();
  }

  private demux(ls: LocalSocket, remote: InetAddress, data: Uint8Array): void {
    if (data.length < DESTINATION_END) {
      this.stats.tooShort++;
      return;
    }
    const dest = data[8]! * 0x100000000 + ((data[9]! << 24) >>> 0) + (data[10]! << 16) + (data[11]! << 8) + data[12]!;
    const receive = this.nodes.get(dest);
    if (!receive) {
      this.stats.unknownDestination++;
      return;
    }
    this.stats.delivered++;
    receive(ls, remote, data);
  }
}
