// zerotier-idtool through real processes (the launcher at the repository root).
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { c25519KeyPairMatches, fromHex, toHex } from '../../service/core/c25519.js';
import { parseIdentity, validateIdentity } from '../../service/core/identity.js';
import { formatInetAddress } from '../../service/core/inet-address.js';
import { parseWorld, verifyWorldSignature, WORLD_TYPE_MOON, WORLD_TYPE_PLANET } from '../../service/core/world.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const tool = join(repo, 'zerotier-idtool');
const fixtures = join(repo, 'test/fixtures/vectors');

const identities: { name: string; address: string; public: string; secret: string }[] = JSON.parse(
  await readFile(join(fixtures, 'identities/identities.json'), 'utf8'),
);
const byName = (n: string) => identities.find((v) => v.name === n)!;
const invalid = new Map(
  (await readFile(join(fixtures, 'identities/invalid-identities.txt'), 'utf8'))
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(' ') as [string, string]),
);
const sigVector = new Map(
  (await readFile(join(fixtures, 'identities/signature.txt'), 'utf8'))
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)] as [string, string]),
);
const v1key = await readFile(join(fixtures, 'planet/planet-v1-signing-keypair.c25519'));
const v2key = await readFile(join(fixtures, 'planet/planet-v2-signing-keypair.c25519'));
const v1bytes = await readFile(join(fixtures, 'planet/planet-v1.bin'));
const v2bytes = await readFile(join(fixtures, 'planet/planet-v2-update.bin'));

async function workdir(t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'netcon-idtool-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
const run = (args: string[], cwd?: string) => execa(tool, args, { reject: false, cwd: cwd ?? repo });

test('no command, an unknown command or missing arguments: usage on stderr, exit 1', async (t) => {
  for (const args of [
    [],
    ['frobnicate'],
    ['validate'],
    ['sign', 'x'],
    ['verify', 'a', 'b'],
    ['initmoon'],
    ['genmoon'],
  ]) {
    const r = await run(args);
    t.is(r.exitCode, 1, args.join(' '));
    t.is(r.stdout, '', args.join(' '));
    t.regex(r.stderr, /^zerotier-idtool version .*\nUsage: zerotier-idtool <command> \[<args>\]/, args.join(' '));
    t.regex(r.stderr, /genplanet <planet json>/);
  }
});

test('generate: to stdout, and to files with modes 0600/0644, never overwriting', async (t) => {
  const r = await run(['generate']);
  t.is(r.exitCode, 0);
  const id = parseIdentity(r.stdout);
  t.true(id.hasPrivate);
  t.deepEqual(validateIdentity(id), { valid: true });

  const dir = await workdir(t);
  const w = await run(['generate', 'identity.secret', 'identity.public'], dir);
  t.is(w.exitCode, 0);
  t.is(w.stdout, 'identity.secret written\nidentity.public written');
  const sec = await readFile(join(dir, 'identity.secret'), 'utf8');
  const pub = await readFile(join(dir, 'identity.public'), 'utf8');
  t.is(parseIdentity(sec).toString(false), pub);
  t.is((await stat(join(dir, 'identity.secret'))).mode & 0o777, 0o600);
  t.is((await stat(join(dir, 'identity.public'))).mode & 0o777, 0o644);
  const again = await run(['generate', 'identity.secret'], dir);
  t.is(again.exitCode, 1);
  t.regex(again.stderr, /^Error writing to identity\.secret/);
  t.is(await readFile(join(dir, 'identity.secret'), 'utf8'), sec);
});

test('generate with a vanity prefix', async (t) => {
  const dir = await workdir(t);
  const v = await run(['generate', 's', 'p', '5'], dir);
  t.is(v.exitCode, 0);
  t.regex(v.stderr, /vanity address: found 5[0-9a-f]{9} !/);
  t.true((await readFile(join(dir, 'p'), 'utf8')).startsWith('5'));
  t.true((await readFile(join(dir, 's'), 'utf8')).startsWith('5'));
  const bad = await run(['generate', 's2', 'p2', 'xyz'], dir);
  t.is(bad.exitCode, 1);
  t.regex(bad.stderr, /^zerotier-idtool version/);
});

test('validate: every vector identity (file and literal) is valid', async (t) => {
  const dir = await workdir(t);
  for (const v of identities) {
    const f = join(dir, `${v.name}.secret`);
    await writeFile(f, v.secret);
    const r = await run(['validate', f]);
    t.is(r.exitCode, 0, v.name);
    t.is(r.stdout, `${f} is a valid identity`);
    const lit = await run(['validate', v.public]);
    t.is(lit.stdout, `${v.public} is a valid identity`);
  }
});

test('validate: invalid identities fail; the mismatched key pair fails with a clear reason', async (t) => {
  for (const name of ['bad-pubkey', 'bad-address']) {
    const r = await run(['validate', invalid.get(name)!]);
    t.is(r.exitCode, 1, name);
    t.regex(r.stderr, /FAILED validation\.\n {2}address [0-9a-f]{10} does not derive from the public key/);
  }
  const r = await run(['validate', invalid.get('bad-keypair')!]);
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /FAILED validation\.\n {2}private key does not match public key/);
  const u = await run(['validate', '/nonexistent/identity.secret']);
  t.is(u.exitCode, 1);
  t.is(u.stderr, 'Identity argument invalid or file unreadable: /nonexistent/identity.secret');
});

