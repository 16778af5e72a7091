// The peer cache on disk: <home>/peers.d/<10 hex>.peer, one record per peer in ZeroTier One's format
// (service/core/peer-cache.ts), the same names ZeroTier One uses. Records come from the core (Host.peerCached)
// and are written atomically, one at a time, skipping a write whose bytes are already on disk (as ZeroTier One
// does). At start the records are read back and handed to the core (Node.restorePeers). A file that does not
// parse, or names another peer than its file name, is reported and left alone.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { addressToString } from '../core/address.js';
import { type CachedPeer, decodeCachedPeer } from '../core/peer-cache.js';
import { atomicWriteFile } from './state-files.js';

export const PEERS_DIR = 'peers.d';
const PEER_FILE_RE = /^[0-9a-f]{10}\.peer$/;
/** At most this many records are restored (the most recently written first). */
export const PEER_CACHE_RESTORE_MAX = 1024;

export function peerFilePath(home: string, address: number): string {
  return join(home, PEERS_DIR, `${addressToString(address)}.peer`);
}

/** The cached peers, newest file first, and the reasons files were skipped. */
export async function readPeerCache(home: string): Promise<{ peers: CachedPeer[]; errors: string[] }> {
  const dir = join(home, PEERS_DIR);
  const errors: string[] = [];
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => PEER_FILE_RE.test(n));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { peers: [], errors };
    return { peers: [], errors: [`${dir}: ${(e as Error).message}`] };
  }
  const found: { peer: CachedPeer; mtime: number }[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      const st = await stat(path);
      if (!st.isFile()) {
        errors.push(`${path}: not a regular file; skipped`);
        continue;
      }
      const d = decodeCachedPeer(await readFile(path));
      if (!d.ok) {
        errors.push(`${path}: not a peer record (${d.error}); skipped`);
        continue;
      }
      if (addressToString(d.value.identity.address) !== name.slice(0, 10)) {
        errors.push(`${path}: holds peer ${addressToString(d.value.identity.address)}; skipped`);
        continue;
      }
      found.push({ peer: d.value, mtime: st.mtimeMs });
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message}; skipped`);
    }
  }
  found.sort((a, b) => b.mtime - a.mtime);
  return { peers: found.slice(0, PEER_CACHE_RESTORE_MAX).map((f) => f.peer), errors };
}

/** Writes records in order, one at a time; the latest record per peer wins. */
export class PeerCacheWriter {
  private readonly pending = new Map<number, Uint8Array>();
  private running: Promise<void> | undefined;
  /** Records written, and writes that failed. */
  written = 0;
  failed = 0;

  constructor(
    private readonly home: string,
    private readonly warn: (msg: string) => void,
  ) {}

  store(address: number, record: Uint8Array): void {
    this.pending.set(address, record.slice());
    if (!this.running) this.start();
  }

  private start(): void {
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.pending.size > 0) this.start();
    });
  }

  /** Resolves once every record handed over so far is on disk (or failed). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const next = this.pending.entries().next();
      if (next.done) return;
      const [address, record] = next.value;
      this.pending.delete(address);
      const path = peerFilePath(this.home, address);
      try {
        const old = await readFile(path).catch(() => undefined);
        if (old && Buffer.compare(old, record) === 0) continue;
        await atomicWriteFile(path, record, 0o600);
        this.written++;
      } catch (e) {
        this.failed++;
        this.warn(`could not store ${path}: ${(e as Error).message}`);
      }
    }
  }
}
