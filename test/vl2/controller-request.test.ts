// Config requests end to end: members on pure Nodes ask R's embedded controller over the in-memory wire.
// NOT_FOUND, ACCESS_DENIED (and the member record it creates), authorization by the API and the config
// that follows (OK plus push), flood limit, deauthorization revoking within seconds, public networks,
// join tokens, identity mismatch.
import test from 'ava';
import { EmbeddedController } from '../../service/controller/controller.js';
import { formatIdentity } from '../../service/core/identity.js';
import { formatInetAddress } from '../../service/core/inet-address.js';
import { LOCAL_REQUEST_PACKET_ID } from '../../service/core/vl2/controller-interface.js';
import {
  CREDENTIAL_TYPE,
  decodeRevocation,
  verifyCom,
  verifyCoo,
  verifyRevocation,
} from '../../service/core/vl2/credentials.js';
import { buildRequestMetadata, decodeNetworkConfig } from '../../service/core/vl2/network-config.js';
import {
  controllerVector,
  METADATA_1_14_1,
  RecordingSender,
  tempHome,
  vectorIdentity,
} from '../helpers/controller-fixtures.js';
import { controllerSim } from '../helpers/controller-sim.js';

const NWID = 0x29077f37cd90d431n;
const NWID_HEX = '29077f37cd90d431';
const CREATE_BODY = JSON.parse(controllerVector('api-requests.txt').split('\n')[3]!);
const A_HEX = '664dc8ba71';
const B_HEX = 'caf2d0093e';

test('an unknown network answers NOT_FOUND (ERROR 0x03 with the network ID)', async (t) => {
  const sim = await controllerSim(tempHome(t));
  const A = sim.members.A;
  A.request(sim.wire.now, NWID);
  t.true(await sim.settle(2000, () => A.errors.length > 0));
  t.deepEqual(A.errors, [{ code: 0x03, networkId: NWID }]);
  t.deepEqual(A.configs, []);
});

test('unauthorized on a private network: ACCESS_DENIED and the member record is created', async (t) => {
  const sim = await controllerSim(tempHome(t));
  await sim.call('POST', `/controller/network/${NWID_HEX}`, CREATE_BODY);
  const A = sim.members.A;
  A.request(sim.wire.now, NWID);
  t.true(await sim.settle(2000, () => A.errors.length > 0));
  t.deepEqual(A.errors, [{ code: 0x07, networkId: NWID }]);
  const m = JSON.parse((await sim.call('GET', `/controller/network/${NWID_HEX}/member/${A_HEX}`)).text!);
  t.false(m.authorized);
  t.is(m.revision, 1);
  t.is(m.identity, formatIdentity(vectorIdentity('node-A'), false));
  t.deepEqual(m.ipAssignments, []);
  t.is(m.vMajor, -1, 'versions are only recorded while authorized');
  // The retry 5 s later is denied again and changes nothing.
  sim.wire.run(5000);
  A.request(sim.wire.now, NWID);
  t.true(await sim.settle(2000, () => A.errors.length > 1));
  t.is(JSON.parse((await sim.call('GET', `/controller/network/${NWID_HEX}/member/${A_HEX}`)).text!).revision, 1);
});

