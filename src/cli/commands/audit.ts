import { Option, type Command } from 'commander';
import { audit, failsOn, parseInstant } from '../../audit/audit.js';
import { toJson, toSarif, toTable } from '../../audit/report.js';
import { exitCodeFor, problem } from '../../errors.js';
import { packRulesDir } from '../../pack/pinned.js';
import { out } from '../output.js';
import { onePack } from './run-input.js';
import type { Run } from '../program.js';

interface AuditFlags {
  format: 'table' | 'json' | 'sarif';
  failOn: 'error' | 'warning' | 'never';
  rules?: string[];
  now?: string;
  pack?: string;
}

export function registerAudit(program: Command, run: Run): void {
  program
    .command('audit')
    .description('run the compliance rules (queries/audit/*.rq, plus --rules) over the model and print the findings')
    .argument('<model...>', 'Turtle model files, merged into one model')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json', 'sarif']).default('table'))
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding is at or above this severity').choices(['error', 'warning', 'never']).default('error'))
    // One directory per flag: a variadic option would take the model files after it as directories too.
    .option('--rules <dir>', 'a directory of extra .rq rules in the same format (repeat for more: --rules a --rules b)', (dir: string, previous: string[] = []) => [...previous, dir])
    .option('--pack <name>', "also run an installed pack's rules (its queries/audit/), checked against gwgen.lock", onePack)
    .option('--now <instant>', 'the current time for expiry rules: an ISO 8601 date-time with a zone, e.g. 2027-01-01T00:00:00Z, or a date (midnight UTC)')
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen audit examples/mesh-shop.ttl
  $ gwgen audit model.ttl --format sarif > gwgen.sarif     # upload to code scanning
  $ gwgen audit model.ttl --fail-on warning --rules policies/
  $ gwgen audit --rules policies/ --rules team-rules/ model.ttl
  $ gwgen audit model.ttl --pack acme-pack                 # with the rules of an installed pack

A rule is a SPARQL SELECT whose rows are findings, ?focus naming the node, with header comments:
  # id: route-without-owner
  # severity: error|warning|info
  # message: Route {?focus} has no owner        ({?var} is filled from the row)
  # MESSAGE: Route without owner                (so the file also works as a ggen gate)
Each {?var} must be a variable the query selects; one a row leaves unbound reads "(none)".

A node suppresses a rule with  agw:auditSuppress "<rule-id>" ; agw:auditReason "why" .
Suppressed findings are listed, not counted; a suppression without a reason, of a rule id
no loaded rule has (unknown-suppression), or of a rule with no finding about that node
(unused-suppression, info), is itself a finding.

Exit codes: 0 no finding at or above --fail-on (default error), 1 there is one (or the model is invalid),
2 usage error (unknown flag, missing file, broken rule file).`,
    )
    .action((models: string[], flags: AuditFlags) =>
      run(async () => {
        const now = flags.now === undefined ? undefined : parseInstant(flags.now);
        if (flags.now !== undefined && !now) {
          out.problems([problem('usage', `--now ${JSON.stringify(flags.now)} is not an ISO 8601 instant`, { hint: 'give a date-time with seconds and a zone, e.g. --now 2027-01-01T00:00:00Z or 2027-01-01T09:00:00+02:00, or a date (midnight UTC), e.g. --now 2027-01-01' })]);
          return 2;
        }
        const pack = flags.pack === undefined ? undefined : await packRulesDir(flags.pack);
        if (pack && pack.problems.length > 0) {
          out.problems(pack.problems);
          return 2;
        }
        const result = await audit({ models, ...(flags.rules ? { ruleDirs: flags.rules } : {}), ...(pack?.dir ? { packRuleDirs: [pack.dir] } : {}), ...(now ? { now } : {}) });
        if (!result.ok) {
          out.problems(result.problems);
          return exitCodeFor(result.problems);
        }
        const render = { table: () => toTable(result.findings), json: () => toJson(result.findings), sarif: () => toSarif(result.findings, result.rules) }[flags.format];
        process.stdout.write(render());
        return result.findings.some((f) => !f.suppressed && failsOn(f.severity, flags.failOn)) ? 1 : 0;
      }),
    );
}
