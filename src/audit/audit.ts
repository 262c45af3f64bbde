import { createHash } from 'node:crypto';
import { DataFactory, termToId, type Store, type Term } from 'n3';
import { problem, type Problem, type SourceLocation } from '../errors.js';
import { readSources } from '../pipeline/load.js';
import { agw } from '../pipeline/rdf.js';
import { runQueriesInWorker } from '../sparql/worker-client.js';
import { timed, type Timings } from '../timings.js';
import { validateSources, type ModelInput } from '../validate.js';
import { nearest } from '../nearest.js';
import { loadRules, missingVariables, PLACEHOLDER, UNKNOWN_SUPPRESSION_RULE, UNUSED_SUPPRESSION_RULE, type AuditRule, type Severity } from './rules.js';
import { compareStrings } from '../order.js';
import type { PlainTerm } from '../sparql/term-cells.js';

const XSD_STRING = 'http://www.w3.org/2001/XMLSchema#string';

export interface AuditInput extends ModelInput {
  /** Directories of extra .rq rules (`--rules`); each must hold at least one. */
  readonly ruleDirs?: readonly string[];
  /** Rule directories that may hold none (an installed pack's queries/audit/, `--pack`). */
  readonly packRuleDirs?: readonly string[];
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
  /**
   * The focus as SARIF fingerprints name it, unchanged when other nodes are added: an IRI, or for a
   * blank node (whose label shifts with every blank node above it) the path that reaches it from
   * a named node (location.node, `<https://x#gw> agw:hasCertificate []`), with a hash of its own
   * predicates and objects when nothing named reaches it or another finding's node of the same
   * rule has the same path.
   */
  readonly identity: string;
  /** Set when the node carries agw:auditSuppress for this rule. */
  readonly suppressed?: { readonly reason?: string };
}

export type AuditResult =
  | { readonly ok: true; readonly rules: readonly AuditRule[]; readonly findings: readonly Finding[]; readonly timings: Timings }
  | { readonly ok: false; readonly problems: readonly Problem[]; readonly timings: Timings };

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Rules whose findings are about a node's agw:auditSuppress: located where it is written, which may be another file than the node's definition. */
const ABOUT_SUPPRESSIONS = new Set(['suppression-without-reason', UNKNOWN_SUPPRESSION_RULE.id, UNUSED_SUPPRESSION_RULE.id]);

/**
 * Runs every audit rule over a valid model. The rule queries run in a worker while the model
 * is validated; findings on nodes that suppress the rule are marked, not dropped.
 */
