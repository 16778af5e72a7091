// The controller's records on disk (PROTOCOL-VL2.md §10.5), ZeroTier One's FileDB layout:
//
//   <dir>/                                   mode 0700 (normally <home>/controller.d)
//   <dir>/network/<nwid 16 hex>.json         network record
//   <dir>/network/<nwid>/member/<addr 10 hex>.json   member record
//   <dir>/trace/                             (created, unused)
//
// Each file is the record exactly as the API returns it: compact JSON, keys sorted, no trailing newline.
// A record is written only when it changed (ignoring `revision`), and `revision` goes up by one first.
// Writes are atomic (temporary file, fsync, rename) and serialized per path. A file that cannot be read
// as a record is reported (StateFileError naming its path), left as it is, and never overwritten.
import { mkdir, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile, StateFileError } from '../daemon/state-files.js';
import { ipKey, parseIpPort } from './ip.js';
import { clone, deepEqual, dumpCompact, isObject, type JsonObject, jsonBool, jsonInt } from './json.js';

const NETWORK_FILE_RE = /^[0-9a-f]{16}\.json$/;
const MEMBER_FILE_RE = /^[0-9a-f]{10}\.json$/;

interface NetworkEntry {
  record: JsonObject;
  members: Map<string, JsonObject>;
  /** Every IP in any member's ipAssignments (canonical text) → how many members list it. */
  allocated: Map<string, number>;
  /** Addresses of members with activeBridge set. */
  bridges: Set<string>;
}

function newEntry(record: JsonObject): NetworkEntry {
  return { record, members: new Map(), allocated: new Map(), bridges: new Set() };
}

function ipsOf(m: JsonObject): string[] {
  const out: string[] = [];
  if (Array.isArray(m.ipAssignments))
    for (const v of m.ipAssignments) {
      const p = typeof v === 'string' ? parseIpPort(v) : undefined;
      if (p) out.push(ipKey(p.ip));
    }
  return out;
}

/** Keeps the allocation and bridge indexes in step with a member's record (old out, new in). */
function indexMember(e: NetworkEntry, id: string, old: JsonObject | undefined, now: JsonObject | undefined): void {
  if (old) {
    for (const ip of ipsOf(old)) {
      const n = (e.allocated.get(ip) ?? 0) - 1;
      if (n > 0) e.allocated.set(ip, n);
      else e.allocated.delete(ip);
    }
    e.bridges.delete(id);
  }
  if (now) {
    for (const ip of ipsOf(now)) e.allocated.set(ip, (e.allocated.get(ip) ?? 0) + 1);
    if (jsonBool(now.activeBridge, false)) e.bridges.add(id);
  }
}

/** What a save did: `changed` false means nothing was written. */
export interface SaveResult {
  changed: boolean;
  old: JsonObject | undefined;
  record: JsonObject;
}

/** Records equal except for `revision`. */
export function sameRecord(a: JsonObject, b: JsonObject): boolean {
  const ka = Object.keys(a).filter((k) => k !== 'revision');
  const kb = Object.keys(b).filter((k) => k !== 'revision');
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}

export class FileDb {
  private readonly networks = new Map<string, NetworkEntry>();
  /** Paths of files that did not parse: never written over. */
  private readonly corrupt = new Set<string>();
  private readonly writeChains = new Map<string, Promise<void>>();

  private constructor(readonly dir: string) {}

