// The RPC codec (netcon/rpc-codec.ts) against the golden bytes in intercept/fixtures, which the
// C codec's test (intercept/tests/test_codec.c) checks too.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { formatIp, parseIp as parseIpText } from '../../common/ip-text.js';
import { buildQuery, parseMessage } from '../../netcon/dns-wire.js';
import {
  decodeAccept,
  decodeAddr,
  decodeReattach,
  decodeRequest,
  decodeResponse,
  decodeSetOpt,
  decodeSocketBody,
  decodeU64,
  encodeAccept,
  encodeAddr,
  encodeReattach,
  encodeRequest,
  encodeResponse,
  encodeSetOpt,
  encodeSocketBody,
  ID_LAST,
  InfoFlag,
  Op,
  parseWireIp,
  ReattachOpt,
  ReqFlag,
  State,
} from '../../netcon/rpc-codec.js';
import {
  decodeResolve,
  decodeReverse,
  encodeQueryAnswer,
  encodeResolve,
  encodeResolveAnswer,
  encodeReverseAnswer,
  NAME_MSG_MAX,
  NameOp,
} from '../../netcon/rpc-names.js';
import { CTESTS, ROOT } from '../../testkit/intercept.js';

const FIX = join(ROOT, 'intercept', 'fixtures');

