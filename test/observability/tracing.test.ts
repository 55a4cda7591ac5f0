import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { RuleStore } from '../../src/index.js';
import { createBackendFixture, type BackendFixture } from '../helpers/backends.js';
import { collect } from '../helpers/changes.js';
import { ruleYaml } from '../helpers/rules.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

describe('OpenTelemetry spans', () => {
  let fx: BackendFixture;

  before(async () => {
    trace.setGlobalTracerProvider(provider);
    fx = await createBackendFixture('postgres-listen', 'tracing');
  });
  after(async () => {
    await fx.teardown();
    await provider.shutdown();
    trace.disable();
  });

  const exercise = async (store: RuleStore): Promise<void> => {
    const changes = collect(store.changes$);
    await store.upsertRule(ruleYaml('TR1'));
    await store.setState('TR1', 'disabled', 'tracer');
    await changes.waitFor((items) => items.some((c) => c.kind === 'state'), 10_000, 'the state change');
    changes.stop();
    await store.close();
  };

  test('tracing on produces the seed-named spans plus one per delivered batch', async () => {
    exporter.reset();
    const store = await fx.open({ tracing: true });
    await exercise(store);
    const names = exporter.getFinishedSpans().map((s) => s.name);
    for (const name of ['ttp.rule.state.change', 'ttp.store.write_state', 'ttp.store.write_rules', 'ttp.rule.publish']) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
    const change = exporter.getFinishedSpans().find((s) => s.name === 'ttp.rule.state.change')!;
    assert.deepEqual(
      { rule_id: change.attributes['rule_id'], state: change.attributes['state'], set_by: change.attributes['set_by'] },
      { rule_id: 'TR1', state: 'disabled', set_by: 'tracer' },
    );
    const publish = exporter.getFinishedSpans().find((s) => s.name === 'ttp.rule.publish')!;
    assert.ok(Number(publish.attributes['ttp.batch.size']) >= 1);
  });

  test('tracing off produces none, even with an SDK installed', async () => {
    exporter.reset();
    const store = await fx.open({ tracing: false });
    await exercise(store);
    assert.deepEqual(exporter.getFinishedSpans().map((s) => s.name), []);
  });

  test('TTP_RULES_TRACING=1 turns it on', async () => {
    exporter.reset();
    process.env['TTP_RULES_TRACING'] = '1';
    try {
      const store = await fx.open();
      await exercise(store);
    } finally {
      delete process.env['TTP_RULES_TRACING'];
    }
    assert.ok(exporter.getFinishedSpans().some((s) => s.name === 'ttp.rule.state.change'));
  });
});
