// TCP behaviour between two stacks: outcomes of connect, half-close, backlog, flow control, resets,
// addresses, and a stack reaching its own sockets.
import test from 'ava';
import { MemoryLink } from '../../netcon/memory-link.js';
import { Stack, type StackTcpListener } from '../../netcon/stack.js';
import { StackError, type TcpSocket } from '../../netcon/stack-types.js';
import { connectPair, mac, makePair } from './_pair.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not reached in time');
    await sleep(5);
  }
}

async function refusedCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'connected';
  } catch (e) {
    if (e instanceof StackError) return e.code;
    throw e;
  }
}

test('connect to a closed port is refused, IPv4 and IPv6', async (t) => {
  const p = makePair();
  try {
    t.is(await refusedCode(p.a.connect({ family: 4, address: '10.7.0.2', port: 9 })), 'ECONNREFUSED');
    t.is(await refusedCode(p.a.connect({ family: 6, address: 'fd07::2', port: 9 })), 'ECONNREFUSED');
  } finally {
    p.close();
  }
});

test('connect without a route is unreachable; to a silent host it times out', async (t) => {
  const p = makePair();
  try {
    t.is(await refusedCode(p.a.connect({ family: 4, address: '192.168.77.1', port: 80 })), 'ENETUNREACH');
    t.is(await refusedCode(p.a.connect({ family: 6, address: '2001:db8::1', port: 80 })), 'ENETUNREACH');
    p.link.down = true;
    const t0 = Date.now();
    t.is(await refusedCode(p.a.connect({ family: 4, address: '10.7.0.2', port: 80 }, { timeoutMs: 300 })), 'ETIMEDOUT');
    t.true(Date.now() - t0 >= 250);
  } finally {
    p.close();
  }
});

test('addresses of both ends, echo, orderly close both ways', async (t) => {
  const p = makePair();
  try {
    const { client, server } = await connectPair(p, 4, 7000);
    t.deepEqual(client.remote, { family: 4, address: '10.7.0.2', port: 7000 });
    t.is(client.local.address, '10.7.0.1');
    t.true(client.local.port >= 0xc000);
    t.deepEqual(server.local, { family: 4, address: '10.7.0.2', port: 7000 });
    t.deepEqual(server.remote, client.local);
    server.setNoDelay(true);
    server.setKeepAlive(true, 1000, 500, 3);
    client.setNoDelay(true);
    let serverClosed = null as string | undefined | null;
    server.handlers = {
      onData(c) {
        server.write(c);
        server.consumed(c.length);
      },
      onEnd() {
        server.close();
      },
      onClose(err) {
        serverClosed = err;
      },
    };
    const got: string[] = [];
    let clientClosed = null as string | undefined | null;
    let ended = false;
    client.handlers = {
      onData(c) {
        got.push(dec(c));
        client.consumed(c.length);
      },
      onEnd() {
        ended = true;
      },
      onClose(err) {
        clientClosed = err;
      },
    };
    t.is(client.write(enc('ping?')), 5);
    await until(() => got.join('') === 'ping?');
    client.shutdown();
    await until(() => ended && clientClosed !== null);
    t.is(clientClosed, undefined, 'orderly close is reported without an error');
    t.is(serverClosed, null, 'the server closed it itself: no onClose for the owner');
    t.throws(() => client.write(enc('x')), { instanceOf: StackError });
  } finally {
    p.close();
  }
});

test('half-close: EOF one way while the other side keeps sending', async (t) => {
  const p = makePair();
  try {
    const { client, server } = await connectPair(p, 6, 7001);
    let serverGotEnd = false;
    let serverGot = '';
    server.handlers = {
      onData(c) {
        serverGot += dec(c);
        server.consumed(c.length);
      },
      onEnd() {
        serverGotEnd = true;
      },
    };
    let clientGot = '';
    let clientEnd = false;
    client.handlers = {
      onData(c) {
        clientGot += dec(c);
        client.consumed(c.length);
      },
      onEnd() {
        clientEnd = true;
      },
    };
    client.write(enc('request'));
    client.shutdown();
    await until(() => serverGotEnd);
    t.is(serverGot, 'request');
    // The server keeps sending long after the client's FIN.
    for (let i = 0; i < 20; i++) {
      t.is(server.write(enc(`chunk${i};`)), `chunk${i};`.length);
      await sleep(2);
    }
    await until(() => clientGot.endsWith('chunk19;'));
    t.false(clientEnd);
    server.shutdown();
    await until(() => clientEnd);
    t.is(clientGot.split(';').length, 21);
  } finally {
    p.close();
  }
});

