// Packet header codec, datagram classification, the seal/open pipeline (LZ4 + armor), relaying hops, and
// fragmentation with bounded, time-driven reassembly.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { MAX_PACKET_LENGTH, Verb } from '../../service/core/constants.js';
import { armor, armorBatch, createPeerKey } from '../../service/core/crypto.js';
import {
  decodeFragment,
  fragmentCount,
  Reassembler,
  setFragmentHops,
  splitPacket,
} from '../../service/core/fragment.js';
import {
  buildPacket,
  classifyDatagram,
  DropCounter,
  decodeHeader,
  decryptHelloTail,
  openPacket,
  payloadWithHeadroom,
  peekHello,
  sealHello,
  sealPacket,
  setPacketHops,
  writeHeader,
} from '../../service/core/packet.js';
import { decodeHello, decodeHelloTail, encodeHello } from '../../service/core/verbs.js';
import { fromHex, toHex } from '../../service/core/wire.js';
import { loadSharedKeys } from '../helpers/vl1-vectors.js';

const hex = (s: string) => fromHex(s.replace(/\s+/g, ''))!;
const pairs = loadSharedKeys();
const keyAB = createPeerKey(pairs.find((p) => p.a === 0x664dc8ba71 && p.b === 0xcaf2d0093e)!.key48);
const A = 0x664dc8ba71;
const B = 0xcaf2d0093e;

test('decodeHeader: golden#4 fields; length limits', (t) => {
  const g4 = hex('d2cf0ec61d1f243329077f37cd664dc8ba7118f5a270d6e92a3b8636389e5b2e61');
  t.deepEqual(decodeHeader(g4), {
    ok: true,
    value: {
      packetId: 0xd2cf0ec61d1f2433n,
      destination: 0x29077f37cd,
      source: 0x664dc8ba71,
      flags: 0x18,
      hops: 0,
      cipher: 3,
      fragmented: false,
      length: 33,
    },
  });
  t.deepEqual(decodeHeader(g4.subarray(0, 27)), { ok: false, reason: 'too-short' });
  t.deepEqual(decodeHeader(new Uint8Array(MAX_PACKET_LENGTH + 1)), { ok: false, reason: 'too-long' });
  const relayed = g4.slice();
  relayed[18] = 0x59;
  const h = decodeHeader(relayed);
  t.true(h.ok && h.value.hops === 1 && h.value.fragmented && h.value.cipher === 3);
});

test('classifyDatagram follows ZeroTier One order: beacon, short, fragment, packet', (t) => {
  const beacon = hex('0102030405060708 664dc8ba71');
  t.deepEqual(classifyDatagram(beacon), { kind: 'beacon', source: A });
  t.deepEqual(classifyDatagram(hex('00f3f42f')), { kind: 'ignored', reason: 'too-short' });
  t.deepEqual(classifyDatagram(new Uint8Array(16)), { kind: 'ignored', reason: 'too-short' });
  const frag = hex('b657b668223d4214 caf2d0093e ff 21 00 aabbcc');
  const c = classifyDatagram(frag);
  t.true(c.kind === 'fragment' && c.fragment.total === 2 && c.fragment.number === 1 && c.fragment.data.length === 3);
  t.deepEqual(classifyDatagram(hex('b657b668223d4214 caf2d0093e ff 81 00 aabbcc')), {
    kind: 'ignored',
    reason: 'bad-fragment',
  });
  t.deepEqual(classifyDatagram(hex('b657b668223d4214 caf2d0093e ff 22 00 aabbcc')), {
    kind: 'ignored',
    reason: 'bad-fragment',
  });
  t.deepEqual(classifyDatagram(new Uint8Array(20)), { kind: 'ignored', reason: 'too-short' });
  t.is(classifyDatagram(new Uint8Array(28)).kind, 'packet');
});

test('seal → open round trip for every suite; compression when asked and worthwhile', (t) => {
  for (const suite of [0, 1, 3] as const) {
    for (const [payload, compress, expectCompressed] of [
      [new Uint8Array(0), false, false],
      [new TextEncoder().encode('x'.repeat(64)), true, false], // 64 bytes: not over the threshold
      [new TextEncoder().encode('x'.repeat(65)), true, true],
      [new Uint8Array(randomBytes(500)), true, false], // incompressible
      [new TextEncoder().encode('abc'.repeat(300)), false, false],
      [new TextEncoder().encode('abc'.repeat(300)), true, true],
    ] as const) {
      const b = sealPacket(
        keyAB,
        { packetId: 0x0102030405060708n, destination: B, source: A, verb: Verb.USER_MESSAGE, payload, compress },
        suite,
      );
      const o = openPacket(keyAB, b);
      t.true(o.ok, `suite ${suite}`);
      if (!o.ok) continue;
      t.is(o.value.verb, Verb.USER_MESSAGE);
      t.is(o.value.suite, suite);
      t.is(o.value.compressed, expectCompressed, `compressed ${payload.length}`);
      t.is(toHex(o.value.payload), toHex(payload));
      t.is(o.value.header.source, A);
    }
  }
});

