import type { FastifyInstance } from 'fastify';
import { positionSchema } from './apiSchemas.js';
import type { Authenticator } from './authenticator.js';
import type { ChangeHub } from './changeHub.js';
import { guard, HttpError } from './httpGuard.js';
import { parseOr400 } from './ruleRoutes.js';
import type { ServerMetrics } from './serverMetrics.js';

/** A client this far behind (bytes queued on its socket) is dropped; it resumes with Last-Event-ID. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/**
 * `GET /api/v1/ttp/changes`: Server-Sent Events. Resumes after `Last-Event-ID`
 * (or `?since=`); without either, live from now. `event: ready` once live.
 */
export function registerChangeStreamRoute(app: FastifyInstance, hub: ChangeHub, auth: Authenticator, metrics: ServerMetrics, headers: Record<string, string>): void {
  app.get('/api/v1/ttp/changes', async (request, reply) => {
    guard(auth, request, 'reader');
    const query = request.query as Record<string, unknown>;
    const raw = request.headers['last-event-id'] ?? query['since'];
    const since = raw === undefined ? null : BigInt(parseOr400(positionSchema, raw, 'Last-Event-ID or since'));
    if (hub.failure !== null) throw new HttpError(503, 'STREAM_DOWN', hub.failure);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    // Browsers reconnect after `retry` ms and send the last id they saw as Last-Event-ID.
    res.write('retry: 1000\n\n');
    metrics.countRequest('/api/v1/ttp/changes', 200);
    const handle = hub.follow(since, {
      send(frame) {
        if (res.destroyed) return;
        if (res.writableLength > MAX_QUEUED_BYTES) {
          res.destroy();
          return;
        }
        res.write(frame);
      },
      end() {
        res.end();
      },
    });
    res.on('close', () => handle.detach());
    // A peer that vanished mid-write: the close above detaches it; nothing to report.
    res.on('error', () => handle.detach());
  });
}
