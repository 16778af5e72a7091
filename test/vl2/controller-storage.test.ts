// controller.d on disk: ZeroTier One's layout and bytes, atomic writes, restart, corrupt files reported by
// path and never overwritten.
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { EmbeddedController } from '../../service/controller/controller.js';
import { FileDb } from '../../service/controller/file-db.js';
import type { ApiResponse, Method } from '../../service/daemon/api.js';
import { controllerVector, tempHome, vectorIdentity } from '../helpers/controller-fixtures.js';
import { vectorPath } from '../helpers/vl1-vectors.js';

const R = vectorIdentity('node-R');
const NWID = '29077f37cd90d431';
const CREATE_BODY = JSON.parse(controllerVector('api-requests.txt').split('\n')[3]!);
const ON_DISK = vectorPath('controller/controller.d-on-disk');

async function open(home: string, now = 1_795_300_912_191) {
  const clock = { now };
  const { controller, errors } = await EmbeddedController.open({ home, identity: R, clock: () => clock.now });
  const call = async (method: Method, path: string, body?: unknown): Promise<ApiResponse> =>
    (await controller.route({ method, segments: path.split('/').filter((s) => s.length > 0), body }))!;
  return { controller, errors, clock, call };
}

test('records are written as compact sorted JSON without a trailing newline, in FileDB layout, 0700 folder', async (t) => {
  const home = tempHome(t);
  const { controller, call } = await open(home);
  await call('POST', `/controller/network/${NWID}`, CREATE_BODY);
  await controller.idle();
  const dir = join(home, 'controller.d');
  t.is(statSync(dir).mode & 0o777, 0o700);
  t.true(statSync(join(dir, 'trace')).isDirectory());
  const file = readFileSync(join(dir, 'network', `${NWID}.json`), 'utf8');
  t.is(file, readFileSync(join(ON_DISK, 'network', `${NWID}.json`), 'utf8'));
  t.false(file.endsWith('\n'));
  t.false(existsSync(join(dir, 'network', NWID)), 'member folder appears with the first member');
  await call('POST', `/controller/network/${NWID}/member/664dc8ba71`, { authorized: true });
  await controller.idle();
  const m = JSON.parse(readFileSync(join(dir, 'network', NWID, 'member', '664dc8ba71.json'), 'utf8'));
  t.is(m.revision, 1);
  t.deepEqual(readdirSync(join(dir, 'network', NWID, 'member')), ['664dc8ba71.json'], 'no temporary files left');
});

test('the vector controller.d loads as is and the API serves its records unchanged', async (t) => {
  const home = tempHome(t);
  cpSync(ON_DISK, join(home, 'controller.d'), { recursive: true });
  const { errors, call, controller } = await open(home);
  t.deepEqual(errors, []);
  t.true(controller.db.isAllocated(NWID, '10.77.0.91'), 'allocations are rebuilt from the member files');
  t.true(controller.db.isAllocated(NWID, '10.77.0.216'));
  t.false(controller.db.isAllocated(NWID, '10.77.0.92'));
  t.is(
    (await call('GET', `/controller/network/${NWID}`)).text,
    readFileSync(join(ON_DISK, 'network', `${NWID}.json`), 'utf8'),
  );
  for (const a of ['664dc8ba71', 'caf2d0093e'])
    t.is(
      (await call('GET', `/controller/network/${NWID}/member/${a}`)).text,
      readFileSync(join(ON_DISK, 'network', NWID, 'member', `${a}.json`), 'utf8'),
    );
  t.deepEqual(
    JSON.parse((await call('GET', `/controller/network/${NWID}/member`)).text!),
    JSON.parse(controllerVector(`controller-network-${NWID}-member-list.json`)),
  );
});