test('openPacket drops, never throws: bad MAC, trusted path, bad LZ4, unknown cipher', (t) => {
  const b = sealPacket(keyAB, { packetId: 1n, destination: B, source: A, verb: Verb.ECHO, payload: hex('01') }, 3);
  const bad = b.slice();
  bad[28]! ^= 1;
  t.deepEqual(openPacket(keyAB, bad), { ok: false, reason: 'bad-mac' });
  const trusted = b.slice();
  trusted[18] = 0x10;
  t.deepEqual(openPacket(keyAB, trusted), { ok: false, reason: 'trusted-path' });
  const unknown = b.slice();
  unknown[18] = 0x28;
  t.deepEqual(openPacket(keyAB, unknown), { ok: false, reason: 'unsupported-cipher' });
  // A packet whose verb claims LZ4 but whose payload is not a valid block.
  const p = buildPacket({ packetId: 2n, destination: B, source: A, verb: Verb.ECHO, payload: hex('ffffffff') });
  p[27] = Verb.ECHO | 0x80;
  const sealed = p.slice();
  armor(keyAB, sealed, 3);
  t.deepEqual(openPacket(keyAB, sealed), { ok: false, reason: 'decompress-failed' });
  t.deepEqual(openPacket(keyAB, new Uint8Array(10)), { ok: false, reason: 'too-short' });
});

test('relays bump hops without breaking authentication (packets and fragments)', (t) => {
  const b = sealPacket(keyAB, { packetId: 3n, destination: B, source: A, verb: Verb.ECHO, payload: hex('') }, 3);
  setPacketHops(b, 1);
  t.is(b[18], 0x19);
  const o = openPacket(keyAB, b);
  t.true(o.ok && o.value.header.hops === 1);
  const f = hex('b657b668223d4214 caf2d0093e ff 21 00 aabb');
  setFragmentHops(f, 9);
  t.is(f[15], 1);
});

test('HELLO sealing: tail encrypted with the unmangled key, authenticated with suite 0, decrypts back', (t) => {
  const moons = [{ type: 0x7f, id: 0x29077f37cdn, timestamp: 0n }];
  const { payload, tailOffset } = encodeHello({
    protocolVersion: 12,
    versionMajor: 1,
    versionMinor: 14,
    versionRevision: 1,
    timestamp: 1n,
    identity: { address: A, publicKey: new Uint8Array(64) },
    physicalDestination: null,
    planetWorldId: 149604618n,
    planetWorldTimestamp: 2n,
    moons,
  });
  const b = sealHello(keyAB, { packetId: 0x1122334455667788n, destination: B, source: A, payload }, tailOffset);
  t.is(b[18], 0x00);
  t.not(toHex(b.subarray(28 + tailOffset)), toHex(payload.subarray(tailOffset)), 'tail encrypted on the wire');
  const o = openPacket(keyAB, b);
  t.true(o.ok && o.value.suite === 0 && o.value.verb === Verb.HELLO);
  if (!o.ok) return;
  const h = decodeHello(o.value.payload);
  t.true(h.ok && h.value.tailOffset === tailOffset);
  decryptHelloTail(keyAB, b, tailOffset);
  t.deepEqual(decodeHelloTail(b.subarray(28 + tailOffset)), { ok: true, value: moons });
});

function bigPacket(len: number, mtu = 1432): Uint8Array {
  return sealPacket(
    keyAB,
    {
      packetId: BigInt(`0x${randomBytes(8).toString('hex')}`),
      destination: B,
      source: A,
      verb: Verb.FRAME,
      payload: new Uint8Array(randomBytes(len - 28)),
    },
    3,
    mtu,
  );
}