test('authorized by the API: the next request gets the config as OK and as a push, as in the capture', async (t) => {
  const sim = await controllerSim(tempHome(t));
  await sim.call('POST', `/controller/network/${NWID_HEX}`, CREATE_BODY);
  const A = sim.members.A;
  A.request(sim.wire.now, NWID);
  t.true(await sim.settle(2000, () => A.errors.length > 0));
  const authTime = sim.wire.now;
  const auth = JSON.parse(
    (await sim.call('POST', `/controller/network/${NWID_HEX}/member/${A_HEX}`, { authorized: true })).text!,
  );
  t.is(auth.revision, 2);
  await sim.settle(1000);
  t.deepEqual(A.configs, [], 'no push before an authorized request (A has none on record)');

  sim.wire.run(5000);
  A.request(sim.wire.now, NWID);
  t.true(await sim.settle(3000, () => A.configs.length >= 2));
  t.deepEqual(
    A.configs.map((c) => c.via),
    ['ok', 'push'],
  );
  const cfg = A.last!;
  t.is(cfg.networkId, NWID);
  t.is(cfg.issuedTo, 0x664dc8ba71);
  t.is(cfg.name, 'ztref');
  t.is(cfg.revision, 1);
  t.is(cfg.mtu, 2800);
  t.is(cfg.multicastLimit, 32);
  t.is(cfg.flags, 0x02);
  t.deepEqual(
    cfg.staticIps.map((a) => formatInetAddress(a)),
    ['10.77.0.91/24'],
  );
  t.deepEqual(
    cfg.routes.map((r) => [formatInetAddress(r.target), r.via]),
    [['10.77.0.0/24', null]],
  );
  t.true(verifyCom(cfg.com!, sim.R));
  t.true(verifyCoo(cfg.certificatesOfOwnership[0]!, sim.R));

  // The member record now matches the vector's (times are ours).
  const text = (await sim.call('GET', `/controller/network/${NWID_HEX}/member/${A_HEX}`)).text!;
  const ours = JSON.parse(text);
  const vec = JSON.parse(controllerVector(`controller-network-${NWID_HEX}-member-${A_HEX}.json`));
  t.is(ours.lastAuthorizedTime, authTime);
  t.deepEqual(Object.keys(ours), Object.keys(vec));
  t.deepEqual({ ...ours, creationTime: 0, lastAuthorizedTime: 0 }, { ...vec, creationTime: 0, lastAuthorizedTime: 0 });

  // B, authorized before its first request, gets 10.77.0.216 on its first try.
  const B = sim.members.B;
  await sim.call('POST', `/controller/network/${NWID_HEX}/member/${B_HEX}`, { authorized: true });
  B.request(sim.wire.now, NWID);
  t.true(await sim.settle(3000, () => B.configs.length >= 1));
  t.deepEqual(
    B.last!.staticIps.map((a) => formatInetAddress(a)),
    ['10.77.0.216/24'],
  );
  t.deepEqual(JSON.parse((await sim.call('GET', `/controller/network/${NWID_HEX}/member`)).text!), {
    [A_HEX]: 3,
    [B_HEX]: 2,
  });
});

test('requests closer than 1 s are ignored', async (t) => {
  const sim = await controllerSim(tempHome(t));
  await sim.call('POST', `/controller/network/${NWID_HEX}`, CREATE_BODY);
  const A = sim.members.A;
  A.request(sim.wire.now, NWID);
  A.request(sim.wire.now, NWID);
  await sim.settle(900);
  t.is(A.errors.length, 1);
  t.is(sim.controller.counters.ignored, 1);
  sim.wire.run(1000);
  A.request(sim.wire.now, NWID);
  t.true(await sim.settle(2000, () => A.errors.length === 2));
});

