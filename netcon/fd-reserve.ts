// The service keeps a reserve of file descriptors for its own work (state files, the API, UDP): fds for
// apps' sockets are refused with EMFILE once fewer than FD_RESERVE would remain below the soft
// RLIMIT_NOFILE. The kernel hands out the lowest free fd, so a new fd's number tells how many are in use.
// Before a new fd is refused, the reapers (socket tables) handle the hang-ups already visible on their
// fds: an app's closes free fds in the app at once, but the service learns of them only when it handles
// their events, and a request can be read first.
import { native } from '../native/index.js';

/** Fds kept free for the service itself. */
export const FD_RESERVE = 64;

const limits = native.limits as { nofile(raise: boolean): [number, number] | number };
const fdsPart = native.fdpass as { dup(fd: number): number; close(fd: number): number };

function read(raise: boolean): { soft: number; hard: number } {
  const r = limits.nofile(raise);
  if (typeof r === 'number') return { soft: Number.POSITIVE_INFINITY, hard: Number.POSITIVE_INFINITY };
  const inf = (v: number) => (v < 0 ? Number.POSITIVE_INFINITY : v);
  return { soft: inf(r[0]), hard: inf(r[1]) };
}

export const fdReserve = {
  soft: read(false).soft,
  /** Fds refused because they would have eaten into the reserve. */
  refused: 0,
  /** Told of each refusal (the daemon logs, rate-limited). */
  onRefused: undefined as ((fd: number, soft: number) => void) | undefined,
};

/** Raises the soft RLIMIT_NOFILE to the hard limit (at the service's start); returns both. */
export function raiseFdLimit(): { soft: number; hard: number } {
  const r = read(true);
  fdReserve.soft = r.soft;
  return r;
}

/** True when `fd` lies inside the reserve (nothing counted: see inReserve). */
export function withinReserve(fd: number): boolean {
  return fd >= fdReserve.soft - FD_RESERVE;
}

/** True (and counted) when `fd` lies inside the reserve: the caller closes it and answers EMFILE. */
export function inReserve(fd: number): boolean {
  if (!withinReserve(fd)) return false;
  fdReserve.refused++;
  fdReserve.onRefused?.(fd, fdReserve.soft);
  return true;
}

/** Frees at once what can be freed without waiting for the event loop; returns how many fds it freed. */
export type Reaper = () => number;

const reapers = new Set<Reaper>();

/** Registers a reaper, asked before any fd is refused; returns its unregistration. */
export function addReaper(r: Reaper): () => void {
  reapers.add(r);
  return () => reapers.delete(r);
}

/**
 * New fds for an app, some of which may lie within the reserve: if any does, the reapers run once, and if
 * they freed fds, each such fd moves to the lowest free number (F_DUPFD_CLOEXEC; the old number is closed).
 * Updates `fds` in place. The caller then refuses with inReserve() whatever still lies in the reserve.
 */
export function reclaim(fds: number[]): void {
  if (!fds.some(withinReserve)) return;
  let freed = 0;
  for (const r of [...reapers]) freed += r();
  if (freed === 0) return;
  for (let i = 0; i < fds.length; i++) {
    const fd = fds[i]!;
    if (!withinReserve(fd)) continue;
    const low = fdsPart.dup(fd);
    if (low < 0) continue;
    if (low < fd) {
      fdsPart.close(fd);
      fds[i] = low;
    } else fdsPart.close(low);
  }
}
