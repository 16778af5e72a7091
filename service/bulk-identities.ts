// Identities in bulk, on every core: a host service for many nodes (one folder per node under its host folder)
// needs one identity per node, and each costs about 68 ms of memory-hard hashing on one core (~15 attempts).
// generateIdentities spreads the attempts over worker threads (service/bulk-identities-worker.ts, each drawing
// from the OS's CSPRNG through service/random.ts), one identity per request, so a slow identity (a long
// geometric run of attempts) never leaves the other workers idle. createNodeHomes writes each identity into a
// new folder named by its address, exactly as a single service writes its own (service/daemon/state-files.ts),
// as soon as it arrives. A run stopped through its AbortSignal finishes the homes it has begun (a process killed
// outright may leave its last folder empty or without identity.public: a service or host started on it completes
// it, as on any home).
import { mkdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { addressToString } from './core/address.js';
import { type Identity, parseIdentity } from './core/identity.js';
import { StateFileError, writeIdentityFiles } from './daemon/state-files.js';

export interface BulkIdentityOptions {
  /** Worker threads (default: os.availableParallelism(); never more than the identities asked for). */
  workers?: number;
  /** Called after each identity with the number done so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Stops the workers; what was already handed out is finished, then the promise rejects with the reason. */
  signal?: AbortSignal;
}

export interface NodeHomeOptions extends BulkIdentityOptions {
  /** Called with each node folder's name once its identity files are written. */
  onHome?: (name: string) => void;
  /** Notes (an address that already had a folder, generated again). */
  log?: (line: string) => void;
}

/** The most identities one call makes (a million homes is far beyond one host's nodes). */
export const MAX_BULK_IDENTITIES = 1_000_000;

function checkCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_BULK_IDENTITIES)
    throw new RangeError(`count must be an integer from 0 to ${MAX_BULK_IDENTITIES}, not ${count}`);
}

/** The worker threads a bulk generation uses for `count` identities. */
export function bulkWorkers(count: number, workers?: number): number {
  const w = workers ?? availableParallelism();
  if (!Number.isSafeInteger(w) || w < 1) throw new RangeError(`workers must be a positive integer, not ${w}`);
  return Math.max(1, Math.min(w, count));
}

/**
 * Generates `count` identities on worker threads and hands each to `each` as it arrives (completion order).
 * A rejection from `each` or a failing worker stops every worker and rejects; resolves once every `each`
 * has settled.
 */
async function forEachNewIdentity(
  count: number,
  options: BulkIdentityOptions,
  each: (id: Identity) => void | Promise<void>,
): Promise<void> {
  checkCount(count);
  const n = bulkWorkers(count, options.workers);
  if (count === 0) return;
  const workers: Worker[] = [];
  const pending = new Set<Promise<void>>();
  let issued = 0;
  let done = 0;
  let failed = false;
  await new Promise<void>((resolve, reject) => {
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      options.signal?.removeEventListener('abort', onAbort);
      for (const w of workers) void w.terminate();
      // What was already handed to `each` settles first (a home being written is finished).
      void Promise.allSettled(pending).then(() => reject(e instanceof Error ? e : new Error(String(e))));
    };
    const onAbort = () => fail(options.signal?.reason ?? new Error('aborted'));
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const finishIfDone = () => {
      if (failed || done < count) return;
      options.signal?.removeEventListener('abort', onAbort);
      for (const w of workers) void w.terminate();
      // `each` never rejects here (its failures go to fail, which rejects once they have all settled).
      void Promise.all(pending).then(() => {
        if (!failed) resolve();
      });
    };
    const issue = (w: Worker) => {
      if (issued >= count) return;
      issued++;
      w.postMessage(0);
    };
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL('./bulk-identities-worker.js', import.meta.url));
      workers.push(w);
      w.on('message', (text: string) => {
        if (failed) return;
        let id: Identity;
        try {
          id = parseIdentity(text);
        } catch (e) {
          fail(e);
          return;
        }
        issue(w);
        done++;
        const p: Promise<void> = Promise.resolve()
          .then(() => each(id))
          .catch(fail)
          .finally(() => pending.delete(p));
        pending.add(p);
        options.onProgress?.(done, count);
        finishIfDone();
      });
      w.on('error', fail);
      w.on('exit', (code) => {
        if (done < count) fail(new Error(`an identity worker exited (code ${code}) after ${done} of ${count}`));
      });
      issue(w);
    }
  });
}

/** `count` new identities (with private keys), generated on `workers` threads (default: every core). */
export async function generateIdentities(count: number, options: BulkIdentityOptions = {}): Promise<Identity[]> {
  const out: Identity[] = [];
  await forEachNewIdentity(count, options, (id) => {
    out.push(id);
  });
  return out;
}

/**
 * A node's home under a host folder: `<hostdir>/<address>` made 0700 (it must not exist: an existing folder is
 * never written into: StateFileError 'EXISTS'), with identity.secret (0600) and identity.public (0644) written as
 * a single service writes them. Returns the folder's name.
 */
export async function writeNodeHome(hostdir: string, id: Identity): Promise<string> {
  const name = addressToString(id.address);
  const dir = join(hostdir, name);
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new StateFileError('EXISTS', dir, 'already exists; not overwritten');
    throw new StateFileError('IO', dir, (e as Error).message);
  }
  await writeIdentityFiles(dir, id);
  return name;
}

/** Creates `hostdir` (0700) when missing; an existing one must be a folder. */
async function ensureHostDir(hostdir: string): Promise<void> {
  try {
    await mkdir(hostdir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new StateFileError('IO', hostdir, (e as Error).message);
  }
  if (!(await stat(hostdir)).isDirectory()) throw new StateFileError('IO', hostdir, 'is not a folder');
}

/**
 * `count` new node homes under `hostdir` (created 0700 when missing), each named by its node's address; returns
 * their names in the order they were written. Existing folders are never touched: an address that already has
 * a folder (another node's, or twice in one run) is generated again.
 */
export async function createNodeHomes(
  hostdir: string,
  count: number,
  options: NodeHomeOptions = {},
): Promise<string[]> {
  checkCount(count);
  await ensureHostDir(hostdir);
  const names: string[] = [];
  while (names.length < count) {
    const base = names.length;
    await forEachNewIdentity(
      count - base,
      {
        workers: options.workers,
        signal: options.signal,
        onProgress: options.onProgress && ((done) => options.onProgress?.(base + done, count)),
      },
      async (id) => {
        try {
          const name = await writeNodeHome(hostdir, id);
          names.push(name);
          options.onHome?.(name);
        } catch (e) {
          if (!(e instanceof StateFileError && e.code === 'EXISTS')) throw e;
          options.log?.(`${e.message}: generating another identity`);
        }
      },
    );
  }
  return names;
}