test('abort sends a reset: the peer sees ECONNRESET', async (t) => {
  const p = makePair();
  try {
    const { client, server } = await connectPair(p, 4, 7002);
    let err = null as string | undefined | null;
    server.handlers = {
      onClose(e) {
        err = e;
      },
    };
    client.abort();
    await until(() => err !== null);
    t.is(err, 'ECONNRESET');
  } finally {
    p.close();
  }
});

test('keepalive: an idle connection whose peer vanished times out', async (t) => {
  const p = makePair();
  try {
    const { client } = await connectPair(p, 4, 7010);
    let closed = null as string | undefined | null;
    client.handlers = {
      onClose(err) {
        closed = err;
      },
    };
    client.setKeepAlive(true, 400, 200, 2);
    const t0 = Date.now();
    p.link.down = true;
    await until(() => closed !== null, 5000);
    t.is(closed, 'ETIMEDOUT');
    t.true(Date.now() - t0 >= 700, `after idle + probes (${Date.now() - t0} ms)`);
  } finally {
    p.close();
  }
});

test('a paused listener holds its backlog; further connections wait and complete on resume', async (t) => {
  const p = makePair();
  try {
    const accepted: TcpSocket[] = [];
    const listener: StackTcpListener = p.b.tcpListen({ family: 4, address: '', port: 7003 }, { backlog: 2 }, (s) =>
      accepted.push(s),
    );
    listener.pause();
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      p.a.tcpConnect(undefined, { family: 4, address: '10.7.0.2', port: 7003 }, (o) => outcomes.push(o));
    }
    await until(() => listener.pending === 2 && outcomes.length === 2);
    t.is(listener.pending, 2, 'the backlog holds two established connections');
    t.deepEqual(outcomes, ['connected', 'connected']);
    t.is(accepted.length, 0);
    listener.resume();
    t.is(accepted.length, 2);
    // The other three retry their SYN (1 s, then 2 s) and are accepted now.
    await until(() => accepted.length === 5, 8000);
    t.deepEqual(outcomes, Array(5).fill('connected'));
  } finally {
    p.close();
  }
});

test('a reader that stops reading stalls the sender, which resumes when it reads again', async (t) => {
  const p = makePair();
  try {
    const { client, server } = await connectPair(p, 4, 7004);
    const total = 4 * 1024 * 1024;
    let received = 0;
    let unconsumed = 0;
    let reading = false;
    server.handlers = {
      onData(c) {
        received += c.length;
        if (reading) server.consumed(c.length);
        else unconsumed += c.length;
      },
    };
    let sent = 0;
    let writableCalls = 0;
    const block = new Uint8Array(64 * 1024).fill(7);
    const send = () => {
      while (sent < total) {
        const n = client.write(block.subarray(0, Math.min(block.length, total - sent)));
        sent += n;
        if (n === 0) return;
      }
    };
    client.handlers = {
      onWritable() {
        writableCalls++;
        send();
      },
    };
    send();
    // Stalled: the receive window (256 KiB) is nearly all in flight unread, and the send buffer is full.
    await until(() => received >= 200 * 1024 && client.writable() < 32 * 1024);
    const stalledAt = sent;
    t.true(received <= 256 * 1024 + 8192, `receive window bounds what arrives unread (${received})`);
    t.true(sent < total, 'the sender is stalled');
    t.true(client.writable() < 32 * 1024, 'no room worth resuming for');
    await sleep(300); // an observation period (not a wait for a condition): nothing may move during it
    t.is(sent, stalledAt, 'still stalled');
    reading = true;
    server.consumed(unconsumed);
    await until(() => received === total, 10000);
    t.is(sent, total);
    t.true(writableCalls > 0);
  } finally {
    p.close();
  }
});

test('the stack reaches its own sockets: own addresses, 127.0.0.1 and ::1', async (t) => {
  const s = new Stack({
    mac: mac(9),
    mtu: 2800,
    addresses: [
      { address: '10.8.0.9', prefix: 16 },
      { address: 'fd08::9', prefix: 64 },
    ],
    routes: [],
  });
  try {
    const frames: Uint8Array[][] = [];
    s.onOutput = (f) => frames.push(f);
    s.tcpListen({ family: 6, address: '::', port: 80 }, {}, (sock) => {
      sock.handlers = {
        onData(c) {
          sock.write(enc(`${sock.remote.address}:${dec(c)}`));
          sock.consumed(c.length);
        },
      };
    });
    for (const [family, address] of [
      [4, '10.8.0.9'],
      [4, '127.0.0.1'],
      [6, 'fd08::9'],
      [6, '::1'],
    ] as const) {
      const c = await s.connect({ family, address, port: 80 });
      const got = await new Promise<string>((resolve) => {
        c.handlers = { onData: (d) => resolve(dec(d)) };
        c.write(enc('hi'));
      });
      t.is(got, `${address}:hi`);
      c.close();
    }
    t.is(await s.ping('10.8.0.9').then(() => 'ok'), 'ok');
    t.is(await s.ping('::1').then(() => 'ok'), 'ok');
    t.is(frames.flat().filter((f) => f[12] === 0x08 && f[13] === 0x00).length, 0, 'no IPv4 left the stack');
    const u = s.udpOpen({ family: 4, address: '', port: 53 });
    const msg = new Promise<string>((resolve) => {
      u.onMessage = (d, from) => resolve(`${from.address}:${dec(d)}`);
    });
    const u2 = s.udpOpen({ family: 4, address: '', port: 0 });
    u2.sendTo(enc('q'), { family: 4, address: '127.0.0.1', port: 53 });
    t.is(await msg, '127.0.0.1:q');
  } finally {
    s.close();
  }
});

