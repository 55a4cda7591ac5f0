import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

interface Check {
  name: string;
  status: string;
  detail: string;
}

describe('ttp-rules doctor (Postgres)', () => {
  let db: TestDatabase;
  let bare: TestDatabase;

  before(async () => {
    db = await createTestDatabase('cli_doctor');
    bare = await createTestDatabase('cli_doctor_bare', { migrated: false });
  });
  after(async () => {
    await db.drop();
    await bare.drop();
  });

  it('a healthy deployment: every check ok, exit 0', async () => {
    const run = await runCli(['doctor', '--db', db.url, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const checks = run.json<Check>();
    assert.deepEqual(checks.map((c) => c.name), ['connect', 'schema', 'triggers', 'writer-lock', 'listen', 'clock', 'notify-queue', 'log', 'consumers']);
    assert.ok(checks.every((c) => c.status === 'ok'), JSON.stringify(checks));
  });

  it('a disabled log trigger and a missing schema are failures, exit 1', async () => {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    await sql`ALTER TABLE ttp_rule DISABLE TRIGGER ttp_rule_20_log`;
    await sql.end();
    const run = await runCli(['doctor', '--db', db.url, '--json']);
    assert.equal(run.code, 1);
    assert.match(run.json<Check>().find((c) => c.name === 'triggers')!.detail, /disabled: ttp_rule\.ttp_rule_20_log/);
    const unmigrated = await runCli(['doctor', '--db', bare.url]);
    assert.equal(unmigrated.code, 1);
    assert.match(unmigrated.stdout, /fail\s+schema\s+missing 0001_ttp_rule_store/);
  });
});
