// The member side against ZeroTier One 1.14.1's own bytes (vectors/pcap/ztref-golden): fed the packets A and
// B received in the capture, our Network answers and sends exactly what they sent. The Network runs on a
// recording host (the NetworkHost interface's in-memory twin): what it would put on the wire is kept.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { Verb } from '../../service/core/constants.js';
import type { Identity } from '../../service/core/identity.js';
import { decodeNetworkCredentials } from '../../service/core/vl2/credentials.js';
import { ethernetFrame } from '../../service/core/vl2/frames.js';
import { macFromAddress } from '../../service/core/vl2/mac.js';
import { Multicaster } from '../../service/core/vl2/multicaster.js';
import { Network, type NetworkHost, type Tap } from '../../service/core/vl2/network.js';
import { Vl2 } from '../../service/core/vl2/vl2.js';
import { MemWire } from '../helpers/mem-wire.js';
import { vectorPath } from '../helpers/vl1-vectors.js';
import { type CapturedPacket, openCapture, vectorIdentities } from '../helpers/vl2-capture.js';

const NWID = 0x29077f37cd90d431n;
const R = 0x29077f37cd;
const A = 0x664dc8ba71;
const B = 0xcaf2d0093e;
const packets = openCapture();
const pkt = (i: number): CapturedPacket => {
  const p = packets.find((x) => x.index === i);
  if (!p) throw new Error(`no #${i}`);
  return p;
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface Sent {
  to: number;
  verb: number;
  payload: Uint8Array;
}

class RecordingHost implements NetworkHost {
  readonly sent: Sent[] = [];
  readonly multicaster = new Multicaster();
  readonly drops: string[] = [];
  requests = 0;
  constructor(
    readonly identity: Identity,
    private readonly known: Identity[],
  ) {}
  get address() {
    return this.identity.address;
  }
  send(_now: number, to: number, verb: number, payload: Uint8Array): void {
    this.sent.push({ to, verb, payload: payload.slice() });
  }
  peerIdentity(a: number) {
    return this.known.find((i) => i.address === a);
  }
  upstreams() {
    return [R];
  }
  requestConfig() {
    this.requests++;
  }
  drop(r: string) {
    this.drops.push(r);
  }
  take(verb: number): Sent[] {
    return this.sent.filter((s) => s.verb === verb);
  }
}

class RecordingTap implements Tap {
  readonly frames: Uint8Array[] = [];
  deliver(frames: Uint8Array[]) {
    this.frames.push(...frames);
  }
}

const ids = vectorIdentities();

function member(name: 'node-A' | 'node-B') {
  const host = new RecordingHost(ids[name]!, [ids['node-R']!, ids['node-A']!, ids['node-B']!]);
  const tap = new RecordingTap();
  return { host, tap, net: new Network(host, NWID, tap) };
}

test('A: the pushed config #029 is acknowledged as #030 (OK in re ECHO); the ARP group LIKE is #032', (t) => {
  const { host, net } = member('node-A');
  const now = 1_795_300_960_241;
  net.handleConfigChunk(now, R, pkt(29).packetId, pkt(29).payload, true);
  t.is(net.status, 1);
  t.is(net.config!.staticIps[0]!.ip.join('.'), '10.77.0.91');
  const ok = host.take(Verb.OK);
  t.is(ok.length, 1);
  t.is(ok[0]!.to, R);
  t.is(hex(ok[0]!.payload), hex(pkt(30).payload));
  const likes = host.take(Verb.MULTICAST_LIKE).filter((l) => l.to === R);
  t.true(
    likes.some((l) => hex(l.payload) === hex(pkt(32).payload)),
    'LIKE (ff:ff:ff:ff:ff:ff, 10.77.0.91) to the controller',
  );
});

test('A: ARP request → GATHER #066 with the COM; on OK(GATHER) credentials #072 then MULTICAST_FRAME #076', (t) => {
  const { host, net } = member('node-A');
  const now = 1_795_300_980_782;
  net.handleConfigChunk(now - 20_000, R, pkt(29).packetId, pkt(29).payload, true);
  host.sent.length = 0;
  // The ARP request A's kernel sent, rebuilt from #076 (it carries the whole ARP payload).
  const mf = pkt(76).payload;
  const arp = mf.subarray(25);
  const frame = ethernetFrame(0xffffffffffff, macFromAddress(A, NWID), 0x0806, arp);
  t.true(net.sendFrame(now, frame));
  const gathers = host.take(Verb.MULTICAST_GATHER);
  t.true(gathers.length >= 1);
  t.is(hex(gathers[0]!.payload), hex(pkt(66).payload), 'GATHER as #066');
  t.deepEqual(
    gathers.map((g) => g.to),
    [R, R],
    'root and controller are the same node: two identical GATHERs (#066, #067)',
  );
  host.sent.length = 0;
  net.learnMembers(now, { mac: 0xffffffffffff, adi: 0x0a4d00d8 }, [B]);
  t.deepEqual(
    host.sent.map((s) => s.verb),
    [Verb.NETWORK_CREDENTIALS, Verb.MULTICAST_FRAME],
  );
  t.is(hex(host.sent[0]!.payload), hex(pkt(72).payload), 'credentials as #072');
  t.is(hex(host.sent[1]!.payload), hex(pkt(76).payload), 'MULTICAST_FRAME as #076');
});

test('B: with A’s credentials (#072), the ARP MULTICAST_FRAME #076 is delivered and answered as #093', (t) => {
  const { host, tap, net } = member('node-B');
  // B's config as pushed in the capture (#053); the node-state file is a later refresh, outside ctmd of A's COM.
  net.handleConfigChunk(1_795_300_970_000, R, pkt(53).packetId, pkt(53).payload, true);
  t.is(net.status, 1);
  t.is(hex(host.take(Verb.OK)[0]!.payload), hex(pkt(54).payload), 'push acknowledged as #054');
  host.sent.length = 0;
  const creds = decodeNetworkCredentials(pkt(72).payload);
  t.true(creds.ok);
  if (!creds.ok) return;
  for (const com of creds.value.coms) t.is(net.addCom(com), 'ok');
  for (const coo of creds.value.coos) net.addCoo(coo);
  const now = 1_795_300_980_790;
  t.true(
    net.handleFrame(now, A, Verb.MULTICAST_FRAME, pkt(76).packetId, pkt(76).payload),
    `drops: ${host.drops.join(', ')}`,
  );
  t.is(tap.frames.length, 1);
  t.is(hex(tap.frames[0]!.subarray(0, 14)), `ffffffffffff${macFromAddress(A, NWID).toString(16)}0806`);
  const ok = host.take(Verb.OK);
  t.is(ok.length, 1);
  t.is(hex(ok[0]!.payload), hex(pkt(93).payload));
  // B's kernel answers the ARP request: credentials #099 first, then the reply as FRAME #100.
  host.sent.length = 0;
  const reply = pkt(100).payload;
  t.true(
    net.sendFrame(now, ethernetFrame(macFromAddress(A, NWID), macFromAddress(B, NWID), 0x0806, reply.subarray(10))),
  );
  t.deepEqual(
    host.sent.map((x) => [x.verb, x.to]),
    [
      [Verb.NETWORK_CREDENTIALS, A],
      [Verb.FRAME, A],
    ],
  );
  t.is(hex(host.sent[0]!.payload), hex(pkt(99).payload), 'credentials as #099');
  t.is(hex(host.sent[1]!.payload), hex(reply), 'ARP reply as #100');
});

test('B: without A’s credentials the frame waits and B answers NEED_MEMBERSHIP_CERTIFICATE as #086', (t) => {
  const { host, tap, net } = member('node-B');
  t.true(net.loadCached(new Uint8Array(readFileSync(vectorPath('node-state/nodeB-networks.d-29077f37cd90d431.conf')))));
  t.is(net.status, 1, 'the cached config (networks.d) is usable at once');
  t.false(net.handleFrame(1_795_300_980_790, A, Verb.MULTICAST_FRAME, pkt(76).packetId, pkt(76).payload));
  t.is(tap.frames.length, 0);
  const err = host.take(Verb.ERROR);
  t.is(err.length, 1);
  t.is(hex(err[0]!.payload), hex(pkt(86).payload));
  t.true(net.hasWaiting, 'kept for a retry once credentials arrive');
});

test('A: an ICMP echo to B goes out as FRAME #104', (t) => {
  const { host, net } = member('node-A');
  net.handleConfigChunk(1_795_300_960_241, R, pkt(29).packetId, pkt(29).payload, true);
  host.sent.length = 0;
  const f = pkt(104).payload;
  const frame = ethernetFrame(macFromAddress(B, NWID), macFromAddress(A, NWID), 0x0800, f.subarray(10));
  t.true(net.sendFrame(1_795_300_990_000, frame));
  const frames = host.take(Verb.FRAME);
  t.is(frames.length, 1);
  t.is(frames[0]!.to, B);
  t.is(hex(frames[0]!.payload), hex(f));
});

test('A: the config request is #027 byte for byte (nothing held yet)', (t) => {
  const sim = new MemWire();
  const a = sim.add('10.0.0.2/9993', { identity: ids['node-A']! });
  const vl2 = new Vl2(a.node);
  const net = vl2.join(sim.now, NWID);
  t.is(hex(vl2.configRequest(net)), hex(pkt(27).payload));
});
