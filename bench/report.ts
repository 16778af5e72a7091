// npm run bench -- report
// Draws SVG plots from the newest JSON line of each benchmark kept in bench/results/<bench>.jsonl:
//   bench/results/vl2-throughput.svg  throughput against parallel streams: netcon and ZeroTier One (the kernel veth
//                                     too when ZeroTier One was not measured; else its figures in the subtitle);
//   bench/results/vl2-latency.svg     round-trip CDFs: netcon, ZeroTier One, kernel veth, and the floor of
//                                     netcon's design (C relays, when measured) (log time axis);
//   bench/results/density.svg         RSS per node against the number of nodes in one host process (the newest
//                                     run for each --nodes), against ZeroTier One's one node per process.
// No dependencies: the SVG is written by hand. Prints what it drew; exits 1 when there is nothing to draw.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS } from './result.js';

type Series = { name: string; points: [number, number][] };

const COLORS: Record<string, string> = {
  netcon: '#1f77b4',
  zeroTierOne: '#d62728',
  kernel: '#7f7f7f',
  floor: '#9467bd',
};
const LABELS: Record<string, string> = {
  netcon: 'netcon',
  zeroTierOne: 'ZeroTier One 1.14',
  kernel: 'kernel (veth)',
  floor: "design's floor (C)",
};
const W = 720;
const H = 440;
const M = { l: 70, r: 170, t: 40, b: 55 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** The newest line of bench/results/<bench>.jsonl, or undefined. */
function newest(bench: string): Record<string, unknown> | undefined {
  const f = join(RESULTS, `${bench}.jsonl`);
  if (!existsSync(f)) return undefined;
  const lines = readFileSync(f, 'utf8').trim().split('\n').filter(Boolean);
  return lines.length ? (JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>) : undefined;
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= step0)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

interface Axes {
  title: string;
  subtitle: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  xTicks?: number[];
}

function plot(series: Series[], ax: Axes): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const fx = ax.xLog ? Math.log10 : (v: number) => v;
  const [x0, x1] = [fx(Math.min(...xs)), fx(Math.max(...xs))];
  const y1 = Math.max(...ys) * 1.08;
  const px = (v: number) => M.l + ((fx(v) - x0) / (x1 - x0 || 1)) * (W - M.l - M.r);
  const py = (v: number) => H - M.b - (v / (y1 || 1)) * (H - M.t - M.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.l}" y="20" font-size="15" font-weight="bold">${esc(ax.title)}</text>`,
    `<text x="${M.l}" y="35" fill="#555">${esc(ax.subtitle)}</text>`,
  ];
  const xTicks =
    ax.xTicks ?? (ax.xLog ? logTicks(10 ** x0, 10 ** x1) : niceTicks(10 ** 0 * Math.min(...xs), Math.max(...xs)));
  for (const t of xTicks) {
    const x = px(t);
    out.push(`<line x1="${x}" y1="${M.t}" x2="${x}" y2="${H - M.b}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${H - M.b + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const t of niceTicks(0, y1)) {
    const y = py(t);
    out.push(`<line x1="${M.l}" y1="${y}" x2="${W - M.r}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${M.l - 6}" y="${y + 4}" text-anchor="end">${t}</text>`);
  }
  out.push(
    `<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#333"/>`,
  );
  out.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 15}" text-anchor="middle">${esc(ax.xLabel)}</text>`);
  out.push(
    `<text transform="translate(18 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">${esc(ax.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const c = COLORS[s.name] ?? '#2ca02c';
    const d = s.points.map((p, k) => `${k ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"/>`);
    if (s.points.length <= 8)
      for (const p of s.points) out.push(`<circle cx="${px(p[0])}" cy="${py(p[1])}" r="3.5" fill="${c}"/>`);
    const ly = M.t + 14 + i * 20;
    out.push(
      `<line x1="${W - M.r + 12}" y1="${ly - 4}" x2="${W - M.r + 36}" y2="${ly - 4}" stroke="${c}" stroke-width="3"/>`,
    );
    out.push(`<text x="${W - M.r + 42}" y="${ly}">${esc(LABELS[s.name] ?? s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (v >= lo && v <= hi) out.push(v);
    }
  }
  return out;
}

const drawn: string[] = [];
const when = (r: Record<string, unknown>) =>
  String(r.at ?? '')
    .slice(0, 16)
    .replace('T', ' ');

const tp = newest('vl2-throughput');
const streams = tp?.streams as Record<string, Record<string, number>> | undefined;
if (tp && streams) {
  // With ZeroTier One measured, the kernel's veth (10-30 Gbit/s) would flatten the two lines that matter: it
  // is named in the subtitle instead.
  const kernel = streams.zeroTierOne ? streams.kernel : undefined;
  const series = Object.entries(streams)
    .filter(([name]) => !(kernel && name === 'kernel'))
    .map(([name, byStreams]) => ({
      name,
      points: Object.entries(byStreams).map(([s, bps]) => [Number(s), (bps * 8) / 1e6] as [number, number]),
    }));
  const kernelNote = kernel
    ? `; kernel veth ${Object.values(kernel)
        .map((b) => ((b * 8) / 1e9).toFixed(1))
        .join(' / ')} Gbit/s`
    : '';
  const f = join(RESULTS, 'vl2-throughput.svg');
  writeFileSync(
    f,
    plot(series, {
      title: 'TCP throughput between two members (iperf3)',
      subtitle: `two namespaces over a veth pair, ${when(tp)} UTC${kernelNote}`,
      xLabel: 'parallel TCP streams',
      yLabel: 'Mbit/s',
      xLog: true,
      xTicks: series[0]!.points.map((p) => p[0]),
    }),
  );
  drawn.push(f);
}

const lat = newest('vl2-latency');
const cdf = lat?.cdf as Record<string, number[]> | undefined;
if (lat && cdf) {
  const series = Object.entries(cdf).map(([name, q]) => ({
    name,
    points: q.map((us, i) => [Math.max(us, 1), i + 1] as [number, number]),
  }));
  const f = join(RESULTS, 'vl2-latency.svg');
  writeFileSync(
    f,
    plot(series, {
      title: 'TCP round trips between two members (1-byte ping-pong, CDF)',
      subtitle: `${lat.rounds} round trips${lat.warmup ? ` after ${lat.warmup} not counted` : ''}, TCP_NODELAY; two network namespaces over a veth pair; run of ${when(lat)} UTC`,
      xLabel: 'round-trip time (µs, log scale)',
      yLabel: 'percent of round trips at or below',
      xLog: true,
    }),
  );
  drawn.push(f);
}

// density: the newest line for each node count.
const densityFile = join(RESULTS, 'density.jsonl');
if (existsSync(densityFile)) {
  const byN = new Map<number, Record<string, unknown>>();
  for (const l of readFileSync(densityFile, 'utf8').trim().split('\n').filter(Boolean)) {
    const r = JSON.parse(l) as Record<string, unknown>;
    byN.set(Number(r.nodes), r);
  }
  const runs = [...byN.entries()].sort((a, b) => a[0] - b[0]);
  if (runs.length > 0) {
    const zt1 = Number(runs[runs.length - 1]![1].zeroTierOneMB);
    const series: Series[] = [
      { name: 'netcon', points: runs.map(([n, r]) => [n, Number(r.rssPerNodeMB)] as [number, number]) },
      { name: 'zeroTierOne', points: runs.map(([n]) => [n, zt1] as [number, number]) },
    ];
    const cpu = runs.map(([, r]) => r.idleCpuPercent).join(' / ');
    const f = join(RESULTS, 'density.svg');
    writeFileSync(
      f,
      plot(series, {
        title: 'Memory per node: many nodes in one host process',
        subtitle: `one network each, idle; the host's idle CPU: ${cpu} % of a core; ZeroTier One: 1 node/process`,
        xLabel: 'nodes in the process (log scale)',
        yLabel: 'MB RSS per node',
        xLog: true,
        xTicks: runs.map(([n]) => n),
      }),
    );
    drawn.push(f);
  }
}

if (drawn.length === 0) {
  process.stderr.write(
    `nothing to draw: run vl2-throughput, vl2-latency or density first (results go to ${RESULTS})\n`,
  );
  process.exit(1);
}
for (const f of drawn) process.stdout.write(`drew ${f}\n`);
