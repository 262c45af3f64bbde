import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { registerAudit } from './commands/audit.js';
import { registerGenerate } from './commands/generate.js';
import { registerInit } from './commands/init.js';
import { registerPack } from './commands/pack.js';
import { registerQuery } from './commands/query.js';
import { registerValidate } from './commands/validate.js';
import { registerWatch } from './commands/watch.js';
import { failedOutput, out } from './output.js';
import { problem, visible, type Problem } from '../errors.js';

/** Runs a command body and records its exit code; unexpected errors never print a stack unless --debug. */
export type Run = (body: () => Promise<number>) => Promise<void>;

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('gwgen');
  const debug = () => Boolean(program.opts().debug);
  const run: Run = async (body) => {
    try {
      const gone = missingWorkingDirectory();
      if (gone) {
        out.problems([gone]);
        return setExit(2);
      }
      setExit(await body());
    } catch (err) {
      out.internal(err, debug());
      setExit(1);
    }
  };
  program
    .version(VERSION)
    .description('Ontology-driven generator for API gateways and service meshes: one RDF/Turtle model in, a TypeScript gateway, Kong, Istio and Kubernetes out.')
    .option('--debug', 'print stack traces of internal errors')
    .showHelpAfterError('(run with --help for usage)')
    // Commander quotes what it refuses (an unknown option, a bad value) into its messages: escaped
    // as gwgen's own messages are, line by line so that its help keeps its layout.
    .configureOutput({ outputError: (text, write) => write(text.split('\n').map(visible).join('\n')) })
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen validate examples/research-platform.ttl
  $ gwgen generate examples/research-platform.ttl -o out
  $ gwgen query examples/research-platform.ttl -e 'SELECT ?path WHERE { ?r agw:routePath ?path } ORDER BY ?path'
  $ gwgen audit examples/mesh-shop.ttl --format sarif
  $ gwgen watch examples/research-platform.ttl -o out
  $ gwgen init my-gateway

Exit codes: 0 done, 1 invalid model (or audit findings at --fail-on), 2 usage error, 3 output differs (--check) or was edited by hand.`,
    );
  registerGenerate(program, run);
  registerValidate(program, run);
  registerAudit(program, run);
  registerQuery(program, run);
  registerWatch(program, run);
  registerInit(program, run);
  registerPack(program, run);
  const override = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  program.commands.forEach(override);
  return program;
}

/** Parses argv and returns the exit code (interfaces.md): usage errors are 2, help and version 0. */
export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  // --debug is global and may follow the command (gwgen generate m.ttl --debug).
  const debug = argv.includes('--debug');
  const args = debug ? ['--debug', ...argv.filter((a) => a !== '--debug')] : [...argv];
  // Commander answers `gwgen help nosuch` with the general help alone, as if asked for it.
  const asked = args.filter((a) => a !== '--debug');
  if (asked[0] === 'help' && asked[1] !== undefined && !program.commands.some((c) => c.name() === asked[1] || c.aliases().includes(asked[1]!))) {
    out.info(`error: unknown command '${asked[1]}'`);
    out.info(`(commands: ${program.commands.map((c) => c.name()).join(', ')}; run gwgen --help for usage)`);
    return 2;
  }
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      // `gwgen` or `gwgen pack` without a command shows help as an error (exitCode 1): a usage error.
      if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : 2;
      return 2;
    }
    out.internal(err, debug);
    return 1;
  }
  if (argv.length === 0) {
    program.outputHelp();
    return 2;
  }
  // Output that could not be written (a full disk) fails a run that would have succeeded.
  return code === 0 && failedOutput() ? 1 : code;
}

/** The shell's folder was removed under it: every relative path is meaningless, the user's to fix (not a fault of gwgen's). */
function missingWorkingDirectory(): Problem | undefined {
  try {
    process.cwd();
    return undefined;
  } catch {
    return problem('usage', 'the working directory no longer exists (it was removed after the shell entered it)', { hint: 'cd into an existing directory (cd "$PWD" if it was made again), then run gwgen again' });
  }
}
