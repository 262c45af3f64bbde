import { isUtf8 } from 'node:buffer';
import { readFile, realpath, stat } from 'node:fs/promises';
import { relative, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DataFactory, Lexer, Parser, Store, type Quad, type Term } from 'n3';
import { problem, type Problem, type SourceLocation } from '../errors.js';
import { shorten } from '../paths.js';

/** A Turtle document and the name it is reported under. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/** Finds where a node is defined, for messages that say file:line. */
export interface Locator {
  locate(term: Term): SourceLocation;
  /**
   * Where a statement of the node first gives the property (the predicate's position), when a
   * statement with the node as its subject does: `ex:r1 agw:auditSuppress "…"`, perhaps in
   * another file than the node's definition, or inside the node's `[ … ]`. Undefined otherwise.
   */
  locateProperty(term: Term, predicate: string): SourceLocation | undefined;
  /** Where an IRI starting with `start` is first written out in full (`<…>`, a @prefix line as a rule). */
  locateIri(start: string): SourceLocation | undefined;
}

export interface LoadedModel {
  /** The user's triples only (ontology not merged): what validation and queries look at. */
  readonly store: Store;
  readonly sources: readonly SourceFile[];
  readonly locator: Locator;
}

export type LoadResult = { ok: true; model: LoadedModel } | { ok: false; problems: Problem[] };

/**
 * Reads model files; a missing file is a usage problem (exit 2), not a model problem. A file
 * named twice (`gwgen validate model.ttl *.ttl`, `./a.ttl a.ttl`, a symbolic or hard link to it) is read once:
 * read twice, each of its blank nodes would be two nodes (`_:x` is scoped to its file), and a
 * route with one anonymous rate limiter would have two.
 */
export async function readSources(paths: readonly string[], cwd = process.cwd()): Promise<{ sources: SourceFile[]; problems: Problem[] }> {
  const sources: SourceFile[] = [];
  const problems: Problem[] = [];
  const seen = new Set<string>();
  if (paths.length === 0) problems.push(problem('usage', 'no model file given', { hint: 'pass one or more Turtle files, e.g. gwgen validate model.ttl' }));
  for (const path of paths) {
    const identity = await fileIdentity(path);
    if (seen.has(identity)) continue;
    seen.add(identity);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const what = code === 'ENOENT' ? `model file not found: ${path}` : code === 'EISDIR' ? `the model file ${path} is a directory` : `cannot read model file ${path}: ${readFailure(err)}`;
      problems.push(
        problem('file-not-found', what, {
          location: { file: path },
          hint:
            code === 'EISDIR'
              ? `name the Turtle files in it, e.g. ${path.replace(/[\\/]+$/, '')}/*.ttl`
              : code === 'EACCES' || code === 'EPERM'
                ? `let this user read it (ls -l ${path}; chmod a+r, or run as its owner)`
                : 'check the path; model files are Turtle (.ttl)',
        }),
      );
      continue;
    }
    const file = displayPath(path, cwd);
    const decoded = decodeUtf8(file, bytes, 'Turtle files');
    if ('text' in decoded) sources.push({ path: file, text: decoded.text });
    else problems.push(decoded.problem);
  }
  return { sources, problems };
}

/**
 * What makes two paths one file: its device and inode, which a hard link shares too (its real
 * path does not); the real path where it cannot be stat-ed (then reading it fails anyway).
 */
export async function fileIdentity(path: string): Promise<string> {
  const st = await stat(path, { bigint: true }).catch(() => undefined);
  return st ? `${st.dev}:${st.ino}` : await realpath(path).catch(() => resolvePath(path));
}

/** What a kind of file is, in the messages about its encoding. */
export type TextKind = 'Turtle files' | 'SPARQL query files' | 'audit rule files';

/**
 * A file's bytes as text, or why they are not UTF-8 text. Turtle and SPARQL are UTF-8: decoding
 * another encoding would turn its bytes into U+FFFD and, say, an issuer "café" in Latin-1 into
 * one no token ever matches (a model's policy that silently does not apply, a query or an audit
 * rule that silently finds nothing): the file is refused at its first byte that is not UTF-8.
 */
