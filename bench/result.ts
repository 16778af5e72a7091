export interface BenchResult {
  bench: string;
  value: number;
  unit: string;
  baseline: number;
  ratio?: number;
  [extra: string]: unknown;
}

/** Prints the benchmark's one-line JSON result (always the last line of its output). */
export function report(result: BenchResult): void {
  const ratio = result.baseline > 0 ? result.value / result.baseline : 0;
  process.stdout.write(`${JSON.stringify({ ...result, ratio: Math.round(ratio * 1000) / 1000 })}\n`);
}
