import type { FastifyInstance } from 'fastify';
import type { RuleStore } from '../store/ruleStore.js';
import type { ChangeHub } from './changeHub.js';
import type { ServerMetrics } from './serverMetrics.js';

/** `GET /healthz` (200 live, 503 with the reason) and `GET /metrics` (Prometheus text). */
export function registerOpsRoutes(app: FastifyInstance, store: RuleStore, hub: ChangeHub, metrics: ServerMetrics): void {
  app.get('/healthz', async (_request, reply) => {
    if (hub.failure !== null) return reply.code(503).send({ status: 'down', reason: hub.failure });
    try {
      const stats = await store.stats();
      return { status: 'live', transport: stats.transport, position: stats.position, head: stats.head, lag: stats.lag, sse_clients: hub.clients };
    } catch (error) {
      return reply.code(503).send({ status: 'down', reason: `the database cannot be read: ${(error as Error).message}` });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
