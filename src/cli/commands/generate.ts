import type { Command } from 'commander';
import { exitCodeFor } from '../../errors.js';
import { generate, writeOutput } from '../../generate.js';
import { MANIFEST_PATH, planDrifts, summarizePlan, type WritePlan } from '../../pipeline/write.js';
import { TARGET_NAMES } from '../../targets/names.js';
import { out } from '../output.js';
import type { Run } from '../program.js';
import { addTargets, onePack, runInput } from './run-input.js';

interface GenerateFlags {
  out?: string;
  targets?: string;
  check?: boolean;
  dryRun?: boolean;
  force?: boolean;
  timings?: boolean;
  pack?: string;
}

export function registerGenerate(program: Command, run: Run): void {
  program
    .command('generate')
    .description('validate the model, then write every target under the output directory')
    .argument('[model...]', 'Turtle model files, merged into one model; default: those named by ./gwgen.json')
    .option('-o, --out <dir>', 'output directory (default: "./generated", or "out" of gwgen.json)')
    .option('-t, --targets <list>', `comma-separated targets (${TARGET_NAMES.join(', ')}), repeatable; default: every target the model has data for`, addTargets)
    .option('--check', 'write nothing; exit 3 if anything would change (for CI)')
    .option('--dry-run', 'print what would be created, updated and deleted; write nothing')
    .option('--force', 'overwrite files edited by hand and drop user code regions that no longer exist')
    .option('--timings', 'print the time each pipeline stage took')
    .option('--pack <name>', 'render with the templates of an installed pack (gwgen pack install)', onePack)
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen generate examples/research-platform.ttl -o out
  $ gwgen generate model.ttl -t kong -o deploy          # Kong only
  $ gwgen generate model.ttl -o deploy --check          # CI: fail (exit 3) if deploy/ is stale
  $ gwgen generate model.ttl -o deploy --dry-run        # show the changes without writing
  $ gwgen generate                                      # the models and output named by ./gwgen.json (gwgen init)

Regeneration rewrites only files whose content changes, deletes files it generated before that the
model no longer produces, and never touches other files. A generated file edited by hand stops the
run (exit 3) unless --force; code between "// gwgen:user-code-begin <id>" and "// gwgen:user-code-end <id>"
in generated TypeScript is kept.

Exit codes: 0 done, 1 invalid model, 2 usage error, 3 --check found differences or a file was edited by hand.`,
    )
    .action((modelArgs: string[], flags: GenerateFlags) =>
      run(async () => {
        const resolved = await runInput(modelArgs, flags);
        if ('exit' in resolved) return resolved.exit;
        const { input, outDir } = resolved;
        const timings = {};
        const result = await generate(input, timings);
        if (!result.ok) {
          out.problems(result.problems);
          return exitCodeFor(result.problems);
        }
        const written = await writeOutput(result, { outDir, dryRun: Boolean(flags.check || flags.dryRun), force: Boolean(flags.force) }, timings);
        if (flags.timings) out.info(Object.entries(timings).map(([stage, ms]) => `${stage} ${(ms as number).toFixed(1)} ms`).join(', '));
        // A run that cannot even compare (the output directory is a file) is not "out of date".
        if (!written.ok && exitCodeFor(written.problems) !== 3) {
          out.problems(written.problems);
          return exitCodeFor(written.problems);
        }
        if (flags.check) {
          const changed = planDrifts(written.plan) || !written.ok;
          if (changed) {
            out.info(`${outDir} is out of date:`);
            // What differs only: a CI log should not bury the one stale file among every unchanged one.
            out.result(describePlan(written.plan, { changesOnly: true }));
            if (!written.ok) out.problems(written.problems);
            return 3;
          }
          out.info(`${outDir} is up to date (${written.plan.unchanged.length} files)`);
          return 0;
        }
        if (!written.ok) {
          // --dry-run shows the whole plan, not only what stops it.
          if (flags.dryRun) out.result(describePlan(written.plan));
          out.problems(written.problems);
          return exitCodeFor(written.problems);
        }
        if (flags.dryRun) {
          out.result(describePlan(written.plan));
          return 0;
        }
        if (written.recovered) out.info(`undid the half-written output of an interrupted earlier run into ${outDir} first`);
        out.info(`generated ${result.targets.join(', ')} into ${outDir}: ${summarizePlan(written.plan)}`);
        return 0;
      }),
    );
}

function describePlan(plan: WritePlan, { changesOnly = false } = {}): string {
  const lines = [
    ...plan.create.map((p) => `create   ${p}`),
    ...plan.update.map((p) => `update   ${p}`),
    ...plan.delete.map((p) => `delete   ${p}`),
    ...(changesOnly ? [] : plan.unchanged.map((p) => `unchanged ${p}`)),
    // The manifest alone may change: the model files were named differently, or gwgen is newer.
    ...(plan.manifestChanged ? [`${plan.manifestCreated ? 'create' : 'update'}   ${MANIFEST_PATH}`] : []),
  ];
  return lines.length ? lines.join('\n') : '(no files)';
}
