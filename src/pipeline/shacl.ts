import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import rdfDataModel from '@rdfjs/data-model';
import { Parser, Store, type Term } from 'n3';
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
  const report = await shapesValidator().validate({ dataset: model.store });
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const result of report.results as ShaclResult[]) {
    const focus = result.focusNode.term;
    const predicate = result.path?.[0]?.predicates?.[0];
    const property = predicate ? shorten(predicate.value) : undefined;
    const value = result.value?.term;
    const rule = shorten(result.constraintComponent.value).replace('http://www.w3.org/ns/shacl#', 'sh:');
    const text = result.message[0]?.value ?? `violates ${rule}`;
    const message = value && !value.equals(focus) ? `${text} (found ${describeValue(value)})` : text;
    const key = `${focus.value}|${property}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(
      problem('shacl', message, {
        rule: rule.startsWith('http') ? rule.replace(/^.*#/, 'sh:') : rule,
        location: { ...model.locator.locate(focus), ...(property ? { property } : {}) },
      }),
    );
  }
  return problems;
}

function describeValue(term: Term): string {
  if (term.termType === 'Literal') {
    const lit = term as Term & { datatype?: Term; language?: string };
    const dt = lit.datatype && !lit.datatype.value.endsWith('#string') ? `^^${shorten(lit.datatype.value)}` : '';
    return `${JSON.stringify(term.value)}${dt}`;
  }
  if (term.termType === 'NamedNode') return `<${term.value}>`;
  return '[]';
}
