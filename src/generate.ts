import { join, resolve, sep } from 'node:path';
import { GwgenError, problem, type Problem } from './errors.js';
import type { GatewayModel } from './model/types.js';
import type { Renderer } from './pipeline/render.js';
import { packFix } from './pack/fix-hint.js';
import type { PlannedFile, Target } from './targets/types.js';
import { extractionQueries, groupExtraction } from './pipeline/extract.js';
import { readSources, type SourceFile } from './pipeline/load.js';
import { runQueriesInWorker, type QueryRunner } from './sparql/worker-client.js';
import { applyWrite, fileSystemProblem, liveLockHolder, lockOutput, outputDirProblem, pendingWrite, planWrite, recoverInterruptedWrites, sha256, type GeneratedFile, type Manifest, type WritePlan } from './pipeline/write.js';
import { compareStrings } from './order.js';
import { TARGET_NAMES } from './targets/names.js';
import { timed, type Timings } from './timings.js';
import type { ModelInput } from './validate.js';
import { VERSION } from './version.js';

export interface GenerateInput extends ModelInput {
  /** Target names; absent = every target the model has data for. */
  readonly targets?: readonly string[];
  /** Template directories searched before gwgen's own (an installed pack's templates/). */
  readonly templateDirs?: readonly string[];
  /** The pack those templates come from, recorded in the manifest. */
  readonly pack?: PackRef;
  /** The command that installs that pack again from its source, for the hint on a fault in its templates. */
  readonly packReinstall?: string;
}

export interface PackRef {
  readonly name: string;
  readonly version: string;
  readonly integrity: string;
}

export type GenerateResult =
  | {
      readonly ok: true;
      readonly model: GatewayModel;
      readonly files: readonly GeneratedFile[];
      readonly targets: readonly string[];
      readonly sources: readonly SourceFile[];
      readonly pack?: PackRef;
      /** The targets were chosen with `-t` rather than by what the model has data for. */
      readonly explicitTargets: boolean;
      readonly timings: Timings;
    }
  | { readonly ok: false; readonly problems: readonly Problem[]; readonly timings: Timings };

/** How a run gets its SPARQL queries run; gwgen watch passes a worker it keeps across runs. */
export interface GenerateRuntime {
  readonly queries?: QueryRunner;
}

/**
 * Model files → generated files, in memory. Validates, extracts with SPARQL, renders and
 * formats; never touches the disk (see writeOutput).
 */
