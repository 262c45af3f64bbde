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
 * Strings some YAML parser reads as a number, which the library's YAML 1.1 view may leave plain:
 * YAML 1.2's octal `0o17` (the yaml library's default and js-yaml read it as 15), and the forms Go's
 * base-0 number parsing accepts in go-yaml v3 (a sign before `0o`/`0x`, `_` between digits, hex
 * floats). Quoting one of them costs nothing; leaving it plain turns a name into a number.
 */
const NUMBER_LIKE = /^[-+]?(?:0[box][0-9a-f_.]*(?:p[-+]?\d+)?|(?:\d[\d_]*)?\.?\d[\d_]*(?:e[-+]?\d+)?|\d[\d_]*\.)$/i;

/**
 * Characters always written as `\uXXXX` escapes, in YAML and in JSON/TypeScript literals. YAML 1.1
 * parsers (libyaml in Kong, go-yaml in kubectl) read U+0085, U+2028 and U+2029 as line breaks (a
 * plain `a<U+2028>b: c` ends the scalar and starts a key; in quotes NEL folds to a space) and
 * refuse DEL, C1 controls and U+FFFE/FFFF outright, none of which JSON.stringify escapes. Bidi
 * controls and the BOM are valid data but make a file read differently from how it displays.
 */
// eslint-disable-next-line no-control-regex
const ESCAPED = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff]/g;
const hasEscaped = (s: string) => s.search(ESCAPED) !== -1;
const escapeChars = (s: string) => s.replace(ESCAPED, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

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
    return text.includes('e') ? positional(value) : text;
  }
  if (typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return JSON.stringify(value);
  // Fast path for the common case (names, paths, hosts); the library decides the rest.
  if (SAFE_PLAIN.test(value) && !YAML_SPECIAL.test(value)) return value;
  let scalar = decided.get(value);
  if (scalar === undefined) {
    const plain = stringify(value, { lineWidth: 0, version: '1.1' }).replace(/\n$/, '');
    // Anything multi-line, block-styled or quoted by the library is written quoted.
    scalar =
      plain.includes('\n') || /^[|>'"]/.test(plain) || hasEscaped(value) || NUMBER_LIKE.test(value) ? quoted(value) : plain;
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
  const raw = escapeChars(JSON.stringify(value).slice(1, -1));
  return raw.includes('"') && !/\\[^"]/.test(raw) ? `'${value.replace(/'/g, "''")}'` : `"${raw}"`;
}

/** Strings that are plain scalars in a flow sequence too, where `,[]{}:` also end one. */
const FLOW_PLAIN = /^[A-Za-z0-9][A-Za-z0-9_./-]*$/;

/** A scalar inside a flow sequence (`[a, b]`), where `,[]{}:` also end a plain scalar. */
export function yamlFlowScalar(value: unknown): string {
  if (typeof value !== 'string') return yamlScalar(value);
  // A plain scalar reads back as the string itself, so a string that is not plain-safe in flow
  // context is quoted whatever yamlScalar would decide: no call into the library for it.
  if (!FLOW_PLAIN.test(value)) return quoted(value);
  const scalar = yamlScalar(value);
  return FLOW_PLAIN.test(scalar) ? scalar : quoted(value);
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

/** A YAML mapping entry as yamlEntries writes it: a scalar, a flow list, or a nested mapping. */
export interface YamlEntry {
  readonly key: string;
  readonly value?: string | number | boolean;
  readonly list?: readonly (string | number)[];
  readonly object?: readonly YamlEntry[];
}

/**
 * A block mapping from a list of entries, one `key: value` per line, nested mappings indented
 * by 2 and lists laid out by yamlFlowEntry: `at` is the column of the first key, `base` the
 * column the enclosing partial starts at (see yamlFlowEntry). Plugin configs are data of any
 * shape, and walking them in a recursive partial cost ~0.15 s of Kong's render at 1,000 routes.
 */
export function yamlEntries(entries: unknown, at: number, base = 0): string {
  const lines: string[] = [];
  const pad = (column: number) => ' '.repeat(Math.max(0, column - base));
  const walk = (list: readonly YamlEntry[], column: number) => {
    for (const entry of list) {
      const indent = lines.length === 0 ? '' : pad(column);
      if (entry.object !== undefined && entry.object.length > 0) {
        lines.push(`${indent}${yamlScalar(entry.key)}:`);
        walk(entry.object, column + 2);
      } else if (Array.isArray(entry.list)) {
        lines.push(`${indent}${yamlFlowEntry(entry.key, entry.list, column, base)}`);
      } else {
        if (entry.value === undefined) throw new Error(`the entry ${JSON.stringify(entry.key)} has no value, list or object`);
        lines.push(`${indent}${yamlScalar(entry.key)}: ${yamlScalar(entry.value)}`);
      }
    }
  };
  walk(Array.isArray(entries) ? (entries as YamlEntry[]) : [], at);
  return lines.join('\n');
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
  if (body === '' || body.endsWith('\n') || /[\u0000-\u0008\u000b-\u001f]/.test(body) || hasEscaped(body) || /^[ \t]/.test(body) || /[ \t]$/m.test(body)) {
    return yamlScalar(text);
  }
  const pad = ' '.repeat(Math.max(1, Math.floor(indent)));
  return `${text.endsWith('\n') ? '|' : '|-'}\n${body
    .split('\n')
    .map((line) => (line === '' ? '' : pad + line))
    .join('\n')}`;
}

/**
 * A JSON (and TypeScript/JavaScript) literal, with the characters of ESCAPED as escapes: U+2028/2029
 * for older parsers, the rest so that a generated file shows what it holds. Outside strings JSON
 * has none of them, so the replacement only ever touches string contents.
 */
export function jsonLiteral(value: unknown, indent?: number): string {
  return escapeChars(JSON.stringify(value, null, indent) ?? 'undefined');
}

/**
 * Model text as Markdown inline text: one line (runs of blanks and line breaks as one space, as
 * Markdown shows them and prettier writes them); Markdown and HTML characters escaped, `&` too (an
 * entity would show another text); no link either, as GFM makes one of a bare URL, `www.` name or
 * e-mail address; a block marker at the start (`# `, `- `, `1. `, `===`) escaped,
 * since a value can start a line or a list item's text (`- # x` is a heading); and the characters
 * of ESCAPED, which would reorder or hide the text around them, shown as `\uXXXX`.
 */
export function markdownText(value: unknown): string {
  if (typeof value === 'string' && PLAIN_MARKDOWN.test(value) && !value.includes('  ') && !value.includes('://') && !/www\./i.test(value)) return value;
  return escapeChars(
    String(value)
      .replace(/[\r\n\t \u0085\u2028\u2029]+/g, ' ')
      .trim()
      // "~" is GFM's strikethrough (~x~, ~~x~~), "$" GitHub's math ($x$).
      .replace(/([\\`*_[\]|<>&@~$])/g, '\\$1')
      // GFM links bare URLs, www. names and e-mail addresses (the "@" above) of its own.
      .replace(/:\/\//g, '\\://')
      .replace(/\b(www)\./gi, '$1\\.'),
  ).replace(/^([#+=~-])|^(\d{1,9})([.)])(?= |$)/, (_m, mark?: string, digits?: string, dot?: string) => (mark !== undefined ? `\\${mark}` : `${digits}\\${dot}`));
}

/**
 * Text that markdownText leaves as it is: ASCII without Markdown's or HTML's characters or line
 * breaks, starting with a letter (never a list or heading mark) and not ending in a blank. Most
 * notes' subjects and details are such text; testing for it first saves six replace passes each
 * (~40 ms of the 1,000-route notes).
 */
const PLAIN_MARKDOWN = /^[A-Za-z][A-Za-z0-9 ,.;:'"()/{}!?%=+#-]*(?<! )$/;

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

/**
 * decK renders a whole state file as a Go text/template with `${{`/`}}` delimiters, and its `env`
 * function reads only variables named `DECK_*` (go-database-reconciler pkg/file/readfile.go).
 */
export function deckEnvTemplate(name: unknown): string {
  if (typeof name !== 'string' || !/^DECK_[A-Z0-9_]+$/.test(name)) throw new Error(`deckEnv needs a DECK_ variable name, got ${JSON.stringify(name)}`);
  return `\${{ env "${name}" | printf "%q" }}`;
}

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
  /** `{{yamlEntries config at=4 base=2}}`: a block mapping of entries (see yamlEntries). */
  yamlEntries: (entries: unknown, options?: { hash?: { at?: unknown; base?: unknown } }) => yamlEntries(entries, Number(options?.hash?.at ?? 0), Number(options?.hash?.base ?? 0)),
  /** Sum of numbers: `(add at 2)`, columns of nested partials. */
  add: (...list: unknown[]) => args(list).reduce<number>((sum, n) => sum + Number(n), 0),
  json: (value: unknown) => jsonLiteral(value),
  /** A JSON document indented by two spaces (data files such as the gateway's config.json). */
  jsonPretty: (value: unknown) => jsonLiteral(value, 2),
  ts: (value: unknown) => jsonLiteral(value),
  /**
   * `{{deckEnv "DECK_ACME_KEY"}}`: decK's env-var template for a secret in kong.yml, written as
   * a YAML scalar that decK renders (before it reads the YAML) into the variable's value as a
   * double-quoted string: Go's %q escapes are YAML's, so any value reads back as itself.
   */
  deckEnv: (name: unknown) => deckEnvTemplate(name),
  ...Object.fromEntries(Object.entries(caseHelpers).map(([name, fn]) => [name, (s: string) => fn(s)])),
  /**
   * Text for a Markdown table cell: one line, with Markdown and HTML characters escaped, and
   * runs of blanks as one space (as Markdown shows them, and prettier writes them).
   */
  md: (value: unknown) => markdownText(value),
  isArray: (a: unknown) => Array.isArray(a),
  eq: (a: unknown, b: unknown) => a === b,
  and: (...list: unknown[]) => args(list).every(Boolean),
  or: (...list: unknown[]) => args(list).some(Boolean),
  not: (a: unknown) => !a,
  /** `{{#if (defined x)}}`: true for "" and 0 too, unlike `{{#if x}}`. */
  defined: (a: unknown) => a !== undefined && a !== null,
};
