import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../tools/cluster.js';

export interface BenchResult {
  bench: string;
  value: number;
  unit: string;
  baseline: number;
  ratio?: number;
  [extra: string]: unknown;
}

/** Where each run's JSON line is kept (`npm run bench -- report` draws them); BENCH_SAVE=0 keeps nothing. */
export const RESULTS = join(ROOT, 'bench', 'results');

/**
 * Prints the benchmark's one-line JSON result (always the last line of its output) and appends it, with the
 * time of the run, to bench/results/<bench>.jsonl. A run's results are committed only where a closing note
 * cites them.
 */
export function report(result: BenchResult): void {
  const ratio = result.baseline > 0 ? result.value / result.baseline : 0;
  const line = JSON.stringify({ ...result, ratio: Math.round(ratio * 1000) / 1000 });
  if (process.env.BENCH_SAVE !== '0') {
    mkdirSync(RESULTS, { recursive: true });
    appendFileSync(
      join(RESULTS, `${result.bench}.jsonl`),
      `${JSON.stringify({ at: new Date().toISOString(), ...JSON.parse(line) })}\n`,
    );
  }
  process.stdout.write(`${line}\n`);
}