test('getpublic prints the public form without a newline', async (t) => {
  const r = await run(['getpublic', byName('node-B').secret]);
  t.is(r.exitCode, 0);
  t.is(r.stdout, byName('node-B').public);
});

test('sign reproduces the vector signature; verify accepts it (hex or file) and rejects a changed one', async (t) => {
  const dir = await workdir(t);
  const msg = join(dir, 'msg.txt');
  await writeFile(msg, fromHex(sigVector.get('message_hex')!)!);
  await writeFile(join(dir, 'id1.secret'), byName('id1').secret);
  const s = await run(['sign', join(dir, 'id1.secret'), msg]);
  t.is(s.exitCode, 0);
  t.is(s.stdout, sigVector.get('signature_hex')!);
  const v = await run(['verify', byName('id1').public, msg, s.stdout]);
  t.is(v.exitCode, 0);
  t.is(v.stdout, `${msg} signature valid`);
  await writeFile(join(dir, 'sig'), `${s.stdout}\n`);
  t.is((await run(['verify', byName('id1').public, msg, join(dir, 'sig')])).exitCode, 0);
  const bad = `${s.stdout.slice(0, 10)}${s.stdout[10] === '0' ? '1' : '0'}${s.stdout.slice(11)}`;
  const f = await run(['verify', byName('id1').public, msg, bad]);
  t.is(f.exitCode, 1);
  t.is(f.stderr, `${msg} signature check FAILED`);
  const other = await run(['verify', byName('id2').public, msg, s.stdout]);
  t.is(other.exitCode, 1);
  const nopriv = await run(['sign', byName('id1').public, msg]);
  t.is(nopriv.exitCode, 1);
  t.regex(nopriv.stderr, /does not contain a private key \(must use private to sign\)/);
  const unreadable = await run(['sign', byName('id1').secret, join(dir, 'missing')]);
  t.is(unreadable.stderr, `${join(dir, 'missing')} is not readable`);
});

