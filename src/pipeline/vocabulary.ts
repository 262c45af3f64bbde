import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store, Term } from 'n3';
import { problem, type Problem } from '../errors.js';
import { nearest } from '../nearest.js';
import { AGW, ONTOLOGY_DIR } from '../paths.js';
import { RDF_TYPE } from './rdf.js';
import type { LoadedModel } from './load.js';
import type { Report } from './semantic.js';

/**
 * The checks that every agw: term of a model is one the vocabulary defines, used where it
 * defines it. The ontology is read as text, statement by statement, rather than parsed, which
 * would cost a cold Turtle parse on every run; test/units.test.ts checks that what is read here
 * is what a parse gives.
 */
let text: string | undefined;
const ontologyText = () => (text ??= readFileSync(join(ONTOLOGY_DIR, 'api-gateway.ttl'), 'utf8'));

let vocabulary: ReadonlySet<string> | undefined;

/**
 * The local names the ontology defines in the agw: namespace (classes and properties): the
 * subjects its statements start with, one per line (`agw:Route a owl:Class ;`).
 */
export function definedTerms(): ReadonlySet<string> {
  vocabulary ??= new Set([...ontologyText().matchAll(/^agw:([A-Za-z][\w-]*)/gm)].map((m) => m[1]!));
  return vocabulary;
}

/**
 * Per agw: property, the agw: classes of its rdfs:domain (one class, or an owl:unionOf of
 * several); a property on any node (`rdfs:domain owl:Thing`) or without a domain is absent.
 */
let domains: ReadonlyMap<string, readonly string[]> | undefined;

export function propertyDomains(): ReadonlyMap<string, readonly string[]> {
  if (domains) return domains;
  const map = new Map<string, readonly string[]>();
  for (const [, local, body] of ontologyText().matchAll(/^agw:([A-Za-z][\w-]*)\n([\s\S]*?)\s\.\n/gm)) {
    const domain = /rdfs:domain\s+(agw:[A-Za-z]\w*|\[\s*a owl:Class\s*;\s*owl:unionOf\s*\(([^)]*)\)\s*\])/.exec(body!);
    if (!domain) continue;
    const classes = (domain[2] ?? domain[1]!).trim().split(/\s+/).map((c) => c.replace(/^agw:/, ''));
    map.set(local!, classes);
  }
  domains = map;
  return map;
}

/**
 * An agw: term the vocabulary does not define is a typo as a rule (agw:hasRateLimitter): every
 * query ignores it, so the policy it was meant to attach would silently not exist.
 */
export function checkVocabularyTerms(store: Store, report: Report): void {
  const defined = definedTerms();
  const unknown = (term: Term) => term.termType === 'NamedNode' && term.value.startsWith(AGW) && !defined.has(term.value.slice(AGW.length));
  const suggestion = (local: string, isClass: boolean) => {
    const best = nearest(local, [...defined].filter((d) => /^[A-Z]/.test(d) === isClass));
    return best !== undefined ? `did you mean agw:${best}? ` : '';
  };
  for (const predicate of store.getPredicates(null, null, null)) {
    if (!unknown(predicate)) continue;
    const local = predicate.value.slice(AGW.length);
    const hint = `${suggestion(local, false)}the agw: properties are listed in ontology/api-gateway.ttl`;
    for (const subject of store.getSubjects(predicate, null, null)) report(subject, local, 'unknown-term', `agw:${local} is not a property of the agw: vocabulary, so gwgen would ignore it`, hint);
  }
  for (const cls of store.getObjects(null, RDF_TYPE, null)) {
    if (!unknown(cls)) continue;
    const local = cls.value.slice(AGW.length);
    const hint = `${suggestion(local, true)}the agw: classes are listed in ontology/api-gateway.ttl`;
    for (const subject of store.getSubjects(RDF_TYPE, cls, null)) report(subject, undefined, 'unknown-term', `agw:${local} is not a class of the agw: vocabulary, so gwgen would ignore this node`, hint);
  }
}

