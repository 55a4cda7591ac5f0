/**
 * Pastes the last measured figures into README.md between markers:
 *   <!-- bench:begin --> … <!-- bench:end -->              bench/results.md and the chart bench/latency.svg (npm run bench)
 *   <!-- reliability:begin --> … <!-- reliability:end -->  bench/reliability.jsonl (npm run test:faults)
 *
 *   node --import tsx bench/readme.ts [bench|reliability]...
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const README = new URL('../README.md', import.meta.url);
const RESULTS_MD = new URL('results.md', import.meta.url);
const RELIABILITY = new URL('reliability.jsonl', import.meta.url);
const CHART = new URL('latency.svg', import.meta.url);
const CHART_LINE = '![latency](bench/latency.svg)';

interface Row {
  scenario: string;
  faults: string;
  committed: number;
  delivered: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  recoveryMs: number | null;
  note?: string;
  at: string;
}

function paste(readme: string, marker: string, body: string): string {
  const begin = `<!-- ${marker}:begin -->`;
  const end = `<!-- ${marker}:end -->`;
  const from = readme.indexOf(begin);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${begin} … ${end} markers`);
  return `${readme.slice(0, from + begin.length)}\n${body.trim()}\n${readme.slice(to)}`;
}

function reliabilityTable(): string {
  if (!existsSync(RELIABILITY)) return 'Run `npm run test:faults` to measure.';
  const rows = readFileSync(RELIABILITY, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);
  // The last run: the newest row per scenario.
  const latest = new Map<string, Row>();
  for (const row of rows) latest.set(row.scenario, row);
  const at = [...latest.values()].map((r) => r.at).sort().at(-1);
  const lines = [
    `From the last \`npm run test:faults\` (${at}). Every scenario checks that a consumer saw every committed change exactly once, in strictly increasing position order, and that its final view equals the database. Time to recover: for a killed listener, until it listens again; for the server restart, until the first write after it reaches the consumer; for the SQLite reader, until the restarted process delivers again (process start included).`,
    '',
    '| scenario | changes | faults injected | lost | duplicated | out of order | time to recover | notes |',
    '|---|---:|---|---:|---:|---:|---:|---|',
    ...[...latest.values()].map(
      (r) => `| ${r.scenario} | ${r.committed} | ${r.faults} | ${r.lost} | ${r.duplicated} | ${r.outOfOrder} | ${r.recoveryMs === null ? '–' : `${r.recoveryMs} ms`} | ${r.note ?? ''} |`,
    ),
  ];
  return lines.join('\n');
}

/**
 * bench/results.md for the README: links resolved from the repository root, and
 * the latency chart shown (results.md links it as `latency.svg`, beside itself;
 * it is added after the first paragraph when missing and the chart exists).
 */
function benchBlock(): string {
  let body = readFileSync(RESULTS_MD, 'utf8').replace(/^<!--.*-->\n/, '');
  body = body.replace(/\]\(latency\.svg\)/g, '](bench/latency.svg)');
  if (!body.includes('](bench/latency.svg)') && existsSync(CHART)) {
    const cut = body.indexOf('\n\n');
    body = cut < 0 ? `${body}\n\n${CHART_LINE}\n` : `${body.slice(0, cut)}\n\n${CHART_LINE}${body.slice(cut)}`;
  }
  return body;
}

/** Pastes bench/results.md (and/or the reliability table) into README.md. */
export function updateReadme(which: readonly ('bench' | 'reliability')[]): void {
  let readme = readFileSync(README, 'utf8');
  if (which.includes('bench')) readme = paste(readme, 'bench', benchBlock());
  if (which.includes('reliability')) readme = paste(readme, 'reliability', reliabilityTable());
  writeFileSync(README, readme);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const which = process.argv.slice(2).filter((w): w is 'bench' | 'reliability' => w === 'bench' || w === 'reliability');
  updateReadme(which.length > 0 ? which : ['bench', 'reliability']);
  console.log(`README.md updated (${which.length ? which.join(', ') : 'bench, reliability'})`);
}
