// The poll set (native/poller.ts over native/src/fdpass.cc): every watched fd in one epoll instance, and one
// wake-up delivers every ready fd in one call from native code, before any microtask runs. Level-triggered
// like uv_poll; stop/close take effect at once, also for events already fetched in the same batch; a
// hang-up wakes the registered events; an empty set does not keep the process alive.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import test from 'ava';
import { execa } from 'execa';
import { Poller, pollSetStats } from '../../native/poller.js';
import { EV_HUP, EV_READ, EV_SHUT, EV_WRITE, fdpass } from '../../netcon/fdpass.js';

const one = Uint8Array.of(1);

function pairs(n: number): [number, number][] {
  return Array.from({ length: n }, () => fdpass.socketpair(fdpass.SOCK_STREAM) as [number, number]);
}

test('one wake-up delivers every ready fd before microtasks run', async (t) => {
  const ps = pairs(20);
  const pollers: Poller[] = [];
  let beforeMicrotask = 0;
  let microtaskRan = false;
  let seen = 0;
  const done = new Promise<void>((resolve) => {
    for (const [app, svc] of ps) {
      const p = new Poller(svc, (_s, ev) => {
        t.is(ev, EV_READ);
        if (seen === 0) queueMicrotask(() => (microtaskRan = true));
        if (!microtaskRan) beforeMicrotask++;
        fdpass.read(svc, new Uint8Array(8), 0, 8);
        p.stop();
        if (++seen === ps.length) resolve();
      });
      p.start(EV_READ);
      pollers.push(p);
      fdpass.write(app, one, 0, 1);
    }
  });
  await done;
  t.is(beforeMicrotask, 20, 'all twenty in one batch');
  for (const p of pollers) p.close();
  for (const [a, b] of ps) {
    fdpass.close(a);
    fdpass.close(b);
  }
});

test('level-triggered; stop and start; writable; a hang-up wakes the registered events', async (t) => {
  const [[app, svc]] = pairs(1) as [[number, number]];
  const events: number[] = [];
  let wake: (() => void) | null = null;
  const next = () => new Promise<void>((r) => (wake = r));
  const p = new Poller(svc, (_s, ev) => {
    events.push(ev);
    wake?.();
  });
  fdpass.write(app, one, 0, 1);
  p.start(EV_READ);
  await next();
  await next(); // unread data wakes again
  t.deepEqual(events.slice(0, 2), [EV_READ, EV_READ]);
  p.stop();
  events.length = 0;
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.deepEqual(events, [], 'no events while stopped');
  fdpass.read(svc, new Uint8Array(8), 0, 8);
  p.start(EV_WRITE);
  await next();
  t.is(events[0], EV_WRITE);
  p.start(EV_READ | EV_HUP);
  events.length = 0;
  fdpass.close(app);
  await next();
  t.is(events[0], EV_READ | EV_HUP | EV_SHUT, 'the peer closed: both directions shut');
  p.close();
  fdpass.close(svc);
});

test('a poller closed by a handler earlier in the same batch is not called', async (t) => {
  const ps = pairs(2);
  const calls: number[] = [];
  const pollers: Poller[] = [];
  let first: () => void = () => {};
  const called = new Promise<void>((r) => {
    first = r;
  });
  for (const [i, [, svc]] of ps.entries()) {
    pollers.push(
      new Poller(svc, () => {
        calls.push(i);
        for (const p of pollers) p.close(); // whichever runs first closes both
        first();
      }),
    );
  }
  for (const p of pollers) p.start(EV_READ);
  // both bytes are written before the loop polls again: one wake-up reports both fds
  for (const [app] of ps) fdpass.write(app, one, 0, 1);
  await called;
  // the rest of that batch, and any later turn, must not call the closed poller
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  t.is(calls.length, 1);
  for (const [a, b] of ps) {
    fdpass.close(a);
    fdpass.close(b);
  }
});

