// Credentials: the controller's COM and COO re-created from their fields and signed with R's key come out
// byte-identical to what ZeroTier One 1.14.1 sent (signatures are deterministic); capability, tag and
// revocation layouts, signatures and custody chains; COM agreement; NETWORK_CREDENTIALS sections.
import { readFileSync } from 'node:fs';
import test from 'ava';
import {
  CREDENTIAL_TYPE,
  comAgrees,
  cooOwnsIp,
  cooOwnsMac,
  createCapability,
  createCom,
  createCoo,
  createRevocation,
  createTag,
  decodeCapability,
  decodeCom,
  decodeCoo,
  decodeNetworkCredentials,
  decodeRevocation,
  decodeTag,
  encodeCapability,
  encodeCom,
  encodeCoo,
  encodeNetworkCredentials,
  encodeRevocation,
  encodeTag,
  identityHashQualifiers,
  ipThing,
  REVOCATION_FLAG_FAST_PROPAGATE,
  signCapability,
  signCom,
  signCoo,
  signRevocation,
  signTag,
  THING_TYPE,
  verifyCapability,
  verifyCom,
  verifyCoo,
  verifyRevocation,
  verifyTag,
} from '../../service/core/vl2/credentials.js';
import { Dictionary } from '../../service/core/vl2/dictionary.js';
import type { Rule } from '../../service/core/vl2/rules.js';
import { toHex } from '../../service/core/wire.js';
import { vectorPath } from '../helpers/vl1-vectors.js';
import { vectorIdentities } from '../helpers/vl2-capture.js';

const ids = vectorIdentities();
const R = ids['node-R']!;
const A = ids['node-A']!;
const B = ids['node-B']!;
const NWID = 0x29077f37cd90d431n;
const confA = Dictionary.from(
  new Uint8Array(readFileSync(vectorPath('node-state/nodeA-networks.d-29077f37cd90d431.conf'))),
);
const TS_A = Number(confA.getI64('ts'));
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

test('COM: A’s cached COM decodes, and createCom + signCom with R reproduce it byte for byte', (t) => {
  const raw = confA.get('C')!;
  t.is(raw.length, 272);
  const d = decodeCom(raw);
  if (!d.ok) return t.fail();
  t.deepEqual(
    d.value.qualifiers.map((q) => [q.id, q.value, q.maxDelta]),
    [
      [0n, BigInt(TS_A), 0x1b7740n],
      [1n, NWID, 0n],
      [2n, 0x664dc8ba71n, 0xffffffffffffffffn],
      [3n, 0x0466332d360013e9n, 0xffffffffffffffffn],
      [4n, 0x3237f0b40c6120afn, 0xffffffffffffffffn],
      [5n, 0xeeeaa0421dc7937dn, 0xffffffffffffffffn],
      [6n, 0xfc94ebb6d0d381fcn, 0xffffffffffffffffn],
    ],
  );
  t.deepEqual(identityHashQualifiers(A), [
    0x0466332d360013e9n,
    0x3237f0b40c6120afn,
    0xeeeaa0421dc7937dn,
    0xfc94ebb6d0d381fcn,
  ]);
  t.is(d.value.signedBy, R.address);
  t.true(verifyCom(d.value, R));
  const mine = signCom(createCom({ timestamp: TS_A, maxDelta: 1800000, networkId: NWID, issuedTo: A }), R);
  t.is(toHex(encodeCom(mine)), toHex(raw));
});

test('COM decoding: type, qualifier count, order; unsigned COMs carry no signature', (t) => {
  const raw = confA.get('C')!;
  const bad = raw.slice();
  bad[0] = 2;
  t.like(decodeCom(bad), { ok: false });
  const many = raw.slice();
  many[2] = 9;
  t.like(decodeCom(many), { ok: false });
  const unsorted = raw.slice();
  unsorted[3 + 24 + 7] = 9; // qualifier 1's id becomes 9, then 2 follows
  t.like(decodeCom(unsorted), { ok: false });
  t.like(decodeCom(raw.subarray(0, 200)), { ok: false });
  t.like(decodeCom(new Uint8Array([...raw, 0])), { ok: false, reason: 'trailing-bytes' });
  const unsigned = createCom({ timestamp: 5, maxDelta: 10, networkId: NWID, issuedTo: B });
  const u = encodeCom(unsigned);
  t.is(u.length, 3 + 7 * 24 + 5);
  const back = decodeCom(u);
  t.true(back.ok && back.value.signedBy === 0 && back.value.signature.length === 0);
  t.false(verifyCom(unsigned, R));
});

