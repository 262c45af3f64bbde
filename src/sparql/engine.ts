import { fileURLToPath } from 'node:url';
import { DataFactory, Store, type BaseQuad, type Quad_Object, type Quad_Predicate, type Quad_Subject, type Term } from 'n3';
import { GwgenError, problem, type Problem } from '../errors.js';
import { distance } from 'fastest-levenshtein';
import { nearest } from '../nearest.js';
import { PREFIXES } from '../paths.js';
import { requireWithCodeCache } from './code-cache.js';
import { containsService, semanticProblem, ungroupedByText, ungroupedProblem, ungroupedProjection } from './semantic-errors.js';
import { formOffset, normalizeQueryText, offsetOf, positionAt, sparqlTokens } from './scan.js';

type QueryEngine = import('@comunica/query-sparql-rdfjs').QueryEngine;
/** A parsed query: Comunica's algebra (its type names the form, e.g. "project", "ask", "load"). */
type Operation = Exclude<Parameters<QueryEngine['query']>[0], string>;

let engine: Promise<QueryEngine> | undefined;
let saveCache: (() => void) | undefined;

/**
 * Comunica is loaded on first use and kept for the process. The -rdfjs flavour runs over an
 * in-memory store and loads on Node 20 (no undici 8). The build bundles it into one CommonJS
 * file (src/sparql/comunica-bundle.ts), loaded as CommonJS: import() of a CommonJS file first
 * scans all 7 MB of it for export names (cjs-module-lexer, ~0.3 s, twice that when the other
 * core is busy validating); and through a V8 code cache (code-cache.ts).
 */
export function sparqlEngine(): Promise<QueryEngine> {
  engine ??= Promise.resolve().then(() => {
    const bundle = fileURLToPath(new URL('../vendor/comunica.cjs', import.meta.url));
    const loaded = requireWithCodeCache<typeof import('@comunica/query-sparql-rdfjs')>(bundle);
    saveCache = () => loaded.saveCache();
    return new loaded.exports.QueryEngine();
  });
  return engine;
}

/** Writes the code cache of the Comunica bundle if there was none; call once it has run a query. */
export function saveEngineCodeCache(): void {
  saveCache?.();
  saveCache = undefined;
}

/** The prologue every query gets, so `agw:` and friends work without declarations. */
export const PROLOGUE = Object.entries(PREFIXES)
  .map(([prefix, iri]) => `PREFIX ${prefix}: <${iri}>`)
  .join('\n');

const PROLOGUE_LINES = PROLOGUE.split('\n').length;

/** A value in a result row: an RDF term, or a triple term (RDF 1.2: Turtle `<<( s p o )>>`, TRIPLE()). */
export type ResultTerm = Term | BaseQuad;

/**
 * A result row. Typed as n3's Term, which has no triple terms: gwgen's own queries never select
 * one, and only the query formats (results.ts) show one, reading the row as ResultTerm.
 */
export type Row = Record<string, Term>;

const SKOLEM_PREFIX = 'urn:comunica_skolem:source_0:';

/**
 * Comunica scopes each source's blank nodes (label "bc_0_b1", with the original kept as the
 * IRI urn:comunica_skolem:source_0:b1) so that two sources cannot clash. gwgen queries one
 * store, so the store's own label comes back: the one its locator and its triples know.
 */
function unscoped(term: ResultTerm): ResultTerm {
  // Inside a triple term (Turtle 1.2 `<<( _:b ex:p ex:o )>>`) too.
  if (term.termType === 'Quad') return DataFactory.quad(unscoped(term.subject) as Quad_Subject, term.predicate as Quad_Predicate, unscoped(term.object) as Quad_Object);
  const skolem = (term as { skolemized?: Term }).skolemized;
  return term.termType === 'BlankNode' && skolem?.value.startsWith(SKOLEM_PREFIX) ? DataFactory.blankNode(skolem.value.slice(SKOLEM_PREFIX.length)) : term;
}

export type QueryOutcome =
  | { readonly kind: 'bindings'; readonly variables: readonly string[]; readonly rows: readonly Row[] }
  | { readonly kind: 'boolean'; readonly value: boolean };

/** The algebra of each update form, as the user wrote it: an update is refused before it runs. */
const UPDATES: Readonly<Record<string, string>> = {
  compositeupdate: 'several updates',
  deleteinsert: 'INSERT/DELETE',
  load: 'LOAD',
  clear: 'CLEAR',
  create: 'CREATE',
  drop: 'DROP',
  add: 'ADD',
  move: 'MOVE',
  copy: 'COPY',
  nop: 'an empty update',
};

