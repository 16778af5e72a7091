// Every ZeroTier packet in the golden captures authenticates with the saved pair keys, decrypts, decompresses
// and decodes to the verb (and payload bytes) that *.decoded.txt lists; re-armoring the plaintext reproduces
// the captured bytes exactly, for all three suites.
import { createDecipheriv } from 'node:crypto';
import test from 'ava';
import { Verb, verbName } from '../../service/core/constants.js';
import { armor, createPeerKey, type PeerKey } from '../../service/core/crypto.js';
import { decodeFragment, Reassembler } from '../../service/core/fragment.js';
import { classifyDatagram, decodeHeader, decryptHelloTail, openPacket } from '../../service/core/packet.js';
import {
  decodeHelloTail,
  decodeMessage,
  encodeEcho,
  encodeError,
  encodeHello,
  encodeOk,
  encodeOkHello,
  encodeOkWhois,
  encodePushDirectPaths,
  encodeRendezvous,
  encodeUserMessage,
  encodeWhois,
  type HelloMoon,
  type Message,
} from '../../service/core/verbs.js';
import { toHex } from '../../service/core/wire.js';
import { readPcap, type UdpDatagram } from '../helpers/pcap.js';
import { type DecodedEntry, loadDecoded, loadSharedKeys, vectorPath } from '../helpers/vl1-vectors.js';

const pairs = loadSharedKeys();
const keyCache = new Map<string, { key: PeerKey; k1: Uint8Array }>();
function keyFor(a: number, b: number): { key: PeerKey; k1: Uint8Array } {
  const id = a < b ? `${a}-${b}` : `${b}-${a}`;
  let k = keyCache.get(id);
  if (!k) {
    const p = pairs.find((x) => (x.a === a && x.b === b) || (x.a === b && x.b === a));
    if (!p) throw new Error(`no key for ${a.toString(16)}/${b.toString(16)}`);
    k = { key: createPeerKey(p.key48), k1: p.k1 };
    keyCache.set(id, k);
  }
  return k;
}

const SUITE_NAMES: Record<string, number> = {
  C25519_POLY1305_NONE: 0,
  C25519_POLY1305_SALSA2012: 1,
  AES_GMAC_SIV: 3,
};

/** The sender's inner IV of a suite-3 packet: AES-256-ECB-decrypt(K1, bytes 0-7 || 19-26)[0:8]. */
function innerIv(k1: Uint8Array, wire: Uint8Array): Uint8Array {
  const d = createDecipheriv('aes-256-ecb', k1, null).setAutoPadding(false);
  const t = Buffer.concat([wire.subarray(0, 8), wire.subarray(19, 27)]);
  return Buffer.concat([d.update(t), d.final()]).subarray(0, 8);
}

/** Re-encodes a decoded VL1 message (payload bytes); undefined for raw VL2 verbs. */
function reencode(m: Message, moons: HelloMoon[]): Uint8Array | undefined {
  switch (m.kind) {
    case 'hello': {
      const h = m.hello;
      return encodeHello({
        ...h,
        physicalDestination: h.physicalDestination ?? null,
        planetWorldId: h.planetWorldId ?? 0n,
        planetWorldTimestamp: h.planetWorldTimestamp ?? 0n,
        moons,
      }).payload;
    }
    case 'ok': {
      const o = m.ok;
      if (o.kind === 'hello') return encodeOkHello(o.inRePacketId, o.hello);
      if (o.kind === 'whois') return encodeOkWhois(o.inRePacketId, o.identities);
      return encodeOk(o.inReVerb, o.inRePacketId, o.data);
    }
    case 'error':
      return encodeError(m.error.inReVerb, m.error.inRePacketId, m.error.code, m.error.data);
    case 'whois':
      return encodeWhois(m.whois);
    case 'rendezvous':
      return encodeRendezvous(m.rendezvous);
    case 'echo':
      return encodeEcho(m.echo);
    case 'push-direct-paths':
      return encodePushDirectPaths({ paths: m.push.paths.map((p) => ({ ...p, address: p.address! })) });
    case 'user-message':
      return encodeUserMessage(m.message);
    default:
      return undefined;
  }
}

