import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// Issue 13: every NATS module lives in src/nats/, and only the public entry
// (src/index.ts) and the CLI's `bridge` command reach into it.

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const ALLOWED = new Set(['index.ts', 'cli/commands/bridge.ts']);

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'console' ? [] : files(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });

/** The `src/`-relative paths a module imports (static and dynamic). */
const importsOf = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g)].map((m) => relative(src, resolve(dirname(file), m[1]!)));

test('nothing outside src/nats/ imports from it but the public entry and the bridge command', () => {
  const offenders: string[] = [];
  for (const file of files(src)) {
    const name = relative(src, file);
    if (name.startsWith('nats/') || ALLOWED.has(name)) continue;
    for (const target of importsOf(file)) if (target.startsWith('nats/')) offenders.push(`${name} → ${target}`);
  }
  assert.deepEqual(offenders, []);
});

test('no NATS module outside src/nats/: only src/nats/ imports the nats client', () => {
  const outside = files(src)
    .filter((file) => !relative(src, file).startsWith('nats/'))
    .filter((file) => /from\s+'nats'|import\s*\(\s*'nats'\s*\)/.test(readFileSync(file, 'utf8')))
    .map((file) => relative(src, file));
  assert.deepEqual(outside, []);
});
