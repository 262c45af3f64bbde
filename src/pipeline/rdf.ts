import { DataFactory, type Store, type Term } from 'n3';
import { AGW, RDF } from '../paths.js';

const { namedNode } = DataFactory;

export const agw = (local: string) => namedNode(AGW + local);
export const RDF_TYPE = namedNode(`${RDF}type`);

/** Small read helpers over an n3 Store, for checks that SPARQL would make slower, not clearer. */
export function objects(store: Store, subject: Term, property: string): Term[] {
  return store.getObjects(subject, agw(property), null);
}

export function subjectsOfType(store: Store, cls: string): Term[] {
  return store.getSubjects(RDF_TYPE, agw(cls), null);
}

export function hasType(store: Store, node: Term, cls: string): boolean {
  return store.countQuads(node, RDF_TYPE, agw(cls), null) > 0;
}

export function literalValues(store: Store, subject: Term, property: string): string[] {
  return objects(store, subject, property)
    .filter((t) => t.termType === 'Literal')
    .map((t) => t.value);
}

/** `https://x.org/m#OrdersRoute` → `orders-route`: the default name of a node without one. */
export function kebabLocalName(iri: string): string {
  const local = iri.replace(/^.*[#/:]/, '');
  return local
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase();
}