test('a network edit is pushed to online members; deauthorization revokes within seconds', async (t) => {
  const sim = await controllerSim(tempHome(t));
  await sim.call('POST', `/controller/network/${NWID_HEX}`, CREATE_BODY);
  await sim.call('POST', `/controller/network/${NWID_HEX}/member/${A_HEX}`, { authorized: true });
  await sim.call('POST', `/controller/network/${NWID_HEX}/member/${B_HEX}`, { authorized: true });
  const { A, B } = sim.members;
  A.request(sim.wire.now, NWID);
  B.request(sim.wire.now, NWID);
  t.true(await sim.settle(3000, () => A.configs.length >= 1 && B.configs.length >= 1));
  await sim.settle(500);

  const before = A.configs.length;
  await sim.call('POST', `/controller/network/${NWID_HEX}`, { mtu: 1400, name: 'renamed' });
  t.true(await sim.settle(3000, () => A.configs.length > before && A.last!.name === 'renamed'));
  t.is(A.last!.mtu, 1400);
  t.is(A.last!.revision, 2);
  t.is(A.configs.at(-1)!.via, 'push');
  t.true(await sim.settle(3000, () => B.last!.name === 'renamed'));

  const start = sim.wire.now;
  await sim.call('POST', `/controller/network/${NWID_HEX}/member/${A_HEX}`, { authorized: false });
  t.true(await sim.settle(10_000, () => A.revocations.length > 0 && B.revocations.length > 0));
  t.true(sim.wire.now - start < 10_000);
  for (const rev of [A.revocations[0]!, B.revocations[0]!]) {
    t.is(rev.target, 0x664dc8ba71);
    t.is(rev.networkId, NWID);
    t.is(rev.credentialType, CREDENTIAL_TYPE.COM);
    t.is(rev.flags, 1n);
    t.true(verifyRevocation(rev, sim.R));
  }
  const errs = A.errors.length;
  sim.wire.run(2000);
  A.request(sim.wire.now, NWID);
  t.true(await sim.settle(3000, () => A.errors.length > errs));
  t.is(A.errors.at(-1)!.code, 0x07);

  // Deleting the network revokes B as well.
  const bRevs = B.revocations.length;
  await sim.call('DELETE', `/controller/network/${NWID_HEX}`);
  t.true(await sim.settle(5000, () => B.revocations.length > bRevs));
  t.true(B.revocations.some((r) => r.target === 0xcaf2d0093e));
});

test('public networks authorize on request; join tokens authorize on private ones', async (t) => {
  const sim = await controllerSim(tempHome(t));
  await sim.call('POST', `/controller/network/${NWID_HEX}`, { ...CREATE_BODY, private: false });
  const A = sim.members.A;
  A.request(sim.wire.now, NWID);
  t.true(await sim.settle(3000, () => A.configs.length >= 1));
  t.is(A.last!.type, 1);
  const m = JSON.parse((await sim.call('GET', `/controller/network/${NWID_HEX}/member/${A_HEX}`)).text!);
  t.true(m.authorized);
  t.is(m.lastAuthorizedCredentialType, 'public');

  const other = 0x29077f37cd000042n;
  await sim.call('POST', `/controller/network/29077f37cd000042`, { authTokens: { secret: 0, old: 5 } });
  const B = sim.members.B;
  const withToken = (tok: string) => {
    const d = buildRequestMetadata();
    d.add('a', `token:${tok}`);
    return d.bytes();
  };
  B.request(sim.wire.now, other, withToken('old'));
  t.true(await sim.settle(2000, () => B.errors.length > 0), 'an expired token is refused');
  sim.wire.run(1500);
  B.request(sim.wire.now, other, withToken('secret'));
  t.true(await sim.settle(3000, () => B.configs.length > 0));
  const mb = JSON.parse((await sim.call('GET', `/controller/network/29077f37cd000042/member/${B_HEX}`)).text!);
  t.is(mb.lastAuthorizedCredentialType, 'token');
  t.is(mb.lastAuthorizedCredential, 'secret');
});

