// A Stack's UDP sockets (stack.ts): lwIP UDP pcbs behind the UdpSocket contract of stack-types.ts.
import { ADDR_A, ERR_VAL, errName, rethrowLater, type StackCore } from './stack-abi.js';
import { type SockAddr, StackError, type UdpSocket } from './stack-types.js';

export class StackUdpSocket implements UdpSocket {
  onMessage?: (data: Uint8Array, from: SockAddr) => void;
  closed = false;
  /** The connected peer (connect()), if any. */
  peer: SockAddr | undefined;

  constructor(
    private readonly stack: StackCore,
    private readonly id: number,
    private pcb: number,
    readonly local: SockAddr,
    private readonly family: 4 | 6,
  ) {}

  received(ptr: number, len: number): void {
    const from = this.stack.udpSource();
    const data = this.stack.heap().slice(ptr, ptr + len);
    if (this.onMessage) {
      try {
        this.onMessage(data, from);
      } catch (e) {
        rethrowLater(e);
      }
    }
  }

  private send0(data: Uint8Array, to: SockAddr | undefined): void {
    if (this.closed) throw new StackError('EBADF', 'socket is closed');
    if (data.length > 65535 - 8 - 40) throw new StackError('EMSGSIZE');
    this.stack.enter();
    try {
      this.stack.putAddr(ADDR_A, to);
      const ptr = this.stack.stageBytes(data);
      const err = this.stack.api.nc_udp_sendto(this.pcb, ptr, data.length);
      if (err !== 0) throw new StackError(err === ERR_VAL ? 'EMSGSIZE' : errName(err));
    } finally {
      this.stack.leave();
    }
  }

  sendTo(data: Uint8Array, to: SockAddr): void {
    this.send0(data, to);
  }

  connect(to: SockAddr): void {
    if (this.closed) throw new StackError('EBADF', 'socket is closed');
    this.stack.enter();
    try {
      this.stack.putAddr(ADDR_A, to);
      const err = this.stack.api.nc_udp_connect(this.pcb);
      if (err !== 0) throw new StackError(errName(err));
      this.peer = to;
    } finally {
      this.stack.leave();
    }
  }

  send(data: Uint8Array): void {
    if (!this.peer) throw new StackError('EDESTADDRREQ', 'socket is not connected');
    this.send0(data, undefined);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stack.forgetUdp(this.id);
    if (this.stack.closed) return;
    this.stack.api.nc_udp_remove(this.pcb);
    this.pcb = 0;
  }

  forget(): void {
    this.closed = true;
  }

  get socketFamily(): 4 | 6 {
    return this.family;
  }
}
