import type { FastifyRequest } from 'fastify';
import { roleAllows, type ApiRole } from './apiTokens.js';
import type { Authenticator, Caller } from './authenticator.js';

/** An answer other than 2xx, with DECNET's `detail` and a stable `code`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly issues?: readonly { path: string; message: string }[],
  ) {
    super(detail);
    this.name = 'HttpError';
  }
}

/** The origin this request was addressed to, as a browser on the same page would send it. */
export function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.headers.host ?? ''}`;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The Host header's name, without the port. */
export function hostName(host: string | undefined): string {
  if (!host) return '';
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : (host.split(':')[0] ?? '');
}

/** True for the names a loopback-bound server answers to (refuses DNS-rebinding hosts). */
export function isLoopbackName(name: string): boolean {
  return LOOPBACK_NAMES.has(name);
}

/**
 * Checks who is calling and whether they may: 401 without valid credentials,
 * 403 when the role is too low or the server has no tokens (writes). Writes
 * also need a matching `Origin` when one is sent, and always when the
 * credentials are the session cookie (a browser sends it on its own), and the
 * cookie's writes must carry a JSON body (a cross-site form cannot send one).
 */
export function guard(auth: Authenticator, request: FastifyRequest, role: ApiRole): Caller {
  const outcome = auth.authenticate(request.headers);
  if ('status' in outcome) throw new HttpError(401, 'UNAUTHORIZED', outcome.detail);
  const caller = outcome.caller;
  const write = request.method !== 'GET' && request.method !== 'HEAD';
  if (write) {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== ownOrigin(request)) throw new HttpError(403, 'ORIGIN_MISMATCH', `cross-origin request refused (Origin ${origin.slice(0, 100)})`);
    if (caller.via === 'cookie') {
      if (origin === undefined) throw new HttpError(403, 'ORIGIN_REQUIRED', 'a request with the session cookie that changes something must carry a matching Origin header');
      if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) throw new HttpError(415, 'JSON_REQUIRED', 'a request with the session cookie that changes something must send a JSON body');
    }
    if (caller.via === 'anonymous') {
      throw new HttpError(403, 'READ_ONLY', 'this server is read-only: it was started without a tokens file. Create one with `ttp-rules token add <name> operator --tokens tokens.txt` and restart with `--tokens tokens.txt`');
    }
  }
  if (!roleAllows(caller.role, role)) throw new HttpError(403, 'FORBIDDEN', `${caller.name} is a ${caller.role}; this needs the ${role} role`);
  return caller;
}
