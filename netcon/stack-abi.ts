// The lwIP module's ABI as a Stack (stack.ts) and its sockets (stack-tcp.ts, stack-udp.ts) see it: lwIP's error
// and state codes, the control block's layout (read from the module's nc_layout table), and StackCore, what a
// socket may call on the stack it belongs to.
import type { LwipExports } from './lwip-module.js';
import type { SockAddr } from './stack-types.js';

// lwIP err_t values (lwip/err.h)
export const ERR_MEM = -1;
export const ERR_RTE = -4;
export const ERR_VAL = -6;
export const ERR_USE = -8;
export const ERR_ISCONN = -10;
export const ERR_ABRT = -13;
export const ERR_RST = -14;
export const ERR_CLSD = -15;

// tcp_state (lwip/tcpbase.h)
export const ESTABLISHED = 4;

export const TCP_SND_BUF = 256 * 1024;
export const TCP_SNDLOWAT = 32 * 1024;
export const STAGE_SIZE = TCP_SND_BUF;

// The control block's layout (struct nc_ctl in lwip/glue/abi.h): offsets and sizes read from the module's
// own table (nc_layout) when the first stack is made, never hard-coded here.
export let CTL_OUT_USED = 0;
export let CTL_OUT_COUNT = 0;
export let CTL_RX_USED = 0;
export let CTL_RX_COUNT = 0;
export let CTL_WLEN = 0;
export let CTL_IN_BUF = 0;
export let ADDR_A = 0; // scratch addresses in the control block
export let ADDR_B = 0;
export let ADDR_C = 0;
export let ADDR_SIZE = 0;
export let RX_REC_SIZE = 0;
export let IP4_MAX = 0; // IPv4 addresses served per network
let layoutRead = false;
// Writes from this size on go into the connection's send buffer (glue.c WCHUNK_MIN); smaller ones are copied.
export const WBUF_MIN = 2048;

export function readLayout(ex: LwipExports, dv: DataView): void {
  if (layoutRead) return;
  const at = ex.nc_layout();
  const u32 = (i: number) => dv.getUint32(at + 4 * i, true);
  // enum nc_layout_index
  if (u32(0) !== 14) throw new Error(`lwip: unexpected control block layout table (${u32(0)} entries)`);
  CTL_OUT_USED = u32(1);
  CTL_OUT_COUNT = u32(2);
  CTL_RX_USED = u32(3);
  CTL_RX_COUNT = u32(4);
  ADDR_A = u32(5);
  ADDR_B = u32(6);
  ADDR_C = u32(7);
  CTL_WLEN = u32(8);
  CTL_IN_BUF = u32(9);
  ADDR_SIZE = u32(10);
  RX_REC_SIZE = u32(11);
  IP4_MAX = u32(13);
  layoutRead = true;
}

export function errName(err: number): string {
  switch (err) {
    case ERR_MEM:
      return 'ENOBUFS';
    case ERR_RTE:
      return 'ENETUNREACH';
    case ERR_VAL:
      return 'EINVAL';
    case ERR_USE:
      return 'EADDRINUSE';
    case ERR_ISCONN:
      return 'EISCONN';
    default:
      return 'EIO';
  }
}

export function rethrowLater(e: unknown): void {
  queueMicrotask(() => {
    throw e;
  });
}

/** The unspecified IPv4 socket address (a socket not bound or connected yet). */
export function zero(): SockAddr {
  return { family: 4, address: '0.0.0.0', port: 0 };
}

/** What a socket uses of its Stack: the module, the call discipline, the scratch addresses and staging. */
export interface StackCore {
  readonly api: LwipExports;
  readonly closed: boolean;
  /** Bytes placed by the last stageTcp. */
  readonly stagedLen: number;
  enter(): void;
  leave(): void;
  heap(): Uint8Array;
  putAddr(at: number, a: SockAddr | undefined, prefix?: number, anyIsWildcard?: boolean): void;
  getAddr(at: number): SockAddr;
  stageBytes(data: Uint8Array): number;
  stageTcp(pcb: number, data: Uint8Array): number;
  udpSource(): SockAddr;
  forgetTcp(id: number): void;
  forgetListener(id: number): void;
  forgetUdp(id: number): void;
}
