import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser, Store } from 'n3';
import { GwgenError, problem, type Problem } from './errors.js';
import { parseSources, readSources } from './pipeline/load.js';
import { ONTOLOGY_DIR } from './paths.js';
import { runQuery, type QueryOutcome } from './sparql/engine.js';
import type { ModelInput } from './validate.js';

export interface QueryInput extends ModelInput {
  /** SPARQL SELECT or ASK text. */
  readonly query: string;
  /** Where the query came from, for messages: a file name or "-e". */
  readonly queryOrigin?: string;
}

export type QueryResult = { readonly ok: true; readonly outcome: QueryOutcome } | { readonly ok: false; readonly problems: readonly Problem[] };

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
  const { sources, problems } = await readSources(input.models, input.cwd);
  if (problems.length > 0) return { ok: false, problems };
  const loaded = parseSources(sources, { locate: false });
  if (!loaded.ok) return { ok: false, problems: loaded.problems };
  const store = new Store(loaded.model.store.getQuads(null, null, null, null));
  store.addQuads(await ontologyQuads());
  try {
    return { ok: true, outcome: await runQuery(store, input.query, input.queryOrigin ?? '-e') };
  } catch (err) {
    if (err instanceof GwgenError) return { ok: false, problems: err.problems };
    return { ok: false, problems: [problem('query', `the query failed: ${(err as Error).message}`, { location: { file: input.queryOrigin ?? '-e' }, hint: 'check the query against SPARQL 1.1 (SELECT or ASK); the prefixes rdf rdfs owl xsd agw are predeclared' })] };
  }
}
