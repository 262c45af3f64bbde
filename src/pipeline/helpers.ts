import type { HelperDelegate } from 'handlebars';
import { stringify } from 'yaml';

/**
 * Helpers that put model values into generated text. Every string from a model reaches a
 * template through one of the escaping helpers (`yaml`, `json`, `ts`), never as a bare
 * `{{value}}`: test/templates.test.ts fails on a bare mustache.
 */

/** Strings that are plain scalars in both block and flow context and read back as strings. */
const SAFE_PLAIN = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
/** Plain words YAML 1.1 or 1.2 reads as something else than a string. */
const YAML_SPECIAL = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN|_)$/;

/**
 * What the library decided per string. Models repeat the same values on every route ("5s",
 * "5xx,connect-failure", URLs), and a call into the library costs ~10 µs (a Document and a
 * Schema each time): ~0.2 s of rendering at 1,000 routes.
 */
const decided = new Map<string, string>();

/** A single-line YAML scalar: plain when that reads back as the same string, else quoted (see `quoted`). */
export function yamlScalar(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} into YAML`);
    // Exponent notation ("1e-7") is a float in YAML 1.2 but a string in YAML 1.1, which needs a
    // dot: write every number in positional notation ("0.0000001").
    const text = String(value);
    return /e/i.test(text) ? positional(value) : text;
  }
  if (typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return JSON.stringify(value);
  // Fast path for the common case (names, paths, hosts); the library decides the rest.
  if (SAFE_PLAIN.test(value) && !YAML_SPECIAL.test(value)) return value;
  let scalar = decided.get(value);
  if (scalar === undefined) {
    const plain = stringify(value, { lineWidth: 0, version: '1.1' }).replace(/\n$/, '');
    // Anything multi-line, block-styled or quoted by the library is written quoted.
    scalar = plain.includes('\n') || /^[|>'"]/.test(plain) ? quoted(value) : plain;
    // A long-running `gwgen watch` renders many models: keep the memo bounded.
    if (decided.size >= 50_000) decided.clear();
    decided.set(value, scalar);
  }
  return scalar;
}


/** A number without exponent, its shortest digits kept: 1e-7 → "0.0000001", 1e21 → "1000000000000000000000". */
function positional(value: number): string {
  const [mantissa = '', exponent = '0'] = String(value).split('e');
  const sign = mantissa.startsWith('-') ? '-' : '';
  const [whole = '', fraction = ''] = mantissa.replace('-', '').split('.');
  const digits = whole + fraction;
  const point = whole.length + Number(exponent);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * A quoted scalar as prettier writes it: a JSON string, which YAML reads as a double-quoted
 * scalar with the same escapes; but a string whose only escapes would be `\"` is single-quoted
 * (`'say "hi"'`, a `'` doubled), as prettier rewrites it.
 */
function quoted(value: string): string {
  const json = JSON.stringify(value);
  const raw = json.slice(1, -1);
  return raw.includes('"') && !/\\[^"]/.test(raw) ? `'${value.replace(/'/g, "''")}'` : json;
}

/** A scalar inside a flow sequence (`[a, b]`), where `,[]{}:` also end a plain scalar. */
export function yamlFlowScalar(value: unknown): string {
  const scalar = yamlScalar(value);
  return typeof value === 'string' && !/^[A-Za-z0-9][A-Za-z0-9_./-]*$/.test(scalar) ? quoted(value) : scalar;
}

/** The print width prettier formats generated files with (format.ts PRETTIER_OPTIONS). */
const PRINT_WIDTH = 120;

/**
 * `key: [a, b]` laid out as prettier lays it out at a print width of 120, so that generated YAML
 * stays in prettier's form whatever the lengths of the model's names: on the key's line when it
 * fits; else on the next line, indented by 2; else one item per line, indented by 4, each with a
 * trailing comma. `at` is the column of the key. Handlebars indents every line a partial writes
 * by the partial's own indentation, so inside a partial `base` is the column the partial starts
 * at, and the lines after the first are written relative to it.
 */
export function yamlFlowEntry(key: unknown, list: unknown, at: number, base = 0): string {
  const k = yamlScalar(key);
  const items = (Array.isArray(list) ? list : []).map(yamlFlowScalar);
  const one = `[${items.join(', ')}]`;
  if (at + k.length + 2 + one.length <= PRINT_WIDTH) return `${k}: ${one}`;
  const pad = (column: number) => ' '.repeat(Math.max(0, column - base));
  if (at + 2 + one.length <= PRINT_WIDTH) return `${k}:\n${pad(at + 2)}${one}`;
  return `${k}:\n${pad(at + 2)}[\n${items.map((i) => `${pad(at + 4)}${i},`).join('\n')}\n${pad(at + 2)}]`;
}

/**
 * Multi-line text as a YAML literal block scalar (`|-`, or `|` when the text ends in one
 * newline), each line indented by `indent` spaces: a block scalar has no escapes, so any text
 * reads back unchanged. Text a block cannot hold exactly (control characters, a leading space,
 * trailing blanks on a line) falls back to a quoted scalar.
 */
export function yamlBlock(value: unknown, indent: number): string {
  const text = String(value);
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  // eslint-disable-next-line no-control-regex
  if (body === '' || body.endsWith('\n') || /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff]/.test(body) || /^[ \t]/.test(body) || /[ \t]$/m.test(body)) {
    return yamlScalar(text);
  }
  const pad = ' '.repeat(Math.max(1, Math.floor(indent)));
  return `${text.endsWith('\n') ? '|' : '|-'}\n${body
    .split('\n')
    .map((line) => (line === '' ? '' : pad + line))
    .join('\n')}`;
}

