import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { diagnose, openRuleStore } from '../../src/index.js';
import { resolvePostgresConnection } from '../../src/store/postgres/postgresConnection.js';
import { collect } from '../helpers/changes.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { ruleYaml } from '../helpers/rules.js';

// One resolution of the URL for every connection (query pools, pg-listen, migrations, doctor).
const CHILD = new URL('./fixtures/userlessStore.ts', import.meta.url).pathname;
const run = promisify(execFile);

let db: TestDatabase;
let proxy: Server;
let proxyPort = 0;
const sockets = new Set<Socket>();

before(async () => {
  db = await createTestDatabase('connection_url');
  // The test server listens on 127.0.0.1 only: an IPv6 loopback port in front of it.
  const target = new URL(db.url);
  proxy = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => proxy.once('error', reject).listen(0, '::1', resolve));
  proxyPort = (proxy.address() as { port: number }).port;
});
after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => proxy.close(resolve));
  await db.drop();
});

test('the user comes from the URL, else $PGUSER, else the operating-system user (not $USER)', () => {
  assert.equal(resolvePostgresConnection('postgres://alice@db/rules', {}).user, 'alice');
  assert.equal(resolvePostgresConnection('postgres://db/rules', { PGUSER: 'bob' }).url, 'postgres://bob@db/rules');
  const fromOs = resolvePostgresConnection('postgres://db/rules', {});
  assert.ok(fromOs.user.length > 0);
  assert.equal(fromOs.url, `postgres://${encodeURIComponent(fromOs.user)}@db/rules`);
  assert.deepEqual(
    { host: resolvePostgresConnection('postgres://root@[::1]:5433/db').host, port: resolvePostgresConnection('postgres://root@[::1]:5433/db').port },
    { host: '::1', port: 5433 },
  );
  assert.equal(resolvePostgresConnection('postgres://u:p%40ss@h/db?sslmode=disable').url, 'postgres://u:p%40ss@h/db?sslmode=disable');
});

test('a URL without a user works with no $USER/$LOGNAME: migrate, queries and the LISTEN connection', async () => {
  const server = new URL(db.url);
  const userless = `postgres://${server.host}${server.pathname}`;
  const { stdout } = await run('env', ['-u', 'USER', '-u', 'LOGNAME', process.execPath, '--import', 'tsx', CHILD, userless, db.url], { timeout: 60_000 });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.equal(out['user'], null);
  assert.equal(out['logname'], null);
  assert.equal(out['error'], undefined, String(out['error']));
  assert.deepEqual(out['migrated'], []);
  assert.equal(out['heard'], 'state', 'the change arrived through LISTEN/NOTIFY');
  assert.equal(out['transport'], 'listen');
  assert.equal(out['setState'], 'disabled');
});

test('an IPv6 URL (postgres://root@[::1]:port/db) works for the store, its listener, migrations and doctor', async () => {
  const server = new URL(db.url);
  const v6 = `postgres://${server.username || 'root'}@[::1]:${proxyPort}${server.pathname}`;
  const store = await openRuleStore({ url: v6, migrate: true, safetyCheckMs: 600_000 });
  try {
    const writer = await openRuleStore({ url: db.url });
    const changes = collect(store.changes$);
    await writer.upsertRule(ruleYaml('IPV6ONE'));
    await writer.close();
    await changes.waitFor((items) => items.some((c) => c.ruleId === 'IPV6ONE'), 20_000, 'the change through LISTEN over IPv6');
    changes.stop();
    assert.equal((await store.setState('IPV6ONE', 'disabled', 'v6')).state, 'disabled');
    assert.equal((await store.snapshot()).rules.some((r) => r.ruleId === 'IPV6ONE'), true);
  } finally {
    await store.close();
  }
  const checks = await diagnose(v6);
  assert.equal(checks.find((c) => c.name === 'connect')?.status, 'ok', JSON.stringify(checks));
  assert.equal(checks.find((c) => c.name === 'listen')?.status, 'ok', JSON.stringify(checks));
});
