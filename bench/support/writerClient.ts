import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WriterOp, WriterReply } from './writerProtocol.js';

/** A writer child process: one command at a time, answered with the write's stamps. */
export interface Writer {
  call(op: WriterOp, args?: Record<string, unknown>): Promise<{ t0: number; t1: number }>;
  close(): Promise<void>;
}

const CALL_TIMEOUT_MS = 120_000;

/**
 * Forks `writerProcess.ts` (under tsx) and resolves once it is ready. With
 * `BENCH_CPU_PROF_DIR` set, the child writes a CPU profile there on exit.
 */
export async function startWriter(): Promise<Writer> {
  const profileDir = process.env['BENCH_CPU_PROF_DIR'];
  const child: ChildProcess = fork(fileURLToPath(new URL('./writerProcess.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (r: WriterReply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited = false;
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  child.on('message', (reply: WriterReply) => {
    if (reply.id === 0) return ready();
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    waiter?.resolve(reply);
  });
  child.on('exit', (code) => {
    exited = true;
    for (const w of pending.values()) w.reject(new Error(`writer process exited (code ${String(code)})`));
    pending.clear();
  });
  await readyPromise;

  const writer: Writer = {
    async call(op, args = {}) {
      if (exited) throw new Error('writer process has exited');
      const id = nextId++;
      const reply = await new Promise<WriterReply>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`writer ${op} timed out`));
        }, CALL_TIMEOUT_MS);
        pending.set(id, {
          resolve: (r) => (clearTimeout(timer), resolve(r)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
        child.send({ id, op, args });
      });
      if (reply.error) throw new Error(`writer ${op}: ${reply.error}`);
      return { t0: reply.t0 ?? Number.NaN, t1: reply.t1 ?? Number.NaN };
    },
    async close() {
      if (exited) return;
      try {
        await writer.call('close');
      } catch {
        // the child is going away regardless
      }
      child.disconnect();
      await new Promise<void>((resolve) => {
        if (exited) return resolve();
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 5000);
        child.once('exit', () => (clearTimeout(timer), resolve()));
      });
    },
  };
  return writer;
}
