import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built binary, run as a user would (`npm run build` first). */
export const CLI_PATH = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Environment variables that would pick a database or a log level behind a test's back. */
const AMBIENT = ['TTP_RULES_DB', 'DATABASE_URL', 'TTP_RULES_LOG_LEVEL', 'TTP_RULES_DEBUG'];

/** `process.env` without the CLI's ambient settings, plus `extra`. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of AMBIENT) delete env[key];
  return { ...env, ...extra };
}

/** Options of {@link runCli} and {@link spawnCli}. */
export interface CliOptions {
  cwd?: string;
  /** The whole environment (default: {@link cliEnv}()). */
  env?: NodeJS.ProcessEnv;
  /** Kill the process and fail after this long (default 120 s; long-running commands are stopped by the test). */
  timeoutMs?: number;
}

/** What a finished CLI run produced. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Non-empty stdout lines. */
  readonly lines: string[];
  /** Every stdout line parsed as JSON. */
  json<T = Record<string, unknown>>(): T[];
}

function result(code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string): CliResult {
  const lines = stdout.split('\n').filter((l) => l !== '');
  return {
    code,
    signal,
    stdout,
    stderr,
    lines,
    json<T>() {
      return lines.map((line) => {
        try {
          return JSON.parse(line) as T;
        } catch {
          throw new Error(`stdout line is not JSON: ${line}\nstderr: ${stderr}`);
        }
      });
    },
  };
}

/** Runs `ttp-rules args…` to completion and returns its exit code and output. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const handle = spawnCli(args, options);
  return handle.exited;
}

/** A running CLI process whose stdout is read line by line. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** Resolves with the first line (from the start of output) matching `predicate`; rejects after `ms`. */
  waitForLine(predicate: (line: string) => boolean, ms?: number, what?: string): Promise<string>;
  /** Like {@link waitForLine} on lines parsed as JSON. */
  waitForJson<T = Record<string, unknown>>(predicate: (value: T) => boolean, ms?: number, what?: string): Promise<T>;
  /** Resolves once stderr matches `pattern`; rejects after `ms` or when the process exits first. */
  waitForStderr(pattern: RegExp, ms?: number): Promise<void>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
  /** Resolves when the process exits (or rejects when it outlives its timeout). */
  readonly exited: Promise<CliResult>;
  stderr(): string;
}

/** Starts `ttp-rules args…` and reads its stdout as lines, for long-running commands. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): CliProcess {
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  const waiters = new Set<() => void>();
  let exitedFlag = false;
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    stdout += chunk;
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (line !== '') lines.push(line);
    for (const check of [...waiters]) check();
  });
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
    for (const check of [...waiters]) check();
  });
  const timeoutMs = options.timeoutMs ?? 120_000;
  const exited = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ttp-rules ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      exitedFlag = true;
      for (const check of [...waiters]) check();
      resolve(result(code, signal, stdout, stderr));
    });
  });
  // A rejection nobody awaits (a test that failed earlier) must not crash the runner.
  exited.catch(() => {});

  /** Re-checks `found` on every output chunk until it yields a value, the process exits, or `ms` passes. */
  const waitUntil = <T>(found: () => T | undefined, ms: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const value = found();
        if (value !== undefined) {
          done();
          resolve(value);
          return;
        }
        if (exitedFlag) {
          done();
          reject(new Error(`ttp-rules exited (code ${child.exitCode}) before ${what}\nstdout: ${stdout}\nstderr: ${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}\nstdout: ${stdout}\nstderr: ${stderr}`));
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const waitForLine = (predicate: (line: string) => boolean, ms = 15_000, what = 'a matching line'): Promise<string> => {
    let index = 0;
    return waitUntil(
      () => {
        for (; index < lines.length; index++) if (predicate(lines[index]!)) return lines[index]!;
        return undefined;
      },
      ms,
      what,
    );
  };

  return {
    child,
    lines,
    waitForLine,
    async waitForJson<T>(predicate: (value: T) => boolean, ms?: number, what = 'a matching JSON line') {
      const line = await waitForLine(
        (l) => {
          try {
            return predicate(JSON.parse(l) as T);
          } catch {
            return false;
          }
        },
        ms,
        what,
      );
      return JSON.parse(line) as T;
    },
    async waitForStderr(pattern, ms = 15_000) {
      await waitUntil(() => (pattern.test(stderr) ? true : undefined), ms, `stderr matching ${pattern}`);
    },
    async stop(signal = 'SIGTERM') {
      if (!exitedFlag) child.kill(signal);
      return exited;
    },
    exited,
    stderr: () => stderr,
  };
}

/** True when stderr holds a JavaScript stack trace. */
export function hasStackTrace(stderr: string): boolean {
  return /^\s+at .+(\(|:\d+:\d+)/m.test(stderr);
}
