// VL1 simulation: a root and two leaves over the in-memory wire with a fake clock.

import test from 'ava';
import { makeWorld, serializeWorld, WORLD_TYPE_PLANET } from '../../service/core/world.js';
import { newKeyPair } from '../../service/random.js';
import { vectorIdentity as identity } from '../helpers/controller-fixtures.js';
import { MemWire, testPlanet } from '../helpers/mem-wire.js';

function setup() {
  const R = identity('node-R');
  const { planet, keys } = testPlanet(R);
  const wire = new MemWire();
  const r = wire.add('10.0.0.1/9993', { identity: R, planet });
  const a = wire.add('10.0.0.2/9993', { identity: identity('node-A'), planet });
  const b = wire.add('10.0.0.3/9993', { identity: identity('node-B'), planet });
  return { wire, r, a, b, planet, keys, R };
}

test('leaves come online with the root from the planet alone', (t) => {
  const { wire, r, a, b } = setup();
  t.true(wire.run(20_000, () => a.node.online(wire.now) && b.node.online(wire.now)));
  t.true(r.node.online(wire.now), 'a root is always online');
  const ra = a.node.peer(r.node.address)!;
  t.is(ra.vProto, 12, 'the leaf learned the root version from OK(HELLO)');
  t.is(ra.suite(), 3, 'and now speaks AES-GMAC-SIV to it');
  t.truthy(ra.bestPath(wire.now), 'the root path is learned');
  t.deepEqual(
    [...r.node.drops.keys()].filter((k) => k !== 'too-short'),
    [],
  );
});

test('WHOIS, relayed USER_MESSAGE, RENDEZVOUS, then a direct path', (t) => {
  const { wire, r, a, b } = setup();
  t.true(wire.run(20_000, () => a.node.online(wire.now) && b.node.online(wire.now)));
  t.is(a.node.peer(b.node.address), undefined, 'A does not know B yet');

  a.node.sendUserMessage(wire.now, b.node.address, 0x10000n, new TextEncoder().encode('hello B'));
  t.true(
    wire.run(5_000, () => b.messages.length > 0),
    'the message arrives',
  );
  t.is(new TextDecoder().decode(b.messages[0]!.data), 'hello B');
  t.is(b.messages[0]!.source, a.node.address);
  t.true((a.node.received.get('OK') ?? 0) > 0);
  t.truthy(a.node.peer(b.node.address), 'A learned B by WHOIS');
  t.true(
    (a.node.received.get('RENDEZVOUS') ?? 0) + (b.node.received.get('RENDEZVOUS') ?? 0) >= 1,
    'the root introduced them',
  );

  t.true(
    wire.run(
      5_000,
      () => !!a.node.peer(b.node.address)?.bestPath(wire.now) && !!b.node.peer(a.node.address)?.bestPath(wire.now),
    ),
    'A and B reach a direct path',
  );
  t.is(a.node.peer(b.node.address)!.bestPath(wire.now)!.toString(), '10.0.0.3/9993');
  const relayedBefore = wire.count(r, b);
  a.node.sendUserMessage(wire.now, b.node.address, 0x10000n, new TextEncoder().encode('direct'));
  wire.run(100, () => b.messages.length > 1);
  t.is(new TextDecoder().decode(b.messages[1]!.data), 'direct');
  t.true(wire.count(a, b) > 0, 'datagrams flow A→B directly');
  t.is(wire.count(r, b), relayedBefore, 'nothing more went through the root');
});

test('a planet update issued at the root reaches both leaves and is handed to the host to persist', (t) => {
  const { wire, r, a, b, planet, keys, R } = setup();
  t.true(wire.run(20_000, () => a.node.online(wire.now) && b.node.online(wire.now)));
  const next = newKeyPair();
  const v2 = makeWorld(
    {
      type: WORLD_TYPE_PLANET,
      id: planet.id,
      timestamp: planet.timestamp + 1000n,
      updatesMustBeSignedBy: next.publicKey,
      roots: [{ identity: R, stableEndpoints: planet.roots[0]!.stableEndpoints }],
    },
    keys,
  );
  t.true(r.node.installWorld(v2).accept);
  // Leaves HELLO their root every 224 s; the OK(HELLO) carries the newer planet.
  t.true(wire.run(240_000, () => a.worlds.length > 0 && b.worlds.length > 0));
  for (const leaf of [a, b]) {
    t.deepEqual(serializeWorld(leaf.worlds[0]!), serializeWorld(v2));
    t.is(leaf.node.topology.planet!.timestamp, v2.timestamp);
  }
  // A forged "update" signed with the old key is now refused.
  const forged = makeWorld({ ...v2, timestamp: v2.timestamp + 1n, updatesMustBeSignedBy: keys.publicKey }, keys);
  t.false(a.node.installWorld(forged).accept);
});

test('garbage datagrams are dropped and counted, never thrown', (t) => {
  const { wire, r, a } = setup();
  wire.run(10_000, () => a.node.online(wire.now));
  let seed = 1;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 20000; i++) {
    const len = rnd() % 200;
    const d = new Uint8Array(len);
    for (let j = 0; j < len; j++) d[j] = rnd() & 0xff;
    if (len > 18 && i % 2 === 0) d.set([0x29, 0x07, 0x7f, 0x37, 0xcd], 8); // addressed to R
    r.node.processWirePacket(wire.now, 0, a.address, d);
  }
  const dropped = [...r.node.drops.values()].reduce((x, y) => x + y, 0);
  t.true(dropped > 10000, `dropped ${dropped}`);
  t.is(r.node.drops.get('internal-error'), undefined);
});
