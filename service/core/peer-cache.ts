// The peer cache record: what a node remembers of a peer across restarts, in ZeroTier One's format (the
// state object ZT_STATE_OBJECT_PEER, stored by ZeroTier One as peers.d/<10 hex>.peer), so that after a
// restart it can try the peer's last direct paths without asking a root.
//
//   offset  size  field
//   0       1     record version: 2
//   1       71    identity, binary public form: address (5), type 0 (1), Curve25519+Ed25519 key (64), 0 (1)
//   72      2     protocol version (big-endian; 0 when unknown)
//   74      2     major version
//   76      2     minor version
//   78      2     revision
//   80      2     number of paths N
//   82      …     N addresses, each as ZeroTier's InetAddress: 0x04 + IPv4 (4) + port (2), or 0x06 + IPv6 (16) + port (2)
//
// A reader stops at the first address it cannot parse and keeps the ones before it (as ZeroTier One does).
import { type Identity, readIdentity, serializeIdentity } from './identity.js';
import { type InetAddress, readInetAddress, serializeInetAddress } from './inet-address.js';

export const PEER_CACHE_VERSION = 2;
/** ZeroTier One keeps at most 16 paths per peer; a record never names more. */
export const PEER_CACHE_MAX_PATHS = 16;

export interface CachedPeer {
  identity: Identity;
  /** 0 when unknown. */
  protocolVersion: number;
  versionMajor: number;
  versionMinor: number;
  versionRevision: number;
  paths: InetAddress[];
}

export function encodeCachedPeer(p: CachedPeer): Uint8Array {
  const id = serializeIdentity(p.identity, false);
  const addrs = p.paths.slice(0, PEER_CACHE_MAX_PATHS).map(serializeInetAddress);
  const out = new Uint8Array(1 + id.length + 10 + addrs.reduce((n, a) => n + a.length, 0));
  const dv = new DataView(out.buffer);
  out[0] = PEER_CACHE_VERSION;
  out.set(id, 1);
  let o = 1 + id.length;
  for (const v of [p.protocolVersion, p.versionMajor, p.versionMinor, p.versionRevision, addrs.length]) {
    dv.setUint16(o, Math.max(0, v) & 0xffff);
    o += 2;
  }
  for (const a of addrs) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

export type CachedPeerDecoded = { ok: true; value: CachedPeer } | { ok: false; error: string };

export function decodeCachedPeer(b: Uint8Array): CachedPeerDecoded {
  if (b.length < 1) return { ok: false, error: 'empty' };
  if (b[0] !== PEER_CACHE_VERSION)
    return { ok: false, error: `record version ${b[0]}, expected ${PEER_CACHE_VERSION}` };
  const id = readIdentity(b, 1);
  if (!id.ok) return { ok: false, error: `identity: ${id.error}` };
  if (id.identity.privateKey) return { ok: false, error: 'holds a private key' };
  let o = 1 + id.length;
  if (o + 10 > b.length) return { ok: false, error: 'truncated versions' };
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u16 = () => {
    const v = dv.getUint16(o);
    o += 2;
    return v;
  };
  const protocolVersion = u16();
  const versionMajor = u16();
  const versionMinor = u16();
  const versionRevision = u16();
  const count = u16();
  const paths: InetAddress[] = [];
  for (let i = 0; i < count && paths.length < PEER_CACHE_MAX_PATHS; i++) {
    const r = readInetAddress(b, o);
    if (!r.ok) break;
    o += r.length;
    if (r.address) paths.push(r.address);
  }
  return {
    ok: true,
    value: { identity: id.identity, protocolVersion, versionMajor, versionMinor, versionRevision, paths },
  };
}
