import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { openRuleStore, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { applyChange, normalise, viewFromSnapshot } from '../helpers/view.js';
import { FULL, auditDelivery, recordReliability } from './audit.js';

// Restarting the server breaks every other connection on it: full suite only
// (`npm run test:faults` runs its files one at a time).
const CHANGES = 3_000;

let db: TestDatabase;
let store: RuleStore;

before(async () => {
  if (!FULL) return;
  db = await createTestDatabase('faults_restart');
  store = await openRuleStore({ url: db.url });
});
after(async () => {
  if (!FULL) return;
  await store.close();
  await db.drop();
});

test('the Postgres server restarted in the middle of a stream: the store reconnects by itself and catches up', { skip: !FULL && 'full fault suite only (npm run test:faults)' }, async () => {
  const start = await store.snapshot();
  const view = viewFromSnapshot(start);
  const consumer = collect(store.changesSince(start.position));
  const writer = postgres(db.url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  let attempts = 0;
  let restartedAt = 0;
  let firstWriteAfterRestart: string | null = null;
  for (let i = 0; i < CHANGES; i++) {
    if (i === CHANGES / 2) {
      execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', readdirSync('/etc/postgresql')[0]!, 'main', 'restart'], { stdio: 'pipe' });
      restartedAt = performance.now();
    }
    for (;;) {
      attempts++;
      try {
        const [row] = await writer`INSERT INTO ttp_rule_state (rule_id, state, reason, set_by) VALUES (${`RS${i % 100}`}, 'disabled', ${`r${i}`}, 'writer')
                                   ON CONFLICT (rule_id) DO UPDATE SET reason = excluded.reason RETURNING rule_id`;
        if (restartedAt && firstWriteAfterRestart === null) firstWriteAfterRestart = `r${i}`;
        assert.ok(row);
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50)); // the server is coming back
      }
    }
  }
  const marker = firstWriteAfterRestart!;
  await consumer.waitFor((items) => items.some((c) => c.kind === 'state' && c.state.reason === marker), 60_000, 'the first write after the restart');
  const recoveryMs = performance.now() - restartedAt;
  const admin = postgres(db.url, { max: 1, onnotice: () => {} });
  const committed = (await admin`SELECT position FROM ttp_rule_event WHERE position > ${start.position} ORDER BY position`).map((r) => String(r['position']));
  await admin.end();
  await writer.end();
  await consumer.waitFor((items) => items.length > 0 && items.at(-1)!.position === committed.at(-1), 60_000, 'the head');
  const audit = auditDelivery(consumer.items, committed);
  for (const change of consumer.items) applyChange(view, change);
  assert.deepEqual(normalise(view), normalise(viewFromSnapshot(await store.snapshot())));
  recordReliability({ scenario: 'Postgres server restarted mid-stream (pg_ctlcluster restart)', faults: `1 restart, ${attempts - CHANGES} failed writes retried`, recoveryMs: Math.round(recoveryMs), ...audit });
  assert.deepEqual({ lost: audit.lost, duplicated: audit.duplicated, outOfOrder: audit.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 });
  consumer.stop();
});
