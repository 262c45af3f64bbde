import { existsSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import stringWidth from 'string-width';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BIN, gwgen, tempDir } from './helpers.js';

/** `gwgen query` and `gwgen validate` from outside: real files, the built CLI as a process. */

const STACK = /\n\s+at |comunica\.cjs|node:internal/;

const MODEL = `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex: <https://example.org/t#> .
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:r1 .
ex:r1 a agw:Route ; agw:routePath "/a" ; agw:hasBackendService ex:s .
ex:s a agw:BackendService ; agw:serviceName "svc" .
`;

function files(entries: Record<string, string | Buffer>): string {
  const dir = tempDir('gwgen-query-');
  for (const [name, text] of Object.entries(entries)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe('gwgen query: an expression that fails while the query runs', () => {
  // An invalid REGEX pattern fails on every row: the first failure used to be reported and the
  // next ones crashed the process with Comunica's stack trace (the audit worker died the same way).
  // Located at the function's first call.
  it.each([
    ['SELECT, a FILTER on every row', 'SELECT ?x WHERE { ?x ?p ?o FILTER(REGEX(STR(?o), "(")) }', '1:35'],
    ['ASK', 'ASK { ?x ?p ?o FILTER(REGEX(STR(?o), "(")) }', '1:23'],
    ['a projected expression', 'SELECT (REGEX("a", "(") AS ?x) WHERE {}', '1:9'],
  ])('%s: exit 1, one clear problem, no stack trace', async (_name, text, at) => {
    const dir = files({ 'm.ttl': MODEL });
    const r = await gwgen(['query', 'm.ttl', '-e', text], { cwd: dir });
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).toBe(`-e:${at}: error: the query failed while running: Invalid regular expression: /(/u: Unterminated group\n  hint: fix the REGEX or REPLACE pattern: it is read as a JavaScript regular expression; a pattern from the model that may be invalid cannot be filtered on here`);
    expect(r.stdout).toBe('');
    expect(r.exitCode).toBe(1);
  });

  it('IRI() of a relative IRI: exit 1, a hint about IRI(), not about REGEX', async () => {
    const dir = files({ 'm.ttl': MODEL });
    const r = await gwgen(['query', 'm.ttl', '-e', 'SELECT ?x WHERE { BIND(IRI("../x") AS ?x) }'], { cwd: dir });
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).toContain("-e:1:24: error: the query failed while running: Found invalid relative IRI '../x'");
    expect(r.stderr).toContain('hint: IRI() and URI() need an absolute IRI');
    expect(r.stderr).not.toContain('REGEX');
    expect(r.exitCode).toBe(1);
  });

  it('in an audit rule, the rule file is named (broken rule, exit 2), no stack trace', async () => {
    const rule = '# id: bad-regex\n# severity: error\n# title: t\n# message: m {?focus}\nSELECT ?focus WHERE { ?focus agw:routePath ?p FILTER(REGEX(?p, "(")) }\n';
    const dir = files({ 'm.ttl': MODEL, 'rules/bad.rq': rule });
    const r = await gwgen(['audit', 'm.ttl', '--rules', 'rules'], { cwd: dir });
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).toContain('rules/bad.rq:5:54: error: audit rule rules/bad.rq: the query failed while running: Invalid regular expression');
    expect(r.exitCode).toBe(2);
  });

  it('invalid REGEX flags: located, with the flags there are', async () => {
    const dir = files({ 'm.ttl': MODEL });
    const r = await gwgen(['query', 'm.ttl', '-e', 'SELECT ?x WHERE {\n  ?x agw:routePath ?p FILTER(REGEX(?p, "a", "zz")) }'], { cwd: dir });
    expect(r.stderr).toBe('-e:2:30: error: the query failed while running: Invalid flags\n  hint: REGEX and REPLACE take the flags i, m, s, x and q, each at most once, e.g. REGEX(?path, "^/api", "i")');
    expect(r.exitCode).toBe(1);
  });

  it.each([
    ['CONSTRUCT', 'CONSTRUCT WHERE { ?s ?p ?o }'],
    ['DESCRIBE', 'DESCRIBE <https://example.org/t#r1>'],
  ])('%s is refused by name (exit 1)', async (form, text) => {
    const dir = files({ 'm.ttl': MODEL });
    const r = await gwgen(['query', 'm.ttl', '-e', text], { cwd: dir });
    expect(r.stderr).toContain(`-e:1:1: error: only SELECT and ASK queries are supported; this is a ${form} query`);
    expect(r.exitCode).toBe(1);
  });
});