/**
 * An agw: property on a node of another class than its domain's (agw:timeoutSeconds on a
 * BackendService, agw:mtlsMode on a Route) is read by no query: the setting it was meant to
 * make would silently not exist, as with a misspelt term. A node of several classes may carry
 * the properties of each. A node without an agw: class is read by no query either: one that
 * another node points to is the reference checks' to report (they name the class it needs);
 * one that nothing points to is, as a rule, a node split across files whose IRI is misspelt in
 * one of them (`ex:R1 agw:hasAuthentication ex:key` for ex:r1), which would leave the route
 * public: it is reported here, with the typed node it most likely meant.
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
  const untyped = new Map<string, { node: Term; local: string; domain: readonly string[] }>();
  for (const predicate of store.getPredicates(null, null, null)) {
    if (!predicate.value.startsWith(AGW)) continue;
    const local = predicate.value.slice(AGW.length);
    const domain = domainOf.get(local);
    if (!domain) continue;
    for (const subject of store.getSubjects(predicate, null, null)) {
      const classes = agwClasses(subject);
      if (classes.length === 0 && !untyped.has(subject.id)) untyped.set(subject.id, { node: subject, local, domain });
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
  for (const { node, local, domain } of untyped.values()) {
    if (store.getQuads(null, null, node, null).some((q) => q.predicate.value.startsWith(AGW))) continue;
    const on = domain.map((c) => `agw:${c}`).join(' or ');
    const meant = node.termType === 'NamedNode' ? nearest(node.value, domain.flatMap((c) => store.getSubjects(RDF_TYPE, AGW + c, null)).filter((n) => n.termType === 'NamedNode').map((n) => n.value)) : undefined;
    const name = node.termType === 'NamedNode' ? `<${node.value}>` : 'this node';
    report(
      node,
      local,
      'untyped-node',
      `${name} has agw:${local} but no agw: class, and nothing points to it, so gwgen would ignore it`,
      meant !== undefined ? `did you mean <${meant}>? Otherwise state its class (\`a ${on}\`) and attach it` : `state its class (\`a ${on}\`) and attach it to the node it belongs to`,
    );
  }
}

/** What every spelling of the agw: namespace shares: its host and path, in any case. */
const AGW_STEM = /ggen\.ai\/ontology\/api-gateway/i;

/**
 * A term in a namespace that is nearly agw:'s (`http://` for `https://`, `/` for `#`, no `#`,
 * another case) is in no namespace gwgen reads: every query ignores it, so the route it was
 * meant to protect or limit would silently be public or unlimited, and validation, which
 * checks agw: terms only, would pass. Each such namespace is one problem, at the place it is
 * first written (the @prefix line, as a rule), which is what to fix.
 */
export function checkNamespaces(model: LoadedModel): Problem[] {
  const { store, locator } = model;
  const terms = new Map<string, { locals: Set<string>; first: Term }>();
  const consider = (iri: Term, subject: Term) => {
    const stem = AGW_STEM.exec(iri.value)!;
    const rest = iri.value.slice(stem.index + stem[0].length);
    const namespace = iri.value.slice(0, stem.index + stem[0].length + Math.max(rest.lastIndexOf('#'), rest.lastIndexOf('/')) + 1);
    const entry = terms.get(namespace) ?? { locals: new Set<string>(), first: subject };
    entry.locals.add(iri.value.slice(namespace.length));
    terms.set(namespace, entry);
  };
  // Distinct predicates and classes only: a pass over every quad costs ~10× as much at 1,000 routes.
  const firstSubject = (predicate: Term, object: Term | null) => store.getSubjects(predicate, object, null)[0]!;
  const nearMiss = (iri: Term) => iri.termType === 'NamedNode' && !iri.value.startsWith(AGW) && AGW_STEM.test(iri.value);
  for (const predicate of store.getPredicates(null, null, null)) if (nearMiss(predicate)) consider(predicate, firstSubject(predicate, null));
  for (const type of store.getObjects(null, RDF_TYPE, null)) if (nearMiss(type)) consider(type, firstSubject(RDF_TYPE, type));
  return [...terms].map(([namespace, { locals, first }]) => {
    const names = [...locals].sort();
    const listed = names.length > 5 ? `${names.slice(0, 5).join(', ')} …` : names.join(', ');
    return problem('semantic', `<${namespace}> is not the agw: namespace <${AGW}>, so gwgen would ignore the ${names.length === 1 ? 'term' : `${names.length} terms`} written in it (${listed})`, {
      rule: 'namespace',
      hint: `declare the vocabulary's namespace exactly: @prefix agw: <${AGW}> .`,
      location: locator.locateIri(namespace) ?? locator.locate(first),
    });
  });
}
