// The service's home folder: where it is, its permissions, the API token, the pid and port files, and
// local.conf. A second service on the same home is refused.
import { randomInt } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { chmod, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { atomicCreateFile, atomicWriteFile, StateFileError } from './state-files.js';

export const AUTHTOKEN_FILE = 'authtoken.secret';
export const PID_FILE = 'zerotier-one.pid';
export const PORT_FILE = 'zerotier-one.port';
export const LOCAL_CONF_FILE = 'local.conf';
export const DEFAULT_PORT = 9993;

/** /var/lib/zerotier-one when we may write there, else ~/.zerotier-netcon. */
export function defaultHome(): string {
  const system = '/var/lib/zerotier-one';
  try {
    accessSync(system, constants.W_OK);
    return system;
  } catch {
    return join(homedir(), '.zerotier-netcon');
  }
}

/** One line saying why `home` cannot be used, naming the path that failed. */
export function homeError(home: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  const where = err.path && err.path !== home ? ` (${err.syscall ?? 'access'} ${err.path})` : '';
  let why: string;
  switch (err.code) {
    case 'EEXIST':
    case 'ENOTDIR':
      why = 'it (or a folder on its path) is not a folder';
      break;
    case 'ENOENT':
      why = `cannot create ${err.path ?? home}`;
      break;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      why = `not allowed to create or write it${where}`;
      break;
    default:
      why = `${err.message ?? String(e)}`;
  }
  return new Error(`cannot use home folder ${home}: ${why}`);
}

/** Creates the home folder if needed and makes it 0700; an unusable home gives homeError's one line. */
export async function prepareHome(home: string): Promise<void> {
  try {
    await mkdir(home, { recursive: true, mode: 0o700 });
    await chmod(home, 0o700);
    for (const sub of ['moons.d', 'networks.d', 'peers.d'])
      await mkdir(join(home, sub), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw homeError(home, e);
  }
}

/** The local API token: read, or created (24 random lowercase letters and digits, mode 0600). */
export async function loadOrCreateAuthToken(home: string): Promise<string> {
  const path = join(home, AUTHTOKEN_FILE);
  try {
    const t = (await readFile(path, 'utf8')).trim();
    if (t.length === 0) throw new StateFileError('CORRUPT', path, 'is empty');
    return t;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let token = '';
  for (let i = 0; i < 24; i++) token += alphabet[randomInt(alphabet.length)];
  await atomicCreateFile(path, token, 0o600);
  return token;
}

/** Reads the token for a client (zerotier-cli): undefined when there is none or it is unreadable. */
export function readAuthToken(home: string): string | undefined {
  try {
    return readFileSync(join(home, AUTHTOKEN_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function readPort(home: string): number | undefined {
  try {
    const n = Number(readFileSync(join(home, PORT_FILE), 'utf8').trim());
    return Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the home folder: writes our pid to zerotier-one.pid, created exclusively. A pid file of a live
 * process means another service runs here: refused with an error saying so. A stale one is replaced.
 * Returns the release function.
 */
export async function lockHome(home: string): Promise<() => Promise<void>> {
  const path = join(home, PID_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(`${process.pid}`);
      await fh.close();
      return async () => {
        await unlink(path).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const other = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(other) && other > 0 && other !== process.pid && alive(other))
        throw new Error(`another service (pid ${other}) is already running with home ${home}`);
      await unlink(path).catch(() => undefined);
    }
  }
  throw new Error(`cannot create ${path}`);
}

export async function writePortFile(home: string, port: number): Promise<void> {
  await atomicWriteFile(join(home, PORT_FILE), `${port}`, 0o644);
}

/** The settings of local.conf that apply to us; the others are reported so nobody is surprised. */
export interface LocalConf {
  primaryPort?: number;
  warnings: string[];
}

const IGNORED_SETTINGS = new Set([
  'allowSecondaryPort',
  'portMappingEnabled',
  'allowTcpFallbackRelay',
  'tcpFallbackRelay',
  'forceTcpRelay',
  'softwareUpdate',
  'softwareUpdateChannel',
  'secondaryPort',
  'tertiaryPort',
]);

export async function readLocalConf(home: string): Promise<LocalConf> {
  const path = join(home, LOCAL_CONF_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { warnings: [] };
    throw e;
  }
  let json: { settings?: Record<string, unknown> };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (e) {
    throw new StateFileError('CORRUPT', path, `is not valid JSON (${(e as Error).message})`);
  }
  const conf: LocalConf = { warnings: [] };
  for (const [k, v] of Object.entries(json.settings ?? {})) {
    if (k === 'primaryPort') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535)
        throw new StateFileError('CORRUPT', path, 'settings.primaryPort must be a port number');
      conf.primaryPort = v;
    } else if (IGNORED_SETTINGS.has(k)) {
      // netcon has one UDP port, no port mapping and no TCP relay: these are accepted and have no effect.
      if (v !== false && k !== 'tcpFallbackRelay' && k !== 'softwareUpdate' && k !== 'softwareUpdateChannel')
        conf.warnings.push(`${path}: settings.${k} has no effect in netcon`);
    } else conf.warnings.push(`${path}: unknown setting settings.${k} ignored`);
  }
  for (const k of Object.keys(json))
    if (k !== 'settings') conf.warnings.push(`${path}: section "${k}" is not supported and is ignored`);
  return conf;
}