/** A JSON (and TypeScript/JavaScript) literal. U+2028/2029 are escaped for older parsers. */
export function jsonLiteral(value: unknown, indent?: number): string {
  return (JSON.stringify(value, null, indent) ?? 'undefined').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const words = (s: string) =>
  String(s)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);

export const caseHelpers = {
  kebabCase: (s: string) => words(s).join('-').toLowerCase(),
  snakeCase: (s: string) => words(s).join('_').toLowerCase(),
  constantCase: (s: string) => words(s).join('_').toUpperCase(),
  camelCase: (s: string) => words(s).map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1).toLowerCase())).join(''),
  pascalCase: (s: string) => words(s).map((w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase()).join(''),
};

/** Handlebars passes its options hash as the last argument; strip it. */
const args = (list: unknown[]) => list.slice(0, -1);

export const HELPERS: Record<string, HelperDelegate> = {
  yaml: (value: unknown) => yamlScalar(value),
  /** `{{yamlBlock text 4}}`: multi-line text as a literal block scalar indented by 4. */
  yamlBlock: (value: unknown, indent: unknown) => yamlBlock(value, Number(indent)),
  /**
   * A YAML flow sequence of scalars: `[a, "b c"]`. With `key=` (and `at=`, `base=`, see
   * yamlFlowEntry) the whole `key: [a, "b c"]` entry, laid out as prettier would.
   */
  yamlList: (list: unknown, options?: { hash?: { key?: unknown; at?: unknown; base?: unknown } }) => {
    const hash = options?.hash ?? {};
    if (hash.key !== undefined) return yamlFlowEntry(hash.key, list, Number(hash.at ?? 0), Number(hash.base ?? 0));
    return `[${(Array.isArray(list) ? list : []).map(yamlFlowScalar).join(', ')}]`;
  },
  /** Sum of numbers: `(add at 2)`, columns of nested partials. */
  add: (...list: unknown[]) => args(list).reduce<number>((sum, n) => sum + Number(n), 0),
  json: (value: unknown) => jsonLiteral(value),
  /** A JSON document indented by two spaces (data files such as the gateway's config.json). */
  jsonPretty: (value: unknown) => jsonLiteral(value, 2),
  ts: (value: unknown) => jsonLiteral(value),
  ...Object.fromEntries(Object.entries(caseHelpers).map(([name, fn]) => [name, (s: string) => fn(s)])),
  /**
   * Text for a Markdown table cell: one line, with Markdown and HTML characters escaped, and
   * runs of blanks as one space (as Markdown shows them, and prettier writes them).
   */
  md: (value: unknown) =>
    String(value)
      .replace(/[\r\n\t ]+/g, ' ')
      .trim()
      .replace(/([\\`*_[\]|<>])/g, '\\$1'),
  isArray: (a: unknown) => Array.isArray(a),
  eq: (a: unknown, b: unknown) => a === b,
  and: (...list: unknown[]) => args(list).every(Boolean),
  or: (...list: unknown[]) => args(list).some(Boolean),
  not: (a: unknown) => !a,
  /** `{{#if (defined x)}}`: true for "" and 0 too, unlike `{{#if x}}`. */
  defined: (a: unknown) => a !== undefined && a !== null,
};