export function decodeUtf8(file: string, bytes: Buffer, kind: TextKind): { text: string } | { problem: Problem } {
  return isUtf8(bytes) ? { text: bytes.toString('utf8') } : { problem: notUtf8(file, bytes, kind) };
}

function notUtf8(file: string, bytes: Buffer, kind: TextKind): Problem {
  // Windows editors save "Unicode" as UTF-16 with a byte order mark: say so, and how to convert.
  const utf16 = bytes[0] === 0xff && bytes[1] === 0xfe ? 'UTF-16LE' : bytes[0] === 0xfe && bytes[1] === 0xff ? 'UTF-16BE' : undefined;
  if (utf16) {
    return problem('syntax', `the file is ${utf16} text: ${kind} are UTF-8`, { location: { file, line: 1, column: 1 }, hint: `convert the file to UTF-8, e.g. iconv -f ${utf16} -t utf-8 (or save it as UTF-8 in the editor)` });
  }
  let start = 0;
  let line = 1;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    const row = bytes.subarray(start, end === -1 ? bytes.length : end);
    if (!isUtf8(row) || end === -1) {
      const column = row.toString('utf8').indexOf('\uFFFD') + 1;
      return problem('syntax', `the file is not UTF-8 text: ${kind} are UTF-8`, {
        location: { file, line, ...(column > 0 ? { column } : {}) },
        hint: 'convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8',
      });
    }
    start = end + 1;
    line++;
  }
}

/** Why a file cannot be read, in words: the errno codes a user meets, else Node's message. */
export function readFailure(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'a loop of symbolic links';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    default:
      return e.code ?? String(err);
  }
}

function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') ? rel : path;
}

/** Parses every source into one store. All syntax errors of all files are reported, one per file. */
export function parseSources(sources: readonly SourceFile[], options: { locate?: boolean } = {}): LoadResult {
  // Finding where each subject is defined lexes the text a second time, so it is done on the
  // first locate() only (a valid model being generated never asks); callers that never report a
  // location (the query worker, `gwgen query`) have no locator to speak of.
  const locate = options.locate ?? true;
  const store = new Store();
  const problems: Problem[] = [];
  const factory = blankNodesPerParse();
  for (const [index, source] of sources.entries()) {
    const baseIRI = pathToFileURL(source.path).href;
    let quads: Quad[];
    try {
      // `_:x` is scoped to its file: two files' `_:x` are two nodes.
      quads = new Parser({ baseIRI, format: 'text/turtle', factory, blankNodePrefix: blankPrefix(index) }).parse(source.text);
    } catch (err) {
      problems.push(syntaxProblem(source, err));
      continue;
    }
    store.addQuads(quads);
  }
  if (problems.length > 0) return { ok: false, problems };
  if (store.size === 0) {
    return {
      ok: false,
      problems: [
        problem('empty-model', 'the model is empty: no triples were found', {
          location: { file: sources.map((s) => s.path).join(', ') },
          hint: 'describe at least an agw:ApiGateway with a route; `gwgen init` writes a starter model',
        }),
      ],
    };
  }
  let statements: Statements | undefined;
  const lines = (): Statements => {
    if (statements === undefined) {
      statements = { definitions: new Map(), properties: new Map(), typed: new Set() };
      if (locate) for (const [index, source] of sources.entries()) recordSubjectLines(source, index, pathToFileURL(source.path).href, statements);
    }
    return statements;
  };
  let anonymous: AnonymousStatements | undefined;
  const anonymousLines = (): AnonymousStatements => {
    anonymous ??= locate ? recordAnonymousNodes(sources) : { nodes: new Map(), properties: new Map() };
    return anonymous;
  };
  const locateIri = (start: string) => (locate ? firstIri(sources, start) : undefined);
  return { ok: true, model: { store, sources, locator: { ...makeLocator(store, lines, anonymousLines), locateIri } } };
}

/** The blank-node prefix of the index-th source: `_:x` is scoped to its file. */
const blankPrefix = (index: number) => `f${index}_`;

/**
 * Blank nodes are labelled per parse (b0, b1 … and f<file>_<label>), not from N3's
 * process-wide counters: the main thread and the query worker parse the same text apart and
 * must agree on the labels (a query's answer names nodes the main thread looks up), and a
 * long-running process (`gwgen watch`, a library user) must label a model alike on every run.
 */
