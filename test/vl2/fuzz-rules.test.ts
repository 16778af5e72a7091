// Fuzz target for the rules decoder and the evaluator: ≥ 1,000,000 mutated rule lists (seeded with every
// rule type, NOT/OR bits, short and long payloads) through decodeRules; each list that decodes must
// re-encode canonically and is evaluated against IPv4/IPv6/ARP frames (inbound and outbound, with tags).
// Mutated capabilities and NETWORK_CREDENTIALS payloads (seeded from the capture) go through their decoders
// too. Nothing may escape.
import test from 'ava';
import { Verb } from '../../service/core/constants.js';
import {
  createCapability,
  decodeCapability,
  decodeNetworkCredentials,
  encodeCapability,
  encodeNetworkCredentials,
  signCapability,
} from '../../service/core/vl2/credentials.js';
import {
  decodeRules,
  encodeRules,
  evaluateRules,
  filterFrame,
  type Rule,
  type RuleEnv,
  type RuleFrame,
  ruleFromJson,
  rulesToJson,
} from '../../service/core/vl2/rules.js';
import { openCapture, vectorIdentities } from '../helpers/vl2-capture.js';
import { mutate, prng } from '../helpers/vl2-fuzz.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 1_000_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x7e1e5);
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

const SEED_RULES = [
  '0100',
  '0000 0500 0600',
  '18 05 0123456789 99 05 abcdef0123 5a 02 002a',
  '1b 01 00 1c 01 01 1d 06 32b2dd058d0e 1e 06 ffffffffffff',
  '1f 05 0a010203 18 a0 05 0a4d0000 10',
  '21 11 fd000000000000000000000000000000 08 22 11 fc000000000000000000000000000000 28',
  '23 03 fc 00 20 24 01 06 25 02 0800 26 03 08 00 00 26 03 03 04 01',
  '27 04 0000 ffff 28 04 0016 0016 29 08 8000000000000002 2a 04 0040 05dc 2b 04 7fffffff',
  '2c 08 000003e8 00000001 2d 08 000003e8 00000002 2e 08 1 2 2f 08 0 0 30 08 000003e8 00000002',
  '31 08 000003e9 00000009 32 08 000003e9 00000009 0000 0100',
  '02 0e 0000001122334455 00000000 0040 03 0e 0000001122334455 00000000 0000 04 0e 000000aabbccddee 00000000 0000',
  '33 13 0000000000000001 0000000000000005 000c 8f 14 03 aabbcc 3e 00 0900',
].map((s) => hex(s.replace(/ (\d) (\d) /, ' 00000001 00000002 ').replace(/ 0 0 /, ' 00000000 00000000 ')));

function ipv4(proto: number, extra: Uint8Array): Uint8Array {
  const h = new Uint8Array(20 + extra.length);
  h[0] = 0x45;
  h[9] = proto;
  h.set([10, 77, 0, 91, 10, 77, 0, 216], 12);
  h.set(extra, 20);
  return h;
}
const tcp = hex('9c40001600000000000000005002ffff00000000');
const frames: RuleFrame[] = [];
for (const inbound of [true, false]) {
  const base = {
    inbound,
    ztSource: inbound ? 0x664dc8ba71 : 0xcaf2d0093e,
    ztDest: inbound ? 0xcaf2d0093e : 0x664dc8ba71,
    macSource: 0x32b2dd058d0e,
    macDest: 0x321e621d3e41,
  };
  frames.push({ ...base, etherType: 0x0800, payload: ipv4(6, tcp) });
  frames.push({ ...base, etherType: 0x0800, payload: ipv4(1, hex('0800000000000001')) });
  frames.push({
    ...base,
    etherType: 0x0806,
    macDest: 0xffffffffffff,
    payload: hex('000108000604000132b2dd058d0e0a4d005b0000000000000a4d00d8'),
  });
  const v6 = new Uint8Array(40 + 28);
  v6[0] = 0x60;
  v6[6] = 0;
  v6[40] = 6;
  v6[41] = 0;
  v6.set(tcp, 48);
  frames.push({ ...base, etherType: 0x86dd, payload: v6 });
  frames.push({ ...base, etherType: 0x86dd, payload: v6.subarray(0, 30) });
}
const envs: RuleEnv[] = [
  { self: 0xcaf2d0093e },
  {
    self: 0xcaf2d0093e,
    myTags: new Map([
      [1000, 2],
      [1001, 9],
    ]),
    peerTags: new Map([[1000, 3]]),
    configFlags: 0x08,
    ipAuthenticated: () => true,
    macAuthenticated: () => false,
  },
];

