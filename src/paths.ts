import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root holds ontology/, queries/ and templates/. dist/paths.js and src/paths.ts
 * both sit one level below it, so the same relative step works compiled or not.
 */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ONTOLOGY_DIR = join(PACKAGE_ROOT, 'ontology');
export const QUERIES_DIR = join(PACKAGE_ROOT, 'queries');
export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates');

export const AGW = 'https://ggen.ai/ontology/api-gateway#';
export const RDF = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#';
export const RDFS = 'http://www.w3.org/2000/01/rdf-schema#';
export const OWL = 'http://www.w3.org/2002/07/owl#';
export const XSD = 'http://www.w3.org/2001/XMLSchema#';

/** Prefixes predeclared for every query (interfaces.md), also used to shorten IRIs in messages. */
export const PREFIXES: Readonly<Record<string, string>> = { rdf: RDF, rdfs: RDFS, owl: OWL, xsd: XSD, agw: AGW };

/** `agw:routePath` for a known namespace, the full IRI otherwise. */
export function shorten(iri: string): string {
  return shortenWith(PREFIXES, iri);
}

/** `prefix:name` for a namespace of `prefixes` (the first that fits), the full IRI otherwise. */
export function shortenWith(prefixes: Readonly<Record<string, string>>, iri: string): string {
  for (const [prefix, ns] of Object.entries(prefixes)) {
    if (ns !== '' && iri.startsWith(ns) && /^[A-Za-z_][\w-]*$/.test(iri.slice(ns.length))) return `${prefix}:${iri.slice(ns.length)}`;
  }
  return iri;
}