function blankNodesPerParse(onAnonymous?: (label: string) => void): typeof DataFactory {
  let next = 0;
  return {
    ...DataFactory,
    blankNode: (name?: string) => {
      if (name !== undefined) return DataFactory.blankNode(name);
      const label = `b${next++}`;
      onAnonymous?.(label);
      return DataFactory.blankNode(label);
    },
  };
}

/** n3 2.13's parse() with its documented `onToken`/`onTokenEnd` callbacks, which @types/n3 does not know yet. */
type Token = { line: number; start?: number };
type ParseWithTokens = (input: string, callbacks: { onToken: (token: Token) => void; onTokenEnd: (token: Token) => void }) => Quad[];

/** Where anonymous nodes start, and where each of their properties is first given. */
interface AnonymousStatements {
  readonly nodes: Map<string, SourceLocation>;
  /** `<label> <predicate>` → the predicate's token inside the node's `[ … ]`. */
  readonly properties: Map<string, SourceLocation>;
}

/**
 * Where each anonymous node (`[ … ]`, a list cell) starts, and where each of its properties is
 * written: the sources are parsed again exactly as parseSources did, so the nodes get the same
 * labels, and each label is mapped to the token the parser was reading when it made the node
 * (the `[` or the list item). Done on the first locate() of a blank node only: it costs a
 * second parse.
 */
function recordAnonymousNodes(sources: readonly SourceFile[]): AnonymousStatements {
  const nodes = new Map<string, SourceLocation>();
  const properties = new Map<string, SourceLocation>();
  let at: SourceLocation | undefined;
  const factory = blankNodesPerParse((label) => {
    if (at) nodes.set(label, at);
  });
  for (const [index, source] of sources.entries()) {
    const parser = new Parser({ baseIRI: pathToFileURL(source.path).href, format: 'text/turtle', factory, blankNodePrefix: blankPrefix(index) });
    // The parser's current subject and predicate (n3 is pinned: these are its fields). A
    // subject-predicate pair is current from its predicate token on, so the token after which
    // a pair is first current is where that property is written.
    const state = parser as unknown as { _subject?: Term | null; _predicate?: Term | null };
    const column = columns(source.text);
    (parser.parse as unknown as ParseWithTokens).call(parser, source.text, {
      onToken: (token) => {
        at = { file: source.path, line: token.line, column: column(token.line, token.start ?? 0) };
      },
      onTokenEnd: () => {
        const subject = state._subject;
        const predicate = state._predicate;
        if (subject?.termType !== 'BlankNode' || !predicate || !at) return;
        const key = `${subject.value} ${predicate.value}`;
        if (!properties.has(key)) properties.set(key, at);
      },
    });
  }
  return { nodes, properties };
}

/** Line ends as N3 counts them: CRLF, LF, and a CR alone. */
const LINE_END = /\r\n|\r|\n/;

/**
 * The column (1-based, in characters as editors count them, as a query's columns are) of N3's
 * position in a text: N3 counts UTF-16 units (an emoji is two) and, after a byte order mark,
 * counts the mark too on line 1, which no editor shows. Asked once per token: each line's
 * astral characters are found once, and counted before a position by binary search (a model
 * written on one long line has one token per few characters).
 */
function columns(text: string): (line: number, start: number) => number {
  let lines: string[] | undefined;
  const astral = new Map<number, number[]>();
  return (line, start) => {
    lines ??= text.split(LINE_END);
    let pairs = astral.get(line);
    if (pairs === undefined) {
      pairs = [...(lines[line - 1] ?? '').matchAll(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)].map((m) => m.index);
      astral.set(line, pairs);
    }
    // How many pairs start before `start`: each is one character in two units.
    let lo = 0;
    let hi = pairs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pairs[mid]! < start) lo = mid + 1;
      else hi = mid;
    }
    const bom = line === 1 && start > 0 && text.startsWith('\uFEFF') ? 1 : 0;
    return start - lo - bom + 1;
  };
}

