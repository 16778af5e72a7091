// The RPC server drops what it cannot decode with an errno answer, never throws: random and
// truncated requests, unknown ops, unknown socket ids, bodies too short for their op.
import test from 'ava';
import { fdpass } from '../../netcon/fdpass.js';
import { MemNet } from '../../netcon/mem-net.js';
import { decodeResponse, Errno, encodeRequest, Op } from '../../netcon/rpc-codec.js';
import { RpcServer } from '../../netcon/server.js';
import { HOST_A } from '../../testkit/netcon-host.js';

function server(): RpcServer {
  return new RpcServer('/nonexistent/nc_test', new MemNet().addHost(HOST_A));
}

function result(s: RpcServer, msg: Uint8Array): number {
  const a = s.handle(msg, []);
  if (!a) throw new Error('deferred');
  if (a.fd !== undefined) fdpass.close(a.fd);
  const d = decodeResponse(a.bytes);
  if (!d.ok) throw new Error('undecodable answer');
  return d.value.result;
}

test('rpc server: malformed requests get errno answers and are counted', (t) => {
  const s = server();
  t.is(result(s, new Uint8Array(3)), -Errno.EINVAL);
  t.is(result(s, encodeRequest(99, 0, 0)), -Errno.ENOSYS);
  t.is(result(s, encodeRequest(Op.BIND, 0, 12345, new Uint8Array(24))), -Errno.EBADF);
  t.is(result(s, encodeRequest(Op.SOCKET, 0, 0, new Uint8Array(3))), -Errno.EINVAL);
  t.is(result(s, encodeRequest(Op.LOOKUP, 0, 0, new Uint8Array(8))), -Errno.ENOENT);
  const id = result(s, encodeRequest(Op.SOCKET, 0, 0, Uint8Array.from([4, 1, 0, 0, 0, 0, 0, 0])));
  t.true(id > 0);
  t.is(result(s, encodeRequest(Op.BIND, 0, id, new Uint8Array(10))), -Errno.EINVAL);
  const badFamily = new Uint8Array(24);
  badFamily[0] = 9;
  t.is(result(s, encodeRequest(Op.CONNECT, 0, id, badFamily)), -Errno.EINVAL);
  t.true(s.stats.badRequests >= 4);
  s.table.closeAll();
});

test('rpc server: random requests never throw', (t) => {
  const s = server();
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (let i = 0; i < 3000; i++) {
    const body = Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
    const op = 1 + Math.floor(rand() * 8);
    const id = rand() < 0.5 ? Math.floor(rand() * 20) : 0xffffffff;
    t.notThrows(() => {
      const a = s.handle(encodeRequest(op, Math.floor(rand() * 4) & 1, id, body), []);
      if (a?.fd !== undefined) fdpass.close(a.fd);
    });
  }
  s.table.closeAll();
});
