import { problem, type Problem } from '../errors.js';
import { positionAt, projectedVariableOffset, queryPrefixes, queryShape, sparqlTokens, type Token } from './scan.js';

// Errors of a query that lexes and parses: what the parser and the engine report without a
// location, and what gwgen checks on the parsed algebra itself (an ungrouped projection, SERVICE).

/**
 * The parser and the engine report some errors of a query that lexes and parses (a variable
 * bound twice, a VALUES row of the wrong width, a function the engine lacks) without a line,
 * in their own words ("no configured actor was able to evaluate function ..."). These put each
 * at its place in the user's text, in gwgen's words; undefined for any other message.
 */
export function semanticProblem(raw: string, text: string, origin: string): Problem | undefined {
  const tokens = sparqlTokens(text);
  const at = (token: Token | undefined, message: string, hint: string): Problem =>
    problem('query', `the SPARQL query is invalid: ${message}`, { location: { file: origin, ...(token ? positionAt(text, token.offset) : {}) }, hint });

  // Parser: "Variable used to bind is already bound (?x)"; engine: "Illegal binding to variable 'x' that has already been bound".
  const rebound = /^Variable used to bind is already bound \(\?(\S+)\)/.exec(raw)?.[1] ?? /^Illegal binding to variable '([^']+)' that has already been bound/.exec(raw)?.[1];
  if (rebound !== undefined) {
    const binds = tokens.flatMap((t, i) => (/^AS$/i.test(t.text) && tokens[i + 1]?.kind === 'var' && tokens[i + 1]!.text.slice(1) === rebound ? [tokens[i + 1]!] : []));
    // Of two `AS ?x`, the second is the one that binds it again.
    return at(binds[1] ?? binds[0], `?${rebound} is bound by AS, but it is already bound where that expression is evaluated`, `bind the value to a new variable (e.g. AS ?${rebound}2), or drop the earlier binding of ?${rebound}`);
  }

  const twice = /^Variable (\S+) used more than once in SELECT clause/.exec(raw)?.[1];
  if (twice !== undefined) {
    const uses = tokens.filter((t) => t.kind === 'var' && t.text.slice(1) === twice);
    return at(uses[1], `?${twice} is selected twice`, `list ?${twice} once in the SELECT clause`);
  }

  const width = /^Number of dataBlockValues does not match number of variables\. Too (few|many|much) values/.exec(raw)?.[1]?.replace('much', 'many');
  if (width !== undefined) {
    const values = tokens.find((t) => t.kind === 'name' && /^VALUES$/i.test(t.text));
    return at(values, `a row of VALUES has too ${width} values for its variables`, 'give each row in ( ) one value per variable, UNDEF for none');
  }

  if (raw.startsWith('GROUP BY not allowed with wildcard')) {
    const group = tokens.find((t, i) => /^GROUP$/i.test(t.text) && /^BY$/i.test(tokens[i + 1]?.text ?? ''));
    return at(group, 'SELECT * cannot be grouped: its rows would hold variables that are neither grouped nor aggregated', 'list what to select instead of *: the GROUP BY variables and aggregates of the others, e.g. SELECT ?r (COUNT(?p) AS ?n)');
  }

  // An ungrouped variable inside an expression of the SELECT clause: (CONCAT(?p, "x") AS ?q).
  const ungrouped = /^Use of ungrouped variable in projection of operation \(\?(\S+)\)/.exec(raw)?.[1];
  if (ungrouped !== undefined) {
    const select = tokens.findIndex((t) => /^SELECT$/i.test(t.text));
    const use = tokens.slice(select + 1).find((t) => t.kind === 'var' && t.text.slice(1) === ungrouped);
    return at(use, `?${ungrouped} is used in the SELECT clause, but the rows are grouped (by GROUP BY or an aggregate such as COUNT) and ?${ungrouped} is neither grouped nor aggregated`, `add ?${ungrouped} to GROUP BY, or use an aggregate of it, e.g. SAMPLE(?${ungrouped})`);
  }

  if (raw.startsWith('Aggregates are only allowed in SELECT, HAVING, and ORDER BY')) {
    // The clause an aggregate sits in is the last of these keywords before it.
    const clause = (index: number) => tokens.slice(0, index).findLast((t) => /^(SELECT|HAVING|ORDER|FILTER|BIND|GROUP)$/i.test(t.text))?.text.toUpperCase();
    const misplaced = aggregateCalls(tokens).find((i) => !['SELECT', 'HAVING', 'ORDER'].includes(clause(i) ?? 'SELECT'));
    const name = misplaced !== undefined ? tokens[misplaced]!.text.toUpperCase() : 'an aggregate';
    return at(misplaced !== undefined ? tokens[misplaced] : undefined, `${name} is used in ${misplaced !== undefined ? clause(misplaced) : 'a clause'}, but aggregates are only allowed in SELECT, HAVING and ORDER BY`, 'filter on an aggregate with HAVING after GROUP BY (e.g. GROUP BY ?r HAVING (COUNT(?p) > 1)), or compute it in a subquery');
  }

  if (raw.startsWith('An aggregate function is not allowed within an aggregate function')) {
    const calls = aggregateCalls(tokens);
    // The inner call: one that starts before an earlier call's parentheses close.
    const inner = calls.find((i) => calls.some((outer) => outer < i && closingParen(tokens, outer + 1) > i));
    return at(inner !== undefined ? tokens[inner] : undefined, 'an aggregate is nested in another aggregate', 'aggregate in a subquery first (SELECT ?r (COUNT(?p) AS ?n) ... GROUP BY ?r), then aggregate its ?n in the outer query');
  }

  const reused = /^Detected reuse of blank node across two different basic graph patterns \((_:\S+)\)/.exec(raw)?.[1];
  if (reused !== undefined) {
    const uses = tokens.filter((t) => t.kind === 'name' && t.text === reused);
    const name = reused.slice(2).replace(/[^\w]/g, '') || 'x';
    return at(uses[1] ?? uses[0], `the blank node ${reused} is used in two different groups { }: a blank node label names a node within one group only`, `write a variable instead (?${name}), which joins across groups`);
  }

  const fn = /no configured actor was able to evaluate function (\S+)/.exec(raw)?.[1];
  if (fn !== undefined) {
    // Written as <iri> or as a prefixed name; the first call of it is where it is reported.
    const prefixes = queryPrefixes(tokens);
    const call = tokens.find((t, i) => tokens[i + 1]?.text === '(' && (t.text === `<${fn}>` || expand(t, prefixes) === fn));
    return at(call, `<${fn}> is not a function the engine has`, "use SPARQL 1.1's functions (STR, REGEX, CONCAT, STRSTARTS, ...) or an XSD cast such as xsd:integer(?v)");
  }
  return undefined;
}

