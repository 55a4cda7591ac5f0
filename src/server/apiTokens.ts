import { createHash, randomBytes } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import { RuleStoreError } from '../domain/errors.js';

/** What a caller may do: readers read and follow, operators also change states, authors also change rules. */
export const API_ROLES = ['reader', 'operator', 'author'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** One line of a tokens file: the token's name (recorded as the actor), its role and its SHA-256. */
export interface ApiToken {
  readonly name: string;
  readonly role: ApiRole;
  /** Lower-case hex SHA-256 of the token; the token itself is never stored. */
  readonly sha256: string;
}

const NAME_PATTERN = /^[A-Za-z0-9_.@+-]{1,64}$/;
const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** True when `role` grants at least `needed`. */
export function roleAllows(role: ApiRole, needed: ApiRole): boolean {
  return API_ROLES.indexOf(role) >= API_ROLES.indexOf(needed);
}

/** The lower-case hex SHA-256 of a token, as a tokens file stores it. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token (256 bits, base64url, prefixed `ttp_` so it is recognisable in a leak scan). */
export function generateToken(): string {
  return `ttp_${randomBytes(32).toString('base64url')}`;
}

/** Why `name` cannot name a token, or null. */
export function tokenNameProblem(name: string): string | null {
  return NAME_PATTERN.test(name) ? null : 'a token name is 1-64 characters of letters, digits and _ . @ + -';
}

/**
 * Parses a tokens file: one token per line, `name role sha256` separated by
 * whitespace; blank lines and `#` comments are ignored. Throws `CONFIG_INVALID`
 * naming the line.
 *
 * @example parseTokensFile('alice operator 9f86d0…\n') // [{ name: 'alice', role: 'operator', sha256: '9f86d0…' }]
 */
export function parseTokensFile(text: string, source = 'tokens file'): ApiToken[] {
  const tokens: ApiToken[] = [];
  const names = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const where = `${source}:${index + 1}`;
    const [name = '', role = '', sha256 = '', ...rest] = line.split(/\s+/);
    if (rest.length > 0) throw new RuleStoreError('CONFIG_INVALID', `${where}: expected "name role sha256", got ${rest.length + 3} fields`);
    const problem = tokenNameProblem(name);
    if (problem) throw new RuleStoreError('CONFIG_INVALID', `${where}: ${problem}`);
    if (!(API_ROLES as readonly string[]).includes(role)) throw new RuleStoreError('CONFIG_INVALID', `${where}: role must be one of ${API_ROLES.join(', ')}`);
    if (!HASH_PATTERN.test(sha256.toLowerCase())) throw new RuleStoreError('CONFIG_INVALID', `${where}: the third field must be the token's SHA-256 in hex (64 characters), never the token`);
    if (names.has(name)) throw new RuleStoreError('CONFIG_INVALID', `${where}: the name ${name} is used twice`);
    names.add(name);
    tokens.push(Object.freeze({ name, role: role as ApiRole, sha256: sha256.toLowerCase() }));
  });
  return tokens;
}

/** Reads and parses a tokens file (a missing file is `CONFIG_INVALID`). */
export async function readTokensFile(path: string): Promise<ApiToken[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new RuleStoreError('CONFIG_INVALID', `cannot read the tokens file ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseTokensFile(text, path);
}

/**
 * Creates a token and appends its line to the tokens file (created with mode
 * 0600). Returns the token: the only time it exists outside the caller's hands.
 */
export async function addToken(path: string, name: string, role: ApiRole): Promise<string> {
  const problem = tokenNameProblem(name);
  if (problem) throw new RuleStoreError('CONFIG_INVALID', problem);
  const existing = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw new RuleStoreError('CONFIG_INVALID', `cannot read the tokens file ${path}: ${error.message}`, { cause: error });
  });
  if (parseTokensFile(existing, path).some((t) => t.name === name)) {
    throw new RuleStoreError('CONFIG_INVALID', `${path} already has a token named ${name}: remove its line first to replace it`);
  }
  const token = generateToken();
  const prefix = existing === '' ? '# ttp-rules tokens: name role sha256(token)\n' : existing.endsWith('\n') ? '' : '\n';
  await appendFile(path, `${prefix}${name} ${role} ${hashToken(token)}\n`, { mode: 0o600 });
  return token;
}
