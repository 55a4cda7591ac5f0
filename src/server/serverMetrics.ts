import { Counter, Gauge, Registry } from 'prom-client';
import type { RuleStore } from '../store/ruleStore.js';

/** The Prometheus figures of one server (its own registry, never the global one). */
export interface ServerMetrics {
  readonly registry: Registry;
  /** Counts one answered request by route template and status. */
  countRequest(route: string, status: number): void;
}

/**
 * Builds the registry behind `GET /metrics`: the store's `stats()` (position,
 * head, lag, delivered, reconnects, errors, subscribers) read at scrape time,
 * the number of SSE clients, and HTTP requests by route and status.
 */
export function createServerMetrics(store: RuleStore, sseClients: () => number): ServerMetrics {
  const registry = new Registry();
  const figures = ['position', 'head', 'lag', 'delivered', 'reconnects', 'errors', 'subscribers'] as const;
  const help: Record<(typeof figures)[number], string> = {
    position: 'The last log position the store has read and emitted',
    head: 'The newest position in the event log',
    lag: 'head - position',
    delivered: 'Changes emitted since the store opened',
    reconnects: 'Times the feed connection came back after a loss',
    errors: 'Errors emitted on errors$ since the store opened',
    subscribers: 'Current subscriptions to the change stream',
  };
  // One stats() per scrape, shared by every gauge (prom-client collects them concurrently).
  let pending: Promise<Awaited<ReturnType<RuleStore['stats']>> | null> | null = null;
  const readStats = (): Promise<Awaited<ReturnType<RuleStore['stats']>> | null> =>
    (pending ??= store
      .stats()
      .catch(() => null)
      .finally(() => {
        pending = null;
      }));
  for (const figure of figures) {
    new Gauge({
      name: `ttp_rules_store_${figure}`,
      help: help[figure],
      registers: [registry],
      async collect() {
        const stats = await readStats();
        if (stats) this.set(Number(stats[figure]));
      },
    });
  }
  new Gauge({
    name: 'ttp_rules_store_up',
    help: '1 when stats() could be read from the database',
    registers: [registry],
    async collect() {
      this.set((await readStats()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ttp_rules_sse_clients',
    help: 'Open SSE connections on /api/v1/ttp/changes',
    registers: [registry],
    collect() {
      this.set(sseClients());
    },
  });
  const requests = new Counter({ name: 'ttp_rules_http_requests_total', help: 'HTTP requests answered, by route and status', labelNames: ['route', 'status'], registers: [registry] });
  return {
    registry,
    countRequest(route, status) {
      requests.inc({ route, status: String(status) });
    },
  };
}
