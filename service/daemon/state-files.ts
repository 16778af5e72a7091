// The node's VL1 state on disk, under its home folder:
//
//   identity.secret   text identity with private key, mode 0600, no trailing newline; never overwritten
//   identity.public   text identity, mode 0644; never overwritten
//   planet            binary world (type 1)
//   moons.d/<16 hex>.moon   binary world (type 127), one per moon
//
// Every write is atomic: a temporary file in the same folder, written and fsynced, then renamed into
// place (or hard-linked, where an existing file must never be replaced), then the folder fsynced.
// A file that exists but cannot be parsed or validated gives a StateFileError naming its path; the
// file is left as it is.

import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type Identity, parseIdentity, validateIdentity } from '../core/identity.js';
import {
  moonFileName,
  parseWorld,
  parseWorldId,
  serializeWorld,
  WORLD_TYPE_MOON,
  WORLD_TYPE_PLANET,
  type World,
  worldIdToHex,
} from '../core/world.js';
import { newIdentity } from '../random.js';

export type StateFileErrorCode = 'CORRUPT' | 'EXISTS' | 'MISMATCH' | 'IO';

export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  constructor(
    readonly code: StateFileErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

export const IDENTITY_SECRET_FILE = 'identity.secret';
export const IDENTITY_PUBLIC_FILE = 'identity.public';
export const PLANET_FILE = 'planet';
export const MOONS_DIR = 'moons.d';
const MOON_FILE_RE = /^[0-9a-f]{16}\.moon$/;

// ---------------------------------------------------------------------------------------------
// Atomic writes

async function writeTemp(path: string, data: Uint8Array | string, mode: number): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // the umask may have narrowed it
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  return tmp;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsc.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replaces (or creates) `path` atomically with `data`, with the given mode. */
export async function atomicWriteFile(path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const tmp = await writeTemp(path, data, mode);
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDir(dirname(path));
}

/**
 * Creates `path` atomically with `data`, failing with StateFileError('EXISTS') if it already exists
 * (the check and the creation are one step: a hard link of a complete temporary file).
 */
export async function atomicCreateFile(path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const tmp = await writeTemp(path, data, mode);
  try {
    await link(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new StateFileError('EXISTS', path, 'already exists; not overwritten');
    throw e;
  } finally {
    await unlink(tmp).catch(() => {});
  }
  await syncDir(dirname(path));
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError('IO', path, (e as Error).message);
  }
}

// ---------------------------------------------------------------------------------------------
// Identity

/** Parses and fully validates an identity file's text; StateFileError('CORRUPT') naming the path otherwise. */
export function identityFromFileText(path: string, text: string, needPrivate: boolean): Identity {
  let id: Identity;
  try {
    id = parseIdentity(text);
  } catch (e) {
    throw new StateFileError('CORRUPT', path, `not an identity (${(e as Error).message})`);
  }
  if (needPrivate && !id.hasPrivate) throw new StateFileError('CORRUPT', path, 'has no private key');
  const check = validateIdentity(id);
  if (!check.valid) throw new StateFileError('CORRUPT', path, `invalid identity: ${check.reason}`);
  return id;
}

/** Reads `<home>/identity.secret` if it exists (validated, including the key-pair check). */
export async function readIdentitySecret(home: string): Promise<Identity | undefined> {
  const path = join(home, IDENTITY_SECRET_FILE);
  const data = await readIfExists(path);
  return data === undefined ? undefined : identityFromFileText(path, data.toString('utf8'), true);
}

/**
 * Writes identity.secret (0600) and identity.public (0644). Neither is ever overwritten: an existing
 * file gives StateFileError('EXISTS') (identity.public is accepted if it already holds exactly this
 * identity's public form).
 */
export async function writeIdentityFiles(home: string, id: Identity): Promise<void> {
  if (!id.hasPrivate)
    throw new StateFileError('CORRUPT', join(home, IDENTITY_SECRET_FILE), 'identity has no private key');
  await mkdir(home, { recursive: true });
  await atomicCreateFile(join(home, IDENTITY_SECRET_FILE), id.toString(true), 0o600);
  await ensurePublicFile(home, id);
}

async function ensurePublicFile(home: string, id: Identity): Promise<void> {
  const path = join(home, IDENTITY_PUBLIC_FILE);
  const existing = await readIfExists(path);
  if (existing === undefined) {
    await atomicCreateFile(path, id.toString(false), 0o644);
    return;
  }
  if (existing.toString('utf8').trim() !== id.toString(false))
    throw new StateFileError('MISMATCH', path, `does not match ${IDENTITY_SECRET_FILE}; not overwritten`);
}

/**
 * The node's identity: loads identity.secret (and writes a missing identity.public), or generates
 * and stores a new one when neither file exists. A lone identity.public (its secret lost) is an error
 * rather than a reason to replace it.
 */
export async function loadOrCreateIdentity(
  home: string,
  generate: () => Identity = () => newIdentity(),
): Promise<{ identity: Identity; created: boolean }> {
  const existing = await readIdentitySecret(home);
  if (existing) {
    await ensurePublicFile(home, existing);
    return { identity: existing, created: false };
  }
  const pubPath = join(home, IDENTITY_PUBLIC_FILE);
  if ((await readIfExists(pubPath)) !== undefined)
    throw new StateFileError('MISMATCH', pubPath, `exists but ${IDENTITY_SECRET_FILE} is missing; not overwritten`);
  const identity = generate();
  await writeIdentityFiles(home, identity);
  return { identity, created: true };
}

// ---------------------------------------------------------------------------------------------
// Worlds

function worldFromFile(path: string, data: Uint8Array, type: number): World {
  let world: World;
  try {
    world = parseWorld(data);
  } catch (e) {
    throw new StateFileError('CORRUPT', path, (e as Error).message);
  }
  if (world.type !== type) throw new StateFileError('CORRUPT', path, `world type ${world.type}, expected ${type}`);
  return world;
}

/** `<home>/planet`, or undefined when there is none. */
export async function readPlanet(home: string): Promise<World | undefined> {
  const path = join(home, PLANET_FILE);
  const data = await readIfExists(path);
  return data === undefined ? undefined : worldFromFile(path, data, WORLD_TYPE_PLANET);
}

export async function writePlanet(home: string, planet: World): Promise<void> {
  if (planet.type !== WORLD_TYPE_PLANET) throw new RangeError('not a planet');
  await mkdir(home, { recursive: true });
  await atomicWriteFile(join(home, PLANET_FILE), serializeWorld(planet), 0o644);
}

export function moonPath(home: string, id: bigint): string {
  return join(home, MOONS_DIR, moonFileName(id));
}

/** One moon by id, or undefined when its file does not exist. */
export async function readMoon(home: string, id: bigint): Promise<World | undefined> {
  const path = moonPath(home, id);
  const data = await readIfExists(path);
  if (data === undefined) return undefined;
  const moon = worldFromFile(path, data, WORLD_TYPE_MOON);
  if (moon.id !== id) throw new StateFileError('CORRUPT', path, `holds moon ${worldIdToHex(moon.id)}`);
  return moon;
}

export async function writeMoon(home: string, moon: World): Promise<void> {
  if (moon.type !== WORLD_TYPE_MOON) throw new RangeError('not a moon');
  await mkdir(join(home, MOONS_DIR), { recursive: true });
  await atomicWriteFile(moonPath(home, moon.id), serializeWorld(moon), 0o644);
}

/** Deletes a moon's file (deorbit); true if there was one. */
export async function deleteMoon(home: string, id: bigint): Promise<boolean> {
  try {
    await unlink(moonPath(home, id));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new StateFileError('IO', moonPath(home, id), (e as Error).message);
  }
}

/**
 * Every moon in `<home>/moons.d` named exactly `<16 lowercase hex>.moon` (other names are ignored,
 * as ZeroTier One does). A file that does not parse is reported in `errors` and left alone.
 */
export async function readMoons(home: string): Promise<{ moons: World[]; errors: StateFileError[] }> {
  const dir = join(home, MOONS_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { moons: [], errors: [] };
    throw new StateFileError('IO', dir, (e as Error).message);
  }
  const moons: World[] = [];
  const errors: StateFileError[] = [];
  for (const name of names.filter((n) => MOON_FILE_RE.test(n)).sort()) {
    try {
      const moon = await readMoon(home, parseWorldId(name.slice(0, 16))!);
      if (moon) moons.push(moon);
    } catch (e) {
      if (e instanceof StateFileError) errors.push(e);
      else throw e;
    }
  }
  return { moons, errors };
}
