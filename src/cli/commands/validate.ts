import type { Command } from 'commander';
import { exitCodeFor } from '../../errors.js';
import { validate } from '../../validate.js';
import { out } from '../output.js';
import type { Run } from '../program.js';

export function registerValidate(program: Command, run: Run): void {
  program
    .command('validate')
    .description('parse the model and run the SHACL shapes and semantic checks; print every problem, write nothing')
    .argument('<model...>', 'Turtle model files, merged into one model')
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen validate examples/research-platform.ttl
  $ gwgen validate gateway.ttl routes/*.ttl      # several files form one model

Exit codes: 0 valid, 1 the model has problems (each printed as file:line:col or <node IRI>), 2 usage error.`,
    )
    .action((models: string[]) =>
      run(async () => {
        const result = await validate({ models });
        if (!result.ok) {
          out.problems(result.problems);
          return exitCodeFor(result.problems);
        }
        out.info(`valid: ${models.join(', ')} (${result.model.store.size} triples)`);
        return 0;
      }),
    );
}
