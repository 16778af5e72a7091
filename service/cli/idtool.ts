// zerotier-idtool: identities, signatures, moons and planets, with ZeroTier One 1.14.1's commands,
// arguments, messages and file names, plus `initplanet`/`genplanet` for self-hosted planets.
//
// Differences from ZeroTier One, on purpose: bad arguments print the usage on stderr and exit 1
// (ZeroTier prints it on stdout, and exits 0 for initmoon/genmoon); `validate` also rejects a secret
// whose private half does not match its public half; `generate` never overwrites an existing file;
// genmoon/genplanet refuse an unparseable identity, endpoint or key instead of writing a null one.

import { readFileSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { bulkWorkers, createNodeHomes, MAX_BULK_IDENTITIES } from '../bulk-identities.js';
import { addressToString } from '../core/address.js';
import { c25519KeyPairMatches, fromHex, toHex } from '../core/c25519.js';
import {
  formatIdentity,
  type Identity,
  parseIdentity,
  signWithIdentity,
  validateIdentity,
  verifyWithIdentity,
} from '../core/identity.js';
import { formatInetAddress, parseInetAddress } from '../core/inet-address.js';
import {
  checkWorldUpdate,
  makeWorld,
  moonFileName,
  parseWorld,
  parseWorldId,
  serializeWorld,
  sortRoots,
  WORLD_ID_EARTH,
  WORLD_MAX_ROOTS,
  WORLD_MAX_STABLE_ENDPOINTS_PER_ROOT,
  WORLD_TYPE_MOON,
  WORLD_TYPE_PLANET,
  type World,
  type WorldRoot,
  type WorldType,
  worldIdToHex,
} from '../core/world.js';
import { atomicCreateFile, atomicWriteFile, StateFileError } from '../daemon/state-files.js';
import { newIdentity, newKeyPair } from '../random.js';

export const IDTOOL_VERSION = '1.14.1';
const PROGRAM = 'zerotier-idtool';

/** Where the tool writes; a test can capture it, the launcher passes the process streams. */
export interface IdtoolIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Current time in ms (for world timestamps). */
  now: () => number;
  /** stderr is a terminal (generate-nodes then draws a progress bar instead of a line every 10%). */
  errIsTTY?: boolean;
  /** Stops a long command (generate-nodes) cleanly: SIGINT/SIGTERM for the process. */
  signal?: AbortSignal;
}

const processIo: IdtoolIo = {
  out: (s) => writeSync(1, s),
  err: (s) => writeSync(2, s),
  now: () => Date.now(),
  errIsTTY: process.stderr.isTTY === true,
};

export function usage(): string {
  return [
    `${PROGRAM} version ${IDTOOL_VERSION} (netcon)`,
    `Usage: ${PROGRAM} <command> [<args>]`,
    '',
    'Commands:',
    '  generate [<identity.secret>] [<identity.public>] [<vanity>]',
    '  validate <identity.secret/public>',
    '  getpublic <identity.secret>',
    '  sign <identity.secret> <file>',
    '  verify <identity.secret/public> <file> <signature>',
    '  initmoon <identity.public of first seed>',
    '  genmoon <moon json>',
    '  initplanet <identity.public of first root> [<ip/port> ...]',
    '  genplanet <planet json> [<output file, default: planet>]',
    '  generate-nodes [--workers=<n>] <hostdir> <count>',
    '      <count> new node homes <hostdir>/<address>/ (identity.secret, identity.public) for',
    `      zerotier-netcon-service --nodes <hostdir>, on <n> threads (default: ${availableParallelism()}, the cores)`,
    '',
  ].join('\n');
}

class UsageError extends Error {
  constructor(readonly exitCode = 1) {
    super('usage');
  }
}
class Failure extends Error {}

