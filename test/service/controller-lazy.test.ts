// The embedded controller opens lazily (issue 16: most nodes of a host of many control no network): a home
// without controller.d gets none at start, and the controller opens on its first use, through the API or
// through a config request for one of the node's own networks. Real services, real HTTP on loopback.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { addressToString } from '../../service/core/address.js';
import { NetworkStatus } from '../../service/core/vl2/network-config.js';
import { Service } from '../../service/daemon/service.js';
import { until } from '../helpers/controller-fixtures.js';

const quiet = { info() {}, warn() {}, debug() {} };

test('no controller.d until the controller API is first called', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'netcon-lazy-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const service = await Service.start({ home, port: 0, log: quiet });
  t.teardown(() => service.stop());
  t.false(existsSync(join(home, 'controller.d')), 'a node that controls nothing has no controller.d');
  t.false(service.controller!.opened);
  const token = readFileSync(join(home, 'authtoken.secret'), 'utf8').trim();
  const get = (path: string) => fetch(`http://127.0.0.1:${service.port}${path}`, { headers: { 'X-ZT1-Auth': token } });
  t.is((await get('/status')).status, 200);
  t.false(existsSync(join(home, 'controller.d')), 'other routes leave it closed');
  const res = await get('/controller/network');
  t.is(res.status, 200);
  t.deepEqual(await res.json(), []);
  t.true(existsSync(join(home, 'controller.d')), 'opened by its first call');
  t.true(service.controller!.opened);
});

test('a config request for one of the node’s own networks opens the controller, which answers it', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'netcon-lazy-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const service = await Service.start({ home, port: 0, log: quiet });
  t.teardown(() => service.stop());
  t.false(existsSync(join(home, 'controller.d')));
  // A network of this node's own that was never created: its controller (this node) answers NOT_FOUND.
  const nwid = BigInt(`0x${addressToString(service.udp.node.address)}000042`);
  await service.networks!.join(nwid);
  t.true(
    await until(10000, () => service.networks!.get(nwid)?.net.status === NetworkStatus.NOT_FOUND),
    'NOT_FOUND from the node’s own controller',
  );
  t.true(existsSync(join(home, 'controller.d')));
});

test('a home with controller.d opens it at start (bad records are reported then)', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'netcon-lazy-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const first = await Service.start({ home, port: 0, log: quiet });
  await fetch(`http://127.0.0.1:${first.port}/controller`, {
    headers: { 'X-ZT1-Auth': readFileSync(join(home, 'authtoken.secret'), 'utf8').trim() },
  });
  await first.stop();
  const again = await Service.start({ home, port: 0, log: quiet });
  t.teardown(() => again.stop());
  t.true(again.controller!.opened);
});