  /** Opens (creating the folders) and loads every record; unreadable files are returned in `errors`. */
  static async open(dir: string): Promise<{ db: FileDb; errors: StateFileError[] }> {
    const db = new FileDb(dir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await mkdir(db.networksDir, { recursive: true, mode: 0o700 });
    await mkdir(join(dir, 'trace'), { recursive: true, mode: 0o700 });
    const errors = await db.load();
    return { db, errors };
  }

  get networksDir(): string {
    return join(this.dir, 'network');
  }

  networkPath(nwid: string): string {
    return join(this.networksDir, `${nwid}.json`);
  }

  memberDir(nwid: string): string {
    return join(this.networksDir, nwid, 'member');
  }

  memberPath(nwid: string, id: string): string {
    return join(this.memberDir(nwid), `${id}.json`);
  }

  private async load(): Promise<StateFileError[]> {
    const errors: StateFileError[] = [];
    for (const name of (await listDir(this.networksDir)).filter((n) => NETWORK_FILE_RE.test(n)).sort()) {
      const path = join(this.networksDir, name);
      const nwid = name.slice(0, 16);
      const rec = await readRecord(path, 'network', nwid, errors);
      if (!rec) {
        this.corrupt.add(path);
        continue;
      }
      const entry = newEntry(rec);
      const mdir = this.memberDir(nwid);
      for (const mname of (await listDir(mdir)).filter((n) => MEMBER_FILE_RE.test(n)).sort()) {
        const mpath = join(mdir, mname);
        const id = mname.slice(0, 10);
        const m = await readRecord(mpath, 'member', id, errors);
        if (m) {
          entry.members.set(id, m);
          indexMember(entry, id, undefined, m);
        } else this.corrupt.add(mpath);
      }
      this.networks.set(nwid, entry);
    }
    return errors;
  }

  hasNetwork(nwid: string): boolean {
    return this.networks.has(nwid);
  }

  /** Network IDs (16 hex), sorted. */
  networkIds(): string[] {
    return [...this.networks.keys()].sort();
  }

  /** A copy of the network record. */
  getNetwork(nwid: string): JsonObject | undefined {
    const e = this.networks.get(nwid);
    return e ? clone(e.record) : undefined;
  }

  getMember(nwid: string, id: string): JsonObject | undefined {
    const m = this.networks.get(nwid)?.members.get(id);
    return m ? clone(m) : undefined;
  }

  /** Member records of a network (copies), sorted by address; undefined if the network is absent. */
  members(nwid: string): JsonObject[] | undefined {
    const e = this.networks.get(nwid);
    if (!e) return undefined;
    return [...e.members.keys()].sort().map((k) => clone(e.members.get(k)!));
  }

  /** True if any member of the network lists `ip` (canonical text, see ipKey) in its ipAssignments. */
  isAllocated(nwid: string, ip: string): boolean {
    return this.networks.get(nwid)?.allocated.has(ip) ?? false;
  }

  /** Addresses (10 hex) of the network's active bridges, sorted. */
  activeBridges(nwid: string): string[] {
    return [...(this.networks.get(nwid)?.bridges ?? [])].sort();
  }

  /**
   * Stores a network record if it differs from the stored one (ignoring revision): revision + 1, the
   * memory copy replaced at once, the file written before the promise resolves. `record` is updated in place.
   */
  async saveNetwork(record: JsonObject): Promise<SaveResult> {
    const nwid = String(record.id);
    const path = this.networkPath(nwid);
    this.refuseCorrupt(path);
    const entry = this.networks.get(nwid);
    const old = entry ? clone(entry.record) : undefined;
    if (old && sameRecord(old, record)) return { changed: false, old, record };
    record.revision = jsonInt(record.revision, 0) + 1;
    const stored = clone(record);
    if (entry) entry.record = stored;
    else this.networks.set(nwid, newEntry(stored));
    await this.write(path, dumpCompact(stored));
    return { changed: true, old, record };
  }

  /** As saveNetwork, for a member of an existing network (false change if the network is gone). */
  async saveMember(record: JsonObject): Promise<SaveResult> {
    const nwid = String(record.nwid);
    const id = String(record.id);
    const entry = this.networks.get(nwid);
    if (!entry) return { changed: false, old: undefined, record };
    const path = this.memberPath(nwid, id);
    this.refuseCorrupt(path);
    const prev = entry.members.get(id);
    const old = prev ? clone(prev) : undefined;
    if (old && sameRecord(old, record)) return { changed: false, old, record };
    record.revision = jsonInt(record.revision, 0) + 1;
    const stored = clone(record);
    entry.members.set(id, stored);
    indexMember(entry, id, prev, stored);
    await this.write(path, dumpCompact(stored), this.memberDir(nwid));
    return { changed: true, old, record };
  }

  /** Removes a network and all its members (memory and disk); returns the removed records. */
  async eraseNetwork(nwid: string): Promise<{ record: JsonObject; members: JsonObject[] } | undefined> {
    const entry = this.networks.get(nwid);
    if (!entry) return undefined;
    this.networks.delete(nwid);
    await this.chain(this.networkPath(nwid), async () => {
      await unlink(this.networkPath(nwid)).catch(ignoreMissing);
      await rm(join(this.networksDir, nwid), { recursive: true, force: true });
    });
    return { record: entry.record, members: [...entry.members.values()] };
  }

  async eraseMember(nwid: string, id: string): Promise<JsonObject | undefined> {
    const entry = this.networks.get(nwid);
    const m = entry?.members.get(id);
    if (!entry || !m) return undefined;
    entry.members.delete(id);
    indexMember(entry, id, m, undefined);
    const path = this.memberPath(nwid, id);
    await this.chain(path, () => unlink(path).catch(ignoreMissing));
    return m;
  }

  /** Resolves when every write issued so far is on disk. */
  async flush(): Promise<void> {
    await Promise.all([...this.writeChains.values()]);
  }

  private refuseCorrupt(path: string): void {
    if (this.corrupt.has(path))
      throw new StateFileError('CORRUPT', path, 'could not be read at start; not overwritten (fix or remove it)');
  }

  private write(path: string, text: string, mkdirFirst?: string): Promise<void> {
    return this.chain(path, async () => {
      if (mkdirFirst) await mkdir(mkdirFirst, { recursive: true, mode: 0o700 });
      await atomicWriteFile(path, text, 0o600);
    });
  }

  private chain(path: string, op: () => Promise<unknown>): Promise<void> {
    const prev = this.writeChains.get(path) ?? Promise.resolve();
    const next = prev.then(
      () => op(),
      () => op(),
    );
    const done = next.then(
      () => undefined,
      () => undefined,
    );
    this.writeChains.set(path, done);
    void done.then(() => {
      if (this.writeChains.get(path) === done) this.writeChains.delete(path);
    });
    return next.then(() => undefined);
  }
}

function ignoreMissing(e: unknown): void {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StateFileError('IO', dir, (e as Error).message);
  }
}

async function readRecord(
  path: string,
  objtype: 'network' | 'member',
  id: string,
  errors: StateFileError[],
): Promise<JsonObject | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    errors.push(new StateFileError('IO', path, (e as Error).message));
    return undefined;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    errors.push(new StateFileError('CORRUPT', path, `not JSON (${(e as Error).message}); left untouched`));
    return undefined;
  }
  if (!isObject(v)) {
    errors.push(new StateFileError('CORRUPT', path, 'not a JSON object; left untouched'));
    return undefined;
  }
  if (typeof v.id !== 'string' || v.id.toLowerCase() !== id) {
    errors.push(
      new StateFileError('CORRUPT', path, `"id" is ${JSON.stringify(v.id)}, expected "${id}"; left untouched`),
    );
    return undefined;
  }
  if (v.objtype !== undefined && v.objtype !== objtype) {
    errors.push(new StateFileError('CORRUPT', path, `"objtype" is ${JSON.stringify(v.objtype)}; left untouched`));
    return undefined;
  }
  return v;
}