test('COM agreement: timestamps within my max delta, same network, bound to the sender identity', (t) => {
  const mine = signCom(createCom({ timestamp: 1_000_000, maxDelta: 1800000, networkId: NWID, issuedTo: A }), R);
  const theirs = (ts: number, nwid = NWID) =>
    signCom(createCom({ timestamp: ts, maxDelta: 1800000, networkId: nwid, issuedTo: B }), R);
  t.true(comAgrees(mine, theirs(1_000_000 + 1800000), B));
  t.false(comAgrees(mine, theirs(1_000_000 + 1800001), B));
  t.true(comAgrees(mine, theirs(0), B), 'below as well (unsigned difference)');
  t.false(comAgrees(mine, theirs(1_000_000, NWID + 1n), B));
  t.false(comAgrees(mine, theirs(1_000_000), A), 'identity hash must be the sender’s');
  t.false(comAgrees({ qualifiers: [], signedBy: 0, signature: new Uint8Array(0) }, theirs(1), B));
  const partial = { ...theirs(1_000_000), qualifiers: theirs(1_000_000).qualifiers.slice(0, 3) };
  t.false(comAgrees(mine, partial, B), 'their COM lacks my qualifiers 3-6');
});

test('COO: A’s cached COO decodes, re-encodes, and is re-created byte for byte', (t) => {
  const raw = confA.get('COO')!;
  t.is(raw.length, 158);
  const d = decodeCoo(raw);
  if (!d.ok) return t.fail();
  t.is(d.value.id, 1);
  t.is(d.value.timestamp, TS_A);
  t.deepEqual(d.value.things, [{ type: THING_TYPE.IPV4, value: Uint8Array.from([10, 77, 0, 91]) }]);
  t.is(d.value.issuedTo, A.address);
  t.true(verifyCoo(d.value, R));
  t.true(cooOwnsIp(d.value, Uint8Array.from([10, 77, 0, 91])));
  t.false(cooOwnsIp(d.value, Uint8Array.from([10, 77, 0, 92])));
  t.is(toHex(encodeCoo(d.value)), toHex(raw));
  const mine = signCoo(
    createCoo({
      networkId: NWID,
      timestamp: TS_A,
      id: 1,
      issuedTo: A.address,
      things: [ipThing(Uint8Array.from([10, 77, 0, 91]))],
    }),
    R,
  );
  t.is(toHex(encodeCoo(mine)), toHex(raw));
  const tampered = { ...d.value, things: [ipThing(Uint8Array.from([10, 77, 0, 92]))] };
  t.false(verifyCoo(tampered, R));
  const withMac = createCoo({
    networkId: NWID,
    timestamp: 1,
    id: 2,
    issuedTo: B.address,
    things: [{ type: THING_TYPE.MAC, value: hex('321e621d3e41') }],
  });
  t.true(cooOwnsMac(withMac, hex('321e621d3e41')));
  const many = createCoo({
    networkId: NWID,
    timestamp: 1,
    id: 3,
    issuedTo: B.address,
    things: Array.from({ length: 20 }, (_, i) => ipThing(Uint8Array.from([10, 0, 0, i]))),
  });
  t.is(many.things.length, 16);
});

const twoRules: Rule[] = [
  { type: 'MATCH_IP_DEST_PORT_RANGE', not: false, or: false, start: 80, end: 80 },
  { type: 'ACTION_ACCEPT', not: false, or: false },
];

test('capability: layout, signature by the controller, custody chain, tampering', (t) => {
  const cap = signCapability(
    createCapability({ networkId: NWID, timestamp: TS_A, id: 7, rules: twoRules }),
    R,
    A.address,
  );
  const b = encodeCapability(cap);
  // 8+8+4+2 + rules (6 + 2) + 1 + 109 + 5 + 2 = 147, the size the live controller produced for 2 rules
  t.is(b.length, 147);
  t.is(toHex(b.subarray(0, 22)), `29077f37cd90d431${TS_A.toString(16).padStart(16, '0')}000000070002`);
  t.is(toHex(b.subarray(22, 31)), '2804005000500100' + '01');
  const d = decodeCapability(b);
  if (!d.ok) return t.fail(d.detail);
  t.deepEqual(d.value, cap);
  t.is(verifyCapability(d.value, R), 'ok');
  t.is(verifyCapability(d.value, A), 'invalid', 'first custody entry must be from the controller');
  const tampered = { ...d.value, id: 8 };
  t.is(verifyCapability(tampered, R), 'invalid');
  // a second hop A → B needs A's identity and M ≥ 2
  const chain = signCapability(
    createCapability({ networkId: NWID, timestamp: 1, id: 9, rules: twoRules, maxCustodyChainLength: 2 }),
    R,
    A.address,
  );
  const two = signCapability(chain, A, B.address);
  t.deepEqual(verifyCapability(two, R), { needIdentity: A.address });
  t.is(
    verifyCapability(two, R, (a) => (a === A.address ? A : undefined)),
    'ok',
  );
  t.is(
    verifyCapability(signCapability(two, B, R.address), R, () => B),
    'invalid',
    'longer than M',
  );
  const d2 = decodeCapability(encodeCapability(two));
  t.true(d2.ok && d2.value.custody.length === 2);
  // M beyond the limit, too many rules, truncated
  const badM = b.slice();
  badM[30] = 8;
  t.like(decodeCapability(badM), { ok: false });
  t.like(decodeCapability(b.subarray(0, 100)), { ok: false });
});