export async function audit(input: AuditInput, timings: Timings = {}): Promise<AuditResult> {
  const { rules, problems: ruleProblems } = await loadRules([...(input.ruleDirs ?? []), ...(input.packRuleDirs ?? [])], { mayBeEmpty: input.packRuleDirs ?? [] });
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
    if (r.outcome.kind !== 'bindings') {
      problems.push(problem('usage', `audit rule ${rule.file}: must be a SPARQL SELECT query (each row is a finding)`, { location: { file: rule.file }, hint: 'write SELECT ?focus ... WHERE { ... }' }));
      continue;
    }
    // What SELECT * projected is known now: ?focus and the message's variables must be among it.
    const missing = missingVariables(rule, r.outcome.variables);
    if (missing.length > 0) {
      problems.push(...missing);
      continue;
    }
    for (const row of r.outcome.rows) {
      if (row.focus) findings.push(finding(rule, row.focus, fillMessage(rule.message, row)));
    }
  }
  if (problems.length > 0) return { ok: false, problems, timings };
  // A suppression names a rule by id: one no loaded rule has (a typo) would silently suppress nothing.
  const all = [...rules, UNKNOWN_SUPPRESSION_RULE, UNUSED_SUPPRESSION_RULE];
  const ids = all.map((r) => r.id);
  for (const quad of store.getQuads(null, agw('auditSuppress'), null, null)) {
    const id = quad.object.value;
    if (ids.includes(id)) continue;
    const near = nearest(id, ids);
    const hint = near !== undefined ? ` Did you mean "${near}"?` : '';
    findings.push(finding(UNKNOWN_SUPPRESSION_RULE, quad.subject as Term, `${fillMessage(UNKNOWN_SUPPRESSION_RULE.message, { focus: quad.subject as Term, rule: quad.object as Term })}${hint}`));
  }
  // A suppression of a known rule that found nothing on its node: stated on another node than the
  // finding's (the gateway, an agw:MutualTLS), or left after a fix. (A suppression of
  // suppression-without-reason never applies, and the finding stays listed, which says so.)
  const found = new Set(findings.map((f) => `${f.rule}|${f.focus}`));
  for (const quad of store.getQuads(null, agw('auditSuppress'), null, null)) {
    const id = quad.object.value;
    if (!ids.includes(id) || id === 'suppression-without-reason' || id === UNUSED_SUPPRESSION_RULE.id) continue;
    const node = quad.subject as Term;
    if (found.has(`${id}|${focusName(node)}`)) continue;
    findings.push(finding(UNUSED_SUPPRESSION_RULE, node, fillMessage(UNUSED_SUPPRESSION_RULE.message, { focus: node, rule: quad.object as Term })));
  }
  // Two blank nodes of one rule with the same path (two [] routes of a gateway) are told apart by their content.
  const paths = new Map<string, Set<string>>();
  for (const f of findings) if (f.focus.startsWith('_:')) paths.set(`${f.rule}|${f.identity}`, (paths.get(`${f.rule}|${f.identity}`) ?? new Set()).add(f.focus));
  for (const [i, f] of findings.entries()) {
    if (!f.focus.startsWith('_:')) continue;
    const anonymous = f.identity.startsWith('[');
    if (anonymous || paths.get(`${f.rule}|${f.identity}`)!.size > 1) findings[i] = { ...f, identity: `${f.identity} ${contentHash(store, DataFactory.blankNode(f.focus.slice(2)))}` };
  }
  findings.sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || compareStrings(a.rule, b.rule) || compareStrings(a.focus, b.focus) || compareStrings(a.message, b.message));
  return { ok: true, rules: all, findings: distinctIdentities(withoutRepeats(findings)), timings };

  function finding(rule: AuditRule, focus: Term, message: string): Finding {
    const suppressions = store.getObjects(focus, agw('auditSuppress'), null).map((t) => t.value);
    const reason = store.getObjects(focus, agw('auditReason'), null)[0]?.value;
    const location = (ABOUT_SUPPRESSIONS.has(rule.id) ? locator.locateProperty(focus, agw('auditSuppress').value) : undefined) ?? locate(focus);
    return {
      rule: rule.id,
      severity: rule.severity,
      focus: focusName(focus),
      message,
      location,
      identity: focus.termType === 'BlankNode' ? (location.node ?? '[]') : focus.value,
      ...(suppressions.includes(rule.id) && rule.id !== 'suppression-without-reason' ? { suppressed: reason === undefined ? {} : { reason } } : {}),
    };
  }

  /**
   * Where the focus is defined, or else where it is mentioned: a --rules rule may select a node no
   * statement has as its subject (a class, an IRI only referred to) or a literal, and a SARIF
   * result without a physical location has no place in the model (code scanning cannot show it).
   */
  function locate(focus: Term): SourceLocation {
    const own = locator.locate(focus);
    if (own.file !== undefined) return own;
    // A row's literal crosses from the query worker as a plain object: the store looks terms up by their n3 id.
    const plain = focus as unknown as PlainTerm;
    const term = plain.termType === 'Literal' ? DataFactory.literal(plain.value, plain.language || DataFactory.namedNode(plain.datatype ?? XSD_STRING)) : focus;
    const [mention] = store.getQuads(null, null, term, null);
    const at = mention ? locator.locate(mention.subject) : undefined;
    return at?.file !== undefined ? { ...own, file: at.file, ...(at.line !== undefined ? { line: at.line } : {}), ...(at.column !== undefined ? { column: at.column } : {}) } : own;
  }
}

/**
 * Rows a rule returns twice (a --rules query without DISTINCT that joins a repeated property)
 * are one finding: the same rule, node and message listed again says nothing new, and would give
 * two SARIF results one fingerprint. Takes the findings sorted, so repeats are neighbours.
 */
function withoutRepeats(findings: readonly Finding[]): Finding[] {
  return findings.filter((f, i) => i === 0 || !(f.rule === findings[i - 1]!.rule && f.focus === findings[i - 1]!.focus && f.message === findings[i - 1]!.message));
}

/**
 * Code scanning takes results with one fingerprint for one alert, so two findings of a rule about
 * one node (two unknown rule ids one node suppresses, a --rules query with a row per property
 * value) must not share an identity: those that do are told apart by a hash of their message,
 * and, should that be equal too (two blank nodes alike in path and content), by their place in
 * the sorted list. A finding alone on its node keeps the plain identity, so it stays stable.
 */
