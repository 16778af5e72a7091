// ZeroTier One's own zerotier-cli (1.14.1, ZT_ONE_BIN invoked as zerotier-cli through a symlink) against our
// service, for every command it has (info, listnetworks, listpeers, peers, listmoons, join, leave, get, set,
// orbit, deorbit, dump), with and without -j, compared
//   - with what our zerotier-cli prints against the same service: the same text, byte for byte, once the
//     values that move between two calls (times, ages, latency) are masked;
//   - with what the real CLI prints against a real ZeroTier One in the same situation (a leaf of the same
//     root, a member of the same network): the same line formats and the same JSON shapes.
// ZeroTier One never uses loopback paths, so the real node and our services live in two network namespaces
// joined by a veth pair (testkit/zerotier-one.ts); our service R is the root and the controller. Needs root.
// Without ZT_ONE_BIN the test is registered as skipped and says why.
//
//   ZT_ONE_BIN=/path/to/zerotier-one npx ava --verbose dist/test/service/interop-cli-zerotier-one.test.js

import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { addressToString } from '../../service/core/address.js';
import { newIdentity } from '../../service/random.js';
import { ROOT } from '../../testkit/intercept.js';
import {
  apiIn,
  makeNetns,
  planetWithRoot,
  Scope,
  sleep,
  startZeroTier,
  writeHome,
  ZT_ONE_BIN,
} from '../../testkit/zerotier-one.js';

const service = join(ROOT, 'zerotier-netcon-service');
const ourCliBin = join(ROOT, 'zerotier-cli');
const ROOT_PORT = 29993;
const MEMBER_PORT = 29994;

interface Out {
  code: number;
  out: string;
}

async function run(ns: string, bin: string, home: string, args: string[], cwd?: string): Promise<Out> {
  const r = await execa('ip', ['netns', 'exec', ns, bin, `-D${home}`, ...args], {
    reject: false,
    timeout: 30000,
    stripFinalNewline: false,
    ...(cwd ? { cwd } : {}),
  });
  return { code: r.exitCode ?? -1, out: `${r.stdout}${r.stderr ? `[stderr]${r.stderr}` : ''}` };
}

async function poll<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(500);
  }
  throw new Error(`${what}: not reached in ${ms} ms`);
}

/** Masks what moves between two calls: times, ages, latency (text and JSON). */
function volatile(s: string): string {
  return (
    s
      .replace(/"(clock|lastSend|lastReceive|latency)": ?-?\d+/g, '"$1":0')
      // a network nobody serves is REQUESTING_CONFIGURATION until the root says NOT_FOUND, between two calls
      .replace(/"status": ?"(REQUESTING_CONFIGURATION|NOT_FOUND)"/g, '"status":"pending"')
      .replace(/;-?\d+;-?\d+/g, ';T;T') // listpeers path ages
      .replace(/^(200 listpeers \S+ \S+) -?\d+ /gm, '$1 L ') // listpeers latency
      .replace(/^([0-9a-f]{10} \S+\s+\S+\s+)\s*-?\d+ (DIRECT|RELAY)(\s+)-?\d+\s+-?\d+\s+/gm, '$1L $2 T T ')
  ); // peers
}

/** The template of a text output: addresses, IPs, numbers and names abstracted. */
function template(s: string): string {
  return (
    s
      .replace(/[0-9a-f]{16}/g, 'NWID')
      .replace(/\b[0-9a-f]{10}\b/g, 'ADDR')
      .replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, 'MAC')
      .replace(/\d+\.\d+\.\d+\.\d+(\/\d+)?/g, 'IP')
      // the device column: ZeroTier One's tap, our network's socket path (README: the dev column)
      .replace(/^(200 listnetworks \S+ \S* MAC \S+ (PRIVATE|PUBLIC)) \S+/gm, '$1 DEV')
      .replace(/\d+/g, 'N')
      .replace(/ +/g, ' ')
  );
}

