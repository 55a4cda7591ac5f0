import type { RuleStore } from '../store/ruleStore.js';

/** Options of {@link createSharedStoreSource}. */
export interface SharedStoreSourceOptions {
  /** Close the store this long after the last user released it, ms (default 1000; 0 closes at once). */
  idleMs?: number;
}

/**
 * A store source for many bus-fed engines in one process: the first engine that
 * needs the database opens one store, engines that need it meanwhile share it,
 * and it is closed `idleMs` after the last one is done. Without it, N engines
 * starting together open N stores (N connection pools) at once. Each caller gets
 * a handle whose `close()` only releases its share.
 *
 * @example
 * const source = createSharedStoreSource(() => openRuleStore({ url, transport: 'poll', revertExpired: false }));
 * for (const predicate of predicates) watchRulesFromNats(source, { nats: nc, predicate }).subscribe(…);
 */
export function createSharedStoreSource(open: () => Promise<RuleStore>, options: SharedStoreSourceOptions = {}): () => Promise<RuleStore> {
  const idleMs = options.idleMs ?? 1000;
  let opening: Promise<RuleStore> | null = null;
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
    let store: RuleStore;
    try {
      store = await mine;
    } catch (error) {
      users--;
      if (opening === mine) opening = null; // the next caller tries again
      throw error;
    }
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      users--;
      if (users > 0 || opening !== mine) return;
      if (idleMs === 0) closeShared();
      else idleTimer = setTimeout(closeShared, idleMs);
    };
    return new Proxy(store, { get: (target, key) => (key === 'close' ? release : Reflect.get(target, key)) });
  };
}
