import { Schema, parseDocument, type DocumentOptions, type ParseOptions, type Tags } from 'yaml';
import { SEED_MERGE_VALUE_TAG, SEED_SCALAR_TAGS } from './seedYamlTags.js';

/** What {@link parseSeedYaml} gives: the value, or the reasons the text is refused. */
export type SeedYamlResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problems: readonly string[] };

const KEPT_FROM_PACKAGE = new Set(['tag:yaml.org,2002:map', 'tag:yaml.org,2002:seq', 'tag:yaml.org,2002:str', 'tag:yaml.org,2002:merge']);

/** The package's map, seq, str and merge-key tags, then PyYAML's scalars (the merge key before the refused `<<` value). */
function seedTags(defaults: Tags): Tags {
  return [...defaults.filter((tag) => typeof tag !== 'string' && KEPT_FROM_PACKAGE.has(tag.tag)), ...SEED_SCALAR_TAGS, SEED_MERGE_VALUE_TAG];
}

/**
 * Built once and shared: parsing never changes a schema whose known-tag table is
 * empty (resolveKnownTags off), and building one per document costs more than the
 * parse of a small rule.
 */
const SCHEMA = new Schema({
  schema: 'yaml-1.1',
  customTags: seedTags,
  // Only the tags listed above: an explicit !!binary, !!set, !!omap, !!js/... stays unresolved (refused).
  resolveKnownTags: false,
});

const OPTIONS: ParseOptions & DocumentOptions & { schema: Schema } = {
  // YAML 1.1 whatever the document's %YAML directive says: PyYAML reads 1.1 either way.
  version: '1.1',
  schema: SCHEMA,
  // PyYAML's last-wins on a repeated key hides mistakes: refused here instead.
  uniqueKeys: true,
  strict: true,
  prettyErrors: false,
};

/**
 * Parses one YAML document the way the seed's PyYAML `safe_load` does (YAML
 * 1.1): `yes`/`no`/`on`/`off` are booleans (not `y`/`n`), `0755` is 493, `0x1F`,
 * `0b101`, `1_000`, `1:30` (90) are integers, `1:30.5`, `.inf`, `.nan` floats,
 * `~` null, `<<` merges mappings, and dates and timestamps become ISO 8601
 * strings as Python's `isoformat()` writes them (`2026-05-17`,
 * `2026-05-17T10:20:30+00:00`, naive ones without an offset). What PyYAML cannot
 * load (a plain `=`, 2026-02-30, `0x_`) is refused. Defences the seed lacks are
 * kept: repeated keys are refused, and at most `maxAliasCount` aliases are
 * expanded (an alias bomb needs far more). Errors and warnings both refuse.
 *
 * @example parseSeedYaml('case_insensitive: no\nmode: 0755\n') // { ok: true, value: { case_insensitive: false, mode: 493 } }
 */
export function parseSeedYaml(text: string, maxAliasCount = 100): SeedYamlResult {
  const doc = parseDocument(text, OPTIONS);
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) return { ok: false, problems: problems.map((p) => p.message.split('\n')[0]!) };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount }) };
  } catch (error) {
    return { ok: false, problems: [(error as Error).message] };
  }
}
