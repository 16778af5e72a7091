// The protocol core (service/core/) reads no clock and makes no randomness of its own (DESIGN.md §2): time
// comes as a parameter and random bytes from the host (NodeOptions.random). A read slipped into the core
// fails here, naming the file and line.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';

const FORBIDDEN = [
  /\bDate\.now\s*\(/,
  /\bnew Date\s*\(\s*\)/,
  /\bperformance\.now\s*\(/,
  /\bprocess\.hrtime\b/,
  /\bMath\.random\s*\(/,
  /\brandomFillSync\b/,
  /\brandomBytes\s*\(\s*\d/,
  /\bgetRandomValues\b/,
  /\brandombytes_/, // libsodium's CSPRNG: keys are made from the host's random bytes (service/random.ts)
  /\bprocess\.env\b/,
  /\bset(Timeout|Interval|Immediate)\s*\(/,
];

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('service/core/ reads no clock, keeps no randomness and no timers', async (t) => {
  const files = await sources('service/core');
  t.true(files.length > 30, `found ${files.length} core files`);
  const hits: string[] = [];
  for (const f of files) {
    const lines = (await readFile(f, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      if (/^\s*(\*|\/\*\*?|\/\/)/.test(line)) return; // comments
      const code = line.replace(/\/\/.*$/, '');
      for (const re of FORBIDDEN) if (re.test(code)) hits.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  t.deepEqual(hits, []);
});
