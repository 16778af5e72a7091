// The strict reading of rule JSON (parseRuleJson / parseRulesJson): what an API answers with 400 naming the
// field. Every well-formed rule the controller renders reads back to the same rule; each kind of defect is
// reported with the field and a reason; the lenient ruleFromJson keeps the 1.14.1 behaviour on the same input.
import test from 'ava';
import {
  decodeRules,
  parseRuleJson,
  parseRulesJson,
  type Rule,
  ruleFromJson,
  ruleToJson,
} from '../../service/core/vl2/rules.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

test('every rule the controller renders parses strictly back to itself', (t) => {
  const bytes = hex(`
    0000 0100 0500
    02 0e 0000001122334455 00000007 0040   03 0e 0000001122334455 00000000 0000
    04 0e 0000001122334455 00000001 0000
    18 05 0123456789 99 05 abcdef0123 5a 02 002a 1b 01 00 1c 01 01
    1d 06 32b2dd058d0e 1e 06 ffffffffffff
    1f 05 0a010203 18 a0 05 0a4d0000 10
    21 11 fd000000000000000000000000000001 40 22 11 fc000000000000000000000000000000 08
    23 03 fc 20 40 24 01 06 25 02 0800 26 03 08 00 00 26 03 03 04 01
    27 04 0016 0016 28 04 0400 ffff 29 08 8000000000000002 2a 04 0040 05dc 2b 04 7fffffff
    2c 08 000003e8 00000002 2d 08 000003e8 00000001 2e 08 000003e8 00000003 2f 08 000003e8 00000004
    30 08 000003e8 00000005 31 08 000003e8 00000006 32 08 000003e8 00000007`);
  const d = decodeRules(bytes);
  if (!d.ok) return t.fail(d.detail);
  t.is(d.value.length, 34);
  for (const rule of d.value) {
    const json = ruleToJson(rule);
    const back = parseRuleJson(json);
    t.true(back.ok, JSON.stringify(json));
    if (back.ok) t.deepEqual(ruleToJson(back.rule), json);
    t.deepEqual(back.ok ? back.rule : undefined, ruleFromJson(json), 'strict and lenient agree on good input');
  }
});

