import { Type } from 'js-yaml';

/*
 * The scalar types of PyYAML's SafeLoader (YAML 1.1), written as js-yaml
 * types so a rule file means the same here as to the seed (which reads it
 * with `yaml.safe_load`). The regular expressions are PyYAML's implicit
 * resolvers (yaml/resolver.py) verbatim, and each `construct` follows the
 * matching SafeConstructor method (yaml/constructor.py). Where PyYAML fails
 * to load a document (a `=` value, 2026-02-30, `0x_`), constructing throws
 * {@link SeedYamlError}, so the document is refused here too.
 *
 * PyYAML tries the resolvers in this order: bool, float, int, merge, null,
 * timestamp, value; their expressions do not overlap, so the order below does
 * not matter.
 */

const TAG = (name: string): string => `tag:yaml.org,2002:${name}`;

const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const BOOL_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const NULL = /^(?:~|null|Null|NULL|)$/;
const TIMESTAMP =
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/;
/** SafeConstructor.timestamp_regexp: what `construct_yaml_timestamp` reads (also for an explicit `!!timestamp`). */
const TIMESTAMP_PARTS =
  /^([0-9]{4})-([0-9][0-9]?)-([0-9][0-9]?)(?:(?:[Tt]|[ \t]+)([0-9][0-9]?):([0-9][0-9]):([0-9][0-9])(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9][0-9]?)(?::([0-9][0-9]))?))?)?$/;

/** What PyYAML cannot load: thrown by a constructor, the document is refused with its message. */
export class SeedYamlError extends Error {}

function raise(message: string): never {
  throw new SeedYamlError(message);
}

/** `construct_yaml_int`: underscores dropped; 0b binary, 0x hex, leading 0 octal, a:b:c base 60. */
function constructInt(source: string): number {
  let value = source.replace(/_/g, '');
  const sign = value.startsWith('-') ? -1 : 1;
  if (value.startsWith('-') || value.startsWith('+')) value = value.slice(1);
  const digits = (text: string, radix: 2 | 8 | 10 | 16, valid: RegExp): number => {
    if (!valid.test(text)) {
      raise(`'${source}' is not an integer PyYAML can read (base ${radix})`);
    }
    // Through BigInt: exact for any length; Number() then rounds as JSON would.
    return Number(BigInt(`${RADIX_PREFIX[radix]}${text}`));
  };
  if (value === '0') return 0;
  if (value.startsWith('0b')) return sign * digits(value.slice(2), 2, /^[01]+$/);
  if (value.startsWith('0x')) return sign * digits(value.slice(2), 16, /^[0-9a-fA-F]+$/);
  if (value.startsWith('0')) return sign * digits(value, 8, /^[0-7]+$/);
  if (value.includes(':')) {
    let total = 0;
    for (const part of value.split(':')) total = total * 60 + digits(part, 10, /^[0-9]+$/);
    return sign * total;
  }
  // Python's int() also accepts surrounding whitespace (reachable through an explicit !!int).
  return sign * digits(value.trim(), 10, /^[0-9]+$/);
}

const RADIX_PREFIX = { 2: '0b', 8: '0o', 10: '', 16: '0x' } as const;

/** `construct_yaml_float`: underscores dropped, case folded; .inf, .nan, a:b.c base 60, else Python's float(). */
function constructFloat(source: string): number {
  let value = source.replace(/_/g, '').toLowerCase();
  let sign = 1;
  if (value.startsWith('-')) sign = -1;
  if (value.startsWith('-') || value.startsWith('+')) value = value.slice(1);
  if (value === '.inf') return sign * Number.POSITIVE_INFINITY;
  if (value === '.nan') return Number.NaN;
  const pyFloat = (text: string): number => {
    const t = text.trim();
    if (/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[-+]?[0-9]+)?$/.test(t)) return Number(t);
    if (/^(?:inf|infinity)$/.test(t)) return Number.POSITIVE_INFINITY;
    if (t === 'nan') return Number.NaN;
    raise(`'${source}' is not a float PyYAML can read`);
  };
  if (value.includes(':')) {
    let total = 0;
    for (const part of value.split(':')) total = total * 60 + pyFloat(part);
    return sign * total;
  }
  return sign * pyFloat(value);
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * `construct_yaml_timestamp`, then Python's `isoformat()`: a date is
 * `YYYY-MM-DD`; a timestamp is `YYYY-MM-DDTHH:MM:SS[.ffffff]` plus the offset it
 * was written with (`Z` becomes `+00:00`), none when it had none (PyYAML keeps
 * it naive). Fractions keep six digits (microseconds), truncated as PyYAML does.
 */
