import { FAILSAFE_SCHEMA, YAMLException, load, type LoadOptions } from 'js-yaml';
import { MERGE_TAG, MERGE_VALUE_REFUSED, SEED_EXPLICIT_TYPES, SEED_IMPLICIT_TYPES, SeedYamlError } from './seedYamlTags.js';

/** What {@link parseSeedYaml} gives: the value, or the reasons the text is refused. */
export type SeedYamlResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problems: readonly string[] };

/**
 * Built once and shared: str, seq and map from the failsafe schema, then
 * PyYAML's scalars. Only those tags: an explicit !!binary, !!set, !!omap,
 * !!js/... is an unknown tag (refused).
 */
const SCHEMA = FAILSAFE_SCHEMA.extend({ implicit: [...SEED_IMPLICIT_TYPES], explicit: [...SEED_EXPLICIT_TYPES] });

const NULL_TAG = 'tag:yaml.org,2002:null';

/** The part of js-yaml's loader state the listener reads (the typings list less than the loader has). */
interface LoaderState {
  readonly input: string;
  readonly position: number;
  readonly tag: string | null;
  readonly anchor: string | null;
  readonly kind: string | null;
  result: unknown;
  anchorMap: Record<string, unknown>;
}

/** Whether the node that ends at `from` is a mapping key: the next thing after spaces, line breaks and comments is `:`. */
function isKey(input: string, from: number): boolean {
  let i = from;
  for (;;) {
    const ch = input.charCodeAt(i);
    if (ch === 0x20 || ch === 0x09 || ch === 0x0a || ch === 0x0d) i += 1;
    else if (ch === 0x23 /* # */) {
      while (i < input.length && input.charCodeAt(i) !== 0x0a) i += 1;
    } else return ch === 0x3a; /* : */
  }
}

/** Whether the scalar starting at `at` follows a `?` on its line (an explicit key). */
function isExplicitKey(input: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && (input.charCodeAt(i) === 0x20 || input.charCodeAt(i) === 0x09)) i -= 1;
  return input.charCodeAt(i) === 0x3f; /* ? */
}

/** js-yaml does not merge at an explicit `? <<` key (it would keep a `<<` key): refused rather than misread. */
const EXPLICIT_MERGE_REFUSED = "an explicit '? <<' merge key is not supported: write '<<: ...'";

/**
 * A js-yaml `listener` for one document, doing what the loader does not:
 *
 * - counts the aliases the document expands, an alias to a node standing for
 *   itself plus the aliases inside that node (js-yaml shares one object per
 *   anchor, but JSON and validation walk every copy), and throws past
 *   `maxAliasCount` while parsing, so a billion-laughs document stops after a
 *   few dozen aliases;
 * - refuses a plain `<<` anywhere but a key (and as an explicit `? <<` key),
 *   and a collection as a key (PyYAML: "found unhashable key");
 * - writes a null key as `""` (what the store has always made of it).
 *
 * Aliases are counted where js-yaml reads them: a Proxy over the anchor map.
 */
