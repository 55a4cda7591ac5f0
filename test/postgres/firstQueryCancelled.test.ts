import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { createTestDatabase, withAdmin, type TestDatabase } from '../helpers/database.js';

// postgres.js runs an array-type query as the first statement of every new
// connection (fetch_types, on by default) and drops its promise: when that query
// is cancelled, the error is an unhandled rejection and the process ends
// (porsager/postgres #1192, #1205, #1223). A short statement_timeout, a
// pg_cancel_backend or a backend terminated during start-up is enough: an engine
// died instead of seeing STORE_UNAVAILABLE. The store's read pool runs with
// fetch_types off. (With the driver's defaults this fixture's 'driver-defaults'
// mode usually dies; not asserted, as a fast catalog query sometimes beats 1 ms.)
let db: TestDatabase;
before(async () => {
  db = await createTestDatabase('first_query_cancelled');
  await withAdmin((admin) => admin.unsafe(`ALTER DATABASE "${db.name}" SET statement_timeout = 1`));
});
after(async () => {
  await db?.drop();
});

const run = (mode: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('./fixtures/firstQueryCancelled.ts', import.meta.url).pathname, db.url, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });

test('an engine reading through the store on that database sees each failure as an error and lives', async () => {
  const result = await run('store');
  assert.equal(result.code, 0, result.stderr);
  const { outcomes } = JSON.parse(result.stdout) as { outcomes: string[] };
  assert.equal(outcomes.length, 10);
  for (const outcome of outcomes) assert.match(outcome, /^(open:STORE_UNAVAILABLE|(ok|STORE_UNAVAILABLE)(\+(ok|STORE_UNAVAILABLE)){3})$/);
});
