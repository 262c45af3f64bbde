/**
 * A small SPARQL scanner: enough to tell a query's form and projection and to find a token in
 * the user's text, without loading a parser (Comunica's costs ~0.4 s to load and set up, far
 * more than reading a directory of rule files should). Comments, IRIs and strings are tokens of
 * their own, so a `#` inside `<https://x#>` or "a # b" is never taken for a comment.
 */

import { PREFIXES } from '../paths.js';

export type TokenKind = 'iri' | 'string' | 'var' | 'name' | 'punct';

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** UTF-16 offset in the scanned text. */
  readonly offset: number;
}

/**
 * The text a query is run and reported from: no byte order mark (an editor's, not the query's;
 * model files lose theirs in N3's lexer) and "\n" line ends, so that the parser counts a CRLF
 * file's lines as the editor does.
 */
export function normalizeQueryText(text: string): string {
  return text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
}

const IRI = /<[^<>"{}|^`\\\u0000-\u0020]*>/y;
const VAR = /[?$][\p{L}\p{N}_\u00B7\u0300-\u036F\u203F-\u2040]+/uy;
// A keyword, a number, or a prefixed name (prefix: and local part, which may hold ":" and escapes).
const NAME = /(?:[\p{L}\p{N}_][\p{L}\p{N}_.\-\u00B7]*)?:(?:[\p{L}\p{N}_:.\-\u00B7%]|\\.)*|[\p{L}\p{N}_][\p{L}\p{N}_.\-\u00B7]*/uy;

/** The prefixes in force for a query: the predeclared ones, with its PREFIX lines over them (the last of a name wins). */
export function queryPrefixes(tokens: readonly Token[]): Record<string, string> {
  const prefixes: Record<string, string> = { ...PREFIXES };
  tokens.forEach((t, i) => {
    const name = tokens[i + 1];
    const iri = tokens[i + 2];
    if (/^PREFIX$/i.test(t.text) && name?.text.endsWith(':') && iri?.kind === 'iri') prefixes[name.text.slice(0, -1)] = iri.text.slice(1, -1);
  });
  return prefixes;
}

/** Splits a SPARQL text into tokens; comments and white space are dropped. */
export function sparqlTokens(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
      continue;
    }
    const at = (re: RegExp) => {
      re.lastIndex = i;
      return re.exec(text)?.[0];
    };
    let token: string | undefined;
    let kind: TokenKind = 'punct';
    if (c === '<' && (token = at(IRI))) kind = 'iri';
    else if (c === '"' || c === "'") {
      kind = 'string';
      token = text.slice(i, stringEnd(text, i));
    } else if ((c === '?' || c === '$') && (token = at(VAR))) kind = 'var';
    else if ((token = at(NAME))) {
      kind = 'name';
      // A name does not end with "." (`?s a agw:Route.` ends a triple).
      token = token.replace(/\.+$/, '') || token;
    } else token = c;
    tokens.push({ kind, text: token, offset: i });
    i += token.length;
  }
  return tokens;
}

/** Where the string starting at `start` ends (after its closing quote; an unclosed one at its line's end). */
function stringEnd(text: string, start: number): number {
  const q = text[start]!;
  const long = text.startsWith(q.repeat(3), start);
  let i = start + (long ? 3 : 1);
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\') i += 2;
    else if (long && text.startsWith(q.repeat(3), i)) return i + 3;
    else if (!long && c === q) return i + 1;
    else if (!long && c === '\n') return i;
    else i++;
  }
  return text.length;
}

export type QueryForm = 'select' | 'ask' | 'construct' | 'describe' | 'update';

export interface QueryShape {
  /** undefined: the text does not start (after its prologue) with a query or update keyword. */
  readonly form?: QueryForm;
  /** A SELECT's projected variables (without "?"), or "*". */
  readonly projection?: readonly string[] | '*';
}

const UPDATE_KEYWORDS = new Set(['INSERT', 'DELETE', 'LOAD', 'CLEAR', 'CREATE', 'DROP', 'ADD', 'MOVE', 'COPY', 'WITH']);

/**
 * The form of a query and what a SELECT projects: variables at the top level of its SELECT
 * clause and those bound by `(expression AS ?v)`. It reads the text only; a query that does not
 * parse may still get a shape (the parser has the last word when the query runs).
 */
export function queryShape(text: string): QueryShape {
  const tokens = sparqlTokens(normalizeQueryText(text));
  const word = (t: Token | undefined) => (t?.kind === 'name' ? t.text.toUpperCase() : undefined);
  let i = 0;
  for (;;) {
    const w = word(tokens[i]);
    if (w === 'BASE') i += 2;
    else if (w === 'PREFIX') i += 3;
    else break;
  }
  const keyword = word(tokens[i]);
  if (keyword === 'ASK' || keyword === 'CONSTRUCT' || keyword === 'DESCRIBE') return { form: keyword.toLowerCase() as QueryForm };
  if (keyword && UPDATE_KEYWORDS.has(keyword)) return { form: 'update' };
  if (keyword !== 'SELECT') return {};
  i++;
  if (word(tokens[i]) === 'DISTINCT' || word(tokens[i]) === 'REDUCED') i++;
  if (tokens[i]?.text === '*') return { form: 'select', projection: '*' };
  const projected: string[] = [];
  let depth = 0;
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    const w = word(t);
    if (depth === 0 && (w === 'WHERE' || w === 'FROM' || t.text === '{')) break;
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    else if (t.kind === 'var' && depth === 0) projected.push(t.text.slice(1));
    else if (w === 'AS' && tokens[i + 1]?.kind === 'var') projected.push(tokens[++i]!.text.slice(1));
  }
  return { form: 'select', projection: projected };
}

/**
 * Where a SELECT clause (the query's or a subquery's) projects `?name` as a plain variable, for
 * messages about a projection; undefined when none does.
 */
export function projectedVariableOffset(text: string, name: string, prefer?: (clause: readonly Token[]) => boolean): number | undefined {
  const tokens = sparqlTokens(text);
  let first: number | undefined;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]!.kind !== 'name' || tokens[i]!.text.toUpperCase() !== 'SELECT') continue;
    let depth = 0;
    let at: number | undefined;
    let j = i + 1;
    for (; j < tokens.length; j++) {
      const t = tokens[j]!;
      if (depth === 0 && (t.text === '{' || /^(WHERE|FROM)$/i.test(t.text))) break;
      if (t.text === '(') depth++;
      else if (t.text === ')') depth--;
      else if (depth === 0 && t.kind === 'var' && t.text.slice(1) === name) at ??= t.offset;
    }
    if (at === undefined) continue;
    if (!prefer || prefer(tokens.slice(i, j))) return at;
    first ??= at;
  }
  return first;
}

/**
 * Where the query itself starts: the offset of its first keyword after the PREFIX and BASE
 * lines (SELECT, CONSTRUCT, INSERT ...), or of its first token when there is none after them.
 */
export function formOffset(text: string): number | undefined {
  const tokens = sparqlTokens(text);
  let i = 0;
  while (/^(PREFIX|BASE)$/i.test(tokens[i]?.text ?? '')) i += /^PREFIX$/i.test(tokens[i]!.text) ? 3 : 2;
  return (tokens[i] ?? tokens[0])?.offset;
}

/** Line and column (1-based, the column in code points as editors count) of an offset. */
export function positionAt(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: [...before.slice(lineStart)].length + 1 };
}

/** The offset of a 1-based line and UTF-16 column, as the parser reports them. */
export function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const next = text.indexOf('\n', offset);
    if (next === -1) return text.length;
    offset = next + 1;
  }
  return Math.min(offset + column - 1, text.length);
}