test('each defect names its field and why; the lenient reader still reads what 1.14.1 reads', (t) => {
  const bad: Array<[unknown, string, RegExp]> = [
    ['DROP', '', /JSON object/],
    [{}, 'type', /missing/],
    [{ type: 'MATCH_NOPE' }, 'type', /unknown rule type "MATCH_NOPE"/],
    [{ type: 7 }, 'type', /unknown rule type 7/],
    [{ type: 'ACTION_PRIORITY' }, 'type', /not accepted/],
    [{ type: 'INTEGER_RANGE', start: '0', end: '1' }, 'type', /not accepted/],
    [{ type: 'MATCH_SOURCE_ZEROTIER_ADDRESS' }, 'zt', /missing/],
    [{ type: 'MATCH_SOURCE_ZEROTIER_ADDRESS', zt: 'xyz' }, 'zt', /ZeroTier address/],
    [{ type: 'MATCH_SOURCE_ZEROTIER_ADDRESS', zt: '0123456789a' }, 'zt', /10 hex digits/],
    [{ type: 'ACTION_TEE', address: 12 }, 'address', /ZeroTier address/],
    [{ type: 'ACTION_TEE', address: '1122334455', length: 70000 }, 'length', /0 to 65535/],
    [{ type: 'MATCH_VLAN_ID', vlanId: 1.5 }, 'vlanId', /integer from 0 to 65535/],
    [{ type: 'MATCH_VLAN_ID', vlanId: '12abc' }, 'vlanId', /integer/],
    [{ type: 'MATCH_IP_PROTOCOL', ipProtocol: 256 }, 'ipProtocol', /0 to 255/],
    [{ type: 'MATCH_IP_PROTOCOL', ipProtocol: true }, 'ipProtocol', /integer/],
    [{ type: 'MATCH_MAC_DEST', mac: '32:b2:dd:05:8d' }, 'mac', /MAC address/],
    [{ type: 'MATCH_IPV4_SOURCE', ip: '10.1.2.3' }, 'ip', /IPv4 address and prefix length/],
    [{ type: 'MATCH_IPV4_SOURCE', ip: '10.1.2.3/33' }, 'ip', /0-32/],
    [{ type: 'MATCH_IPV4_SOURCE', ip: 'fd00::1/8' }, 'ip', /IPv4/],
    [{ type: 'MATCH_IPV6_DEST', ip: 'fd00::1::2/64' }, 'ip', /IPv6/],
    [{ type: 'MATCH_ETHERTYPE', etherType: 2048, not: 'yes' }, 'not', /true or false/],
    [{ type: 'MATCH_ETHERTYPE', etherType: 2048, or: 1 }, 'or', /true or false/],
    [{ type: 'MATCH_ICMP', icmpType: 8, icmpCode: -1 }, 'icmpCode', /0 to 255/],
    [{ type: 'MATCH_IP_DEST_PORT_RANGE', end: 22 }, 'start', /missing/],
    [{ type: 'MATCH_CHARACTERISTICS', mask: '0x1ffffffffffffffff' }, 'mask', /64-bit mask/],
    [{ type: 'MATCH_TAGS_EQUAL', id: 1000 }, 'value', /missing/],
    [{ type: 'MATCH_RANDOM', probability: 2 ** 32 }, 'probability', /0 to 4294967295/],
  ];
  for (const [json, field, reason] of bad) {
    const r = parseRuleJson(json);
    t.false(r.ok, JSON.stringify(json));
    if (!r.ok) {
      t.is(r.field, field, JSON.stringify(json));
      t.regex(r.reason, reason, JSON.stringify(json));
    }
  }
  // The lenient reader (the controller's, as 1.14.1) reads malformed values as it always did
  t.deepEqual(ruleFromJson({ type: 'MATCH_VLAN_ID', vlanId: '12abc' }), {
    type: 'MATCH_VLAN_ID',
    not: false,
    or: false,
    vlanId: 12,
  });
  const zero = ruleFromJson({ type: 'MATCH_IPV4_SOURCE', ip: 'fd00::1/8' }) as Rule & { ip: Uint8Array };
  t.deepEqual([...zero.ip], [0, 0, 0, 0], 'the other family reads as the zero address');
  t.is(ruleFromJson({ type: 'MATCH_NOPE' }), undefined);
});

test('defaults the strict reader allows: not/or false, TEE flags and length 0, range end = start, any ICMP code', (t) => {
  const ok = (j: unknown) => {
    const r = parseRuleJson(j);
    if (!r.ok) throw new Error(`${r.field}: ${r.reason}`);
    return r.rule;
  };
  t.deepEqual(ok({ type: 'MATCH_IP_DEST_PORT_RANGE', start: '22' }), {
    type: 'MATCH_IP_DEST_PORT_RANGE',
    not: false,
    or: false,
    start: 22,
    end: 22,
  });
  t.deepEqual(ok({ type: 'ACTION_TEE', address: 'ab12' }), {
    type: 'ACTION_TEE',
    not: false,
    or: false,
    address: 0xab12,
    flags: 0,
    length: 0,
  });
  t.like(ok({ type: 'MATCH_ICMP', icmpType: 8, icmpCode: null }), { icmpCode: null });
  t.like(ok({ type: 'MATCH_ICMP', icmpType: 8 }), { icmpCode: null });
  t.like(ok({ type: 'MATCH_CHARACTERISTICS', mask: 3 }), { mask: 3n });
  t.like(ok({ type: 'ACTION_DROP', not: 'ignored on actions' }), { not: false });
});

test('parseRulesJson: the rules, or the index of the first bad one', (t) => {
  const good = parseRulesJson([{ type: 'MATCH_ETHERTYPE', etherType: 2048, not: true }, { type: 'ACTION_DROP' }]);
  t.true(good.ok);
  if (good.ok) t.is(good.rules.length, 2);
  t.like(parseRulesJson([{ type: 'ACTION_ACCEPT' }, { type: 'MATCH_VLAN_ID' }]), {
    ok: false,
    index: 1,
    field: 'vlanId',
    reason: 'missing',
  });
  t.like(parseRulesJson({}), { ok: false, index: -1, field: '' });
  t.like(parseRulesJson(new Array(1025).fill({ type: 'ACTION_DROP' })), { ok: false, index: 1024 });
});
