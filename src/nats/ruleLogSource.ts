import type { CompiledRule } from '../domain/compileRule.js';
import type { ReadLogOptions, ReadLogResult } from '../log/readLog.js';

/**
 * What a bus-fed engine reads from the database: a snapshot once, then pages of
 * the log when it catches up. A `RuleStore` is one.
 */
export interface RuleLogSource {
  /** The rules and the position they are consistent at. */
  snapshot(): Promise<{ readonly position: string; readonly rules: readonly CompiledRule[] }>;
  /** One page of the log after `after`, as `RuleStore.readLog` (the engine leaves `maxEvents` / `maxBytes` to the source's defaults). */
  readLog(after: string, options?: ReadLogOptions): Promise<ReadLogResult>;
}

/** A source opened for one read: `close()` releases it (a `RuleStore`'s closes it). */
export interface OpenedRuleLogSource extends RuleLogSource {
  close(): Promise<void>;
}

/**
 * Opens a source for one read (the snapshot, or one catch-up), released right
 * after: a worker that holds no database connection in between. A function
 * returning `openRuleStore(…)` is one.
 */
export type RuleLogSourceFactory = () => Promise<OpenedRuleLogSource>;

/**
 * The database side of a bus-fed engine: a source kept open (a `RuleStore`, used
 * as is and never closed by the engine), or a factory called for each read.
 */
export type BusEngineSource = RuleLogSource | RuleLogSourceFactory;

/** The source for one read, and how to let go of it once done. */
export async function acquireSource(source: BusEngineSource): Promise<{ source: RuleLogSource; release: () => Promise<void> }> {
  if (typeof source !== 'function') return { source, release: async () => {} };
  const opened = await source();
  return { source: opened, release: () => opened.close() };
}

/** Options of {@link createSharedStoreSource}. */
export interface SharedStoreSourceOptions {
  /** Close the store this long after the last user released it, ms (default 1000; 0 closes at once). */
  idleMs?: number;
}

/**
 * A source factory for many bus-fed engines in one process: the first engine
 * that needs the database opens one store (or any {@link OpenedRuleLogSource}),
 * engines that need it meanwhile share it, and it is closed `idleMs` after the
 * last one is done. Without it, N engines starting together open N stores (N
 * connection pools) at once. Each caller gets its own handle (`snapshot`,
 * `readLog`, and a `close()` that only releases its share).
 *
 * @example
 * const source = createSharedStoreSource(() => openRuleStore({ url, transport: 'poll', revertExpired: false }));
 * for (const predicate of predicates) watchRulesFromNats(source, { nats: nc, predicate }).subscribe(…);
 */
export function createSharedStoreSource(open: RuleLogSourceFactory, options: SharedStoreSourceOptions = {}): RuleLogSourceFactory {
  const idleMs = options.idleMs ?? 1000;
  let opening: Promise<OpenedRuleLogSource> | null = null;
  let users = 0;
  let idleTimer: NodeJS.Timeout | null = null;

  const closeShared = (): void => {
    const current = opening;
    opening = null;
    void current?.then((store) => store.close()).catch(() => {});
  };

  return async () => {
    if (idleTimer) {
      clearTimeout(idleTimer);
      idleTimer = null;
    }
    users++;
    opening ??= open();
    const mine = opening;
    let store: OpenedRuleLogSource;
    try {
      store = await mine;
    } catch (error) {
      users--;
      if (opening === mine) opening = null; // the next caller tries again
      throw error;
    }
    let released = false;
    return {
      snapshot: () => store.snapshot(),
      readLog: (after, readOptions) => store.readLog(after, readOptions),
      close: async () => {
        if (released) return;
        released = true;
        users--;
        if (users > 0 || opening !== mine) return;
        if (idleMs === 0) closeShared();
        else idleTimer = setTimeout(closeShared, idleMs);
      },
    };
  };
}