const AGGREGATE = /^(COUNT|SUM|MIN|MAX|AVG|SAMPLE|GROUP_CONCAT)$/i;

/** The indexes of the tokens that call an aggregate (`COUNT (`), in order. */
function aggregateCalls(tokens: readonly Token[]): number[] {
  return tokens.flatMap((t, i) => (t.kind === 'name' && AGGREGATE.test(t.text) && tokens[i + 1]?.text === '(' ? [i] : []));
}

/** The index of the ")" that closes the "(" at `open`; the token count when none does. */
function closingParen(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (tokens[i]!.text === '(') depth++;
    else if (tokens[i]!.text === ')' && --depth === 0) return i;
  }
  return tokens.length;
}

/** A prefixed name's IRI, by the prefixes in force for the query (queryPrefixes). */
function expand(token: Token, prefixes: Readonly<Record<string, string>>): string | undefined {
  if (token.kind !== 'name' || !token.text.includes(':')) return undefined;
  const colon = token.text.indexOf(':');
  const ns = prefixes[token.text.slice(0, colon)];
  return ns === undefined ? undefined : ns + token.text.slice(colon + 1);
}

type Node = { type?: string; input?: unknown; variable?: { value: string }; variables?: Array<{ value: string }>; aggregates?: Array<{ variable: { value: string } }> };

