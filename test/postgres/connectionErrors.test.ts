import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { RuleStoreError, migrate, openRuleStore } from '../../src/index.js';

// A throwaway cluster on this project's port range (never the shared server):
// max_connections = 5 to exhaust, and Debian's default pg_hba (scram-sha-256 on TCP).
const PORT = 5461; // outside pgbouncer's 6432–6439 (test/helpers/pgbouncer.ts): both run in parallel
const NAME = `ttp_conn_${randomBytes(3).toString('hex')}`;
const canRun = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v pg_createcluster']).status === 0;
const skip = canRun ? false : 'needs root and pg_createcluster (postgresql-common) for a throwaway cluster';
const version = (): string => execFileSync('ls', ['/usr/lib/postgresql']).toString().trim().split('\n').sort().at(-1)!;
const asPostgres = (sql: string): void => {
  execFileSync('runuser', ['-u', 'postgres', '--', 'psql', '-q', '-p', String(PORT), '-d', 'postgres', '-c', sql]);
};
const url = (user: string, password: string): string => `postgres://${user}:${password}@127.0.0.1:${PORT}/rules`;

describe('connection failures are STORE_UNAVAILABLE with a message to act on', { skip }, () => {
  before(() => {
    execFileSync('pg_createcluster', [version(), NAME, '-p', String(PORT), '-o', 'max_connections=5', '-o', 'superuser_reserved_connections=0', '--start'], { stdio: 'ignore' });
    asPostgres("CREATE ROLE ttp LOGIN PASSWORD 'right-password'");
    asPostgres('CREATE DATABASE rules OWNER ttp');
  });
  after(() => {
    spawnSync('pg_dropcluster', ['--stop', version(), NAME], { stdio: 'ignore' });
  });

  it('a wrong password (28P01)', async () => {
    await migrate(url('ttp', 'right-password'));
    await assert.rejects(openRuleStore({ url: url('ttp', 'wrong-password'), transport: 'poll' }), (error: unknown) => {
      assert.ok(RuleStoreError.is(error), String(error));
      assert.equal(error.code, 'STORE_UNAVAILABLE');
      assert.match(error.message, /authentication failed: check the user and password/);
      return true;
    });
  });

  it('no free connection slot (53300 too many clients)', async () => {
    const holder = postgres(url('ttp', 'right-password'), { max: 5, onnotice: () => {} });
    const held = await Promise.all(Array.from({ length: 5 }, () => holder.reserve()));
    try {
      await assert.rejects(openRuleStore({ url: url('ttp', 'right-password'), transport: 'poll' }), (error: unknown) => {
        assert.ok(RuleStoreError.is(error), String(error));
        assert.equal(error.code, 'STORE_UNAVAILABLE');
        assert.match(error.message, /no free connection slots/);
        return true;
      });
    } finally {
      for (const h of held) h.release();
      await holder.end();
    }
  });
});
