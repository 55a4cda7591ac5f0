/** Runs a task when a slot is free; see {@link createQueryLimiter}. */
export type QueryLimiter = <T>(run: () => Promise<T>) => Promise<T>;

/**
 * At most `slots` tasks at once, the rest wait in order. With one slot per pool
 * connection, postgres.js always finds an idle connection for the next query and
 * never pipelines it behind another one. Pipelining is what a transaction pooler
 * (pgbouncer before 1.21) cannot follow: it hands the server connection to
 * another client at the first ReadyForQuery, while the next pipelined query is
 * still on its way, so answers reach the wrong client or never arrive.
 */
export function createQueryLimiter(slots: number): QueryLimiter {
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return async (run) => {
    if (running < slots) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await run();
    } finally {
      release();
    }
  };
}
