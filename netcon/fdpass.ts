// Typed wrapper of the addon's fdpass part (native/src/fdpass.cc): raw fds, socketpairs, SCM_RIGHTS,
// and the poll set's watcher (native/poller.ts). Every call returns >= 0 or -errno.
import { native } from '../native/index.js';
import { EV_SHUT, Poller, type PollerHandle } from '../native/poller.js';
import { inReserve, reclaim } from './fd-reserve.js';

export type { PollerHandle };
export { EV_SHUT };

interface FdPass {
  socketpair(type: number): [number, number] | number;
  listenSeqpacket(path: string, backlog: number): number;
  accept(fd: number): number;
  recvmsg(fd: number, buf: Uint8Array, fds: number[]): number;
  sendmsg(fd: number, buf: Uint8Array, fds?: number[]): number;
  read(fd: number, buf: Uint8Array, off: number, len: number): number;
  write(fd: number, buf: Uint8Array, off: number, len: number): number;
  writev(fd: number, bufs: Uint8Array[]): number;
  close(fd: number): number;
  shutdown(fd: number, how: number): number;
  dup(fd: number): number;
  inode(fd: number): number;
  setsockoptInt(fd: number, level: number, name: number, value: number): number;
  getsockoptInt(fd: number, level: number, name: number): number;
  pollNow(fd: number, events: number): number;
  peerPid(fd: number): number;
  SOCK_STREAM: number;
  SOCK_SEQPACKET: number;
}

const raw = native.fdpass as FdPass;
const EMFILE = 24;

/**
 * The addon's calls, with the fd reserve applied where fds are made for apps (fd-reserve.ts): a
 * socketpair or an accepted control connection that would eat into the reserve, even after the reapers
 * freed what they could, is closed and -EMFILE.
 */
export const fdpass: FdPass & { Poller: typeof Poller } = {
  ...raw,
  Poller,
  socketpair(type: number): [number, number] | number {
    const p = raw.socketpair(type);
    if (typeof p === 'number') return p;
    reclaim(p);
    if (!inReserve(Math.max(p[0]!, p[1]!))) return p;
    raw.close(p[0]!);
    raw.close(p[1]!);
    return -EMFILE;
  },
  accept(fd: number): number {
    const c = raw.accept(fd);
    if (c < 0) return c;
    const kept = [c];
    reclaim(kept);
    if (!inReserve(kept[0]!)) return kept[0]!;
    raw.close(kept[0]!);
    return -EMFILE;
  },
};

export const EV_READ = 1;
export const EV_WRITE = 2;
export const EV_HUP = 4;
export const POLLIN = 1;
export const POLLOUT = 4;
export const POLLHUP = 16;
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_TYPE = 3;
export const SO_DOMAIN = 39;
export const AF_UNIX = 1;
export const EAGAIN = 11;
