// The controller inside the real service: its routes on the authenticated local HTTP API (compact JSON,
// empty 404s), controller.d in the home folder, and a member node over real UDP on loopback getting
// ACCESS_DENIED, then — after authorization through HTTP — its config.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { formatInetAddress, parseInetAddress } from '../../service/core/inet-address.js';
import { makeWorld, WORLD_ID_EARTH, WORLD_TYPE_PLANET } from '../../service/core/world.js';
import { Service } from '../../service/daemon/service.js';
import { writeIdentityFiles, writePlanet } from '../../service/daemon/state-files.js';
import { UdpNode } from '../../service/daemon/udp-host.js';
import { newKeyPair } from '../../service/random.js';
import { controllerVector, tempHome, until, vectorIdentity } from '../helpers/controller-fixtures.js';
import { TestMember } from '../helpers/controller-sim.js';

const quiet = { info() {}, warn() {}, debug() {} };
const CREATE_BODY = controllerVector('api-requests.txt').split('\n')[3]!;

test('HTTP API and a member over UDP on loopback', async (t) => {
  const home = tempHome(t);
  const R = vectorIdentity('node-R');
  await writeIdentityFiles(home, R);
  // Port 0 binds a free UDP port; the planet names it once known, so write it after a first start.
  const probe = await Service.start({ home, port: 0, log: quiet });
  const port = probe.port;
  await probe.stop();
  const keys = newKeyPair();
  const planet = makeWorld(
    {
      type: WORLD_TYPE_PLANET,
      id: WORLD_ID_EARTH,
      timestamp: 1_795_300_000_000n,
      updatesMustBeSignedBy: keys.publicKey,
      roots: [{ identity: R, stableEndpoints: [parseInetAddress(`127.0.0.1/${port}`)!] }],
    },
    keys,
  );
  await writePlanet(home, planet);
  // The service runs on a clock the test can move forward (the controller's 1 s request gate reads it).
  let skew = 0;
  const clock = () => Date.now() + skew;
  const service = await Service.start({ home, port, log: quiet, clock });
  t.teardown(() => service.stop());
  const token = readFileSync(join(home, 'authtoken.secret'), 'utf8').trim();
  const http = async (method: string, path: string, body?: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { 'X-ZT1-Auth': token, 'Content-Type': 'application/json' },
      body,
    });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  t.is((await fetch(`http://127.0.0.1:${port}/controller`)).status, 401);
  const info = await http('GET', '/controller');
  t.is(info.status, 200);
  t.regex(info.text, /^\{\n\t"controller": true,\n\t"apiVersion": 4,\n\t"clock": \d+,\n\t"databaseReady": true\n\}\n$/);
  const created = await http('POST', '/controller/network/29077f37cd______', CREATE_BODY);
  t.is(created.status, 200);
  t.is(created.type, 'application/json');
  const n = JSON.parse(created.text);
  t.is(created.text, JSON.stringify(n), 'compact');
  const nwid = BigInt(`0x${n.id}`);
  const missing = await http('GET', `/controller/network/${n.id}/member/664dc8ba71`);
  t.is(missing.status, 404);
  t.is(missing.text, '');
  t.is(missing.type, null);
  t.is(JSON.parse((await http('GET', '/status')).text).address, '29077f37cd', 'the service routes still answer');

  const member = await UdpNode.start({ identity: vectorIdentity('node-A'), planet, port: 0 });
  t.teardown(() => member.close());
  const A = new TestMember(member);
  t.true(await until(10_000, () => member.node.online(Date.now())), 'member reaches the root');
  A.request(Date.now(), nwid);
  member.kick();
  t.true(await until(5000, () => A.errors.length > 0), 'ACCESS_DENIED arrives');
  t.is(A.errors[0]!.code, 0x07);
  const rec = JSON.parse((await http('GET', `/controller/network/${n.id}/member/664dc8ba71`)).text);
  t.false(rec.authorized);

  const auth = await http('POST', `/controller/network/${n.id}/member/664dc8ba71`, '{"authorized":true}');
  t.true(JSON.parse(auth.text).authorized);
  skew += 1100; // the controller ignores requests closer than 1 s on its clock
  A.request(Date.now(), nwid);
  member.kick();
  t.true(await until(5000, () => A.configs.length >= 2), 'config as OK and as push');
  t.deepEqual(
    A.last!.staticIps.map((a) => formatInetAddress(a)),
    ['10.77.0.91/24'],
  );
  await service.controller!.close();
  const onDisk = JSON.parse(
    readFileSync(join(home, 'controller.d', 'network', n.id, 'member', '664dc8ba71.json'), 'utf8'),
  );
  t.deepEqual(onDisk.ipAssignments, ['10.77.0.91']);
  t.is(onDisk.revision, 3);
});
