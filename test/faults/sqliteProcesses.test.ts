import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { migrate } from '../../src/index.js';
import { createTestSqliteFile } from '../helpers/database.js';
import { FULL, auditDelivery, recordReliability } from './audit.js';

const PER_WRITER = FULL ? 2_000 : 300;
const here = (file: string): string => new URL(file, import.meta.url).pathname;
let file: ReturnType<typeof createTestSqliteFile>;
const children = new Set<ChildProcess>();

before(async () => {
  file = createTestSqliteFile('faults_sqlite');
  await migrate(file.url);
});
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await file.drop();
});

function start(script: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', here(script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
const exited = (child: ChildProcess): Promise<number | null> => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

test(`SQLite: two writer processes and a reader process on one file; the reader killed and restarted from its last position`, async () => {
  const seen: { position: string }[] = [];
  let restarts = 0;
  let killedAt = 0;
  const recoveries: number[] = [];
  const startReader = (since: string): Promise<ChildProcess> =>
    new Promise((resolve) => {
      const reader = start('fixtures/sqliteReader.ts', [file.url, since]);
      createInterface({ input: reader.stdout! }).on('line', (line) => {
        const message = JSON.parse(line) as { ready?: boolean; position?: string };
        if (message.ready) return resolve(reader);
        if (killedAt) {
          recoveries.push(performance.now() - killedAt);
          killedAt = 0;
        }
        seen.push({ position: message.position! });
      });
    });
  let reader = await startReader('0');
  const writers = [start('fixtures/sqliteWriter.ts', [file.url, 'WA', String(PER_WRITER)]), start('fixtures/sqliteWriter.ts', [file.url, 'WB', String(PER_WRITER)])];
  // Kill the reader twice mid-stream; each restart resumes after the last position it printed.
  for (const fraction of [0.3, 0.6]) {
    const target = Math.floor(2 * PER_WRITER * fraction);
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`reader stuck at ${seen.length}`)), 60_000);
      const check = setInterval(() => {
        if (seen.length >= target) {
          clearInterval(check);
          clearTimeout(deadline);
          resolve();
        }
      }, 5);
    });
    const drained = new Promise((resolve) => reader.stdout!.once('close', resolve));
    reader.kill('SIGKILL');
    await exited(reader);
    await drained; // every line the dead reader printed has been read: resume after the last one
    killedAt = performance.now();
    restarts++;
    reader = await startReader(seen.at(-1)!.position);
  }
  assert.deepEqual(await Promise.all(writers.map(exited)), [0, 0], 'both writers finished');
  const db = new Database(file.path, { readonly: true });
  const committed = (db.prepare('SELECT position FROM ttp_rule_event ORDER BY position').pluck().safeIntegers(true).all() as bigint[]).map(String);
  db.close();
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`reader did not reach the head: ${seen.at(-1)?.position} of ${committed.at(-1)}`)), 60_000);
    const check = setInterval(() => {
      if (seen.at(-1)?.position === committed.at(-1)) {
        clearInterval(check);
        clearTimeout(deadline);
        resolve();
      }
    }, 5);
  });
  reader.kill('SIGTERM');
  const audit = auditDelivery(seen, committed);
  recordReliability({ scenario: 'SQLite: 2 writer processes + a reader process on one file, reader SIGKILLed and resumed from its last position', faults: `${restarts} reader kills`, recoveryMs: Math.round(Math.max(...recoveries)), ...audit });
  assert.equal(committed.length, 2 * PER_WRITER);
  assert.deepEqual({ lost: audit.lost, duplicated: audit.duplicated, outOfOrder: audit.outOfOrder }, { lost: 0, duplicated: 0, outOfOrder: 0 });
});