/** The shape of a JSON value: keys and types, recursively (arrays by their first element). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.length > 0 ? [shape(v[0])] : [];
  if (v === null) return 'null';
  if (typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .map((k) => [k, shape((v as Record<string, unknown>)[k])]),
    );
  return typeof v;
}

const reg = ZT_ONE_BIN ? test.serial : test.skip;
if (!ZT_ONE_BIN) {
  console.log(
    "SKIPPED zerotier-cli interop: ZT_ONE_BIN is not set. Set it to a zerotier-one 1.14.1 binary (and run as root: the test creates network namespaces) to check that ZeroTier One's own zerotier-cli works against our service, with the output it gives against ZeroTier One.",
  );
}

reg("interop: ZeroTier One's zerotier-cli against our service, as against ZeroTier One", async (t) => {
  const scope = new Scope();
  t.teardown(() => scope.close());
  const dir = mkdtempSync(join(tmpdir(), 'netcon-ztone-cli-'));
  scope.dirs.push(dir);
  const realCli = join(dir, 'zerotier-cli');
  symlinkSync(ZT_ONE_BIN!, realCli);
  const ns = await makeNetns(scope, 'ztc', 'c', '10.233');

  const rootId = newIdentity();
  const ztId = newIdentity();
  const ztAddr = addressToString(ztId.address);
  const planet = planetWithRoot(rootId, `${ns.ipB}/${ROOT_PORT}`);
  const ztHome = join(dir, 'zt');
  const rHome = join(dir, 'R');
  const mHome = join(dir, 'M');
  writeHome(ztHome, ztId, planet, true);
  writeHome(rHome, rootId, planet, false);
  writeHome(mHome, undefined, planet, false);
  for (const [home, port] of [
    [rHome, ROOT_PORT],
    [mHome, MEMBER_PORT],
  ] as const) {
    scope.services.push(home);
    const r = await execa('ip', ['netns', 'exec', ns.b, service, '-d', `-p${port}`, home], { reject: false });
    if (r.exitCode !== 0) return t.fail(`our service did not start: ${r.stderr}`);
  }
  const mAddr = readFileSync(join(mHome, 'identity.public'), 'utf8').slice(0, 10);
  const zt = startZeroTier(scope, ns.a, ztHome);
  const real = (home: string, nsName: string, ...args: string[]) => run(nsName, realCli, home, args, dir);
  const onM = (...args: string[]) => real(mHome, ns.b, ...args);
  const onZ = (...args: string[]) => real(ztHome, ns.a, ...args);
  const ours = (...args: string[]) => run(ns.b, ourCliBin, mHome, args, dir);

  for (const [what, probe] of [
    ['the real node', onZ],
    ['our member', onM],
  ] as const)
    await poll(`${what} ONLINE`, 60000, async () => {
      if (zt.exitCode !== undefined && zt.exitCode !== null) throw new Error(`zerotier-one exited (${zt.exitCode})`);
      return /^200 info \S+ \S+ ONLINE/.test((await probe('info')).out) ? true : undefined;
    });

  // A network on our controller; both leaves join and are authorized.
  const token = readFileSync(join(rHome, 'authtoken.secret'), 'utf8').trim();
  const ctl = (method: string, path: string, body?: unknown) => apiIn(ns.b, ROOT_PORT, token, method, path, body);
  const s = 1 + Math.floor(Math.random() * 254);
  const nwid = (
    await ctl('POST', `/controller/network/${addressToString(rootId.address)}______`, {
      name: 'cli-interop',
      private: true,
      v4AssignMode: { zt: true },
      ipAssignmentPools: [{ ipRangeStart: `10.81.${s}.10`, ipRangeEnd: `10.81.${s}.250` }],
      routes: [{ target: `10.81.${s}.0/24` }],
    })
  ).id;
  t.is((await onZ('join', nwid)).out, '200 join OK\n');
  t.is((await onM('join', nwid)).out, '200 join OK\n', "the real CLI joins through our service's API");
  for (const a of [ztAddr, mAddr]) await ctl('POST', `/controller/network/${nwid}/member/${a}`, { authorized: true });
  for (const [what, probe] of [
    ['the real node', onZ],
    ['our member', onM],
  ] as const)
    await poll(`${what} OK on ${nwid}`, 60000, async () =>
      / OK PRIVATE \S+ 10\.81\./.test((await probe('listnetworks')).out) ? true : undefined,
    );
  // Both leaves list the root with a direct path.
  const rAddr = addressToString(rootId.address);
  await poll('the leaves to list the root', 60000, async () =>
    (await onM('listpeers')).out.includes(`200 listpeers ${rAddr} ${ns.ipB}/`) &&
    (await onZ('listpeers')).out.includes(`200 listpeers ${rAddr} ${ns.ipB}/`)
      ? true
      : undefined,
  );

  const differences: string[] = [];
  /** One command: real CLI vs our CLI against our service; real CLI against us vs against ZeroTier One. */
  // `undo` puts our service back into the state before the command, so that our CLI meets the same one.
  const compare = async (tt: ExecutionContext, args: string[], json: boolean, undo?: () => Promise<unknown>) => {
    const a = await onM(...args);
    await undo?.();
    const b = await ours(...args);
    const z = await onZ(...args);
    const label = args.join(' ');
    tt.is(a.code, b.code, `${label}: exit codes, real CLI vs ours`);
    tt.is(volatile(b.out), volatile(a.out), `${label}: our CLI prints what the real one prints`);
    tt.is(a.code, z.code, `${label}: exit code against us as against ZeroTier One`);
    if (json) {
      const [ja, jz] = [JSON.parse(a.out), JSON.parse(z.out)];
      if (JSON.stringify(shape(ja)) !== JSON.stringify(shape(jz)))
        differences.push(
          `${label}: JSON shape\n  ours: ${JSON.stringify(shape(ja))}\n  ZeroTier One: ${JSON.stringify(shape(jz))}`,
        );
    } else if (template(a.out) !== template(z.out)) {
      differences.push(
        `${label}:\n  against us: ${JSON.stringify(a.out)}\n  against ZeroTier One: ${JSON.stringify(z.out)}`,
      );
    }
    tt.log(`${label} → ${JSON.stringify(a.out.length > 160 ? `${a.out.slice(0, 160)}…` : a.out)}`);
  };

  for (const j of [false, true]) {
    const J = j ? ['-j'] : [];
    await compare(t, [...J, 'info'], j);
    await compare(t, [...J, 'listnetworks'], j);
    await compare(t, [...J, 'listpeers'], j);
    await compare(t, [...J, 'peers'], j);
    await compare(t, [...J, 'listmoons'], true);
    for (const prop of ['name', 'status', 'ip', 'ip4', 'allowDNS', 'mtu', 'nosuchproperty'])
      await compare(t, [...J, 'get', nwid, prop], false);
    // set prints the network's JSON as the service answered it (compact, no newline), -j or not.
    await compare(t, [...J, 'set', nwid, 'allowDNS=1'], true);
    await compare(t, [...J, 'set', nwid, 'allowDNS=0'], true);
    // join and leave of a network nobody controls (REQUESTING_CONFIGURATION, then gone).
    const other = `${addressToString(rootId.address)}00beef`;
    await compare(t, [...J, 'join', other], j, () => ours('leave', other));
    await compare(t, [...J, 'leave', other], j, () => ours('join', other));
    // orbit and deorbit of a moon nobody serves: ZeroTier One accepts and waits; so do we.
    await compare(t, [...J, 'orbit', 'deadbeef00', 'deadbeef00'], false);
    await compare(t, [...J, 'listmoons'], true);
    await compare(t, [...J, 'deorbit', 'deadbeef00'], j, () => ours('orbit', 'deadbeef00', 'deadbeef00'));
  }
  // Bad arguments are answered alike (exit code and message) by the real CLI and ours.
  for (const args of [
    ['join', '1234'],
    ['get', 'xyz', 'ip'],
    ['set', 'xyz', 'allowDNS=1'],
  ]) {
    const [a, b] = [await onM(...args), await ours(...args)];
    t.is(b.code, a.code, `${args.join(' ')}: exit code`);
    t.is(b.out, a.out, `${args.join(' ')}: message`);
  }

  // dump: the real CLI writes zerotier_dump.txt in its working folder; ours too, with the same content.
  const dumpOf = async (runIt: () => Promise<Out>) => {
    const r = await runIt();
    const path = join(dir, 'zerotier_dump.txt');
    t.is(r.out, `Writing dump to: ${path}\n`);
    const text = readFileSync(path, 'utf8');
    await execa('rm', ['-f', path]);
    return text;
  };
  const [dReal, dOurs, dZ] = [
    await dumpOf(() => onM('dump')),
    await dumpOf(() => ours('dump')),
    await dumpOf(() => onZ('dump')),
  ];
  t.is(volatile(dOurs), volatile(dReal), 'our dump is the real one, byte for byte, times masked');
  // (The interfaces listed are the host's: the real node's namespace also has its tap, ours has none.)
  const sections = (d: string) =>
    d.split('\n').filter((l, i, all) => /^-+$/.test(all[i + 1] ?? '') && l !== '' && !l.startsWith('Interface '));
  t.deepEqual(sections(dReal), sections(dZ), 'the same sections as against ZeroTier One');
  t.log(`dump sections: ${sections(dReal).join(' | ')}`);

  t.log(
    differences.length === 0
      ? 'against us and against ZeroTier One: no difference beyond values'
      : `against us and against ZeroTier One, differences:\n${differences.join('\n')}`,
  );
  t.deepEqual(differences, [], 'the real CLI prints the same formats against us as against ZeroTier One');
  t.true(existsSync(realCli));
});