const ONLY_SELECT_ASK = { hint: 'rewrite the query as SELECT (rows) or ASK (true/false)' };

/**
 * Runs a SELECT or ASK query. A query that does not parse or is of another form is a problem
 * value naming `origin` (the file or "-e") and the line and column in its own text, never a
 * stack trace. The query is parsed first (Comunica's parser, without running it): an update
 * (INSERT, LOAD, ...) is refused as such before anything runs.
 */
export async function runQuery(store: Store, rawText: string, origin: string, options: { now?: Date } = {}): Promise<QueryOutcome> {
  const text = normalizeQueryText(rawText);
  // Located at the keyword that makes it another form (CONSTRUCT, INSERT, ...), as an audit rule
  // of that form is: in a file of many lines, after PREFIX lines, that is what to rewrite.
  const atForm = () => {
    const offset = formOffset(text);
    return { file: origin, ...(offset !== undefined ? positionAt(text, offset) : {}) };
  };
  // An empty text parses as an empty update, which would "succeed" with one empty row.
  if (sparqlTokens(text).length === 0) {
    throw new GwgenError(problem('query', 'the query is empty', { location: { file: origin }, hint: "give a SELECT or ASK query, e.g. -e 'SELECT ?path WHERE { ?r agw:routePath ?path }'" }));
  }
  const qe = await sparqlEngine();
  // NOW() is injectable so audits of expiry dates are testable, and read in UTC (utcClock).
  // A context each: Comunica notes the explain mode in the one it is given.
  const clock = utcClock(options.now ?? new Date());
  const context = () => ({ sources: [store], ...clock });
  let operation: Operation;
  try {
    operation = (await qe.explain(`${PROLOGUE}\n${text}`, context(), 'parsed')).data as Operation;
  } catch (err) {
    // An update or CONSTRUCT that does not parse either (INSERT DATA with a relative IRI) is
    // first of all not a query gwgen runs: said so, rather than what to fix in it.
    const form = otherForm(text);
    if (form !== undefined) throw new GwgenError(problem('query', `only SELECT and ASK queries are supported; this is ${form}`, { location: atForm(), ...ONLY_SELECT_ASK }));
    throw new GwgenError(parseProblem(String((err as Error)?.message ?? err), text, origin));
  }
  if (operation.type === 'nop') {
    // PREFIX and BASE lines alone parse as an empty update: the query itself is what is missing.
    const tokens = sparqlTokens(text);
    const last = tokens[tokens.length - 1]!;
    throw new GwgenError(
      problem('query', 'the query has PREFIX or BASE declarations but no query after them', {
        location: { file: origin, ...positionAt(text, last.offset + last.text.length) },
        hint: 'write the SELECT or ASK query after the declarations, e.g. SELECT ?path WHERE { ?r agw:routePath ?path }',
      }),
    );
  }
  if (Object.hasOwn(UPDATES, operation.type)) {
    throw new GwgenError(problem('query', `only SELECT and ASK queries are supported; this is an update (${UPDATES[operation.type]})`, { location: atForm(), ...ONLY_SELECT_ASK }));
  }
  if (operation.type === 'construct' || operation.type === 'describe') {
    throw new GwgenError(problem('query', `only SELECT and ASK queries are supported; this is a ${operation.type.toUpperCase()} query`, { location: atForm(), ...ONLY_SELECT_ASK }));
  }
  // Comunica answers such a query with the variable unbound (one row: the count of everything);
  // SPARQL 1.1 (11.4) makes it an error, as Jena and RDF4J report it.
  const ungrouped = ungroupedProjection(operation);
  if (ungrouped !== undefined) throw new GwgenError(ungroupedProblem(ungrouped, text, origin));
  // SERVICE would reach a remote endpoint, which a query over a model never does; refused here
  // rather than by the engine, whose words for it differ with the form (`SERVICE ?endpoint`).
  if (containsService(operation)) {
    const at = sparqlTokens(text).find((t) => t.kind === 'name' && t.text.toUpperCase() === 'SERVICE');
    throw new GwgenError(problem('query', 'SERVICE (a query to a remote SPARQL endpoint) is not supported: gwgen queries only the model and the ontology', { location: { file: origin, ...(at ? positionAt(text, at.offset) : {}) }, hint: 'remove the SERVICE block and query the model itself' }));
  }
  const dataset = datasetProblem(text, origin);
  if (dataset) throw new GwgenError(dataset);
  let result;
  try {
    result = await qe.query(operation, context());
  } catch (err) {
    const message = String((err as Error)?.message ?? err);
    // Comunica's word for "no part of the engine runs this", e.g. SERVICE: nothing to do with syntax.
    if (message.includes('No actors are able to reply')) {
      throw new GwgenError(problem('query', 'the query asks for something the engine does not run over a model, such as SERVICE (a remote endpoint)', { location: { file: origin }, hint: 'query the model only: SELECT or ASK without SERVICE' }));
    }
    const located = semanticProblem(message, text, origin);
    if (located) throw new GwgenError(located);
    throw new GwgenError(problem('query', `the query cannot run: ${message.split('\n')[0]}`, { location: { file: origin }, hint: 'check the query against SPARQL 1.1 (SELECT or ASK)' }));
  }
  // An expression that fails while the query runs (REGEX with an invalid pattern) is the query's
  // fault, not gwgen's: a problem value, also from the query worker, never a stack trace.
  const failed = (err: unknown) => {
    const first = String((err as Error)?.message ?? err).split('\n')[0]!;
    const { place, hint } = runtimeProblem(first, text);
    return new GwgenError(problem('query', `the query failed while running: ${first}`, { location: { file: origin, ...place }, hint }));
  };
  if (result.resultType === 'bindings') {
    const stream = await result.execute();
    // Such an expression errors the stream once per row: the loop below stops at the first, and
    // the rest would be 'error' events with no listener left, an uncaught exception.
    stream.on('error', () => {});
    // Comunica 5 reports { variable, canBeUndef } objects where RDF/JS types say Variable.
    const declared = (await result.metadata()).variables as unknown as Array<{ variable?: { value: string }; value?: string }>;
    const variables = declared.map((v) => v.variable?.value ?? v.value ?? '');
    const rows: Row[] = [];
    try {
      for await (const bindings of stream) {
        const row: Row = {};
        for (const [variable, term] of bindings) row[variable.value] = unscoped(term as ResultTerm) as Term;
        rows.push(row);
      }
    } catch (err) {
      throw failed(err);
    }
    return { kind: 'bindings', variables, rows };
  }
  if (result.resultType === 'boolean') {
    try {
      return { kind: 'boolean', value: await result.execute() };
    } catch (err) {
      throw failed(err);
    }
  }
  throw new GwgenError(problem('query', 'only SELECT and ASK queries are supported', { location: { file: origin }, ...ONLY_SELECT_ASK }));
}