function distinctIdentities(findings: readonly Finding[]): Finding[] {
  const key = (f: Finding) => `${f.rule}|${f.identity}`;
  const count = (list: readonly Finding[]) => list.reduce((m, f) => m.set(key(f), (m.get(key(f)) ?? 0) + 1), new Map<string, number>());
  const shared = count(findings);
  // A message names a blank node by its label, which shifts with every blank node above it: the
  // hash reads every label as "_:", so twins (alike in path and content) fall to their place.
  const byMessage = findings.map((f) => (shared.get(key(f))! > 1 ? { ...f, identity: `${f.identity} ${textHash(f.message.replace(BLANK_LABEL, '_:'))}` } : f));
  const still = count(byMessage);
  const seen = new Map<string, number>();
  return byMessage.map((f) => {
    if (still.get(key(f))! === 1) return f;
    const n = (seen.get(key(f)) ?? 0) + 1;
    seen.set(key(f), n);
    return { ...f, identity: `${f.identity} ~${n}` };
  });
}

/** A blank node's label as focusName and fillMessage write it. */
const BLANK_LABEL = /_:[A-Za-z0-9_.-]+/g;

function textHash(text: string): string {
  return `#${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

/**
 * A blank node by what it says: a hash of its sorted predicate/object pairs, nested blank nodes
 * as [] (their labels are as unstable as its own).
 */
function contentHash(store: Store, node: Term): string {
  const pairs = store.getQuads(node, null, null, null).map((q) => `${termToId(q.predicate)} ${q.object.termType === 'BlankNode' ? '[]' : termToId(q.object)}`);
  return textHash([...new Set(pairs)].sort(compareStrings).join('\n'));
}

/** A finding's focus: the node's IRI; a blank node has none, and "_:b0" (as N-Triples writes it) is not mistaken for a relative IRI. */
function focusName(node: Term): string {
  return node.termType === 'BlankNode' ? `_:${node.value}` : node.value;
}

/** What a message shows for a variable the row leaves unbound (an OPTIONAL that did not match). */
export const UNBOUND = '(none)';

/** `{?var}` → the row's value: an IRI as its local name, a literal as its text, UNBOUND when there is none. */
export function fillMessage(template: string, row: Record<string, Term>): string {
  return template.replace(PLACEHOLDER, (_whole, name: string) => {
    const term = row[name];
    if (!term) return UNBOUND;
    if (term.termType === 'NamedNode') return term.value.replace(/^.*[#/]/, '') || term.value;
    if (term.termType === 'BlankNode') return focusName(term);
    return term.value;
  });
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}))?$/i;

/**
 * An ISO 8601 instant as `--now` takes it: a date-time with seconds and a zone, `Z` or an offset
 * (`2027-01-01T00:00:00Z`, `2027-01-01T09:30:00.5+02:00`; RFC 3339's profile of ISO 8601), or a
 * bare date, which is that day's midnight UTC. Anything else (`1`, `March 3 2026`, a date-time
 * without a zone, which would be local time, `2026-02-30`) is undefined.
 */
export function parseInstant(text: string): Date | undefined {
  const m = INSTANT.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((v) => (v === undefined ? undefined : Number(v))) as number[];
  const ms = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  const utc = new Date(Date.UTC(year!, month! - 1, day!, hour, minute, second) + ms);
  // Date.UTC rolls 2026-02-30 over into March: a date or time out of range does not come back unchanged.
  if (year! < 1 || utc.getUTCFullYear() !== year || utc.getUTCMonth() !== month! - 1 || utc.getUTCDate() !== day || utc.getUTCHours() !== hour || utc.getUTCMinutes() !== minute || utc.getUTCSeconds() !== second) return undefined;
  const zone = m[8]?.toUpperCase();
  if (!zone || zone === 'Z') return utc;
  const [oh, om] = zone.slice(1).split(':').map(Number) as [number, number];
  if (oh > 23 || om > 59) return undefined;
  return new Date(utc.getTime() - (zone[0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000);
}

/** Does a finding of this severity reach the `--fail-on` threshold? */
export function failsOn(severity: Severity, failOn: 'error' | 'warning' | 'never'): boolean {
  if (failOn === 'never') return false;
  return SEVERITY_ORDER[severity] <= SEVERITY_ORDER[failOn];
}

