import { createHash } from 'node:crypto';
import { DEFAULT_MAX_RULE_BYTES, parseRule, type ParseRuleOptions } from '../domain/compileRule.js';
import type { RuleDocument } from '../domain/ruleSchema.js';

/**
 * A per-process cache of validated rule documents, keyed by the SHA-256 of the
 * YAML text they were parsed from. The same text always parses to the same
 * document, so an entry can never disagree with the YAML it is found by: unlike
 * the `doc` column that migration 0005 dropped, nothing a database writer stores
 * is trusted. It makes a second snapshot (or a reconnect's resync) in the same
 * process skip the YAML parser; the first one parses every rule.
 */

/** The cache is bounded by the YAML text it has seen (UTF-16 units, about bytes for rule YAML). */
const MAX_CACHED_TEXT = 64 * 1024 * 1024;

const cache = new Map<string, RuleDocument>();
const sizes = new Map<string, number>();
let cachedText = 0;

/** SHA-256 of a YAML text, hex: the cache key. */
export function yamlDigest(yamlContent: string): string {
  return createHash('sha256').update(yamlContent).digest('hex');
}

function remember(key: string, yamlContent: string, doc: RuleDocument): void {
  if (cache.has(key)) return;
  cache.set(key, doc);
  sizes.set(key, yamlContent.length);
  cachedText += yamlContent.length;
  // Oldest first (Map keeps insertion order).
  for (const [old, size] of sizes) {
    if (cachedText <= MAX_CACHED_TEXT) break;
    cache.delete(old);
    sizes.delete(old);
    cachedText -= size;
  }
}

/**
 * Parses and validates a stored YAML text as {@link parseRule} would (same
 * options, same errors), through the cache. A hit is still held to this call's
 * size limit and expected rule id, so a limit or key never depends on what was
 * cached first.
 */
export function readCachedRuleDocument(yamlContent: string, options: ParseRuleOptions = {}): RuleDocument {
  const key = yamlDigest(yamlContent);
  const hit = cache.get(key);
  if (hit) {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_RULE_BYTES;
    const fits = yamlContent.length * 3 <= maxBytes || Buffer.byteLength(yamlContent, 'utf8') <= maxBytes;
    const sameId = options.expectRuleId === undefined || options.expectRuleId === hit.rule_id;
    if (fits && sameId && !options.strict) return hit;
    // Otherwise parse again, which throws the error this call must get.
  }
  const doc = parseRule(yamlContent, options);
  if (!options.strict) remember(key, yamlContent, doc);
  return doc;
}

/** Seeds the cache with a document this process just parsed from `yamlContent` (a writer's own rule). */
export function rememberRuleDocument(yamlContent: string, doc: RuleDocument): void {
  remember(yamlDigest(yamlContent), yamlContent, doc);
}

/** Empties the cache (benchmarks measure a cold start with it). */
export function clearRuleDocCache(): void {
  cache.clear();
  sizes.clear();
  cachedText = 0;
}
