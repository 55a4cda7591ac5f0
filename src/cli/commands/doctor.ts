import type { Command } from 'commander';
import { addCommonOptions, createContext, parseMilliseconds, redactUrl, resolveDatabaseUrl, type DatabaseOptions } from '../context.js';
import { formatTable } from '../format.js';
import { printJson, printLine, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';

/** `ttp-rules doctor`: checks a deployment. */
export function registerDoctor(program: Command, run: ActionRunner): void {
  const command = program
    .command('doctor')
    .description('check a deployment: schema version, triggers, writer-lock holders, LISTEN (or why not: pgbouncer, hot standby), clock skew, consumers, NOTIFY queue; exit 1 if a check fails')
    .addHelpText(
      'after',
      `
Examples:
  $ ttp-rules doctor --db postgres://localhost/rules
  $ ttp-rules doctor --db postgres://localhost:6432/rules --transport poll   # through pgbouncer
  $ ttp-rules doctor --json | jq -c 'select(.status != "ok")'`,
    );
  command.option('--lock-threshold <ms>', "fail when a session holds the writers' lock idle in transaction, or keeps writers waiting, longer than this", parseMilliseconds, 10_000);
  addCommonOptions(command, { database: true }).action(
    run(async (options: DatabaseOptions & { lockThreshold: number }) => {
      const context = await createContext(options);
      const url = resolveDatabaseUrl(options.db);
      const { diagnose } = await import('../../observability/doctor.js');
      const checks = await diagnose(url, { lockThresholdMs: options.lockThreshold, ...(context.transport ? { transport: context.transport } : {}) });
      if (context.json) for (const c of checks) printJson(c);
      else {
        printStatus(`ttp-rules doctor: ${redactUrl(url)}`);
        for (const line of formatTable(['STATUS', 'CHECK', 'DETAIL'], checks.map((c) => [c.status, c.name, c.detail]))) printLine(line);
      }
      return checks.some((c) => c.status === 'fail') ? 1 : 0;
    }),
  );
}
