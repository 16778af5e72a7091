// Shared by the interop tests with a real ZeroTier One (ZT_ONE_BIN): the namespaces they create, the real
// node's home and process, its CLI, and the teardown. ZeroTier One never uses loopback paths, so each side
// lives in a network namespace joined by a veth pair. Nothing of ZeroTier One is part of netcon.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { formatIdentity, type Identity } from '../service/core/identity.js';
import { parseInetAddress } from '../service/core/inet-address.js';
import { makeWorld, serializeWorld, WORLD_ID_EARTH, WORLD_TYPE_PLANET } from '../service/core/world.js';
import { newKeyPair } from '../service/random.js';

export const ZT_ONE_BIN = process.env.ZT_ONE_BIN;
export const ZT_PORT = 9993;

// Primary port only; no secondary port, no UPnP/NAT-PMP, no TCP fallback relay (it would try the internet).
export const LOCAL_CONF = {
  settings: {
    primaryPort: ZT_PORT,
    allowSecondaryPort: false,
    portMappingEnabled: false,
    allowTcpFallbackRelay: false,
    forceTcpRelay: false,
    tcpFallbackRelay: '127.0.0.1/9',
    softwareUpdate: 'disable',
  },
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two network namespaces joined by a veth pair: side a is <prefix>.s.1, side b <prefix>.s.2. */
export interface Netns {
  a: string;
  b: string;
  ipA: string;
  ipB: string;
}

/** Stops one of our detached services through its pid file (SIGTERM, then SIGKILL after 10 s). */
export async function stopService(home: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(join(home, 'zerotier-one.pid'), 'utf8'));
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // not running
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
      await sleep(100);
    } catch {
      return;
    }
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Everything a test started or created, undone in order by its teardown. */
export class Scope {
  readonly children: ResultPromise[] = [];
  readonly services: string[] = []; // our services' homes (detached; stopped through their pid files)
  readonly namespaces: string[] = [];
  readonly dirs: string[] = [];

  async close(): Promise<void> {
    for (const c of this.children) c.kill('SIGTERM');
    await Promise.all(this.services.map((h) => stopService(h)));
    const killer = setTimeout(() => {
      for (const c of this.children) c.kill('SIGKILL');
    }, 5000);
    await Promise.allSettled(this.children);
    clearTimeout(killer);
    // Deleting a namespace that no process holds also destroys the veth pair (and the real node's tap).
    for (const ns of this.namespaces) await execa('ip', ['netns', 'del', ns], { reject: false });
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** Makes the two namespaces `netcon-<name>-<pid><tag>-a|b` and the veth pair between them on `<prefix>.s.0/24`. */
export async function makeNetns(scope: Scope, name: string, tag: string, prefix: string): Promise<Netns> {
  const id = `${process.pid}${tag}`;
  const a = `netcon-${name}-${id}-a`;
  const b = `netcon-${name}-${id}-b`;
  const s = 1 + Math.floor(Math.random() * 254);
  const net: Netns = { a, b, ipA: `${prefix}.${s}.1`, ipB: `${prefix}.${s}.2` };
  for (const ns of [a, b]) {
    await execa('ip', ['netns', 'add', ns]);
    scope.namespaces.push(ns);
    await execa('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const va = `v${name.slice(-2)}${id}a`.slice(0, 15);
  const vb = `v${name.slice(-2)}${id}b`.slice(0, 15);
  await execa('ip', ['link', 'add', va, 'netns', a, 'type', 'veth', 'peer', 'name', vb, 'netns', b]);
  await execa('ip', ['-n', a, 'addr', 'add', `${net.ipA}/24`, 'dev', va]);
  await execa('ip', ['-n', b, 'addr', 'add', `${net.ipB}/24`, 'dev', vb]);
  await execa('ip', ['-n', a, 'link', 'set', va, 'up']);
  await execa('ip', ['-n', b, 'link', 'set', vb, 'up']);
  return net;
}

/** A home folder: identity files (if given), the planet, and for the real node the local.conf above. */
export function writeHome(home: string, id: Identity | undefined, planet: Uint8Array, zt: boolean): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  if (id) {
    writeFileSync(join(home, 'identity.secret'), formatIdentity(id, true), { mode: 0o600 });
    writeFileSync(join(home, 'identity.public'), formatIdentity(id), { mode: 0o644 });
  }
  writeFileSync(join(home, 'planet'), planet);
  if (zt) writeFileSync(join(home, 'local.conf'), JSON.stringify(LOCAL_CONF, null, 2));
}

/** A planet whose one root is `root` at `endpoint` (ip/port), newer than ZeroTier One's built-in one. */
export function planetWithRoot(root: Identity, endpoint: string): Uint8Array {
  const keys = newKeyPair();
  return serializeWorld(
    makeWorld(
      {
        type: WORLD_TYPE_PLANET,
        id: WORLD_ID_EARTH, // newer than ZeroTier One's built-in planet, so it replaces it
        timestamp: BigInt(Date.now()),
        updatesMustBeSignedBy: keys.publicKey,
        roots: [{ identity: root, stableEndpoints: [parseInetAddress(endpoint)!] }],
      },
      keys,
    ),
  );
}

/** Starts the real node in the foreground inside namespace `ns`. */
export function startZeroTier(scope: Scope, ns: string, home: string): ResultPromise {
  const child = execa('ip', ['netns', 'exec', ns, ZT_ONE_BIN!, `-p${ZT_PORT}`, home], {
    stdin: 'ignore',
    all: true,
    reject: false,
  });
  scope.children.push(child);
  return child;
}

/** Runs the real node's CLI personality (`zerotier-one -q`) against its home, inside `ns`. */
export async function ztCli(ns: string, home: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const r = await execa('ip', ['netns', 'exec', ns, ZT_ONE_BIN!, '-q', `-D${home}`, ...args], {
    reject: false,
    timeout: 20000,
  });
  return { code: r.exitCode ?? -1, out: `${r.stdout}${r.stderr ? `\n${r.stderr}` : ''}`.trim() };
}

/** A local API call (curl inside `ns`, to 127.0.0.1:`port` with `token`), its answer parsed as JSON. */
export async function apiIn(
  ns: string,
  port: number,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ id: string }> {
  const args = ['netns', 'exec', ns, 'curl', '-sS', '-X', method, '-H', `X-ZT1-Auth: ${token}`];
  if (body !== undefined) args.push('-d', JSON.stringify(body));
  return JSON.parse((await execa('ip', [...args, `http://127.0.0.1:${port}${path}`])).stdout) as { id: string };
}
