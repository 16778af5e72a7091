// Many nodes' joined networks in one process (issue 16): what each node's Networks costs while idle. Real
// Networks (networks.d, fs.watch, lwIP stacks) over VL1 nodes on the in-memory wire.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Vl2 } from '../../service/core/vl2/vl2.js';
import { Networks, rescanPacer } from '../../service/daemon/networks.js';
import { newIdentity } from '../../service/random.js';
import { trackTimers } from '../helpers/live-timers.js';
import { MemWire } from '../helpers/mem-wire.js';

const quiet = { info() {}, warn() {}, debug() {} };

test.serial(
  'the networks.d rescans of many nodes in one process run on one timer, and a new file is still joined',
  async (t) => {
    const wire = new MemWire();
    const base = mkdtempSync(join(tmpdir(), 'netcon-nets-'));
    const all: Networks[] = [];
    const homes: string[] = [];
    try {
      const timers = trackTimers();
      for (let i = 0; i < 8; i++) {
        const sim = wire.add(`10.0.0.${i + 1}/9993`, { identity: newIdentity() });
        const home = join(base, String(i));
        homes.push(home);
        const n = new Networks({ home, vl2: new Vl2(sim.node, { log: () => {} }), log: quiet, rpc: false });
        await n.start();
        all.push(n);
      }
      // Without the shared pacer every node held a 3-s interval of its own (8 here; 1,000 in a big host).
      t.is(rescanPacer.timers, 1);
      // The pacer replaces its timer when a node added later is due earlier; the destroy hook of the replaced
      // one only runs after a turn of the loop (1 run in 8 counted it still alive: CI run of 83b152e).
      for (let i = 0; i < 20 && timers.live() > 1; i++) await new Promise((r) => setImmediate(r));
      t.is(timers.live(), 1, 'one timer for 8 idle nodes');
      timers.stop();

      // The watch still joins a network dropped into a node's networks.d while it runs.
      const nwid = 0x8056c2e21c000001n;
      writeFileSync(join(homes[3]!, 'networks.d', '8056c2e21c000001.conf'), '');
      const t0 = Date.now();
      while (!all[3]!.get(nwid) && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 20));
      t.truthy(all[3]!.get(nwid), 'joined from networks.d');
      t.is(all[2]!.get(nwid), undefined, 'only by that node');
    } finally {
      for (const n of all) await n.stop();
      rmSync(base, { recursive: true, force: true });
    }
    t.is(rescanPacer.timers, 0, 'the pacer holds no timer once every node stopped');
  },
);

test.serial('a config refresh that changes nothing is not written again (it came every minute per node)', async (t) => {
  const wire = new MemWire();
  const base = mkdtempSync(join(tmpdir(), 'netcon-nets-'));
  const sim = wire.add('10.0.0.1/9993', { identity: newIdentity() });
  const n = new Networks({ home: base, vl2: new Vl2(sim.node, { log: () => {} }), log: quiet, rpc: false });
  try {
    await n.start();
    const nwid = 0x8056c2e21c000002n;
    const j = await n.join(nwid);
    const file = join(base, 'networks.d', '8056c2e21c000002.conf');
    const settle = () => new Promise((r) => setTimeout(r, 300));
    // VL2 hands each config to the tap (configChanged); the first is cached in networks.d.
    j.tap.configChanged(j.net, new TextEncoder().encode('first'));
    await settle();
    t.is(readFileSync(file, 'utf8'), 'first');
    // The next refresh: same revision, same addresses and routes (only its timestamp would differ): not written.
    j.tap.configChanged(j.net, new TextEncoder().encode('second'));
    await settle();
    t.is(readFileSync(file, 'utf8'), 'first');
  } finally {
    await n.stop();
    rmSync(base, { recursive: true, force: true });
  }
});
