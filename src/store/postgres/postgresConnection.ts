import { userInfo } from 'node:os';
import type { Options } from 'postgres';
import { RuleStoreError } from '../../domain/errors.js';

/** A Postgres URL resolved once, for every driver the store uses (postgres.js pools, pg-listen, node-pg-migrate). */
export interface PostgresConnection {
  /** The URL with the user filled in, as libpq would pick it; what pg (pg-listen, node-pg-migrate) gets. */
  readonly url: string;
  /** The login role: the URL's, else `$PGUSER`, else the operating-system user (never `$USER` alone). */
  readonly user: string;
  /** The host as a socket address (IPv6 without its brackets), or null when the URL names none. */
  readonly host: string | null;
  readonly port: number | null;
}

function osUser(env: NodeJS.ProcessEnv): string | undefined {
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // no passwd entry for this uid (some containers): fall back to the environment
  }
  return env['USER'] || env['LOGNAME'] || env['USERNAME'] || undefined;
}

/**
 * Resolves a `postgres://` URL the way libpq does, in one place: the user is the
 * URL's, else `$PGUSER`, else the operating-system user (`os.userInfo()`, so
 * cron, systemd units and containers without `$USER` work); an IPv6 host
 * (`postgres://root@[::1]:5432/db`) loses its brackets for the socket. A URL
 * the WHATWG parser refuses (several hosts, `h1,h2`) is passed on untouched.
 *
 * @example resolvePostgresConnection('postgres://localhost/rules').url // 'postgres://alice@localhost/rules'
 */
export function resolvePostgresConnection(url: string, env: NodeJS.ProcessEnv = process.env): PostgresConnection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, user: env['PGUSER'] || osUser(env) || '', host: null, port: null };
  }
  let user = decodeURIComponent(parsed.username);
  if (user === '') {
    const fallback = env['PGUSER'] || osUser(env);
    if (!fallback) {
      throw new RuleStoreError('CONFIG_INVALID', 'the database URL names no user and none can be found ($PGUSER, the operating-system user): write postgres://USER@host/db');
    }
    user = fallback;
    parsed.username = encodeURIComponent(user);
  }
  const bracketed = /^\[(.*)\]$/.exec(parsed.hostname);
  return {
    url: parsed.toString(),
    user,
    host: bracketed ? bracketed[1]! : parsed.hostname || null,
    port: parsed.port ? Number(parsed.port) : null,
  };
}

/**
 * postgres.js options for a resolved connection: the URL (query parameters such
 * as `sslmode` keep working) plus the host as an address when postgres.js would
 * misread it (it splits `[::1]:5432` at the first colon and looks up `[`).
 */
export function postgresJsOptions<T extends Options<{}>>(connection: PostgresConnection, options: T): T {
  if (connection.host === null || !connection.host.includes(':')) return options;
  // Arrays are postgres.js's own form for hosts (its types only show the string form).
  return { ...options, host: [connection.host] as unknown as string, port: [connection.port ?? 5432] as unknown as number };
}