/**
 * Whether a query parses, without running it (a pack's queries, checked before anything uses
 * them): the problem, located in its own text as runQuery would report it, or none.
 */
export async function queryParseProblem(rawText: string, origin: string): Promise<Problem | undefined> {
  const text = normalizeQueryText(rawText);
  if (sparqlTokens(text).length === 0) return problem('query', 'the query is empty', { location: { file: origin }, hint: 'write a SPARQL query in the file, or remove it' });
  const qe = await sparqlEngine();
  let operation: unknown;
  try {
    operation = (await qe.explain(`${PROLOGUE}\n${text}`, { sources: [new Store()] }, 'parsed')).data;
  } catch (err) {
    return parseProblem(String((err as Error)?.message ?? err), text, origin);
  }
  // What runQuery refuses before running, so that a pack's query that passed here also runs.
  const ungrouped = ungroupedProjection(operation);
  return ungrouped !== undefined ? ungroupedProblem(ungrouped, text, origin) : datasetProblem(text, origin);
}

/**
 * gwgen queries one graph: the model files merged into the default graph. `FROM <g>` makes the
 * default graph the graph g, which does not exist here, and `GRAPH` reads named graphs, of which
 * a Turtle model has none: either one matched nothing, silently, so an audit rule using it
 * could never find anything and a query answered "0 rows". (An engine that loads what FROM
 * names would also reach the network, which a query over a model never does.) Read from the
 * tokens of a query that parsed, where FROM and GRAPH are keywords in no other place.
 */