function checkCapture(t: import('ava').ExecutionContext, name: string): void {
  const datagrams = readPcap(vectorPath(`pcap/${name}.pcap`));
  const decoded = loadDecoded(`pcap/${name}.decoded.txt`);
  t.is(datagrams.length, decoded.length, 'one decoded entry per datagram');
  let checked = 0;
  let reencoded = 0;
  const suites = new Map<number, number>();
  for (const d of datagrams) {
    const e: DecodedEntry = decoded[d.index]!;
    const where = `${name}#${String(d.index).padStart(3, '0')}`;
    t.is(d.payload.length, e.udpLen, `${where} length`);
    const c = classifyDatagram(d.payload);
    if (e.junk) {
      t.deepEqual(c, { kind: 'ignored', reason: 'too-short' }, where);
      continue;
    }
    if (c.kind !== 'packet') {
      t.fail(`${where}: classified as ${c.kind}`);
      continue;
    }
    const h = c.header;
    t.is(h.packetId.toString(16).padStart(16, '0'), e.packetId!, `${where} packet id`);
    t.is(h.source.toString(16).padStart(10, '0'), e.source!, `${where} source`);
    t.is(h.destination.toString(16).padStart(10, '0'), e.destination!, `${where} destination`);
    t.is(h.hops, e.hops!, `${where} hops`);
    t.is(h.cipher, SUITE_NAMES[e.cipher!], `${where} cipher`);
    const { key, k1 } = keyFor(h.source, h.destination);
    const buf = Uint8Array.from(d.payload);
    const opened = openPacket(key, buf);
    if (!opened.ok) {
      t.fail(`${where}: ${opened.reason}`);
      continue;
    }
    const o = opened.value;
    t.is(o.suite, h.cipher, `${where} suite`);
    t.is(verbName(o.verb), e.verb!, `${where} verb`);
    t.is(o.compressed, e.compressed !== undefined, `${where} compressed flag`);
    if (e.compressed) t.is(o.payload.length, e.compressed.plain, `${where} decompressed length`);
    t.is(toHex(o.payload), e.payloadHex!, `${where} payload`);
    suites.set(o.suite, (suites.get(o.suite) ?? 0) + 1);

    const m = decodeMessage(o.verb, o.payload);
    t.true(m.ok, `${where} ${e.verb} decodes`);
    if (m.ok) {
      // decode → encode gives the captured payload back (HELLO: with its tail decrypted).
      let want = o.payload;
      let moons: HelloMoon[] = [];
      if (m.value.kind === 'hello') {
        const copy = Uint8Array.from(buf);
        decryptHelloTail(key, copy, m.value.hello.tailOffset!);
        want = copy.subarray(28);
        const tail = decodeHelloTail(want.subarray(m.value.hello.tailOffset!));
        moons = tail.ok ? tail.value : [];
      }
      const again = reencode(m.value, moons);
      if (again) {
        t.is(toHex(again), toHex(want), `${where} ${e.verb} re-encodes byte for byte`);
        reencoded++;
      }
    }
    if (m.ok && m.value.kind === 'hello') {
      const tailOffset = m.value.hello.tailOffset!;
      t.is(m.value.hello.identity.address, h.source, `${where} HELLO identity address = source`);
      const tailWant = /cryptField\(moons etc, decrypted\)=([0-9a-f]*)/.exec(e.details)?.[1];
      const copy = Uint8Array.from(buf);
      decryptHelloTail(key, copy, tailOffset);
      const tail = copy.subarray(28 + tailOffset);
      t.is(toHex(tail), tailWant!, `${where} HELLO tail`);
      t.deepEqual(decodeHelloTail(tail), { ok: true, value: [] }, `${where} no moons`);
      const ts = /planetWorldTs=(\d+)/.exec(e.details)?.[1];
      t.is(m.value.hello.planetWorldTimestamp?.toString(), ts, `${where} planet ts`);
    }
    if (m.ok && m.value.kind === 'ok') {
      const inRe = /inReVerb=(\w+) inRePacketId=([0-9a-f]{16})/.exec(e.details);
      if (inRe) {
        t.is(verbName(m.value.ok.inReVerb), inRe[1], `${where} in-re verb`);
        t.is(m.value.ok.inRePacketId.toString(16).padStart(16, '0'), inRe[2], `${where} in-re id`);
      }
    }

    // Re-armor the plaintext (still compressed, as it was on the wire) and expect the captured bytes.
    const again = Uint8Array.from(buf);
    if (o.suite === 3) again.set(innerIv(k1, d.payload), 0);
    armor(key, again, o.suite as 0 | 1 | 3);
    t.is(toHex(again), toHex(d.payload), `${where} re-armors byte for byte`);
    checked++;
  }
  t.log(
    `${name}: ${checked} packets authenticated, decoded and re-armored (${reencoded} VL1 payloads re-encoded byte for byte); suites ${JSON.stringify([...suites])}`,
  );
  t.is(checked, decoded.filter((e) => !e.junk).length);
}

