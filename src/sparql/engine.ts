import type { Store, Term } from 'n3';
import { GwgenError, problem } from '../errors.js';
import { PREFIXES } from '../paths.js';

type QueryEngine = import('@comunica/query-sparql-rdfjs').QueryEngine;

let engine: Promise<QueryEngine> | undefined;

/**
 * Comunica is imported on first use and kept for the process. The -rdfjs flavour runs over an
 * in-memory store and loads on Node 20 (no undici 8). The build bundles it into one file
 * (src/sparql/comunica-bundle.ts), which loads in ~0.4 s instead of ~0.7 s.
 */
export function sparqlEngine(): Promise<QueryEngine> {
  const bundle = new URL('../vendor/comunica.cjs', import.meta.url).href;
  engine ??= (import(bundle) as Promise<{ default: typeof import('@comunica/query-sparql-rdfjs') }>).then(({ default: { QueryEngine } }) => new QueryEngine());
  return engine;
}

/** The prologue every query gets, so `agw:` and friends work without declarations. */
export const PROLOGUE = Object.entries(PREFIXES)
  .map(([prefix, iri]) => `PREFIX ${prefix}: <${iri}>`)
  .join('\n');

export type Row = Record<string, Term>;

export type QueryOutcome =
  | { readonly kind: 'bindings'; readonly variables: readonly string[]; readonly rows: readonly Row[] }
  | { readonly kind: 'boolean'; readonly value: boolean };

/**
 * Runs a SELECT or ASK query. A query that does not parse or is of another form is a problem
 * value naming `origin` (the file or "-e"), never a stack trace.
 */
export async function runQuery(store: Store, text: string, origin: string, options: { now?: Date } = {}): Promise<QueryOutcome> {
  const qe = await sparqlEngine();
  const full = `${PROLOGUE}\n${text}`;
  let result;
  try {
    // queryTimestamp is what NOW() returns: injectable so audits of expiry dates are testable.
    result = await qe.query(full, { sources: [store], ...(options.now ? { queryTimestamp: options.now } : {}) });
  } catch (err) {
    throw new GwgenError(
      problem('query', `the SPARQL query does not parse: ${String((err as Error).message ?? err).split('\n')[0]}`, {
        location: { file: origin },
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
      for (const [variable, term] of bindings) row[variable.value] = term as Term;
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