/** Runs one command; returns the exit code. Never throws for user errors. */
export async function idtool(argv: string[], io: IdtoolIo = processIo): Promise<number> {
  try {
    await dispatch(argv, io);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(usage());
      return e.exitCode;
    }
    if (e instanceof Failure) {
      io.err(e.message.endsWith('\n') ? e.message : `${e.message}\n`);
      return 1;
    }
    if (e instanceof Interrupted) return e.signalName === 'SIGINT' ? 130 : 143;
    io.err(`${PROGRAM}: ${(e as Error).message}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], io: IdtoolIo): Promise<void> {
  const [cmd, ...args] = argv;
  const need = (n: number, max = n) => {
    if (args.length < n || args.length > max) throw new UsageError();
  };
  switch (cmd) {
    case 'generate':
      need(0, 3);
      return generate(args, io);
    case 'validate':
      need(1);
      return validate(args[0]!, io);
    case 'getpublic':
      need(1);
      io.out(identityArg(args[0]!).toString(false));
      return;
    case 'sign':
      need(2);
      return sign(args[0]!, args[1]!, io);
    case 'verify':
      need(3);
      return verify(args[0]!, args[1]!, args[2]!, io);
    case 'initmoon':
      need(1);
      return initWorld('moon', args[0]!, [], io);
    case 'genmoon':
      need(1);
      return genWorld('moon', args[0]!, undefined, io);
    case 'initplanet':
      need(1, 1 + WORLD_MAX_STABLE_ENDPOINTS_PER_ROOT);
      return initWorld('planet', args[0]!, args.slice(1), io);
    case 'genplanet':
      need(1, 2);
      return genWorld('planet', args[0]!, args[1] ?? 'planet', io);
    case 'generate-nodes':
      return generateNodes(args, io);
    default:
      throw new UsageError();
  }
}

// ---------------------------------------------------------------------------------------------
// Identities

/** An identity given literally on the command line (`xxxxxxxxxx:…`) or as a file holding one. */
function identityArg(arg: string): Identity {
  let text: string;
  if (arg.length > 32 && arg[10] === ':') {
    text = arg;
  } else {
    try {
      text = readFileSync(arg, 'utf8');
    } catch {
      throw new Failure(`Identity argument invalid or file unreadable: ${arg}`);
    }
  }
  try {
    return parseIdentity(text);
  } catch {
    throw new Failure(`Identity argument invalid or file unreadable: ${arg}`);
  }
}

async function generate(args: string[], io: IdtoolIo): Promise<void> {
  const vanityText = args[2];
  let id: Identity;
  if (vanityText !== undefined) {
    if (!/^[0-9a-fA-F]{1,10}$/.test(vanityText)) throw new UsageError();
    const bits = 4 * vanityText.length;
    const vanity = Number.parseInt(vanityText, 16);
    const shift = 2 ** (40 - bits);
    for (;;) {
      id = newIdentity();
      if (Math.floor(id.address / shift) === vanity) {
        io.err(`vanity address: found ${addressToString(id.address)} !\n`);
        break;
      }
      io.err(
        `vanity address: tried ${addressToString(id.address)} looking for first ${bits} bits of ${addressToString(vanity * shift)}\n`,
      );
    }
  } else {
    id = newIdentity();
  }
  const [secretPath, publicPath] = args;
  if (secretPath === undefined) {
    io.out(id.toString(true));
    return;
  }
  await writeNew(secretPath, id.toString(true), 0o600);
  io.out(`${secretPath} written\n`);
  if (publicPath !== undefined) {
    await writeNew(publicPath, id.toString(false), 0o644);
    io.out(`${publicPath} written\n`);
  }
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  try {
    await atomicCreateFile(path, text, mode);
  } catch (e) {
    const why =
      e instanceof StateFileError && e.code === 'EXISTS' ? 'file exists, not overwritten' : (e as Error).message;
    throw new Failure(`Error writing to ${path} (${why})`);
  }
}

function validate(arg: string, io: IdtoolIo): void {
  const id = identityArg(arg);
  const check = validateIdentity(id);
  if (!check.valid) throw new Failure(`${arg} FAILED validation.\n  ${check.reason}\n`);
  io.out(`${arg} is a valid identity\n`);
}

function readFileArg(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch {
    throw new Failure(`${path} is not readable`);
  }
}

function sign(idArg: string, file: string, io: IdtoolIo): void {
  const id = identityArg(idArg);
  if (!id.hasPrivate) throw new Failure(`${idArg} does not contain a private key (must use private to sign)`);
  const check = validateIdentity(id);
  if (!check.valid) throw new Failure(`${idArg} FAILED validation.\n  ${check.reason}\n`);
  io.out(toHex(signWithIdentity(id, readFileArg(file))));
}

/** Lenient hex like ZeroTier's (non-hex characters such as a newline are skipped). */
function looseHex(s: string): Uint8Array {
  return fromHex(s.replace(/[^0-9a-fA-F]/g, '').replace(/^((?:..)*).$/, '$1')) ?? new Uint8Array(0);
}

function verify(idArg: string, file: string, sigArg: string, io: IdtoolIo): void {
  const id = identityArg(idArg);
  const msg = readFileArg(file);
  // The signature is hex on the command line, or the name of a file holding the hex.
  if (verifyWithIdentity(id, msg, looseHex(sigArg))) {
    io.out(`${file} signature valid\n`);
    return;
  }
  let fromFile: string | undefined;
  try {
    fromFile = readFileSync(sigArg, 'utf8');
  } catch {
    fromFile = undefined;
  }
  if (fromFile !== undefined && verifyWithIdentity(id, msg, looseHex(fromFile))) {
    io.out(`${file} signature valid\n`);
    return;
  }
  throw new Failure(`${file} signature check FAILED`);
}

// ---------------------------------------------------------------------------------------------
// Node homes in bulk (service/bulk-identities.ts), for a host service: zerotier-netcon-service --nodes

const NODES = 'generate-nodes';

/** Stopped by a signal (main() aborts with it): the exit status is 128 + its number. */
class Interrupted extends Error {
  constructor(readonly signalName: 'SIGINT' | 'SIGTERM') {
    super(signalName);
  }
}

async function generateNodes(args: string[], io: IdtoolIo): Promise<void> {
  // Bad arguments exit 2 (nothing written), as the host's other commands for operators do.
  let workers: number | undefined;
  const positional: string[] = [];
  for (const a of args) {
    const m = /^--workers=(\d{1,4})$/.exec(a);
    if (m && Number(m[1]) >= 1) workers = Number(m[1]);
    else if (a.startsWith('-')) throw new UsageError(2);
    else positional.push(a);
  }
  const [hostdir, countText] = positional;
  if (positional.length !== 2 || !hostdir || !/^[1-9]\d{0,6}$/.test(countText!)) throw new UsageError(2);
  const count = Number(countText);
  if (count > MAX_BULK_IDENTITIES) throw new UsageError(2);
  const threads = bulkWorkers(count, workers);
  const t0 = io.now();
  let written = 0;
  let lastDecile = 0;
  let lastDraw = -Infinity;
  const seconds = () => (io.now() - t0) / 1000;
  const onProgress = (done: number, total: number) => {
    const s = seconds();
    const rate = s > 0 ? done / s : 0;
    if (io.errIsTTY) {
      if (done < total && io.now() - lastDraw < 100) return;
      lastDraw = io.now();
      const width = 30;
      const filled = Math.round((width * done) / total);
      const left = rate > 0 ? Math.ceil((total - done) / rate) : 0;
      io.err(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${Math.floor((100 * done) / total)}% ` +
          `${rate.toFixed(1)}/s ${left} s left   ${done === total ? '\n' : ''}`,
      );
      return;
    }
    const decile = Math.floor((10 * done) / total);
    if (decile <= lastDecile) return;
    lastDecile = decile;
    io.err(
      `${NODES}: ${done}/${total} (${Math.floor((100 * done) / total)}%) in ${s.toFixed(1)} s, ${rate.toFixed(1)} identities/s\n`,
    );
  };
  try {
    await createNodeHomes(hostdir, count, {
      workers: threads,
      signal: io.signal,
      onProgress,
      onHome: (name) => {
        written++;
        io.out(`${name}\n`);
      },
      log: (line) => io.err(`${NODES}: ${line}\n`),
    });
  } catch (e) {
    if (io.errIsTTY && lastDraw > -Infinity) io.err('\n');
    if (e instanceof Interrupted) {
      io.err(`${NODES}: stopped by ${e.signalName} after ${written} of ${count} node homes in ${hostdir}\n`);
      throw e;
    }
    throw new Failure(
      `${NODES}: ${(e as Error).message} (${written} of ${count} node homes were written in ${hostdir})`,
    );
  }
  const s = seconds();
  io.err(
    `${NODES}: ${count} node homes in ${hostdir} in ${s.toFixed(1)} s ` +
      `(${(s > 0 ? count / s : 0).toFixed(1)} identities/s on ${threads} thread${threads === 1 ? '' : 's'})\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// Worlds (moons and planets) as JSON
//
// {
//  "id": "<hex world id>",            moon: its first root's address; planet: e.g. 0000000008eac90a
//  "objtype": "world",
//  "roots": [ { "identity": "<identity.public>", "stableEndpoints": [ "ip/port", ... ] } ],
//  "signingKey": "<128 hex>",          the key pair that signs THIS revision (for an update: the
//  "signingKey_SECRET": "<128 hex>",   previous revision's updatesMustBeSignedBy pair)
//  "updatesMustBeSignedBy": "<128 hex>",  the public key that must sign the NEXT revision
//  "worldType": "moon" | "planet",
//  "timestamp": 1795300890135          optional, genplanet only (default: now)
// }

/** JSON with sorted keys and 1-space indentation, as ZeroTier One writes it. */
function dumpJson(v: unknown): string {
  const sortKeys = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sortKeys);
    if (x && typeof x === 'object')
      return Object.fromEntries(
        Object.keys(x)
          .sort()
          .map((k) => [k, sortKeys((x as Record<string, unknown>)[k])]),
      );
    return x;
  };
  return JSON.stringify(sortKeys(v), null, 1);
}

function initWorld(kind: 'moon' | 'planet', idArg: string, endpoints: string[], io: IdtoolIo): void {
  let id: Identity;
  try {
    id = identityArg(idArg);
  } catch {
    throw new Failure(`${idArg} is not a valid identity`);
  }
  const stableEndpoints = endpoints.map((e) => {
    const a = parseInetAddress(e);
    if (!a) throw new Failure(`invalid stable endpoint: ${e} (expected ip/port)`);
    return formatInetAddress(a);
  });
  const kp = newKeyPair();
  const json = {
    id: kind === 'moon' ? addressToString(id.address) : worldIdToHex(WORLD_ID_EARTH),
    objtype: 'world',
    roots: [{ identity: formatIdentity(id, false), stableEndpoints }],
    signingKey: toHex(kp.publicKey),
    signingKey_SECRET: toHex(kp.privateKey),
    updatesMustBeSignedBy: toHex(kp.publicKey),
    worldType: kind,
  };
  io.out(`${dumpJson(json)}\n`);
}

function key(json: Record<string, unknown>, name: string, file: string): Uint8Array {
  const v = json[name];
  const b = typeof v === 'string' ? fromHex(v.trim()) : undefined;
  if (b?.length !== 64) throw new Failure(`${name} in ${file} is missing or not 128 hex digits`);
  return b;
}

function parseRoots(json: Record<string, unknown>, file: string, needEndpoints: boolean): WorldRoot[] {
  const rootsJson = json.roots;
  if (!Array.isArray(rootsJson) || rootsJson.length === 0)
    throw new Failure(`roots in ${file} must be a non-empty array`);
  if (rootsJson.length > WORLD_MAX_ROOTS) throw new Failure(`${file} lists more than ${WORLD_MAX_ROOTS} roots`);
  return rootsJson.map((r, i) => {
    if (!r || typeof r !== 'object') throw new Failure(`roots[${i}] in ${file} is not an object`);
    const o = r as Record<string, unknown>;
    let identity: Identity;
    try {
      identity = parseIdentity(String(o.identity ?? '')).toPublic();
    } catch (e) {
      throw new Failure(`roots[${i}].identity in ${file} is invalid: ${(e as Error).message}`);
    }
    const check = validateIdentity(identity);
    if (!check.valid) throw new Failure(`roots[${i}].identity in ${file} is invalid: ${check.reason}`);
    const eps = o.stableEndpoints ?? [];
    if (!Array.isArray(eps)) throw new Failure(`roots[${i}].stableEndpoints in ${file} must be an array`);
    if (eps.length > WORLD_MAX_STABLE_ENDPOINTS_PER_ROOT)
      throw new Failure(`roots[${i}] in ${file} has more than ${WORLD_MAX_STABLE_ENDPOINTS_PER_ROOT} stable endpoints`);
    if (needEndpoints && eps.length === 0)
      throw new Failure(`roots[${i}] in ${file} has no stableEndpoints (a planet root needs at least one)`);
    const stableEndpoints = eps.map((e, k) => {
      const a = typeof e === 'string' ? parseInetAddress(e) : undefined;
      if (!a) throw new Failure(`roots[${i}].stableEndpoints[${k}] in ${file} is not ip/port: ${JSON.stringify(e)}`);
      return a;
    });
    return { identity, stableEndpoints };
  });
}

async function genWorld(
  kind: 'moon' | 'planet',
  file: string,
  output: string | undefined,
  io: IdtoolIo,
): Promise<void> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== undefined) throw new Failure(`cannot read ${file}`);
    throw new Failure(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Failure(`${file} is not a JSON object`);
  const id = typeof json.id === 'string' ? parseWorldId(json.id.trim()) : undefined;
  if (!id) throw new Failure(`ID in ${file} is invalid`);
  let type: WorldType;
  if (json.worldType === 'moon') type = WORLD_TYPE_MOON;
  else if (json.worldType === 'planet') type = WORLD_TYPE_PLANET;
  else throw new Failure('invalid worldType');
  if (kind === 'planet' && type !== WORLD_TYPE_PLANET)
    throw new Failure(`worldType in ${file} must be "planet" for genplanet`);

  const signingKey = key(json, 'signingKey', file);
  const signingSecret = key(json, 'signingKey_SECRET', file);
  if (!c25519KeyPairMatches(signingKey, signingSecret))
    throw new Failure(`signingKey_SECRET in ${file} does not belong to signingKey`);
  const updatesMustBeSignedBy =
    json.updatesMustBeSignedBy === undefined ? signingKey : key(json, 'updatesMustBeSignedBy', file);
  const roots = sortRoots(parseRoots(json, file, kind === 'planet'));

  let timestamp = BigInt(io.now());
  if (kind === 'planet' && json.timestamp !== undefined) {
    const ts = json.timestamp;
    if (
      !((typeof ts === 'number' && Number.isSafeInteger(ts) && ts > 0) || (typeof ts === 'string' && /^\d+$/.test(ts)))
    )
      throw new Failure(`timestamp in ${file} must be a positive integer (ms)`);
    timestamp = BigInt(ts);
  }

  const world = makeWorld({ type, id, timestamp, updatesMustBeSignedBy, roots }, { privateKey: signingSecret });
  const bytes = serializeWorld(world);
  const outPath = output ?? moonFileName(id);
  if (kind === 'planet') refuseNonUpdate(outPath, world);
  try {
    await atomicWriteFile(outPath, bytes, 0o644);
  } catch (e) {
    throw new Failure(`Error writing to ${outPath} (${(e as Error).message})`);
  }
  io.out(`wrote ${outPath} (signed world with timestamp ${timestamp})\n`);
  if (kind === 'planet') io.out(describeSigning(world, signingKey, basename(outPath)));
}

/** An existing planet file is only replaced by a valid update of it (delete it to start over). */
function refuseNonUpdate(path: string, next: World): void {
  let data: Uint8Array;
  try {
    data = new Uint8Array(readFileSync(path));
  } catch {
    return;
  }
  let current: World;
  try {
    current = parseWorld(data);
  } catch (e) {
    throw new Failure(`${path} exists and is not a planet (${(e as Error).message}); remove it first`);
  }
  const check = checkWorldUpdate(current, next);
  if (!check.accept)
    throw new Failure(`${path} exists and the new planet is not a valid update of it: ${check.reason}`);
}

function describeSigning(world: World, signedWith: Uint8Array, name: string): string {
  const same = toHex(signedWith) === toHex(world.updatesMustBeSignedBy);
  return same
    ? `${name}: signed with its own updatesMustBeSignedBy key; keep signingKey_SECRET to sign the next update\n`
    : `${name}: signed with the previous key; the next update must be signed by ${toHex(world.updatesMustBeSignedBy).slice(0, 16)}...\n`;
}

/** Entry point for bin/zerotier-idtool.js. */
export async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] !== NODES) {
    process.exitCode = await idtool(argv);
    return;
  }
  // generate-nodes runs long: a signal stops the workers and lets the homes being written finish.
  const stop = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop.abort(new Interrupted(sig)));
  process.exitCode = await idtool(argv, { ...processIo, signal: stop.signal });
}
