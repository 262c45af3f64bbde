import { InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config.js';
import { exitCodeFor, problem } from '../../errors.js';
import type { GenerateInput } from '../../generate.js';
import { packGenerateInput } from '../../pack/pack.js';
import { outputDirProblem } from '../../pipeline/write.js';
import { TARGET_NAMES } from '../../targets/names.js';
import { out } from '../output.js';

/** Commander's argument parser for -t: repeated -t add up (-t kong -t istio), as a comma list does. */
export const addTargets = (value: string, previous?: string): string => (previous === undefined ? value : `${previous},${value}`);

/** One template pack per run: a second --pack would silently win over the first (packs do not stack). */
export const onePack = (value: string, previous?: string): string => {
  if (previous !== undefined && previous !== value)
    throw new InvalidArgumentError(`a run renders with one template pack, and --pack ${previous} was given already: keep one --pack`);
  return value;
};

export interface RunFlags {
  readonly out?: string;
  readonly targets?: string;
  readonly pack?: string;
}

/**
 * What `generate` and `watch` run on: the model files (else ./gwgen.json's), the output directory,
 * the targets and the template pack, each checked before any model is read. A usage problem is
 * printed, and its exit code returned instead.
 */
export async function runInput(modelArgs: readonly string[], flags: RunFlags, command: 'generate' | 'watch' = 'generate'): Promise<{ input: GenerateInput; outDir: string } | { exit: number }> {
  let models = modelArgs;
  let configOut: string | undefined;
  let configTargets: readonly string[] | undefined;
  if (models.length === 0) {
    const { config, problems } = await loadConfig(process.cwd(), command);
    if (!config) {
      out.problems(problems);
      return { exit: exitCodeFor(problems) };
    }
    models = [...config.models];
    configOut = config.out;
    configTargets = config.targets;
  }
  const outDir = flags.out ?? configOut ?? './generated';
  // Before the model is even read: an output directory that cannot be one is a usage error.
  const unusable = await outputDirProblem(outDir);
  if (unusable) {
    out.problems([unusable]);
    return { exit: 2 };
  }
  const targets = flags.targets?.split(',').map((t) => t.trim()).filter(Boolean) ?? configTargets;
  if (targets !== undefined && targets.length === 0) {
    out.problems([problem('usage', '-t names no target', { hint: `give a comma list of targets (${TARGET_NAMES.join(', ')}), or leave -t out for every target the model has data for` })]);
    return { exit: 2 };
  }
  const unknown = (targets ?? []).filter((t) => !TARGET_NAMES.includes(t));
  if (unknown.length > 0) {
    out.problems([problem('usage', `unknown target${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, { hint: `available targets: ${TARGET_NAMES.join(', ')}` })]);
    return { exit: 2 };
  }
  let packInput = {};
  if (flags.pack !== undefined) {
    const { input, problems } = await packGenerateInput(flags.pack);
    if (!input) {
      out.problems(problems);
      return { exit: 2 };
    }
    packInput = input;
  }
  return { input: { models, ...(targets ? { targets } : {}), ...packInput }, outDir };
}
