import { fileURLToPath } from 'node:url';
import { DataFactory, type Store, type Term } from 'n3';
import { GwgenError, problem } from '../errors.js';
import { PREFIXES } from '../paths.js';
import { requireWithCodeCache } from './code-cache.js';

type QueryEngine = import('@comunica/query-sparql-rdfjs').QueryEngine;

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

export type Row = Record<string, Term>;

const SKOLEM_PREFIX = 'urn:comunica_skolem:source_0:';

/**
 * Comunica scopes each source's blank nodes (label "bc_0_b1", with the original kept as the
 * IRI urn:comunica_skolem:source_0:b1) so that two sources cannot clash. gwgen queries one
 * store, so the store's own label comes back: the one its locator and its triples know.
 */
function unscoped(term: Term): Term {
  const skolem = (term as { skolemized?: Term }).skolemized;
  return term.termType === 'BlankNode' && skolem?.value.startsWith(SKOLEM_PREFIX) ? DataFactory.blankNode(skolem.value.slice(SKOLEM_PREFIX.length)) : term;
}

export type QueryOutcome =
  | { readonly kind: 'bindings'; readonly variables: readonly string[]; readonly rows: readonly Row[] }
  | { readonly kind: 'boolean'; readonly value: boolean };

/**
 * Runs a SELECT or ASK query. A query that does not parse or is of another form is a problem
 * value naming `origin` (the file or "-e"), never a stack trace.
 */
export async function runQuery(store: Store, text: string, origin: string, options: { now?: Date } = {}): Promise<QueryOutcome> {
  // An empty text parses as an empty update, which would "succeed" with one empty row.
  if (text.replace(/^\s*#.*$/gm, '').trim() === '') {
    throw new GwgenError(problem('query', 'the query is empty', { location: { file: origin }, hint: "give a SELECT or ASK query, e.g. -e 'SELECT ?path WHERE { ?r agw:routePath ?path }'" }));
  }
  const qe = await sparqlEngine();
  const full = `${PROLOGUE}\n${text}`;
  let result;
  try {
    // queryTimestamp is what NOW() returns: injectable so audits of expiry dates are testable.
    result = await qe.query(full, { sources: [store], ...(options.now ? { queryTimestamp: options.now } : {}) });
  } catch (err) {
    // The parser counts the lines of the prologue too: the location is the line in the query's own text.
    const text = String((err as Error).message ?? err);
    // Comunica's word for "no part of the engine runs this", e.g. SERVICE: nothing to do with syntax.
    if (text.includes('No actors are able to reply')) {
      throw new GwgenError(problem('query', 'the query asks for something the engine does not run over a model, such as SERVICE (a remote endpoint)', { location: { file: origin }, hint: 'query the model only: SELECT or ASK without SERVICE' }));
    }
    const first = text.split('\n')[0]!;
    const at = /\bon line (\d+)/.exec(first);
    const line = at ? Number(at[1]) - PROLOGUE_LINES : undefined;
    // The parser lists every token it would have taken; what it found says enough.
    const found = /but found: (.*)$/.exec(text)?.[1];
    const what =
      first.replace(/ on line \d+:?/, '').replace(/\boffset: (\d+)/, (_m, n: string) => `offset: ${Number(n) - PROLOGUE.length - 1}`) +
      (found ? `: unexpected ${found}` : '');
    throw new GwgenError(
      problem('query', `the SPARQL query does not parse: ${what}`, {
        location: { file: origin, ...(line !== undefined && line >= 1 ? { line } : {}) },
        hint: 'check the query syntax; the prefixes rdf rdfs owl xsd agw are predeclared',
      }),
    );
  }
  if (result.resultType === 'bindings') {
    const stream = await result.execute();
    // Comunica 5 reports { variable, canBeUndef } objects where RDF/JS types say Variable.
    const declared = (await result.metadata()).variables as unknown as Array<{ variable?: { value: string }; value?: string }>;
    const variables = declared.map((v) => v.variable?.value ?? v.value ?? '');
    const rows: Row[] = [];
    for await (const bindings of stream) {
      const row: Row = {};
      for (const [variable, term] of bindings) row[variable.value] = unscoped(term as Term);
      rows.push(row);
    }
    return { kind: 'bindings', variables, rows };
  }
  if (result.resultType === 'boolean') return { kind: 'boolean', value: await result.execute() };
  throw new GwgenError(
    problem('query', 'only SELECT and ASK queries are supported', {
      location: { file: origin },
      hint: 'rewrite the query as SELECT (rows) or ASK (true/false)',
    }),
  );
}
