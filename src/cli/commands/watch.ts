import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { exitCodeFor, problem } from '../../errors.js';
import { packGenerateInput } from '../../pack/pack.js';
import { readSources } from '../../pipeline/load.js';
import { outputDirProblem, summarizePlan } from '../../pipeline/write.js';
import { TARGET_NAMES } from '../../targets/names.js';
import { watch } from '../../watch.js';
import { out } from '../output.js';
import type { Run } from '../program.js';

export function registerWatch(program: Command, run: Run): void {
  program
    .command('watch')
    .description('generate, then regenerate on every change of a model file, until interrupted')
    .argument('[model...]', 'Turtle model files, merged into one model; default: those named by ./gwgen.json')
    .option('-o, --out <dir>', 'output directory (default: "./generated", or "out" of gwgen.json)')
    .option('-t, --targets <list>', 'comma-separated targets, repeatable; default: every target the model has data for', (value: string, previous?: string) => (previous === undefined ? value : `${previous},${value}`))
    .option('--force', 'overwrite files edited by hand')
    .option('--pack <name>', 'render with the templates of an installed pack (gwgen pack install), as generate --pack does')
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen watch examples/research-platform.ttl -o out     # Ctrl-C to stop

An invalid model is reported and watching goes on; the output directory keeps the last good output.`,
    )
    .action((modelArgs: string[], flags: { out?: string; targets?: string; force?: boolean; pack?: string }) =>
      run(async () => {
        let models = modelArgs;
        let configOut: string | undefined;
        let configTargets: readonly string[] | undefined;
        if (models.length === 0) {
          const { config, problems } = await loadConfig();
          if (!config) {
            out.problems(problems);
            return exitCodeFor(problems);
          }
          models = [...config.models];
          configOut = config.out;
          configTargets = config.targets;
        }
        const outDir = flags.out ?? configOut ?? './generated';
        const unusable = await outputDirProblem(outDir);
        if (unusable) {
          out.problems([unusable]);
          return 2;
        }
        const targets = flags.targets?.split(',').map((t) => t.trim()).filter(Boolean) ?? configTargets;
        if (targets !== undefined && targets.length === 0) {
          out.problems([problem('usage', '-t names no target', { hint: `give a comma list of targets (${TARGET_NAMES.join(', ')}), or leave -t out for every target the model has data for` })]);
          return 2;
        }
        const unknown = (targets ?? []).filter((t) => !TARGET_NAMES.includes(t));
        if (unknown.length > 0) {
          out.problems([problem('usage', `unknown target${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`, { hint: `available targets: ${TARGET_NAMES.join(', ')}` })]);
          return 2;
        }
        // A model file that is not there at the start is a usage error (exit 2), not something to wait for.
        const missing = (await readSources(models)).problems.filter((p) => p.code === 'file-not-found');
        if (missing.length > 0) {
          out.problems(missing);
          return exitCodeFor(missing);
        }
        let packInput = {};
        if (flags.pack !== undefined) {
          const { input, problems } = await packGenerateInput(flags.pack);
          if (!input) {
            out.problems(problems);
            return 2;
          }
          packInput = input;
        }
        const watcher = watch({ models, ...(targets ? { targets } : {}), ...packInput }, { outDir, force: Boolean(flags.force) }, (event) => {
          const why = event.changed.length ? `${event.changed.join(', ')} changed: ` : '';
          if (!event.generation.ok) {
            out.problems(event.generation.problems);
            out.info(`${why}model invalid, ${outDir} left as it was; watching`);
          } else if (!event.generation.write.ok) {
            out.problems(event.generation.write.problems);
            out.info(`${why}not written; watching`);
          } else {
            out.info(`${why}generated into ${outDir}: ${summarizePlan(event.generation.write.plan)}; watching`);
          }
        });
        const stop = () => void watcher.stop();
        // on, not once: a signal held back during a write (see applyWrite) is raised again, and must find this handler.
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        await watcher.done;
        return 0;
      }),
    );
}