test('a request from an identity other than the one on record is denied', async (t) => {
  const R = vectorIdentity('node-R');
  const now = { t: 1_795_300_000_000 };
  const { controller } = await EmbeddedController.open({ home: tempHome(t), identity: R, clock: () => now.t });
  const sender = new RecordingSender();
  controller.attach(sender);
  const call = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    controller.route({ method, segments: path.split('/').filter(Boolean), body });
  await call('POST', `/controller/network/${NWID_HEX}`, CREATE_BODY);
  // The record claims A's address with id1's key (as a colliding identity would).
  const id1 = vectorIdentity('id1');
  await call('POST', `/controller/network/${NWID_HEX}/member/${A_HEX}`, { authorized: true });
  const rec = controller.db.getMember(NWID_HEX, A_HEX)!;
  rec.identity = `${A_HEX}:0:${Buffer.from(id1.publicKey).toString('hex')}`;
  await controller.db.saveMember(rec);
  const A = vectorIdentity('node-A').toPublic();
  controller.request(now.t, { networkId: NWID, requester: A, metadata: new Uint8Array(0), packetId: 0x1234n });
  await controller.idle();
  t.deepEqual(
    sender.take().map((s) => (s.kind === 'error' ? [s.error, s.packetId, s.destination] : s.kind)),
    [['ACCESS_DENIED', 0x1234n, 0x664dc8ba71]],
  );
  // Requests for networks of other controllers are not ours to answer.
  controller.request(now.t, {
    networkId: 0x1111111111000001n,
    requester: A,
    metadata: new Uint8Array(0),
    packetId: 1n,
  });
  await controller.idle();
  t.deepEqual(sender.take(), []);
  // A legacy member (no revr) is given accept-all; the local request ID is answered like any other.
  now.t += 5000;
  const B = vectorIdentity('node-B').toPublic();
  await call('POST', `/controller/network/${NWID_HEX}`, { rules: [{ type: 'ACTION_DROP' }] });
  await call('POST', `/controller/network/${NWID_HEX}/member/${B_HEX}`, { authorized: true });
  controller.request(now.t, {
    networkId: NWID,
    requester: B,
    metadata: new Uint8Array(0),
    packetId: LOCAL_REQUEST_PACKET_ID,
  });
  await controller.idle();
  const sent = sender.take();
  t.deepEqual(
    sent.map((s) => (s.kind === 'config' ? s.packetId : s.kind)),
    [LOCAL_REQUEST_PACKET_ID, 0n],
    'the answer, then the push that follows the first authorized request',
  );
  const first = sent[0]!;
  if (first.kind !== 'config') return;
  const cfg = decodeNetworkConfig(first.config);
  if (!cfg.ok) return t.fail(cfg.reason);
  t.deepEqual(cfg.value.rules, [{ type: 'ACTION_ACCEPT', not: false, or: false }], 'no revr: accept-all');
  // The controller's own node asking in-process with packet ID 0 is a genuine request: it is denied.
  now.t += 5000;
  controller.request(now.t, { networkId: NWID, requester: R.toPublic(), metadata: new Uint8Array(0), packetId: 0n });
  await controller.idle();
  t.deepEqual(
    sender.take().map((s) => (s.kind === 'error' ? [s.error, s.destination] : s.kind)),
    [['ACCESS_DENIED', 0x29077f37cd]],
  );
});

test('deleting an authorized member revokes it; certificateTimeoutWindowSize sets the COM max delta', async (t) => {
  const R = vectorIdentity('node-R');
  const now = { t: 1_795_300_000_000 };
  const home = tempHome(t);
  const { controller } = await EmbeddedController.open({ home, identity: R, clock: () => now.t });
  const sender = new RecordingSender();
  controller.attach(sender);
  const call = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
    controller.route({ method, segments: path.split('/').filter(Boolean), body });
  await call('POST', `/controller/network/${NWID_HEX}`, CREATE_BODY);
  // Not writable through the API, but honoured when present in the file (clamped to 5 min … 2 h).
  const rec = controller.db.getNetwork(NWID_HEX)!;
  rec.certificateTimeoutWindowSize = 60_000;
  await controller.db.saveNetwork(rec);
  await call('POST', `/controller/network/${NWID_HEX}/member/${A_HEX}`, { authorized: true });
  const A = vectorIdentity('node-A').toPublic();
  controller.request(now.t, { networkId: NWID, requester: A, metadata: METADATA_1_14_1, packetId: 7n });
  await controller.idle();
  const answer = sender.take().find((s) => s.kind === 'config' && s.packetId === 7n);
  if (answer?.kind !== 'config') return t.fail('no config');
  const cfg = decodeNetworkConfig(answer.config);
  if (!cfg.ok) return t.fail(cfg.reason);
  t.is(cfg.value.credentialTimeMaxDelta, 300_000);
  t.is(cfg.value.com!.qualifiers[0]!.maxDelta, 300_000n);

  now.t += 1000;
  const del = await call('DELETE', `/controller/network/${NWID_HEX}/member/${A_HEX}`);
  t.is(del!.status, 200);
  await controller.idle();
  const revs = sender.take();
  t.is(revs.length, 1);
  const r = revs[0]!;
  if (r.kind !== 'revocation') return t.fail(r.kind);
  t.is(r.destination, 0x664dc8ba71);
  const dec = decodeRevocation(r.revocation);
  if (!dec.ok) return t.fail(dec.reason);
  t.is(dec.value.target, 0x664dc8ba71);
  t.is(dec.value.threshold, now.t);
  t.true(verifyRevocation(dec.value, R));
});

