import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ReplaySubject, filter, firstValueFrom, timeout, type Observable } from 'rxjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One JSON line printed by a fixture process. */
export type FixtureLine = Record<string, unknown>;

/** A fixture script from test/sqlite/fixtures running in its own Node process. */
export interface FixtureProcess {
  /** Every JSON line the process printed (replayed to late subscribers); completes on exit. */
  readonly lines: Observable<FixtureLine>;
  /** The first line matching `predicate`; rejects after `ms` or if the process exits first (with its stderr). */
  waitForLine(predicate: (line: FixtureLine) => boolean, ms?: number, what?: string): Promise<FixtureLine>;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Closes stdin (the watcher exits on it) and waits for the exit; kills it after 5 s. */
  stop(): Promise<void>;
}

/** Runs `test/sqlite/fixtures/<name>.ts` with tsx, as a second process sharing the file. */
export function spawnFixture(name: string, args: readonly string[]): FixtureProcess {
  const script = fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = new ReplaySubject<FixtureLine>();
  let pending = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    pending += chunk;
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      const line = pending.slice(0, end).trim();
      pending = pending.slice(end + 1);
      if (line) lines.next(JSON.parse(line) as FixtureLine);
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      lines.complete();
      resolve(code);
    });
  });
  return {
    lines: lines.asObservable(),
    exited,
    async waitForLine(predicate, ms = 10_000, what = 'a line') {
      try {
        return await firstValueFrom(lines.pipe(filter(predicate), timeout(ms)));
      } catch (error) {
        throw new Error(`${name}: no ${what} within ${ms} ms (${(error as Error).message}); stderr: ${stderr.slice(-2000)}`);
      }
    },
    async stop() {
      child.stdin.end();
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}
