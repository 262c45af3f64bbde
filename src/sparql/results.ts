import type { Term } from 'n3';
import stringWidth from 'string-width';
import { visible } from '../errors.js';
import { jsonLiteral } from '../pipeline/helpers.js';
import type { QueryOutcome, ResultTerm } from './engine.js';

/** W3C SPARQL 1.1 Query Results JSON Format. */
export function toSparqlJson(outcome: QueryOutcome): string {
  if (outcome.kind === 'boolean') return `${jsonLiteral({ head: {}, boolean: outcome.value }, 2)}\n`;
  // Each binding lists its variables in head.vars order (the engine's order is its own), so a
  // reader sees the columns of the SELECT; an unbound variable is left out, as the format says.
  const bindings = outcome.rows.map((row) => Object.fromEntries(outcome.variables.flatMap((v) => (row[v] ? [[v, termJson(row[v] as ResultTerm)]] : []))));
  return `${jsonLiteral({ head: { vars: outcome.variables }, results: { bindings } }, 2)}\n`;
}

/**
 * A term as the JSON format writes it. A model in Turtle 1.2 (or TRIPLE() in a query) yields
 * triple terms and literals with a base direction, which SPARQL 1.1 cannot express: they are
 * written as SPARQL 1.2 writes them (`"type": "triple"`, `"its:dir"`), not dropped.
 */
function termJson(term: ResultTerm): Record<string, unknown> {
  switch (term.termType) {
    case 'NamedNode':
      return { type: 'uri', value: term.value };
    case 'BlankNode':
      return { type: 'bnode', value: term.value };
    case 'Literal': {
      const lit = term as Term & { language: string; direction?: string; datatype: Term };
      if (lit.language) return { type: 'literal', value: term.value, 'xml:lang': lit.language, ...(lit.direction ? { 'its:dir': lit.direction } : {}) };
      if (lit.datatype && lit.datatype.value !== 'http://www.w3.org/2001/XMLSchema#string') return { type: 'literal', value: term.value, datatype: lit.datatype.value };
      return { type: 'literal', value: term.value };
    }
    case 'Quad':
      return { type: 'triple', value: { subject: termJson(term.subject), predicate: termJson(term.predicate), object: termJson(term.object) } };
    default:
      return { type: 'literal', value: term.value };
  }
}

/**
 * A triple term in the CSV and table formats, as SPARQL 1.2 CSV writes it: `<<( s p o )>>`,
 * each part as its own cell would show it, a literal object in quotes so that its end is seen.
 */
function tripleText(term: ResultTerm, part: (t: Term) => string): string {
  if (term.termType !== 'Quad') return part(term);
  const object = term.object.termType === 'Literal' ? `"${part(term.object).replace(/"/g, '""')}"` : tripleText(term.object, part);
  return `<<( ${tripleText(term.subject, part)} ${tripleText(term.predicate, part)} ${object} )>>`;
}

const csvText = (t: Term) => (t.termType === 'BlankNode' ? `_:${t.value}` : t.value);

/** W3C SPARQL 1.1 Query Results CSV Format: plain values, CRLF line ends, RFC 4180 quoting. */
export function toSparqlCsv(outcome: QueryOutcome): string {
  const cell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  if (outcome.kind === 'boolean') return `_askResult\r\n${outcome.value}\r\n`;
  const lines = [outcome.variables.map(cell).join(',')];
  for (const row of outcome.rows) {
    lines.push(outcome.variables.map((v) => { const t = row[v]; return t ? cell(tripleText(t as ResultTerm, csvText)) : ''; }).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** An aligned text table (aligned in terminal columns, see string-width), IRIs shortened with the given prefixes. */
export function toTable(outcome: QueryOutcome, shorten: (iri: string) => string): string {
  if (outcome.kind === 'boolean') return `${outcome.value}\n`;
  // One row per line: line breaks and tabs become spaces; any other control character (an ESC
  // from the model would drive the terminal) or bidirectional override is shown as \uXXXX.
  const text = (t: Term) => (t.termType === 'NamedNode' ? shorten(t.value) : t.termType === 'BlankNode' ? `_:${t.value}` : t.value.replace(/\r\n|[\r\n\t]/g, ' '));
  const show = (t: ResultTerm | undefined) => visible(!t ? '' : tripleText(t, text));
  const header = outcome.variables.map((v) => `?${v}`);
  const body = outcome.rows.map((row) => outcome.variables.map((v) => show(row[v])));
  // Columns as the terminal shows them: a CJK character or an emoji takes two, a combining mark none.
  const widths = header.map((h, i) => Math.max(stringWidth(h), ...body.map((r) => stringWidth(r[i]!))));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(widths[i]! - stringWidth(c))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const count = `${body.length} row${body.length === 1 ? '' : 's'}`;
  return `${[line(header), rule, ...body.map(line)].join('\n')}\n${count}\n`;
}
