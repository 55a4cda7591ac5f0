import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A message between the bench and one of its child processes: `type` says what it is. */
export interface ChildMessage {
  readonly type: string;
  readonly [key: string]: unknown;
}

/** A bench child process (under tsx) spoken to over IPC. */
export interface BenchChild {
  readonly pid: number;
  send(message: ChildMessage): void;
  /** The next message of `type` (messages of other types are not consumed). */
  next<T extends ChildMessage>(type: string, timeoutMs?: number): Promise<T>;
  /** Sends `message` and waits for the answer of type `answer`. */
  ask<T extends ChildMessage>(message: ChildMessage, answer: string, timeoutMs?: number): Promise<T>;
  /** Asks the child to stop (`{ type: 'stop' }`), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  kill(): void;
}

/** Options of {@link forkChild}. */
export interface ForkChildOptions {
  /** Extra node flags (e.g. `--expose-gc`). */
  nodeArgs?: string[];
  /** How long the child may take to send `{ type: 'ready' }`. */
  readyTimeoutMs?: number;
}

/**
 * Forks `file` (resolved against `base`) and resolves once it has sent
 * `{ type: 'ready' }`. A `.ts` file runs under tsx; a `.mjs` file under plain
 * node (the children whose memory is measured run the built package, `dist/`,
 * as a deployment would: tsx alone adds about 35 MB of RSS). With
 * `BENCH_CPU_PROF_DIR` set, every child writes a CPU profile there on exit.
 */
export async function forkChild(file: string, base: string, args: readonly string[], options: ForkChildOptions = {}): Promise<BenchChild & { ready: ChildMessage }> {
  const profileDir = process.env['BENCH_CPU_PROF_DIR'];
  const child: ChildProcess = fork(fileURLToPath(new URL(file, base)), [...args], {
    execArgv: [...(file.endsWith('.ts') ? ['--import', 'tsx'] : []), ...(options.nodeArgs ?? []), ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: ChildMessage[] = [];
  const waiting: { type: string; resolve: (m: ChildMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  let exit: Error | null = null;
  child.on('message', (message: ChildMessage) => {
    const i = waiting.findIndex((w) => w.type === message.type);
    if (i < 0) return void inbox.push(message);
    const [w] = waiting.splice(i, 1);
    clearTimeout(w!.timer);
    w!.resolve(message);
  });
  child.on('exit', (code, signal) => {
    exit = new Error(`${file} (pid ${child.pid}) exited (${signal ?? `code ${String(code)}`})`);
    for (const w of waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(exit);
    }
  });
  const next = <T extends ChildMessage>(type: string, timeoutMs = 60_000): Promise<T> => {
    const i = inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0] as T);
    if (exit) return Promise.reject(exit);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const j = waiting.findIndex((w) => w.timer === timer);
        if (j >= 0) waiting.splice(j, 1);
        reject(new Error(`${file}: no '${type}' message within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.push({ type, resolve: resolve as (m: ChildMessage) => void, reject, timer });
    });
  };
  const exited = (): Promise<void> => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  const handle: BenchChild = {
    pid: child.pid ?? -1,
    send: (message) => {
      if (child.connected) child.send(message);
    },
    next,
    ask: (message, answer, timeoutMs) => {
      const reply = next(answer, timeoutMs);
      handle.send(message);
      return reply as never;
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      handle.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited();
      clearTimeout(timer);
    },
    kill: () => void child.kill('SIGKILL'),
  };
  try {
    const ready = await next('ready', options.readyTimeoutMs ?? 60_000);
    return Object.assign(handle, { ready });
  } catch (error) {
    handle.kill();
    throw error;
  }
}

/** The built package's entry (`npm run bench` builds it first); null when it is missing. */
export function builtPackage(): string | null {
  const entry = new URL('../../dist/index.js', import.meta.url);
  return existsSync(entry) ? fileURLToPath(entry) : null;
}
