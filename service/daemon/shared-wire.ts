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
// Why one shared port rather than one socket per node: see the measurement with ZeroTier One 1.14.1 in
// test/service/host-interop-zerotier-one.test.ts (written up here once it is run).
import type { InetAddress } from '../core/inet-address.js';
import type { LocalSocket } from '../core/path.js';
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
  attach(address: number, receive: WireReceiver): { wire: NodeWire; detach: () => void } {
    if (this.nodes.has(address)) throw new Error(`address ${address.toString(16).padStart(10, '0')} is already hosted`);
    this.nodes.set(address, receive);
    const wire = this.wire!;
    return {
      wire,
      detach: () => {
        if (this.nodes.get(address) === receive) this.nodes.delete(address);
      },
    };
  }

  close(): void {
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