/** The fds registered in this process's epoll instances, as the kernel lists them (/proc/self/fdinfo). */
function epollTargets(): number[] {
  const out: number[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let link = '';
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the directory's own fd, gone
    }
    if (link !== 'anon_inode:[eventpoll]') continue;
    for (const m of readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').matchAll(/^tfd:\s+(\d+)/gm)) out.push(Number(m[1]));
  }
  return out;
}

test('closeUnshared: an fd only we hold leaves the epoll set by its close alone, with no epoll_ctl', (t) => {
  const [[app, svc]] = pairs(1) as [[number, number]];
  const p = new Poller(svc, () => t.fail('no event after closeUnshared'));
  p.start(EV_READ);
  t.true(epollTargets().includes(svc));
  const calls = pollSetStats.ctl;
  p.closeUnshared();
  t.is(pollSetStats.ctl, calls, 'no system call');
  t.true(epollTargets().includes(svc), 'registered until the close');
  fdpass.close(svc);
  t.false(epollTargets().includes(svc), 'the close of the last reference took it out');
  fdpass.close(app);

  // Why only unshared fds: another reference to the open file (a dup here; an app's copy of an end it
  // sent) keeps the registration after the close, under the closed fd's number.
  const [[app2, svc2]] = pairs(1) as [[number, number]];
  const copy = fdpass.dup(svc2);
  const q = new Poller(svc2, () => {});
  q.start(EV_READ);
  q.closeUnshared();
  fdpass.close(svc2);
  t.true(epollTargets().includes(svc2), 'still registered: the dup holds the file');
  fdpass.close(copy);
  t.false(epollTargets().includes(svc2));
  fdpass.close(app2);
});

test('a watched fd keeps the process alive until its event; an empty poll set does not', async (t) => {
  // the byte is written before the loop starts: only a loop kept alive by the registration delivers it
  const script = `
    import { fdpass, EV_READ } from '${new URL('../../netcon/fdpass.js', import.meta.url).href}';
    const [a, b] = fdpass.socketpair(fdpass.SOCK_STREAM);
    const p = new fdpass.Poller(b, () => { console.log('event'); p.close(); });
    p.start(EV_READ);
    fdpass.write(a, Uint8Array.of(1), 0, 1);
    process.on('exit', () => console.log('exit'));
  `;
  const r = await execa('node', ['--input-type=module', '-e', script], { timeout: 20_000, reject: false });
  t.is(r.exitCode, 0, r.stderr);
  t.deepEqual(r.stdout.split('\n'), ['event', 'exit'], 'the event came, then the process ended by itself');
});

test('a poller closed by closeUnshared no longer keeps the process alive', async (t) => {
  const script = `
    import { fdpass, EV_READ } from '${new URL('../../netcon/fdpass.js', import.meta.url).href}';
    const [a, b] = fdpass.socketpair(fdpass.SOCK_STREAM);
    const p = new fdpass.Poller(b, () => {});
    p.start(EV_READ);
    p.closeUnshared();
    fdpass.close(b);
    process.on('exit', () => console.log('exit'));
  `;
  const r = await execa('node', ['--input-type=module', '-e', script], { timeout: 20_000, reject: false });
  t.false(r.timedOut, 'the process ended by itself');
  t.is(r.stdout, 'exit', r.stderr);
});

test('a worker thread that ends with a watched fd and an event pending leaves the process unharmed', async (t) => {
  // Node unloads the addon when such a worker ends; the poll set must not call into it afterwards
  const worker = `
    const { fdpass, EV_READ } = await import('${new URL('../../netcon/fdpass.js', import.meta.url).href}');
    const [a, b] = fdpass.socketpair(fdpass.SOCK_STREAM);
    new fdpass.Poller(b, () => {}).start(EV_READ);
    fdpass.write(a, Uint8Array.of(1), 0, 1);
    setTimeout(() => process.exit(0), 20);
  `;
  const main = `
    import { Worker } from 'node:worker_threads';
    const w = new Worker(${JSON.stringify(worker)}, { eval: true });
    w.on('exit', (c) => console.log('worker exit', c));
  `;
  const r = await execa('node', ['--input-type=module', '-e', main], { timeout: 20_000, reject: false });
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout, 'worker exit 0');
});
