// The peer cache record (service/core/peer-cache.ts) in ZeroTier One's layout (Peer::serializeForCache, record
// version 2): golden bytes written out field by field, round trips, and damaged records refused or cut short.
import test from 'ava';
import { parseIdentity } from '../../service/core/identity.js';
import { parseInetAddress } from '../../service/core/inet-address.js';
import { type CachedPeer, decodeCachedPeer, encodeCachedPeer } from '../../service/core/peer-cache.js';

const B =
  'caf2d0093e:0:51706f5447e8d4ca0ddc362d61549956c71b6be06bac28f5cf50d5a389a8b150eee14944a551769928667e759b6b044209960352f0a0cd315da955a5791ea440';
const key = B.split(':')[2]!;

const peer: CachedPeer = {
  identity: parseIdentity(B),
  protocolVersion: 12,
  versionMajor: 1,
  versionMinor: 14,
  versionRevision: 1,
  paths: [parseInetAddress('192.168.1.2/9993')!, parseInetAddress('fd00::1/21000')!],
};

test('layout: version 2, identity (public), four u16 versions, u16 path count, InetAddresses', (t) => {
  const golden = [
    '02', // record version
    `caf2d0093e00${key}00`, // address, type 0, public key, no private key
    '000c0001000e0001', // protocol 12, version 1.14.1
    '0002', // two paths
    '04c0a801022709', // 0x04, 192.168.1.2, port 9993
    `06fd000000000000000000000000000001${(21000).toString(16).padStart(4, '0')}`, // 0x06, fd00::1, port 21000
  ].join('');
  const bytes = Buffer.from(encodeCachedPeer(peer)).toString('hex');
  t.is(bytes, golden);
  t.is(bytes.length / 2, 1 + 71 + 10 + 7 + 19);
});

test('round trip, and an unknown version is stored as 0 as ZeroTier One does', (t) => {
  const d = decodeCachedPeer(encodeCachedPeer(peer));
  t.true(d.ok);
  if (!d.ok) return;
  t.is(d.value.identity.toString(false), B);
  t.deepEqual(
    [d.value.protocolVersion, d.value.versionMajor, d.value.versionMinor, d.value.versionRevision],
    [12, 1, 14, 1],
  );
  t.deepEqual(d.value.paths, peer.paths);
  const unknown = decodeCachedPeer(
    encodeCachedPeer({ ...peer, protocolVersion: 0, versionMajor: -1, versionMinor: -1, versionRevision: -1 }),
  );
  t.true(unknown.ok && unknown.value.protocolVersion === 0 && unknown.value.versionMajor === 0);
});

test('damaged records: wrong version or truncation refused; a bad address ends the path list', (t) => {
  const good = encodeCachedPeer(peer);
  const v1 = good.slice();
  v1[0] = 1;
  t.deepEqual(decodeCachedPeer(v1), { ok: false, error: 'record version 1, expected 2' });
  t.false(decodeCachedPeer(new Uint8Array(0)).ok);
  t.false(decodeCachedPeer(good.subarray(0, 50)).ok);
  t.false(decodeCachedPeer(good.subarray(0, 80)).ok);
  const cut = decodeCachedPeer(good.subarray(0, good.length - 5)); // the IPv6 path truncated
  t.true(cut.ok && cut.value.paths.length === 1);
  const junk = good.slice();
  junk[82 + 7] = 0x99; // unknown address type where the second path starts
  const j = decodeCachedPeer(junk);
  t.true(j.ok && j.value.paths.length === 1);
});