/**
 * A variable a grouped SELECT (GROUP BY, or an aggregate without one) projects although it is
 * neither grouped nor bound from an aggregate (`SELECT ?r (COUNT(*) AS ?n) WHERE { ... }`).
 * The algebra of a grouped SELECT is project → (orderby, extend, filter for HAVING)* → group.
 */
export function ungroupedProjection(node: unknown): string | undefined {
  if (Array.isArray(node)) return node.map(ungroupedProjection).find((v) => v !== undefined);
  if (node === null || typeof node !== 'object' || typeof (node as { termType?: unknown }).termType === 'string') return undefined;
  const op = node as Node;
  if (op.type === 'project' && op.variables) {
    const bound = new Set<string>();
    let below = op.input as Node | undefined;
    while (below && (below.type === 'extend' || below.type === 'filter' || below.type === 'orderby')) {
      if (below.type === 'extend' && below.variable) bound.add(below.variable.value);
      below = below.input as Node | undefined;
    }
    if (below?.type === 'group') {
      for (const v of below.variables ?? []) bound.add(v.value);
      for (const a of below.aggregates ?? []) bound.add(a.variable.value);
      const missing = op.variables.find((v) => !bound.has(v.value));
      if (missing) return missing.value;
    }
  }
  return Object.values(node).map(ungroupedProjection).find((v) => v !== undefined);
}

export function ungroupedProblem(name: string, text: string, origin: string): Problem {
  // Of the SELECT clauses projecting it (a subquery's may), the one that aggregates.
  const offset = projectedVariableOffset(text, name, (clause) => clause.some((t) => t.kind === 'name' && /^(COUNT|SUM|MIN|MAX|AVG|SAMPLE|GROUP_CONCAT)$/i.test(t.text)));
  return problem('query', `the SPARQL query is invalid: ?${name} is selected, but the rows are grouped (by GROUP BY or an aggregate such as COUNT) and ?${name} is neither grouped nor aggregated`, {
    location: { file: origin, ...(offset !== undefined ? positionAt(text, offset) : {}) },
    hint: `add ?${name} to GROUP BY (GROUP BY ?${name}), or select an aggregate of it, e.g. (SAMPLE(?${name}) AS ?any)`,
  });
}

/** Whether the algebra holds a SERVICE operation anywhere (in a subquery, an OPTIONAL, ...). */
export function containsService(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(containsService);
  if (node === null || typeof node !== 'object') return false;
  if ((node as { type?: unknown }).type === 'service') return true;
  // RDF terms hold no operations; skipping them keeps the walk to the algebra.
  if (typeof (node as { termType?: unknown }).termType === 'string') return false;
  return Object.values(node).some(containsService);
}

/** A variable the top-level SELECT projects that its GROUP BY does not list, read from the tokens. */
export function ungroupedByText(text: string): string | undefined {
  const shape = queryShape(text);
  if (!Array.isArray(shape.projection)) return undefined;
  const tokens = sparqlTokens(text);
  const start = tokens.findIndex((t, i) => /^GROUP$/i.test(t.text) && /^BY$/i.test(tokens[i + 1]?.text ?? ''));
  if (start < 0) return undefined;
  const grouped = new Set<string>();
  let depth = 0;
  for (const t of tokens.slice(start + 2)) {
    if (depth === 0 && (t.text === '}' || /^(HAVING|ORDER|LIMIT|OFFSET|VALUES)$/i.test(t.text))) break;
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    // (expr AS ?v) groups by ?v; a bare ?v groups by itself.
    if (t.kind === 'var') grouped.add(t.text.slice(1));
  }
  const aliases = new Set(tokens.flatMap((t, i) => (/^AS$/i.test(t.text) && tokens[i + 1]?.kind === 'var' ? [tokens[i + 1]!.text.slice(1)] : [])));
  return shape.projection.find((v) => !grouped.has(v) && !aliases.has(v));
}
