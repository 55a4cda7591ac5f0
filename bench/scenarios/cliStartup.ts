import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize } from '../support/stats.js';
import type { Scenario } from '../support/scenario.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const RULES = fileURLToPath(new URL('../../rules/', import.meta.url));

/** One command's start-up figure, ms. */
export interface CliStartupRow {
  readonly id: 'node' | 'version' | 'list';
  readonly label: string;
  readonly p50: number;
  readonly p90: number;
  /** Every run, ms. */
  readonly runs: readonly number[];
}

/** `ttp-rules` start-up next to a bare `node -e 0`, each a fresh process. */
export interface CliStartupResult {
  readonly reps: number;
  readonly rows: readonly CliStartupRow[];
}

/**
 * CLI start-up: wall time of a whole process (spawn to exit) for `node -e 0`
 * (the baseline: what any Node CLI pays), `ttp-rules --version` (the command
 * line alone) and `ttp-rules list` on a SQLite file holding the shipped
 * `rules/` (the SQLite backend, the rule compiler, one read). Runs the built
 * CLI (dist/). The commands are interleaved rep by rep after one unmeasured
 * round, so a shared machine's drift hits all three alike. Null when dist/ is
 * missing.
 */
export function measureCliStartup(options: { reps: number; log: (m: string) => void }): CliStartupResult | null {
  if (!existsSync(CLI)) return null;
  const dir = mkdtempSync(join(tmpdir(), 'ttp-bench-cli-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The bench runs under tsx; the measured processes must not.
  for (const key of ['NODE_OPTIONS', 'TTP_RULES_DB', 'DATABASE_URL', 'TTP_RULES_LOG_LEVEL']) delete env[key];
  const db = `sqlite:${join(dir, 'bench.db')}`;
  const exec = (args: readonly string[]): number => {
    const t0 = performance.now();
    const child = spawnSync(process.execPath, args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = performance.now() - t0;
    if (child.status !== 0) throw new Error(`node ${args.join(' ')} exited ${child.status}: ${child.stderr.toString()}`);
    return ms;
  };
  try {
    exec([CLI, 'apply', RULES, '--db', db]);
    const commands = [
      { id: 'node', label: '`node -e 0` (baseline: a bare Node process)', args: ['-e', '0'] },
      { id: 'version', label: '`ttp-rules --version`', args: [CLI, '--version'] },
      { id: 'list', label: '`ttp-rules list` on SQLite (the shipped rules/)', args: [CLI, 'list', '--db', db] },
    ] as const;
    for (const c of commands) exec(c.args);
    const runs = new Map<string, number[]>(commands.map((c) => [c.id, []]));
    for (let rep = 0; rep < options.reps; rep++) for (const c of commands) runs.get(c.id)!.push(exec(c.args));
    const rows = commands.map((c) => {
      const s = summarize(runs.get(c.id)!);
      return { id: c.id, label: c.label, p50: s.p50, p90: s.p90, runs: runs.get(c.id)! };
    });
    options.log(`cli start-up: ${rows.map((r) => `${r.id} ${r.p50.toFixed(0)} ms`).join(', ')}`);
    return { reps: options.reps, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CLI start-up: spawn to exit of the built binary, against node -e 0. */
export const cliStartupScenario: Scenario<{ reps: number }> = {
  id: 'cliStartup',
  title: 'CLI start-up',
  measures: 'ttp-rules --version and ttp-rules list (SQLite), spawn to exit, against node -e 0',
  plan: { quick: { reps: 5 }, full: { reps: 20 } },
  needsBuild: true,
  async run(context, plan) {
    context.log(`cli start-up: node -e 0, ttp-rules --version and ttp-rules list (SQLite), ${plan.reps} runs each`);
    return { cliStartup: measureCliStartup({ ...plan, log: context.log }) };
  },
};
