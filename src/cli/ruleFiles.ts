import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import { RuleStoreError, RuleValidationError, type RuleIssue } from '../domain/errors.js';
import { RULE_FILE_NAME } from '../sync/ruleFileName.js';
import { UsageError } from './cliErrors.js';

/** One rule file named on the command line or found in a named directory. */
export interface RuleFile {
  /** The path as the user would recognise it (the argument, or argument/name), for messages. */
  readonly displayPath: string;
  /**
   * The canonical absolute path stored as `source_path`: the real path of the
   * file's directory (symlinks resolved) joined with the file's own name.
   */
  readonly sourcePath: string;
}

/** The files to read, and the directories they came from (canonical, with a trailing separator). */
export interface RuleFileSet {
  readonly files: readonly RuleFile[];
  readonly directories: readonly string[];
}

function fsProblem(path: string, error: unknown): UsageError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new UsageError(`${path}: no such file or directory`);
  if (code === 'EACCES' || code === 'EPERM') return new UsageError(`${path}: permission denied`);
  if (code === 'ENOTDIR') return new UsageError(`${path}: not a directory`);
  return new UsageError(`${path}: cannot read (${code ?? (error as Error).message})`);
}

/**
 * Expands file and directory arguments. A directory contributes the files whose
 * base name fully matches {@link RULE_FILE_NAME} (not recursive); a file named
 * explicitly is taken whatever its name. A path named twice is read once.
 */
export async function collectRuleFiles(paths: readonly string[]): Promise<RuleFileSet> {
  const files: RuleFile[] = [];
  const directories: string[] = [];
  const seen = new Set<string>();
  const add = (file: RuleFile): void => {
    if (seen.has(file.sourcePath)) return;
    seen.add(file.sourcePath);
    files.push(file);
  };
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      throw fsProblem(path, error);
    }
    if (info.isDirectory()) {
      let real: string;
      let names: string[];
      try {
        real = await realpath(path);
        names = await readdir(path);
      } catch (error) {
        throw fsProblem(path, error);
      }
      directories.push(real.endsWith(sep) ? real : real + sep);
      for (const name of names.filter((n) => RULE_FILE_NAME.test(n)).sort()) {
        add({ displayPath: join(path, name), sourcePath: join(real, name) });
      }
    } else if (info.isFile()) {
      let realDir: string;
      try {
        realDir = await realpath(dirname(path));
      } catch (error) {
        throw fsProblem(path, error);
      }
      add({ displayPath: path, sourcePath: join(realDir, basename(path)) });
    } else {
      throw new UsageError(`${path}: not a regular file or directory`);
    }
  }
  return { files, directories };
}

/** The outcome of checking one file. */
export interface FileCheck {
  readonly file: RuleFile;
  /** The file's bytes (null when the file was too large to read). */
  readonly bytes: Buffer | null;
  readonly ruleId: string | null;
  readonly valid: boolean;
  readonly issues: readonly RuleIssue[];
}

/**
 * Reads and validates every file without touching a database. Also flags a
 * rule id defined by more than one file (a batch would refuse it).
 */
export async function checkRuleFiles(files: readonly RuleFile[], options: { strict?: boolean; maxBytes?: number } = {}): Promise<FileCheck[]> {
  // The parser (yaml, zod) is loaded only by the commands that read rule files.
  const { DEFAULT_MAX_RULE_BYTES, parseRule } = await import('../domain/compileRule.js');
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_RULE_BYTES;
  const checks: FileCheck[] = [];
  const owners = new Map<string, string>();
  for (const file of files) {
    let bytes: Buffer | null = null;
    try {
      const size = (await stat(file.sourcePath)).size;
      if (size > maxBytes) {
        checks.push({ file, bytes: null, ruleId: null, valid: false, issues: [{ path: '', message: `document is ${size} bytes; the limit is ${maxBytes}` }] });
        continue;
      }
      bytes = await readFile(file.sourcePath);
    } catch (error) {
      throw fsProblem(file.displayPath, error);
    }
    try {
      const doc = parseRule(bytes, { strict: options.strict ?? false, maxBytes });
      const owner = owners.get(doc.rule_id);
      if (owner !== undefined) {
        checks.push({ file, bytes, ruleId: doc.rule_id, valid: false, issues: [{ path: 'rule_id', message: `duplicate: also defined in ${owner}` }] });
        continue;
      }
      owners.set(doc.rule_id, file.displayPath);
      checks.push({ file, bytes, ruleId: doc.rule_id, valid: true, issues: [] });
    } catch (error) {
      if (!(error instanceof RuleValidationError) && !RuleStoreError.is(error)) throw error;
      const issues = error instanceof RuleValidationError ? error.issues : [{ path: '', message: (error as Error).message }];
      const ruleId = error instanceof RuleValidationError ? error.ruleId : null;
      checks.push({ file, bytes, ruleId, valid: false, issues });
    }
  }
  return checks;
}

/** `file: rule_id: field: reason`, one line per problem; `-` stands for an unknown rule id or the whole document. */
export function problemLines(check: FileCheck): string[] {
  return check.issues.map((issue) => `${check.file.displayPath}: ${check.ruleId ?? '-'}: ${issue.path || '-'}: ${issue.message}`);
}
