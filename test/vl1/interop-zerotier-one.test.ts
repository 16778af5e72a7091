// Interop with a real ZeroTier One (1.14.1) over real UDP, when ZT_ONE_BIN names its binary:
//   (a) the real node is the planet's root and one of our nodes completes HELLO/OK with it;
//   (b) one of our nodes is the root and the real node, as a leaf, comes ONLINE through it.
// ZeroTier One never uses loopback paths, so each side lives in a network namespace that this test
// creates (joined by a veth pair on 10.231.x.0/24) and deletes afterwards. Needs root (ip netns).
// Without ZT_ONE_BIN the tests are registered as skipped and the reason is printed.
//
//   ZT_ONE_BIN=/path/to/zerotier-one npx ava dist/test/vl1/interop-zerotier-one.test.js
// ZT_INTEROP_SOAK_MS=130000 also keeps each pair up that long and checks that keepalives hold it together.
// ZeroTier One is built outside this repository (e.g. `make one ZT_SSO_SUPPORTED=0` in its 1.14.1 source);
// nothing of it is part of netcon.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import type { ResultPromise } from 'execa';
import { addressToString } from '../../service/core/address.js';
import type { Identity } from '../../service/core/identity.js';
import { newIdentity } from '../../service/random.js';
import {
  makeNetns,
  type Netns,
  planetWithRoot,
  Scope,
  sleep,
  startZeroTier,
  writeHome,
  ZT_ONE_BIN,
  ZT_PORT,
  ztCli,
} from '../../testkit/zerotier-one.js';
import { type NodeEvent, type NodeProc, pollPeers, startNodeProc } from '../helpers/node-proc-client.js';

const OUR_PORT = 29993;

interface PeerRow {
  address: string;
  role: string;
  version: number;
  software: string;
  paths: string[];
}

/** Optional: keep both nodes up this long after the handshake and check they still agree (keepalives). */
const SOAK_MS = Number(process.env.ZT_INTEROP_SOAK_MS ?? 0);

/** Polls the CLI until `pred` holds on its output; returns that output. */
async function pollCli(
  ns: string,
  home: string,
  args: string[],
  pred: (out: string) => boolean,
  ms: number,
  zt: ResultPromise,
): Promise<string> {
  const until = Date.now() + ms;
  let last = '';
  while (Date.now() < until) {
    if (zt.exitCode !== undefined && zt.exitCode !== null) {
      throw new Error(`zerotier-one exited (${zt.exitCode}): ${(await zt).all}`);
    }
    const r = await ztCli(ns, home, ...args);
    last = r.out;
    if (r.code === 0 && pred(r.out)) return r.out;
    await sleep(500);
  }
  throw new Error(`zerotier-cli ${args.join(' ')}: condition not reached in ${ms} ms; last output:\n${last}`);
}

function startOurs(scope: Scope, ns: string, home: string, bind: string): NodeProc {
  const n = startNodeProc([home, String(OUR_PORT), bind], ['ip', 'netns', 'exec', ns]);
  scope.children.push(n.child);
  return n;
}

/** Polls our node's peer list until `pred` holds. */
function pollOurs(n: NodeProc, pred: (e: NodeEvent) => boolean, ms: number): Promise<NodeEvent> {
  return pollPeers(n, pred, ms, 500);
}

/** The `200 listpeers <ztaddr> <path;lastSend;lastReceive> <latency> <version> <role>` line for `address`. */
function listpeersLine(out: string, address: string): string[] | undefined {
  const line = out.split('\n').find((l) => l.startsWith(`200 listpeers ${address} `));
  return line?.trim().split(/\s+/);
}

function setup(t: ExecutionContext, tag: string): { scope: Scope; dir: string; net: () => Promise<Netns> } {
  const scope = new Scope();
  const dir = mkdtempSync(join(tmpdir(), 'netcon-ztone-'));
  scope.dirs.push(dir);
  t.teardown(() => scope.close());
  return { scope, dir, net: () => makeNetns(scope, 'zt', tag, '10.231') };
}

/** With ZT_INTEROP_SOAK_MS set: waits, then checks that both sides still list each other over the same path. */
async function soak(t: ExecutionContext, ours: NodeProc, ztAddr: string, ns: string, ztHome: string, ourAddr: string) {
  if (!(SOAK_MS > 0)) return;
  await sleep(SOAK_MS);
  const e = await pollOurs(ours, () => true, 5000);
  t.log(`after ${SOAK_MS} ms, ours: ${JSON.stringify(e)}`);
  const peer = (e.peers as PeerRow[]).find((p) => p.address === ztAddr);
  t.true(peer !== undefined && peer.paths.length === 1, 'our node still has a live path to the real node');
  t.deepEqual(e.drops, {});
  const info = await ztCli(ns, ztHome, 'info');
  const lp = await ztCli(ns, ztHome, 'listpeers');
  t.log(`after ${SOAK_MS} ms, real node: ${info.out}\n${lp.out}`);
  t.regex(info.out, /ONLINE/);
  t.not(listpeersLine(lp.out, ourAddr)?.[3], '-', 'the real node still has a preferred path to us');
}

const reg = ZT_ONE_BIN ? test.serial : test.skip;
if (!ZT_ONE_BIN) {
  console.log(
    'SKIPPED interop with ZeroTier One: ZT_ONE_BIN is not set. Set it to a zerotier-one 1.14.1 binary ' +
      '(and run as root: the test creates network namespaces) to check HELLO/OK against the real node.',
  );
}

