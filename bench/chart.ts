/**
 * bench/latency.svg: the latency distributions of a bench run as CDFs on a
 * log-scale time axis, in plain SVG (no dependency), drawn from the percentiles
 * of the latency rows (a full `npm run bench` redraws it).
 *
 *   node --import tsx bench/chart.ts <results.json>   redraws it from the JSON
 *                                                      of `npm run bench -- --json=<file>`
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** One distribution to draw: its 0th…100th percentiles, ms. */
export interface ChartSeries {
  readonly label: string;
  readonly percentiles: readonly number[];
}

const WIDTH = 900;
const PLOT = { left: 64, top: 44, width: 560, height: 300 };
const HEIGHT = PLOT.top + PLOT.height + 56;
const COLORS = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02', '#a6761d', '#666666'];

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number): string => v.toFixed(1);
const tickLabel = (ms: number): string => (ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`);

/** Renders the CDFs of `series` (percentiles in ms) as an SVG document. */
export function renderLatencySvg(series: readonly ChartSeries[], title: string): string {
  const values = series.flatMap((s) => s.percentiles).filter((v) => Number.isFinite(v) && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values)));
  // A maximum a hair over a decade (a 1 s poll's 1001 ms) does not open another decade: it is drawn at the edge.
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values) / 1.02));
  const x = (ms: number): number => PLOT.left + ((Math.log10(Math.min(Math.max(ms, lo), hi)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PLOT.width;
  const y = (fraction: number): number => PLOT.top + (1 - fraction) * PLOT.height;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  out.push(`<text x="${PLOT.left}" y="24" font-size="15" font-weight="bold">${escape(title)}</text>`);
  // Grid: decades and their 2…9 multiples; quartiles and p99.
  for (let decade = lo; decade <= hi; decade *= 10) {
    const xd = fmt(x(decade));
    out.push(`<line x1="${xd}" y1="${PLOT.top}" x2="${xd}" y2="${PLOT.top + PLOT.height}" stroke="#bbbbbb"/>`);
    out.push(`<text x="${xd}" y="${PLOT.top + PLOT.height + 18}" text-anchor="middle">${tickLabel(Number(decade.toPrecision(1)))}</text>`);
    if (decade < hi) {
      for (let m = 2; m <= 9; m++) out.push(`<line x1="${fmt(x(decade * m))}" y1="${PLOT.top}" x2="${fmt(x(decade * m))}" y2="${PLOT.top + PLOT.height}" stroke="#eeeeee"/>`);
    }
  }
  for (const f of [0, 0.25, 0.5, 0.75, 0.99, 1]) {
    out.push(`<line x1="${PLOT.left}" y1="${fmt(y(f))}" x2="${PLOT.left + PLOT.width}" y2="${fmt(y(f))}" stroke="${f === 0.5 || f === 0.99 ? '#999999' : '#dddddd'}"${f === 0.99 ? ' stroke-dasharray="4 3"' : ''}/>`);
    if (f === 0.99) out.push(`<text x="${PLOT.left + PLOT.width - 4}" y="${fmt(y(f) + 14)}" text-anchor="end" fill="#666666">p99</text>`);
    else out.push(`<text x="${PLOT.left - 8}" y="${fmt(y(f) + 4)}" text-anchor="end">${f * 100}%</text>`);
  }
  out.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.width}" height="${PLOT.height}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${PLOT.left + PLOT.width / 2}" y="${HEIGHT - 12}" text-anchor="middle">write issued → change in the subscriber's hands (log scale)</text>`);
  out.push(`<text transform="translate(16 ${PLOT.top + PLOT.height / 2}) rotate(-90)" text-anchor="middle">share of writes delivered</text>`);
  // One step curve per series, and its legend entry.
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const points: string[] = [];
    s.percentiles.forEach((ms, p) => {
      if (!Number.isFinite(ms)) return;
      if (p > 0) points.push(`${fmt(x(ms))},${fmt(y((p - 1) / 100))}`);
      points.push(`${fmt(x(ms))},${fmt(y(p / 100))}`);
    });
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`);
    const ly = PLOT.top + 8 + i * 36;
    const lx = PLOT.left + PLOT.width + 18;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
    const words = s.label.split(' ');
    const lines: string[] = [''];
    for (const w of words) {
      if ((lines.at(-1)! + ' ' + w).trim().length > 34) lines.push(w);
      else lines[lines.length - 1] = (lines.at(-1)! + ' ' + w).trim();
    }
    lines.slice(0, 2).forEach((line, k) => out.push(`<text x="${lx + 28}" y="${ly + 4 + k * 14}">${escape(line)}</text>`));
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: chart.ts <results.json> (written by npm run bench -- --json=<file>)');
  const results = JSON.parse(readFileSync(file, 'utf8')) as { chart?: { title: string; series: ChartSeries[] } };
  if (!results.chart) throw new Error(`${file} has no chart data`);
  writeFileSync(new URL('latency.svg', import.meta.url), renderLatencySvg(results.chart.series, results.chart.title));
  console.log('bench/latency.svg redrawn');
}