test('fragmentation: 2766 bytes → two 1391-byte pieces (ZeroTier One cuts 1432 + 1350; receivers join any cut), reassembled', (t) => {
  const p = bigPacket(2766);
  t.is(p[18], 0x58, 'suite 3 + fragmented');
  t.is(fragmentCount(2766), 2);
  const pieces = splitPacket(p);
  t.deepEqual(
    pieces.map((x) => x.length),
    [1391, 1391],
  );
  // Equal cuts up to 7 pieces, none longer than the MTU, the last one shorter when the bytes do not divide.
  t.deepEqual(
    splitPacket(bigPacket(2767)).map((x) => x.length),
    [1392, 1391],
  );
  t.deepEqual(
    splitPacket(bigPacket(9928)).map((x) => x.length),
    [1432, 1432, 1432, 1432, 1432, 1432, 1432],
  );
  t.is(toHex(pieces[1]!.subarray(0, 16)), `${toHex(p.subarray(0, 8))}caf2d0093eff2100`);
  const r = new Reassembler();
  t.deepEqual(r.addFragment(0, (decodeFragment(pieces[1]!) as { ok: true; value: never }).value), { kind: 'pending' });
  const done = r.addHead(1, pieces[0]!);
  t.is(done.kind, 'complete');
  if (done.kind !== 'complete') return;
  t.is(toHex(done.packet), toHex(p));
  t.true(openPacket(keyAB, done.packet).ok);
  t.is(r.pending, 0);
});

test('reassembly: any order, duplicates ignored, 7 pieces max, mismatched totals dropped', (t) => {
  const p = bigPacket(9928);
  const pieces = splitPacket(p);
  t.is(pieces.length, 7);
  t.throws(() => splitPacket(bigPacket(9929)), { instanceOf: RangeError });
  const r = new Reassembler();
  const order = [3, 6, 0, 3, 1, 5, 2, 0];
  let result: string | undefined;
  for (const i of order) {
    const piece = pieces[i]!;
    const res =
      i === 0 ? r.addHead(10, piece) : r.addFragment(10, (decodeFragment(piece) as { ok: true; value: never }).value);
    t.is(res.kind, 'pending');
  }
  const last = r.addFragment(10, (decodeFragment(pieces[4]!) as { ok: true; value: never }).value);
  if (last.kind === 'complete') result = toHex(last.packet);
  t.is(result, toHex(p));
  // Mismatched total for the same packet ID.
  const f1 = decodeFragment(pieces[1]!);
  const odd = pieces[2]!.slice();
  odd[14] = 0x32;
  const f2 = decodeFragment(odd);
  if (!f1.ok || !f2.ok) return t.fail();
  t.is(r.addFragment(20, f1.value).kind, 'pending');
  t.deepEqual(r.addFragment(20, f2.value), { kind: 'dropped', reason: 'bad-fragment' });
});

test('reassembly memory is bounded: slot count, per-packet size, timeout with time passed in', (t) => {
  const r = new Reassembler({ maxPending: 4, timeout: 5000 });
  for (let i = 0; i < 10; i++) r.addHead(i, bigPacket(3000).subarray(0, 1432));
  t.is(r.pending, 4);
  t.is(r.drops.get('fragment-evicted'), 6);
  t.true(r.bytesHeld <= 4 * 1432);
  t.is(r.nextDeadline(), 6 + 5000);
  t.is(r.expire(5005), 0);
  t.is(r.expire(5006), 1);
  t.is(r.expire(100000), 3);
  t.is(r.pending, 0);
  t.is(r.drops.get('fragment-timeout'), 4);
  t.is(r.nextDeadline(), undefined);
  // An oversize set is dropped as soon as it exceeds the bound.
  const small = new Reassembler({ maxPacketLength: 2000 });
  const pieces = splitPacket(bigPacket(2766));
  t.is(small.addHead(0, pieces[0]!).kind, 'pending');
  const f = decodeFragment(pieces[1]!);
  if (!f.ok) return t.fail();
  t.deepEqual(small.addFragment(0, f.value), { kind: 'dropped', reason: 'fragment-too-long' });
  t.is(small.pending, 0);
  // A set that times out before its last piece never completes.
  const slow = new Reassembler({ timeout: 100 });
  slow.addHead(0, pieces[0]!);
  t.is(slow.addFragment(100, f.value).kind, 'pending', 'the old set expired; this starts a new one');
  t.is(slow.pending, 1);
});

test('reassembly allocates nothing per packet: each complete packet is lent in a reused buffer, in either order', (t) => {
  const r = new Reassembler();
  const frag = (b: Uint8Array) => (decodeFragment(b) as { ok: true; value: never }).value;
  const buffers = new Set<ArrayBufferLike>();
  for (let i = 0; i < 6; i++) {
    const p = bigPacket(2766);
    const [head, tail] = splitPacket(p) as [Uint8Array, Uint8Array];
    // Head first (the usual order: assembled where it is stored) or the fragment first (put together apart).
    const first = i % 2 === 0 ? r.addHead(i, head) : r.addFragment(i, frag(tail));
    t.is(first.kind, 'pending');
    const done = i % 2 === 0 ? r.addFragment(i, frag(tail)) : r.addHead(i, head);
    if (done.kind !== 'complete') return t.fail(done.kind);
    t.is(toHex(done.packet), toHex(p));
    buffers.add(done.packet.buffer);
  }
  t.is(buffers.size, 2, 'one buffer for in-order packets, one for the others');
});

