import type { Subscription } from 'rxjs';
import type { RuleStore } from '../index.js';
import { RuleStoreError, RuleValidationError } from '../domain/errors.js';
import type { CliContext } from './context.js';
import { changeJson, changeLine, errorJson } from './format.js';
import { onStdoutClosed, printError, printJson, printLine, printStatus } from './output.js';

/**
 * Prints every change after `from` until SIGINT or SIGTERM (or until stdout's
 * reader goes away), then returns so the caller can close the store cleanly.
 *
 * JSON mode prints `{"kind":"ready","position":from}` first: the live
 * subscription exists, so any change committed from now on will be printed, and
 * every change with a position above `from` follows in position order (a replay
 * from `--since` comes first). Text mode says so on stderr instead.
 *
 * Stored rows that fail to compile (a bad hand edit) are printed as
 * `{"kind":"error",…}` lines; other background failures are logged.
 */
export async function followChanges(store: RuleStore, context: CliContext, from: string): Promise<number> {
  const log = context.logger.child({ component: 'cli:watch' });
  return new Promise<number>((resolve) => {
    let done = false;
    let changes: Subscription | undefined;
    let errors: Subscription | undefined;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      changes?.unsubscribe();
      errors?.unsubscribe();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      restoreStdout();
      // A second Ctrl-C while the store closes means "now".
      process.once('SIGINT', () => process.exit(130));
      resolve(code);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ event: 'cli:watch:stop', signal }, 'stopping');
      finish(0);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const restoreStdout = onStdoutClosed(() => finish(0));

    changes = store.changesSince(from).subscribe({
      next: (change) => (context.json ? printJson(changeJson(change)) : printLine(changeLine(change))),
      error: (error: unknown) => {
        const code = RuleStoreError.is(error) ? error.code : 'FAILED';
        printError(context.json, { code, message: `the change stream failed: ${(error as Error).message}`, tagged: code !== 'FAILED' });
        finish(1);
      },
      complete: () => {
        printError(context.json, { code: 'FAILED', message: 'the change stream ended unexpectedly' });
        finish(1);
      },
    });
    errors = store.errors$.subscribe((error) => {
      if (error instanceof RuleValidationError && error.ruleId !== null) {
        if (context.json) printJson({ kind: 'error', ...errorJson(error) });
        else printLine(`${(error.position ?? '-').padStart(6)}  ${error.ruleId}  cannot be used: ${error.message}`);
      } else {
        log.warn({ event: 'cli:watch:store-error', code: error.code, err: error }, error.message);
      }
    });
    if (context.json) printJson({ kind: 'ready', position: from });
    else printStatus(`watching changes after position ${from} (Ctrl-C to stop)`);
  });
}
