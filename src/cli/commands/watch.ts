import type { Command } from 'commander';
import { exitCodeFor } from '../../errors.js';
import type { GenerateInput } from '../../generate.js';
import { packGenerateInput } from '../../pack/pack.js';
import { readSources } from '../../pipeline/load.js';
import { summarizePlan } from '../../pipeline/write.js';
import { watch } from '../../watch.js';
import { interruptedEarly, noteEarlyInterrupt, whenInterrupted } from '../interrupt.js';
import { out } from '../output.js';
import type { Run } from '../program.js';
import { addTargets, onePack, runInput } from './run-input.js';

export function registerWatch(program: Command, run: Run): void {
  program
    .command('watch')
    .description('generate, then regenerate on every change of a model file, until interrupted')
    .argument('[model...]', 'Turtle model files, merged into one model; default: those named by ./gwgen.json')
    .option('-o, --out <dir>', 'output directory (default: "./generated", or "out" of gwgen.json)')
    .option('-t, --targets <list>', 'comma-separated targets, repeatable; default: every target the model has data for', addTargets)
    .option('--force', 'overwrite files edited by hand')
    .option('--pack <name>', 'render with the templates of an installed pack (gwgen pack install), as generate --pack does', onePack)
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen watch examples/research-platform.ttl -o out     # Ctrl-C to stop

An invalid model is reported and watching goes on; the output directory keeps the last good output.`,
    )
    .action((modelArgs: string[], flags: { out?: string; targets?: string; force?: boolean; pack?: string }) =>
      run(async () => {
        noteEarlyInterrupt();
        const resolved = await runInput(modelArgs, flags, 'watch');
        if ('exit' in resolved) return resolved.exit;
        const { input, outDir } = resolved;
        // A model file that is not there at the start is a usage error (exit 2), not something to wait for.
        const missing = (await readSources(input.models)).problems.filter((p) => p.code === 'file-not-found');
        if (missing.length > 0) {
          out.problems(missing);
          return exitCodeFor(missing);
        }
        // Stopped before the first run: nothing was written, and nothing is.
        if (interruptedEarly()) return 0;
        // The pack is checked against gwgen.lock before every run, not only the first: it may be
        // modified (refused) or reinstalled (its new templates and pin are used) while watching.
        const pack = flags.pack;
        const prepare = pack === undefined ? undefined : async (base: GenerateInput) => {
          const { input: packed, problems } = await packGenerateInput(pack);
          return packed ? { input: { ...base, ...packed }, problems } : { problems };
        };
        const watcher = watch(input, { outDir, force: Boolean(flags.force) }, (event) => {
          const why = event.changed.length ? `${event.changed.join(', ')} changed: ` : '';
          if (!event.generation.ok) {
            out.problems(event.generation.problems);
            const packRefused = event.generation.problems.every((p) => p.code === 'usage' || p.code === 'file-not-found');
            out.info(`${why}${packRefused ? 'not generated' : 'model invalid'}, ${outDir} left as it was; watching`);
          } else if (!event.generation.write.ok) {
            out.problems(event.generation.write.problems);
            out.info(`${why}not written, ${outDir} left as it was; watching`);
          } else {
            out.info(`${why}generated into ${outDir}: ${summarizePlan(event.generation.write.plan)}; watching`);
          }
        }, undefined, prepare);
        whenInterrupted(() => void watcher.stop());
        await watcher.done;
        return 0;
      }),
    );
}
