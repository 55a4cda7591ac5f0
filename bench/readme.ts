/**
 * Pastes the last measured figures into README.md between markers:
 *   <!-- bench:begin --> … <!-- bench:end -->              the report of a full `npm run bench` (bench/run.ts calls updateReadme)
 *   <!-- reliability:begin --> … <!-- reliability:end -->  bench/reliability.jsonl (npm run test:faults)
 *
 *   node --import tsx bench/readme.ts      re-pastes the reliability table
 *
 * The README's bench block is the only committed copy of the bench figures:
 * they belong to one machine and one run, so no results file is kept beside it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const README = new URL('../README.md', import.meta.url);
const RELIABILITY = new URL('reliability.jsonl', import.meta.url);

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

/** What to paste: the bench report's Markdown (from bench/report.ts) and/or the reliability table. */
export interface ReadmeUpdate {
  readonly bench?: string;
  readonly reliability?: boolean;
}

/** Pastes the bench report and/or the reliability table into README.md. */
export function updateReadme(update: ReadmeUpdate): void {
  let readme = readFileSync(README, 'utf8');
  if (update.bench !== undefined) readme = paste(readme, 'bench', update.bench.replace(/^<!--.*-->\n/, ''));
  if (update.reliability) readme = paste(readme, 'reliability', reliabilityTable());
  writeFileSync(README, readme);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.slice(2).some((w) => w !== 'reliability')) throw new Error('usage: readme.ts [reliability] (the bench block is pasted by a full npm run bench)');
  updateReadme({ reliability: true });
  console.log('README.md updated (reliability)');
}
