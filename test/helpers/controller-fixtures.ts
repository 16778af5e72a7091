// Shared pieces of the controller tests: the vector identities, a temporary home, the 1.14.1 request
// metadata, and a sender that records what the controller answers (a real NetworkControllerSender).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Identity, parseIdentity } from '../../service/core/identity.js';
import type { NetworkControllerError, NetworkControllerSender } from '../../service/core/vl2/controller-interface.js';
import { vectorPath } from './vl1-vectors.js';

const ids = JSON.parse(readFileSync(vectorPath('identities/identities.json'), 'utf8')) as {
  name: string;
  secret: string;
}[];

/** An identity of vectors/identities (node-R, node-A, node-B, id1…id4), with its private key. */
export function vectorIdentity(name: string): Identity {
  const e = ids.find((i) => i.name === name);
  if (!e) throw new Error(`no identity ${name}`);
  return parseIdentity(e.secret);
}

export function controllerVector(rel: string): string {
  return readFileSync(vectorPath(`controller/${rel}`), 'utf8');
}

export function tempHome(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'netcon-ctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The metadata dictionary a 1.14.1 member sends (capture #027). */
export const METADATA_1_14_1 = new TextEncoder().encode(
  [
    'v=0000000000000007',
    'vend=0000000000000001',
    'pv=000000000000000c',
    'majv=0000000000000001',
    'minv=000000000000000e',
    'revv=0000000000000001',
    'mr=0000000000000400',
    'mc=0000000000000080',
    'mcr=0000000000000040',
    'mt=0000000000000080',
    'f=0000000000000000',
    'revr=0000000000000001',
    'o=linux/x86_64',
  ].join('\n'),
);

export type Sent =
  | { kind: 'config'; now: number; networkId: bigint; packetId: bigint; destination: number; config: Uint8Array }
  | {
      kind: 'error';
      now: number;
      networkId: bigint;
      packetId: bigint;
      destination: number;
      error: NetworkControllerError;
    }
  | { kind: 'revocation'; now: number; destination: number; revocation: Uint8Array };

/** Keeps every answer, in order. */
export class RecordingSender implements NetworkControllerSender {
  readonly sent: Sent[] = [];
  sendConfig(now: number, networkId: bigint, packetId: bigint, destination: number, config: Uint8Array): void {
    this.sent.push({ kind: 'config', now, networkId, packetId, destination, config: config.slice() });
  }
  sendError(
    now: number,
    networkId: bigint,
    packetId: bigint,
    destination: number,
    error: NetworkControllerError,
  ): void {
    this.sent.push({ kind: 'error', now, networkId, packetId, destination, error });
  }
  sendRevocation(now: number, destination: number, revocation: Uint8Array): void {
    this.sent.push({ kind: 'revocation', now, destination, revocation: revocation.slice() });
  }
  take(): Sent[] {
    return this.sent.splice(0);
  }
}

/** Polls `done` every 20 ms for up to `ms`; whether it came true (for t.true(await until(...))). */
export async function until(ms: number, done: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (done()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return done();
}
