// TCP checksums summed by the glue's link_output as it copies frames out (checksum offload), and data written
// straight into a connection's send buffer (referenced by lwIP until acknowledged): every TCP frame on the wire
// carries a checksum this test recomputes itself, and the receiving stack (which verifies them: a link with a
// transform is not trusted) gets every byte.
import test from 'ava';
import type { Stack } from '../../netcon/stack.js';
import type { TcpSocket } from '../../netcon/stack-types.js';
import { connectPair, makePair, pattern, pump, sha256 } from './_pair.js';

/** The Internet checksum of the TCP segment in an Ethernet frame, pseudo-header included (0 = valid). */
function tcpChecksum(f: Uint8Array): number | undefined {
  let src: Uint8Array;
  let dst: Uint8Array;
  let seg: Uint8Array;
  if (f[12] === 0x08 && f[13] === 0x00 && f[23] === 6) {
    const ihl = (f[14]! & 15) * 4;
    if ((f[20]! & 0x3f) !== 0 || f[21] !== 0) return undefined; // a fragment
    const total = (f[16]! << 8) | f[17]!;
    src = f.subarray(26, 30);
    dst = f.subarray(30, 34);
    seg = f.subarray(14 + ihl, 14 + total);
  } else if (f[12] === 0x86 && f[13] === 0xdd && f[20] === 6) {
    src = f.subarray(22, 38);
    dst = f.subarray(38, 54);
    seg = f.subarray(54, 54 + ((f[18]! << 8) | f[19]!));
  } else {
    return undefined;
  }
  let sum = 6 + seg.length;
  const add = (b: Uint8Array) => {
    for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  };
  add(src);
  add(dst);
  add(seg);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Writes of many sizes: small ones (copied by lwIP), large and odd ones (in the send buffer, pieces at odd offsets). */
function sendVaried(sock: TcpSocket, data: Uint8Array): void {
  const sizes = [1, 100, 2047, 2048, 2049, 4097, 65535, 7, 65536, 30001, 1499, 12345];
  let sent = 0;
  let i = 0;
  const send = () => {
    while (sent < data.length) {
      const n = sock.write(data.subarray(sent, Math.min(data.length, sent + sizes[i % sizes.length]!)));
      sent += n;
      if (n === 0) return;
      i++;
    }
    sock.shutdown();
  };
  sock.handlers = { ...sock.handlers, onWritable: send };
  send();
}

async function transfer(a: Stack, b: Stack, family: 4 | 6, data: Uint8Array): Promise<string> {
  const server = new Promise<string>((resolve, reject) => {
    b.tcpListen({ family, address: '', port: 7000 + family }, {}, (s) => {
      pump(s, new Uint8Array(0)).then((r) => resolve(r.length === data.length ? r.hash : `length ${r.length}`), reject);
    });
  });
  const c = await a.connect({ family, address: family === 4 ? '10.7.0.2' : 'fd07::2', port: 7000 + family });
  c.handlers = { onData: (d) => c.consumed(d.length) };
  sendVaried(c, data);
  return server;
}

for (const family of [4, 6] as const) {
  test(`IPv${family}: TCP checksums summed on the way out are valid, for copied and referenced writes of every size`, async (t) => {
    const p = makePair(2800);
    let checked = 0;
    let bad = 0;
    p.link.transform = (f) => {
      const s = tcpChecksum(f);
      if (s !== undefined) {
        checked++;
        if (s !== 0) bad++;
      }
      return f;
    };
    try {
      const data = pattern(3 * 1024 * 1024 + 17, 7 + family);
      t.is(await transfer(p.a, p.b, family, data), sha256(data));
      t.is(bad, 0, 'frames with a wrong TCP checksum');
      t.true(checked > 1000, `${checked} TCP frames checked`);
      t.is(p.b.stats().drops.badChecksum, 0);
    } finally {
      p.close();
    }
  });
}

test('after an MTU decrease, segments queued for the old MTU go out fragmented, checksummed by lwIP, and arrive', async (t) => {
  const p = makePair(2800);
  let hold = true;
  let fragments = 0;
  p.link.transform = (f, dir) => {
    if (dir === 'ab' && f[12] === 0x08 && f[13] === 0x00 && ((f[20]! & 0x3f) !== 0 || f[21] !== 0)) fragments++;
    // While held, a's data segments are lost: they stay queued for retransmission at the old size.
    return hold && dir === 'ab' && f.length > 1500 ? undefined : f;
  };
  try {
    const data = pattern(256 * 1024, 99);
    const received = new Promise<string>((resolve, reject) => {
      p.b.tcpListen({ family: 4, address: '', port: 7100 }, {}, (s) => {
        pump(s, new Uint8Array(0)).then((r) => resolve(r.hash), reject);
      });
    });
    const c = await p.a.connect({ family: 4, address: '10.7.0.2', port: 7100 });
    c.handlers = { onData: (d) => c.consumed(d.length) };
    sendVaried(c, data);
    await new Promise((r) => setTimeout(r, 50));
    p.a.setConfig({ mac: p.a.mac, mtu: 1400, addresses: [...p.a.addresses], routes: [...p.a.routes] });
    hold = false;
    t.is(await received, sha256(data));
    t.true(fragments > 0, `${fragments} IPv4 fragments`);
  } finally {
    p.close();
  }
});

test('send buffers: written data is held until acknowledged, then released; closed and aborted connections release theirs', async (t) => {
  const p = makePair(2800);
  const wait = async (cond: () => boolean) => {
    for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  };
  try {
    const { client, server } = await connectPair(p, 4, 7200);
    // The reader does not read: what the window cannot take stays in the sender's buffer.
    server.handlers = {};
    const data = pattern(1024 * 1024, 5);
    const written = client.write(data);
    t.true(written >= 256 * 1024, `${written} bytes taken`);
    await wait(() => p.a.stats().tcpSendBuffers > 0);
    const held = p.a.stats().tcpSendBuffers;
    t.true(held >= 128 * 1024, `${held} bytes of chunks held while unacknowledged`);
    // Reading everything acknowledges it: the chunks go back.
    let got = 0;
    server.handlers = {
      onData(c) {
        got += c.length;
        server.consumed(c.length);
      },
    };
    server.consumed(256 * 1024);
    await wait(() => got === written && p.a.stats().tcpSendBuffers === 0);
    t.is(got, written);
    t.is(p.a.stats().tcpSendBuffers, 0, 'all chunks released once acknowledged');
    // Close with data still queued (the peer stops reading): released when lwIP frees the connection.
    server.handlers = {};
    client.write(data);
    await wait(() => p.a.stats().tcpSendBuffers > 0);
    t.true(p.a.stats().tcpSendBuffers > 0);
    client.abort();
    await wait(() => p.a.stats().tcpSendBuffers === 0);
    t.is(p.a.stats().tcpSendBuffers, 0, 'an aborted connection releases its chunks');
    const second = await connectPair(p, 4, 7201);
    second.server.handlers = {};
    second.client.write(data);
    await wait(() => p.a.stats().tcpSendBuffers > 0);
    second.client.close();
    second.server.abort(); // the reset makes lwIP free the closing connection
    await wait(() => p.a.stats().tcpSendBuffers === 0);
    t.is(p.a.stats().tcpSendBuffers, 0, 'a closed connection releases its chunks when lwIP frees it');
  } finally {
    p.close();
  }
});