function constructTimestamp(source: string): string {
  const m = TIMESTAMP_PARTS.exec(source);
  if (!m) {
    raise(`'${source}' is not a timestamp PyYAML can read`);
  }
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // datetime.date() refuses what the calendar does not have.
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth) {
    raise(`'${source}' is not a date in the calendar`);
  }
  const date = `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
  if (m[4] === undefined) return date;
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (hour > 23 || minute > 59 || second > 59) {
    raise(`'${source}' is not a time of day`);
  }
  const micro = m[7] ? Number(m[7].slice(0, 6).padEnd(6, '0')) : 0;
  let text = `${date}T${pad(hour)}:${pad(minute)}:${pad(second)}${micro ? `.${pad(micro, 6)}` : ''}`;
  if (m[8] === 'Z') return `${text}+00:00`;
  if (m[9] !== undefined) {
    let offset = Number(m[10]) * 60 + Number(m[11] ?? 0);
    if (offset >= 24 * 60) {
      raise(`'${source}' has an offset of 24 hours or more`);
    }
    if (m[9] === '-') offset = -offset;
    text += `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  }
  return text;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** `construct_yaml_bool` (explicit `!!bool`): looks the lowercased text up. */
function constructBool(source: string): boolean {
  const value = ({ yes: true, no: false, true: true, false: false, on: true, off: false } as Record<string, boolean>)[source.toLowerCase()];
  return value ?? raise(`'${source}' is not a boolean PyYAML can read (yes/no, true/false, on/off)`);
}

/** A plain scalar PyYAML resolves to a tag SafeLoader cannot construct: the seed fails to load the file. */
const refused = (test: RegExp, tag: string, why: string): Type =>
  new Type(TAG(tag), { kind: 'scalar', resolve: (data: string) => test.test(data), construct: () => raise(why) });

/** Tried on plain scalars only; js-yaml hands `resolve` the text, `construct` what to make of it. */
const implicit = (tag: string, test: RegExp, construct: (source: string) => unknown): Type =>
  new Type(TAG(tag), { kind: 'scalar', resolve: (data: string) => test.test(data), construct });
/** The same constructor for an explicit tag (`!!int "0755"`): any text reaches it. */
const explicit = (tag: string, construct: (source: string) => unknown): Type =>
  new Type(TAG(tag), { kind: 'scalar', construct: (data: string | null) => construct(data ?? '') });

/**
 * The tag js-yaml's loader merges at a key (its `storeMappingPair` compares the
 * key's tag with it); a plain `<<` anywhere else is refused by parseSeedYaml
 * with {@link MERGE_VALUE_REFUSED}.
 */
export const MERGE_TAG = TAG('merge');

/** Why a plain `<<` value is refused. */
export const MERGE_VALUE_REFUSED = "a plain '<<' is only a merge key, PyYAML safe_load cannot load it as a value: quote it";

/**
 * PyYAML SafeLoader's implicit scalar types, in its resolver order, for
 * js-yaml's `FAILSAFE_SCHEMA.extend` (maps, sequences and strings come from
 * the failsafe schema).
 */
export const SEED_IMPLICIT_TYPES: readonly Type[] = [
  implicit('bool', BOOL, (s) => BOOL_TRUE.test(s)),
  implicit('float', FLOAT, constructFloat),
  implicit('int', INT, constructInt),
  new Type(MERGE_TAG, { kind: 'scalar', resolve: (data: string) => data === '<<', construct: () => '<<' }),
  implicit('null', NULL, () => null),
  implicit('timestamp', TIMESTAMP, constructTimestamp),
  refused(/^=$/, 'value', "a plain '=' is the YAML 1.1 value key, which PyYAML safe_load cannot load: quote it"),
];

/**
 * The same constructors for explicit tags (these win over the implicit types
 * for a tag). No binary, set, omap or pairs: a rule is JSON, and those have
 * no JSON form, so an explicit `!!binary` & co. is an unknown tag (refused).
 */
export const SEED_EXPLICIT_TYPES: readonly Type[] = [
  explicit('bool', constructBool),
  explicit('float', constructFloat),
  explicit('int', constructInt),
  explicit('null', () => null),
  explicit('timestamp', constructTimestamp),
];