function fixture(name: string): Uint8Array {
  const text = readFileSync(join(FIX, `${name}.hex`), 'utf8');
  const hex = text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('')
    .replace(/\s+/g, '');
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

test('rpc codec: SOCKET request matches the golden bytes', (t) => {
  const b = encodeRequest(Op.SOCKET, 0, 0, encodeSocketBody({ family: 6, type: 1, protocol: 0 }));
  t.deepEqual(b, fixture('socket-request'));
  const d = decodeRequest(b);
  t.true(d.ok);
  if (d.ok) t.deepEqual(decodeSocketBody(d.value.body), { ok: true, value: { family: 6, type: 1, protocol: 0 } });
});

test("rpc codec: SOCKET with the app's own pair, and a CONNECT naming ID_LAST, match the golden bytes", (t) => {
  const body = { family: 4 as const, type: 1 as const, protocol: 6, ino: 0x1122334455667788n };
  const b = encodeRequest(Op.SOCKET, 0, 0, encodeSocketBody(body));
  t.deepEqual(b, fixture('socket-request-own-pair'));
  const d = decodeRequest(b);
  if (!d.ok) return t.fail();
  t.deepEqual(decodeSocketBody(d.value.body), { ok: true, value: body });
  const addr = { family: 4 as const, address: '10.147.17.1', port: 80 };
  const ab = new Uint8Array(24);
  encodeAddr(ab, 0, addr);
  const c = encodeRequest(Op.CONNECT, ReqFlag.WAIT, ID_LAST, ab);
  t.deepEqual(c, fixture('connect-request-last'));
  const dc = decodeRequest(c);
  if (!dc.ok) return t.fail();
  t.is(dc.value.id, ID_LAST);
});

test('rpc codec: SOCKET request for an ICMPv6 echo socket and the INFO of a bound ICMP socket', (t) => {
  const b = encodeRequest(Op.SOCKET, 0, 0, encodeSocketBody({ family: 6, type: 2, protocol: 58 }));
  t.deepEqual(b, fixture('socket-request-icmp6'));
  const info = {
    family: 4 as const,
    type: 2 as const,
    state: State.BOUND,
    flags: InfoFlag.ICMP,
    soError: 0,
    local: { family: 4 as const, address: '0.0.0.0', port: 4660 },
    remote: null,
  };
  t.deepEqual(encodeResponse(Op.INFO, 0, info), fixture('info-response-icmp'));
  const d = decodeResponse(fixture('info-response-icmp'));
  t.true(d.ok);
  if (d.ok) t.deepEqual(d.value.info, info);
});

test('rpc codec: REATTACH request matches the golden bytes, decodes, refuses truncation', (t) => {
  const r = {
    ino: 0x1122334455667788n,
    family: 4 as const,
    backlog: 128,
    opts: ReattachOpt.REUSEADDR,
    local: { family: 4 as const, address: '10.147.17.1', port: 8080 },
  };
  const b = encodeRequest(Op.REATTACH, 0, 0, encodeReattach(r));
  t.deepEqual(b, fixture('reattach-request'));
  const d = decodeRequest(b);
  t.true(d.ok);
  if (d.ok) {
    t.deepEqual(decodeReattach(d.value.body), { ok: true, value: r });
    t.false(decodeReattach(d.value.body.subarray(0, 43)).ok);
  }
});

test('rpc codec: ROUTE request matches the golden bytes', (t) => {
  const a = new Uint8Array(24);
  encodeAddr(a, 0, { family: 4, address: '192.0.2.1', port: 53 });
  t.deepEqual(encodeRequest(Op.ROUTE, 0, 3, a), fixture('route-request'));
});

test('rpc codec: BIND and CONNECT requests with IPv4 and IPv6 addresses', (t) => {
  const a = new Uint8Array(24);
  encodeAddr(a, 0, { family: 4, address: '10.147.17.1', port: 8080 });
  t.deepEqual(encodeRequest(Op.BIND, 0, 7, a), fixture('bind-request'));
  const c = new Uint8Array(24);
  encodeAddr(c, 0, { family: 6, address: 'fd80::1', port: 443 }, 3);
  const req = encodeRequest(Op.CONNECT, ReqFlag.FALLTHROUGH, 0x01020304, c);
  t.deepEqual(req, fixture('connect-request-v6'));
  const d = decodeRequest(fixture('connect-request-v6'));
  if (!d.ok) return t.fail();
  t.is(d.value.flags, ReqFlag.FALLTHROUGH);
  t.is(d.value.id, 0x01020304);
  t.deepEqual(decodeAddr(d.value.body, 0), { ok: true, value: { family: 6, address: 'fd80::1', port: 443 } });
});

test('rpc codec: LOOKUP and SETOPT requests', (t) => {
  const ino = new Uint8Array(8);
  new DataView(ino.buffer).setBigUint64(0, 0x1122334455667788n, true);
  t.deepEqual(encodeRequest(Op.LOOKUP, 0, 0, ino), fixture('lookup-request'));
  const d = decodeRequest(fixture('lookup-request'));
  if (!d.ok) return t.fail();
  t.deepEqual(decodeU64(d.value.body), { ok: true, value: 0x1122334455667788n });
  t.deepEqual(encodeRequest(Op.SETOPT, 0, 5, encodeSetOpt({ level: 6, name: 1, value: 1 })), fixture('setopt-request'));
  const s = decodeRequest(fixture('setopt-request'));
  if (!s.ok) return t.fail();
  t.deepEqual(decodeSetOpt(s.value.body), { ok: true, value: { level: 6, name: 1, value: 1 } });
});

test('rpc codec: INFO and error responses round-trip', (t) => {
  for (const name of ['info-response', 'connect-refused-response']) {
    const g = fixture(name);
    const d = decodeResponse(g);
    if (!d.ok || !d.value.info) return t.fail(name);
    t.deepEqual(encodeResponse(d.value.op, d.value.result, d.value.info), g, name);
  }
  const r = decodeResponse(fixture('connect-refused-response'));
  if (!r.ok) return t.fail();
  t.is(r.value.result, -111);
  t.is(r.value.info?.state, State.CLOSED);
  t.is(r.value.info?.soError, 111);
  t.deepEqual(r.value.info?.remote, { family: 4, address: '10.147.17.1', port: 81 });
});

test('rpc codec: ACCEPT message and UDP header', (t) => {
  const msg = encodeAccept({
    id: 42,
    local: { family: 4, address: '10.147.17.1', port: 80 },
    remote: { family: 4, address: '10.147.17.2', port: 40000 },
  });
  t.deepEqual(msg, fixture('accept-message'));
  t.deepEqual(decodeAccept(msg), {
    ok: true,
    value: {
      id: 42,
      local: { family: 4, address: '10.147.17.1', port: 80 },
      remote: { family: 4, address: '10.147.17.2', port: 40000 },
    },
  });
  const h = new Uint8Array(24);
  encodeAddr(h, 0, { family: 6, address: 'fd80::2', port: 5353 });
  t.deepEqual(h, fixture('udp-header-v6'));
});

test('rpc codec: truncated and malformed input is refused, never read past', (t) => {
  const g = fixture('info-response');
  for (let cut = 0; cut < 8; cut++) t.false(decodeResponse(g.subarray(0, cut)).ok);
  const bad = g.slice();
  bad[8 + 8] = 9; // address family 9
  t.false(decodeResponse(bad).ok);
  t.false(decodeAccept(fixture('accept-message').subarray(0, 55)).ok);
  t.false(decodeSocketBody(new Uint8Array(7)).ok);
  // fuzz: random bytes never throw
  for (let i = 0; i < 2000; i++) {
    const r = Uint8Array.from({ length: Math.floor(Math.random() * 80) }, () => Math.floor(Math.random() * 256));
    t.notThrows(() => {
      decodeRequest(r);
      decodeResponse(r);
      decodeAccept(r);
      decodeAddr(r, 0);
    });
  }
});

test('rpc codec: IP text forms', (t) => {
  for (const a of ['fd80::1', '::', '::1', 'fe80::1:2:3:4', '2001:db8::ff00:42:8329', '1:2:3:4:5:6:7:8']) {
    t.is(formatIp(6, parseWireIp(a, 6)!), a);
  }
  t.is(formatIp(6, parseWireIp('::ffff:10.1.2.3', 6)!), '::ffff:a01:203');
  t.is(parseWireIp('1.2.3.256', 4), null);
  t.is(parseWireIp('1::2::3', 6), null);
});

test('rpc codec: the C codec matches the same golden bytes', async (t) => {
  const r = await execa(join(CTESTS, 'test_codec'), [FIX], { reject: false });
  t.is(r.exitCode, 0, r.stdout);
  t.regex(r.stdout, /ALL OK/);
});

test('rpc codec: the name ops (RESOLVE, REVERSE, QUERY) match the golden bytes', (t) => {
  const req = encodeRequest(NameOp.RESOLVE, ReqFlag.FALLTHROUGH, 0, encodeResolve({ family: 0, name: 'web.lan' }));
  t.deepEqual(req, fixture('resolve-request'));
  const d = decodeRequest(fixture('resolve-request'));
  t.true(d.ok);
  if (d.ok) t.deepEqual(decodeResolve(d.value.body), { ok: true, value: { family: 0, name: 'web.lan' } });
  const addrs = ['10.147.20.5', 'fd80::5'].map((a) => parseIpText(a)!);
  t.deepEqual(encodeResolveAnswer('web.lan', addrs), fixture('resolve-response'));
  const rev = decodeRequest(fixture('reverse-request'));
  t.true(rev.ok);
  if (rev.ok) t.deepEqual(decodeReverse(rev.value.body), { ok: true, value: { family: 4, address: '10.147.20.5' } });
  t.deepEqual(encodeReverseAnswer('web.lan'), fixture('reverse-response'));
  const q = buildQuery(0x1234, 'web.lan', 1)!;
  t.deepEqual(encodeRequest(NameOp.QUERY, 0, 0, q), fixture('query-request'));
  t.deepEqual(parseMessage(q)?.question, { name: 'web.lan', type: 1, klass: 1 });
  // Bad input is refused, never read past: short bodies, bad families, NUL in names.
  for (const b of [
    new Uint8Array(3),
    Uint8Array.of(5, 0, 1, 0, 0x61),
    Uint8Array.of(0, 0, 9, 0, 0x61),
    Uint8Array.of(0, 0, 1, 0, 0),
  ])
    t.false(decodeResolve(b).ok);
  t.false(decodeReverse(new Uint8Array(19)).ok);
  // An answer that does not fit a name message is cut to its question, with TC set.
  const big = new Uint8Array(2000);
  big.set(q);
  big[7] = 1; // ancount 1
  const cut = encodeQueryAnswer(big);
  t.true(cut.length <= NAME_MSG_MAX);
  t.is(cut.length, 8 + q.length);
  t.is(cut[8 + 2]! & 0x02, 0x02);
});
