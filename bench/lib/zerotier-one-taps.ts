// ZeroTier One's own throughput, tap to tap, for vl2-throughput when ZT_ONE_BIN names its binary: two real
// nodes, each in its own network namespace (ZeroTier One never uses loopback paths) joined by a veth pair,
// on a private network of our controller (our service is the planet's root and the controller, in the first
// namespace); iperf3 -s on one node's tap address, iperf3 -c from the other namespace, one stream. Needs root
// (ip netns, /dev/net/tun). Nothing of ZeroTier One is part of netcon.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { addressToString } from '../../service/core/address.js';
import { newIdentity } from '../../service/random.js';
import { ROOT } from '../../testkit/intercept.js';
import {
  makeNetns,
  planetWithRoot,
  Scope,
  sleep,
  startZeroTier,
  writeHome,
  ZT_ONE_BIN,
  ztCli,
} from '../../testkit/zerotier-one.js';
import { waitFor } from '../../tools/cluster.js';

const ROOT_PORT = 29993;

/** One of our controller API calls, made with curl inside the namespace where the service runs. */
async function api(ns: string, home: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const token = readFileSync(join(home, 'authtoken.secret'), 'utf8').trim();
  const args = ['netns', 'exec', ns, 'curl', '-sS', '-f', '-X', method, '-H', `X-ZT1-Auth: ${token}`];
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '-d', JSON.stringify(body));
  const r = await execa('ip', [...args, `http://127.0.0.1:${ROOT_PORT}${path}`], { reject: false, timeout: 20000 });
  if (r.exitCode !== 0) throw new Error(`controller ${method} ${path}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Bytes per second of one TCP stream between two real ZeroTier One nodes' taps, over `seconds`. */
export async function zeroTierOneTapToTap(seconds: number, log: (m: string) => void): Promise<number> {
  if (!ZT_ONE_BIN) throw new Error('ZT_ONE_BIN is not set');
  const scope = new Scope();
  try {
    const ns = await makeNetns(scope, 'bench', 't', '10.234');
    const dir = mkdtempSync(join(tmpdir(), 'netcon-zt-bench-'));
    scope.dirs.push(dir);
    const rootId = newIdentity();
    const planet = planetWithRoot(rootId, `${ns.ipA}/${ROOT_PORT}`);
    const rootHome = join(dir, 'root');
    writeHome(rootHome, rootId, planet, false);
    scope.services.push(rootHome);
    const started = await execa(
      'ip',
      ['netns', 'exec', ns.a, join(ROOT, 'zerotier-netcon-service'), '-d', `-p${ROOT_PORT}`, rootHome],
      { reject: false },
    );
    if (started.exitCode !== 0) throw new Error(`our root did not start: ${started.stderr}`);
    const nodes = [
      { ns: ns.a, home: join(dir, 'z1'), id: newIdentity() },
      { ns: ns.b, home: join(dir, 'z2'), id: newIdentity() },
    ];
    for (const n of nodes) {
      writeHome(n.home, n.id, planet, true);
      startZeroTier(scope, n.ns, n.home);
    }
    log('ZeroTier One tap-to-tap: two real nodes starting');
    const nw = (await api(ns.a, rootHome, 'POST', `/controller/network/${addressToString(rootId.address)}______`, {
      name: 'bench',
      private: true,
      v4AssignMode: { zt: true },
      ipAssignmentPools: [{ ipRangeStart: '10.235.0.10', ipRangeEnd: '10.235.0.250' }],
      routes: [{ target: '10.235.0.0/24' }],
    })) as { id: string };
    const ips: string[] = [];
    for (const n of nodes) {
      await waitFor('real node ONLINE', 60000, async () =>
        /^200 info \S+ \S+ ONLINE/.test((await ztCli(n.ns, n.home, 'info')).out) ? true : undefined,
      );
      await ztCli(n.ns, n.home, 'join', nw.id);
      await api(ns.a, rootHome, 'POST', `/controller/network/${nw.id}/member/${addressToString(n.id.address)}`, {
        authorized: true,
      });
      ips.push(
        await waitFor('a tap address', 60000, async () => {
          const row = (await ztCli(n.ns, n.home, 'listnetworks')).out
            .split('\n')
            .find((l) => l.startsWith(`200 listnetworks ${nw.id} `))
            ?.split(' ');
          return row?.[5] === 'OK' && /^10\.235\./.test(row[8] ?? '') ? row[8]!.split('/')[0] : undefined;
        }),
      );
    }
    const [ip1] = ips as [string, string];
    const server = execa('ip', ['netns', 'exec', ns.a, 'iperf3', '-s', '-1', '-B', ip1, '-p', '5202'], {
      reject: false,
    });
    scope.children.push(server);
    // The path between the real nodes goes direct after a rendezvous: ping until it answers.
    await waitFor('ping between the taps', 60000, async () => {
      const p = await execa('ip', ['netns', 'exec', ns.b, 'ping', '-c', '1', '-W', '1', ip1], { reject: false });
      return p.exitCode === 0 ? true : undefined;
    });
    await sleep(1000);
    const r = await execa(
      'ip',
      ['netns', 'exec', ns.b, 'iperf3', '-c', ip1, '-p', '5202', '-t', String(seconds), '-J'],
      { reject: false },
    );
    const j = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second: number } }; error?: string };
    if (!j.end?.sum_received) throw new Error(`iperf3 between the real nodes: ${j.error ?? r.stdout.slice(0, 300)}`);
    return j.end.sum_received.bits_per_second / 8;
  } finally {
    await scope.close();
  }
}