test(`rules fuzz: ${ITERATIONS} mutated rule lists through decodeRules, re-encoding and evaluation`, (t) => {
  const rnd = prng(SEED);
  const buf = new Uint8Array(2048);
  const escapes: string[] = [];
  let decoded = 0;
  let evaluated = 0;
  const verdicts = new Map<string, number>();
  const t0 = Date.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const seed = SEED_RULES[i % SEED_RULES.length]!;
    const len = mutate(rnd, seed, buf, SEED_RULES[rnd() % SEED_RULES.length]);
    const input = buf.subarray(0, len);
    try {
      const r = decodeRules(input);
      if (r.ok) {
        decoded++;
        const again = encodeRules(r.value);
        const r2 = decodeRules(again);
        if (!r2.ok || Buffer.compare(encodeRules(r2.value), again) !== 0)
          throw new Error('re-encoding is not canonical');
        if (i % 4 === 0) {
          const fr = frames[rnd() % frames.length]!;
          const env = envs[i & 1]!;
          const v = evaluateRules(r.value, fr, env).verdict;
          verdicts.set(v, (verdicts.get(v) ?? 0) + 1);
          filterFrame(r.value, [{ id: 1, rules: r.value }], fr, env);
          evaluated++;
        }
        if (i % 256 === 0) for (const j of rulesToJson(r.value)) ruleFromJson(JSON.parse(JSON.stringify(j)));
      }
    } catch (e) {
      if (escapes.length < 10)
        escapes.push(`#${i} (${Buffer.from(input).toString('hex').slice(0, 120)}): ${String(e)}`);
    }
  }
  const ms = Date.now() - t0;
  t.log(
    `${ITERATIONS} inputs in ${ms} ms: ${decoded} decoded, ${evaluated} evaluated ${JSON.stringify(Object.fromEntries(verdicts))}; ${escapes.length} escapes`,
  );
  t.deepEqual(escapes, []);
  t.true(decoded > ITERATIONS / 10);
});

test('credentials fuzz: mutated capabilities and NETWORK_CREDENTIALS payloads through their decoders', (t) => {
  const R = vectorIdentities()['node-R']!;
  const rules = decodeRules(SEED_RULES[2]!);
  const cap = encodeCapability(
    signCapability(
      createCapability({
        networkId: 0x29077f37cd90d431n,
        timestamp: 1,
        id: 7,
        rules: rules.ok ? (rules.value as Rule[]) : [],
      }),
      R,
      0x664dc8ba71,
    ),
  );
  const creds = openCapture()
    .filter((p) => p.verb === Verb.NETWORK_CREDENTIALS)
    .map((p) => p.payload);
  const decodedCap = decodeCapability(cap);
  const seeds = [
    cap,
    ...creds,
    ...(decodedCap.ok ? [encodeNetworkCredentials({ capabilities: [decodedCap.value] })] : []),
  ];
  const n = Math.max(1000, Math.floor(ITERATIONS / 4));
  const rnd = prng(SEED ^ 0xc4ed);
  const buf = new Uint8Array(4096);
  const escapes: string[] = [];
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const len = mutate(rnd, seeds[i % seeds.length]!, buf, seeds[rnd() % seeds.length]);
    const input = buf.subarray(0, len);
    try {
      if (decodeCapability(input).ok) ok++;
      if (decodeNetworkCredentials(input).ok) ok++;
    } catch (e) {
      if (escapes.length < 10) escapes.push(`#${i}: ${String(e)}`);
    }
  }
  t.log(`${n} inputs, ${ok} decoded, ${escapes.length} escapes`);
  t.deepEqual(escapes, []);
});
