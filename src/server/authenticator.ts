import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { hashToken, type ApiRole, type ApiToken } from './apiTokens.js';

/** Who is calling: the token's name (recorded as the actor) and its role. */
export interface Caller {
  readonly name: string;
  readonly role: ApiRole;
  /** How the caller proved it: a bearer token, the console's session cookie, or nothing (read-only server). */
  readonly via: 'bearer' | 'cookie' | 'anonymous';
}

/** Why a request is refused: 401 for missing or bad credentials. */
export type AuthOutcome = { readonly caller: Caller } | { readonly status: 401; readonly detail: string };

/** The name of the console's session cookie. */
export const SESSION_COOKIE = 'ttp_session';

interface Session {
  readonly name: string;
  readonly role: ApiRole;
  readonly expires: number;
}

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  /** Null: no tokens file, the server is read-only and reads need no token. */
  readonly tokens: readonly ApiToken[] | null;
  readonly sessionTtlMs: number;
}

/** Resolves callers from `Authorization: Bearer` or the session cookie, and issues sessions. */
export interface Authenticator {
  authenticate(headers: IncomingHttpHeaders): AuthOutcome;
  /** Exchanges a token (a configured one, or a one-time login token) for a session id. */
  openSession(token: string): { id: string; caller: Caller } | null;
  closeSession(headers: IncomingHttpHeaders): void;
  /** Registers a token usable once, for `ttp-rules start`'s login URL. */
  addOneTimeToken(token: string, name: string, role: ApiRole): void;
  readonly readOnly: boolean;
}

/** Reads one cookie from a Cookie header (no dependency for one value). */
export function readCookie(headers: IncomingHttpHeaders, name: string): string | null {
  for (const part of (headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return null;
}

function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** Creates the authenticator of one server: tokens by hash, sessions in memory. */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const tokens = options.tokens ?? [];
  const sessions = new Map<string, Session>();
  const oneTime = new Map<string, { name: string; role: ApiRole }>();

  const byToken = (token: string): ApiToken | undefined => {
    const hash = hashToken(token);
    // Compare every entry in constant time: the lookup should not leak which prefix matched.
    let found: ApiToken | undefined;
    for (const entry of tokens) if (sameHash(entry.sha256, hash)) found = entry;
    return found;
  };

  return {
    readOnly: options.tokens === null,
    authenticate(headers) {
      const authorization = headers.authorization;
      if (authorization !== undefined) {
        const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(authorization);
        const entry = match ? byToken(match[1]!) : undefined;
        if (!entry) return { status: 401, detail: 'the bearer token is not valid' };
        return { caller: { name: entry.name, role: entry.role, via: 'bearer' } };
      }
      const id = readCookie(headers, SESSION_COOKIE);
      if (id !== null) {
        const session = sessions.get(id);
        if (!session || session.expires < Date.now()) {
          sessions.delete(id);
          return { status: 401, detail: 'the session has expired: log in again' };
        }
        return { caller: { name: session.name, role: session.role, via: 'cookie' } };
      }
      if (options.tokens === null) return { caller: { name: 'anonymous', role: 'reader', via: 'anonymous' } };
      return { status: 401, detail: 'missing credentials: send Authorization: Bearer <token>' };
    },
    openSession(token) {
      const hash = hashToken(token);
      const once = oneTime.get(hash);
      if (once) oneTime.delete(hash);
      const identity = once ?? byToken(token);
      if (!identity) return null;
      const id = randomBytes(32).toString('base64url');
      sessions.set(id, { name: identity.name, role: identity.role, expires: Date.now() + options.sessionTtlMs });
      return { id, caller: { name: identity.name, role: identity.role, via: 'cookie' } };
    },
    closeSession(headers) {
      const id = readCookie(headers, SESSION_COOKIE);
      if (id !== null) sessions.delete(id);
    },
    addOneTimeToken(token, name, role) {
      oneTime.set(hashToken(token), { name, role });
    },
  };
}
