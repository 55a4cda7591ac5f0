/**
 * The writer half of the cross-process latency scenarios, run as a child
 * process (`fork` with `--import tsx`). The bench process sends one command at
 * a time over IPC; this process stamps the monotonic clock right before it
 * issues the write and answers with that stamp, so the subscriber measures
 * "issue -> in hand" without the IPC hop in the measured path.
 *
 * Why a separate process: in the deployment the store is built for, the writer
 * (the master, the CLI, psql) is never the engine's process. Keeping the writer
 * here also keeps its own reads (a listen store reads the log on its own
 * doorbell) off the subscriber's event loop, for the floor and the store alike.
 */
import postgres from 'postgres';
import { openRuleStore, type OpenRuleStoreOptions, type RuleStore } from '../../src/index.js';
import { stamp } from './clock.js';
import { BENCH_RULE_ID, ruleText } from './ruleText.js';
import type { BurstKind, WriterReply, WriterRequest } from './writerProtocol.js';

let sql: postgres.Sql | null = null;
const stores = new Map<string, RuleStore>();

function needSql(): postgres.Sql {
  if (!sql) throw new Error('writer: connect first');
  return sql;
}

function needStore(name: string): RuleStore {
  const store = stores.get(name);
  if (!store) throw new Error(`writer: no store named ${name}`);
  return store;
}

/** Runs one timed write; `t0` is taken immediately before the call is issued. */
async function timed(run: () => Promise<unknown>): Promise<{ t0: number; t1: number }> {
  const t0 = stamp();
  await run();
  return { t0, t1: stamp() };
}

/**
 * Throughput: `count` writes back to back (one in flight, as a writer process
 * that edits one rule after another), write `seq` going to rule
 * `prefix + seq % rules`. `t0` is taken before the first write, `t1` after the last.
 */
async function burst(kind: BurstKind, name: string, prefix: string, rules: number, seqFrom: number, count: number): Promise<{ t0: number; t1: number }> {
  const t0 = stamp();
  for (let seq = seqFrom; seq < seqFrom + count; seq++) {
    const ruleId = `${prefix}${seq % rules}`;
    const state = seq % 2 === 0 ? 'disabled' : 'clipped';
    const confidenceMax = seq % 2 === 0 ? null : 0.5;
    if (kind === 'upsert') {
      await needStore(name).upsertRule(ruleText(seq, ruleId), { updatedBy: 'bench' });
    } else if (kind === 'setState') {
      await needStore(name).setState(ruleId, { state, confidenceMax, reason: `bench ${seq}` }, 'bench');
    } else if (kind === 'rawUpsert') {
      await needSql()`
        INSERT INTO ttp_rule (rule_id, rule_version, yaml_content, updated_by) VALUES (${ruleId}, ${seq}, ${ruleText(seq, ruleId)}, 'bench')
        ON CONFLICT (rule_id) DO UPDATE SET rule_version = excluded.rule_version, yaml_content = excluded.yaml_content, updated_by = excluded.updated_by`;
    } else {
      await needSql()`
        INSERT INTO ttp_rule_state (rule_id, state, confidence_max, reason, set_by, set_at) VALUES (${ruleId}, ${state}, ${confidenceMax}, ${`bench ${seq}`}, 'bench', now())
        ON CONFLICT (rule_id) DO UPDATE SET state = excluded.state, confidence_max = excluded.confidence_max, reason = excluded.reason, set_by = excluded.set_by, set_at = excluded.set_at
        RETURNING *`;
    }
  }
  return { t0, t1: stamp() };
}

async function handle(request: WriterRequest): Promise<{ t0?: number; t1?: number }> {
  const a = request.args;
  switch (request.op) {
    case 'connect':
      sql = postgres(String(a['url']), { max: 1, onnotice: () => {} });
      await sql`SELECT 1`;
      return {};
    case 'commit': {
      const db = needSql();
      return timed(() => db`INSERT INTO bench_commit (seq, body) VALUES (${Number(a['seq'])}, ${ruleText(Number(a['seq']))})`);
    }
    case 'floor': {
      const db = needSql();
      return timed(() => db`INSERT INTO bench_floor (seq, body) VALUES (${Number(a['seq'])}, ${ruleText(Number(a['seq']))})`);
    }
    case 'notify': {
      const db = needSql();
      return timed(() => db`SELECT pg_notify('bench_raw', ${String(a['seq'])})`);
    }
    case 'openStore': {
      const name = String(a['name']);
      stores.set(name, await openRuleStore(a['options'] as OpenRuleStoreOptions));
      return {};
    }
    case 'upsert': {
      const store = needStore(String(a['name']));
      const seq = Number(a['seq']);
      const ruleId = typeof a['ruleId'] === 'string' ? a['ruleId'] : BENCH_RULE_ID;
      return timed(() => store.upsertRule(ruleText(seq, ruleId), { updatedBy: 'bench' }));
    }
    case 'burst':
      return burst(a['kind'] as BurstKind, String(a['name'] ?? ''), String(a['prefix']), Number(a['rules']), Number(a['seqFrom']), Number(a['count']));
    case 'setState': {
      const store = needStore(String(a['name']));
      const seq = Number(a['seq']);
      return timed(() => store.setState(BENCH_RULE_ID, { state: seq % 2 === 0 ? 'disabled' : 'clipped', confidenceMax: seq % 2 === 0 ? null : 0.5, reason: `bench ${seq}` }, 'bench'));
    }
    case 'closeStore': {
      const name = String(a['name']);
      await stores.get(name)?.close();
      stores.delete(name);
      return {};
    }
    case 'close':
      for (const store of stores.values()) await store.close();
      stores.clear();
      await sql?.end({ timeout: 5 });
      sql = null;
      return {};
  }
}

process.on('message', (message: WriterRequest) => {
  handle(message).then(
    (result) => process.send?.({ id: message.id, ...result } satisfies WriterReply),
    (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) } satisfies WriterReply),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0 } satisfies WriterReply);
