import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import type { RuleStore, RuleStoreError } from '../../src/index.js';
import { createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

let fx: BackendFixture;
let store: RuleStore;

before(async () => {
  fx = await createBackendFixture('postgres-listen', 'stats');
  store = await fx.open();
});
after(async () => fx.teardown());

test('stats(): position, head, lag, delivered, reconnects, errors, subscribers', async () => {
  const fresh = await store.stats();
  assert.deepEqual({ ...fresh }, { kind: 'postgres', transport: 'listen', position: '0', head: '0', lag: '0', delivered: 0, reconnects: 0, errors: 0, subscribers: 0, stalledSince: null, expiry: { failures: 0, retrying: false, readOnly: false, lastError: null } });

  const changes = collect(store.changes$);
  const errors = collect<RuleStoreError>(store.errors$);
  await store.upsertRule(ruleYaml('ST1'));
  await fx.raw().run(`INSERT INTO ttp_rule (rule_id, rule_version, yaml_content) VALUES ('ST2', 1, 'not: [yaml')`);
  await errors.waitForCount(1);
  await changes.waitForCount(1);
  const admin = postgres(fx.url, { max: 1, onnotice: () => {} });
  await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ttp-rule-store:listen'`;
  await admin.end();
  await store.setState('ST1', 'disabled', 'op');
  await changes.waitForCount(2, 10_000);
  // The reconnect is counted once the listener is back: wait for it through the stats themselves.
  for (let s = await store.stats(); s.reconnects < 1; s = await store.stats()) await new Promise((r) => setTimeout(r, 10));
  const now = await store.stats();
  assert.equal(now.position, now.head);
  assert.equal(now.lag, '0');
  assert.equal(now.delivered, 2);
  assert.equal(now.errors, 1);
  assert.equal(now.subscribers, 1);
  assert.equal(now.reconnects, 1);
  changes.stop();
  errors.stop();
  assert.equal((await store.stats()).subscribers, 0);
});