function syntaxProblem(source: SourceFile, err: unknown): Problem {
  const e = err as Error & { context?: { line?: number; token?: { start?: number }; previousToken?: { line?: number; end?: number } } };
  const line = e.context?.line;
  let start = e.context?.token?.start;
  if (start === undefined && line !== undefined) {
    // A lexer error ("Unexpected ..." such as an unclosed quote) has no token: it starts at the
    // unexpected text, after the previous token when that is on the same line.
    const text = source.text.split(LINE_END)[line - 1] ?? '';
    const after = e.context?.previousToken?.line === line ? (e.context.previousToken.end ?? 0) : 0;
    const unexpected = /^Unexpected "([\s\S]*)" on line/.exec(e.message ?? '')?.[1];
    const at = unexpected ? text.indexOf(unexpected.slice(0, 20), after) : -1;
    start = at >= 0 ? at : text.slice(after).search(/\S/) >= 0 ? after + text.slice(after).search(/\S/) : undefined;
  }
  // N3 ends its messages with " on line N." — the location already says that.
  const message = (e.message ?? String(err)).replace(/ on line \d+\.?$/, '');
  return problem('syntax', `Turtle syntax error: ${message}`, {
    location: { file: source.path, ...(line !== undefined ? { line } : {}), ...(line !== undefined && start !== undefined ? { column: columns(source.text)(line, start) } : {}) },
    hint: 'fix the Turtle syntax at this position (a missing "." or ";", an unclosed quote or an undeclared prefix are the usual causes)',
  });
}

const RDF_TYPE = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#type';

/** What the statements of the model files say about where things are written. */
interface Statements {
  /** Each named (or `_:x`) node: where it is defined. */
  readonly definitions: Map<string, SourceLocation>;
  /** `<node> <predicate>` → the first predicate token of that node's statements that names it. */
  readonly properties: Map<string, SourceLocation>;
  /** The nodes whose definition is a statement that types them, across the files. */
  readonly typed: Set<string>;
}

/**
 * The parser does not tell where a triple came from, so the lexer's tokens are walked once:
 * the first token of each statement is its subject. A node is defined where a statement gives
 * its class (`ex:r1 a agw:Route`), in whichever file: one that only adds to it elsewhere, such as
 * `ex:r1 agw:auditSuppress "…"` in a suppressions file given first, is not where a finding or a
 * problem about the route belongs. A node no statement types is at its first subject statement.
 */
function recordSubjectLines(source: SourceFile, index: number, baseIRI: string, { definitions: out, properties, typed }: Statements): void {
  const prefixes = new Map<string, string>();
  let base = baseIRI;
  let atStatementStart = true;
  let directive: string | undefined;
  let pendingPrefix: string | undefined;
  // The statement's subject, and whether the next token at its own level is a predicate of it.
  let subject: { iri: string; at: SourceLocation } | undefined;
  let depth = 0;
  let atPredicate = false;
  const column = columns(source.text);
  for (const token of new Lexer().tokenize(source.text) as Array<{ type: string; value: string; prefix?: string; line: number; start?: number }>) {
    if (directive) {
      if (token.type === 'prefix') pendingPrefix = token.value;
      else if (token.type === 'IRI') {
        const iri = resolve(token.value, base);
        if (directive.toLowerCase().endsWith('prefix') && pendingPrefix !== undefined) prefixes.set(pendingPrefix, iri);
        else base = iri;
        directive = undefined;
        pendingPrefix = undefined;
        atStatementStart = true;
      }
      continue;
    }
    if (token.type === '.') {
      atStatementStart = true;
      subject = undefined;
      depth = 0;
      atPredicate = false;
      continue;
    }
    if (!atStatementStart) {
      if (['[', '(', '{|', '<<', '<<('].includes(token.type)) depth++;
      else if ([']', ')', '|}', '>>', ')>>'].includes(token.type)) depth = Math.max(0, depth - 1);
      else if (depth === 0 && token.type === ';') atPredicate = true;
      else if (depth === 0 && atPredicate) {
        atPredicate = false;
        const predicate = token.type === 'abbreviation' && token.value === 'a' ? RDF_TYPE : token.type === 'IRI' ? resolve(token.value, base) : token.type === 'prefixed' ? (prefixes.get(token.prefix ?? '') ?? '') + token.value : undefined;
        if (predicate === undefined || !subject) continue;
        const key = `${subject.iri} ${predicate}`;
        if (!properties.has(key)) properties.set(key, { file: source.path, line: token.line, column: column(token.line, token.start ?? 0) });
        if (predicate === RDF_TYPE && !typed.has(subject.iri)) {
          typed.add(subject.iri);
          out.set(subject.iri, subject.at);
        }
      }
      continue;
    }
    atStatementStart = false;
    if (['@prefix', '@base', 'PREFIX', 'BASE'].includes(token.type)) {
      directive = token.type;
      continue;
    }
    let iri: string | undefined;
    if (token.type === 'IRI') iri = resolve(token.value, base);
    else if (token.type === 'prefixed') {
      const ns = prefixes.get(token.prefix ?? '');
      if (ns !== undefined) iri = ns + token.value;
    }
    // `_:cors a agw:CorsPolicy …`: keyed by the store's label of the node (see blankPrefix).
    else if (token.type === 'blank') iri = blankPrefix(index) + token.value;
    if (iri !== undefined) {
      subject = { iri, at: { file: source.path, line: token.line, column: column(token.line, token.start ?? 0) } };
      if (!out.has(iri)) out.set(iri, subject.at);
      atPredicate = true;
    } else if (['[', '(', '<<', '<<('].includes(token.type)) depth++;
  }
}

