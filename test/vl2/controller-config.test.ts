// The config our controller builds for the vector inputs (R's identity, the ztref network and members as
// R's controller.d holds them) against the configs ZeroTier One 1.14.1 sent: the cached config files of A
// and B, and the config chunk #029 of the golden capture.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { encodeConfig } from '../../service/controller/config-encode.js';
import { planConfig } from '../../service/controller/config-plan.js';
import { ipKey, parseIp } from '../../service/controller/ip.js';
import type { JsonObject } from '../../service/controller/json.js';
import { encodeOk } from '../../service/core/verbs.js';
import { verifyCom, verifyCoo } from '../../service/core/vl2/credentials.js';
import { decodeNetworkConfig, makeConfigChunks } from '../../service/core/vl2/network-config.js';
import { vectorIdentity } from '../helpers/controller-fixtures.js';
import { vectorPath } from '../helpers/vl1-vectors.js';

const R = vectorIdentity('node-R');
const NWID = 0x29077f37cd90d431n;
const disk = (rel: string) =>
  JSON.parse(readFileSync(vectorPath(`controller/controller.d-on-disk/network/${rel}`), 'utf8')) as JsonObject;

function build(name: 'A' | 'B', ts: number, withAssignments: boolean): Uint8Array {
  const id = vectorIdentity(`node-${name}`);
  const hex = id.address.toString(16).padStart(10, '0');
  const network = disk('29077f37cd90d431.json');
  const member = disk(`29077f37cd90d431/member/${hex}.json`);
  const others = ['664dc8ba71', 'caf2d0093e'].filter((a) => a !== hex);
  const allocated = new Set<string>(
    others.flatMap((a) => disk(`29077f37cd90d431/member/${a}.json`).ipAssignments as string[]),
  );
  if (!withAssignments) member.ipAssignments = [];
  else for (const ip of member.ipAssignments as string[]) allocated.add(ipKey(parseIp(ip)!));
  const plan = planConfig({
    network,
    member,
    newMember: false,
    networkId: NWID,
    address: id.address,
    now: ts,
    rulesEngineRevision: 1n,
    allocated,
    activeBridges: [],
    random64: () => 0n,
  });
  return encodeConfig(plan, R, id.toPublic());
}

for (const name of ['A', 'B'] as const) {
  test(`the config built for ${name} equals its cached 1.14.1 config byte for byte`, (t) => {
    const cached = new Uint8Array(readFileSync(vectorPath(`node-state/node${name}-networks.d-29077f37cd90d431.conf`)));
    const theirs = decodeNetworkConfig(cached);
    if (!theirs.ok) return t.fail(theirs.reason);
    // From the stored record (IP already assigned) and from a first request (IP allocated from the pool).
    for (const withAssignments of [true, false]) {
      const ours = build(name, theirs.value.timestamp, withAssignments);
      t.is(Buffer.from(ours).toString('latin1'), Buffer.from(cached).toString('latin1'));
    }
    const dec = decodeNetworkConfig(build(name, theirs.value.timestamp, true));
    if (!dec.ok) return t.fail(dec.reason);
    t.true(verifyCom(dec.value.com!, R));
    t.true(verifyCoo(dec.value.certificatesOfOwnership[0]!, R));
  });
}

function capturedPayload(index: string): Uint8Array {
  const text = readFileSync(vectorPath('pcap/ztref-golden.decoded.txt'), 'utf8');
  const at = text.indexOf(`\n#${index} `);
  const m = /payload\(\d+\)=([0-9a-f]+)/.exec(text.slice(at));
  return new Uint8Array(Buffer.from(m![1]!, 'hex'));
}

test('the signed chunks equal the captured OK #028 and push #029 byte for byte (same ts and update ID)', (t) => {
  // #028: OK(NETWORK_CONFIG_REQUEST) for A's first authorized request; #029: the push right after.
  const ok028 = capturedPayload('028');
  const push029 = capturedPayload('029');
  const chunk028 = makeConfigChunks(NWID, build('A', 0x1a20046a7ef, false), 0xdda1bdefe0943b88n, R);
  t.is(chunk028.length, 1);
  t.deepEqual(Buffer.from(encodeOk(0x0b, 0x78883bd9ccbdc868n, chunk028[0]!)), Buffer.from(ok028));
  const chunk029 = makeConfigChunks(NWID, build('A', 0x1a20046a7f1, true), 0xdf120aefb7f8b6a6n, R);
  t.deepEqual(Buffer.from(chunk029[0]!), Buffer.from(push029));
});

test('at another time only the timestamp-bearing fields differ from the cached config', (t) => {
  const cached = new Uint8Array(readFileSync(vectorPath('node-state/nodeA-networks.d-29077f37cd90d431.conf')));
  const theirs = decodeNetworkConfig(cached);
  if (!theirs.ok) return t.fail(theirs.reason);
  const ts = 1_795_300_960_241; // #029's ts (0x1a20046a7f1)
  const ours = decodeNetworkConfig(build('A', ts, false));
  if (!ours.ok) return t.fail(ours.reason);
  const strip = (c: typeof theirs.value) => ({ ...c, timestamp: 0, com: null, certificatesOfOwnership: [] });
  t.deepEqual(strip(ours.value), strip(theirs.value));
  t.is(ours.value.timestamp, ts);
  t.true(verifyCom(ours.value.com!, R));
});
