import type { Command } from 'commander';
import { exitCodeFor } from '../../errors.js';
import { init } from '../../init.js';
import { out } from '../output.js';
import type { Run } from '../program.js';

export function registerInit(program: Command, run: Run): void {
  program
    .command('init')
    .description('write a starter model (model.ttl) and config (gwgen.json) that generate out of the box')
    .argument('[dir]', 'where to write them', '.')
    .option('--force', 'overwrite existing files')
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen init my-gateway && cd my-gateway && gwgen generate     # gwgen.json names the model and output`,
    )
    .action((dir: string, flags: { force?: boolean }) =>
      run(async () => {
        const result = await init(dir, Boolean(flags.force));
        if (result.problems.length > 0) {
          out.problems(result.problems);
          return exitCodeFor(result.problems);
        }
        // The next command as it can be pasted into a shell: the directory quoted when it needs it.
        const cd = dir === '.' ? '' : `cd ${/^[\w./-]+$/.test(dir) ? dir : `'${dir.replaceAll("'", `'\\''`)}'`} && `;
        out.info(`wrote ${result.written.join(', ')}; next: ${cd}gwgen generate (gwgen watch regenerates on every save)`);
        return 0;
      }),
    );
}