/**
 * An IRI token resolved as n3 resolves it when it builds the store, so the key is the store's
 * IRI: `new URL()` would normalize it (`ré` percent-encoded, a host lower-cased, a default port
 * dropped), and such a node would never be located. n3 does not export its resolver.
 */
const iriResolver = new Parser() as unknown as { _setBase(base: string): void; _resolveIRI(iri: string): string | null };
let resolverBase: string | undefined;
function resolve(iri: string, base: string): string {
  if (base !== resolverBase) {
    iriResolver._setBase(base);
    resolverBase = base;
  }
  return iriResolver._resolveIRI(iri) ?? iri;
}

/** The first IRI token, across the sources, whose text starts with `start`: comments and strings are not IRIs. */
function firstIri(sources: readonly SourceFile[], start: string): SourceLocation | undefined {
  for (const source of sources) {
    const column = columns(source.text);
    for (const token of new Lexer().tokenize(source.text) as Array<{ type: string; value: string; line: number; start?: number }>) {
      if (token.type === 'IRI' && token.value.startsWith(start)) return { file: source.path, line: token.line, column: column(token.line, token.start ?? 0) };
    }
  }
  return undefined;
}

function makeLocator(store: Store, statements: () => Statements, anonymous: () => AnonymousStatements): Omit<Locator, 'locateIri'> {
  const definitions = () => statements().definitions;
  const locate = (term: Term, depth = 0): SourceLocation => {
    if (term.termType === 'NamedNode') return { ...definitions().get(term.value), node: term.value };
    if (term.termType !== 'BlankNode') return { node: term.value };
    // Where the node itself is written: `_:x` as a subject, or the `[` that opens it.
    const own = definitions().get(term.value) ?? anonymous().nodes.get(term.value);
    if (depth < 8) {
      // A blank node has no name users know: describe it by the path that reaches it.
      const [parent] = store.getQuads(null, null, term, null);
      if (parent) {
        const at = locate(parent.subject, depth + 1);
        return { ...at, ...own, node: `${describe(at.node ?? '[]')} ${shorten(parent.predicate.value)} []` };
      }
    }
    return { ...own, node: '[]' };
  };
  return {
    locate: (term) => locate(term),
    locateProperty: (term, predicate) => {
      if (term.termType !== 'NamedNode' && term.termType !== 'BlankNode') return undefined;
      const key = `${term.value} ${predicate}`;
      const at = statements().properties.get(key) ?? (term.termType === 'BlankNode' ? anonymous().properties.get(key) : undefined);
      return at && { ...locate(term), ...at };
    },
  };
}

function describe(node: string): string {
  return node.includes(' ') || node.startsWith('[') ? node : `<${node}>`;
}