describe('gwgen query: a query file of another form, of declarations only, or not UTF-8 is located in the file', () => {
  // Before, the refusal of another form named the file without a line ("q.rq: error: ..."), the
  // declarations alone were "an update (an empty update)", and a Latin-1 file ran with its "é"
  // read as U+FFFD: a query that silently matched nothing.
  it.each([
    ['CONSTRUCT after PREFIX lines', 'PREFIX ex: <https://example.org/t#>\n\n  CONSTRUCT { ?r a ex:X } WHERE { ?r a agw:Route }\n', '3:3', 'only SELECT and ASK queries are supported; this is a CONSTRUCT query', 'rewrite the query as SELECT'],
    ['an update', '# add a route\nINSERT DATA { <urn:a> <urn:b> <urn:c> }\n', '2:1', 'only SELECT and ASK queries are supported; this is an update (INSERT/DELETE)', 'rewrite the query as SELECT'],
    // It does not parse either (a relative IRI): what it is comes first.
    ['an update that does not parse', 'INSERT DATA { <a> <b> <c> }\n', '1:1', 'only SELECT and ASK queries are supported; this is an update (INSERT/DELETE)', 'rewrite the query as SELECT'],
    ['a CONSTRUCT that does not parse', 'CONSTRUCT { ?s ?p } WHERE { ?s ?p ?o }\n', '1:1', 'only SELECT and ASK queries are supported; this is a CONSTRUCT query', 'rewrite the query as SELECT'],
    ['DESCRIBE', 'BASE <https://example.org/t>\nDESCRIBE <#r1>\n', '2:1', 'only SELECT and ASK queries are supported; this is a DESCRIBE query', 'rewrite the query as SELECT'],
    ['PREFIX lines without a query', 'PREFIX ex: <https://example.org/t#>\nPREFIX x: <urn:x#>\n', '2:19', 'the query has PREFIX or BASE declarations but no query after them', 'write the SELECT or ASK query after the declarations'],
  ])('%s', async (_name, text, where, message, hint) => {
    const dir = files({ 'm.ttl': MODEL, 'q.rq': text });
    const r = await gwgen(['query', 'm.ttl', 'q.rq'], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`q.rq:${where}: error: ${message}\n  hint: ${hint}`);
    expect(r.stderr).not.toContain('empty update');
  });

  it('a query file that is not UTF-8 is refused at its first such byte (exit 1), as a model file is', async () => {
    const latin1 = Buffer.concat([Buffer.from('SELECT ?r\nWHERE { ?r agw:routePath ?p . FILTER(?p != "/caf'), Buffer.from([0xe9]), Buffer.from('") }\n')]);
    const dir = files({ 'm.ttl': MODEL, 'q.rq': latin1 });
    const r = await gwgen(['query', 'm.ttl', 'q.rq'], { cwd: dir });
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('q.rq:2:49: error: the file is not UTF-8 text: SPARQL query files are UTF-8\n  hint: convert the file to UTF-8');
    expect(r.exitCode).toBe(1);
  });

  it('PREFIX with a name that lacks its colon says so, rather than suggesting an unrelated keyword', async () => {
    const dir = files({ 'm.ttl': MODEL });
    const r = await gwgen(['query', 'm.ttl', '-e', 'PREFIX ex <https://example.org/t#>\nSELECT ?r WHERE { ?r a ex:Route }'], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('-e:1:8: error: the SPARQL query does not parse: "ex" after PREFIX is not a prefix name: a prefix name ends with ":"\n  hint: write PREFIX ex: <https://example.org/ns#>');
    expect(r.stderr).not.toContain('did you mean');
  });
});

describe('text from a model never drives the terminal', () => {
  // An ESC starts an escape sequence (colours, clearing the screen, a window title), a CR
  // rewrites the line, U+202E shows text reversed: the table and stderr show them as \uXXXX.
  const model = `@prefix ex: <https://example.org/t#> .
ex:a ex:v "red\\u001b[31mX\\u001b[0m", "bell\\u0007", "rtl\\u202Eabc", "two\\r\\nlines", "日本🎉" .
`;

  it('the table escapes control characters and bidirectional overrides, and stays aligned', async () => {
    const dir = files({ 'm.ttl': model });
    const r = await gwgen(['query', 'm.ttl', '-e', 'SELECT ?v ?s WHERE { ?s <https://example.org/t#v> ?v } ORDER BY ?v'], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202E]/);
    const lines = r.stdout.split('\n');
    expect(lines.slice(2, 7).map((l) => l.split(/ {2,}/)[0])).toEqual(['bell\\u0007', 'red\\u001b[31mX\\u001b[0m', 'rtl\\u202eabc', 'two lines', '日本🎉']);
    // ?s starts in the same terminal column on every row (日本🎉 takes 6 columns).
    const column = (l: string) => stringWidth(l.slice(0, l.indexOf('https://')));
    expect(column(lines[6]!)).toBe(column(lines[0]!.replace('?s', 'https://')));
    expect(new Set(lines.slice(2, 7).map(column)).size).toBe(1);
  });

  it('JSON and CSV keep the values exact (their own escaping)', async () => {
    const dir = files({ 'm.ttl': model });
    const json = await gwgen(['query', 'm.ttl', '-e', 'SELECT ?v WHERE { ?s <https://example.org/t#v> ?v } ORDER BY ?v', '--format', 'json'], { cwd: dir });
    expect(JSON.parse(json.stdout).results.bindings.map((b: { v: { value: string } }) => b.v.value)).toEqual(['bell\u0007', 'red\u001b[31mX\u001b[0m', 'rtl\u202Eabc', 'two\r\nlines', '日本🎉']);
    const csv = await gwgen(['query', 'm.ttl', '-e', 'SELECT ?v WHERE { ?s <https://example.org/t#v> ?v } ORDER BY ?v', '--format', 'csv'], { cwd: dir });
    expect(csv.stdout).toContain('\r\n"two\r\nlines"\r\n');
  });

  it('a Turtle syntax error quoting raw control characters is one escaped line on stderr', async () => {
    const dir = files({ 'bad.ttl': '@prefix ex: <https://example.org/t#> .\nex:a ex:p "abc\u001b[2J\u202Eevil .\n' });
    const r = await gwgen(['validate', 'bad.ttl'], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).not.toMatch(/[\u001b\u202E]/);
    expect(r.stderr.split('\n')[0]).toBe('bad.ttl:2:11: error: Turtle syntax error: Unexpected ""abc\\u001b[2J\\u202eevil"');
  });
});

