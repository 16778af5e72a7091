// Many independent stacks in one process: start-up time, memory per idle instance, idle CPU.
import test from 'ava';
import { precompile } from '../../netcon/lwip-module.js';
import { MemoryLink } from '../../netcon/memory-link.js';
import { Stack } from '../../netcon/stack.js';
import { trackTimers } from '../helpers/live-timers.js';
import { sendAll } from './_pair.js';

const N = 100;
const mk = (i: number) =>
  new Stack({
    mac: new Uint8Array([2, 0, 0, 1, i >> 8, i & 255]),
    mtu: 2800,
    addresses: [
      { address: `10.${i >> 8}.${i & 255}.1`, prefix: 24 },
      { address: `fd00:${i.toString(16)}::1`, prefix: 64 },
    ],
    routes: [{ target: '0.0.0.0', prefix: 0, via: `10.${i >> 8}.${i & 255}.254` }],
  });

test.serial(
  '100 instances start in under 1 s, cost ≤ 0.5 MB RSS each when idle (0.07-0.12 measured), and idle without CPU',
  async (t) => {
    precompile(); // the module is compiled once per process
    mk(9999).close();
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const stacks: Stack[] = [];
    for (let i = 0; i < N; i++) stacks.push(mk(i));
    const ms = performance.now() - t0;
    try {
      // Each one is live: it answers a ping to itself.
      await Promise.all(stacks.map((s, i) => s.ping(`10.${i >> 8}.${i & 255}.1`)));
      const perInstance = (process.memoryUsage().rss - rss0) / N;
      const cpu0 = process.cpuUsage();
      const w0 = performance.now();
      await new Promise((r) => setTimeout(r, 2000));
      const cpu = process.cpuUsage(cpu0);
      const idleMsPerSec = (cpu.user + cpu.system) / 1000 / ((performance.now() - w0) / 1000);
      t.log(
        `${N} instances in ${ms.toFixed(0)} ms (${(ms / N).toFixed(2)} ms each); ` +
          `RSS ${(perInstance / 1048576).toFixed(2)} MB each; idle CPU of all ${N}: ${idleMsPerSec.toFixed(2)} ms/s`,
      );
      t.true(ms < 1000, `start-up ${ms} ms`);
      t.true(perInstance <= 0.5 * 1048576, `RSS per instance ${perInstance}`);
      // An idle stack sets no timer (lwIP's ARP/ND/reassembly timers run only while they have state to age):
      // what is left is the process's own. Bound: 0.5 ms/s per stack.
      t.true(idleMsPerSec < 0.5 * N, `idle CPU ${idleMsPerSec} ms/s`);
    } finally {
      for (const s of stacks) s.close();
    }
  },
);

test.serial('instances are independent: same addresses in two stacks, separate sockets', (t) => {
  const a = mk(1);
  const b = mk(1);
  try {
    a.tcpListen({ family: 4, address: '', port: 80 });
    t.notThrows(() => b.tcpListen({ family: 4, address: '', port: 80 }));
    t.is(a.stats().tcpPcbs, 1);
    t.is(b.stats().tcpPcbs, 1);
  } finally {
    a.close();
    b.close();
  }
});

test.serial('an instance that has carried traffic stays ≤ 1.5 MB RSS when idle again (0.54 measured)', async (t) => {
  precompile();
  const rss0 = process.memoryUsage().rss;
  const stacks: Stack[] = [];
  const data = new Uint8Array(4 * 1024 * 1024);
  try {
    for (let p = 0; p < 10; p++) {
      const a = mk(1);
      const b = mk(2);
      b.setConfig({ mac: b.mac, mtu: 2800, addresses: [{ address: '10.0.1.2', prefix: 24 }], routes: [] });
      stacks.push(a, b);
      new MemoryLink(a, b);
      let got = 0;
      const done = new Promise<void>((resolve) => {
        b.tcpListen({ family: 4, address: '', port: 1 }, {}, (s) => {
          s.handlers = {
            onData(c) {
              got += c.length;
              s.consumed(c.length);
              if (got === data.length) resolve();
            },
          };
        });
      });
      const c = await a.connect({ family: 4, address: '10.0.1.2', port: 1 });
      sendAll(c, data);
      await done;
      c.close();
    }
    const perInstance = (process.memoryUsage().rss - rss0) / stacks.length;
    t.log(`after 4 MiB of TCP each, idle: RSS ${(perInstance / 1048576).toFixed(2)} MB per instance`);
    t.true(perInstance <= 1.5 * 1048576, `RSS per instance ${perInstance}`);
  } finally {
    for (const s of stacks) s.close();
  }
});

test.serial('an idle stack sets no timer; one with neighbours to age runs lwIP timers until they expire', async (t) => {
  precompile();
  const timers = trackTimers();
  const a = mk(1);
  const b = mk(2);
  b.setConfig({ mac: b.mac, mtu: 2800, addresses: [{ address: '10.0.1.2', prefix: 24 }], routes: [] });
  try {
    // Live (it answers a ping to itself), and then idle: lwIP's once-a-second ARP/ND/reassembly timers have
    // nothing to age, so neither stack wakes (1,000 idle stacks of a host wake 1,000 times a second otherwise).
    await a.ping('10.0.1.1');
    await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setImmediate(r)); // destroy hooks run after the turn
    t.is(timers.live(), 0, 'no timer for two idle stacks');
    // Frames between them: ARP entries on both sides, which age on lwIP's timer (ARP_MAXAGE).
    new MemoryLink(a, b);
    await a.ping('10.0.1.2');
    await new Promise((r) => setImmediate(r));
    t.is(timers.live(), 2, 'each stack with an ARP entry has its timer');
  } finally {
    a.close();
    b.close();
  }
  await new Promise((r) => setImmediate(r)); // destroy hooks run after the turn
  t.is(timers.live(), 0, 'closed stacks leave no timer');
  timers.stop();
});