test('state survives a restart; revisions count only changing saves', async (t) => {
  const home = tempHome(t);
  {
    const { controller, call } = await open(home);
    await call('POST', `/controller/network/${NWID}`, CREATE_BODY);
    await call('POST', `/controller/network/${NWID}`, { name: 'ztref' }); // no change
    await call('POST', `/controller/network/${NWID}`, { name: 'renamed' });
    await call('POST', `/controller/network/${NWID}/member/664dc8ba71`, { authorized: true, name: 'a' });
    await controller.idle();
  }
  const { call, errors } = await open(home, 1_795_400_000_000);
  t.deepEqual(errors, []);
  const n = JSON.parse((await call('GET', `/controller/network/${NWID}`)).text!);
  t.is(n.name, 'renamed');
  t.is(n.revision, 2);
  t.is(n.creationTime, 1_795_300_912_191);
  const m = JSON.parse((await call('GET', `/controller/network/${NWID}/member/664dc8ba71`)).text!);
  t.true(m.authorized);
  t.is(m.name, 'a');
  t.is(m.revision, 1);
});

test('a corrupt network file is reported with its path, left untouched and never overwritten', async (t) => {
  const home = tempHome(t);
  cpSync(ON_DISK, join(home, 'controller.d'), { recursive: true });
  const path = join(home, 'controller.d', 'network', `${NWID}.json`);
  const junk = '{"id":"29077f37cd90d431","name":';
  writeFileSync(path, junk);
  const { errors, call, controller } = await open(home);
  t.is(errors.length, 1);
  t.is(errors[0]!.path, path);
  t.is(errors[0]!.code, 'CORRUPT');
  t.true(errors[0]!.message.startsWith(path));
  t.is((await call('GET', `/controller/network/${NWID}`)).status, 404);
  t.deepEqual(JSON.parse((await call('GET', '/controller/network')).text!), []);
  await t.throwsAsync(() => call('POST', `/controller/network/${NWID}`, { name: 'x' }), { message: new RegExp(path) });
  await controller.idle();
  t.is(readFileSync(path, 'utf8'), junk);
});

test('a corrupt member file is reported, the rest loads, and the member cannot be overwritten', async (t) => {
  const home = tempHome(t);
  cpSync(ON_DISK, join(home, 'controller.d'), { recursive: true });
  const bad = join(home, 'controller.d', 'network', NWID, 'member', '664dc8ba71.json');
  writeFileSync(bad, '[1,2,3]');
  const wrongId = join(home, 'controller.d', 'network', NWID, 'member', 'caf2d0093e.json');
  const wrongText = readFileSync(wrongId, 'utf8').replaceAll('"id":"caf2d0093e"', '"id":"1111111111"');
  writeFileSync(wrongId, wrongText);
  writeFileSync(join(home, 'controller.d', 'network', 'notes.txt'), 'ignored: not a record name');
  const { errors, call } = await open(home);
  t.deepEqual(errors.map((e) => e.path).sort(), [bad, wrongId].sort());
  t.is((await call('GET', `/controller/network/${NWID}`)).status, 200);
  t.deepEqual(JSON.parse((await call('GET', `/controller/network/${NWID}/member`)).text!), {});
  await t.throwsAsync(() => call('POST', `/controller/network/${NWID}/member/664dc8ba71`, { authorized: false }));
  t.is(readFileSync(bad, 'utf8'), '[1,2,3]');
  t.is(readFileSync(wrongId, 'utf8'), wrongText);
});

test('FileDb serializes writes to one path: the last save wins on disk', async (t) => {
  const home = tempHome(t);
  const { db } = await FileDb.open(join(home, 'controller.d'));
  const saves = [];
  for (let i = 0; i < 20; i++) {
    const rec = db.getNetwork(NWID) ?? { id: NWID, nwid: NWID, objtype: 'network' };
    rec.name = `n${i}`;
    saves.push(db.saveNetwork(rec));
  }
  await Promise.all(saves);
  await db.flush();
  const onDisk = JSON.parse(readFileSync(db.networkPath(NWID), 'utf8'));
  t.is(onDisk.name, 'n19');
  t.is(onDisk.revision, 20);
  t.deepEqual(db.getNetwork(NWID), onDisk);
});
