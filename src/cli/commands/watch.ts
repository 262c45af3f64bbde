import type { Command } from 'commander';
import { summarizePlan } from '../../pipeline/write.js';
import { watch } from '../../watch.js';
import { out } from '../output.js';
import type { Run } from '../program.js';

export function registerWatch(program: Command, run: Run): void {
  program
    .command('watch')
    .description('generate, then regenerate on every change of a model file, until interrupted')
    .argument('<model...>', 'Turtle model files, merged into one model')
    .option('-o, --out <dir>', 'output directory', './generated')
    .option('-t, --targets <list>', 'comma-separated targets; default: every target the model has data for')
    .option('--force', 'overwrite files edited by hand')
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen watch examples/research-platform.ttl -o out     # Ctrl-C to stop

An invalid model is reported and watching goes on; the output directory keeps the last good output.`,
    )
    .action((models: string[], flags: { out: string; targets?: string; force?: boolean }) =>
      run(async () => {
        const targets = flags.targets?.split(',').map((t) => t.trim()).filter(Boolean);
        const watcher = watch({ models, ...(targets ? { targets } : {}) }, { outDir: flags.out, force: Boolean(flags.force) }, (event) => {
          const why = event.changed.length ? `${event.changed.join(', ')} changed: ` : '';
          if (!event.generation.ok) {
            out.problems(event.generation.problems);
            out.info(`${why}model invalid, ${flags.out} left as it was; watching`);
          } else if (!event.generation.write.ok) {
            out.problems(event.generation.write.problems);
            out.info(`${why}not written; watching`);
          } else {
            out.info(`${why}generated into ${flags.out}: ${summarizePlan(event.generation.write.plan)}; watching`);
          }
        });
        const stop = () => void watcher.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        await watcher.done;
        return 0;
      }),
    );
}
