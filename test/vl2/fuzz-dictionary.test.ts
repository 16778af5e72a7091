// Fuzz target for the Dictionary parser and everything that reads dictionaries: ≥ 1,000,000 mutated inputs
// (seeded with the cached configs of ZeroTier One 1.14.1, the config request metadata and small dictionaries)
// through Dictionary lookup/entries, decodeNetworkConfig, parseRequestMetadata, the NETWORK_CONFIG_REQUEST
// payload and config chunk decoders, and the chunk reassembler. Nothing may escape; a config that decodes
// must re-encode to something that decodes and re-encodes to the same bytes (canonical after a pass).
import { readFileSync } from 'node:fs';
import test from 'ava';
import { Dictionary, escapeValue, parseHexI64, parseHexU64, unescapeValue } from '../../service/core/vl2/dictionary.js';
import {
  buildRequestMetadata,
  ConfigReassembler,
  decodeConfigChunk,
  decodeConfigRequest,
  decodeNetworkConfig,
  encodeConfigRequest,
  makeConfigChunks,
  networkConfigBytes,
  parseRequestMetadata,
} from '../../service/core/vl2/network-config.js';
import { vectorPath } from '../helpers/vl1-vectors.js';
import { vectorIdentities } from '../helpers/vl2-capture.js';
import { mutate, prng } from '../helpers/vl2-fuzz.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 1_000_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0xd1c7);
const NWID = 0x29077f37cd90d431n;

test(`dictionary fuzz: ${ITERATIONS} mutated inputs through the dictionary and config decoders`, (t) => {
  const confs = ['nodeA', 'nodeB'].map(
    (n) => new Uint8Array(readFileSync(vectorPath(`node-state/${n}-networks.d-29077f37cd90d431.conf`))),
  );
  const md = buildRequestMetadata().bytes();
  const R = vectorIdentities()['node-R']!;
  const seeds = [
    ...confs,
    md,
    encodeConfigRequest({ networkId: NWID, metadata: md }),
    makeConfigChunks(NWID, confs[0]!, 0x77n, R)[0]!,
    new TextEncoder().encode('a=1\nb=\\0\\r\\n\\e\\\\\nc=x'),
    new Uint8Array(0),
  ];
  const rnd = prng(SEED);
  const buf = new Uint8Array(4096);
  const keys = ['v', 'nwid', 'ts', 'id', 'n', 'C', 'COO', 'RT', 'I', 'R', 'DNS', 'ssoe', 'zz', ''];
  const escapes: string[] = [];
  let configsOk = 0;
  let chunksOk = 0;
  let requestsOk = 0;
  let canonicalChecks = 0;
  const ra = new ConfigReassembler(NWID);
  const t0 = Date.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const seed = seeds[i % seeds.length]!;
    const len = mutate(rnd, seed, buf, seeds[rnd() % seeds.length]);
    const input = buf.subarray(0, len);
    try {
      switch (i % 8) {
        case 0:
        case 1:
        case 2: {
          const r = decodeNetworkConfig(input);
          if (r.ok) {
            configsOk++;
            if (i % 64 === 0) {
              // Stable after one more pass (a first re-encoding may drop what 1.14.1 would not write back,
              // e.g. the SSO keys of an unknown SSO version).
              const once = networkConfigBytes(r.value);
              const d2 = decodeNetworkConfig(once);
              if (!d2.ok) throw new Error('re-encoded config does not decode');
              const twice = networkConfigBytes(d2.value);
              const d3 = decodeNetworkConfig(twice);
              if (!d3.ok || Buffer.compare(networkConfigBytes(d3.value), twice) !== 0)
                throw new Error('re-encoded config is not canonical');
              canonicalChecks++;
            }
          }
          break;
        }
        case 3: {
          const d = Dictionary.from(input);
          for (const k of keys) d.get(k);
          d.getU64('nwid');
          d.getI64('ts');
          d.getBool('ssoe');
          d.getString('n', '', 127);
          const out = new Dictionary();
          for (const [k, v] of d.entries()) {
            out.add(k, v);
            const e = escapeValue(v);
            if (Buffer.compare(unescapeValue(e), v) !== 0) throw new Error('escape round trip');
          }
          break;
        }
        case 4:
          parseRequestMetadata(input);
          parseHexU64(input);
          parseHexI64(input);
          break;
        case 5:
          if (decodeConfigRequest(input).ok) requestsOk++;
          break;
        case 6:
          if (decodeConfigChunk(input, 1n).ok) chunksOk++;
          break;
        default:
          ra.accept(input, R.address, BigInt(i), i & 1 ? R : undefined);
      }
    } catch (e) {
      if (escapes.length < 10)
        escapes.push(`#${i} (${Buffer.from(input).toString('hex').slice(0, 120)}): ${String(e)}`);
    }
  }
  const ms = Date.now() - t0;
  t.log(
    `${ITERATIONS} inputs in ${ms} ms: ${configsOk} configs decoded (${canonicalChecks} canonical re-encodings checked), ${requestsOk} requests, ${chunksOk} chunks; ${escapes.length} escapes`,
  );
  t.deepEqual(escapes, []);
  t.true(configsOk > 1000);
});