test('the controller node as its own member: deauthorization reaches it in-process (push error and revocation)', async (t) => {
  const R = vectorIdentity('node-R');
  const now = { t: 1_795_300_000_000 };
  const { controller } = await EmbeddedController.open({ home: tempHome(t), identity: R, clock: () => now.t });
  const sender = new RecordingSender();
  controller.attach(sender);
  const call = (method: 'POST', path: string, body?: unknown) =>
    controller.route({ method, segments: path.split('/').filter(Boolean), body });
  await call('POST', `/controller/network/${NWID_HEX}`, CREATE_BODY);
  await call('POST', `/controller/network/${NWID_HEX}/member/29077f37cd`, { authorized: true });
  controller.request(now.t, {
    networkId: NWID,
    requester: R.toPublic(),
    metadata: METADATA_1_14_1,
    packetId: LOCAL_REQUEST_PACKET_ID,
  });
  await controller.idle();
  t.deepEqual(
    sender.take().map((s) => [s.kind, s.kind === 'revocation' ? 0n : s.packetId]),
    [
      ['config', LOCAL_REQUEST_PACKET_ID],
      ['config', 0n],
    ],
  );
  now.t += 1000;
  await call('POST', `/controller/network/${NWID_HEX}/member/29077f37cd`, { authorized: false });
  await controller.idle();
  const after = sender.take();
  t.deepEqual(
    after.map((s) => (s.kind === 'error' ? [s.kind, s.error, s.packetId] : [s.kind, s.destination])),
    [
      ['revocation', 0x29077f37cd],
      ['error', 'ACCESS_DENIED', 0n],
    ],
  );
});

test('random request metadata is always answered', async (t) => {
  const R = vectorIdentity('node-R');
  const now = { t: 1_795_300_000_000 };
  const { controller } = await EmbeddedController.open({ home: tempHome(t), identity: R, clock: () => now.t });
  const sender = new RecordingSender();
  controller.attach(sender);
  await controller.route({ method: 'POST', segments: ['controller', 'network', NWID_HEX], body: CREATE_BODY });
  await controller.route({
    method: 'POST',
    segments: ['controller', 'network', NWID_HEX, 'member', A_HEX],
    body: { authorized: true },
  });
  const A = vectorIdentity('node-A').toPublic();
  let seed = 99;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pieces = ['revr=', 'a=token:', 'majv=', 'pv=ffffffffffffffffff', '\n', '=', '\\', '\0', 'v=7', 'x', '\r', 'é'];
  for (let i = 0; i < 300; i++) {
    let text = '';
    for (let k = rnd(30); k > 0; k--) text += pieces[rnd(pieces.length)];
    const metadata = rnd(5) === 0 ? new Uint8Array(rnd(3000)).map(() => rnd(256)) : new TextEncoder().encode(text);
    now.t += 1001;
    controller.request(now.t, { networkId: NWID, requester: A, metadata, packetId: BigInt(i + 1) });
    await controller.idle();
    const answers = sender.take().filter((s) => s.kind !== 'revocation' && s.packetId === BigInt(i + 1));
    t.is(answers.length, 1);
    t.is(answers[0]!.kind, 'config');
  }
  const m = JSON.parse(
    (await controller.route({
      method: 'GET',
      segments: ['controller', 'network', NWID_HEX, 'member', A_HEX],
      body: undefined,
    }))!.text!,
  );
  t.deepEqual(m.ipAssignments, ['10.77.0.91']);
});
