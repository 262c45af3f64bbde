/**
 * What decK does to a state file before it reads the YAML (go-database-reconciler
 * pkg/file/readfile.go, renderTemplate): the whole text is a Go text/template with `${{` `}}`
 * delimiters, and `env` returns a `DECK_*` variable, failing when it is not set. This renders the
 * three forms gwgen writes, `${{ env "DECK_X" | printf "%q" }}`, `${{/* comment *\/}}` and a raw
 * string `${{`text`}}`, and
 * refuses any other action, so a template that decK would read differently cannot pass here.
 */
export function renderDeck(text: string, env: Record<string, string | undefined> = deckEnvOf(text)): string {
  return text.replace(/\$\{\{(.*?)\}\}/gs, (whole, inner: string) => {
    if (/^\/\*.*\*\/$/s.test(inner)) return '';
    const raw = /^`([^`]*)`$/.exec(inner);
    if (raw) return raw[1]!;
    const call = /^ env "(DECK_[A-Z0-9_]+)" \| printf "%q" $/.exec(inner);
    if (!call) throw new Error(`not a template gwgen writes: ${whole}`);
    const value = env[call[1]!];
    if (value === undefined) throw new Error(`environment variable '${call[1]}' present in state file but not set`);
    return goQuote(value);
  });
}

/** The DECK_ variables a file reads, each set to a value of its own ("value of DECK_X"). */
export function deckEnvOf(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/env "(DECK_[A-Z0-9_]+)"/g)].map((m) => [m[1]!, `value of ${m[1]}`]));
}

/** Go's strconv.Quote (printf "%q") for the strings tests use: its escapes are YAML's too. */
function goQuote(s: string): string {
  const named: Record<string, string> = { '\u0007': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\' };
  let out = '"';
  for (const c of s) {
    const code = c.codePointAt(0)!;
    if (named[c]) out += named[c];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code >= 0x80 && code < 0xa0) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return `${out}"`;
}
