import type { ZodError } from 'zod';
import { RuleValidationError, type RuleIssue } from './errors.js';
import { parseSeedYaml } from './parseSeedYaml.js';
import { ruleDocumentSchema, strictRuleDocumentSchema, type RuleDocument } from './ruleSchema.js';
import { DEFAULT_RULE_STATE, type RuleState } from './ruleState.js';

/** One technique a rule emits, camelCase. */
export interface Emit {
  readonly techniqueId: string;
  readonly subTechniqueId: string | null;
  readonly tactic: string;
  readonly confidence: number;
}

/**
 * The runtime form of a rule: immutable (deeply frozen) and stamped with the
 * rule's current {@link RuleState}.
 */
export interface CompiledRule {
  readonly ruleId: string;
  readonly ruleVersion: number;
  readonly name: string;
  readonly description: string;
  readonly appliesTo: readonly string[];
  /** Passed through opaque: the engine interprets it. */
  readonly match: Readonly<Record<string, unknown>>;
  readonly emits: readonly Emit[];
  readonly evidenceFields: readonly string[];
  readonly state: RuleState;
}

/** Options for {@link parseRule} and {@link compileRule}. */
export interface ParseRuleOptions {
  /** Refuse unknown top-level keys (default false: ignored, like the seed). */
  strict?: boolean;
  /** Largest accepted document in bytes (default 256 KiB). */
  maxBytes?: number;
  /** File or source the text came from, for error messages. */
  source?: string | null;
  /** The rule id the document must carry (a stored row's key). */
  expectRuleId?: string;
}

/** Default size limit for one rule document. */
export const DEFAULT_MAX_RULE_BYTES = 256 * 1024;
/** YAML aliases allowed per document; an alias bomb needs far more. */
const MAX_ALIAS_COUNT = 100;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fail(issues: RuleIssue[], options: ParseRuleOptions, ruleId: string | null = null, code?: 'RULE_TOO_LARGE'): never {
  // A stored row is known by its key, whatever its document says.
  throw new RuleValidationError(issues, { ruleId: options.expectRuleId ?? ruleId ?? null, source: options.source ?? null }, code ? { code } : undefined);
}

function zodIssues(error: ZodError): RuleIssue[] {
  return error.issues.flatMap((issue) =>
    // strict mode: one issue per unknown key, named by its path (zod reports them all at the parent's path).
    issue.code === 'unrecognized_keys' ? issue.keys.map((key) => ({ path: [...issue.path, key].map(String).join('.'), message: 'unknown key (refused in strict mode)' })) : [zodIssue(issue)],
  );
}

function zodIssue(issue: ZodError['issues'][number]): RuleIssue {
  return {
    path: issue.path.map(String).join('.'),
    // zod says "Invalid input: expected string, received undefined" for a missing field.
    message: issue.code === 'invalid_type' && / received undefined$/.test(issue.message) ? `is required (${issue.message.replace(/^Invalid input: | received undefined$/g, '').replace(/,$/, '')})` : issue.message.replace(/^Invalid input: /, ''),
  };
}

function decode(input: string | Uint8Array, options: ParseRuleOptions): string {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_RULE_BYTES;
  let text: string;
  if (typeof input === 'string') {
    // A string's UTF-8 size is at most 3 bytes per UTF-16 unit; only measure when it could matter.
    const bytes = input.length * 3 > maxBytes ? Buffer.byteLength(input, 'utf8') : 0;
    if (bytes > maxBytes) fail([{ path: '', message: `document is ${bytes} bytes; the limit is ${maxBytes}` }], options, null, 'RULE_TOO_LARGE');
    if (!input.isWellFormed()) fail([{ path: '', message: 'document contains unpaired UTF-16 surrogates (not valid UTF-8)' }], options);
    text = input;
  } else {
    if (input.byteLength > maxBytes) fail([{ path: '', message: `document is ${input.byteLength} bytes; the limit is ${maxBytes}` }], options, null, 'RULE_TOO_LARGE');
    try {
      text = utf8.decode(input);
    } catch {
      fail([{ path: '', message: 'document is not valid UTF-8' }], options);
    }
  }
  // Postgres text cannot hold NUL, and no rule needs one.
  if (text.includes('\u0000')) fail([{ path: '', message: 'document contains a NUL character' }], options);
  return text;
}