function createListener(maxAliasCount: number): NonNullable<LoadOptions['listener']> {
  /** Per anchor: the aliases an alias to it expands (itself and those inside its node). */
  const weights = new Map<string, number>();
  /** The expansion count when each open node opened. */
  const opened: number[] = [];
  let expanded = 0;
  let watchedMap: Record<string, unknown> | null = null;
  let state: LoaderState | null = null;

  const countAlias = (name: string): void => {
    expanded += weights.get(name) ?? 1;
    if (maxAliasCount >= 0 && expanded > maxAliasCount) {
      throw new SeedYamlError(`Excessive alias count indicates a resource exhaustion attack: more than ${maxAliasCount} aliases expanded`);
    }
  };
  const handler: ProxyHandler<Record<string, unknown>> = {
    get(target, name) {
      // readAlias reads the map just past `*name`; storeAnchor's other read does not sit there.
      if (typeof name === 'string' && state !== null) {
        const end = state.position;
        if (state.input.charCodeAt(end - name.length - 1) === 0x2a && state.input.startsWith(name, end - name.length)) countAlias(name);
      }
      return target[name as string];
    },
  };

  return (event, rawState) => {
    const s = rawState as unknown as LoaderState;
    if (event === 'open') {
      if (s.anchorMap !== watchedMap) {
        // A new document: js-yaml gave it a fresh anchor map.
        state = s;
        watchedMap = new Proxy(s.anchorMap, handler);
        s.anchorMap = watchedMap;
      }
      opened.push(expanded);
      return;
    }
    const before = opened.pop() ?? 0;
    if (s.anchor !== null) weights.set(s.anchor, 1 + expanded - before);
    const { result } = s;
    if (s.tag === MERGE_TAG) {
      if (!isKey(s.input, s.position)) throw new SeedYamlError(MERGE_VALUE_REFUSED);
      if (isExplicitKey(s.input, s.input.lastIndexOf('<<', s.position))) throw new SeedYamlError(EXPLICIT_MERGE_REFUSED);
    } else if (result === null) {
      if ((s.tag === NULL_TAG || s.tag === null) && isKey(s.input, s.position)) s.result = '';
    } else if (typeof result === 'object' && isKey(s.input, s.position)) {
      throw new SeedYamlError('found unhashable key: a sequence or mapping cannot be a mapping key');
    }
  };
}

/** js-yaml's wording, where a test or a user knows the package's. */
function problemOf(error: unknown): string {
  if (error instanceof YAMLException) {
    const reason = error.reason;
    const where = error.mark ? ` at line ${error.mark.line + 1}, column ${error.mark.column + 1}` : '';
    if (reason === 'duplicated mapping key') return `Map keys must be unique${where}`;
    if (reason.startsWith('cannot merge mappings')) return `Merge sources must be maps or map aliases${where}`;
    const unknownTag = /^unknown tag !<(.*)>$/.exec(reason);
    if (unknownTag) return `Unresolved tag: ${unknownTag[1]}${where}`;
    return `${reason}${where}`;
  }
  return (error as Error).message;
}

/**
 * Parses one YAML document the way the seed's PyYAML `safe_load` does (YAML
 * 1.1): `yes`/`no`/`on`/`off` are booleans (not `y`/`n`), `0755` is 493, `0x1F`,
 * `0b101`, `1_000`, `1:30` (90) are integers, `1:30.5`, `.inf`, `.nan` floats,
 * `~` null, `<<` merges mappings, and dates and timestamps become ISO 8601
 * strings as Python's `isoformat()` writes them (`2026-05-17`,
 * `2026-05-17T10:20:30+00:00`, naive ones without an offset). What PyYAML cannot
 * load (a plain `=`, 2026-02-30, `0x_`, a sequence as a key) is refused. Defences
 * the seed lacks are kept: repeated keys are refused, at most `maxAliasCount`
 * aliases are expanded (an alias bomb needs far more; an alias counts the
 * aliases inside what it names), nesting stops at 100 levels. Errors and
 * warnings both refuse. Built on js-yaml with a YAML 1.1 schema.
 *
 * @example parseSeedYaml('case_insensitive: no\nmode: 0755\n') // { ok: true, value: { case_insensitive: false, mode: 493 } }
 */
export function parseSeedYaml(text: string, maxAliasCount = 100): SeedYamlResult {
  const warnings: string[] = [];
  try {
    const value = load(text, {
      schema: SCHEMA,
      onWarning: (warning) => warnings.push(problemOf(warning)),
      listener: createListener(maxAliasCount),
    });
    if (warnings.length > 0) return { ok: false, problems: warnings };
    // An empty document: null, as PyYAML gives None.
    return { ok: true, value: value === undefined ? null : value };
  } catch (error) {
    return { ok: false, problems: [...warnings, problemOf(error)] };
  }
}