test('an IPv6 wildcard listener takes IPv4 too, unless v6only; EADDRINUSE on a second bind', async (t) => {
  const p = makePair();
  try {
    const got: number[] = [];
    p.b.tcpListen({ family: 6, address: '::', port: 7005 }, {}, (s) => got.push(s.remote.family));
    const c4 = await p.a.connect({ family: 4, address: '10.7.0.2', port: 7005 });
    const c6 = await p.a.connect({ family: 6, address: 'fd07::2', port: 7005 });
    await until(() => got.length === 2);
    t.deepEqual(got.sort(), [4, 6]);
    c4.close();
    c6.close();
    const e = t.throws(() => p.b.tcpListen({ family: 4, address: '10.7.0.2', port: 7005 }), {
      instanceOf: StackError,
    });
    t.is(e?.code, 'EADDRINUSE');
    p.b.tcpListen({ family: 6, address: '::', port: 7006 }, { v6only: true });
    t.is(await refusedCode(p.a.connect({ family: 4, address: '10.7.0.2', port: 7006 })), 'ECONNREFUSED');
  } finally {
    p.close();
  }
});

test('link-local IPv6 and neighbour discovery', async (t) => {
  const a = new Stack({ mac: mac(1), mtu: 1500, addresses: [], routes: [] });
  const b = new Stack({ mac: mac(2), mtu: 1500, addresses: [], routes: [] });
  const link = new MemoryLink(a, b);
  try {
    // EUI-64 from 02:00:5e:00:00:02 → fe80::5eff:fe00:2
    b.tcpListen({ family: 6, address: '', port: 22 }, {}, (s) => {
      s.handlers = { onData: (d) => s.write(d) };
    });
    const c = await a.connect({ family: 6, address: 'fe80::5eff:fe00:2', port: 22 });
    t.is(c.local.address, 'fe80::5eff:fe00:1');
    const echo = await new Promise<string>((resolve) => {
      c.handlers = { onData: (d) => resolve(dec(d)) };
      c.write(enc('ll'));
    });
    t.is(echo, 'll');
    t.true(link.counters.ab.frames > 0);
  } finally {
    a.close();
    b.close();
  }
});

test('IPv6 on-link beyond /64 (ZeroTier 6plane: a /80 per member in a /40): ND, ping and TCP', async (t) => {
  const routes = [{ target: 'fc00:1122:3300::', prefix: 40 }];
  const a = new Stack({
    mac: mac(1),
    mtu: 2800,
    addresses: [{ address: 'fc00:1122:33aa:bbcc:dd00::1', prefix: 80 }],
    routes,
  });
  const b = new Stack({
    mac: mac(2),
    mtu: 2800,
    addresses: [{ address: 'fc00:1122:33ee:ff00:1100::1', prefix: 80 }],
    routes,
  });
  const link = new MemoryLink(a, b);
  const icmp6: number[] = [];
  link.transform = (f) => {
    if (f[12] === 0x86 && f[13] === 0xdd && f[20] === 58) icmp6.push(f[54]!);
    return f;
  };
  try {
    b.tcpListen({ family: 6, address: '', port: 80 }, {}, (s) => {
      s.handlers = { onData: (d) => s.write(d) };
    });
    t.true((await a.ping('fc00:1122:33ee:ff00:1100::1')) >= 0);
    t.true(icmp6.includes(135) && icmp6.includes(136), 'neighbour solicitation and advertisement');
    const c = await a.connect({ family: 6, address: 'fc00:1122:33ee:ff00:1100::1', port: 80 });
    t.is(c.local.address, 'fc00:1122:33aa:bbcc:dd00::1');
    const echo = await new Promise<string>((resolve) => {
      c.handlers = { onData: (d) => resolve(dec(d)) };
      c.write(enc('6plane'));
    });
    t.is(echo, '6plane');
  } finally {
    a.close();
    b.close();
  }
});

