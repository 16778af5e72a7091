// Hosted nodes on real networks: a single service is the root and the controller (self-hosted planet, which
// the host folder's nodes inherit); one `zerotier-netcon-service --nodes` process hosts a, b (network N1)
// and c (network N2), all on one UDP port on 127.0.0.1. Apps run under the intercept in empty network
// namespaces, as in the walk-through.
//   - a serves HTTP to b through the intercept (TCP between two nodes of one process, over the shared port);
//   - c's network and socket never reach a's or b's, and theirs never reach c's;
//   - c is fed the fuzz corpus (mutated datagrams of the golden captures, addressed to c) during a transfer
//     between a and b: the transfer is intact, c's drops count the fuzz, a's and b's do not, and datagrams
//     for no hosted node or too short to name one are counted by the host.
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { inNs, kill } from '../../testkit/intercept.js';
import {
  call,
  cli,
  freePort,
  type HostProc,
  type Rig,
  startHost,
  startRig,
  token,
  waitFor,
  waitOnNetwork,
} from '../helpers/host-proc.js';
import { readPcap } from '../helpers/pcap.js';
import { vectorPath } from '../helpers/vl1-vectors.js';
import { mutate, prng } from '../helpers/vl2-fuzz.js';

interface Node {
  home: string;
  address: string;
  sock: string;
  ip: string;
}

let rig: Rig;
let host: HostProc;
let n1: string;
let n2: string;
const nodes: Record<string, Node> = {};
let www: string;

test.before(async () => {
  rig = await startRig('netcon-hostnet-');
  for (const n of ['a', 'b', 'c']) mkdirSync(join(rig.hostDir, n), { mode: 0o700 });
  host = await startHost(rig.hostDir, await freePort());
  for (const n of ['a', 'b', 'c']) {
    const home = join(rig.hostDir, n);
    nodes[n] = { home, address: readFileSync(join(home, 'identity.public'), 'utf8').slice(0, 10), sock: '', ip: '' };
  }
  // The root admits one new identity per 2 s per /24 (as ZeroTier One): three nodes take a few seconds.
  await waitFor('the hosted nodes to come ONLINE', 90_000, async () => {
    for (const n of Object.values(nodes)) if (!(await cli(n.home, 'info')).stdout.endsWith('ONLINE')) return undefined;
    return true;
  });
  n1 = await rig.network('host-n1');
  n2 = await rig.network('host-n2');
  for (const [n, nwid] of [
    ['a', n1],
    ['b', n1],
    ['c', n2],
  ] as const) {
    const r = await cli(nodes[n]!.home, 'join', nwid);
    if (r.stdout !== '200 join OK') throw new Error(`join ${n}: ${r.stdout} ${r.stderr}`);
    await rig.authorize(nwid, nodes[n]!.address);
  }
  for (const [n, nwid] of [
    ['a', n1],
    ['b', n1],
    ['c', n2],
  ] as const)
    Object.assign(nodes[n]!, await waitOnNetwork(nodes[n]!.home, nwid));
  www = mkdtempSync(join(tmpdir(), 'netcon-hostnet-www-'));
});

test.after.always(async () => {
  await host?.stop();
  await rig?.close();
  if (www) rmSync(www, { recursive: true, force: true });
});

const md5 = (x: Uint8Array) => createHash('md5').update(x).digest('hex');

/** python3 -m http.server on node `n` (under the intercept), serving `www`; resolves when b can fetch from it. */
async function serve(t: { teardown(f: () => void): void }, n: Node, port: number, client: Node) {
  const server = inNs(n.sock, 'python3', ['-m', 'http.server', String(port)], {
    cwd: www,
    reject: false,
    stdout: 'ignore',
    stderr: 'ignore',
  });
  t.teardown(() => kill(server));
  await waitFor(`http.server on ${n.ip}:${port}`, 30_000, async () =>
    (await curl(client, ['-o', '/dev/null', `http://${n.ip}:${port}/`])).exitCode === 0 ? true : undefined,
  );
}

const curl = (n: Node, args: string[]) =>
  inNs(n.sock, 'curl', ['-sSf', '--max-time', '30', ...args], { reject: false, timeout: 40_000 });

type Stats = { drops: Record<string, number> };
const dropsOf = async (n: Node) => {
  const s = (await call(host.port, token(n.home), 'GET', '/unstable/stats')).body as Stats;
  return Object.values(s.drops).reduce((a, b) => a + b, 0);
};
const hostStats = async () =>
  (await call(host.port, token(rig.hostDir), 'GET', '/unstable/stats')).body as {
    wire: { unknownDestination: number; tooShort: number; delivered: number };
  };

test.serial(
  'two hosted nodes on one network exchange TCP through the intercept (HTTP, 2 MiB, MD5 equal)',
  async (t) => {
    const { a, b } = nodes as { a: Node; b: Node };
    const data = randomBytes(2 << 20);
    writeFileSync(join(www, 'two.bin'), data);
    await serve(t, a, 8080, b);
    const out = join(www, 'got-two.bin');
    const got = await curl(b, ['-o', out, `http://${a.ip}:8080/two.bin`]);
    t.is(got.exitCode, 0, String(got.stderr));
    t.is(md5(readFileSync(out)), md5(data));
  },
);

