// The floor of netcon's design (intercept/tests/nc_floor.c), which netcon-connect and vl2-latency measure
// beside netcon: both modes run to the end, reap their processes, and report what the benchmarks parse.
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { CTESTS } from '../../testkit/intercept.js';

const FLOOR = join(CTESTS, 'nc_floor');

test('connect: clients, service and server run the connections and end together', async (t) => {
  // 2 threads for 0.3 s: every process exits (the parent waits for its children), within the timeout
  const r = await execa(FLOOR, ['connect', '0.3', '2'], { timeout: 30000 });
  const m = /^connections (\d+) seconds ([\d.]+)$/.exec(r.stdout.trim());
  t.truthy(m, r.stdout);
  t.true(Number(m![1]) > 0, 'connections were made');
  t.true(Number(m![2]) >= 0.3);
});

test('pingpong: the round trips through two relays, as nc_pingpong reports them', async (t) => {
  const r = await execa(FLOOR, ['pingpong', '500', '50'], { timeout: 30000 });
  const l = JSON.parse(r.stdout.trim()) as { rounds: number; min: number; p50: number; p99: number; q: number[] };
  t.is(l.rounds, 500);
  t.is(l.q.length, 100);
  t.true(l.min > 0 && l.min <= l.p50 && l.p50 <= l.p99, JSON.stringify(l));
});

test('bad arguments print usage and exit 2', async (t) => {
  const r = await execa(FLOOR, ['walk'], { reject: false });
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /usage: nc_floor/);
});
