import { readFileSync, readdirSync, rmSync, writeFileSync, existsSync, lstatSync, mkdirSync, symlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gwgen, ROOT, snapshotDir, tempDir } from './helpers.js';
// @ts-expect-error: a plain .mjs module of the benchmark, without type declarations
import { syntheticModel } from '../bench/synthetic-model.mjs';

describe('gwgen --help', () => {
  it.each([[[]], [['generate']], [['validate']], [['query']]])('%j shows usage with examples', async (cmd) => {
    const r = await gwgen([...cmd, '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Usage: gwgen');
    expect(r.stdout).toContain('Examples:');
  });
});

describe('usage errors exit 2', () => {
  it.each([
    ['unknown flag', ['generate', 'examples/metered-api.ttl', '--bogus']],
    ['unknown command', ['frobnicate']],
    ['missing model argument', ['validate']],
    ['missing model file', ['validate', 'no/such/model.ttl']],
    ['unknown target', ['generate', 'examples/metered-api.ttl', '-t', 'nginx']],
    ['query without a query', ['query', 'examples/metered-api.ttl']],
    ['bad query format', ['query', 'examples/metered-api.ttl', '-e', 'ASK {}', '--format', 'xml']],
    ['no command', []],
    ['pack without a subcommand', ['pack']],
    ['an empty output directory name (it would be the working directory)', ['generate', 'examples/metered-api.ttl', '-o', '']],
  ])('%s', async (_name, args) => {
    const r = await gwgen(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.length).toBeGreaterThan(0);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('help for an unknown command names it and lists the commands, instead of the general help', async () => {
    const r = await gwgen(['help', 'frobnicate']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("error: unknown command 'frobnicate'");
    expect(r.stderr).toContain('commands: generate, validate, audit, query, watch, init, pack');
    expect(r.stdout).toBe('');
    const known = await gwgen(['help', 'audit']);
    expect([known.exitCode, known.stdout.startsWith('Usage: gwgen audit')]).toEqual([0, true]);
  });

  it.each([['generate', '--dry-run'], ['watch']])('%s refuses a second --pack (packs do not stack; the last would silently win)', async (cmd, ...rest) => {
    const r = await gwgen([cmd, 'examples/metered-api.ttl', '--pack', 'a', '--pack', 'b', ...rest]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('a run renders with one template pack, and --pack a was given already: keep one --pack');
  });

  it('a missing file is named', async () => {
    const r = await gwgen(['generate', 'no/such/model.ttl']);
    expect(r.stderr).toContain('no/such/model.ttl');
  });
});

describe('gwgen validate', () => {
  it('accepts a valid model (exit 0)', async () => {
    const r = await gwgen(['validate', 'examples/research-platform.ttl']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain('valid');
  });

  it('merges several files into one model', async () => {
    const dir = tempDir();
    const text = readFileSync('examples/metered-api.ttl', 'utf8');
    // Split after the prefixes and the gateway node: both halves are needed for a valid model.
    const lines = text.split('\n');
    const prefixes = lines.filter((l) => l.startsWith('@prefix')).join('\n');
    const cut = Math.floor(lines.length / 2);
    let split = cut;
    while (split < lines.length && lines[split]!.trim() !== '') split++;
    writeFileSync(join(dir, 'a.ttl'), lines.slice(0, split).join('\n'));
    writeFileSync(join(dir, 'b.ttl'), `${prefixes}\n${lines.slice(split).join('\n')}`);
    const alone = await gwgen(['validate', join(dir, 'a.ttl')]);
    expect(alone.exitCode).toBe(1);
    const both = await gwgen(['validate', join(dir, 'a.ttl'), join(dir, 'b.ttl')]);
    expect(both.stderr).toContain('valid');
    expect(both.exitCode).toBe(0);
  });
});

describe('gwgen query', () => {
  const q = 'SELECT ?route ?path WHERE { ?route a agw:Route ; agw:routePath ?path } ORDER BY ?path';

  it('prints W3C SPARQL results JSON', async () => {
    const r = await gwgen(['query', 'examples/metered-api.ttl', '-e', q, '--format', 'json']);
    expect(r.exitCode).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.head.vars).toEqual(['route', 'path']);
    expect(json.results.bindings.length).toBeGreaterThan(3);
    expect(json.results.bindings[0].route.type).toBe('uri');
    expect(json.results.bindings[0].path).toEqual({ type: 'literal', value: expect.stringMatching(/^\//) });
    const paths = json.results.bindings.map((b: { path: { value: string } }) => b.path.value);
    expect(paths).toEqual([...paths].sort());
  });

  it('prints W3C SPARQL CSV', async () => {
    const r = await gwgen(['query', 'examples/metered-api.ttl', '-e', q, '--format', 'csv']);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\r\n');
    expect(lines[0]).toBe('route,path');
    expect(lines[1]).toMatch(/^https:\/\/.+,\/.+$/);
  });

  it('prints a table and answers ASK', async () => {
    const t = await gwgen(['query', 'examples/metered-api.ttl', '-e', q]);
    expect(t.stdout).toMatch(/^\?route\s+\?path/);
    expect(t.stdout).toMatch(/\n\d+ rows$/);
    const ask = await gwgen(['query', 'examples/mesh-shop.ttl', '-e', 'ASK { ?m agw:mtlsMode "STRICT" }', '--format', 'json']);
    expect(JSON.parse(ask.stdout)).toEqual({ head: {}, boolean: true });
  });

  it('runs a .rq file and sees the ontology', async () => {
    const dir = tempDir();
    const file = join(dir, 'labels.rq');
    writeFileSync(file, 'SELECT ?label WHERE { agw:Route rdfs:label ?label }');
    const r = await gwgen(['query', 'examples/metered-api.ttl', file, '--format', 'json']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).results.bindings).toHaveLength(1);
  });

  it('runs the ggen package query style unchanged (xsd: used without PREFIX, OPTIONAL)', async () => {
    const ggen = `SELECT ?route ?path ?method ?backend ?rateLimitRPS
WHERE {
  ?route a agw:Route ; agw:routePath ?path ; agw:hasBackendService ?backend .
  OPTIONAL { ?route agw:httpMethod ?method }
  OPTIONAL { ?route agw:hasRateLimiter ?rl . ?rl agw:requestsPerSecond ?rateLimitRPS }
  FILTER(!BOUND(?rateLimitRPS) || ?rateLimitRPS > "0"^^xsd:integer)
}
ORDER BY ?path ?method`;
    const r = await gwgen(['query', 'examples/research-platform.ttl', '-e', ggen, '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).results.bindings.length).toBeGreaterThan(0);
  });

  it.each([
    ['an empty query', '', 'the query is empty'],
    ['a query of comments only', '# just a comment', 'the query is empty'],
    ['SERVICE, which the engine does not run over a model', 'SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }', '-e:1:18: error: SERVICE (a query to a remote SPARQL endpoint) is not supported'],
    ['LOAD, an update (not a SERVICE)', 'LOAD <http://127.0.0.1:9/x>', 'only SELECT and ASK queries are supported; this is an update (LOAD)'],
    ['INSERT DATA', 'INSERT DATA { <urn:a> <urn:b> <urn:c> }', 'only SELECT and ASK queries are supported; this is an update (INSERT/DELETE)'],
    ['two updates', 'CLEAR ALL ; DROP ALL', 'only SELECT and ASK queries are supported; this is an update'],
    ['CONSTRUCT', 'CONSTRUCT WHERE { ?s ?p ?o }', 'only SELECT and ASK queries are supported'],
  ])('%s is exit 1 with a message that says so', async (_name, text, message) => {
    const r = await gwgen(['query', 'examples/metered-api.ttl', '-e', text]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('actors');
    if (message.startsWith('only')) expect(r.stderr).not.toContain('SERVICE');
  });

  // Each: the query file's text, where the problem is (file:line:col), what the message says.
  it.each([
    ['an undeclared prefix', 'SELECT ?r\nWHERE {\n\n ?r ex:foo ?x }\n', '4:5', 'the prefix ex: is not declared'],
    ['an unterminated string (a lexer error, reported by offset)', 'SELECT ?r WHERE {\n ?r agw:routePath "abc\n}\n', '2:19', 'unexpected character "\\"": a string that does not end on its line'],
    ['an unclosed { (the parser reaches the end)', 'SELECT ?r WHERE {\n ?r agw:routePath ?x\n', '2:21', "expected '}', but the query ends here"],
    ['a wrong token', 'SELECT ?r\nWHERE { ?r <urn:p ?x }', '2:12', "unexpected '<'; expected an IRI, a prefixed name"],
    ['a missing projection', 'SELECT WHERE {', '1:8', "unexpected 'WHERE'; expected '*', a variable or '('"],
    ['CRLF line ends, an undeclared prefix', 'SELECT ?r\r\nWHERE\r\n{\r\n?r a agw:Route .\r\n?r ex:foo ?x }\r\n', '5:4', 'the prefix ex: is not declared'],
    ['CRLF line ends, a wrong token', 'SELECT ?r\r\nWHERE\r\n{\r\n?r a agw:Route .\r\n?r <urn:p ?x }\r\n', '5:4', "unexpected '<'"],
    ['a byte order mark', '\uFEFFSELECT WHERE {', '1:8', "unexpected 'WHERE'"],
    ['wide characters before the error (columns count code points)', 'SELECT ?r WHERE { ?r rdfs:label "日本🙂" . ?r ex:p ?x }', '1:44', 'the prefix ex: is not declared'],
  ])('a query file with %s: exit 1 at its line and column', async (_name, text, position, message) => {
    const file = join(tempDir(), 'q.rq');
    writeFileSync(file, text);
    const r = await gwgen(['query', 'examples/metered-api.ttl', file]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${file}:${position}: error: the SPARQL query does not parse: ${message}`);
    expect(r.stderr).not.toContain('Parse error');
  });

  it('a query file with a byte order mark and CRLF line ends runs', async () => {
    const file = join(tempDir(), 'bom.rq');
    writeFileSync(file, '\uFEFFSELECT ?r\r\nWHERE { ?r a agw:Route }\r\n');
    const r = await gwgen(['query', 'examples/metered-api.ttl', file, '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).results.bindings.length).toBeGreaterThan(0);
  });

  it.each([
    ['a .rq file and -e', (d: string) => ['examples/metered-api.ttl', join(d, 'q.rq'), '-e', 'ASK {}'], 'and -e were given'],
    ['a query file and no model', (d: string) => [join(d, 'q.rq')], `no model file given: `],
    ['a directory as the query file', (d: string) => ['examples/metered-api.ttl', join(d, 'dir.rq')], 'dir.rq is a directory, not a query file'],
    ['a missing query file', (d: string) => ['examples/metered-api.ttl', join(d, 'none.rq')], 'query file not found'],
  ])('%s is a usage error (exit 2) that says so', async (_name, args, message) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'q.rq'), 'SELECT ?r WHERE { ?r a agw:Route }');
    mkdirSync(join(dir, 'dir.rq'));
    const r = await gwgen(['query', ...args(dir)]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('Turtle syntax error');
  });

  it('a broken query is exit 1 with a message, not a stack trace', async () => {
    const r = await gwgen(['query', 'examples/metered-api.ttl', '-e', 'SELECT WHERE {']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('does not parse');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('gwgen generate: regeneration rules', () => {
  it('writes kong and the manifest; a second run changes nothing', async () => {
    const out = tempDir();
    const first = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    expect(first.exitCode).toBe(0);
    expect(existsSync(join(out, 'kong/kong.yml'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(out, '.gwgen/manifest.json'), 'utf8'));
    expect(manifest.inputs[0].path).toBe('examples/metered-api.ttl');
    expect(Object.keys(manifest.files)).toEqual(expect.arrayContaining(['kong/NOTES.md', 'kong/kong.yml']));
    const before = snapshotDir(out);
    const second = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    expect(second.stderr).toContain(`0 created, 0 updated, 0 deleted, ${Object.keys(manifest.files).length} unchanged`);
    expect(snapshotDir(out)).toEqual(before);
  });

  it('--check exits 0 when up to date and 3 when stale, writing nothing', async () => {
    const out = tempDir();
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', out])).exitCode).toBe(0);
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--check'])).exitCode).toBe(0);
    const before = snapshotDir(out);
    const stale = await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', out, '--check']);
    expect(stale.exitCode).toBe(3);
    expect(stale.stdout).toContain('update   kong/kong.yml');
    expect(stale.stdout).not.toContain('unchanged');
    expect(snapshotDir(out)).toEqual(before);
    // A generated file deleted by hand is generated again: --check names it, and only it.
    rmSync(join(out, 'kong/NOTES.md'));
    const gone = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--check']);
    expect(gone.exitCode).toBe(3);
    expect(gone.stdout.trim()).toBe('create   kong/NOTES.md');
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', out])).exitCode).toBe(0);
    expect(snapshotDir(out)).toEqual(before);
    const empty = tempDir();
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', join(empty, 'x'), '--check'])).exitCode).toBe(3);
    expect(existsSync(join(empty, 'x'))).toBe(false);
  });

  it('a run into a DIR another run holds stops with exit 3; --check reports a pending interrupted write, and generate undoes it', async () => {
    const { hostname } = await import('node:os');
    const out = tempDir();
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', out])).exitCode).toBe(0);
    writeFileSync(join(out, '.gwgen/lock'), JSON.stringify({ pid: process.pid, host: hostname(), started: 'now' }));
    const busy = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    expect(busy.exitCode).toBe(3);
    expect(busy.stderr).toContain(`another gwgen run (pid ${process.pid} on ${hostname()}, since now) is writing to`);
    writeFileSync(join(out, '.gwgen/lock'), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), started: 'then' }));
    // What a killed run leaves: a staging folder with its journal (here: one deleted file to put back).
    const staging = join(out, '.gwgen/staging-4194311-1');
    mkdirSync(staging);
    writeFileSync(join(staging, '0.deleted'), readFileSync(join(out, 'kong/NOTES.md')));
    rmSync(join(out, 'kong/NOTES.md'));
    writeFileSync(join(staging, 'journal.json'), JSON.stringify({ steps: [{ target: 'kong/NOTES.md', backup: '0.deleted' }], folders: [] }));
    // While the lock's holder lives, that journal is its write under way, not an interrupted one.
    writeFileSync(join(out, '.gwgen/lock'), JSON.stringify({ pid: process.pid, host: hostname(), started: 'now' }));
    const during = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--check']);
    expect(during.exitCode).toBe(3);
    expect(during.stderr).toContain(`another gwgen run (pid ${process.pid}, since now) is writing to ${out} right now`);
    expect(during.stderr).not.toContain('interrupted');
    writeFileSync(join(out, '.gwgen/lock'), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), started: 'then' }));
    const check = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--check']);
    expect(check.exitCode).toBe(3);
    expect(check.stderr).toContain('holds a write that was interrupted');
    const again = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toContain('undid the half-written output of an interrupted earlier run');
    expect(again.stderr).toContain('0 created, 0 updated, 0 deleted');
    expect(readdirSync(join(out, '.gwgen'))).toEqual(['manifest.json']);
  });

  it('--check looks at the output, not at how the model files were named: another working directory or order is up to date', async () => {
    const out = tempDir();
    const models = tempDir();
    const text = readFileSync(join(ROOT, 'examples/mesh-shop.ttl'), 'utf8');
    const cut = text.indexOf('\n\n', text.length / 2);
    const prefixes = text.split('\n').filter((l) => l.startsWith('@prefix')).join('\n');
    writeFileSync(join(models, 'a.ttl'), text.slice(0, cut));
    writeFileSync(join(models, 'b.ttl'), `${prefixes}\n${text.slice(cut)}`);
    expect((await gwgen(['generate', join(models, 'a.ttl'), join(models, 'b.ttl'), '-o', out])).exitCode).toBe(0);
    const reordered = await gwgen(['generate', 'b.ttl', 'a.ttl', '-o', out, '--check'], { cwd: models });
    expect(reordered.exitCode, reordered.stdout + reordered.stderr).toBe(0);
    // A real run records the new provenance, and --dry-run says so.
    const dry = await gwgen(['generate', 'b.ttl', 'a.ttl', '-o', out, '--dry-run'], { cwd: models });
    expect(dry.stdout).toContain('update   .gwgen/manifest.json');
  });

  it('--dry-run lists what would change and writes nothing', async () => {
    const out = tempDir();
    const r = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--dry-run']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('create   kong/kong.yml');
    expect(snapshotDir(out)).toEqual({});
  });

  it('a hand-edited file stops the run with exit 3 unless --force', async () => {
    const out = tempDir();
    await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    const kong = join(out, 'kong/kong.yml');
    writeFileSync(kong, `${readFileSync(kong, 'utf8')}# my edit\n`);
    const edited = snapshotDir(out);
    const r = await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', out]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('kong/kong.yml was edited by hand');
    // Where gwgen would write kong.yml as it did before (the same model), the edit is located: the added last line.
    const same = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    const lines = readFileSync(kong, 'utf8').split('\n').length - 1;
    expect(same.stderr).toContain(`${kong}:${lines}: error: kong/kong.yml was edited by hand since gwgen generated it`);
    expect(snapshotDir(out)).toEqual(edited);
    const forced = await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', out, '--force']);
    expect(forced.exitCode).toBe(0);
    expect(readFileSync(kong, 'utf8')).not.toContain('# my edit');
  });

  it('user-code markers broken by hand are named with file:line, exit 3, nothing written (also no other file)', async () => {
    const out = tempDir();
    await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    const hooks = join(out, 'gateway/src/hooks.ts');
    const generated = readFileSync(hooks, 'utf8');
    const lineOf = (text: string, needle: string, from = 0) => text.slice(0, text.indexOf(needle, from)).split('\n').length;
    const begin = '  // gwgen:user-code-begin before-proxy\n';
    const end = '  // gwgen:user-code-end before-proxy\n';
    const cases: [string, string, (text: string) => number, RegExp][] = [
      ['end marker gone', generated.replace(end, ''), (t) => lineOf(t, begin), /region "before-proxy" lost its end marker/],
      ['begin marker gone', generated.replace(begin, ''), (t) => lineOf(t, end), /region "before-proxy" lost its begin marker/],
      ['an end marker too many', generated.replace(end, `${end}${end}`), (t) => lineOf(t, end, t.indexOf(end) + 1), /the line \/\/ gwgen:user-code-end before-proxy pairs with no begin marker/],
      ['a copied region', generated.replace(end, `${end}${begin}  copy();\n${end}`), (t) => lineOf(t, begin, t.indexOf(begin) + 1), /region "before-proxy" appears twice/],
    ];
    for (const [what, text, line, message] of cases) {
      writeFileSync(hooks, text);
      const before = snapshotDir(out);
      // Another model: other files would change too, and none may be written.
      const r = await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', out]);
      expect(r.exitCode, what).toBe(3);
      expect(r.stderr, what).toContain(`${hooks}:${line(text)}: error: gateway/src/hooks.ts: `);
      expect(r.stderr, what).toMatch(message);
      expect(snapshotDir(out), what).toEqual(before);
    }
  });

  it('user code saved in another encoding than UTF-8 is not garbled by a rewrite: exit 3 naming file:line, nothing written; --force is told', async () => {
    const project = tempDir();
    writeFileSync(join(project, 'model.ttl'), readFileSync(join(ROOT, 'examples/metered-api.ttl')));
    // A pack whose hooks.ts differs from gwgen's outside the regions: switching to it rewrites the file.
    const pack = join(project, 'pack-src');
    mkdirSync(join(pack, 'templates/gateway/src'), { recursive: true });
    writeFileSync(join(pack, 'pack.toml'), '[pack]\nname = "hooks-v2"\nversion = "1.0.0"\ndescription = "hooks with one more comment"\n');
    writeFileSync(join(pack, 'templates/gateway/src/hooks.ts.hbs'), `// hooks v2\n${readFileSync(join(ROOT, 'templates/gateway/src/hooks.ts.hbs'), 'utf8')}`);
    expect((await gwgen(['pack', 'install', './pack-src'], { cwd: project })).exitCode).toBe(0);
    expect((await gwgen(['generate', 'model.ttl', '-o', 'out'], { cwd: project })).exitCode).toBe(0);
    const hooks = join(project, 'out/gateway/src/hooks.ts');
    const text = readFileSync(hooks, 'utf8');
    const end = '  // gwgen:user-code-end before-proxy\n';
    // "café" in Latin-1, as an editor set to Windows-1252 saves it: 0xE9 is no UTF-8.
    const latin1 = Buffer.concat([Buffer.from(text.slice(0, text.indexOf(end))), Buffer.from('  // caf\xe9\n', 'latin1'), Buffer.from(text.slice(text.indexOf(end)))]);
    writeFileSync(hooks, latin1);
    const line = text.slice(0, text.indexOf(end)).split('\n').length;

    const r = await gwgen(['generate', 'model.ttl', '-o', 'out', '--pack', 'hooks-v2'], { cwd: project });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain(`${hooks}:${line}: error: gateway/src/hooks.ts is not UTF-8 text`);
    expect(readFileSync(hooks).equals(latin1)).toBe(true);

    // Saved as UTF-8, the code is carried over into the pack's file as the user wrote it.
    writeFileSync(hooks, latin1.toString('latin1'));
    expect((await gwgen(['generate', 'model.ttl', '-o', 'out', '--pack', 'hooks-v2'], { cwd: project })).exitCode).toBe(0);
    const after = readFileSync(hooks, 'utf8');
    expect(after.startsWith('// hooks v2\n')).toBe(true);
    expect(after).toContain('  // café\n');
  });

  it('never touches files it did not generate, and refuses to overwrite them', async () => {
    const out = tempDir();
    mkdirSync(join(out, 'kong'), { recursive: true });
    writeFileSync(join(out, 'kong/kong.yml'), 'mine: true\n');
    writeFileSync(join(out, 'README.txt'), 'my notes\n');
    const r = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('was not generated by gwgen');
    expect(readFileSync(join(out, 'kong/kong.yml'), 'utf8')).toBe('mine: true\n');
    expect(existsSync(join(out, '.gwgen'))).toBe(false);
    const forced = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--force']);
    expect(forced.exitCode).toBe(0);
    expect(readFileSync(join(out, 'README.txt'), 'utf8')).toBe('my notes\n');
  });

  it('a file of the user made where gwgen deleted its own is not overwritten when the model brings it back, and the manifest is not blamed', async () => {
    const out = tempDir();
    expect((await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', out])).exitCode).toBe(0);
    // No mesh: istio/ goes; the user then keeps a gateway.yaml of their own there.
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', out])).exitCode).toBe(0);
    expect(existsSync(join(out, 'istio'))).toBe(false);
    mkdirSync(join(out, 'istio'));
    writeFileSync(join(out, 'istio/gateway.yaml'), '# my own gateway\n');
    const before = snapshotDir(out);
    const r = await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', out]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('istio/gateway.yaml exists but was not generated by gwgen (.gwgen/manifest.json does not record it)');
    expect(r.stderr).not.toContain('restore .gwgen/manifest.json');
    expect(snapshotDir(out)).toEqual(before);
  });

  it('a file of the user where gwgen writes a folder, or a folder where it writes a file, stops the run (exit 3) even with --force', async () => {
    for (const [what, plant] of [
      ['a file in place of kong/', (out: string) => writeFileSync(join(out, 'kong'), 'mine\n')],
      // Before, the run failed late (exit 1, a bare ENOTDIR at its staging folder) and --dry-run saw nothing wrong.
      ['a file in place of .gwgen/', (out: string) => writeFileSync(join(out, '.gwgen'), 'mine\n')],
      ['a folder in place of kong/NOTES.md', (out: string) => mkdirSync(join(out, 'kong/NOTES.md/notes'), { recursive: true })],
    ] as const) {
      const out = tempDir();
      plant(out);
      if (what.includes('folder')) writeFileSync(join(out, 'kong/NOTES.md/notes/mine.txt'), 'mine\n');
      const before = snapshotDir(out);
      for (const force of [[], ['--force'], ['--dry-run']]) {
        const r = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '-t', 'kong', ...force]);
        expect(r.exitCode, `${what} ${force.join('')}`).toBe(3);
        expect(r.stderr).toContain('that gwgen did not generate');
        expect(r.stderr).toContain('--force does not remove what gwgen did not write');
        expect(snapshotDir(out)).toEqual(before);
      }
    }
  });

  it('a named pipe where gwgen writes a file (or its manifest) stops the run (exit 3, even with --force) instead of waiting on it forever; a link to /dev/zero is a link', async () => {
    const { execa } = await import('execa');
    const { BIN } = await import('./helpers.js');
    // A bounded run: before, gwgen read the pipe and waited for a writer that never came.
    const run = async (out: string, ...more: string[]) => {
      const r = await execa(process.execPath, [BIN, 'generate', 'examples/metered-api.ttl', '-o', out, '-t', 'kong', ...more], { cwd: ROOT, reject: false, env: {}, timeout: 60_000 });
      return { exitCode: r.exitCode, timedOut: r.timedOut, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    // Names, kinds and contents, the pipe listed but never read.
    const listing = (dir: string): string[] =>
      readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort().map((p) => {
        const st = lstatSync(join(dir, p));
        return `${p} ${st.isFIFO() ? 'fifo' : st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : readFileSync(join(dir, p), 'utf8')}`;
      });
    const out = tempDir();
    expect((await run(out)).exitCode).toBe(0);
    rmSync(join(out, 'kong/kong.yml'));
    execFileSync('mkfifo', [join(out, 'kong/kong.yml')]);
    const before = listing(out);
    for (const force of [[], ['--force'], ['--check']]) {
      const r = await run(out, ...force);
      expect(r.timedOut, force.join('')).toBe(false);
      expect(r.exitCode, force.join('')).toBe(3);
      expect(r.stderr).toContain(`${join(out, 'kong/kong.yml')}: error: kong/kong.yml is a named pipe (FIFO) that gwgen did not generate, where gwgen writes a file`);
      expect(listing(out)).toEqual(before);
    }
    // A generated file the user linked to a device is a link gwgen did not make: replaced only with --force.
    rmSync(join(out, 'kong/kong.yml'));
    symlinkSync('/dev/zero', join(out, 'kong/kong.yml'));
    const linked = await run(out);
    expect(linked.timedOut).toBe(false);
    expect(linked.exitCode).toBe(3);
    expect(linked.stderr).toContain('kong/kong.yml is a symbolic link to /dev/zero, which gwgen did not make');
    expect((await run(out, '--force')).exitCode).toBe(0);
    expect(lstatSync(join(out, 'kong/kong.yml')).isFile()).toBe(true);
    // The manifest a pipe: it cannot be read, so it cannot be trusted.
    const manifest = join(out, '.gwgen/manifest.json');
    rmSync(manifest);
    execFileSync('mkfifo', [manifest]);
    const untrusted = await run(out);
    expect(untrusted.timedOut).toBe(false);
    expect(untrusted.exitCode).toBe(3);
    expect(untrusted.stderr).toContain('.gwgen/manifest.json cannot be read (it is a named pipe (FIFO), not a file)');
  });

  it('does not write through a symbolic link to a folder outside the output directory (exit 3, even with --force)', async () => {
    const out = tempDir();
    const elsewhere = tempDir();
    symlinkSync(elsewhere, join(out, 'kong'));
    for (const force of [[], ['--force']]) {
      const r = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '-t', 'kong', ...force]);
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toContain('kong is a symbolic link');
    }
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('a generated file the user replaced with a symbolic link is not silently replaced or removed (exit 3); --force does, leaving the file it leads to alone', async () => {
    const out = tempDir();
    const elsewhere = tempDir();
    expect((await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', out])).exitCode).toBe(0);
    // The user keeps kong.yml and an Istio file in a shared folder and links them in.
    const linked = ['kong/kong.yml', 'istio/gateway.yaml'];
    for (const path of linked) {
      const shared = join(elsewhere, path.replace('/', '-'));
      writeFileSync(shared, readFileSync(join(out, path)));
      rmSync(join(out, path));
      symlinkSync(shared, join(out, path));
    }
    const shared = snapshotDir(elsewhere);
    expect((await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', out, '--check'])).exitCode).toBe(0);

    // Another model rewrites kong.yml and no longer has a mesh (istio/ goes).
    const r = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain(`${join(out, 'kong/kong.yml')}: error: kong/kong.yml is a symbolic link to ${join(elsewhere, 'kong-kong.yml')}`);
    expect(r.stderr).toContain('istio/gateway.yaml is no longer generated, but is a symbolic link');
    for (const path of linked) expect(lstatSync(join(out, path)).isSymbolicLink(), path).toBe(true);
    expect(existsSync(join(out, 'istio/virtualservice.yaml'))).toBe(true);

    const forced = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--force']);
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(lstatSync(join(out, 'kong/kong.yml')).isFile()).toBe(true);
    expect(existsSync(join(out, 'istio'))).toBe(false);
    expect(snapshotDir(elsewhere)).toEqual(shared);

    // A link to an (empty) folder or to nothing is the user's link too; --force replaces it, and
    // makes nothing where it pointed.
    const folder = join(elsewhere, 'folder');
    mkdirSync(folder);
    rmSync(join(out, 'kong/kong.yml'));
    symlinkSync(folder, join(out, 'kong/kong.yml'));
    rmSync(join(out, 'kong/NOTES.md'));
    symlinkSync(join(elsewhere, 'gone.md'), join(out, 'kong/NOTES.md'));
    const again = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toContain(`kong/kong.yml is a symbolic link to ${folder}`);
    expect(again.stderr).toContain(`kong/NOTES.md is a symbolic link to ${join(elsewhere, 'gone.md')}`);
    const replaced = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--force']);
    expect(replaced.exitCode, replaced.stderr).toBe(0);
    for (const path of ['kong/kong.yml', 'kong/NOTES.md']) expect(lstatSync(join(out, path)).isFile(), path).toBe(true);
    expect(readdirSync(folder)).toEqual([]);
    expect(existsSync(join(elsewhere, 'gone.md'))).toBe(false);
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--check'])).exitCode).toBe(0);
  });

  it('an output directory to be made under a symbolic link to a folder that is there is written (the link is no link to nothing)', async () => {
    const base = tempDir();
    mkdirSync(join(base, 'real'));
    // Relative, as `ln -s real link` makes it: it resolves from the link's folder, not from the cwd.
    symlinkSync('real', join(base, 'link'));
    const r = await gwgen(['generate', 'examples/metered-api.ttl', '-o', join(base, 'link/deploy/out'), '-t', 'kong']);
    expect(r.stderr).not.toContain('does not exist');
    expect(r.exitCode).toBe(0);
    expect(existsSync(join(base, 'real/deploy/out/kong/kong.yml'))).toBe(true);

    // A relative link to nothing: the folder to create is named where the link looks for it.
    symlinkSync('missing', join(base, 'gone'));
    const dangling = await gwgen(['generate', 'examples/metered-api.ttl', '-o', join(base, 'gone/out'), '-t', 'kong']);
    expect(dangling.exitCode).toBe(2);
    expect(dangling.stderr).toContain(`hint: create ${join(base, 'missing')},`);
    expect(existsSync(join(base, 'missing'))).toBe(false);
  });

  it('a Windows checkout (every file CRLF) is up to date, and --force after a model edit keeps the user code and CRLF', async () => {
    const out = tempDir();
    const models = tempDir();
    const shop = readFileSync(join(ROOT, 'examples/mesh-shop.ttl'), 'utf8');
    writeFileSync(join(models, 'm.ttl'), shop);
    expect((await gwgen(['generate', join(models, 'm.ttl'), '-o', out])).exitCode).toBe(0);
    const hooks = join(out, 'gateway/src/hooks.ts');
    writeFileSync(hooks, readFileSync(hooks, 'utf8').replace(/^( *\/\/ gwgen:user-code-begin before-proxy\n)/m, '$1  ctx.setUpstreamHeader("x-mine", "1");\n'));
    const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');
    for (const [path, text] of Object.entries(snapshotDir(out))) writeFileSync(join(out, path), crlf(text));
    const checkedOut = snapshotDir(out);
    const check = await gwgen(['generate', join(models, 'm.ttl'), '-o', out, '--check']);
    expect(check.exitCode, check.stderr).toBe(0);
    writeFileSync(join(models, 'm.ttl'), shop.replace('agw:serviceName "cart"', 'agw:serviceName "basket"'));
    const forced = await gwgen(['generate', join(models, 'm.ttl'), '-o', out, '--force']);
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(readFileSync(hooks, 'utf8')).toBe(checkedOut['gateway/src/hooks.ts']);
    expect(readFileSync(join(out, 'kong/kong.yml'), 'utf8')).toContain('host: basket.upstream\r\n');
    expect(readFileSync(join(out, 'kong/kong.yml'), 'utf8')).not.toMatch(/[^\r]\n/);
  });

  it('a byte order mark an editor put at the start of generated files is no hand edit: up to date, and a rewrite keeps it and the user code', async () => {
    const out = tempDir();
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', out])).exitCode).toBe(0);
    const hooks = join(out, 'gateway/src/hooks.ts');
    const kong = join(out, 'kong/kong.yml');
    writeFileSync(hooks, `\uFEFF${readFileSync(hooks, 'utf8').replace(/^( *\/\/ gwgen:user-code-begin before-proxy\n)/m, '$1  ctx.setUpstreamHeader("x-mine", "1");\n')}`);
    writeFileSync(kong, `\uFEFF${readFileSync(kong, 'utf8')}`);
    const saved = snapshotDir(out);
    const check = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--check']);
    expect(check.exitCode, check.stderr).toBe(0);
    // Another model: kong.yml is rewritten.
    const other = await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', out]);
    expect(other.exitCode, other.stderr).toBe(0);
    expect(readFileSync(hooks, 'utf8')).toBe(saved['gateway/src/hooks.ts']);
    const rewritten = readFileSync(kong, 'utf8');
    expect(rewritten).not.toBe(saved['kong/kong.yml']);
    expect(rewritten.startsWith('\uFEFF')).toBe(true);
    expect(rewritten.slice(1)).not.toContain('\uFEFF');
    expect((await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', out, '--check'])).exitCode).toBe(0);
  });

  it('a manifest that is not JSON stops the run (exit 3) naming it, leaving DIR as it was; --force rebuilds it', async () => {
    const out = tempDir();
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', out])).exitCode).toBe(0);
    writeFileSync(join(out, '.gwgen/manifest.json'), '{\n  "files": {\n    "kong/kong.yml": {},\n  }\n}\n');
    const before = snapshotDir(out);
    const r = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    expect(r.exitCode).toBe(3);
    // Located where the JSON goes wrong: the comma before the closing brace.
    expect(r.stderr).toContain(`${join(out, '.gwgen/manifest.json')}:4:3: error: .gwgen/manifest.json is not valid JSON, so gwgen cannot tell which files in the output directory it generated`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(snapshotDir(out)).toEqual(before);
    const forced = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--force']);
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, '.gwgen/manifest.json'), 'utf8')).files['kong/kong.yml'].target).toBe('kong');
  });

  it('a manifest that claims a file in .gwgen (its own manifest, the lock) is not trusted: exit 3, and --force rebuilds it', async () => {
    const out = tempDir();
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', out])).exitCode).toBe(0);
    const manifestPath = join(out, '.gwgen/manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.files['.gwgen/manifest.json'] = { sha256: 'x', target: 'kong', template: 'kong/kong.yml.hbs' };
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
    const before = snapshotDir(out);
    const r = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out]);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toContain('.gwgen/manifest.json is not a manifest gwgen wrote (another shape, or a path outside the output directory or inside .gwgen)');
    expect(snapshotDir(out)).toEqual(before);
    const forced = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--force']);
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(manifestPath, 'utf8')).files).filter((p) => p.startsWith('.gwgen'))).toEqual([]);
    expect((await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--check'])).exitCode).toBe(0);
  });

  it('repeated -t add up, as a comma list does', async () => {
    const out = tempDir();
    const r = await gwgen(['generate', 'examples/mesh-shop.ttl', '-o', out, '-t', 'kong', '-t', 'istio']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(out).filter((f) => !f.startsWith('.')).sort()).toEqual(['istio', 'kong']);
  });

  it('--timings prints every stage', async () => {
    const out = tempDir();
    const r = await gwgen(['generate', 'examples/metered-api.ttl', '-o', out, '--timings']);
    for (const stage of ['parse', 'shacl', 'semantic', 'queries', 'build', 'render', 'format', 'write']) expect(r.stderr).toMatch(new RegExp(`${stage} \\d+\\.\\d ms`));
  });
});

describe('gwgen init and gwgen.json', () => {
  it('writes a starter model and config that generate out of the box, and refuses to overwrite them', async () => {
    const dir = join(tempDir(), 'project');
    const r = await gwgen(['init', dir]);
    expect(r.exitCode).toBe(0);
    const gen = await gwgen(['generate'], { cwd: dir });
    expect(gen.stderr).toMatch(/generated kong(, [a-z0-9]+)* into generated/);
    expect(gen.exitCode).toBe(0);
    expect(existsSync(join(dir, 'generated/kong/kong.yml'))).toBe(true);
    expect((await gwgen(['validate', 'model.ttl'], { cwd: dir })).exitCode).toBe(0);
    const again = await gwgen(['init', dir]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toContain('already exists');
  });

  // A file where a directory is wanted: each a usage error (exit 2) that names it, never a raw errno.
  it.each([
    ['init under a file', ['init', 'afile/sub'], 'afile/sub cannot be created: afile is a file, not a directory'],
    ['init deeper under a file', ['init', 'afile/sub/deeper'], 'afile/sub/deeper cannot be created: afile is a file, not a directory'],
    ['init on a file', ['init', 'afile'], 'afile is a file, not a directory'],
    ['pack validate of a file', ['pack', 'validate', 'afile'], 'afile is a file, not a pack directory'],
  ])('%s is exit 2 saying so', async (_name, args, message) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'afile'), 'x');
    const r = await gwgen(args, { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/ENOTDIR|EEXIST|not found/);
  });

  it('an output directory inside another output\'s .gwgen is exit 2, and a folder of the user\'s named .gwgen is not gwgen\'s', async () => {
    const dir = tempDir();
    expect((await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '-t', 'kong'], { cwd: dir })).exitCode).toBe(0);
    const before = snapshotDir(join(dir, 'out'));
    for (const inner of ['out/.gwgen/staging-1-1', 'out/.gwgen/mine']) {
      const r = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', inner, '-t', 'kong'], { cwd: dir });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`the output directory ${inner} is inside ${join(dir, 'out/.gwgen')}, where gwgen keeps the state of another output directory`);
    }
    expect(snapshotDir(join(dir, 'out'))).toEqual(before);
    const own = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'home/.gwgen/project', '-t', 'kong'], { cwd: dir });
    expect(own.exitCode, own.stderr).toBe(0);
  });

  // A misspelt key used to be ignored, so "target" wrote every target; an absolute model path was
  // taken as relative to the config's folder; "targets": [] blamed a -t nobody gave.
  // Each problem is located at the key that has it (line:column), with a hint for that key.
  it.each([
    ['a misspelt key', '{ "models": ["m.ttl"], "target": ["kong"] }', '1:24', 'unknown key "target"', 'did you mean "targets"'],
    ['an unknown key', '{ "models": ["m.ttl"],\n  "colour": "blue" }', '2:3', 'unknown key "colour"', '"models"'],
    ['an empty targets list', '{ "models": ["m.ttl"], "targets": [] }', '1:24', 'gwgen.json "targets" names no target', 'leave "targets" out'],
    ['an unknown target', '{ "models": ["m.ttl"], "targets": ["kong", "istoi"] }', '1:24', 'gwgen.json "targets" names an unknown target "istoi"', 'did you mean "istio"?'],
    ['an out that is no string', '{ "models": ["m.ttl"],\n"out": 5 }', '2:1', 'gwgen.json "out" must be a string', 'leave it out for ./generated'],
    ['no models', '{ "out": "x" }', '1:1', 'gwgen.json has no "models"', '"models": ["model.ttl"]'],
    ['an empty models list', '{ "models": [] }', '1:3', '"models" must be a list of one or more file paths', 'relative to gwgen.json'],
    ['a key given twice', '{ "models": ["m.ttl"], "out": "a",\n  "o\\u0075t": "b" }', '2:3', 'gwgen.json gives "out" twice (first at line 1)', 'keep one "out"'],
  ])('gwgen.json with %s is exit 2 naming it, nothing written', async (_name, json, at, message, hint) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'm.ttl'), readFileSync('examples/metered-api.ttl'));
    writeFileSync(join(dir, 'gwgen.json'), json);
    for (const command of ['generate', 'watch']) {
      const r = await gwgen([command], { cwd: dir });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`${join(dir, 'gwgen.json')}:${at}: error: `);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain(hint);
      expect(r.stderr).not.toContain('-t names');
    }
    expect(readdirSync(dir).sort()).toEqual(['gwgen.json', 'm.ttl']);
  });

  it('gwgen.json may name a model by an absolute path', async () => {
    const dir = tempDir();
    const model = join(tempDir(), 'elsewhere.ttl');
    writeFileSync(model, readFileSync('examples/metered-api.ttl'));
    writeFileSync(join(dir, 'gwgen.json'), JSON.stringify({ models: [model], targets: ['kong'] }));
    const r = await gwgen(['generate'], { cwd: dir });
    expect(r.stderr).toContain('generated kong into ./generated');
    expect(r.exitCode).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'generated/.gwgen/manifest.json'), 'utf8'));
    expect(manifest.inputs.map((i: { path: string }) => i.path)).toEqual([model]);
  });

  it('a gwgen.json that is a directory is named as such, not as missing', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'gwgen.json'));
    const r = await gwgen(['generate'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('gwgen.json is a directory');
    expect(r.stderr).not.toContain('no gwgen.json here');
  });

  it('a gwgen.json that is not JSON is located at file:line:col (also where V8 gives no position); one saved with a byte order mark is read', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'm.ttl'), readFileSync('examples/metered-api.ttl'));
    const config = join(dir, 'gwgen.json');
    for (const [text, at, why] of [
      ['{\n  "models": ["m.ttl"],\n  "out": generated\n}\n', '3:10', "unexpected 'g'"],
      ['{\n  "models": ["m.ttl"],\n}\n', '3:1', 'expected double-quoted property name'],
      ['{ "models": ["m.ttl"]', '1:22', "expected ',' or '}' after property value"],
    ]) {
      writeFileSync(config, text!);
      const r = await gwgen(['generate'], { cwd: dir });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`${config}:${at}: error: gwgen.json is not valid JSON: ${why}\n`);
      expect(existsSync(join(dir, 'generated'))).toBe(false);
    }
    // Windows editors save "UTF-8 with BOM"; the mark is no part of the JSON.
    writeFileSync(config, `\ufeff${JSON.stringify({ models: ['m.ttl'], targets: ['kong'] })}`);
    const r = await gwgen(['generate'], { cwd: dir });
    expect(r.stderr).toContain('generated kong into ./generated');
    expect(r.exitCode).toBe(0);
  });

  it.each(['generate', 'watch'])('%s without models and without gwgen.json is a usage error whose hint names that command', async (command) => {
    const r = await gwgen([command], { cwd: tempDir() });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`pass model files (gwgen ${command} model.ttl), or run gwgen init`);
  });
});