describe('gwgen validate: positions in a model file are where an editor shows them', () => {
  // Columns count characters (as the query's do): N3 counts UTF-16 units and, after a byte
  // order mark, the mark itself on line 1. A lone CR ends a line for N3, so it does here too.
  it.each([
    ['a byte order mark (line 1)', '\uFEFF@prefix ex: <https://example.org/t#> . ex:a ex:b ex:c ex:d .\n', '1:55'],
    ['emoji before the error', '@prefix ex: <https://example.org/t#> .\nex:a ex:b "🎉🎉" ex:d .\n', '2:16'],
    ['an unclosed string after emoji (a lexer error)', '@prefix ex: <https://example.org/t#> .\nex:a ex:b "🎉" , "x .\n', '2:17'],
    ['CR line ends', '@prefix ex: <https://example.org/t#> .\rex:a ex:b ex:c .\rex:a ex:b ex:c ex:d .\r', '3:16'],
    ['CRLF line ends and a byte order mark', '\uFEFF@prefix ex: <https://example.org/t#> .\r\n\r\nex:a ex:b ex:c ex:d .\r\n', '3:16'],
  ])('a syntax error after %s', async (_name, text, position) => {
    const dir = files({ 'm.ttl': text });
    const r = await gwgen(['validate', 'm.ttl'], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^m\\.ttl:${position}: error: Turtle syntax error`));
  });

  it.each([
    ['a byte order mark before the subject on line 1', '\uFEFF<https://example.org/t#gw> a <https://ggen.ai/ontology/api-gateway#ApiGateway> .\n', '1:1'],
    ['emoji before the subject', '@prefix agw: <https://ggen.ai/ontology/api-gateway#> .\n@prefix ex: <https://example.org/t#> .\nex:n ex:p "🎉🎉" . ex:gw a agw:ApiGateway .\n', '3:18'],
  ])('a model problem located at its subject, after %s', async (_name, text, position) => {
    const dir = files({ 'm.ttl': text });
    const r = await gwgen(['validate', 'm.ttl'], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`m.ttl:${position} <https://example.org/t#gw> agw:gatewayName: error:`);
  });
});

describe('several model files', () => {
  const gateway = `@prefix agw: <https://ggen.ai/ontology/api-gateway#> .
@prefix ex: <https://example.org/t#> .
ex:gw a agw:ApiGateway ; agw:gatewayName "gw" ; agw:hasRoute ex:r1 .
ex:r1 a agw:Route ; agw:routePath "/a" ; agw:hasBackendService ex:s ;
  agw:hasRateLimiter [ a agw:RateLimiter ; agw:requestsPerSecond 5 ] .
ex:s a agw:BackendService ; agw:serviceName "svc" .
`;

  it('a file named twice (another spelling, a link) is read once: its anonymous nodes are not doubled', async () => {
    const dir = files({ 'm.ttl': gateway });
    symlinkSync('m.ttl', join(dir, 'link.ttl'));
    const v = await gwgen(['validate', 'm.ttl', './m.ttl', 'link.ttl', join(dir, 'm.ttl')], { cwd: dir });
    expect(v.stderr).not.toContain('MaxCount');
    expect(v.exitCode).toBe(0);
    const q = await gwgen(['query', 'm.ttl', './m.ttl', '-e', 'SELECT (COUNT(?l) AS ?n) WHERE { ?l a agw:RateLimiter }', '--format', 'csv'], { cwd: dir });
    expect(q.stdout).toBe('n\r\n1'); // execa drops the final line end
  });

  it('a hard link to a model is the same file, read once, also by generate', async () => {
    const dir = files({ 'm.ttl': gateway });
    linkSync(join(dir, 'm.ttl'), join(dir, 'hard.ttl'));
    const v = await gwgen(['validate', 'm.ttl', 'hard.ttl'], { cwd: dir });
    expect(v.stderr).not.toContain('MaxCount');
    expect(v.exitCode).toBe(0);
    const g = await gwgen(['generate', 'hard.ttl', 'm.ttl', '-t', 'kong', '-o', 'out'], { cwd: dir });
    expect(g.stderr).toContain('generated kong into out');
    expect(g.exitCode).toBe(0);
  });

  it('_:b in two files is two nodes; each file has its own prefixes; problems name the right file and line', async () => {
    const dir = files({
      'a.ttl': `${gateway}_:b ex:note "from a" .\n`,
      'b.ttl': '@prefix ex: <https://example.org/other#> .\n\n# the same label, another file\n_:b <https://example.org/t#note> "from b" .\nex:r2 a <https://ggen.ai/ontology/api-gateway#Route> .\n',
    });
    const q = await gwgen(['query', 'a.ttl', 'b.ttl', '-e', 'SELECT ?n (COUNT(?o) AS ?c) WHERE { ?n <https://example.org/t#note> ?o } GROUP BY ?n', '--format', 'json'], { cwd: dir });
    const bindings = JSON.parse(q.stdout).results.bindings as Array<{ n: { type: string }; c: { value: string } }>;
    expect(bindings.map((b) => [b.n.type, b.c.value])).toEqual([['bnode', '1'], ['bnode', '1']]);
    const v = await gwgen(['validate', 'a.ttl', 'b.ttl'], { cwd: dir });
    expect(v.exitCode).toBe(1);
    expect(v.stderr).toContain('b.ttl:5:1 <https://example.org/other#r2> agw:routePath: error:');
  });
});

describe('gwgen query: result formats', () => {
  it('SELECT * has its columns in the order the query names them, in every format', async () => {
    const dir = files({ 'm.ttl': MODEL });
    const text = 'SELECT * WHERE { ?route agw:routePath ?path . OPTIONAL { ?route agw:hasBackendService ?backend } BIND(STRLEN(?path) AS ?length) }';
    const json = await gwgen(['query', 'm.ttl', '-e', text, '--format', 'json'], { cwd: dir });
    expect(JSON.parse(json.stdout).head.vars).toEqual(['route', 'path', 'backend', 'length']);
    const csv = await gwgen(['query', 'm.ttl', '-e', text, '--format', 'csv'], { cwd: dir });
    expect(csv.stdout.split('\r\n')[0]).toBe('route,path,backend,length');
    const table = await gwgen(['query', 'm.ttl', '-e', text], { cwd: dir });
    expect(table.stdout.split('\n')[0]).toMatch(/^\?route +\?path +\?backend +\?length$/);
  });
});

describe('gwgen validate: files that cannot be models', () => {
  it('a directory, a path through a file and a loop of links: exit 2, every one named in words, nothing on stdout', async () => {
    const dir = files({ 'm.ttl': MODEL, 'models/.keep': '' });
    symlinkSync('loop-b.ttl', join(dir, 'loop-a.ttl'));
    symlinkSync('loop-a.ttl', join(dir, 'loop-b.ttl'));
    const r = await gwgen(['validate', 'models', 'm.ttl/x.ttl', 'loop-a.ttl'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('models: error: the model file models is a directory\n  hint: name the Turtle files in it, e.g. models/*.ttl');
    expect(r.stderr).toContain('m.ttl/x.ttl: error: cannot read model file m.ttl/x.ttl: a part of the path is a file, not a directory');
    expect(r.stderr).toContain('loop-a.ttl: error: cannot read model file loop-a.ttl: a loop of symbolic links');
    expect(r.stderr).not.toMatch(/ENOTDIR|ELOOP/);
    const q = await gwgen(['query', 'm.ttl', 'm.ttl/q.rq'], { cwd: dir });
    expect(q.exitCode).toBe(2);
    expect(q.stderr).toContain('m.ttl/q.rq: error: cannot read query file m.ttl/q.rq: a part of the path is a file, not a directory');
  });

  it.each([
    ['UTF-16LE', (t: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(t, 'utf16le')])],
    ['UTF-16BE', (t: string) => Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(t, 'utf16le').swap16()])],
  ])('a %s file (a Windows editor\'s "Unicode") is named as such, with the iconv line that converts it', async (encoding, encode) => {
    const dir = files({ 'm.ttl': encode(MODEL) });
    const r = await gwgen(['validate', 'm.ttl'], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`m.ttl:1:1: error: the file is ${encoding} text: Turtle files are UTF-8\n  hint: convert the file to UTF-8, e.g. iconv -f ${encoding} -t utf-8 (or save it as UTF-8 in the editor)`);
  });

  it('an empty file, or comments only: exit 1, "the model is empty"', async () => {
    const dir = files({ 'empty.ttl': '', 'comments.ttl': '\uFEFF# nothing yet\r\n@prefix ex: <https://example.org/t#> .\r\n' });
    for (const file of ['empty.ttl', 'comments.ttl']) {
      const r = await gwgen(['validate', file], { cwd: dir });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`${file}: error: the model is empty: no triples were found`);
      expect(r.stdout).toBe('');
    }
  });

  it('a model given through ".." is reported under the path as given, with every problem of the run', async () => {
    const dir = files({ 'models/bad.ttl': MODEL.replace('agw:routePath "/a"', 'agw:routePath "a"').replace('"svc"', '"Svc"'), 'work/.keep': '' });
    const r = await gwgen(['validate', '../models/bad.ttl'], { cwd: join(dir, 'work') });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter((l) => !l.startsWith('  hint:'));
    expect(lines).toEqual([
      expect.stringMatching(/^\.\.\/models\/bad\.ttl:4:21 <https:\/\/example\.org\/t#r1> agw:routePath: error: /),
      expect.stringMatching(/^\.\.\/models\/bad\.ttl:5:29 <https:\/\/example\.org\/t#s> agw:serviceName: error: /),
      '2 problems',
    ]);
  });
});

describe('the table shows IRIs short with the prefixes in force for the query', () => {
  it.each([
    ['the predeclared agw:', 'SELECT ?c WHERE { ex:r1 a ?c }', 'agw:Route'],
    ['agw: redefined by the query: the IRI in full, as agw:Route would now mean another', 'PREFIX agw: <http://other/> SELECT ?c WHERE { <https://example.org/t#r1> a ?c }', 'https://ggen.ai/ontology/api-gateway#Route'],
    ["a prefix of the query's own", 'PREFIX ex: <https://example.org/t#> SELECT ?r WHERE { ?r a <https://ggen.ai/ontology/api-gateway#Route> }', 'ex:r1'],
  ])('%s', async (_name, text, cell) => {
    const dir = files({ 'm.ttl': MODEL });
    const query = text.startsWith('PREFIX') ? text : `PREFIX ex: <https://example.org/t#> ${text}`;
    const r = await gwgen(['query', 'm.ttl', '-e', query], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[2]).toBe(cell);
  });
});

describe('the CLI contract', () => {
  it.each([
    ['the query file before the model', ['q.rq', 'm.ttl'], 'error: the query file q.rq comes before the model files\n  hint: give the model files first, then the query file: gwgen query m.ttl q.rq'],
    ['two query files', ['m.ttl', 'q.rq', 'other.rq'], 'error: 2 query files were given (q.rq, other.rq); gwgen query runs one\n  hint: run gwgen query once per query file, e.g. gwgen query m.ttl q.rq'],
    ['a query file named otherwise', ['m.ttl', 'q.txt'], "error: no query given\n  hint: pass a query file (.rq or .sparql) after the model files, or -e 'SELECT ...'"],
    // commander kept the last -e alone, so the first query silently did not run.
    ['-e twice', ['m.ttl', '-e', 'ASK { ?x a agw:Nope }', '-e', 'SELECT ?r WHERE { ?r a agw:Route }'], 'error: -e was given 2 times; gwgen query runs one query\n  hint: run gwgen query once per query, or combine them into one (UNION, or a subquery)'],
  ])('%s is a usage error (exit 2), not a Turtle syntax error of the query', async (_name, args, message) => {
    const dir = files({ 'm.ttl': MODEL, 'q.rq': 'SELECT ?r WHERE { ?r a agw:Route }', 'other.rq': 'ASK {}', 'q.txt': 'ASK {}' });
    const r = await gwgen(['query', ...args], { cwd: dir });
    expect(r.stderr).toBe(message);
    expect(r.stdout).toBe('');
    expect(r.exitCode).toBe(2);
  });

  // Writing the results can fail for other reasons than a reader that stops early (a full disk
  // behind `> rows.csv`): one clear message and exit 1, never Node's stack trace.
  it.runIf(existsSync('/dev/full'))('results that cannot be written (a full disk): exit 1, a message, no stack trace', async () => {
    const dir = files({ 'm.ttl': MODEL });
    // Redirected by a shell, as a user does it: the device itself is gwgen's stdout.
    const shell = (redirect: string, ...args: string[]) => execa('sh', ['-c', `exec "$0" "$@" ${redirect}`, process.execPath, BIN, ...args], { cwd: dir, reject: false, timeout: 60_000 });
    const r = await shell('> /dev/full', 'query', 'm.ttl', '-e', 'SELECT * WHERE { ?s ?p ?o }');
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).toBe('error: cannot write the output: no space left on device (ENOSPC)\n  hint: the output is incomplete; check where stdout goes (a full disk, a closed device)');
    expect(r.exitCode).toBe(1);
    // stderr only carries messages: a valid model stays valid when they cannot be written.
    const v = await shell('2> /dev/full', 'validate', 'm.ttl');
    expect(v.exitCode).toBe(0);
  });
});