test('configuration changes at runtime: new address, routes through a gateway', async (t) => {
  const p = makePair();
  try {
    // No route yet to 10.99.0.0/24; then one through b (10.7.0.2) as the gateway: frames for 10.99.0.5 go to b's MAC.
    t.is(await refusedCode(p.a.connect({ family: 4, address: '10.99.0.5', port: 1 })), 'ENETUNREACH');
    p.a.setConfig({ ...configOf(p.a), routes: [{ target: '10.99.0.0', prefix: 24, via: '10.7.0.2' }] });
    const seen: Uint8Array[] = [];
    p.link.transform = (f, dir) => {
      if (dir === 'ab') seen.push(f.slice());
      return f;
    };
    await t.throwsAsync(p.a.ping('10.99.0.5', { timeoutMs: 200 }), { instanceOf: StackError });
    const icmp = seen.find((f) => f[12] === 0x08 && f[13] === 0x00 && f[23] === 1);
    t.truthy(icmp, 'an ICMP echo left a');
    t.deepEqual([...icmp!.subarray(0, 6)], [...mac(2)], 'to the gateway b');
    t.deepEqual([...icmp!.subarray(30, 34)], [10, 99, 0, 5], 'for 10.99.0.5');
    p.link.transform = undefined;
    // IPv6 route via gateway
    p.b.setConfig({ ...configOf(p.b), addresses: [...p.b.addresses, { address: 'fd99::2', prefix: 64 }] });
    p.a.setConfig({ ...configOf(p.a), routes: [{ target: 'fd99::', prefix: 64, via: 'fd07::2' }] });
    p.b.tcpListen({ family: 6, address: 'fd99::2', port: 99 });
    const c = await p.a.connect({ family: 6, address: 'fd99::2', port: 99 });
    t.is(c.remote.address, 'fd99::2');
    // Address removed: the old one stops answering.
    p.b.setConfig({ ...configOf(p.b), addresses: [{ address: '10.7.0.2', prefix: 24 }] });
    t.is(await refusedCode(p.a.connect({ family: 6, address: 'fd07::2', port: 99 }, { timeoutMs: 500 })), 'ETIMEDOUT');
  } finally {
    p.close();
  }
});

test('several IPv4 addresses: each answers ARP, accepts connections, and is the source within its prefix', async (t) => {
  const p = makePair();
  try {
    // b gets two more addresses in other prefixes; a gets one in the second prefix too (on the same link).
    p.b.setConfig({
      ...configOf(p.b),
      addresses: [...p.b.addresses, { address: '10.20.0.2', prefix: 16 }, { address: '192.168.5.2', prefix: 24 }],
    });
    p.a.setConfig({ ...configOf(p.a), addresses: [...p.a.addresses, { address: '10.20.0.1', prefix: 16 }] });
    const seen: string[] = [];
    p.b.tcpListen({ family: 4, address: '', port: 4000 }, {}, (s) => {
      seen.push(`${s.local.address}<-${s.remote.address}`);
      s.handlers = { onData: (d) => s.write(d) };
    });
    const c1 = await p.a.connect({ family: 4, address: '10.20.0.2', port: 4000 });
    t.is(c1.local.address, '10.20.0.1', 'source within the second prefix');
    const echo = await new Promise<string>((resolve) => {
      c1.handlers = { onData: (d) => resolve(dec(d)) };
      c1.write(enc('second'));
    });
    t.is(echo, 'second');
    // a has no address in 192.168.5.0/24: unreachable from a; b reaches its own third address.
    t.is(await refusedCode(p.a.connect({ family: 4, address: '192.168.5.2', port: 4000 })), 'ENETUNREACH');
    const self = await p.b.connect({ family: 4, address: '192.168.5.2', port: 4000 });
    t.is(self.local.address, '192.168.5.2');
    t.true((await p.a.ping('10.20.0.2')) >= 0);
    t.true((await p.a.ping('10.7.0.2')) >= 0, 'the primary still answers');
    await until(() => seen.length === 2);
    t.deepEqual(seen.sort(), ['10.20.0.2<-10.20.0.1', '192.168.5.2<-192.168.5.2']);
    // Removing the address takes it away.
    p.b.setConfig({ ...configOf(p.b), addresses: p.b.addresses.slice(0, 2) });
    t.is(
      await refusedCode(p.a.connect({ family: 4, address: '10.20.0.2', port: 4000 }, { timeoutMs: 400 })),
      'ETIMEDOUT',
    );
  } finally {
    p.close();
  }
});

function configOf(s: Stack) {
  return { mac: s.mac, mtu: s.mtu, addresses: [...s.addresses], routes: [...s.routes] };
}
