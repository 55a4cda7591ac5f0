import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { openRuleStore, type RuleStore } from '../../src/index.js';
import { collect } from '../helpers/changes.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { applyChange, normalise, viewFromSnapshot } from '../helpers/view.js';
import { FULL, auditDelivery, recordReliability } from './audit.js';

const CHANGES = FULL ? 20_000 : 2_000;
const KILLS = FULL ? 50 : 5;
const WRITERS = 4;

let db: TestDatabase;
let store: RuleStore;
let admin: postgres.Sql;

before(async () => {
  db = await createTestDatabase('faults_kills');
  store = await openRuleStore({ url: db.url, safetyCheckMs: 600_000 });
  admin = postgres(db.url, { max: 1, onnotice: () => {} });
});
after(async () => {
  await store.close();
  await admin.end();
  await db.drop();
});

test(`the LISTEN backend killed ${KILLS} times during ${CHANGES} changes from ${WRITERS} writers`, async () => {
  const start = await store.snapshot();
  const view = viewFromSnapshot(start);
  const consumer = collect(store.changesSince(start.position));
  let written = 0;
  const writers = Array.from({ length: WRITERS }, (_, w) => postgres(db.url, { max: 1, onnotice: () => {} }));
  const writing = Promise.all(
    writers.map(async (sql, w) => {
      for (let i = w; i < CHANGES; i += WRITERS, written++) {
        const id = `K${i % 300}`;
        if (i % 4 === 0) {
          await sql`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content, updated_by)
                    VALUES (${id}, ${i}, ${`rule_id: ${id}\nrule_version: ${i}\nname: k\napplies_to: [command]\nmatch: {}\nemits: [{technique_id: T1, tactic: TA1, confidence: 0.5}]\n`}, ${`w${w}`})
                    ON CONFLICT (rule_id) DO UPDATE SET rule_version = excluded.rule_version, yaml_content = excluded.yaml_content`;
        } else {
          await sql`INSERT INTO ttp_rule_state (rule_id, state, confidence_max, set_by) VALUES (${id}, 'clipped', ${(i % 100) / 100}, ${`w${w}-${i}`})
                    ON CONFLICT (rule_id) DO UPDATE SET confidence_max = excluded.confidence_max, set_by = excluded.set_by`;
        }
      }
    }),
  );
  const recoveries: number[] = [];
  const listenerPid = async (): Promise<number | null> =>
    ((await admin`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ttp-rule-store:listen'`)[0]?.['pid'] as number | undefined) ?? null;
  for (let k = 0; k < KILLS; k++) {
    // Spread the kills over the stream.
    while (written < ((k + 1) * CHANGES) / (KILLS + 1)) await new Promise((resolve) => setTimeout(resolve, 5));
    const pid = await listenerPid();
    assert.ok(pid, 'a listener to kill');
    const killedAt = performance.now();
    await admin`SELECT pg_terminate_backend(${pid})`;
    for (;;) {
      const now = await listenerPid();
      if (now && now !== pid) break;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    recoveries.push(performance.now() - killedAt);
  }
  await writing;
  await Promise.all(writers.map((w) => w.end()));
  const committed = (await admin`SELECT position FROM ttp_rule_event WHERE position > ${start.position} ORDER BY position`).map((r) => String(r['position']));
  const last = committed.at(-1)!;
  await consumer.waitFor((items) => items.length > 0 && BigInt(items.at(-1)!.position) >= BigInt(last), 60_000, 'the consumer to reach the head');
  const audit = auditDelivery(consumer.items, committed);
  for (const change of consumer.items) applyChange(view, change);
  assert.deepEqual(normalise(view), normalise(viewFromSnapshot(await store.snapshot())), 'the final view equals the database');
  recordReliability({ scenario: 'LISTEN backend killed (pg_terminate_backend) during a stream from 4 writers', faults: `${KILLS} kills`, recoveryMs: Math.round(Math.max(...recoveries)), ...audit });
  assert.deepEqual({ lost: audit.lost, duplicated: audit.duplicated, outOfOrder: audit.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 });
  assert.equal(audit.committed, CHANGES);
  consumer.stop();
});
