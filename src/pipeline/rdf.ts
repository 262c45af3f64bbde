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

/**
 * `https://x.org/m#OrdersRoute` → `orders-route`: the default name of a node without one. The
 * local name is read as the text it spells: `%20` is a blank (`Get%20Users` → `get-users`) and
 * an accent is dropped from its letter (`ÄpfelRoute` → `apfel-route`), so no letter silently
 * goes missing. A letter with no ASCII form (`ß`, `注`) is kept, so the name is no DNS label and
 * validation asks for an explicit one instead of inventing a shorter name.
 */
export function kebabLocalName(iri: string): string {
  const local = iri.replace(/^.*[#/:]/, '');
  return percentDecoded(local)
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '')
    .toLowerCase();
}

/** `%XX` escapes as the UTF-8 text they encode; a stray `%` is kept (it becomes a separator). */
function percentDecoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