function datasetProblem(text: string, origin: string): Problem | undefined {
  const tokens = sparqlTokens(text);
  // Not a language tag that spells one of them ("x"@graph).
  const at = tokens.find((t, i) => t.kind === 'name' && /^(FROM|GRAPH)$/i.test(t.text) && tokens[i - 1]?.text !== '@');
  if (!at) return undefined;
  const location = { file: origin, ...positionAt(text, at.offset) };
  return at.text.toUpperCase() === 'FROM'
    ? problem('query', 'FROM (a dataset clause) is not supported: gwgen queries one graph, the model files merged into the default graph, and FROM <...> or FROM NAMED <...> would make every pattern match a graph that does not exist here', { location, hint: 'remove the FROM clause: the patterns match the model as it is' })
    : problem('query', 'GRAPH matches nothing here: the model files are merged into one default graph, with no named graphs', { location, hint: 'remove GRAPH <...> { } and keep the patterns inside it' });
}

/**
 * Comunica's clock, so that NOW() and date-time comparisons are the same on every machine.
 * Comunica writes NOW() as the local-time fields of queryTimestamp with the zone of
 * defaultTimeZone, which by default is getTimezoneOffset(): minutes *behind* UTC, so the sign
 * is wrong and NOW() is off by twice the machine's offset (a day at UTC-12), and a date-time
 * without a zone is read in that zone. A timestamp whose local fields are the instant's UTC
 * fields, with zone Z, makes NOW() the instant in UTC, and reads a zoneless date-time as UTC.
 */
function utcClock(now: Date): Record<string, unknown> {
  const fields = new Date(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), now.getUTCHours(), now.getUTCMinutes(), now.getUTCSeconds(), now.getUTCMilliseconds());
  return { queryTimestamp: fields, '@comunica/utils-expression-evaluator:defaultTimeZone': { zoneHours: 0, zoneMinutes: 0 } };
}

/** The words of SPARQL 1.1 a misspelt one is compared with. */
const SPARQL_KEYWORDS = ['SELECT', 'ASK', 'CONSTRUCT', 'DESCRIBE', 'WHERE', 'PREFIX', 'BASE', 'DISTINCT', 'REDUCED', 'FILTER', 'OPTIONAL', 'UNION', 'MINUS', 'GRAPH', 'SERVICE', 'BIND', 'VALUES', 'ORDER', 'GROUP', 'BY', 'HAVING', 'LIMIT', 'OFFSET', 'ASC', 'DESC', 'NOT', 'EXISTS', 'IN', 'AS', 'COUNT', 'SUM', 'MIN', 'MAX', 'AVG', 'SAMPLE', 'GROUP_CONCAT', 'SEPARATOR', 'REGEX', 'STR', 'LANG', 'DATATYPE', 'BOUND', 'IF', 'COALESCE', 'CONCAT', 'CONTAINS', 'STRSTARTS', 'STRENDS', 'LCASE', 'UCASE', 'NOW', 'ISIRI', 'ISBLANK', 'ISLITERAL'];

const SYNTAX_HINT = 'check the query syntax; the prefixes rdf rdfs owl xsd agw are predeclared';

/**
 * A parser error as a problem at the line and column of the user's text. The parser sees the
 * prologue too and reports three ways: "Parse error on line N" with a caret line, or without a
 * line when it ran into the end of the query ("found --> '' <--"); the lexer an offset
 * ("unexpected character: ->"<- at offset: 30"); an undeclared prefix nothing at all.
 */
