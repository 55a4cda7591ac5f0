import type { Sql } from 'postgres';
import { StoreUnavailableError } from '../../domain/errors.js';
import type { QueryLimiter } from './queryLimiter.js';

type Rows = unknown[] & { count?: number | null; command?: string };

/**
 * The rows of a result, dense. postgres.js (3.4.x, upstream issues
 * porsager/postgres#1119 and #1181, fix proposed in PR #1190) does not reset its
 * per-connection row counter when a query fails mid-stream (statement_timeout,
 * pg_cancel_backend, a recovery conflict on a standby): the next query on that
 * connection resolves with its rows written after that many leading holes. Read
 * through `const [row] = …` that is `undefined` — a disabled rule read as the
 * default `enabled`, a head of 0 — a silent wrong answer.
 *
 * The rows themselves are intact and in order (only their offset is stale), so
 * the holes are dropped when what remains is exactly the server's row count
 * (CommandComplete); otherwise the result cannot be trusted and the call fails
 * with `STORE_UNAVAILABLE` (retry).
 */
export function denseRows<T>(result: T, onRepair?: (holes: number) => void): T {
  if (!Array.isArray(result)) return result;
  const rows = result as Rows;
  let holes = 0;
  for (let i = 0; i < rows.length; i++) if (!(i in rows)) holes++;
  if (holes === 0) return result;
  const present = rows.filter(() => true);
  if (typeof rows.count !== 'number' || present.length !== rows.count) {
    throw new StoreUnavailableError(
      `the Postgres driver returned a damaged result (${holes} missing of ${rows.length} rows, server count ${rows.count ?? 'unknown'}) after a cancelled query on the same connection; retry`,
    );
  }
  onRepair?.(holes);
  return Object.assign(present, { count: rows.count, command: rows.command }) as T;
}

const isTemplate = (value: unknown): boolean => Array.isArray(value) && Object.prototype.hasOwnProperty.call(value, 'raw');

/** Options of {@link withDenseResults}. */
export interface DenseResultsOptions {
  /** Called when a result was repaired (for a log line). */
  onRepair?: (holes: number) => void;
  /**
   * Runs every query and `begin` of the pool itself (not those inside a
   * transaction or on a reserved connection, which already own their connection)
   * through a limiter (`createQueryLimiter`, queryLimiter.ts).
   */
  limit?: QueryLimiter;
}

/**
 * `sql` whose tagged-template queries (and those of its `begin` transactions and
 * `reserve`d connections) resolve through {@link denseRows}. Everything else
 * (`sql(identifier)`, `unsafe`, `end`, …) is the original. Every pool the backend
 * opens goes through this: see {@link denseRows} for the driver bug it guards against.
 */
export function withDenseResults(sql: Sql, options: DenseResultsOptions = {}): Sql {
  const { onRepair } = options;
  const wrap = <S extends object>(target: S, limit: QueryLimiter | undefined): S =>
    new Proxy(target, {
      apply(fn, self, args: unknown[]) {
        const query = Reflect.apply(fn as unknown as (...a: unknown[]) => unknown, self, args);
        if (!isTemplate(args[0]) || !(query instanceof Promise)) return query;
        const then = query.then;
        Object.defineProperty(query, 'then', {
          configurable: true,
          value(onFulfilled?: (value: unknown) => unknown, onRejected?: (reason: unknown) => unknown) {
            const settle = (): Promise<unknown> =>
              then.call(this, (value: unknown) => denseRows(value, onRepair)) as Promise<unknown>;
            // Queries are lazy in postgres.js: nothing is sent before the first then().
            return (limit ? limit(settle) : settle()).then(onFulfilled, onRejected);
          },
        });
        return query;
      },
      get(obj, prop, receiver) {
        const value = Reflect.get(obj, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (prop === 'begin') {
          return (...args: unknown[]) => {
            const last = args.length - 1;
            const body = args[last] as (tx: Sql) => unknown;
            args[last] = (tx: Sql) => body(wrap(tx, undefined));
            const run = (): Promise<unknown> => (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
            return limit ? limit(run) : run();
          };
        }
        if (prop === 'reserve') {
          return async (...args: unknown[]) => wrap(await (value as (...a: unknown[]) => Promise<object>).apply(obj, args), undefined);
        }
        return value;
      },
    });
  return wrap(sql, options.limit);
}
