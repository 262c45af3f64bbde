import { GwgenError, type Problem } from './errors.js';
import { parseSources, readSources, type LoadedModel, type SourceFile } from './pipeline/load.js';
import { checkSemantics } from './pipeline/semantic.js';
import { validateShapes } from './pipeline/shacl.js';
import { timed, type Timings } from './timings.js';
import { compareStrings } from './order.js';

export interface ModelInput {
  /** Turtle files to merge into one model. */
  readonly models: readonly string[];
  /** Base for the file names in messages. @default process.cwd() */
  readonly cwd?: string;
}

export type ValidateResult =
  | { readonly ok: true; readonly model: LoadedModel; readonly problems: readonly []; readonly timings: Timings }
  | { readonly ok: false; readonly problems: readonly Problem[]; readonly timings: Timings };

/**
 * Parse + SHACL + semantic checks. Every problem of the model is returned, not only the first;
 * nothing is written anywhere.
 */
export async function validate(input: ModelInput, timings: Timings = {}): Promise<ValidateResult> {
  const { sources, problems } = await timed(timings, 'read', () => readSources(input.models, input.cwd));
  if (problems.length > 0) return { ok: false, problems, timings };
  return validateSources(sources, timings);
}

export async function validateSources(sources: readonly SourceFile[], timings: Timings = {}): Promise<ValidateResult> {
  try {
    const loaded = await timed(timings, 'parse', () => parseSources(sources));
    if (!loaded.ok) return { ok: false, problems: loaded.problems, timings };
    const shapeProblems = await timed(timings, 'shacl', () => validateShapes(loaded.model));
    const semanticProblems = await timed(timings, 'semantic', () => checkSemantics(loaded.model));
    const problems = merge(shapeProblems, semanticProblems);
    if (problems.length > 0) return { ok: false, problems, timings };
    return { ok: true, model: loaded.model, problems: [], timings };
  } catch (err) {
    if (err instanceof GwgenError) return { ok: false, problems: err.problems, timings };
    throw err;
  }
}

/**
 * SHACL and the semantic checks sometimes see the same fault: a reference to a missing node
 * (sh:class) or a malformed value (sh:pattern and the format check). One message per fault is
 * kept: the semantic one for structure (it names the missing node), SHACL's for values (it
 * says what is expected). Problems are then ordered by file position.
 */
function merge(shapes: Problem[], semantic: Problem[]): Problem[] {
  const key = (p: Problem) => `${p.location?.node}|${p.location?.property}`;
  const STRUCTURAL = /reference|route-backend|split-/;
  const structural = new Set(semantic.filter((p) => STRUCTURAL.test(p.rule ?? '')).flatMap((p) => [key(p), `${p.location?.node}|`]));
  // A Turtle list where values belong: its own message says what SHACL's about a blank node would not.
  const lists = new Set(semantic.filter((p) => p.rule === 'rdf-list').map(key));
  const shaclKept = shapes.filter((p) => {
    if (lists.has(key(p))) return false;
    if (!/Class|NodeKind|Or|Xone/.test(p.rule ?? '')) return true;
    return !structural.has(key(p)) && !structural.has(`${p.location?.node}|`);
  });
  const shaclKeys = new Set(shaclKept.map(key));
  const semanticKept = semantic.filter((p) => p.rule !== 'format' || !shaclKeys.has(key(p)));
  return [...shaclKept, ...semanticKept].sort(
    (a, b) =>
      compareStrings(a.location?.file ?? '', b.location?.file ?? '') ||
      (a.location?.line ?? 0) - (b.location?.line ?? 0) ||
      compareStrings(a.location?.property ?? '', b.location?.property ?? ''),
  );
}

