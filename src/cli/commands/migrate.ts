import type { Command } from 'commander';
import { migrate } from '../../store/openRuleStore.js';
import { addCommonOptions, createContext, redactUrl, resolveDatabaseUrl, type DatabaseOptions } from '../context.js';
import { printJson, printLine, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';

/** `ttp-rules migrate`: create or upgrade the schema. */
export function registerMigrate(program: Command, run: ActionRunner): void {
  const command = program
    .command('migrate')
    .description('create or upgrade the database schema (node-pg-migrate on Postgres, the versioned schema on SQLite)')
    .addHelpText(
      'after',
      `
Examples:
  $ ttp-rules migrate                                   # the embedded default ./ttp-rules.db
  $ ttp-rules migrate --db postgres://localhost/rules
  $ DATABASE_URL=postgres://localhost/rules ttp-rules migrate --json`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (options: DatabaseOptions) => {
      const context = await createContext(options);
      const url = resolveDatabaseUrl(options.db);
      const applied = await migrate(url);
      context.logger.info({ event: 'cli:migrate:done', url: redactUrl(url), applied }, 'schema migrated');
      if (context.json) printJson({ database: redactUrl(url), applied });
      else {
        for (const id of applied) printLine(`applied  ${id}`);
        printStatus(applied.length === 0 ? `${redactUrl(url)}: schema is up to date` : `${redactUrl(url)}: ${applied.length} migration(s) applied`);
      }
      return 0;
    }),
  );
}