test('ztref-golden.pcap: every packet authenticates, decodes to the listed verb and payload, re-armors exactly', (t) => {
  checkCapture(t, 'ztref-golden');
});

test('ztref-planet-update.pcap: the same, including the OK(HELLO) carrying planet v2', (t) => {
  checkCapture(t, 'ztref-planet-update');
  // pu#3: OK(HELLO) whose world update is the 257-byte v2 planet.
  const d = readPcap(vectorPath('pcap/ztref-planet-update.pcap'))[3]!;
  const h = decodeHeader(d.payload);
  t.true(h.ok);
  if (!h.ok) return;
  const o = openPacket(keyFor(h.value.source, h.value.destination).key, Uint8Array.from(d.payload));
  t.true(o.ok && o.value.verb === Verb.OK);
  if (!o.ok) return;
  const m = decodeMessage(o.value.verb, o.value.payload);
  t.true(m.ok && m.value.kind === 'ok' && m.value.ok.kind === 'hello');
  if (m.ok && m.value.kind === 'ok' && m.value.ok.kind === 'hello') {
    t.is(m.value.ok.hello.worlds.length, 257);
    t.is(m.value.ok.hello.worlds[0], 0x01, 'a planet');
  }
});

test('ztref-fragments.pcap: heads and fragments reassemble and every packet authenticates and decodes', (t) => {
  const datagrams = readPcap(vectorPath('pcap/ztref-fragments.pcap'));
  const flows = new Map<string, Reassembler>();
  const verbs = new Map<string, number>();
  let whole = 0;
  let assembled = 0;
  let fragments = 0;
  let junk = 0;
  const largest: number[] = [];
  const open = (where: string, pkt: Uint8Array) => {
    const h = decodeHeader(pkt);
    if (!h.ok) {
      t.fail(`${where}: ${h.reason}`);
      return;
    }
    const o = openPacket(keyFor(h.value.source, h.value.destination).key, Uint8Array.from(pkt));
    if (!o.ok) {
      t.fail(`${where}: ${o.reason}`);
      return;
    }
    const m = decodeMessage(o.value.verb, o.value.payload);
    t.true(m.ok, `${where}: ${verbName(o.value.verb)} decodes`);
    verbs.set(verbName(o.value.verb), (verbs.get(verbName(o.value.verb)) ?? 0) + 1);
  };
  for (const d of datagrams as UdpDatagram[]) {
    const where = `fragments#${d.index}`;
    const flow = `${d.src}>${d.dst}`;
    let r = flows.get(flow);
    if (!r) {
      r = new Reassembler();
      flows.set(flow, r);
    }
    const now = d.time * 1000;
    const c = classifyDatagram(d.payload);
    if (c.kind === 'ignored') {
      junk++;
      t.true(d.payload.length < 28, `${where}: only junk is ignored (${c.reason})`);
      continue;
    }
    if (c.kind === 'fragment') {
      fragments++;
      const f = decodeFragment(d.payload);
      t.true(f.ok);
      const res = r.addFragment(now, c.fragment);
      if (res.kind === 'complete') {
        assembled++;
        largest.push(res.packet.length);
        open(where, res.packet);
      }
      continue;
    }
    if (c.kind === 'packet' && c.header.fragmented) {
      t.is(d.payload.length, 1432, `${where}: heads are one MTU`);
      const res = r.addHead(now, d.payload);
      if (res.kind === 'complete') {
        assembled++;
        largest.push(res.packet.length);
        open(where, res.packet);
      }
      continue;
    }
    if (c.kind === 'packet') {
      whole++;
      open(where, d.payload);
    }
  }
  t.log(
    `fragments: ${whole} whole packets, ${fragments} fragments, ${assembled} reassembled (sizes ${[...new Set(largest)].join(', ')}), ${junk} junk; verbs ${JSON.stringify([...verbs])}`,
  );
  t.true(assembled > 0 && assembled <= fragments);
  t.true(largest.includes(2766), 'the 2766-byte FRAME of PROTOCOL-VL1.md §9.4');
  for (const r of flows.values()) t.is(r.pending, 0, 'no incomplete set left behind');
});
