/**
 * JSON files a user edits (gwgen.json, gwgen.lock) or may damage (the manifest): a parse error is
 * reported at its line and column, as every other problem is, not as V8's character offset (which
 * V8 leaves out altogether for an unexpected token: `{"out": generated}`).
 */

export type JsonText = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly why: string; readonly line: number; readonly column: number };

/**
 * Parses `text` as JSON. A UTF-8 byte order mark at its start, which Windows editors put there on
 * save, is no part of the JSON (as gwgen reads query files and its own generated files).
 */
export function parseJsonText(text: string): JsonText {
  const body = withoutBom(text);
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (err) {
    const message = (err as Error).message;
    const given = /^(.*?)(?: in JSON)? at position (\d+)/s.exec(message);
    // "Unexpected token 'x', "…excerpt…" is not valid JSON": the token, where the scan stops or just after ("[tru]").
    const token = /^Unexpected token '(.)', /su.exec(message)?.[1];
    const stop = given ? Number(given[2]) : firstErrorOrStart(body);
    const position = token && body.indexOf(token, stop) >= 0 ? body.indexOf(token, stop) : stop;
    const why = given ? given[1]! : token ? `unexpected '${token}'` : position >= body.length ? 'the text ends before the JSON does' : message;
    return { ok: false, why: why.charAt(0).toLowerCase() + why.slice(1), ...lineAndColumn(body, position) };
  }
}

/**
 * Where `"key":` first appears in a JSON text (a top-level key of gwgen.json, as written), for a
 * problem with that key's value; the text's start when it is spelt with escapes.
 */
export function keyPosition(text: string, key: string): { line: number; column: number } {
  const body = withoutBom(text);
  const index = body.search(new RegExp(`${JSON.stringify(key).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*:`));
  return lineAndColumn(body, Math.max(0, index));
}

/**
 * The keys of a JSON text's top-level object, each with where it is written, in order, repeats
 * included (JSON.parse keeps the last of a repeated key without a word). For a text that parses.
 */
export function topLevelKeys(text: string): Array<{ key: string; line: number; column: number }> {
  const body = withoutBom(text);
  const keys: Array<{ key: string; line: number; column: number }> = [];
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      const start = i;
      for (i++; i < body.length && body[i] !== '"'; i++) if (body[i] === '\\') i++;
      // A string at depth 1 followed by ":" is a key of the top-level object.
      if (depth === 1 && /^\s*:/.test(body.slice(i + 1, i + 64))) keys.push({ key: JSON.parse(body.slice(start, i + 1)) as string, ...lineAndColumn(body, start) });
    }
  }
  return keys;
}

function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Columns count characters as editors do: an emoji is one, not two UTF-16 units. */
function lineAndColumn(body: string, offset: number): { line: number; column: number } {
  const before = body.slice(0, offset).split('\n');
  return { line: before.length, column: [...before.at(-1)!].length + 1 };
}

/** The scan recurses: nesting deeper than the stack (a file of a million "[") is located at its start rather than failing the run. */
function firstErrorOrStart(s: string): number {
  try {
    return firstError(s);
  } catch {
    return 0;
  }
}

/** The offset of the first character that cannot continue the JSON text (its length when it ends too early). */
function firstError(s: string): number {
  let i = 0;
  const space = () => {
    while (i < s.length && ' \t\n\r'.includes(s[i]!)) i++;
  };
  const value = (): boolean => {
    space();
    const c = s[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      space();
      if (s[i] === close) return i++, true;
      for (;;) {
        if (close === '}') {
          space();
          if (!(s[i] === '"' && value())) return false;
          space();
          if (s[i] !== ':') return false;
          i++;
        }
        if (!value()) return false;
        space();
        if (s[i] === close) return i++, true;
        if (s[i] !== ',') return false;
        i++;
      }
    }
    const token = /^(?:"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(s.slice(i));
    if (!token) return false;
    i += token[0].length;
    return true;
  };
  if (value()) space();
  return i;
}
