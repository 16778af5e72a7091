// The golden capture's packets, opened (authenticated, decrypted, decompressed) with the saved pair keys,
// and the vector identities: what the VL2 tests read.
import { readFileSync } from 'node:fs';
import { createPeerKey, type PeerKey } from '../../service/core/crypto.js';
import { type Identity, parseIdentity } from '../../service/core/identity.js';
import { openPacket } from '../../service/core/packet.js';
import { readPcap } from './pcap.js';
import { loadSharedKeys, vectorPath } from './vl1-vectors.js';

export interface CapturedPacket {
  readonly index: number;
  readonly packetId: bigint;
  readonly source: number;
  readonly destination: number;
  readonly hops: number;
  readonly verb: number;
  readonly payload: Uint8Array;
}

/** Every ZeroTier packet of pcap/<name>.pcap, opened (junk datagrams skipped). Throws if one fails to open. */
export function openCapture(name = 'ztref-golden'): CapturedPacket[] {
  const pairs = loadSharedKeys();
  const keys = new Map<string, PeerKey>();
  const keyFor = (a: number, b: number): PeerKey => {
    const id = a < b ? `${a}-${b}` : `${b}-${a}`;
    let k = keys.get(id);
    if (!k) {
      const p = pairs.find((x) => (x.a === a && x.b === b) || (x.a === b && x.b === a));
      if (!p) throw new Error(`no key for ${a.toString(16)}/${b.toString(16)}`);
      k = createPeerKey(p.key48);
      keys.set(id, k);
    }
    return k;
  };
  const out: CapturedPacket[] = [];
  for (const d of readPcap(vectorPath(`pcap/${name}.pcap`))) {
    if (d.payload.length < 28) continue;
    const buf = Uint8Array.from(d.payload);
    const src = buf[13]! * 0x100000000 + ((buf[14]! << 24) >>> 0) + (buf[15]! << 16) + (buf[16]! << 8) + buf[17]!;
    const dst = buf[8]! * 0x100000000 + ((buf[9]! << 24) >>> 0) + (buf[10]! << 16) + (buf[11]! << 8) + buf[12]!;
    const o = openPacket(keyFor(src, dst), buf);
    if (!o.ok) throw new Error(`#${d.index}: ${o.reason}`);
    out.push({
      index: d.index,
      packetId: o.value.header.packetId,
      source: src,
      destination: dst,
      hops: o.value.header.hops,
      verb: o.value.verb,
      payload: Uint8Array.from(o.value.payload),
    });
  }
  return out;
}

/** The vector identities by name (node-R, node-A, node-B, id1..id4), with their secrets. */
export function vectorIdentities(): Record<string, Identity> {
  return Object.fromEntries(
    readFileSync(vectorPath('identities/identities.txt'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => {
        const [name, , , secret] = l.split(' ');
        return [name!, parseIdentity(secret!)];
      }),
  );
}