describe('gwgen validate: a model on one long line', () => {
  // Positions are asked once per token; counting each from the start of its line made a model
  // of 20,000 nested blank nodes on one line take minutes instead of about a second.
  it('20,000 nested blank nodes on one line are located in seconds', async () => {
    const n = 20_000;
    const dir = files({ 'deep.ttl': `@prefix ex: <https://example.org/t#> .\nex:a ex:p ${'[ ex:p '.repeat(n)}"🎉"${' ]'.repeat(n)} .\n` });
    const started = Date.now();
    const r = await gwgen(['validate', 'deep.ttl'], { cwd: dir });
    expect(r.stderr).toContain('error: the model has no agw:ApiGateway [one-gateway]');
    expect(r.exitCode).toBe(1);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 120_000);
});

describe('gwgen query: a query that does not parse says where and what was meant', () => {
  it.each([
    ['SELEC ?s { ?s ?p ?o }', '-e:1:1: error: the SPARQL query does not parse: unknown word "SELEC"; did you mean SELECT?', 'a query is SELECT or ASK (after any PREFIX and BASE lines)'],
    ['PREFIX ex: <http://e/> SELCT ?s { ?s ?p ?o }', '-e:1:24: error: the SPARQL query does not parse: unknown word "SELCT"; did you mean SELECT?', 'a query is SELECT or ASK'],
    ['SELECT ?s { ?s ?p ?o FILTR(?s) }', '-e:1:22: error: the SPARQL query does not parse: unknown word "FILTR"; did you mean FILTER?', 'check the spelling of the keyword'],
    ['SELECT ?s { ?s ?p ?o } xyzzy', '-e:1:24: error: the SPARQL query does not parse: unknown word "xyzzy"\n', 'check the spelling of the keyword'],
    // The parser's own names for a signed number (IntegerPositive, ...) used to be listed as they are.
    ['SELECT ?s {\n  ?s ?p }', "-e:2:9: error: the SPARQL query does not parse: unexpected '}'; expected a variable, an IRI, a prefixed name, a string, a number, 'true', 'false', a blank node or …\n", 'check the query syntax'],
    ['SELECT ?x {\n  ?x a <Route> }', '-e:2:8: error: the SPARQL query does not parse: <Route> is a relative IRI, and the query sets no BASE', 'write the full IRI (e.g. agw:Route or <https://example.org/ns#Route>), or declare BASE'],
  ])('%s', async (text, message, hint) => {
    const dir = files({ 'm.ttl': MODEL });
    const r = await gwgen(['query', 'm.ttl', '-e', text], { cwd: dir });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain(`hint: ${hint}`);
    expect(r.stderr).not.toMatch(STACK);
  });
});

describe('query --format json is the W3C SPARQL 1.1 Query Results JSON Format', () => {
  it('every term kind, in head.vars order in each binding, an unbound variable left out; ASK is head {} and boolean', async () => {
    const dir = files({
      'm.ttl': '@prefix ex: <https://example.org/t#> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\nex:r rdfs:label "Route, \\"one\\""@en ; ex:n 5 ; ex:c [ ex:p "x" ] .\nex:s ex:n 7 .\n',
    });
    const q = 'SELECT ?z ?label ?n ?c ?a WHERE { ?z <https://example.org/t#n> ?n . OPTIONAL { ?z rdfs:label ?label } OPTIONAL { ?z <https://example.org/t#c> ?c } } ORDER BY ?z';
    const r = await gwgen(['query', 'm.ttl', '-e', q, '--format', 'json'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.head).toEqual({ vars: ['z', 'label', 'n', 'c', 'a'] });
    const [first, second] = doc.results.bindings;
    expect(Object.keys(first)).toEqual(['z', 'label', 'n', 'c']);
    expect(first).toEqual({
      z: { type: 'uri', value: 'https://example.org/t#r' },
      label: { type: 'literal', value: 'Route, "one"', 'xml:lang': 'en' },
      n: { type: 'literal', value: '5', datatype: 'http://www.w3.org/2001/XMLSchema#integer' },
      c: { type: 'bnode', value: expect.any(String) },
    });
    expect(Object.keys(second)).toEqual(['z', 'n']);
    const ask = await gwgen(['query', 'm.ttl', '-e', 'ASK { ?s rdfs:label ?l }', '--format', 'json'], { cwd: dir });
    expect(JSON.parse(ask.stdout)).toEqual({ head: {}, boolean: true });
  });
});

/** Runs `body` with a TCP listener on 127.0.0.1 at the port it is given; returns the addresses that connected to it. */
async function connectionsDuring(body: (port: number) => Promise<void>): Promise<string[]> {
  const connections: string[] = [];
  const server = createServer((socket) => {
    connections.push(String(socket.remoteAddress));
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await body((server.address() as AddressInfo).port);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  return connections;
}

describe('gwgen query: SERVICE never reaches the network', () => {
  // SERVICE ?endpoint got Comunica's own words ("none of the configured actors were able to
  // handle the operation type service"), without a location; each form is now refused by gwgen,
  // at the SERVICE keyword, before the query runs.
  it.each([
    ['an IRI', (port: number) => `SELECT * WHERE { SERVICE <http://127.0.0.1:${port}/sparql> { ?s ?p ?o } }`, '1:18'],
    ['SILENT', (port: number) => `ASK { SERVICE SILENT <http://127.0.0.1:${port}/sparql> { ?s ?p ?o } }`, '1:7'],
    ['a variable endpoint bound by VALUES', (port: number) => `SELECT * WHERE {\n  VALUES ?ep { <http://127.0.0.1:${port}/sparql> }\n  SERVICE ?ep { ?s ?p ?o } }`, '3:3'],
    ['inside a subquery in an OPTIONAL', (port: number) => `SELECT * WHERE { ?r agw:routePath ?p .\n OPTIONAL { { SELECT ?r WHERE { service ?ep { ?r ?x ?y } VALUES ?ep { <http://127.0.0.1:${port}/> } } } } }`, '2:33'],
  ])('%s: exit 1 at the SERVICE keyword, no connection made', async (_name, text, where) => {
    const dir = files({ 'm.ttl': MODEL });
    const connections = await connectionsDuring(async (port) => {
      const r = await gwgen(['query', 'm.ttl', '-e', text(port), '--format', 'json'], { cwd: dir });
      expect(r.stderr).toBe(`-e:${where}: error: SERVICE (a query to a remote SPARQL endpoint) is not supported: gwgen queries only the model and the ontology\n  hint: remove the SERVICE block and query the model itself`);
      expect(r.stdout).toBe('');
      expect(r.exitCode).toBe(1);
    });
    expect(connections).toEqual([]);
  });
});

describe('gwgen query: FROM and GRAPH, which would match nothing, are refused', () => {
  // The model is the default graph and there are no named graphs: FROM <g> made the default graph
  // one that does not exist and GRAPH read none, so such a query said "0 rows" (and an audit rule
  // using it could never find anything) instead of saying why.
  it.each([
    ['FROM', (port: number) => `SELECT ?s\nFROM <http://127.0.0.1:${port}/model.ttl>\nWHERE { ?s agw:routePath ?p }`, '2:1', 'FROM (a dataset clause) is not supported'],
    ['FROM NAMED with GRAPH', (port: number) => `SELECT ?s FROM NAMED <http://127.0.0.1:${port}/g> WHERE { GRAPH ?g { ?s ?p ?o } }`, '1:11', 'FROM (a dataset clause) is not supported'],
    ['GRAPH in an ASK, lower case', () => 'ASK {\n  ?r a agw:Route .\n  graph <urn:x-arq:DefaultGraph> { ?r agw:routePath ?p } }', '3:3', 'GRAPH matches nothing here'],
  ])('%s: exit 1 at its keyword, no connection made', async (_name, text, where, message) => {
    const dir = files({ 'm.ttl': MODEL });
    const connections = await connectionsDuring(async (port) => {
      const r = await gwgen(['query', 'm.ttl', '-e', text(port), '--format', 'json'], { cwd: dir });
      expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^-e:${where}: error: ${message.replace(/[()]/g, '\\$&')}`));
      expect(r.stdout).toBe('');
      expect(r.exitCode).toBe(1);
    });
    expect(connections).toEqual([]);
  });

  it('the words FROM and GRAPH elsewhere (a variable, a string, a prefixed name, a comment, a language tag) are no such clause', async () => {
    const dir = files({ 'm.ttl': MODEL });
    const r = await gwgen(['query', 'm.ttl', '-e', 'PREFIX graph: <https://example.org/t#>\nSELECT ?from # FROM <x>\nWHERE { graph:r1 agw:routePath ?from FILTER(?from != "GRAPH FROM" && ?from != "x"@graph) }', '--format', 'csv'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split('\r\n').filter(Boolean)).toEqual(['from', '/a']);
  });
});

describe('gwgen query: RDF 1.2 terms are written, not emptied', () => {
  // A Turtle 1.2 model (N3 reads it) holds triple terms and literals with a base direction.
  // Every format wrote a triple term as an empty literal, and JSON dropped the direction.
  const STAR = `@prefix ex: <https://example.org/t#> .
ex:a ex:label "hi"@en--rtl .
ex:x ex:says <<( ex:a ex:b "say \\"hi\\", ok" )>> .
`;
  const q = 'SELECT ?s ?o WHERE { ?s ?p ?o FILTER(STRSTARTS(STR(?p), "https://example.org/t#")) } ORDER BY ?s';

  it('json: "type": "triple" with subject, predicate and object; "its:dir" beside "xml:lang" (SPARQL 1.2)', async () => {
    const dir = files({ 'm.ttl': STAR });
    const r = await gwgen(['query', 'm.ttl', '-e', q, '--format', 'json'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).results.bindings).toEqual([
      { s: { type: 'uri', value: 'https://example.org/t#a' }, o: { type: 'literal', value: 'hi', 'xml:lang': 'en', 'its:dir': 'rtl' } },
      {
        s: { type: 'uri', value: 'https://example.org/t#x' },
        o: {
          type: 'triple',
          value: { subject: { type: 'uri', value: 'https://example.org/t#a' }, predicate: { type: 'uri', value: 'https://example.org/t#b' }, object: { type: 'literal', value: 'say "hi", ok' } },
        },
      },
    ]);
    const made = await gwgen(['query', 'm.ttl', '-e', 'SELECT ?t WHERE { BIND(TRIPLE(agw:a, rdf:type, TRIPLE(agw:b, agw:c, 5)) AS ?t) }', '--format', 'json'], { cwd: dir });
    expect(JSON.parse(made.stdout).results.bindings[0].t).toEqual({
      type: 'triple',
      value: {
        subject: { type: 'uri', value: 'https://ggen.ai/ontology/api-gateway#a' },
        predicate: { type: 'uri', value: 'http://www.w3.org/1999/02/22-rdf-syntax-ns#type' },
        object: {
          type: 'triple',
          value: { subject: { type: 'uri', value: 'https://ggen.ai/ontology/api-gateway#b' }, predicate: { type: 'uri', value: 'https://ggen.ai/ontology/api-gateway#c' }, object: { type: 'literal', value: '5', datatype: 'http://www.w3.org/2001/XMLSchema#integer' } },
        },
      },
    });
  });

  it('csv and table: <<( s p o )>>, a literal object in quotes', async () => {
    const dir = files({ 'm.ttl': STAR });
    const csv = await gwgen(['query', 'm.ttl', '-e', q, '--format', 'csv'], { cwd: dir });
    expect(csv.exitCode, csv.stderr).toBe(0);
    expect(csv.stdout.split('\r\n')).toEqual(['s,o', 'https://example.org/t#a,hi', 'https://example.org/t#x,"<<( https://example.org/t#a https://example.org/t#b ""say """"hi"""", ok"" )>>"']);
    const table = await gwgen(['query', 'm.ttl', '-e', q], { cwd: dir });
    expect(table.stdout.split('\n')[3]).toBe('https://example.org/t#x  <<( https://example.org/t#a https://example.org/t#b "say ""hi"", ok" )>>');
  });
});

describe('gwgen query: a grouped SELECT projects only what it groups or aggregates (SPARQL 1.1, 11.4)', () => {
  // `SELECT ?r (COUNT(*) AS ?n)` without GROUP BY ran: one row, ?r empty and ?n the count of
  // everything, where the user meant a count per ?r. Jena and RDF4J refuse it, as the spec does.
  it.each([
    ['an aggregate without GROUP BY', 'SELECT (COUNT(*) AS ?n) ?r WHERE { ?r ?p ?o }', 'r', '1:25'],
    ['GROUP BY another variable (the parser says so, naming nothing)', 'SELECT ?x\nWHERE { ?x ?p ?o } GROUP BY ?p', 'x', '1:8'],
    ['in a subquery (located there, not at the outer SELECT)', 'SELECT ?r ?n WHERE { ?r a agw:Route\n  { SELECT (COUNT(?m) AS ?n) ?r WHERE { ?r agw:httpMethod ?m } } }', 'r', '2:30'],
  ])('%s: exit 1 at the variable, nothing on stdout', async (_name, text, name, where) => {
    const dir = files({ 'm.ttl': MODEL });
    const r = await gwgen(['query', 'm.ttl', '-e', text, '--format', 'csv'], { cwd: dir });
    expect(r.stderr).toBe(
      `-e:${where}: error: the SPARQL query is invalid: ?${name} is selected, but the rows are grouped (by GROUP BY or an aggregate such as COUNT) and ?${name} is neither grouped nor aggregated\n  hint: add ?${name} to GROUP BY (GROUP BY ?${name}), or select an aggregate of it, e.g. (SAMPLE(?${name}) AS ?any)`,
    );
    expect(r.stdout).toBe('');
    expect(r.exitCode).toBe(1);
  });

  it.each([
    ['GROUP BY with HAVING and ORDER BY', 'SELECT ?p (COUNT(*) AS ?n) WHERE { ?x ?p ?o FILTER(?p = agw:routePath) } GROUP BY ?p HAVING (COUNT(*) > 0) ORDER BY DESC(?n)', 'p,n', 'https://ggen.ai/ontology/api-gateway#routePath,1'],
    ['GROUP BY an expression (AS ?k)', 'SELECT ?k (COUNT(*) AS ?n) WHERE { ?x agw:routePath ?o } GROUP BY (STR(?o) AS ?k)', 'k,n', '/a,1'],
    ['a constant beside an aggregate', 'SELECT (1 AS ?one) (COUNT(?o) AS ?n) WHERE { ?x agw:routePath ?o }', 'one,n', '1,1'],
    ['a grouped subquery', 'SELECT ?r ?n WHERE { ?r a agw:Route { SELECT ?r (COUNT(?o) AS ?n) WHERE { ?r agw:routePath ?o } GROUP BY ?r } }', 'r,n', 'https://example.org/t#r1,1'],
  ])('%s still runs', async (_name, text, header, row) => {
    const dir = files({ 'm.ttl': MODEL });
    const r = await gwgen(['query', 'm.ttl', '-e', text, '--format', 'csv'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split('\r\n').filter(Boolean)).toEqual([header, row]);
  });
});

describe('gwgen query: errors the parser or the engine find after lexing are located too', () => {
  // Each used to come without a line and column, some in Comunica's words ("Creation of function
  // evaluator failed: no configured actor was able to evaluate function urn:fn").
  it.each([
    ['a BIND of a variable bound by the BIND before it (found while running)', 'SELECT ?x WHERE {\n  BIND(1 AS ?x)\n  BIND(2 AS ?x) }', '3:13', '?x is bound by AS, but it is already bound where that expression is evaluated'],
    ['a BIND of a variable the triples before it bind (found by the parser)', 'SELECT ?x WHERE { ?x ?p ?o BIND(1 AS ?x) }', '1:38', '?x is bound by AS, but it is already bound where that expression is evaluated'],
    ['SELECT (… AS ?x) of a variable the pattern binds', 'SELECT (1 AS ?x) WHERE { ?x ?p ?o }', '1:14', '?x is bound by AS, but it is already bound where that expression is evaluated'],
    ['a variable selected twice', 'SELECT ?x ?x WHERE { ?x ?p ?o }', '1:11', '?x is selected twice'],
    ['a VALUES row too short', 'SELECT ?v WHERE {\n  VALUES (?v ?w) { (1) } }', '2:3', 'a row of VALUES has too few values for its variables'],
    ['a VALUES row too long', 'SELECT ?v WHERE { VALUES (?v) { (1 2) } }', '1:19', 'a row of VALUES has too many values for its variables'],
    ['a function the engine does not have, as an IRI', 'SELECT ?o WHERE { ?x ?p ?o FILTER(<urn:fn>(?o)) }', '1:35', '<urn:fn> is not a function the engine has'],
    ['a function the engine does not have, as a prefixed name', 'PREFIX f: <urn:my#>\nSELECT ?o WHERE { ?x ?p ?o\n  FILTER(f:fn(?o)) }', '3:10', '<urn:my#fn> is not a function the engine has'],
    ['SELECT * with GROUP BY', 'SELECT * WHERE { ?r agw:routePath ?p }\nGROUP BY ?r', '2:1', 'SELECT * cannot be grouped: its rows would hold variables that are neither grouped nor aggregated'],
    ['an aggregate in FILTER', 'SELECT ?r WHERE { ?r agw:routePath ?p FILTER(COUNT(?p) > 1) }', '1:46', 'COUNT is used in FILTER, but aggregates are only allowed in SELECT, HAVING and ORDER BY'],
    ['an aggregate in BIND', 'SELECT ?r WHERE {\n  ?r agw:routePath ?p\n  BIND(sum(?p) AS ?n) }', '3:8', 'SUM is used in BIND, but aggregates are only allowed in SELECT, HAVING and ORDER BY'],
    ['an aggregate in GROUP BY', 'SELECT ?r WHERE { ?r agw:routePath ?p } GROUP BY (COUNT(?p))', '1:51', 'COUNT is used in GROUP, but aggregates are only allowed in SELECT, HAVING and ORDER BY'],
    ['an aggregate in an aggregate', 'SELECT (SUM(COUNT(?p)) AS ?c) WHERE { ?r agw:routePath ?p }', '1:13', 'an aggregate is nested in another aggregate'],
    ['a blank node label in two groups', 'SELECT ?p WHERE { _:a agw:routePath ?p .\n  { _:a agw:routePath ?q } }', '2:5', 'the blank node _:a is used in two different groups { }: a blank node label names a node within one group only'],
    ['an ungrouped variable in a SELECT expression', 'SELECT (CONCAT(?p, "x") AS ?q) WHERE { ?r agw:routePath ?p } GROUP BY ?r', '1:16', '?p is used in the SELECT clause, but the rows are grouped (by GROUP BY or an aggregate such as COUNT) and ?p is neither grouped nor aggregated'],
  ])('%s', async (_name, text, where, message) => {
    const dir = files({ 'm.ttl': MODEL });
    const r = await gwgen(['query', 'm.ttl', '-e', text], { cwd: dir });
    expect(r.stderr.split('\n')[0]).toBe(`-e:${where}: error: the SPARQL query is invalid: ${message}`);
    expect(r.stderr).toMatch(/\n {2}hint: \S/);
    expect(r.stderr).not.toMatch(/actor|Illegal binding|dataBlockValues/);
    expect(r.stdout).toBe('');
    expect(r.exitCode).toBe(1);
  });
});