test('tag: 135 bytes, signing form, verify', (t) => {
  const tag = signTag(createTag({ networkId: NWID, timestamp: TS_A, id: 1000, value: 2, issuedTo: A.address }), R);
  const b = encodeTag(tag);
  t.is(b.length, 135);
  t.is(toHex(b.subarray(16, 37)), `000003e800000002664dc8ba7129077f37cd010060`);
  const d = decodeTag(b);
  t.deepEqual(d, { ok: true, value: tag });
  t.true(verifyTag(tag, R));
  t.false(verifyTag({ ...tag, value: 3 }, R));
  t.false(verifyTag(tag, A));
  t.like(decodeTag(b.subarray(0, 134)), { ok: false });
});

test('revocation: 152 bytes as the live controller sent for a deauthorization; verify', (t) => {
  const rev = createRevocation({
    id: 0x4b7b5c7a,
    networkId: NWID,
    credentialId: 0,
    threshold: TS_A,
    flags: REVOCATION_FLAG_FAST_PROPAGATE,
    target: B.address,
    credentialType: CREDENTIAL_TYPE.COM,
  });
  const signed = signRevocation(rev, R);
  const b = encodeRevocation(signed);
  t.is(b.length, 152);
  t.is(
    toHex(b.subarray(0, 54)),
    `000000004b7b5c7a29077f37cd90d4310000000000000000${TS_A.toString(16).padStart(16, '0')}0000000000000001caf2d0093e29077f37cd01010060`,
  );
  t.is(toHex(b.subarray(150)), '0000');
  t.deepEqual(decodeRevocation(b), { ok: true, value: signed });
  t.true(verifyRevocation(signed, R));
  t.false(verifyRevocation({ ...signed, threshold: TS_A + 1 }, R));
});

test('NETWORK_CREDENTIALS: all sections round trip; missing tail sections; revocation-only packet', (t) => {
  const com = signCom(createCom({ timestamp: 1, maxDelta: 2, networkId: NWID, issuedTo: A }), R);
  const cap = signCapability(createCapability({ networkId: NWID, timestamp: 1, id: 3, rules: twoRules }), R, A.address);
  const tag = signTag(createTag({ networkId: NWID, timestamp: 1, id: 5, value: 6, issuedTo: A.address }), R);
  const rev = signRevocation(
    createRevocation({ id: 1, networkId: NWID, credentialId: 0, threshold: 2, target: B.address, credentialType: 1 }),
    R,
  );
  const coo = signCoo(
    createCoo({
      networkId: NWID,
      timestamp: 1,
      id: 1,
      issuedTo: A.address,
      things: [ipThing(Uint8Array.from([10, 0, 0, 1]))],
    }),
    R,
  );
  const all = { coms: [com, com], capabilities: [cap], tags: [tag], revocations: [rev], coos: [coo] };
  const b = encodeNetworkCredentials(all);
  t.deepEqual(decodeNetworkCredentials(b), { ok: true, value: all });
  // an older sender stops after the COMs
  const onlyCom = encodeNetworkCredentials({ coms: [com] });
  const short = onlyCom.subarray(0, 272 + 1);
  t.deepEqual(decodeNetworkCredentials(short), {
    ok: true,
    value: { coms: [com], capabilities: [], tags: [], revocations: [], coos: [] },
  });
  t.deepEqual(decodeNetworkCredentials(new Uint8Array(0)), {
    ok: true,
    value: { coms: [], capabilities: [], tags: [], revocations: [], coos: [] },
  });
  const revOnly = encodeNetworkCredentials({ revocations: [rev] });
  t.is(revOnly.length, 161);
  t.is(toHex(revOnly.subarray(0, 7)), '00000000000001');
  t.like(decodeNetworkCredentials(b.subarray(0, b.length - 10)), { ok: false });
});

test('credentials of a network whose controller is not the signer never verify', (t) => {
  const other = 0x1122334455000001n; // controller 1122334455, not R
  t.false(verifyCom(signCom(createCom({ timestamp: 1, maxDelta: 2, networkId: other, issuedTo: A }), R), R));
  t.false(
    verifyTag(signTag(createTag({ networkId: other, timestamp: 1, id: 1, value: 1, issuedTo: A.address }), R), R),
  );
  t.false(
    verifyCoo(signCoo(createCoo({ networkId: other, timestamp: 1, id: 1, issuedTo: A.address, things: [] }), R), R),
  );
  t.false(
    verifyRevocation(
      signRevocation(
        createRevocation({
          id: 1,
          networkId: other,
          credentialId: 0,
          threshold: 1,
          target: A.address,
          credentialType: 1,
        }),
        R,
      ),
      R,
    ),
  );
  t.is(
    verifyCapability(
      signCapability(createCapability({ networkId: other, timestamp: 1, id: 1, rules: twoRules }), R, A.address),
      R,
    ),
    'invalid',
  );
});
