// VL1 over real UDP on 127.0.0.1: a root and two leaves, each its own process.

import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { parseIdentity } from '../../service/core/identity.js';
import { parseInetAddress } from '../../service/core/inet-address.js';
import { makeWorld, serializeWorld, WORLD_ID_EARTH, WORLD_TYPE_PLANET } from '../../service/core/world.js';
import { newKeyPair } from '../../service/random.js';
import { type NodeProc, pollPeers, startNodeProc } from '../helpers/node-proc-client.js';
import { vectorPath } from '../helpers/vl1-vectors.js';

const ids = JSON.parse(readFileSync(vectorPath('identities/identities.json'), 'utf8')) as {
  name: string;
  secret: string;
}[];
const secret = (name: string) => ids.find((i) => i.name === name)!.secret;
test('three processes: WHOIS, relayed USER_MESSAGE, RENDEZVOUS, direct path, planet update persisted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netcon-vl1-'));
  const base = 30000 + Math.floor(Math.random() * 20000);
  const ports = { R: base, A: base + 1, B: base + 2 };
  const keys = newKeyPair();
  const R = parseIdentity(secret('node-R'));
  const root = { identity: R, stableEndpoints: [parseInetAddress(`127.0.0.1/${ports.R}`)!] };
  const v1 = makeWorld(
    {
      type: WORLD_TYPE_PLANET,
      id: WORLD_ID_EARTH,
      timestamp: BigInt(Date.now()),
      updatesMustBeSignedBy: keys.publicKey,
      roots: [root],
    },
    keys,
  );
  const homes: Record<string, string> = {};
  for (const [n, name] of [
    ['R', 'node-R'],
    ['A', 'node-A'],
    ['B', 'node-B'],
  ] as const) {
    homes[n] = join(dir, n);
    rmSync(homes[n]!, { recursive: true, force: true });
    await execa('mkdir', ['-p', homes[n]!]);
    writeFileSync(join(homes[n]!, 'identity.secret'), secret(name), { mode: 0o600 });
    writeFileSync(join(homes[n]!, 'planet'), serializeWorld(v1));
  }
  const procs: NodeProc[] = [];
  t.teardown(() => {
    for (const p of procs) p.child.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  const r = startNodeProc([homes.R!, String(ports.R)]);
  procs.push(r);
  await r.waitFor((e) => e.event === 'ready');
  let a = startNodeProc([homes.A!, String(ports.A)]);
  let b = startNodeProc([homes.B!, String(ports.B)]);
  procs.push(a, b);
  await a.waitFor((e) => e.event === 'ready');
  await b.waitFor((e) => e.event === 'ready');
  // Both leaves online (the root admits one new identity per 2 s per /24, so B may wait for a retry).
  await pollPeers(a, (e) => e.online === true);
  await pollPeers(b, (e) => e.online === true);

  a.cmd({ cmd: 'send', to: 'caf2d0093e', text: 'hello B over the root' });
  const m = await b.waitFor((e) => e.event === 'message');
  t.is(m.text, 'hello B over the root');
  t.is(m.source, '664dc8ba71');
  const direct = await pollPeers(a, (e) =>
    (e.peers as { address: string; paths: string[] }[]).some(
      (p) => p.address === 'caf2d0093e' && p.paths.includes(`127.0.0.1/${ports.B}`),
    ),
  );
  t.true(((direct.received as Record<string, number>).RENDEZVOUS ?? 0) >= 1, 'A was introduced to B by the root');
  await pollPeers(b, (e) =>
    (e.peers as { address: string; paths: string[] }[]).some(
      (p) => p.address === '664dc8ba71' && p.paths.includes(`127.0.0.1/${ports.A}`),
    ),
  );

  // The root issues a planet update (signed with v1's key); restarted leaves fetch it in OK(HELLO) and store it.
  const next = newKeyPair();
  const v2 = makeWorld(
    {
      type: WORLD_TYPE_PLANET,
      id: v1.id,
      timestamp: v1.timestamp + 1000n,
      updatesMustBeSignedBy: next.publicKey,
      roots: [root],
    },
    keys,
  );
  const v2file = join(dir, 'planet-v2');
  writeFileSync(v2file, serializeWorld(v2));
  r.cmd({ cmd: 'install', file: v2file });
  t.is((await r.waitFor((e) => e.event === 'install')).accept, true);
  await r.waitFor((e) => e.event === 'world');
  for (const p of [a, b]) {
    p.child.kill();
    await once(p.child, 'exit');
  }
  a = startNodeProc([homes.A!, String(ports.A)]);
  procs.push(a);
  await a.waitFor((e) => e.event === 'world', 30000);
  b = startNodeProc([homes.B!, String(ports.B)]);
  procs.push(b);
  await b.waitFor((e) => e.event === 'world', 30000);
  for (const n of ['R', 'A', 'B'])
    t.deepEqual(readFileSync(join(homes[n]!, 'planet')), Buffer.from(serializeWorld(v2)), `${n}'s planet file is v2`);
});
