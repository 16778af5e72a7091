// UDP with addresses (IPv4 and IPv6, ephemeral ports, connect) and ICMP/ICMPv6 echo both ways.
import test from 'ava';
import type { SockAddr } from '../../netcon/stack-types.js';
import { StackError } from '../../netcon/stack-types.js';
import { makePair } from './_pair.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function next(sock: {
  onMessage?: (d: Uint8Array, from: SockAddr) => void;
}): Promise<{ data: string; from: SockAddr }> {
  return new Promise((resolve) => {
    sock.onMessage = (d, from) => resolve({ data: dec(d), from });
  });
}

for (const family of [4, 6] as const) {
  const A = family === 4 ? '10.7.0.1' : 'fd07::1';
  const B = family === 4 ? '10.7.0.2' : 'fd07::2';

  test(`UDP IPv${family}: sendTo and reply with source addresses, ephemeral port, connect`, async (t) => {
    const p = makePair();
    try {
      const server = p.b.udpOpen({ family, address: '', port: 5353 });
      t.is(server.local.port, 5353);
      const client = p.a.udpOpen({ family, address: '', port: 0 });
      t.true(client.local.port >= 0xc000, `ephemeral port ${client.local.port}`);
      t.is(t.throws(() => client.send(enc('x')), { instanceOf: StackError })?.code, 'EDESTADDRREQ');
      const atServer = next(server);
      client.sendTo(enc('question'), { family, address: B, port: 5353 });
      const q = await atServer;
      t.is(q.data, 'question');
      t.deepEqual(q.from, { family, address: A, port: client.local.port });
      const atClient = next(client);
      server.sendTo(enc('answer'), q.from);
      const r = await atClient;
      t.is(r.data, 'answer');
      t.deepEqual(r.from, { family, address: B, port: 5353 });
      // connect: send() goes to the peer; a large datagram is fragmented and reassembled
      client.connect({ family, address: B, port: 5353 });
      const big = new Uint8Array(20000).fill(0x41);
      const atServer2 = new Promise<number>((resolve) => {
        server.onMessage = (d) => resolve(d.length);
      });
      client.send(big);
      t.is(await atServer2, 20000);
      const e = t.throws(() => client.sendTo(new Uint8Array(70000), { family, address: B, port: 1 }), {
        instanceOf: StackError,
      });
      t.is(e?.code, 'EMSGSIZE');
      server.close();
      client.close();
      t.throws(() => client.send(enc('x')), { instanceOf: StackError });
    } finally {
      p.close();
    }
  });

  test(`ping IPv${family} both ways`, async (t) => {
    const p = makePair();
    try {
      await p.a.ping(B); // resolves the neighbour first
      const ab = await p.a.ping(B);
      const ba = await p.b.ping(A, { size: 1000 });
      t.true(ab >= 0 && ab < 1000);
      t.true(ba >= 0 && ba < 1000);
      t.log(`IPv${family} RTT a→b ${ab.toFixed(3)} ms, b→a ${ba.toFixed(3)} ms`);
      p.link.down = true;
      const e = await t.throwsAsync(p.a.ping(B, { timeoutMs: 200 }), { instanceOf: StackError });
      t.is((e as StackError).code, 'ETIMEDOUT');
    } finally {
      p.close();
    }
  });
}

test('UDP bind conflicts and wildcard dual stack', async (t) => {
  const p = makePair();
  try {
    const u = p.b.udpOpen({ family: 6, address: '::', port: 6000 });
    const e = t.throws(() => p.b.udpOpen({ family: 4, address: '', port: 6000 }), { instanceOf: StackError });
    t.is(e?.code, 'EADDRINUSE');
    const froms: number[] = [];
    const two = new Promise<void>((resolve) => {
      u.onMessage = (_d, from) => {
        froms.push(from.family);
        if (froms.length === 2) resolve();
      };
    });
    const c4 = p.a.udpOpen({ family: 4, address: '', port: 0 });
    const c6 = p.a.udpOpen({ family: 6, address: '', port: 0 });
    c4.sendTo(enc('4'), { family: 4, address: '10.7.0.2', port: 6000 });
    c6.sendTo(enc('6'), { family: 6, address: 'fd07::2', port: 6000 });
    await two;
    t.deepEqual(froms.sort(), [4, 6]);
  } finally {
    p.close();
  }
});