/** The real node's home and ours under `dir`, each with its identity and the planet. */
function twoHomes(dir: string, ztId: Identity, ourId: Identity, planet: Uint8Array) {
  const ztHome = join(dir, 'zt');
  const ourHome = join(dir, 'ours');
  writeHome(ztHome, ztId, planet, true);
  writeHome(ourHome, ourId, planet, false);
  return { ztHome, ourHome };
}

reg('interop: a real ZeroTier One root answers our HELLO (OK), and lists us with a direct path', async (t) => {
  const { scope, dir, net } = setup(t, 'r');
  const ns = await net();
  const ztId = newIdentity(); // made by our code: ZeroTier One must accept it as its own
  const ourId = newIdentity();
  const ztAddr = addressToString(ztId.address);
  const ourAddr = addressToString(ourId.address);
  const planet = planetWithRoot(ztId, `${ns.ipA}/${ZT_PORT}`);
  const { ztHome, ourHome } = twoHomes(dir, ztId, ourId, planet);

  const zt = startZeroTier(scope, ns.a, ztHome);
  const info = await pollCli(ns.a, ztHome, ['info'], (o) => /^200 info \S+ \S+ ONLINE/.test(o), 30000, zt);
  t.log(`real root: ${info}`);
  t.regex(info, new RegExp(`^200 info ${ztAddr} 1\\.14\\.\\d+ ONLINE`), 'ZeroTier One runs with our identity');

  const ours = startOurs(scope, ns.b, ourHome, ns.ipB);
  const ready = await ours.waitFor((e) => e.event === 'ready');
  t.is(ready.address, ourAddr);

  // HELLO → OK(HELLO): our node learns the root's version and counts itself online.
  const peers = await pollOurs(
    ours,
    (e) =>
      e.online === true &&
      (e.peers as PeerRow[]).some((p) => p.address === ztAddr && p.version > 0 && p.paths.length > 0),
    60000,
  );
  const root = (peers.peers as PeerRow[]).find((p) => p.address === ztAddr)!;
  t.log(
    `our node: online=${peers.online} root=${JSON.stringify(root)} received=${JSON.stringify(peers.received)} drops=${JSON.stringify(peers.drops)}`,
  );
  t.is(root.role, 'PLANET');
  t.is(root.version, 12);
  t.regex(root.software, /^1\.14\.\d+$/);
  t.deepEqual(root.paths, [`${ns.ipA}/${ZT_PORT}`]);
  t.true(((peers.received as Record<string, number>).OK ?? 0) >= 1, 'an OK came back');
  t.deepEqual(peers.drops, {}, 'every packet from the real node authenticated and parsed');

  // And the real root lists us as a leaf with a direct path to our address and port.
  const lp = await pollCli(
    ns.a,
    ztHome,
    ['listpeers'],
    (o) => listpeersLine(o, ourAddr)?.[3]?.startsWith(`${ns.ipB}/${OUR_PORT};`) === true,
    30000,
    zt,
  );
  const row = listpeersLine(lp, ourAddr)!;
  t.log(`real root: ${row.join(' ')}`);
  t.is(row[5], '1.14.1', 'the root learned our version from our HELLO');
  t.is(row[6], 'LEAF');
  await soak(t, ours, ztAddr, ns.a, ztHome, ourAddr);
});

reg('interop: our root answers a real ZeroTier One leaf, which comes ONLINE through it', async (t) => {
  const { scope, dir, net } = setup(t, 'l');
  const ns = await net();
  const ztId = newIdentity();
  const ourId = newIdentity();
  const ztAddr = addressToString(ztId.address);
  const ourAddr = addressToString(ourId.address);
  const planet = planetWithRoot(ourId, `${ns.ipB}/${OUR_PORT}`);
  const { ztHome, ourHome } = twoHomes(dir, ztId, ourId, planet);

  const ours = startOurs(scope, ns.b, ourHome, ns.ipB);
  await ours.waitFor((e) => e.event === 'ready');
  const zt = startZeroTier(scope, ns.a, ztHome);

  // The real node HELLOs its roots on its ping tick; ONLINE needs our OK(HELLO).
  const info = await pollCli(ns.a, ztHome, ['info'], (o) => /^200 info \S+ \S+ ONLINE/.test(o), 60000, zt);
  t.log(`real leaf: ${info}`);
  t.regex(info, new RegExp(`^200 info ${ztAddr} 1\\.14\\.\\d+ ONLINE`));
  const lp = await pollCli(
    ns.a,
    ztHome,
    ['listpeers'],
    (o) => listpeersLine(o, ourAddr)?.[3]?.startsWith(`${ns.ipB}/${OUR_PORT};`) === true,
    30000,
    zt,
  );
  const row = listpeersLine(lp, ourAddr)!;
  t.log(`real leaf: ${row.join(' ')}`);
  t.is(row[5], '1.14.1');
  t.is(row[6], 'PLANET');

  // Our root knows the leaf, its version and its direct path.
  const peers = await pollOurs(
    ours,
    (e) => (e.peers as PeerRow[]).some((p) => p.address === ztAddr && p.version > 0 && p.paths.length > 0),
    30000,
  );
  const leaf = (peers.peers as PeerRow[]).find((p) => p.address === ztAddr)!;
  t.log(
    `our root: leaf=${JSON.stringify(leaf)} received=${JSON.stringify(peers.received)} drops=${JSON.stringify(peers.drops)}`,
  );
  t.is(leaf.role, 'LEAF');
  t.is(leaf.version, 12);
  t.regex(leaf.software, /^1\.14\.\d+$/);
  t.deepEqual(leaf.paths, [`${ns.ipA}/${ZT_PORT}`]);
  t.deepEqual(peers.drops, {}, 'every packet from the real node authenticated and parsed');
  await soak(t, ours, ztAddr, ns.a, ztHome, ourAddr);
});