test.serial("isolation: a node's networks and sockets are its own", async (t) => {
  const { a, b, c } = nodes as { a: Node; b: Node; c: Node };
  t.true(existsSync(join(a.home, `nc_${n1}`)));
  t.false(existsSync(join(a.home, `nc_${n2}`)));
  t.true(existsSync(join(c.home, `nc_${n2}`)));
  t.false(existsSync(join(c.home, `nc_${n1}`)));
  const ids = async (n: Node) =>
    ((await call(host.port, token(n.home), 'GET', '/network')).body as { id: string }[]).map((x) => x.id);
  t.deepEqual(await ids(a), [n1]);
  t.deepEqual(await ids(b), [n1]);
  t.deepEqual(await ids(c), [n2]);
  t.is((await call(host.port, token(c.home), 'GET', `/network/${n1}`)).status, 404);
  t.is((await call(host.port, token(a.home), 'GET', `/network/${n2}`)).status, 404);
  // An app on c's network cannot reach a server on a's: there is no route to N1 from N2's stack (and the
  // app's namespace is empty), so the connection fails at once instead of crossing nodes.
  await serve(t, a, 8081, b);
  const cross = await curl(c, ['--max-time', '5', '-o', '/dev/null', `http://${a.ip}:8081/`]);
  t.not(cross.exitCode, 0, 'c reaches nothing of N1');
  // A leave on c touches only c.
  t.is((await cli(c.home, 'leave', n2)).stdout, '200 leave OK');
  t.deepEqual(await ids(a), [n1]);
  t.is((await cli(c.home, 'join', n2)).stdout, '200 join OK');
  Object.assign(c, await waitOnNetwork(c.home, n2));
});

test.serial("fuzz fed to one hosted node: another's transfer is intact, drops are counted per node", async (t) => {
  const { a, b, c } = nodes as { a: Node; b: Node; c: Node };
  const data = randomBytes(4 << 20);
  writeFileSync(join(www, 'fuzz.bin'), data);
  await serve(t, a, 8082, b);
  const [dropsA0, dropsB0, dropsC0] = [await dropsOf(a), await dropsOf(b), await dropsOf(c)];
  const stats0 = await hostStats();

  // The corpus: every datagram of the golden captures, mutated, readdressed to c.
  const seeds = ['ztref-golden', 'ztref-planet-update', 'ztref-fragments'].flatMap((p) =>
    readPcap(vectorPath(`pcap/${p}.pcap`)).map((d) => d.payload),
  );
  const cAddr = Buffer.from(c.address, 'hex');
  const rnd = prng(0x16f00d);
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  const send = (buf: Uint8Array) =>
    new Promise<void>((resolve, reject) => sock.send(buf, host.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  const FUZZ = 3000;
  const UNKNOWN = 100;
  const SHORT = 20;
  const buf = new Uint8Array(10100);
  const transfer = curl(b, ['-o', join(www, 'got-fuzz.bin'), `http://${a.ip}:8082/fuzz.bin`]);
  for (let i = 0; i < FUZZ; i++) {
    const seed = seeds[rnd() % seeds.length]!;
    let len = mutate(rnd, seed, buf);
    if (len < 13) {
      buf.set(seed.subarray(0, Math.min(28, seed.length)));
      len = Math.max(13, Math.min(28, seed.length));
    }
    buf.set(cAddr, 8);
    await send(buf.subarray(0, len));
  }
  for (let i = 0; i < UNKNOWN; i++) {
    const d = randomBytes(64);
    d.set([0xfe, 0xed, 0x00, 0x16, i], 8); // no hosted node has this address
    await send(d);
  }
  for (let i = 0; i < SHORT; i++) await send(randomBytes(5));
  const got = await transfer;
  t.is(got.exitCode, 0, String(got.stderr));
  t.is(md5(readFileSync(join(www, 'got-fuzz.bin'))), md5(data), 'the transfer between a and b is intact');

  // Most of the fuzz is dropped at once (bad MAC, bad fragment ...); what looks like a packet from an unknown
  // source waits for WHOIS first, and fragments wait for their siblings until they expire: counted later.
  await waitFor("c's drops to count the fuzz", 30_000, async () =>
    (await dropsOf(c)) - dropsC0 >= FUZZ * 0.7 ? true : undefined,
  );
  const [dA, dB, dC] = [(await dropsOf(a)) - dropsA0, (await dropsOf(b)) - dropsB0, (await dropsOf(c)) - dropsC0];
  t.log(`drops during the fuzz: a ${dA}, b ${dB}, c ${dC} (${FUZZ} fuzz datagrams sent to c)`);
  t.true(dC <= FUZZ + 50, `c counted ${dC} drops for ${FUZZ} datagrams`);
  t.true(dA < 20 && dB < 20, `a and b counted none of the fuzz (a ${dA}, b ${dB})`);
  const stats = await hostStats();
  t.is(stats.wire.unknownDestination - stats0.wire.unknownDestination, UNKNOWN);
  t.is(stats.wire.tooShort - stats0.wire.tooShort, SHORT);
  // c still works: it is still ONLINE and its network OK.
  t.regex((await cli(c.home, 'info')).stdout, / ONLINE$/);
  t.regex((await cli(c.home, 'listnetworks')).stdout, new RegExp(`${n2} \\S+ \\S+ OK `));
});
