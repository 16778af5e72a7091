// Loaders for the golden vectors copied into test/fixtures/vectors (they are data from ZeroTier One 1.14.1).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of a file under test/fixtures/vectors (works from dist/test/helpers too). */
export function vectorPath(rel: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/test/helpers -> repo root is three levels up; test/helpers (ts-node) two.
  const root = here.includes(`${'/dist/'}`) ? join(here, '..', '..', '..') : join(here, '..', '..');
  return join(root, 'test', 'fixtures', 'vectors', rel);
}

export interface PairKeys {
  readonly a: number;
  readonly b: number;
  readonly key48: Uint8Array;
  readonly k0: Uint8Array;
  readonly k1: Uint8Array;
}

/** Parses identities/shared-keys.txt: the per-pair 48-byte keys and AES-GMAC-SIV K0/K1. */
export function loadSharedKeys(): PairKeys[] {
  const text = readFileSync(vectorPath('identities/shared-keys.txt'), 'utf8');
  const out: PairKeys[] = [];
  const blocks = text.split(/^pair /m).slice(1);
  for (const b of blocks) {
    const m = /^\w+\(([0-9a-f]{10})\) <-> \w+\(([0-9a-f]{10})\)/.exec(b);
    const key48 = /key48 = ([0-9a-f]{96})/.exec(b);
    const k0 = /K0 \(AES-256 key, GMAC\) = ([0-9a-f]{64})/.exec(b);
    const k1 = /K1 \(AES-256 key, ECB tag \+ CTR\) = ([0-9a-f]{64})/.exec(b);
    if (!m || !key48 || !k0 || !k1) throw new Error('shared-keys.txt: unexpected format');
    out.push({
      a: Number.parseInt(m[1]!, 16),
      b: Number.parseInt(m[2]!, 16),
      key48: Buffer.from(key48[1]!, 'hex'),
      k0: Buffer.from(k0[1]!, 'hex'),
      k1: Buffer.from(k1[1]!, 'hex'),
    });
  }
  return out;
}

export interface DecodedEntry {
  readonly index: number;
  readonly junk: boolean;
  readonly udpLen: number;
  readonly packetId?: string;
  readonly source?: string;
  readonly destination?: string;
  readonly hops?: number;
  readonly cipher?: string;
  readonly verb?: string;
  /** Payload after the verb byte, decrypted and decompressed (HELLO: tail still encrypted). */
  readonly payloadHex?: string;
  /** `lz4-compressed A->B` */
  readonly compressed?: { wire: number; plain: number };
  /** The rest of the description lines. */
  readonly details: string;
}

/** Parses a *.decoded.txt file (one entry per UDP datagram, `#NNN` header line + indented detail lines). */
export function loadDecoded(rel: string): DecodedEntry[] {
  const lines = readFileSync(vectorPath(rel), 'utf8').split('\n');
  const out: DecodedEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = /^#(\d{3}) /.exec(line);
    if (!m) continue;
    const details: string[] = [];
    let payloadHex: string | undefined;
    for (let j = i + 1; j < lines.length && lines[j]!.startsWith('      '); j++) {
      const pm = /^\s+payload\((\d+)\)=([0-9a-f]*)$/.exec(lines[j]!);
      if (pm) payloadHex = pm[2]!;
      else details.push(lines[j]!.trim());
    }
    const udpLen = Number(/udplen=(\d+)/.exec(line)?.[1] ?? -1);
    if (/ SHORT /.test(line)) {
      out.push({ index: Number(m[1]), junk: true, udpLen, details: details.join('\n') });
      continue;
    }
    const h = /pid=([0-9a-f]{16}) ([0-9a-f]{10})->([0-9a-f]{10}) hops=(\d) cipher=(\w+) auth=(\w+) verb=(\w+)/.exec(
      line,
    );
    if (!h) throw new Error(`${rel}: cannot parse ${line}`);
    const c = /lz4-compressed (\d+)->(\d+)/.exec(line);
    out.push({
      index: Number(m[1]),
      junk: false,
      udpLen,
      packetId: h[1]!,
      source: h[2]!,
      destination: h[3]!,
      hops: Number(h[4]),
      cipher: h[5]!,
      verb: h[7]!,
      payloadHex,
      compressed: c ? { wire: Number(c[1]), plain: Number(c[2]) } : undefined,
      details: details.join('\n'),
    });
  }
  return out;
}
