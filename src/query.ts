import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser, Store } from 'n3';
import { GwgenError, problem, type Problem } from './errors.js';
import { decodeUtf8, parseSources, readFailure, readSources } from './pipeline/load.js';
import { ONTOLOGY_DIR } from './paths.js';
import { runQuery, type QueryOutcome } from './sparql/engine.js';
import { normalizeQueryText, queryPrefixes, queryShape, sparqlTokens } from './sparql/scan.js';
import type { ModelInput } from './validate.js';

export interface QueryInput extends ModelInput {
  /** SPARQL SELECT or ASK text; or give queryFile. */
  readonly query?: string;
  /** A .rq file to read the query from, instead of `query`. */
  readonly queryFile?: string;
  /** Where the query came from, for messages: a file name or "-e". @default queryFile, else "-e" */
  readonly queryOrigin?: string;
}

export type QueryResult =
  | {
      readonly ok: true;
      readonly outcome: QueryOutcome;
      /** The prefixes in force for the query: the predeclared ones, as its PREFIX lines redefine and add to them (for showing IRIs short). */
      readonly prefixes: Readonly<Record<string, string>>;
    }
  | { readonly ok: false; readonly problems: readonly Problem[] };

let ontology: Store | undefined;

/** The vocabulary's triples, so queries can read labels, comments, domains and ranges. */
async function ontologyQuads() {
  ontology ??= new Store(new Parser({ format: 'text/turtle' }).parse(await readFile(join(ONTOLOGY_DIR, 'api-gateway.ttl'), 'utf8')));
  return ontology.getQuads(null, null, null, null);
}

/**
 * Runs any SPARQL SELECT/ASK over the model merged with the ontology. The model is parsed but
 * not validated: querying a broken model is a good way to find out what is wrong with it.
 */
export async function query(input: QueryInput): Promise<QueryResult> {
  if ((input.query === undefined) === (input.queryFile === undefined)) {
    return { ok: false, problems: [problem('usage', input.query === undefined ? 'no query given' : 'both a query file and a query text were given', { hint: "give one: a .rq file, or the query text (-e 'SELECT ...')" })] };
  }
  const origin = input.queryOrigin ?? input.queryFile ?? '-e';
  const read = input.queryFile !== undefined ? await readQueryFile(input.queryFile) : { text: input.query! };
  const { sources, problems } = await readSources(input.models, input.cwd);
  if ('problem' in read) return { ok: false, problems: [read.problem, ...problems] };
  if (problems.length > 0) return { ok: false, problems };
  const loaded = parseSources(sources, { locate: false });
  if (!loaded.ok) return { ok: false, problems: loaded.problems };
  const store = new Store(loaded.model.store.getQuads(null, null, null, null));
  store.addQuads(await ontologyQuads());
  try {
    return { ok: true, outcome: inWrittenOrder(await runQuery(store, read.text, origin), read.text), prefixes: queryPrefixes(sparqlTokens(normalizeQueryText(read.text))) };
  } catch (err) {
    if (err instanceof GwgenError) return { ok: false, problems: err.problems };
    return { ok: false, problems: [problem('query', `the query failed: ${(err as Error).message}`, { location: { file: origin }, hint: 'check the query against SPARQL 1.1 (SELECT or ASK); the prefixes rdf rdfs owl xsd agw are predeclared' })] };
  }
}

/**
 * `SELECT *` columns in the order the query first names them (`?route` before `?path`), as
 * Jena and RDF4J show them; Comunica sorts them by name. SPARQL leaves the order open.
 */
function inWrittenOrder(outcome: QueryOutcome, text: string): QueryOutcome {
  if (outcome.kind !== 'bindings' || queryShape(text).projection !== '*') return outcome;
  const written = [...new Set(sparqlTokens(normalizeQueryText(text)).flatMap((t) => (t.kind === 'var' ? [t.text.slice(1)] : [])))];
  const rank = (v: string) => (written.includes(v) ? written.indexOf(v) : written.length);
  return { ...outcome, variables: [...outcome.variables].sort((a, b) => rank(a) - rank(b)) };
}

/** A query file's text; a missing file or a directory is a usage problem (exit 2), one that is not UTF-8 an invalid query (exit 1). */
async function readQueryFile(path: string): Promise<{ text: string } | { problem: Problem }> {
  try {
    return decodeUtf8(path, await readFile(path), 'SPARQL query files');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') return { problem: problem('usage', `${path} is a directory, not a query file`, { location: { file: path }, hint: 'give a .rq file holding a SELECT or ASK query' }) };
    return {
      problem: problem('file-not-found', code === 'ENOENT' ? `query file not found: ${path}` : `cannot read query file ${path}: ${readFailure(err)}`, {
        location: { file: path },
        hint: "check the path, or give the query inline with -e 'SELECT ...'",
      }),
    };
  }
}