test('buildPacket sets the fragmented flag from the MTU before armoring', (t) => {
  const small = buildPacket({
    packetId: 1n,
    destination: B,
    source: A,
    verb: Verb.FRAME,
    payload: new Uint8Array(1404),
  });
  t.is(small.length, 1432);
  t.is(small[18]! & 0x40, 0);
  const big = buildPacket({ packetId: 1n, destination: B, source: A, verb: Verb.FRAME, payload: new Uint8Array(1405) });
  t.is(big[18]! & 0x40, 0x40);
  const bigMtu = buildPacket(
    { packetId: 1n, destination: B, source: A, verb: Verb.FRAME, payload: new Uint8Array(2800) },
    2900,
  );
  t.is(bigMtu[18]! & 0x40, 0);
  t.deepEqual(splitPacket(bigMtu, 2900), [bigMtu]);
});

test('peekHello reads an unauthenticated HELLO (golden#0) so the key can be agreed first', (t) => {
  const g0 = hex(`b12bd98b4adc2beb29077f37cd664dc8ba71000b6f1d3cd287504e010c010e00
    01000001a200460bab664dc8ba7100d8f8254762a76c3dc8451a4375c19d5d22
    d735901ded78ebf588bb36bbff7639c939284a0af51fc1975acaadc0ab1f10ac
    85265fec7eaf5225d7059474d4891800040a63000127090000000008eac90a00
    0001a200459617adab`);
  const p = peekHello(g0);
  t.true(
    p.ok &&
      p.value.header.source === A &&
      p.value.hello.identity.address === A &&
      p.value.hello.timestamp === 1795300920235n,
  );
  const spoofed = g0.slice();
  spoofed[17]! ^= 1; // header source no longer matches the identity
  t.deepEqual(peekHello(spoofed), { ok: false, reason: 'malformed' });
  const g4 = hex('d2cf0ec61d1f243329077f37cd664dc8ba7118f5a270d6e92a3b8636389e5b2e61');
  t.deepEqual(peekHello(g4), { ok: false, reason: 'malformed' }, 'suite 3 is not a HELLO');
  t.deepEqual(peekHello(g0.subarray(0, 60)), { ok: false, reason: 'malformed' });
});

test('DropCounter counts by reason', (t) => {
  const c = new DropCounter();
  c.count('bad-mac');
  c.count('bad-mac');
  c.count('too-short', 3);
  t.is(c.get('bad-mac'), 2);
  t.is(c.total, 5);
  t.deepEqual(c.snapshot(), { 'bad-mac': 2, 'too-short': 3 });
});

test('writeHeader builds packets in place in one buffer; a batch armor then opens each one', (t) => {
  const n = 8;
  const len = 28 + 10 + 100;
  const buf = new Uint8Array(n * len);
  const offs = new Uint32Array(n);
  const lens = new Uint32Array(n).fill(len);
  for (let i = 0; i < n; i++) {
    offs[i] = i * len;
    buf.set(randomBytes(8), offs[i]!);
    writeHeader(buf, offs[i]!, B, A, Verb.FRAME);
    buf.fill(i, offs[i]! + 28, offs[i]! + len);
  }
  t.is(armorBatch(keyAB, buf, offs, lens, 3), 0);
  for (let i = 0; i < n; i++) {
    const o = openPacket(keyAB, buf.subarray(offs[i]!, offs[i]! + len));
    t.true(o.ok && o.value.verb === Verb.FRAME && o.value.payload.every((x) => x === i));
  }
});

test('a payload made with headroom is built into its packet in place, once; the bytes equal a copied build', (t) => {
  const spec = { packetId: 0x1122334455667788n, destination: B, source: A, verb: Verb.FRAME };
  const payload = payloadWithHeadroom(2000);
  payload.set(randomBytes(2000));
  const plain = payload.slice();
  const copied = buildPacket({ ...spec, payload: plain });
  const inPlace = buildPacket({ ...spec, payload });
  t.is(inPlace.buffer, payload.buffer, "built in the payload's own buffer");
  t.is(inPlace.byteOffset + 28, payload.byteOffset);
  t.is(toHex(inPlace), toHex(copied));
  // Built once (armoring would then encrypt it where it is): a second build of the same view copies it.
  const again = buildPacket({ ...spec, payload });
  t.not(again.buffer, payload.buffer);
  t.is(toHex(again.subarray(28)), toHex(payload));
});
