// npm run bench -- <name> [args…]: runs bench/<name>.js. Every benchmark prints, as its last line,
// one JSON object with at least bench, value, unit, baseline and ratio (value / baseline, higher is better),
// the baseline measured in the same run.
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && f !== 'result.js')
  .map((f) => f.slice(0, -3))
  .sort();
const name = process.argv[2];
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <name>\n  benchmarks: ${available.join(', ')}\n`);
  process.exit(1);
}
await import(pathToFileURL(`${here}/${name}.js`).href);
