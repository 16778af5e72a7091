// The local API and zerotier-cli against ZeroTier One 1.14.1's own output (test/fixtures/vectors/cli-api):
// the same JSON shapes (keys and value types, recursively) and the same text line formats.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { api, cli, startCluster } from '../../tools/cluster.js';
import { vectorPath } from '../helpers/vl1-vectors.js';

const vector = (name: string) => JSON.parse(readFileSync(vectorPath(`cli-api/${name}.json`), 'utf8')) as unknown;

/** The shape of a JSON value: keys and types, recursively (arrays by their first element). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.length > 0 ? [shape(v[0])] : [];
  if (v === null) return 'null';
  if (typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .map((k) => [k, shape((v as Record<string, unknown>)[k])]),
    );
  return typeof v;
}

test('API and CLI: /status, /peer, /network shapes and the text formats match ZeroTier One', async (t) => {
  const cluster = await startCluster(['A', 'B']);
  t.teardown(() => cluster.stop());
  const a = cluster.members[0]!;
  const get = (path: string) => api(a.home, a.port, 'GET', path);

  const status = (await get('/status')) as Record<string, unknown>;
  const vStatus = vector('nodeA-status') as Record<string, unknown>;
  t.deepEqual(Object.keys(status).sort(), Object.keys(vStatus).sort());
  t.deepEqual(
    shape((status.config as Record<string, unknown>).settings),
    shape((vStatus.config as Record<string, unknown>).settings),
  );

  const peers = (await get('/peer')) as unknown[];
  const vPeer = (vector('nodeA-peer') as unknown[])[0] as Record<string, unknown>;
  const root = peers.find((p) => (p as { role: string }).role === 'PLANET') as Record<string, unknown>;
  t.truthy(root);
  t.deepEqual(shape(root), shape(vPeer));

  const nets = (await get('/network')) as Record<string, unknown>[];
  const vNet = (vector('nodeA-network') as Record<string, unknown>[])[0]!;
  t.is(nets.length, 1);
  t.deepEqual(Object.keys(nets[0]!).sort(), Object.keys(vNet).sort());
  for (const k of Object.keys(vNet)) {
    if (k === 'multicastSubscriptions' || k === 'routes') continue; // compared below (element shapes)
    t.is(typeof nets[0]![k], typeof vNet[k], k);
  }
  t.deepEqual(shape((nets[0]!.routes as unknown[])[0]), shape((vNet.routes as unknown[])[0]));
  t.is(nets[0]!.portDeviceName, a.sock);

  // Text formats, line for line as in cli-output.txt.
  const info = (await cli(a.home, 'info')).stdout;
  t.regex(info, /^200 info [0-9a-f]{10} \d+\.\d+\.\d+ (ONLINE|OFFLINE)$/);
  const lp = (await cli(a.home, 'listpeers')).stdout.split('\n');
  t.is(lp[0], '200 listpeers <ztaddr> <path> <latency> <version> <role>');
  for (const l of lp.slice(1))
    t.regex(
      l,
      /^200 listpeers [0-9a-f]{10} (\S+\/\d+;\d+;\d+(,\S+\/\d+;\d+;\d+)*|-) -?\d+ (\d+\.\d+\.\d+|-) (PLANET|MOON|LEAF)$/,
    );
  // The path column holds ages (ms since the last send and receive), not times, as ZeroTier One's.
  const withPath = lp.slice(1).filter((l) => l.split(' ')[3] !== '-');
  t.true(withPath.length > 0, 'the root at least has a path');
  for (const l of withPath) {
    const [, sent, received] = l.split(' ')[3]!.split(';').map(Number);
    t.true(sent! >= 0 && sent! < 120000 && received! >= 0 && received! < 120000, l);
  }
  const peersTable = (await cli(a.home, 'peers')).stdout.split('\n');
  t.is(peersTable[0], '200 peers');
  t.is(peersTable[1], '<ztaddr>   <ver>  <role> <lat> <link>   <lastTX> <lastRX> <path>');
  const ln = (await cli(a.home, 'listnetworks')).stdout.split('\n');
  t.is(ln[0], '200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>');
  t.regex(
    ln[1]!,
    new RegExp(
      `^200 listnetworks ${cluster.nwid} netcon-demo [0-9a-f:]{17} OK PRIVATE ${a.sock} 10\\.147\\.20\\.\\d+/24$`,
    ),
  );
  t.is((await cli(a.home, 'get', cluster.nwid, 'status')).stdout, 'OK');
  t.is((await cli(a.home, 'get', cluster.nwid, 'ip')).stdout, a.ip);
  t.is((await cli(a.home, 'listmoons')).stdout, '[]');
});
