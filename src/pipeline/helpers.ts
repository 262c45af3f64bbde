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

/** A single-line YAML scalar: plain when that reads back as the same string, else JSON-quoted. */
export function yamlScalar(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} into YAML`);
    return String(value);
  }
  if (typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return JSON.stringify(value);
  // Fast path for the common case (names, paths, hosts); the library decides the rest.
  if (SAFE_PLAIN.test(value) && !YAML_SPECIAL.test(value)) return value;
  let scalar = decided.get(value);
  if (scalar === undefined) {
    const plain = stringify(value, { lineWidth: 0, version: '1.1' }).replace(/\n$/, '');
    // Anything multi-line, block-styled or quoted by the library is written as a JSON string,
    // which YAML reads as a double-quoted scalar with the same escapes.
    scalar = plain.includes('\n') || /^[|>'"]/.test(plain) ? JSON.stringify(value) : plain;
    // A long-running `gwgen watch` renders many models: keep the memo bounded.
    if (decided.size >= 50_000) decided.clear();
    decided.set(value, scalar);
  }
  return scalar;
}


/** A scalar inside a flow sequence (`[a, b]`), where `,[]{}:` also end a plain scalar. */
export function yamlFlowScalar(value: unknown): string {
  const scalar = yamlScalar(value);
  return typeof value === 'string' && !/^[A-Za-z0-9][A-Za-z0-9_./-]*$/.test(scalar) ? JSON.stringify(value) : scalar;
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
  /** A YAML flow sequence of scalars: `[a, "b c"]`. */
  yamlList: (list: unknown) => `[${(Array.isArray(list) ? list : []).map(yamlFlowScalar).join(', ')}]`,
  json: (value: unknown) => jsonLiteral(value),
  /** A JSON document indented by two spaces (data files such as the gateway's config.json). */
  jsonPretty: (value: unknown) => jsonLiteral(value, 2),
  ts: (value: unknown) => jsonLiteral(value),
  ...Object.fromEntries(Object.entries(caseHelpers).map(([name, fn]) => [name, (s: string) => fn(s)])),
  /** Text for a Markdown table cell: one line, with Markdown and HTML characters escaped. */
  md: (value: unknown) => String(value).replace(/[\r\n]+/g, ' ').replace(/([\\`*_[\]|<>])/g, '\\$1'),
  isArray: (a: unknown) => Array.isArray(a),
  eq: (a: unknown, b: unknown) => a === b,
  and: (...list: unknown[]) => args(list).every(Boolean),
  or: (...list: unknown[]) => args(list).some(Boolean),
  not: (a: unknown) => !a,
};
