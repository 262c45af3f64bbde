import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Term } from 'n3';
import { GwgenError, problem } from '../errors.js';
import { compareStrings } from '../order.js';
import { AGW, QUERIES_DIR, RDF } from '../paths.js';
import type { QueryOutcome } from '../sparql/engine.js';
import type { QueryResults, WorkerQuery } from '../sparql/worker-client.js';

/** The extraction queries, one per concept; the key names the file in queries/. */
export const EXTRACTION_QUERIES = [
  'gateway',
  'routes',
  'services',
  'service-instances',
  'rate-limiters',
  'circuit-breakers',
  'retry-policies',
  'health-checks',
  'traffic-splits',
  'traffic-mirrors',
  'jwt-authentications',
  'api-keys',
  'consumers',
  'quota-tiers',
  'cors-policies',
  'ip-restrictions',
  'mutual-tls',
  'certificates',
  'service-meshes',
  'distributed-tracing',
] as const;

export type Concept = (typeof EXTRACTION_QUERIES)[number];

/** The properties of one node as the queries returned them: IRI local name → values. */
export type PropertyBag = ReadonlyMap<string, readonly Term[]>;

/** Per concept, node id → its properties: nodes in the queries' ORDER BY order, values sorted (compareTerms). */
export type Extraction = Readonly<Record<Concept, ReadonlyMap<string, PropertyBag>>>;

/** The extraction queries, read from queries/. */
export async function extractionQueries(): Promise<WorkerQuery[]> {
  return Promise.all(
    EXTRACTION_QUERIES.map(async (concept) => {
      const file = join(QUERIES_DIR, `${concept}.rq`);
      return { id: concept, text: await readFile(file, 'utf8'), origin: file };
    }),
  );
}

/**
 * Groups the flat (node, property, value) rows of every extraction query per node: the shape
 * Comunica evaluates in linear time goes in, the shape build-model.ts reads comes out.
 */
export function groupExtraction(results: QueryResults): Extraction {
  const out = {} as Record<Concept, Map<string, Map<string, Term[]>>>;
  for (const concept of EXTRACTION_QUERIES) {
    const r = results.get(concept);
    if (!r?.outcome) throw new GwgenError(r?.problems ?? [problem('internal', `extraction query ${concept}.rq returned nothing`)]);
    out[concept] = groupRows(r.outcome);
  }
  return out;
}

const TERM_RANK: Readonly<Record<string, number>> = { BlankNode: 0, NamedNode: 1, Literal: 2 };
const NUMBER = /^[+-]?\d+(?:\.\d+)?$/;

/**
 * Close to the order SPARQL's ORDER BY gives one variable: blank nodes, IRIs, then literals;
 * numbers by value, everything else by code point. Values are sorted here, per node and property, rather
 * than by a three-key ORDER BY in Comunica, which costs ~0.3 s at 1,000 routes.
 */
export function compareTerms(a: Term, b: Term): number {
  const rank = (TERM_RANK[a.termType] ?? 3) - (TERM_RANK[b.termType] ?? 3);
  if (rank !== 0) return rank;
  if (a.termType === 'Literal' && NUMBER.test(a.value) && NUMBER.test(b.value)) {
    const diff = Number(a.value) - Number(b.value);
    if (diff !== 0) return diff;
  }
  return compareStrings(a.value, b.value);
}

const RDF_TYPE = `${RDF}type`;

/**
 * The local name a property is read by: agw: properties and rdf:type ('type'). The queries
 * select every property of a node, so anything else (rdfs:label, another vocabulary's
 * `ex:routePath`) is dropped here rather than mistaken for the agw: property of that name.
 */
function localName(property: string): string | undefined {
  if (property.startsWith(AGW)) return property.slice(AGW.length);
  return property === RDF_TYPE ? 'type' : undefined;
}

/** (node, property, value) rows → node → property local name → sorted values. */
function groupRows(outcome: QueryOutcome): Map<string, Map<string, Term[]>> {
  const nodes = new Map<string, Map<string, Term[]>>();
  if (outcome.kind !== 'bindings') return nodes;
  const [nodeVar, propertyVar, valueVar] = outcome.variables;
  for (const row of outcome.rows) {
    const node = row[nodeVar ?? ''];
    const property = row[propertyVar ?? ''];
    const value = row[valueVar ?? ''];
    const local = property && localName(property.value);
    if (!node || !local || !value) continue;
    let bag = nodes.get(node.value);
    if (!bag) nodes.set(node.value, (bag = new Map()));
    const values = bag.get(local);
    if (values) values.push(value);
    else bag.set(local, [value]);
  }
  for (const bag of nodes.values()) for (const values of bag.values()) if (values.length > 1) values.sort(compareTerms);
  return nodes;
}
