import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import postgres from 'postgres';
import { openRuleStore, type RuleStore } from '../../src/index.js';
import { PG_SERVER_URL, createTestDatabase, type TestDatabase } from '../helpers/database.js';

const ROLES_SQL = new URL('../../sql/roles.sql', import.meta.url).pathname;

/** The logins a security test uses: unique per file (roles are cluster-wide), dropped after. */
export interface Logins {
  readonly reader: string;
  readonly reader2: string;
  readonly operator: string;
  readonly operator2: string;
  readonly author: string;
  readonly author2: string;
  /** An operator who was also granted TRUNCATE on both tables (to test that path). */
  readonly truncater: string;
}

/** A migrated database with sql/roles.sql applied and one login per role. */
export interface SecurityFixture {
  readonly db: TestDatabase;
  readonly login: Logins;
  urlAs(user: string): string;
  /** A single-connection client (temporary objects live as long as it). */
  sqlAs(user: string): postgres.Sql;
  storeAs(user: string): Promise<RuleStore>;
  /** The schema owner (the test server's user). */
  owner: postgres.Sql;
  close(): Promise<void>;
}

/** True when a driver or store error says permission denied / must be owner. */
export const denied = (e: unknown): boolean =>
  /permission denied|must be owner|row-level security/.test(String((e as Error).message) + String((e as { cause?: Error }).cause?.message));

export async function createSecurityFixture(label: string): Promise<SecurityFixture> {
  const db = await createTestDatabase(label);
  execFileSync('psql', [db.url, '-q', '-v', 'ON_ERROR_STOP=1', '-f', ROLES_SQL], { stdio: 'pipe' });
  const suffix = randomBytes(3).toString('hex');
  const group = { reader: 'reader', reader2: 'reader', operator: 'operator', operator2: 'operator', author: 'author', author2: 'author', truncater: 'operator' } as const;
  const login = Object.fromEntries(Object.keys(group).map((k) => [k, `ttp_s_${k}_${suffix}`])) as unknown as Logins;
  const server = postgres(PG_SERVER_URL, { max: 1, onnotice: () => {} });
  for (const [key, g] of Object.entries(group)) {
    await server.unsafe(`CREATE ROLE "${login[key as keyof Logins]}" LOGIN IN ROLE "ttp_rules_${g}"`);
  }
  const owner = postgres(db.url, { max: 1, onnotice: () => {} });
  await owner.unsafe(`GRANT TRUNCATE ON ttp_rule, ttp_rule_state TO "${login.truncater}"`);
  const opened: { close(): Promise<unknown> }[] = [];
  const urlAs = (user: string): string => {
    const url = new URL(db.url);
    url.username = user;
    return url.toString();
  };
  return {
    db,
    login,
    owner,
    urlAs,
    sqlAs(user) {
      const sql = postgres(urlAs(user), { max: 1, onnotice: () => {} });
      opened.push({ close: () => sql.end({ timeout: 5 }) });
      return sql;
    },
    async storeAs(user) {
      const store = await openRuleStore({ url: urlAs(user) });
      opened.push(store);
      return store;
    },
    async close() {
      for (const o of opened.reverse()) await o.close().catch(() => {});
      await owner.end({ timeout: 5 });
      await db.drop();
      for (const user of Object.values(login)) await server.unsafe(`DROP ROLE IF EXISTS "${user}"`);
      await server.end({ timeout: 5 });
    },
  };
}
