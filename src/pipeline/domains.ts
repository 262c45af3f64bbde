import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store, Term } from 'n3';
import { AGW, ONTOLOGY_DIR } from '../paths.js';
import { RDF_TYPE } from './rdf.js';

/**
 * Per agw: property, the agw: classes of its rdfs:domain (one class, or an owl:unionOf of
 * several); a property on any node (`rdfs:domain owl:Thing`) or without a domain is absent.
 * Read from the ontology's text, statement by statement, as definedTerms() reads its terms:
 * test/units.test.ts checks that this is what a Turtle parse gives.
 */
let domains: ReadonlyMap<string, readonly string[]> | undefined;

export function propertyDomains(): ReadonlyMap<string, readonly string[]> {
  if (domains) return domains;
  const map = new Map<string, readonly string[]>();
  const text = readFileSync(join(ONTOLOGY_DIR, 'api-gateway.ttl'), 'utf8');
  for (const [, local, body] of text.matchAll(/^agw:([A-Za-z][\w-]*)\n([\s\S]*?)\s\.\n/gm)) {
    const domain = /rdfs:domain\s+(agw:[A-Za-z]\w*|\[\s*a owl:Class\s*;\s*owl:unionOf\s*\(([^)]*)\)\s*\])/.exec(body!);
    if (!domain) continue;
    const classes = (domain[2] ?? domain[1]!).trim().split(/\s+/).map((c) => c.replace(/^agw:/, ''));
    map.set(local!, classes);
  }
  domains = map;
  return map;
}

type Report = (node: Term, property: string | undefined, rule: string, message: string, hint: string) => void;

/**
 * An agw: property on a node of another class than its domain's (agw:timeoutSeconds on a
 * BackendService, agw:mtlsMode on a Route) is read by no query: the setting it was meant to
 * make would silently not exist, as with a misspelt term. A node without an agw: class is left
 * to the class checks; a node of several classes may carry the properties of each.
 */
export function checkPropertyDomains(store: Store, report: Report): void {
  const domainOf = propertyDomains();
  const classesOf = new Map<string, string[]>();
  const agwClasses = (node: Term) => {
    let classes = classesOf.get(node.id);
    if (!classes) {
      classes = store.getObjects(node, RDF_TYPE, null).flatMap((c) => (c.termType === 'NamedNode' && c.value.startsWith(AGW) ? [c.value.slice(AGW.length)] : []));
      classesOf.set(node.id, classes);
    }
    return classes;
  };
  for (const predicate of store.getPredicates(null, null, null)) {
    if (!predicate.value.startsWith(AGW)) continue;
    const local = predicate.value.slice(AGW.length);
    const domain = domainOf.get(local);
    if (!domain) continue;
    for (const subject of store.getSubjects(predicate, null, null)) {
      const classes = agwClasses(subject);
      if (classes.length === 0 || classes.some((c) => domain.includes(c))) continue;
      const on = domain.map((c) => `agw:${c}`).join(' or ');
      report(
        subject,
        local,
        'property-domain',
        `agw:${local} is not a property of ${classes.map((c) => `agw:${c}`).join(' or ')}, so gwgen would ignore it here: it belongs on ${on}`,
        `move it to the ${on} node it is meant for, or remove it (vocabulary: ontology/api-gateway.ttl)`,
      );
    }
  }
}
