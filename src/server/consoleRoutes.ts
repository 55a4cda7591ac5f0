import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { sessionBodySchema } from './apiSchemas.js';
import { SESSION_COOKIE, type Authenticator } from './authenticator.js';
import { CONSOLE_CSS, CONSOLE_HTML } from './consolePage.js';
import { guard, HttpError, ownOrigin } from './httpGuard.js';
import { parseOr400 } from './ruleRoutes.js';

/** The compiled console scripts: beside this file in dist/, or dist/console when run from src/ (tests under tsx). */
function readScripts(): Map<string, string> {
  const candidates = [new URL('../console/', import.meta.url), new URL('../../dist/console/', import.meta.url)];
  const dir = candidates.map((url) => fileURLToPath(url)).find((path) => existsSync(`${path}app.js`));
  const scripts = new Map<string, string>();
  if (!dir) return scripts;
  for (const name of readdirSync(dir)) if (name.endsWith('.js')) scripts.set(name, readFileSync(`${dir}${name}`, 'utf8'));
  return scripts;
}

/**
 * The console at `/`, its assets, and the session endpoints: `POST
 * /api/v1/session {token}` sets an HttpOnly, SameSite=Strict cookie; `GET`
 * says who the caller is; `DELETE` logs out.
 */
export function registerConsoleRoutes(app: FastifyInstance, auth: Authenticator, sessionTtlMs: number): void {
  const scripts = readScripts();
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(CONSOLE_HTML));
  app.get('/assets/console.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(CONSOLE_CSS));
  app.get('/assets/:name', async (request, reply) => {
    const script = scripts.get((request.params as { name: string }).name);
    if (script === undefined) throw new HttpError(404, 'NOT_FOUND', 'no such asset (run `npm run build` to compile the console)');
    return reply.type('text/javascript; charset=utf-8').send(script);
  });

  app.get('/api/v1/session', async (request) => {
    const caller = guard(auth, request, 'reader');
    return { name: caller.name, role: caller.role, via: caller.via, read_only: auth.readOnly && caller.via === 'anonymous' };
  });

  app.post('/api/v1/session', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== ownOrigin(request)) throw new HttpError(403, 'ORIGIN_MISMATCH', 'cross-origin login refused');
    const { token } = parseOr400(sessionBodySchema, request.body, 'login');
    const session = auth.openSession(token);
    if (!session) throw new HttpError(401, 'UNAUTHORIZED', 'the token is not valid (or the one-time login token was already used)');
    reply.header('set-cookie', `${SESSION_COOKIE}=${session.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(sessionTtlMs / 1000)}`);
    return { name: session.caller.name, role: session.caller.role };
  });

  app.delete('/api/v1/session', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== ownOrigin(request)) throw new HttpError(403, 'ORIGIN_MISMATCH', 'cross-origin request refused');
    auth.closeSession(request.headers);
    reply.header('set-cookie', `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    return { logged_out: true };
  });
}
