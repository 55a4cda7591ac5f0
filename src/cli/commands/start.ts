import type { Command } from 'commander';
import type { DirectorySync } from '../../index.js';
import { addCommonOptions, createContext, defaultActor, openStore, parseActor, redactUrl, resolveDatabaseUrl, type DatabaseOptions } from '../context.js';
import { followChanges } from '../followChanges.js';
import { printJson, printStatus } from '../output.js';
import type { ActionRunner } from '../program.js';
import { appliedJson, printInvalid, reportCounts, requireRulesDirectory } from '../syncLines.js';
import { parsePort, serveConsoleForStart } from './serve.js';

interface StartOptions extends DatabaseOptions {
  by?: string;
  watchFiles: boolean;
  serve: boolean;
  port: number;
  tokens?: string;
}

/**
 * `ttp-rules start [dir]`: the all-in-one demo (master and watcher). Opens the store (the
 * embedded SQLite file by default), creates or upgrades its schema, syncs the
 * rules directory into it, keeps following the directory, and prints every
 * change like `watch` until Ctrl-C.
 */
export function registerStart(program: Command, run: ActionRunner): void {
  const command = program
    .command('start')
    .description('the all-in-one demo: open the store (creating or upgrading its schema), sync a rules directory into it and keep following it, and print live changes until Ctrl-C')
    .argument('[dir]', 'the rules directory', 'rules')
    .option('--no-watch-files', 'sync the directory once at start instead of following its files')
    .option('--by <name>', 'recorded as updated_by (default: $USER@hostname)', parseActor)
    .option('--no-serve', 'do not serve the console and HTTP API on 127.0.0.1')
    .option('--port <port>', 'port of the console and HTTP API', parsePort, 7070)
    .option('--tokens <file>', 'tokens file for the HTTP API (see `ttp-rules token add`)')
    .addHelpText(
      'after',
      `
The directory is the truth for the rules it owns (stored rules whose
source_path is a rule file directly in it): files are upserted, rules whose
file is gone are deleted. An invalid file is reported and skipped; its stored
version stays in force, and the rest is applied.

With --json: {"kind":"applied","directory":…,"upserted":[…],"unchanged":[…],"deleted":[…]},
one {"kind":"invalid","file":…,"ruleId":…,"issues":[…]} per invalid file (also
later, when a saved file does not validate), then the lines of watch --json
(ready first). Without --json an invalid file is one "invalid: …" line on
stdout, among the changes. The master as a service, without the change feed,
is "ttp-rules sync <dir> --watch".

Examples:
  $ ttp-rules start                      # ./rules into ./ttp-rules.db, then watch
  $ ttp-rules start /srv/detect/rules --db postgres://localhost/rules
  # in another terminal, in the same directory:
  $ ttp-rules state EX001_ssh_bruteforce disable --for 10m`,
    );
  addCommonOptions(command, { database: true }).action(
    run(async (dir: string, options: StartOptions) => {
      await requireRulesDirectory(dir, 'start');
      const context = await createContext(options);
      const url = resolveDatabaseUrl(options.db);
      const { syncDirectory } = await import('../../sync/syncDirectory.js');
      const store = await openStore(context, url, { migrate: true, revertExpired: true });
      let sync: DirectorySync | null = null;
      try {
        sync = await syncDirectory(store, dir, { watch: options.watchFiles, updatedBy: options.by ?? defaultActor(), logger: context.logger });
        const initial = sync.initial;
        if (context.json) printJson(appliedJson(sync, initial));
        else printStatus(`synced ${dir} to ${redactUrl(url)}: ${reportCounts(initial)}`);
        printInvalid(initial.invalid, context.json);
        const reports = sync.reports$.subscribe((report) => printInvalid(report.invalid, context.json));
        const server = options.serve ? await serveConsoleForStart(store, context, { port: options.port, tokensFile: options.tokens, actor: options.by ?? defaultActor() }) : null;
        try {
          const snapshot = await store.snapshot();
          return await followChanges(store, context, snapshot.position);
        } finally {
          reports.unsubscribe();
          await server?.close();
        }
      } finally {
        await sync?.close();
        await store.close();
      }
    }),
  );
}