/**
 * Parses and validates one rule document (YAML text or bytes) without stamping a
 * state. The YAML means what it means to the seed's PyYAML `safe_load` (YAML 1.1:
 * `no` is false, `0755` is 493, dates become ISO strings; see {@link parseSeedYaml}).
 * Safe on hostile input: size-limited, alias-limited, no custom tags, duplicate
 * keys refused. Throws {@link RuleValidationError} naming the rule/file, the field and
 * what was wrong.
 *
 * @example const doc = parseRule(await readFile('rules/R1.yaml'), { source: 'rules/R1.yaml' })
 */
export function parseRule(input: string | Uint8Array, options: ParseRuleOptions = {}): RuleDocument {
  return readRuleDocument(input, options).doc;
}

/** {@link parseRule}, also returning the decoded text (what gets stored). */
export function readRuleDocument(input: string | Uint8Array, options: ParseRuleOptions = {}): { doc: RuleDocument; text: string } {
  const text = decode(input, options);
  const parsed = parseSeedYaml(text, MAX_ALIAS_COUNT);
  if (!parsed.ok) fail(parsed.problems.map((message) => ({ path: '', message: `YAML: ${message}` })), options);
  return { doc: validateRuleValue(parsed.value, options), text };
}

/**
 * Validates an already-parsed document (the part of {@link parseRule} after YAML):
 * used for the JSON form the store keeps beside the YAML.
 */
export function validateRuleValue(value: unknown, options: ParseRuleOptions = {}): RuleDocument {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail([{ path: '', message: 'top-level YAML must be a mapping' }], options);
  }
  const rawId = (value as Record<string, unknown>)['rule_id'];
  const idForMessages = typeof rawId === 'string' && rawId.length <= 128 ? rawId : null;
  const schema = options.strict ? strictRuleDocumentSchema : ruleDocumentSchema;
  const result = schema.safeParse(value);
  if (!result.success) fail(zodIssues(result.error), options, idForMessages);
  if (options.expectRuleId !== undefined && result.data.rule_id !== options.expectRuleId) {
    fail([{ path: 'rule_id', message: `document says '${result.data.rule_id}' but it is stored as '${options.expectRuleId}'` }], options);
  }
  return result.data;
}

/** Freezes an object graph in place (compiled rules are immutable all the way down). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Builds the frozen runtime form of a validated document, stamped with `state`. */
export function toCompiledRule(doc: RuleDocument, state: RuleState = DEFAULT_RULE_STATE): CompiledRule {
  return deepFreeze({
    ruleId: doc.rule_id,
    ruleVersion: doc.rule_version,
    name: doc.name,
    description: doc.description,
    appliesTo: [...doc.applies_to],
    match: structuredClone(doc.match),
    emits: doc.emits.map((e) => ({
      techniqueId: e.technique_id,
      subTechniqueId: e.sub_technique_id,
      tactic: e.tactic,
      confidence: e.confidence,
    })),
    evidenceFields: [...doc.evidence_fields],
    state: Object.freeze({ ...state }),
  });
}

/** Returns the same rule restamped with another state (the rest is shared, it is frozen). */
export function withState(rule: CompiledRule, state: RuleState): CompiledRule {
  // A literal, not a spread (hot on every state change an engine applies).
  return Object.freeze({
    ruleId: rule.ruleId,
    ruleVersion: rule.ruleVersion,
    name: rule.name,
    description: rule.description,
    appliesTo: rule.appliesTo,
    match: rule.match,
    emits: rule.emits,
    evidenceFields: rule.evidenceFields,
    state: Object.isFrozen(state) ? state : Object.freeze({ ...state }),
  });
}

/**
 * Parses, validates and compiles one rule document.
 *
 * @example const rule = compileRule(yamlText, DEFAULT_RULE_STATE, { source: 'R0001.yaml' })
 */
export function compileRule(input: string | Uint8Array, state: RuleState = DEFAULT_RULE_STATE, options: ParseRuleOptions = {}): CompiledRule {
  return toCompiledRule(parseRule(input, options), state);
}
