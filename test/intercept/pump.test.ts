// The data pump (netcon/tcp-pump.ts) between an app's socketpair end and an lwIP connection:
// backpressure both ways, without polling, and half-close/close mapping.
import test from 'ava';
import { EAGAIN, fdpass, type PollerHandle, SHUT_WR } from '../../netcon/fdpass.js';
import type { TcpSocket } from '../../netcon/stack-types.js';
import { TcpPump } from '../../netcon/tcp-pump.js';
import { lwipPair } from '../../testkit/lwip-pair.js';
import { HOST_A, HOST_B } from '../../testkit/netcon-host.js';

interface Rig {
  app: number; // the app's end of the pair (blocking by default; we use MSG_DONTWAIT calls)
  pump: TcpPump;
  peer: TcpSocket; // the far end, driven directly by the test
  done: Promise<string | undefined>;
  close(): void;
}

async function rig(): Promise<Rig> {
  const [a, b, closeStacks] = lwipPair(HOST_A, HOST_B);
  const accepted = new Promise<TcpSocket>((resolve) => {
    a.tcpListen({ family: 4, address: '0.0.0.0', port: 9000 }, { backlog: 8, v6only: false, reuseAddr: false }, (s) => {
      s.handlers = {};
      resolve(s);
    });
  });
  const client = await new Promise<TcpSocket>((resolve, reject) =>
    b.tcpConnect(
      { family: 4, address: '10.147.17.2', port: 40000 },
      { family: 4, address: '10.147.17.1', port: 9000 },
      (o, s) => (o === 'connected' && s ? resolve(s) : reject(new Error(o))),
      { reuseAddr: false },
    ),
  );
  const peer = await accepted;
  const pair = fdpass.socketpair(fdpass.SOCK_STREAM);
  if (typeof pair === 'number') throw new Error(`socketpair ${pair}`);
  const [app, svc] = pair;
  let poller: PollerHandle | null = null;
  let finish: (e?: string) => void = () => {};
  const done = new Promise<string | undefined>((r) => {
    finish = r;
  });
  const pump: TcpPump = new TcpPump(svc, client, {
    watch: (ev) => {
      if (!poller) poller = new fdpass.Poller(svc, (_s, e) => pump.onEvent(e));
      poller.start(ev);
    },
    unwatchForClose: () => poller?.close(),
    abortive: () => false,
    done: (err) => {
      poller?.close();
      finish(err);
    },
  });
  return {
    app,
    pump,
    peer,
    done,
    close() {
      poller?.close();
      fdpass.close(app);
      closeStacks();
    },
  };
}

const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));

test('pump: an app that does not read closes the TCP window (no unbounded buffering)', async (t) => {
  const r = await rig();
  try {
    const chunk = new Uint8Array(64 * 1024).fill(1);
    let sent = 0;
    // the far end writes as long as its stack takes data; the app reads nothing
    for (let round = 0; round < 200; round++) {
      const n = r.peer.write(chunk);
      sent += n;
      if (n < chunk.length) await tick(20);
      if (r.peer.writable() === 0 && round > 20) break;
    }
    await tick(200);
    const stalled = sent;
    for (let i = 0; i < 5; i++) {
      sent += r.peer.write(chunk);
      await tick(20);
    }
    t.true(stalled < 16 * 1024 * 1024, `sent ${stalled} bytes into a non-reading app`);
    t.true(sent - stalled < 64 * 1024, 'no more progress while the app does not read');
    t.true(r.peer.writable() < chunk.length, 'the far end sees a closed window');
    // the app reads everything: the window opens again and all bytes arrive, in order
    let writable = false;
    r.peer.handlers.onWritable = () => {
      writable = true;
    };
    const buf = new Uint8Array(256 * 1024);
    let got = 0;
    const deadline = Date.now() + 10000;
    while (got < sent && Date.now() < deadline) {
      const n = fdpass.read(r.app, buf, 0, buf.length);
      if (n > 0) {
        for (let i = 0; i < n; i++) if (buf[i] !== 1) return t.fail('corrupt byte');
        got += n;
      } else await tick(5);
    }
    t.is(got, sent);
    t.true(writable, 'onWritable fired at the far end once the app read');
  } finally {
    r.close();
  }
});

test('pump: a stack that takes nothing stops the reading of the app (the app’s writes block)', async (t) => {
  const r = await rig();
  try {
    // the far end never consumes: its window closes and the pump must stop reading the app's fd
    let received = 0;
    r.peer.handlers.onData = (c) => {
      received += c.length;
    };
    const chunk = new Uint8Array(64 * 1024).fill(2);
    let written = 0;
    let blocked = false;
    for (let i = 0; i < 400 && !blocked; i++) {
      const n = fdpass.write(r.app, chunk, 0, chunk.length);
      if (n === -EAGAIN) {
        await tick(30);
        const again = fdpass.write(r.app, chunk, 0, chunk.length);
        if (again === -EAGAIN) blocked = true;
        else if (again > 0) written += again;
      } else if (n > 0) written += n;
      else return t.fail(`write ${n}`);
      if (i % 8 === 0) await tick(5);
    }
    t.true(blocked, 'the app end stops being writable');
    t.true(written < 32 * 1024 * 1024, `the app wrote ${written} bytes before blocking`);
    t.true(received <= written);
    // consuming at the far end lets everything through
    r.peer.handlers.onData = (c) => {
      received += c.length;
      r.peer.consumed(c.length);
    };
    r.peer.consumed(received);
    const deadline = Date.now() + 10000;
    while (received < written && Date.now() < deadline) await tick(10);
    t.is(received, written);
  } finally {
    r.close();
  }
});

test('pump: shutdown(SHUT_WR) by the app is a FIN; the far end’s FIN is EOF for the app; then the pump finishes', async (t) => {
  const r = await rig();
  try {
    let ended = false;
    r.peer.handlers.onData = (c) => r.peer.consumed(c.length);
    r.peer.handlers.onEnd = () => {
      ended = true;
    };
    t.is(fdpass.write(r.app, new Uint8Array([1, 2, 3]), 0, 3), 3);
    fdpass.shutdown(r.app, SHUT_WR);
    const deadline = Date.now() + 5000;
    while (!ended && Date.now() < deadline) await tick(10);
    t.true(ended, 'FIN reached the far end');
    r.peer.write(new Uint8Array([9]));
    r.peer.shutdown();
    const buf = new Uint8Array(16);
    let n = -EAGAIN;
    while (n === -EAGAIN && Date.now() < deadline) {
      n = fdpass.read(r.app, buf, 0, 16);
      if (n === -EAGAIN) await tick(10);
    }
    t.is(n, 1);
    let eof = -EAGAIN;
    while (eof === -EAGAIN && Date.now() < deadline) {
      eof = fdpass.read(r.app, buf, 0, 16);
      if (eof === -EAGAIN) await tick(10);
    }
    t.is(eof, 0, 'EOF after the far end’s FIN');
    t.is(await r.done, undefined, 'orderly end');
  } finally {
    r.close();
  }
});