test('initmoon prints ZeroTier-style JSON; genmoon writes <16 hex id>.moon, signed and verifiable', async (t) => {
  const dir = await workdir(t);
  await writeFile(join(dir, 'r.public'), byName('node-R').public);
  const init = await run(['initmoon', join(dir, 'r.public')], dir);
  t.is(init.exitCode, 0);
  const json = JSON.parse(init.stdout);
  t.deepEqual(Object.keys(json), [
    'id',
    'objtype',
    'roots',
    'signingKey',
    'signingKey_SECRET',
    'updatesMustBeSignedBy',
    'worldType',
  ]);
  t.is(json.id, '29077f37cd');
  t.is(json.worldType, 'moon');
  t.is(json.signingKey, json.updatesMustBeSignedBy);
  t.true(c25519KeyPairMatches(fromHex(json.signingKey)!, fromHex(json.signingKey_SECRET)!));
  t.true(init.stdout.startsWith('{\n "id": "29077f37cd",\n "objtype": "world",\n "roots": [\n  {\n   "identity": '));
  t.regex(init.stdout, /"stableEndpoints": \[\]\n {2}\}\n \],/);

  json.roots[0].stableEndpoints = ['10.99.0.1/9993'];
  await writeFile(join(dir, 'moon.json'), JSON.stringify(json));
  const before = Date.now();
  const gen = await run(['genmoon', 'moon.json'], dir);
  t.is(gen.exitCode, 0);
  const m = /^wrote 00000029077f37cd\.moon \(signed world with timestamp (\d+)\)$/.exec(gen.stdout);
  t.truthy(m, gen.stdout);
  const bytes = new Uint8Array(await readFile(join(dir, '00000029077f37cd.moon')));
  t.is(bytes.length, 259);
  const moon = parseWorld(bytes);
  t.is(moon.type, WORLD_TYPE_MOON);
  t.is(moon.id, 0x29077f37cdn);
  t.is(moon.timestamp, BigInt(m![1]!));
  t.true(Number(moon.timestamp) >= before);
  t.true(verifyWorldSignature(moon));
  t.is(formatInetAddress(moon.roots[0]!.stableEndpoints[0]!), '10.99.0.1/9993');
});

test('genmoon errors: unreadable file, bad id, bad worldType, bad key, bad endpoint, bad identity', async (t) => {
  const dir = await workdir(t);
  const base = {
    id: '29077f37cd',
    objtype: 'world',
    roots: [{ identity: byName('node-R').public, stableEndpoints: [] as string[] }],
    signingKey: v1key.subarray(0, 64).toString('hex'),
    signingKey_SECRET: v1key.subarray(64).toString('hex'),
    updatesMustBeSignedBy: v1key.subarray(0, 64).toString('hex'),
    worldType: 'moon',
  };
  const cases: [unknown, RegExp][] = [
    [{ ...base, id: '0' }, /^ID in m\.json is invalid$/],
    [{ ...base, id: 'zz' }, /^ID in m\.json is invalid$/],
    [{ ...base, worldType: 'star' }, /^invalid worldType$/],
    [{ ...base, signingKey_SECRET: v2key.subarray(64).toString('hex') }, /does not belong to signingKey/],
    [{ ...base, signingKey: 'abcd' }, /signingKey in m\.json is missing or not 128 hex digits/],
    [
      { ...base, roots: [{ identity: byName('node-R').public, stableEndpoints: ['example.com/9993'] }] },
      /not ip\/port/,
    ],
    [{ ...base, roots: [{ identity: invalid.get('bad-address') }] }, /roots\[0\]\.identity in m\.json is invalid/],
  ];
  for (const [json, re] of cases) {
    await writeFile(join(dir, 'm.json'), JSON.stringify(json));
    const r = await run(['genmoon', 'm.json'], dir);
    t.is(r.exitCode, 1, String(re));
    t.regex(r.stderr, re);
  }
  const missing = await run(['genmoon', 'nope.json'], dir);
  t.is(missing.stderr, 'cannot read nope.json');
});