export function parseProblem(raw: string, text: string, origin: string): Problem {
  const at = (offset: number | undefined, message: string, hint = SYNTAX_HINT): Problem =>
    problem('query', `the SPARQL query does not parse: ${message}`, { location: { file: origin, ...(offset !== undefined ? positionAt(text, offset) : {}) }, hint });
  const prefix = /^Unknown prefix:? ?([^\s:]*)/.exec(raw)?.[1];
  if (prefix !== undefined) {
    const use = sparqlTokens(text).find((t) => t.kind === 'name' && t.text.startsWith(`${prefix}:`));
    return at(use?.offset, `the prefix ${prefix}: is not declared`, `declare it, e.g. PREFIX ${prefix}: <https://example.org/ns#>, before the query; rdf rdfs owl xsd agw are predeclared`);
  }
  const relative = /^Cannot resolve relative IRI (.*) because no base IRI was set/.exec(raw)?.[1];
  if (relative !== undefined) {
    const use = sparqlTokens(text).find((t) => t.kind === 'iri' && t.text === `<${relative}>`);
    const name = relative.replace(/[^\w-]/g, '') || 'Route';
    return at(use?.offset, `<${relative}> is a relative IRI, and the query sets no BASE`, `write the full IRI (e.g. agw:${name} or <https://example.org/ns#${name}>), or declare BASE <https://example.org/ns#> before the query`);
  }
  const semantic = semanticProblem(raw, text, origin);
  if (semantic) return semantic;
  if (raw.startsWith('Variable not allowed in projection')) {
    // The parser names no variable: the first of the top-level SELECT that GROUP BY does not list.
    const name = ungroupedByText(text);
    if (name !== undefined) return ungroupedProblem(name, text, origin);
  }
  const lexed = /^unexpected character: ->([\s\S])<- at offset: (\d+)/.exec(raw);
  if (lexed) {
    const ch = lexed[1]!;
    const offset = Number(lexed[2]) - PROLOGUE.length - 1;
    // Chevrotain stops at the first letter of a word that is no keyword (SELEC, SELCT …).
    const word = /^[A-Za-z]+(?![\w:])/.exec(text.slice(offset))?.[0];
    if (word !== undefined && /[A-Za-z]/.test(ch)) {
      const before = sparqlTokens(text.slice(0, offset));
      if (/^PREFIX$/i.test(before[before.length - 1]?.text ?? '')) {
        // `PREFIX ex <...>`: the name lacks its colon, which no keyword's spelling explains.
        return at(offset, `"${word}" after PREFIX is not a prefix name: a prefix name ends with ":"`, `write PREFIX ${word}: <https://example.org/ns#> and use it as ${word}:Name`);
      }
      // A suggestion as long as the word itself ("ex" → BY) replaces it rather than corrects it.
      const near = nearest(word.toUpperCase(), SPARQL_KEYWORDS);
      const meant = near !== undefined && distance(word.toUpperCase(), near) < word.length ? near : undefined;
      const first = !sparqlTokens(text.slice(0, offset)).some((t) => !/^(PREFIX|BASE)$/i.test(t.text) && t.kind !== 'iri' && !t.text.endsWith(':'));
      return at(offset, `unknown word "${word}"${meant ? `; did you mean ${meant}?` : ''}`, first ? 'a query is SELECT or ASK (after any PREFIX and BASE lines)' : 'check the spelling of the keyword; the prefixes rdf rdfs owl xsd agw are predeclared');
    }
    const quote = ch === '"' || ch === "'";
    return at(offset, `unexpected character ${JSON.stringify(ch)}${quote ? ': a string that does not end on its line' : ''}`, quote ? 'close the string on the same line, or use """...""" for one that spans lines' : SYNTAX_HINT);
  }
  const lines = raw.split('\n');
  if (!lines[0]!.startsWith('Parse error')) return at(undefined, lines[0]!);
  const onLine = /^Parse error on line (\d+)/.exec(lines[0]!);
  const caret = lines.findIndex((l) => /^-*\^$/.test(l));
  const detail = lines.slice(caret >= 0 ? caret + 1 : 1).join('\n');
  const { found, expected } = readExpectation(detail);
  const expecting = expected.length > 0 ? `expected ${listOr(expected)}` : '';
  if (found === '' || !onLine) {
    // The end of the query: after its last token.
    const tokens = sparqlTokens(text);
    const last = tokens[tokens.length - 1];
    const end = last ? last.offset + last.text.length : text.length;
    return at(end, `${expecting || 'the query is incomplete'}${expecting ? ', but the query ends here' : ''}`);
  }
  const line = Number(onLine[1]) - PROLOGUE_LINES;
  const column = caret >= 0 ? lines[caret]!.length : 1;
  const what = found !== undefined ? `unexpected '${found}'${expecting ? `; ${expecting}` : ''}` : detail.split('\n')[0]!;
  return at(line >= 1 ? offsetOf(text, line, column) : undefined, what);
}

/** What Chevrotain's messages say was found and what it would have taken. */
function readExpectation(detail: string): { found?: string; expected: string[] } {
  const mismatched = /Expecting (?:token of type )?--> ([\s\S]*?) <-- but found --> '([\s\S]*)' <--/.exec(detail);
  if (mismatched) return { found: mismatched[2]!, expected: [tokenName(mismatched[1]!)] };
  const redundant = /Redundant input, expecting EOF but found: ([\s\S]*)$/.exec(detail);
  if (redundant) return { found: redundant[1]!.trim(), expected: ['the end of the query'] };
  const alternatives = /^Expecting:([\s\S]*)\nbut found: '([\s\S]*)'$/.exec(detail);
  if (alternatives) {
    // "1. [SELECT, ?x]" or "<[IriRef] ,[Var1]>": the first token of each sequence.
    const firsts = [...alternatives[1]!.matchAll(/\[([^\],]+)[\],]/g)].map((m) => tokenName(m[1]!.trim()));
    return { found: alternatives[2]!, expected: [...new Set(firsts)] };
  }
  return { expected: [] };
}

