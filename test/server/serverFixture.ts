import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuleServer, hashToken, type ApiRole, type RuleServerOptions, type RuleServerResult, type RuleStore } from '../../src/index.js';
import { createBackendFixture, type BackendFixture, type BackendName } from '../helpers/backends.js';
import { fixtureFiles, readFixture } from '../helpers/rules.js';

/** A store on a fresh database, some DECNET rules, a server on a free port, and one token per role. */
export interface ServerFixture {
  readonly backend: BackendFixture;
  readonly store: RuleStore;
  readonly server: RuleServerResult;
  readonly url: string;
  /** token per role; each token's name is the role's name + '-tester'. */
  readonly tokens: Record<ApiRole, string>;
  readonly tokensFile: string;
  readonly ruleIds: string[];
  /** `Authorization: Bearer` headers for a role. */
  bearer(role: ApiRole, extra?: Record<string, string>): Record<string, string>;
  teardown(): Promise<void>;
}

export const TEST_TOKENS: Record<ApiRole, string> = {
  reader: 'ttp_test_reader_token_0000000000000000000000000',
  operator: 'ttp_test_operator_token_00000000000000000000000',
  author: 'ttp_test_author_token_0000000000000000000000000',
};

/** Writes a tokens file with the three test tokens (hashes only). */
export function writeTokensFile(dir: string): string {
  const file = join(dir, 'tokens.txt');
  writeFileSync(file, Object.entries(TEST_TOKENS).map(([role, token]) => `${role}-tester ${role} ${hashToken(token)}`).join('\n') + '\n');
  return file;
}

export async function createServerFixture(name: BackendName, label: string, options: RuleServerOptions & { rules?: number; withTokens?: boolean } = {}): Promise<ServerFixture> {
  const backend = await createBackendFixture(name, label);
  const dir = mkdtempSync(join(tmpdir(), 'ttp-server-'));
  const tokensFile = writeTokensFile(dir);
  const store = await backend.open({ migrate: true });
  const files = fixtureFiles().slice(0, options.rules ?? 6);
  const result = await store.upsertRules(files.map((file) => ({ yaml: readFixture(file), sourcePath: file })), { updatedBy: 'fixture' });
  const { rules: _rules, withTokens, ...serverOptions } = options;
  const tokens = withTokens === false ? undefined : (Object.keys(TEST_TOKENS) as ApiRole[]).map((role) => ({ name: `${role}-tester`, role, sha256: hashToken(TEST_TOKENS[role]) }));
  const server = await createRuleServer(store, { port: 0, heartbeatMs: 500, ...(tokens ? { tokens } : {}), ...serverOptions });
  return {
    backend,
    store,
    server,
    url: server.url,
    tokens: TEST_TOKENS,
    tokensFile,
    ruleIds: [...result.upserted].sort(),
    bearer: (role, extra = {}) => ({ authorization: `Bearer ${TEST_TOKENS[role]}`, ...extra }),
    async teardown() {
      await server.close();
      await backend.teardown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
