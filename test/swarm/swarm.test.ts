import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { RuleStore } from '../../src/index.js';
import { createBackendFixture, type BackendFixture, type BackendName, type RawDb } from '../helpers/backends.js';
import { ruleYaml } from '../helpers/rules.js';
import { digestRules } from './digest.js';

const WORKERS = Number(process.env['TTP_SWARM_WORKERS'] ?? 8);
const EDITS = Number(process.env['TTP_SWARM_EDITS'] ?? 300);
const SWARM_BACKENDS: BackendName[] = (process.env['TTP_TEST_BACKENDS']?.split(',') as BackendName[] | undefined)?.filter((b) => b !== 'postgres-poll') ?? ['postgres-listen', 'sqlite'];
const here = (file: string): string => new URL(file, import.meta.url).pathname;

interface Report {
  type: 'report';
  position: string;
  indexPosition: string | null;
  digest: string | null;
  count: number;
  resumedFrom: string | null;
}

function spawnChild(file: string, args: string[]): Promise<ChildProcess> {
  const child = fork(here(file), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before it was ready`)));
    child.once('message', () => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve(child);
    });
  });
}

function ask<T>(child: ChildProcess, message: { type: string }, answer: string, ms = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${answer}' answer within ${ms} ms`)), ms);
    const onMessage = (reply: { type: string }): void => {
      if (reply.type !== answer) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(reply as T);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

const exited = (child: ChildProcess): Promise<void> => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

/** Random but reproducible: a failing run can be replayed with TTP_SWARM_SEED. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

for (const backend of SWARM_BACKENDS) {
  describe(`the swarm: one master, ${WORKERS} workers, real processes (${backend})`, () => {
    const children = new Set<ChildProcess>();
    const fixtures: (BackendFixture | string)[] = [];

    after(async () => {
      for (const child of children) child.kill('SIGKILL');
      for (const f of fixtures) typeof f === 'string' ? rmSync(f, { recursive: true, force: true }) : await f.teardown();
    });

    const track = (child: ChildProcess): ChildProcess => {
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    };

    for (const variant of ['steady', 'worker killed and restarted, master restarted'] as const) {
      test(`${EDITS} random edits converge on every worker: ${variant}`, async () => {
        const fx = await createBackendFixture(backend, 'swarm');
        fixtures.push(fx);
        const dir = mkdtempSync(join(tmpdir(), 'ttp-swarm-'));
        const stateDir = mkdtempSync(join(tmpdir(), 'ttp-swarm-state-'));
        fixtures.push(dir, stateDir);
        const driver: RuleStore = await fx.open();
        const raw: RawDb = fx.raw();
        const seed = Number(process.env['TTP_SWARM_SEED'] ?? Date.now() % 100_000);
        const rand = random(seed);
        const pick = <T,>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
        const ids = Array.from({ length: 40 }, (_, i) => `SW${String(i).padStart(2, '0')}`);
        for (const id of ids.slice(0, 30)) await writeFile(join(dir, `${id}.yaml`), ruleYaml(id));

        let master = track(await spawnChild('swarmMaster.ts', [fx.url, dir]));
        const workers: ChildProcess[] = [];
        for (let w = 0; w < WORKERS; w++) workers.push(track(await spawnChild('swarmWorker.ts', [fx.url, join(stateDir, `worker${w}.json`)])));

        const version = new Map<string, number>();
        const present = new Set(ids.slice(0, 30));
        for (let edit = 0; edit < EDITS; edit++) {
          if (variant !== 'steady') {
            if (edit === Math.floor(EDITS / 3)) {
              workers[3]!.kill('SIGKILL'); // mid-run, no goodbye
              await exited(workers[3]!);
            }
            if (edit === Math.floor(EDITS / 2)) {
              workers[3] = track(await spawnChild('swarmWorker.ts', [fx.url, join(stateDir, 'worker3.json')]));
            }
            if (edit === Math.floor((2 * EDITS) / 3)) {
              master.kill('SIGKILL');
              await exited(master);
              // Files change while no master runs: the restarted master's reconcile must catch them.
              await writeFile(join(dir, 'SW39.yaml'), ruleYaml('SW39', { version: 99 }));
              version.set('SW39', 99);
              present.add('SW39');
              master = track(await spawnChild('swarmMaster.ts', [fx.url, dir]));
            }
          }
          const id = pick(ids);
          const file = join(dir, `${id}.yaml`);
          const v = (version.get(id) ?? 1) + 1;
          const op = rand();
          if (op < 0.2) {
            await writeFile(file, ruleYaml(id, { version: v })); // in place (or create)
            version.set(id, v);
            present.add(id);
          } else if (op < 0.35) {
            await writeFile(`${file}.tmp`, ruleYaml(id, { version: v })); // temp file, renamed over
            await rename(`${file}.tmp`, file);
            version.set(id, v);
            present.add(id);
          } else if (op < 0.45) {
            await unlink(file).catch(() => {}); // delete
            present.delete(id);
          }
          else if (op < 0.7) await driver.setState(id, pick([{ state: 'disabled' }, { state: 'clipped', confidenceMax: Math.round(rand() * 100) / 100 }, { state: 'enabled' }] as const), 'driver');
          else if (op < 0.8) await driver.clearState(id, 'driver');
          else if (op < 0.9) {
            await raw.run(`INSERT INTO ttp_rule_state (rule_id, state, reason, set_by) VALUES ($1, 'disabled', 'psql', 'psql')
                           ON CONFLICT (rule_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, set_by = excluded.set_by`, [id]);
          } else {
            // A rule written by hand, outside the directory: the master must leave it alone.
            await raw.run(`INSERT INTO ttp_rule (rule_id, rule_version, source_path, yaml_content, updated_by) VALUES ($1, $2, '', $3, 'psql')
                           ON CONFLICT (rule_id) DO UPDATE SET rule_version = excluded.rule_version, yaml_content = excluded.yaml_content`, [`SQL${id}`, v, ruleYaml(`SQL${id}`, { version: v })]);
          }
        }
        const editsDone = performance.now();
        // The database must come to hold exactly the directory's last written contents
        // (the restarted master's reconcile included), plus the rules written by hand
        // elsewhere. File events reach the master asynchronously: wait for the condition.
        const onDisk = Object.fromEntries([...present].sort().map((id) => [id, version.get(id) ?? 1]));
        let truth = await driver.snapshot();
        for (;;) {
          await ask(master, { type: 'idle' }, 'idle');
          truth = await driver.snapshot();
          const fromFiles = Object.fromEntries(truth.rules.filter((r) => r.ruleId.startsWith('SW')).map((r) => [r.ruleId, r.ruleVersion]));
          if (JSON.stringify(fromFiles) === JSON.stringify(onDisk)) break;
          if (performance.now() - editsDone > 30_000) assert.deepEqual(fromFiles, onDisk, `the master did not sync the directory (seed ${seed})`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const masterIdle = performance.now() - editsDone;
        const expected = digestRules(truth.rules);

        const converged: number[] = [];
        for (const [w, worker] of workers.entries()) {
          let report: Report;
          for (;;) {
            report = await ask<Report>(worker, { type: 'report' }, 'report');
            if (report.digest === expected && BigInt(report.position) >= BigInt(truth.position)) break;
            if (performance.now() - editsDone > 60_000) {
              assert.fail(`worker ${w} did not converge: ${JSON.stringify(report)} vs ${expected} at ${truth.position} (seed ${seed})`);
            }
            await new Promise((resolve) => setTimeout(resolve, 20)); // polling a report, not a sleep-and-hope: the loop exits on the condition
          }
          converged.push(performance.now() - editsDone);
          if (variant !== 'steady' && w === 3) assert.ok(report.resumedFrom !== null, 'worker 3 resumed from its persisted position');
        }
        console.log(`swarm ${backend} / ${variant}: ${truth.rules.length} rules at position ${truth.position}, seed ${seed}; master idle ${masterIdle.toFixed(0)} ms after the last edit; workers converged after (ms): ${converged.map((ms) => ms.toFixed(0)).join(', ')}`);
        for (const child of [master, ...workers]) {
          child.send({ type: 'stop' });
          await exited(child);
        }
      });
    }
  });
}
