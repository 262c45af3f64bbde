import type { Term } from 'n3';
import { GwgenError, problem, type Problem, type SourceLocation } from '../errors.js';
import { readSources } from '../pipeline/load.js';
import { agw } from '../pipeline/rdf.js';
import type { QueryOutcome } from '../sparql/engine.js';
import { runQueriesInWorker } from '../sparql/worker-client.js';
import { timed, type Timings } from '../timings.js';
import { validateSources, type ModelInput } from '../validate.js';
import { loadRules, type AuditRule, type Severity } from './rules.js';
import { compareStrings } from '../order.js';

export interface AuditInput extends ModelInput {
  /** Directories of extra .rq rules (`--rules`). */
  readonly ruleDirs?: readonly string[];
  /** What NOW() is, for expiry rules. @default the current time */
  readonly now?: Date;
}

export interface Finding {
  readonly rule: string;
  readonly severity: Severity;
  /** IRI of the node the finding is about (a blank node's label otherwise). */
  readonly focus: string;
  readonly message: string;
  /** Where the focus node is defined. */
  readonly location: SourceLocation;
  /** Set when the node carries agw:auditSuppress for this rule. */
  readonly suppressed?: { readonly reason?: string };
}

export type AuditResult =
  | { readonly ok: true; readonly rules: readonly AuditRule[]; readonly findings: readonly Finding[]; readonly timings: Timings }
  | { readonly ok: false; readonly problems: readonly Problem[]; readonly timings: Timings };

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/**
 * Runs every audit rule over a valid model. The rule queries run in a worker while the model
 * is validated; findings on nodes that suppress the rule are marked, not dropped.
 */
export async function audit(input: AuditInput, timings: Timings = {}): Promise<AuditResult> {
  const { rules, problems: ruleProblems } = await loadRules(input.ruleDirs);
  const { sources, problems: readProblems } = await readSources(input.models, input.cwd);
  if (ruleProblems.length + readProblems.length > 0) return { ok: false, problems: [...readProblems, ...ruleProblems], timings };
  const pending = runQueriesInWorker(sources, rules.map((r) => ({ id: r.id, text: r.query, origin: r.file })), timings, { now: input.now ?? new Date() });
  const validated = await validateSources(sources, timings);
  if (!validated.ok) {
    pending.cancel();
    return validated;
  }
  const results = await timed(timings, 'queries', () => pending.result);
  const { store, locator } = validated.model;
  const findings: Finding[] = [];
  const problems: Problem[] = [];
  for (const rule of rules) {
    const r = results.get(rule.id);
    if (!r?.outcome) {
      problems.push(...(r?.problems ?? [problem('internal', `audit rule ${rule.id} returned nothing`)]).map((p) => ({ ...p, message: `audit rule ${rule.file}: ${p.message}`, code: 'usage' as const })));
      continue;
    }
    for (const row of rows(r.outcome)) {
      const focus = row.focus;
      if (!focus) continue;
      const suppressions = store.getObjects(focus as Term, agw('auditSuppress'), null).map((t) => t.value);
      const reason = store.getObjects(focus as Term, agw('auditReason'), null)[0]?.value;
      findings.push({
        rule: rule.id,
        severity: rule.severity,
        // A blank node has no IRI: "_:b0" (as N-Triples writes it) is not mistaken for a relative IRI.
        focus: focus.termType === 'BlankNode' ? `_:${focus.value}` : focus.value,
        message: fillMessage(rule.message, row),
        location: locator.locate(focus as Term),
        ...(suppressions.includes(rule.id) && rule.id !== 'suppression-without-reason' ? { suppressed: reason === undefined ? {} : { reason } } : {}),
      });
    }
  }
  if (problems.length > 0) return { ok: false, problems, timings };
  findings.sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || compareStrings(a.rule, b.rule) || compareStrings(a.focus, b.focus) || compareStrings(a.message, b.message));
  return { ok: true, rules, findings, timings };
}

function rows(outcome: QueryOutcome): ReadonlyArray<Record<string, Term>> {
  if (outcome.kind === 'bindings') return outcome.rows;
  throw new GwgenError(problem('usage', 'an audit rule must be a SELECT query'));
}

/** `{?var}` → the row's value: an IRI as its local name, a literal as its text. */
export function fillMessage(template: string, row: Record<string, Term>): string {
  return template.replace(/\{\?(\w+)\}/g, (whole, name: string) => {
    const term = row[name];
    if (!term) return whole;
    if (term.termType === 'NamedNode') return term.value.replace(/^.*[#/]/, '') || term.value;
    if (term.termType === 'BlankNode') return `_:${term.value}`;
    return term.value;
  });
}

/** Does a finding of this severity reach the `--fail-on` threshold? */
export function failsOn(severity: Severity, failOn: 'error' | 'warning' | 'never'): boolean {
  if (failOn === 'never') return false;
  return SEVERITY_ORDER[severity] <= SEVERITY_ORDER[failOn];
}

