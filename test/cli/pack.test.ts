import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ruleYaml } from '../helpers/rules.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** What a fresh clone has, minus dist/ (the clone's node_modules is the project's, linked). */
const CLONE_ENTRIES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'src', 'migrations', 'sql'];

/** What an enclosing `npm test` exports that must not reach the nested npm (its prefix is the project: the install would land there). */
const ENCLOSING_NPM = /^npm_(lifecycle_|package_|config_(local_prefix|prefix|global_prefix|argv|dry_run|ignore_scripts|workspaces?|include_workspace_root)$)/i;

/** `process.env` for the nested npm: registry, cache and proxy settings pass, the enclosing run's prefix and lifecycle do not. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!ENCLOSING_NPM.test(key)) env[key] = value;
  return env;
}

interface PackedFile {
  path: string;
  mode: number;
}

/**
 * The package as a user gets it: `npm pack` in a copy of the checkout without
 * dist/ (prepack must build it), installed from the tarball into an empty ESM
 * app, then imported, typechecked and run from there. One pack, one install.
 */
describe('the packed package', { timeout: 600_000 }, () => {
  let work: string;
  let app: string;
  let files: PackedFile[];

  before(
    async () => {
      work = mkdtempSync(join(tmpdir(), 'ttp-pack-'));
      const clone = join(work, 'clone');
      mkdirSync(clone);
      for (const entry of CLONE_ENTRIES) cpSync(join(ROOT, entry), join(clone, entry), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
      const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', work], { cwd: clone, env: npmEnv(), maxBuffer: 16 << 20 });
      const [packed] = JSON.parse(stdout) as { filename: string; files: PackedFile[] }[];
      files = packed!.files;

      app = join(work, 'app');
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'ttp-pack-app', private: true, type: 'module' }));
      writeFileSync(join(app, 'R1.yaml'), ruleYaml('R1'));
      // The project's own @types/node and better-sqlite3 versions, so the install comes from
      // npm's cache. Install scripts are skipped and better-sqlite3's addon, already compiled
      // for this Node by the project's own `npm ci`, is copied in: compiling it again from
      // source (no prebuilt binary is reachable here) cost ~90 s of the suite's two cores and
      // tests better-sqlite3's install, not this package.
      const versionOf = (pkg: string): string => (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
      await run(
        NPM,
        ['install', join(work, packed!.filename), `@types/node@${versionOf('@types/node')}`, `better-sqlite3@${versionOf('better-sqlite3')}`, '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
        { cwd: app, env: npmEnv(), maxBuffer: 16 << 20 },
      );
      cpSync(join(ROOT, 'node_modules/better-sqlite3/build'), join(app, 'node_modules/better-sqlite3/build'), { recursive: true });
    },
    { timeout: 540_000 },
  );
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships dist/ (built by prepack), migrations/ and sql/, an executable bin, and no sources or tests', () => {
    const paths = files.map((f) => f.path);
    for (const path of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'package.json', 'README.md']) assert.ok(paths.includes(path), `${path} is packed`);
    assert.ok(paths.some((p) => /^migrations\/0001_.*\.sql$/.test(p)), 'the Postgres migrations');
    assert.ok(paths.some((p) => p.startsWith('sql/sqlite/')), 'the SQLite schema');
    assert.deepEqual(paths.filter((p) => /^(src|test|bench)\//.test(p) || p.endsWith('.db')), []);
    const main = files.find((f) => f.path === 'dist/cli/main.js')!;
    assert.equal(main.mode & 0o111, 0o111, `dist/cli/main.js is executable (mode ${main.mode.toString(8)})`);
    const installed = readFileSync(join(app, 'node_modules/ttp-rule-store/dist/cli/main.js'), 'utf8');
    assert.ok(installed.startsWith('#!/usr/bin/env node\n'), 'the bin starts with its shebang');
  });

  it('imports from an ESM file and runs a store on SQLite', async () => {
    writeFileSync(
      join(app, 'main.js'),
      `import { readFileSync } from 'node:fs';
import { openRuleStore, isActive, RuleStoreError } from 'ttp-rule-store';
const store = await openRuleStore({ url: 'sqlite::memory:' });
await store.upsertRule(readFileSync('R1.yaml'), { sourcePath: 'R1.yaml', updatedBy: 'pack-test' });
const rules = await store.loadCompiled();
await store.close();
process.stdout.write(JSON.stringify({ ids: rules.map((r) => r.ruleId), active: isActive(rules[0].state), error: typeof RuleStoreError.is }));
`,
    );
    const { stdout } = await run(process.execPath, ['main.js'], { cwd: app });
    assert.deepEqual(JSON.parse(stdout), { ids: ['R1'], active: true, error: 'function' });
  });

  it('typechecks against the shipped types (tsc --noEmit, strict, module nodenext)', async () => {
    writeFileSync(
      join(app, 'check.ts'),
      `import { openRuleStore, isActive, applyCeiling, type CompiledRule, type RuleChange, type RuleStore } from 'ttp-rule-store';
const store: RuleStore = await openRuleStore({ url: 'sqlite::memory:', transport: 'poll' });
const subscription = store.changes$.subscribe((change: RuleChange) => {
  if (change.kind === 'definition') {
    const rule: CompiledRule = change.rule;
    const confidence: number = applyCeiling(rule.emits[0]?.confidence ?? 0, rule.state);
    void confidence;
  }
});
const active: boolean = isActive(await store.getState('R1'));
subscription.unsubscribe();
await store.close();
export { active };
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false }, files: ['check.ts'] }),
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app }).catch((error: { stdout?: string }) => {
      assert.fail(`tsc --noEmit failed:\n${error.stdout ?? String(error)}`);
    });
  });

  it('runs `ttp-rules --version` and `ttp-rules validate` from the app', async () => {
    const bin = join(app, 'node_modules/.bin', process.platform === 'win32' ? 'ttp-rules.cmd' : 'ttp-rules');
    assert.ok(existsSync(bin));
    // Executed directly, not through node: the shebang and the exec bit do the work.
    const version = await run(bin, ['--version'], { cwd: app });
    assert.equal(version.stdout, `${VERSION}\n`);
    const validate = await run(bin, ['validate', 'R1.yaml'], { cwd: app });
    assert.equal(validate.stderr, '1 rule file(s) valid\n');
  });
});
