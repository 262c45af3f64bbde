import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import rdfDataModel from '@rdfjs/data-model';
import { DataFactory, Parser, Store, type Literal, type Quad, type Term } from 'n3';
import { Validator } from 'shacl-engine';
import { problem, type Problem } from '../errors.js';
import { ONTOLOGY_DIR, shorten } from '../paths.js';
import type { LoadedModel } from './load.js';

const SHAPES_FILE = join(ONTOLOGY_DIR, 'shapes.ttl');

let validator: Validator | undefined;

/** The shapes are the same for every run of a process: compile them once. */
function shapesValidator(): Validator {
  if (!validator) {
    const shapes = new Store(new Parser({ format: 'text/turtle' }).parse(readFileSync(SHAPES_FILE, 'utf8')));
    validator = new Validator(shapes, { factory: rdfDataModel });
  }
  return validator;
}

interface ShaclResult {
  focusNode: { term: Term };
  path?: Array<{ predicates?: Term[] }>;
  value?: { term?: Term };
  message: Term[];
  severity: Term;
  constraintComponent: Term;
}

/** SHACL Core validation; each result becomes a problem located at its focus node. */
export async function validateShapes(model: LoadedModel): Promise<Problem[]> {
  const { dataset, original } = withoutAstralCharacters(model);
  const report = await shapesValidator().validate({ dataset });
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const result of report.results as ShaclResult[]) {
    const focus = result.focusNode.term;
    const predicate = result.path?.[0]?.predicates?.[0];
    const property = predicate ? shorten(predicate.value) : undefined;
    const value = result.value?.term && original(result.value.term);
    const rule = shorten(result.constraintComponent.value).replace('http://www.w3.org/ns/shacl#', 'sh:');
    const text = result.message[0]?.value ?? `violates ${rule}`;
    // Too many values: which ones, since the second is often in another file than the first.
    const found = rule === 'sh:MaxCountConstraintComponent' && predicate ? model.store.getObjects(focus, predicate, null).map(describeValue) : [];
    const message = value && !value.equals(focus) ? `${text} (found ${describeValue(value)})` : found.length > 1 ? `${text} (found ${found.length}: ${found.join(', ')})` : text;
    const key = `${focus.value}|${property}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    // "Gold plan"@en is a plain literal in RDF 1.0's words, but not an xsd:string.
    const tagged = value?.termType === 'Literal' && (value as Literal).language !== '' && rule === 'sh:DatatypeConstraintComponent';
    problems.push(
      problem('shacl', message, {
        rule: rule.startsWith('http') ? rule.replace(/^.*#/, 'sh:') : rule,
        location: { ...((predicate ? model.locator.locateProperty(focus, predicate.value) : undefined) ?? model.locator.locate(focus)), ...(property ? { property } : {}) },
        ...(tagged ? { hint: `drop the language tag: ${JSON.stringify(value.value)}, not ${describeValue(value)}` } : {}),
      }),
    );
  }
  return problems;
}

/** Characters outside the Basic Multilingual Plane (emoji, rare CJK, math letters …). */
const ASTRAL = /[\u{10000}-\u{10FFFF}]/u;
const ASTRAL_ALL = /[\u{10000}-\u{10FFFF}]/gu;

/**
 * The dataset SHACL validates. shacl-engine checks sh:datatype xsd:string with rdf-validation's
 * pattern `[^\ud8ff-\udfff…]`, written without the `u` flag, so it rejects every surrogate pair:
 * a plain string with an emoji ("Gold plan ✨🚀") would fail sh:datatype although it is a valid
 * xsd:string. SHACL therefore sees each such character as U+FFFD: a literal keeps its length in
 * characters (sh:minLength counts characters), and every sh:pattern of the shapes classifies
 * U+FFFD as it does the character it stands for (non-ASCII, not a space). `original` maps a
 * replaced literal back, so messages quote what the model says. Models without such characters
 * (the source text has no surrogate and no \U escape) are validated as they are.
 */
function withoutAstralCharacters(model: LoadedModel): { dataset: Store; original: (t: Term) => Term } {
  const same = { dataset: model.store, original: (t: Term) => t };
  if (!model.sources.some((s) => /[\uD800-\uDFFF]|\\U/.test(s.text))) return same;
  // Results carry equal, not identical, terms: replaced literals are looked up by value.
  const originals = new Map<string, Term>();
  const replaced: Quad[] = [];
  const kept: Quad[] = [];
  for (const quad of model.store.getQuads(null, null, null, null)) {
    const o = quad.object;
    if (o.termType === 'Literal' && ASTRAL.test(o.value)) {
      const lit = o as Literal;
      const bmp = DataFactory.literal(o.value.replace(ASTRAL_ALL, '\uFFFD'), lit.language || lit.datatype);
      originals.set(termKey(bmp), o);
      replaced.push(DataFactory.quad(quad.subject, quad.predicate, bmp, quad.graph));
    } else kept.push(quad);
  }
  if (replaced.length === 0) return same;
  const dataset = new Store(kept);
  dataset.addQuads(replaced);
  return { dataset, original: (t) => originals.get(termKey(t)) ?? t };
}

function termKey(t: Term): string {
  const lit = t as Term & { datatype?: Term; language?: string };
  return `${t.termType}|${t.value}|${lit.language ?? ''}|${lit.datatype?.value ?? ''}`;
}

/** Literals Turtle writes without quotes and datatype, by the lexical forms of its grammar. */
const TURTLE_SHORTHAND = new Map<string, RegExp>([
  ['http://www.w3.org/2001/XMLSchema#integer', /^[+-]?\d+$/],
  ['http://www.w3.org/2001/XMLSchema#decimal', /^[+-]?\d*\.\d+$/],
  ['http://www.w3.org/2001/XMLSchema#double', /^[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+$/],
  ['http://www.w3.org/2001/XMLSchema#boolean', /^(?:true|false)$/],
]);

function describeValue(term: Term): string {
  if (term.termType === 'Literal') {
    const lit = term as Term & { datatype?: Term; language?: string };
    if (lit.language) return `${JSON.stringify(term.value)}@${lit.language}`;
    // As the model would write it: 70000, not "70000"^^xsd:integer (which reads like a quoting mistake).
    const shorthand = lit.datatype ? TURTLE_SHORTHAND.get(lit.datatype.value) : undefined;
    if (shorthand?.test(term.value)) return term.value;
    const dt = lit.datatype && !lit.datatype.value.endsWith('#string') ? `^^${shorten(lit.datatype.value)}` : '';
    return `${JSON.stringify(term.value)}${dt}`;
  }
  if (term.termType === 'NamedNode') return `<${term.value}>`;
  return '[]';
}
