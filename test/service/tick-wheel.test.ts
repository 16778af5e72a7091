// The host's one timer for its nodes' ticks (service/daemon/tick-wheel.ts): ticks due within one quantum run in
// one timer callback (so their datagrams leave in one sendmmsg), never before they are due; a tick rescheduled
// or cancelled runs once or not at all. Real timers; the bounds hold on a loaded machine (a late timer only
// merges more ticks into one callback).
import test from 'ava';
import { TICK_QUANTUM_MS, TickWheel } from '../../service/daemon/tick-wheel.js';

/** Runs until `n` ticks ran; tells, for each, which timer callback ran it (ticks in one callback share it). */
function recorder(n: number) {
  let callback = 0;
  let marked = false;
  const ran: { id: number; callback: number; at: number }[] = [];
  let finish!: () => void;
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const tick = (id: number) => () => {
    if (!marked) {
      marked = true;
      // Microtasks run after the callback: the next tick to run belongs to another one.
      queueMicrotask(() => {
        marked = false;
        callback++;
      });
    }
    ran.push({ id, callback, at: performance.now() });
    if (ran.length === n) finish();
  };
  return { tick, ran, done };
}

test('ticks due within one quantum run in one callback, none early', async (t) => {
  const wheel = new TickWheel();
  const n = 40;
  const r = recorder(n);
  const due: number[] = [];
  for (let i = 0; i < n; i++) {
    const delay = 1 + ((i * 7) % (TICK_QUANTUM_MS - 10));
    due[i] = performance.now() + delay;
    wheel.schedule(r.tick(i), delay);
  }
  await r.done;
  t.is(wheel.size, 0);
  const callbacks = new Set(r.ran.map((x) => x.callback));
  // Forty deadlines spread over 90 ms span at most two quanta: at most two callbacks (40 with a timer each).
  t.true(callbacks.size <= 2, `${callbacks.size} callbacks`);
  for (const x of r.ran) t.true(x.at >= due[x.id]! - 1, `tick ${x.id} ran ${(due[x.id]! - x.at).toFixed(1)} ms early`);
  wheel.close();
});

test('a rescheduled tick runs once, at its new time; a cancelled one never', async (t) => {
  const wheel = new TickWheel();
  let moved = 0;
  let cancelled = 0;
  const r = recorder(1);
  const move = () => moved++;
  const drop = () => cancelled++;
  wheel.schedule(move, 10);
  wheel.schedule(drop, 10);
  wheel.cancel(drop);
  const start = performance.now();
  wheel.schedule(move, 3 * TICK_QUANTUM_MS);
  wheel.schedule(r.tick(0), 3 * TICK_QUANTUM_MS + 1);
  await r.done;
  t.is(moved, 1);
  t.is(cancelled, 0);
  t.true(r.ran[0]!.at - start >= 3 * TICK_QUANTUM_MS);
  t.is(wheel.size, 0);
  wheel.close();
});
