import { problem, type Problem } from '../errors.js';
import { PREFIXES } from '../paths.js';
import { positionAt, sparqlTokens, type Token } from './scan.js';

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

  const fn = /no configured actor was able to evaluate function (\S+)/.exec(raw)?.[1];
  if (fn !== undefined) {
    // Written as <iri> or as a prefixed name; the first call of it is where it is reported.
    const call = tokens.find((t, i) => tokens[i + 1]?.text === '(' && (t.text === `<${fn}>` || expand(t, tokens) === fn));
    return at(call, `<${fn}> is not a function the engine has`, "use SPARQL 1.1's functions (STR, REGEX, CONCAT, STRSTARTS, ...) or an XSD cast such as xsd:integer(?v)");
  }
  return undefined;
}

/** A prefixed name's IRI, with the query's PREFIX lines over the predeclared prefixes. */
function expand(token: Token, tokens: readonly Token[]): string | undefined {
  if (token.kind !== 'name' || !token.text.includes(':')) return undefined;
  const colon = token.text.indexOf(':');
  const prefix = token.text.slice(0, colon);
  const declared = tokens.findLast((t, i) => /^PREFIX$/i.test(t.text) && tokens[i + 1]?.text === `${prefix}:` && tokens[i + 2]?.kind === 'iri');
  const ns = declared ? tokens[tokens.indexOf(declared) + 2]!.text.slice(1, -1) : PREFIXES[prefix];
  return ns === undefined ? undefined : ns + token.text.slice(colon + 1);
}
