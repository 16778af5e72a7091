// One IP text parser (common/ip-text.ts) serves netcon's stack and RPC codec and the core's InetAddress text:
// both sides read the same text to the same bytes, and refuse the same malformed text.
import test from 'ava';
import { formatIp, parseIp, parseIp4, parseIp6, parseIp6Strict } from '../../common/ip-text.js';
import { parseWireIp } from '../../netcon/rpc-codec.js';
import { formatInetIp, parseInetAddress, prefixOf } from '../../service/core/inet-address.js';

const good = [
  '10.1.2.3',
  '0.0.0.0',
  '255.255.255.255',
  'fd00::1',
  '::',
  '::1',
  '1:2:3:4:5:6:7:8',
  'fe80::1:2',
  '::ffff:10.1.2.3',
  '64:ff9b::1.2.3.4',
];
const bad = [
  '10.1.2',
  '10.1.2.256',
  '1.2.3.4.5',
  '01234.1.1.1',
  '1::2::3',
  '1:2:3:4:5:6:7:8:9',
  'g::1',
  '12345::',
  ':1',
  '',
  'localhost',
];

test('netcon and the core read the same text to the same bytes', (t) => {
  for (const s of good) {
    const core = parseInetAddress(`${s}/0`);
    t.truthy(core, s);
    const bytes = s.includes(':') ? parseIp6Strict(s) : parseIp4(s);
    t.deepEqual(bytes, core!.ip, s);
    t.deepEqual(parseWireIp(s, core!.family)?.subarray(0, core!.ip.length), core!.ip, s);
  }
  for (const s of bad) {
    t.is(parseInetAddress(`${s}/0`), undefined, s);
    t.is(parseIp(s), undefined, s);
    t.is(parseWireIp(s, 4), null, s);
    t.is(parseWireIp(s, 6), null, s);
  }
});

test('parseIp: either family, brackets and zones allowed, IPv4-mapped becomes IPv4; formatIp writes RFC 5952', (t) => {
  t.deepEqual(parseIp('[fd00::1]'), { family: 6, bytes: parseIp6Strict('fd00::1') });
  t.deepEqual(parseIp6('fe80::1%eth0'), parseIp6Strict('fe80::1'));
  t.is(parseIp6Strict('[fd00::1]'), undefined);
  t.is(parseIp6Strict('fe80::1%eth0'), undefined);
  t.deepEqual(parseIp('::ffff:10.1.2.3'), { family: 4, bytes: Uint8Array.from([10, 1, 2, 3]) });
  t.is(formatIp(6, parseIp6Strict('fd00:0:0:0:0:0:0:1')!), 'fd00::1');
  t.is(formatInetIp({ family: 6, ip: parseIp6Strict('fd00::1')! }), 'fd00::1');
  t.deepEqual(prefixOf(parseInetAddress('10.147.20.0/24')!), {
    family: 4,
    ip: Uint8Array.from([10, 147, 20, 0]),
    bits: 24,
  });
});
