import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { RuleStoreError, RuleValidationError } from '../domain/errors.js';
import type { RuleStore } from '../store/ruleStore.js';
import { generateToken, type ApiRole, type ApiToken } from './apiTokens.js';
import { createAuthenticator } from './authenticator.js';
import { createChangeHub } from './changeHub.js';
import { registerChangeStreamRoute } from './changeStreamRoute.js';
import { registerConsoleRoutes } from './consoleRoutes.js';
import { hostName, HttpError, isLoopbackName } from './httpGuard.js';
import { registerOpsRoutes } from './opsRoutes.js';
import { registerRuleRoutes } from './ruleRoutes.js';
import { createServerMetrics } from './serverMetrics.js';

/** Options of {@link createRuleServer}. */
export interface RuleServerOptions {
  /** Interface to bind (default `127.0.0.1`; loopback unless told otherwise). */
  host?: string;
  /** Port (default 7070; 0 picks a free one). */
  port?: number;
  /** The parsed tokens file (see `readTokensFile`); without it the server is read-only. */
  tokens?: readonly ApiToken[];
  /** Also create a token usable once to log in to the console (`ttp-rules start`); its URL is `loginUrl`. */
  oneTimeLogin?: { name: string; role: ApiRole };
  /** Heartbeat comment interval on the SSE stream, ms (default 15000). */
  heartbeatMs?: number;
  /** Recent changes kept for resuming SSE clients (default 1000). */
  replayBuffer?: number;
  /** Largest request body, bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Console session lifetime, ms (default 12 hours). */
  sessionTtlMs?: number;
  logger?: Logger;
}

/** A running server. */
export interface RuleServerResult {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /** The console URL carrying the one-time login token, when `oneTimeLogin` was given. */
  readonly loginUrl: string | null;
  readonly fastify: FastifyInstance;
  /** Ends every SSE stream and stops listening; the store stays open (the caller owns it). */
  close(): Promise<void>;
}

/** Every response: nothing from elsewhere, no framing, no sniffing. */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

function statusOf(error: unknown): { status: number; body: Record<string, unknown>; retryAfter?: number } {
  if (error instanceof HttpError) return { status: error.status, body: { detail: error.message, code: error.code, ...(error.issues ? { issues: error.issues } : {}) } };
  if (error instanceof RuleValidationError) return { status: error.code === 'RULE_TOO_LARGE' ? 413 : 400, body: { detail: error.message, code: error.code, issues: error.issues } };
  if (RuleStoreError.is(error)) {
    // A write that timed out on the writers' lock is worth retrying: 503, and the message names the holder.
    const status = ['STATE_INVALID', 'POSITION_INVALID', 'RULE_INVALID'].includes(error.code) ? 400 : error.code === 'LOG_TRUNCATED' ? 410 : ['STORE_UNAVAILABLE', 'STORE_CLOSED', 'LOCK_TIMEOUT'].includes(error.code) ? 503 : 500;
    return { status, body: { detail: error.message, code: error.code }, ...(error.code === 'LOCK_TIMEOUT' ? { retryAfter: 5 } : {}) };
  }
  const fastifyError = error as { statusCode?: number; code?: string; message?: string };
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, body: { detail: fastifyError.message ?? 'bad request', code: fastifyError.code ?? 'BAD_REQUEST' } };
  }
  return { status: 500, body: { detail: 'internal error', code: 'INTERNAL' } };
}

/**
 * Serves a store over HTTP: the DECNET-compatible rule API, a Server-Sent
 * Events change stream, the operator console at `/`, `/healthz` and
 * `/metrics`. Resolves once listening.
 *
 * @example
 * const store = await openRuleStore({ url });
 * const server = await createRuleServer(store, { tokens: await readTokensFile('tokens.txt') });
 * // curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:7070/api/v1/ttp/rules
 */
export async function createRuleServer(store: RuleStore, options: RuleServerOptions = {}): Promise<RuleServerResult> {
  const host = options.host ?? '127.0.0.1';
  const sessionTtlMs = options.sessionTtlMs ?? 12 * 3600_000;
  const log = options.logger?.child({ component: 'server' });
  const auth = createAuthenticator({ tokens: options.tokens ?? null, sessionTtlMs });
  const loginToken = options.oneTimeLogin ? generateToken() : null;
  if (loginToken && options.oneTimeLogin) auth.addOneTimeToken(loginToken, options.oneTimeLogin.name, options.oneTimeLogin.role);
  const hub = createChangeHub(store, { replayBuffer: options.replayBuffer ?? 1000, heartbeatMs: options.heartbeatMs ?? 15_000 });
  const metrics = createServerMetrics(store, () => hub.clients);
  const loopback = isLoopbackName(host) || host === '::1';

  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? 1024 * 1024, onProtoPoisoning: 'error', onConstructorPoisoning: 'error', return503OnClosing: true });
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(['application/yaml', 'text/yaml'], { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.addHook('onRequest', async (request, reply) => {
    reply.headers(SECURITY_HEADERS);
    // A loopback server answers only to loopback names: a DNS-rebinding page cannot reach it.
    if (loopback && !isLoopbackName(hostName(request.headers.host))) throw new HttpError(421, 'HOST_REFUSED', 'this server only answers to 127.0.0.1, localhost and [::1]');
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.countRequest(request.routeOptions.url ?? 'unmatched', reply.statusCode);
  });
  app.setErrorHandler(async (error, request, reply) => {
    const { status, body, retryAfter } = statusOf(error);
    if (status >= 500) log?.error({ event: 'server:request:error', err: error, method: request.method, url: request.url }, 'request failed');
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ detail: 'not found', code: 'NOT_FOUND' }));

  registerRuleRoutes(app, store, auth);
  registerChangeStreamRoute(app, hub, auth, metrics, SECURITY_HEADERS);
  registerOpsRoutes(app, store, hub, metrics);
  registerConsoleRoutes(app, auth, sessionTtlMs);

  try {
    await app.listen({ host, port: options.port ?? 7070 });
  } catch (error) {
    hub.close();
    throw new RuleStoreError('CONFIG_INVALID', `cannot listen on ${host}:${options.port ?? 7070}: ${(error as Error).message}`, { cause: error });
  }
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log?.info({ event: 'server:listen', url }, 'serving');
  return {
    url,
    port,
    loginUrl: loginToken ? `${url}/#token=${loginToken}` : null,
    fastify: app,
    async close() {
      hub.close();
      await app.close();
    },
  };
}
