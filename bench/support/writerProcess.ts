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
import type { WriterReply, WriterRequest } from './writerProtocol.js';

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
      return timed(() => store.upsertRule(ruleText(seq), { updatedBy: 'bench' }));
    }
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