test('genplanet reproduces planet-v1.bin and the signed update planet-v2-update.bin byte for byte', async (t) => {
  const dir = await workdir(t);
  const root = { identity: byName('node-R').public, stableEndpoints: ['10.99.0.1/9993'] };
  const v1 = {
    id: '0000000008eac90a',
    objtype: 'world',
    roots: [root],
    signingKey: v1key.subarray(0, 64).toString('hex'),
    signingKey_SECRET: v1key.subarray(64).toString('hex'),
    updatesMustBeSignedBy: v1key.subarray(0, 64).toString('hex'),
    worldType: 'planet',
    timestamp: 1795300890135,
  };
  await writeFile(join(dir, 'v1.json'), JSON.stringify(v1));
  const g1 = await run(['genplanet', 'v1.json'], dir);
  t.is(g1.exitCode, 0, g1.stderr);
  t.regex(g1.stdout, /^wrote planet \(signed world with timestamp 1795300890135\)\n/);
  t.is(toHex(await readFile(join(dir, 'planet'))), toHex(v1bytes));

  // The update: signed with v1's key, embedding v2's key for the next revision.
  const v2 = { ...v1, updatesMustBeSignedBy: v2key.subarray(0, 64).toString('hex'), timestamp: 1795302506191 };
  await writeFile(join(dir, 'v2.json'), JSON.stringify(v2));
  const g2 = await run(['genplanet', 'v2.json'], dir);
  t.is(g2.exitCode, 0, g2.stderr);
  t.regex(g2.stdout, /signed with the previous key/);
  t.is(toHex(await readFile(join(dir, 'planet'))), toHex(v2bytes));

  // Over v2, an update signed with v1's key again is refused and the file is kept.
  const v3bad = { ...v2, timestamp: 1795309999999 };
  await writeFile(join(dir, 'v3bad.json'), JSON.stringify(v3bad));
  const g3 = await run(['genplanet', 'v3bad.json'], dir);
  t.is(g3.exitCode, 1);
  t.regex(g3.stderr, /not a valid update of it: signature/);
  t.is(toHex(await readFile(join(dir, 'planet'))), toHex(v2bytes));
  // Signed with v2's key (the current updatesMustBeSignedBy), with the current time, it is accepted.
  const v3 = {
    ...v2,
    signingKey: v2key.subarray(0, 64).toString('hex'),
    signingKey_SECRET: v2key.subarray(64).toString('hex'),
    timestamp: undefined,
  };
  await writeFile(join(dir, 'v3.json'), JSON.stringify(v3));
  const g4 = await run(['genplanet', 'v3.json', 'planet'], dir);
  t.is(g4.exitCode, 0, g4.stderr);
  const p3 = parseWorld(new Uint8Array(await readFile(join(dir, 'planet'))));
  t.is(p3.type, WORLD_TYPE_PLANET);
  t.true(verifyWorldSignature(p3, fromHex(v2.updatesMustBeSignedBy)!));
  // An older timestamp is refused.
  const old = { ...v3, timestamp: 1795300000000 };
  await writeFile(join(dir, 'old.json'), JSON.stringify(old));
  const g5 = await run(['genplanet', 'old.json'], dir);
  t.is(g5.exitCode, 1);
  t.regex(g5.stderr, /not newer/);
});

test('initplanet prints a planet template; genplanet needs stable endpoints and worldType planet', async (t) => {
  const dir = await workdir(t);
  const init = await run(['initplanet', byName('node-R').public, '10.99.0.1/9993', 'fd00::1/9993']);
  t.is(init.exitCode, 0, init.stderr);
  const json = JSON.parse(init.stdout);
  t.is(json.id, '0000000008eac90a');
  t.is(json.worldType, 'planet');
  t.deepEqual(json.roots[0].stableEndpoints, ['10.99.0.1/9993', 'fd00::1/9993']);
  await writeFile(join(dir, 'p.json'), init.stdout);
  const g = await run(['genplanet', 'p.json', 'out.planet'], dir);
  t.is(g.exitCode, 0, g.stderr);
  const p = parseWorld(new Uint8Array(await readFile(join(dir, 'out.planet'))));
  t.true(verifyWorldSignature(p));
  t.is(p.roots[0]!.stableEndpoints.length, 2);

  json.roots[0].stableEndpoints = [];
  await writeFile(join(dir, 'p2.json'), JSON.stringify(json));
  const e = await run(['genplanet', 'p2.json', 'x'], dir);
  t.is(e.exitCode, 1);
  t.regex(e.stderr, /needs at least one/);
  json.worldType = 'moon';
  await writeFile(join(dir, 'p3.json'), JSON.stringify(json));
  t.regex((await run(['genplanet', 'p3.json', 'x'], dir)).stderr, /must be "planet"/);
  t.regex((await run(['initplanet', byName('node-R').public, 'nope'])).stderr, /invalid stable endpoint/);
});