describe('gwgen watch', () => {
  it('generates, regenerates on a model change, survives an invalid edit, and stops on SIGINT', async () => {
    const { execa } = await import('execa');
    const { BIN } = await import('./helpers.js');
    const dir = tempDir();
    const model = join(dir, 'model.ttl');
    writeFileSync(model, readFileSync('examples/metered-api.ttl', 'utf8'));
    const out = join(dir, 'out');
    const child = execa(process.execPath, [BIN, 'watch', model, '-o', out], { reject: false });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const until = async (what: string, ok: () => boolean) => {
      const deadline = Date.now() + 60_000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const kong = () => (existsSync(join(out, 'kong/kong.yml')) ? readFileSync(join(out, 'kong/kong.yml'), 'utf8') : '');
    await until('the first generation', () => stderr.includes('watching') && kong() !== '');
    const first = kong();
    writeFileSync(model, readFileSync(model, 'utf8').replace('agw:gatewayName "metered-gateway"', 'agw:gatewayName "renamed-gateway"'));
    await until('the regeneration', () => kong().includes('gateway:renamed-gateway'));
    expect(kong()).not.toBe(first);
    const second = kong();
    writeFileSync(model, 'this is not turtle');
    await until('the invalid model report', () => stderr.includes('model invalid'));
    expect(stderr).toContain('Turtle syntax error');
    expect(kong()).toBe(second);
    // Valid again: the run after a failed one regenerates (its query worker was replaced).
    writeFileSync(model, readFileSync('examples/metered-api.ttl', 'utf8').replace('agw:gatewayName "metered-gateway"', 'agw:gatewayName "fixed-gateway"'));
    await until('the regeneration after the fix', () => kong().includes('gateway:fixed-gateway'));
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(0);
  });
});

describe('paths and arguments that hold control characters, in messages', () => {
  // A folder or file name from a checked-out repository may hold an ESC (which would drive the
  // terminal) or a line break (which would forge a second message): shown as \uXXXX, as in problems.
  const NAME = 'x\u001b[2Jy\nz';
  const SHOWN = 'x\\u001b[2Jy\\u000az';
  const noRawControls = (text: string) => expect(text.replace(/\n/g, '')).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);

  it('generate names such an output directory escaped, on one line', async () => {
    const dir = tempDir();
    const r = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', NAME, '-t', 'kong'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(existsSync(join(dir, NAME, 'kong/kong.yml'))).toBe(true);
    expect(r.stderr).toBe(`generated kong into ${SHOWN}: 2 created, 0 updated, 0 deleted, 0 unchanged`);
    const check = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', NAME, '-t', 'kong', '--check'], { cwd: dir });
    expect([check.exitCode, check.stderr]).toEqual([0, `${SHOWN} is up to date (2 files)`]);
  });

  it('a refused option, value or command is quoted escaped', async () => {
    // Commander's messages are escaped line by line (its help keeps its layout), so a line break
    // there splits the line; what matters is that the ESC cannot drive the terminal.
    const ESC = 'x\u001b[2Jy';
    for (const [args, said] of [
      [['generate', 'm.ttl', `--${ESC}`], `error: unknown option '--x\\u001b[2Jy'`],
      [['query', 'm.ttl', '-e', 'ASK {}', '--format', ESC], `argument 'x\\u001b[2Jy' is invalid`],
      [[ESC], `error: unknown command 'x\\u001b[2Jy'`],
      [['help', NAME], `error: unknown command '${SHOWN}'\n`],
    ] as const) {
      const r = await gwgen([...args]);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain(said);
      noRawControls(r.stderr);
    }
  });

  it('watch reports into such an output directory escaped, each report on one line', async () => {
    const { execa } = await import('execa');
    const { BIN } = await import('./helpers.js');
    const dir = tempDir();
    writeFileSync(join(dir, 'model.ttl'), readFileSync('examples/metered-api.ttl', 'utf8'));
    const child = execa(process.execPath, [BIN, 'watch', 'model.ttl', '-o', NAME, '-t', 'kong'], { cwd: dir, reject: false, timeout: 110_000 });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      for (const deadline = Date.now() + 60_000; !stderr.endsWith('; watching\n'); await new Promise((r) => setTimeout(r, 100))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for the first run; stderr:\n${stderr}`);
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect((await child).exitCode, stderr).toBe(0);
    expect(stderr.split('\n')[0]).toBe(`generated into ${SHOWN}: 2 created, 0 updated, 0 deleted, 0 unchanged; watching`);
    noRawControls(stderr);
  });
});

describe('output into a pipe the reader closes early (`gwgen … | head -1`)', () => {
  // Output well beyond a pipe's 64 KB buffer, so that writing goes on after the reader is gone.
  const big = () => {
    const model = join(tempDir(), 'big.ttl');
    writeFileSync(model, syntheticModel(100));
    return model;
  };
  it.each([
    ['query csv', (m: string) => ['query', m, '-e', 'SELECT * WHERE { ?s ?p ?o }', '--format', 'csv'], 0],
    ['query json', (m: string) => ['query', m, '-e', 'SELECT * WHERE { ?s ?p ?o }', '--format', 'json'], 0],
  ])('%s ends with its own exit code and no stack trace', async (_name, args, code) => {
    const { spawn } = await import('node:child_process');
    const { BIN } = await import('./helpers.js');
    const child = spawn(process.execPath, [BIN, ...args(big())], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Read one chunk, then close the pipe as `head -1` does.
    child.stdout.once('data', () => child.stdout.destroy());
    const exit = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).not.toMatch(/EPIPE|at .*\(node:/);
    expect(exit).toBe(code);
  });
});

describe('a place the kernel will not make a folder in', () => {
  // Node's mkdir(..., { recursive: true }) spun forever at full CPU when mkdir said ENOENT under a
  // parent that exists (/proc, a removed working directory): gwgen hung instead of failing.
  it.skipIf(!existsSync('/proc/self'))('-o under /proc fails at once, naming it, instead of hanging', async () => {
    const { execa } = await import('execa');
    const { BIN } = await import('./helpers.js');
    const out = `/proc/gwgen-test-${process.pid}`;
    const r = await execa(process.execPath, [BIN, 'generate', 'examples/metered-api.ttl', '-o', out, '-t', 'kong'], { cwd: ROOT, reject: false, timeout: 30_000 });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain(`${out}: error: writing to ${out} failed, nothing was changed`);
    expect(String(r.stderr)).not.toMatch(/\n\s+at /);
  }, 60_000);

  it.skipIf(!existsSync('/proc/self'))('init into /proc fails at once instead of hanging', async () => {
    const { execa } = await import('execa');
    const { BIN } = await import('./helpers.js');
    const r = await execa(process.execPath, [BIN, 'init', `/proc/gwgen-test-${process.pid}/x`], { cwd: ROOT, reject: false, timeout: 30_000 });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain('cannot write the starter files');
  }, 60_000);

  it('a working directory removed under the shell is a usage error, not an internal one', async () => {
    const { execa } = await import('execa');
    const { BIN } = await import('./helpers.js');
    const dir = join(tempDir(), 'gone');
    mkdirSync(dir);
    const model = join(ROOT, 'examples/metered-api.ttl');
    const r = await execa('sh', ['-c', 'cd "$1" && rmdir "$1" && exec "$2" "$3" generate "$4" -o out -t kong', 'sh', dir, process.execPath, BIN, model], { reject: false, timeout: 30_000 });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toContain('the working directory no longer exists');
    expect(String(r.stderr)).not.toContain('internal error');
  }, 60_000);
});

describe('a model file this user may not read', () => {
  // The hint said "check the path", which sent the user after a typo that is not there.
  it('is exit 2, says permission denied and how to fix that', async (ctx) => {
    const { execa } = await import('execa');
    const { BIN } = await import('./helpers.js');
    const { chmodSync } = await import('node:fs');
    const dir = tempDir();
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'secret.ttl'), readFileSync('examples/metered-api.ttl'));
    chmodSync(join(dir, 'secret.ttl'), 0o000);
    // root reads anything: run as nobody then, where nobody can run gwgen from this checkout (a
    // clone under a private home folder is out of its reach).
    const user = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    if ('uid' in user) {
      const probe = await execa(process.execPath, [BIN, '--version'], { cwd: dir, reject: false, env: {}, timeout: 60_000, ...user });
      if (probe.exitCode !== 0) return ctx.skip();
    }
    const r = await execa(process.execPath, [BIN, 'validate', 'secret.ttl'], { cwd: dir, reject: false, env: {}, timeout: 60_000, ...user });
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toContain('secret.ttl: error: cannot read model file secret.ttl: permission denied');
    expect(String(r.stderr)).toContain('hint: let this user read it');
    expect(String(r.stderr)).not.toContain('check the path');
  });
});