export async function generate(input: GenerateInput, timings: Timings = {}, runtime: GenerateRuntime = {}): Promise<GenerateResult> {
  const unknown = (input.targets ?? []).filter((t) => !TARGET_NAMES.includes(t));
  if (unknown.length > 0) {
    return {
      ok: false,
      timings,
      problems: [problem('usage', `unknown target${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, { hint: `available targets: ${TARGET_NAMES.join(', ')}` })],
    };
  }
  const { sources, problems } = await timed(timings, 'read', () => readSources(input.models, input.cwd));
  if (problems.length > 0) return { ok: false, problems, timings };
  // Extraction runs in a worker while this thread validates; its result is used only if the
  // model turns out valid.
  // The worker starts before the heavy stage modules are even loaded (they cost ~0.2 s).
  const pending = (runtime.queries ?? runQueriesInWorker)(sources, await extractionQueries(), timings);
  const [{ validateSources }, { buildModel }, { checkModelSchema, prepareModelSchema }, { createRenderer }, { formatFile }, { TARGETS }] = await Promise.all([
    import('./validate.js'),
    import('./pipeline/build-model.js'),
    import('./model/schema.js'),
    import('./pipeline/render.js'),
    import('./pipeline/format.js'),
    import('./targets/index.js'),
  ]);
  const validated = await validateSources(sources, timings);
  if (!validated.ok) {
    pending.cancel();
    return validated;
  }
  try {
    // This thread usually waits for the worker here: the schema and the templates compile meanwhile.
    void prepareModelSchema();
    const renderer = createRenderer(input.templateDirs, input.packReinstall);
    await timed(timings, 'compile', async () => {
      for (const name of input.targets ?? Object.keys(TARGETS)) await renderer.warm(name);
    });
    const extraction = groupExtraction(await timed(timings, 'queries', () => pending.result));
    const model = await timed(timings, 'build', () => buildModel(extraction));
    const schemaProblems = await checkModelSchema(model);
    if (schemaProblems.length > 0) return { ok: false, problems: schemaProblems, timings };

    const targetNames = input.targets ? [...new Set(input.targets)] : Object.keys(TARGETS).filter((name) => TARGETS[name]!.applies(model));
    const rendered = await timed(timings, 'render', async () => {
      const out = [];
      for (const name of targetNames) {
        const target = TARGETS[name]!;
        if (target.partials) await renderer.registerPartials(target.partials.dir, target.partials.names);
        const planned = target.plan(model);
        for (const file of planned) out.push(await renderer.render(name, file));
        for (const file of await packAddedFiles(renderer, target, model, planned, input.templateDirs ?? [], input.packReinstall)) out.push(await renderer.render(name, file));
      }
      return out;
    });
    const files = await timed(timings, 'format', () => Promise.all(rendered.map(formatFile)));
    return { ok: true, model, files: files.sort((a, b) => (a.path < b.path ? -1 : 1)), targets: targetNames, explicitTargets: input.targets !== undefined, sources, ...(input.pack ? { pack: input.pack } : {}), timings };
  } catch (err) {
    if (err instanceof GwgenError) return { ok: false, problems: err.problems, timings };
    throw err;
  }
}

/**
 * The files of a target that a pack's own templates add: `templates/k8s/hpa.yaml.hbs` gives
 * `k8s/hpa.yaml`, rendered with the view gwgen's templates of k8s see. One that would write a
 * file gwgen's templates write for this model is refused: it would replace it unseen.
 */
async function packAddedFiles(renderer: Renderer, target: Target, model: GatewayModel, planned: readonly PlannedFile[], templateDirs: readonly string[], reinstall: string | undefined): Promise<PlannedFile[]> {
  if (templateDirs.length === 0) return [];
  const added = await renderer.addedTemplates(target.name);
  if (added.length === 0) return [];
  // The same path, or one that is a folder of the other (k8s/a.yaml against k8s/a.yaml/b).
  const clashOf = (path: string) => planned.find((file) => file.path === path || file.path.startsWith(`${path}/`) || path.startsWith(`${file.path}/`));
  const clashes = added.flatMap(({ template, dir }) => {
    const path = template.slice(0, -'.hbs'.length);
    const other = clashOf(path);
    return other ? [{ template, dir, path, other }] : [];
  });
  if (clashes.length > 0) {
    throw new GwgenError(
      clashes.map(({ template, dir, path, other }) =>
        problem('render', `the pack's template ${template} would write ${path}, where gwgen's template ${other.template} writes ${other.path} for this model`, {
          location: { file: join(dir, template) },
          hint: `this template comes from the template pack in ${join(dir, '..')}: ${packFix(reinstall, 'rename it')}, or override ${other.template} instead`,
        }),
      ),
    );
  }
  const view = target.view(model);
  return added.map(({ template }) => ({ path: template.slice(0, -'.hbs'.length), template, context: view }));
}

export interface WriteOptions {
  readonly outDir: string;
  /** Overwrite hand-edited files and drop vanished user code. */
  readonly force?: boolean;
  /** Compute the plan only. */
  readonly dryRun?: boolean;
}

export type WriteResult =
  | { readonly ok: true; readonly plan: WritePlan; readonly written: boolean; readonly recovered?: number }
  | { readonly ok: false; readonly plan: WritePlan; readonly problems: readonly Problem[] };

/** Writes a successful generation to disk per interfaces.md's regeneration rules. */
export async function writeOutput(result: Extract<GenerateResult, { ok: true }>, options: WriteOptions, timings: Timings = {}): Promise<WriteResult> {
  const dir = resolve(options.outDir);
  const base: Omit<Manifest, 'files'> = {
    generator: `gwgen ${VERSION}`,
    // Input paths as given (relative to the working directory), so the manifest is the same wherever DIR is.
    // Sorted and once each: the order of the model files on the command line changes nothing.
    inputs: [...new Map(result.sources.map((s) => [s.path.split(sep).join('/'), sha256(s.text)])).entries()]
      .sort(([a], [b]) => compareStrings(a, b))
      .map(([path, hash]) => ({ path, sha256: hash })),
    targets: result.targets,
    ...(result.pack ? { pack: result.pack } : {}),
  };
  let release = async () => undefined as void;
  try {
    const usable = (await outputDirProblem(dir)) === undefined;
    // One run at a time plans and writes into DIR; --check and --dry-run write nothing and take no lock.
    if (!options.dryRun && usable) release = await lockOutput(dir);
    return await planAndWrite(dir, result, base, options, timings, usable);
  } catch (err) {
    if (err instanceof GwgenError) return { ok: false, plan: emptyPlan(dir, base), problems: err.problems };
    const denied = fileSystemProblem(err);
    if (denied) return { ok: false, plan: emptyPlan(dir, base), problems: [denied] };
    throw err;
  } finally {
    await release();
  }
}

async function planAndWrite(dir: string, result: Extract<GenerateResult, { ok: true }>, base: Omit<Manifest, 'files'>, options: WriteOptions, timings: Timings, usable: boolean): Promise<WriteResult> {
  // A run killed while it renamed files left a journal: undo it first, so DIR is what it was.
  const recovered = usable && !options.dryRun ? await recoverInterruptedWrites(dir) : 0;
  // With an explicit target list, files of other targets are left alone; without one, every
  // target the model has data for was generated, so anything else is stale.
  const plan = await timed(timings, 'plan', () => planWrite(dir, result.files, base, { keepOtherTargets: result.explicitTargets }));
  if (options.dryRun && usable) {
    const pending = await pendingWrite(dir);
    const writer = pending === undefined ? undefined : await liveLockHolder(dir);
    if (writer !== undefined) {
      return { ok: false, plan, problems: [problem('locked', `another gwgen run (pid ${writer.pid}, since ${writer.started}) is writing to ${dir} right now: what is on disk may be half of its write`, { location: { file: join(dir, '.gwgen', 'lock') }, hint: 'run this again once that run is done' })] };
    }
    if (pending !== undefined) {
      return { ok: false, plan, problems: [problem('hand-edited', `${dir} holds a write that was interrupted (${pending}): what is on disk is half of it`, { location: { file: pending }, hint: 'run gwgen generate (without --check or --dry-run): it undoes the interrupted write first' })] };
    }
  }
  const stopping = options.force ? plan.obstacles : plan.conflicts;
  if (stopping.length > 0) return { ok: false, plan, problems: [...stopping] };
  if (options.dryRun) return { ok: true, plan, written: false };
  try {
    await timed(timings, 'write', () => applyWrite(plan));
  } catch (err) {
    if (err instanceof GwgenError) return { ok: false, plan, problems: err.problems };
    throw err;
  }
  return { ok: true, plan, written: true, ...(recovered > 0 ? { recovered } : {}) };
}

/** The plan of a run that could not even compare (DIR is not a directory): nothing to do. */
function emptyPlan(dir: string, base: Omit<Manifest, 'files'>): WritePlan {
  return { dir, create: [], update: [], unchanged: [], delete: [], conflicts: [], obstacles: [], contents: new Map(), manifest: { ...base, files: {} }, manifestChanged: false, manifestCreated: false, manifestFilesChanged: false };
}