const TOKEN_NAMES: Record<string, string> = {
  Var1: 'a variable',
  Var2: 'a variable',
  IriRef: 'an IRI',
  PNameLn: 'a prefixed name',
  PNameNs: 'a prefixed name',
  BlankNodeLabel: 'a blank node',
  Anon: 'a blank node',
  String1: 'a string',
  String2: 'a string',
  StringLiteral1: 'a string',
  StringLiteral2: 'a string',
  StringLiteralLong1: 'a string',
  StringLiteralLong2: 'a string',
  Integer: 'a number',
  Decimal: 'a number',
  Double: 'a number',
  // A signed number is a token of its own: "+1", "-1.5", "-1e3".
  IntegerPositive: 'a number',
  DecimalPositive: 'a number',
  DoublePositive: 'a number',
  IntegerNegative: 'a number',
  DecimalNegative: 'a number',
  DoubleNegative: 'a number',
  LangTag: 'a language tag',
  Nil: "'()'",
};

/** A token as the parser names it ("Var1", "type declaration 'a'", "}") in the user's words. */
function tokenName(name: string): string {
  if (TOKEN_NAMES[name]) return TOKEN_NAMES[name];
  const quoted = /'([^']+)'$/.exec(name)?.[1];
  if (quoted) return `'${quoted}'`;
  return /^[A-Z][a-z]+[A-Z0-9]/.test(name) ? name : `'${name}'`;
}

function listOr(items: readonly string[]): string {
  const shown = items.length > 8 ? [...items.slice(0, 8), '…'] : items;
  return shown.length <= 1 ? (shown[0] ?? '') : `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
}

/**
 * The errors an expression raises while the query runs, by what the engine says: the functions
 * they come from (the first call of one is where the problem is located) and what to do. The
 * engine stops the whole query at such an error, where SPARQL drops the row (FILTER) or leaves
 * the variable unbound (BIND): see the README.
 */
const RUNTIME_ERRORS: readonly { says: RegExp; functions: RegExp; hint: string }[] = [
  { says: /relative IRI/i, functions: /^(IRI|URI)$/i, hint: 'IRI() and URI() need an absolute IRI (the query has no BASE), e.g. IRI(CONCAT("https://example.org/", ?name))' },
  { says: /flag/i, functions: /^(REGEX|REPLACE)$/i, hint: 'REGEX and REPLACE take the flags i, m, s, x and q, each at most once, e.g. REGEX(?path, "^/api", "i")' },
  { says: /regular expression|regexp|regex/i, functions: /^(REGEX|REPLACE)$/i, hint: 'fix the REGEX or REPLACE pattern: it is read as a JavaScript regular expression; a pattern from the model that may be invalid cannot be filtered on here' },
];

/** Where an expression that failed while the query ran is, and what to do about it. */
function runtimeProblem(message: string, text: string): { place: { line?: number; column?: number }; hint: string } {
  const known = RUNTIME_ERRORS.find((e) => e.says.test(message));
  if (known === undefined) return { place: {}, hint: 'fix the expression it names' };
  const tokens = sparqlTokens(text);
  const call = tokens.find((t, i) => t.kind === 'name' && known.functions.test(t.text) && tokens[i + 1]?.text === '(');
  return { place: call ? positionAt(text, call.offset) : {}, hint: known.hint };
}

/** What a text is by its first keyword after the prologue, when that is an update, CONSTRUCT or DESCRIBE. */
function otherForm(text: string): string | undefined {
  const offset = formOffset(text);
  const word = offset === undefined ? undefined : /^[A-Za-z]+/.exec(text.slice(offset))?.[0]?.toUpperCase();
  if (word === 'CONSTRUCT' || word === 'DESCRIBE') return `a ${word} query`;
  // Worded as the parsed update is (UPDATES): INSERT, DELETE and WITH start the same operation.
  if (word === 'INSERT' || word === 'DELETE' || word === 'WITH') return `an update (${UPDATES.deleteinsert})`;
  return word !== undefined && /^(LOAD|CLEAR|CREATE|DROP|ADD|MOVE|COPY)$/.test(word) ? `an update (${word})` : undefined;
}

