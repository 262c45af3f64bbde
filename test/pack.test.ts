import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gwgen, ROOT, snapshotDir, tempDir } from './helpers.js';

/**
 * Makes `dir` a git repository with everything in it committed (as `message`), and returns a
 * runner of git there as a throwaway committer, whose output comes back trimmed.
 */
function committedRepo(dir: string, message: string): (...args: string[]) => string {
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();
  git('init', '-q');
  git('add', '.');
  git('commit', '-q', '-m', message);
  return git;
}

function makePack(dir: string, { name = 'acme-pack', version = '1.2.0', notes = 'ACME NOTES for {{md gateway}}\n' } = {}) {
  mkdirSync(join(dir, 'templates/kong'), { recursive: true });
  writeFileSync(join(dir, 'pack.toml'), `[pack]\nname = "${name}"\nversion = "${version}"\ndescription = "Kong notes in ACME's words"\n`);
  writeFileSync(join(dir, 'templates/kong/NOTES.md.hbs'), notes);
  return dir;
}

describe('gwgen pack validate', () => {
  it('accepts this repository, which is itself a pack', async () => {
    const r = await gwgen(['pack', 'validate', ROOT]);
    expect(r.stderr).toContain('valid pack: gwgen-core');
    expect(r.exitCode).toBe(0);
  });

  it.each([
    ['no pack.toml', (d: string) => mkdirSync(join(d, 'templates'), { recursive: true }), 'has no pack.toml'],
    ['a version that is not SemVer', (d: string) => makePack(d, { version: '1.2' }), 'must be a SemVer version'],
    ['a template that does not compile', (d: string) => makePack(d, { notes: '{{#each x}}unclosed' }), 'template does not compile'],
    ['broken Turtle', (d: string) => { makePack(d); mkdirSync(join(d, 'ontology')); writeFileSync(join(d, 'ontology/x.ttl'), '@prefix : <urn:x#> .\n:a :b'); }, 'Turtle syntax error'],
    ['an audit rule without metadata', (d: string) => { makePack(d); mkdirSync(join(d, 'queries/audit'), { recursive: true }); writeFileSync(join(d, 'queries/audit/x.rq'), 'SELECT ?focus WHERE { ?focus ?p ?o }'); }, 'needs a header line "# id:'],
    ['a query that is not SPARQL', (d: string) => { makePack(d); mkdirSync(join(d, 'queries')); writeFileSync(join(d, 'queries/routes.rq'), 'PREFIX x: <urn:x#>\nSELEKT ?r WHERE { ?r a agw:Route }\n'); }, 'queries/routes.rq:2:1: error: the SPARQL query does not parse: unknown word "SELEKT"; did you mean SELECT?'],
    ['a query that would be refused when it runs (an ungrouped variable beside an aggregate)', (d: string) => { makePack(d); mkdirSync(join(d, 'queries')); writeFileSync(join(d, 'queries/count.rq'), 'SELECT ?r (COUNT(*) AS ?n)\nWHERE { ?r a agw:Route }\n'); }, 'queries/count.rq:1:8: error: the SPARQL query is invalid: ?r is selected, but the rows are grouped'],
    ['a query with FROM, which would match nothing when it runs', (d: string) => { makePack(d); mkdirSync(join(d, 'queries')); writeFileSync(join(d, 'queries/routes.rq'), 'SELECT ?r\nFROM <urn:model>\nWHERE { ?r a agw:Route }\n'); }, 'queries/routes.rq:2:1: error: FROM (a dataset clause) is not supported'],
    ['a query with a prefix it does not declare', (d: string) => { makePack(d); mkdirSync(join(d, 'queries')); writeFileSync(join(d, 'queries/routes.rq'), 'SELECT ?r WHERE { ?r a acme:Route }\n'); }, 'queries/routes.rq:1:24: error: the SPARQL query does not parse: the prefix acme: is not declared'],
    ['an audit rule that does not parse, for that alone', (d: string) => { makePack(d); mkdirSync(join(d, 'queries/audit'), { recursive: true }); writeFileSync(join(d, 'queries/audit/x.rq'), '# id: x-rule\n# severity: warning\n# message: {?focus} has {?p}\nSELECT ?focus ?p WHERE { ?focus ?p }\n'); }, /x\.rq:4:36: error: audit rule \S+x\.rq: the SPARQL query does not parse: unexpected '\}'[^\n]*\n[^\n]*$/],
    ['a query that is not UTF-8 (its "é" would be U+FFFD and match nothing)', (d: string) => { makePack(d); mkdirSync(join(d, 'queries')); writeFileSync(join(d, 'queries/routes.rq'), Buffer.concat([Buffer.from('SELECT ?r\nWHERE { ?r agw:routeName "caf'), Buffer.from([0xe9]), Buffer.from('" }\n')])); }, 'queries/routes.rq:2:30: error: the file is not UTF-8 text: SPARQL query files are UTF-8'],
    ['an audit rule that is not UTF-8', (d: string) => { makePack(d); mkdirSync(join(d, 'queries/audit'), { recursive: true }); writeFileSync(join(d, 'queries/audit/x.rq'), Buffer.concat([Buffer.from('# id: x-rule\n# severity: warning\n# message: {?focus}\nSELECT ?focus WHERE { ?focus agw:routeName "caf'), Buffer.from([0xe9]), Buffer.from('" }\n')])); }, /x\.rq:4:48: error: audit rule \S+x\.rq: the file is not UTF-8 text: audit rule files are UTF-8/],
    ['a template that calls a helper gwgen does not have', (d: string) => makePack(d, { notes: 'ACME\n{{shout gateway}}\n' }), 'NOTES.md.hbs:2:1: error: templates/kong/NOTES.md.hbs calls the helper "shout", which gwgen does not have'],
    ['a helper gwgen does not have in a subexpression', (d: string) => makePack(d, { notes: '{{md (shout gateway)}}\n' }), 'calls the helper "shout"'],
    ['a partial gwgen does not have', (d: string) => makePack(d, { notes: 'ACME\n{{> banner}}\n' }), 'NOTES.md.hbs:2:1: error: templates/kong/NOTES.md.hbs uses the partial "banner", which neither the pack nor gwgen provides for templates/kong/'],
    ["a partial of another target's templates", (d: string) => makePack(d, { notes: '{{> k8sMeta meta}}\n' }), 'uses the partial "k8sMeta"'],
    ['a symbolic link to a file', (d: string) => { makePack(d); writeFileSync(join(tempDir(), 'evil.hbs'), 'x'); symlinkSync(join(d, '..', 'evil.hbs'), join(d, 'templates/kong/kong.yml.hbs')); }, 'templates/kong/kong.yml.hbs is a symbolic link: a pack must not contain symbolic links'],
    ['a symbolic link to a directory', (d: string) => { makePack(d); mkdirSync(join(d, 'elsewhere')); symlinkSync(join(d, 'elsewhere'), join(d, 'templates/istio')); }, 'templates/istio is a symbolic link'],
  ])('rejects %s', async (_name, build, message: string | RegExp) => {
    const dir = tempDir();
    build(dir);
    const r = await gwgen(['pack', 'validate', dir]);
    expect(r.exitCode).toBe(1);
    if (typeof message === 'string') expect(r.stderr).toContain(message);
    else expect(r.stderr).toMatch(message);
  });
});

describe('gwgen pack validate: pack.toml', () => {
  const withToml = (toml: string) => {
    const dir = makePack(tempDir());
    writeFileSync(join(dir, 'pack.toml'), toml);
    return dir;
  };
  it.each([
    ['a missing key, at the [pack] header', '# ACME\n[pack]\nname = "acme"\ndescription = "d"\n', ['pack.toml:2: error: [pack] has no version', 'hint: add e.g. version = "1.2.0"']],
    ['a wrong value, at its line', '[pack]\nname = "acme"\nversion = "1.2"\ndescription = "d"\n', ['pack.toml:3: error: [pack] version "1.2" must be a SemVer version']],
    ['a version that is no string', '[pack]\nname = "acme"\nversion = 1.0\ndescription = "d"\n', ['pack.toml:3: error: [pack] version must be a string in quotes, not 1']],
    ['names that are no safe folder name', '[pack]\nname = "../x"\nversion = "1.0.0"\ndescription = "d"\n', ['pack.toml:2: error: [pack] name "../x" must be a lower-case name']],
    ['an unknown key of [pack] and an unknown table', '[pack]\nname = "acme"\nversion = "1.0.0"\ndescription = "d"\nauthor = "me"\n\n[dependencies]\nx = "1"\n', ['pack.toml:5: error: [pack] has an unknown key "author"', 'pack.toml:7: error: pack.toml has an unknown table "dependencies"']],
    ['[[pack]], an array of tables', '[[pack]]\nname = "acme"\n', ['pack.toml:1: error: pack.toml\'s "pack" is an array of tables ([[pack]]), not the table [pack]']],
    ['the fields without a [pack] header', 'name = "acme"\nversion = "1.0.0"\ndescription = "d"\n', ['pack.toml:1: error: pack.toml has no [pack] table: name, version, description stand outside any table', 'hint: put the line [pack] above them']],
  ])('locates %s', async (_name, toml, messages) => {
    const dir = withToml(toml);
    const r = await gwgen(['pack', 'validate', dir]);
    expect(r.exitCode).toBe(1);
    for (const message of messages) expect(r.stderr).toContain(message);
    // In the file's order.
    expect(messages.map((message) => r.stderr.indexOf(message))).toEqual(messages.map((message) => r.stderr.indexOf(message)).sort((a, b) => a - b));
    expect(r.stderr).not.toContain('undefined');
  });

  it('a pack.toml that is a directory is named as such', async () => {
    const dir = makePack(tempDir());
    rmSync(join(dir, 'pack.toml'));
    mkdirSync(join(dir, 'pack.toml'));
    const r = await gwgen(['pack', 'validate', dir]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${dir} is not a template pack: its pack.toml is a directory`);
  });
});

describe('gwgen pack validate: what a template may use', () => {
  it("accepts gwgen's helpers and partials, Handlebars' own helpers and inline partials", async () => {
    const pack = makePack(tempDir(), { notes: '{{#each routes}}{{#if (eq method "GET")}}{{kebabCase name}}{{/if}}{{/each}}{{#*inline "row"}}{{md gateway}}{{/inline}}{{> row}}\n' });
    writeFileSync(join(pack, 'templates/kong/_plugin.hbs'), readFileSync(join(ROOT, 'templates/kong/_plugin.hbs')));
    const r = await gwgen(['pack', 'validate', pack]);
    expect(r.stderr).toContain('valid pack: acme-pack');
    expect(r.exitCode).toBe(0);
  });

  it('a field the model does not have fails generate naming the pack, not as a fault of gwgen', async () => {
    const project = tempDir();
    expect((await gwgen(['pack', 'install', makePack(join(tempDir(), 'acme'), { notes: '{{gatway}}\n' })], { cwd: project })).exitCode).toBe(0);
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(1);
    expect(gen.stderr).toContain(`${join(project, '.gwgen/packs/acme-pack/templates/kong/NOTES.md.hbs')}:1:3: error: template kong/NOTES.md.hbs failed: "gatway" not defined`);
    expect(gen.stderr).toContain(`hint: this template comes from the template pack in ${join(project, '.gwgen/packs/acme-pack')}`);
    expect(gen.stderr).not.toContain('please report it');
  });

  it('a template of the pack whose output is not valid TypeScript is named under .gwgen/packs/, as the pack\'s to fix', async () => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'));
    mkdirSync(join(pack, 'templates/gateway/src'), { recursive: true });
    writeFileSync(join(pack, 'templates/gateway/src/log.ts.hbs'), '// ACME\nexport const level = ;\n');
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(1);
    expect(gen.stderr).toContain(`${join(project, '.gwgen/packs/acme-pack/templates/gateway/src/log.ts.hbs')}: error: gateway/src/log.ts (from template gateway/src/log.ts.hbs) is not valid typescript`);
    expect(gen.stderr).toContain(`hint: this template comes from the template pack in ${join(project, '.gwgen/packs/acme-pack')}: fix it in the pack's source, then install it again (gwgen pack install ${relative(project, pack)}; an edit of the installed copy is refused as modified), or generate without --pack`);
    expect(gen.stderr).not.toContain('please report it');
    expect(existsSync(join(project, 'out'))).toBe(false);
  });

  it("a field the pack's template does not find is reported at its line and column, without Handlebars' [object Object]", async () => {
    const project = tempDir();
    expect((await gwgen(['pack', 'install', makePack(join(tempDir(), 'acme'), { notes: 'ACME\n\n  {{gatway}}\n' })], { cwd: project })).exitCode).toBe(0);
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(1);
    expect(gen.stderr).toContain(`${join(project, '.gwgen/packs/acme-pack/templates/kong/NOTES.md.hbs')}:3:5: error: template kong/NOTES.md.hbs failed: "gatway" not defined\n`);
    expect(gen.stderr).not.toContain('[object Object]');
  });

  it("Handlebars' log helper, which prints into gwgen's stdout, is refused by validate and, in a pack pinned before, by generate", async () => {
    const notes = 'ACME\n{{log "from the pack"}}\n';
    const validate = await gwgen(['pack', 'validate', makePack(tempDir(), { notes })]);
    expect(validate.exitCode).toBe(1);
    expect(validate.stderr).toContain('NOTES.md.hbs:2:1: error: templates/kong/NOTES.md.hbs calls the helper "log", which gwgen does not have');
    // A pack installed by a gwgen that allowed log: its files and a pin that matches them.
    const project = tempDir();
    const installed = makePack(join(project, '.gwgen/packs/acme-pack'), { notes });
    const hash = createHash('sha256');
    for (const file of ['pack.toml', 'templates/kong/NOTES.md.hbs']) {
      const content = readFileSync(join(installed, file));
      hash.update(`${file}\0${content.length}\0`).update(content);
    }
    writeFileSync(join(project, 'gwgen.lock'), JSON.stringify({ lockfileVersion: 1, packs: { 'acme-pack': { integrity: `sha256-${hash.digest('hex')}`, source: 'path:acme', version: '1.2.0' } } }));
    expect((await gwgen(['pack', 'list'], { cwd: project })).exitCode).toBe(0);
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--dry-run', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.stdout).not.toContain('from the pack');
    expect(gen.stderr).toContain(`${join(installed, 'templates/kong/NOTES.md.hbs')}:2:1: error: template kong/NOTES.md.hbs failed: the "log" helper is not available`);
    expect(gen.exitCode).toBe(1);
  });

  // Handlebars' strict mode checks {{field}}, but passes a missing field given to a helper as undefined.
  it.each([
    ['md', 'ACME\n\n  {{md gatway}}\n', '3:3'],
    ['yaml', '{{#each services}}\n- {{yaml nmae}}\n{{/each}}\n', '2:3'],
    ['kebabCase', '{{kebabCase (lookup gateway "nmae")}}\n', '1:1'],
  ])('a missing field given to the writing helper %s fails generate at its line, instead of writing "null" or "undefined"', async (helper, notes, at) => {
    const project = tempDir();
    expect((await gwgen(['pack', 'install', makePack(join(tempDir(), 'acme'), { notes })], { cwd: project })).exitCode).toBe(0);
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(1);
    expect(gen.stderr).toContain(`${join(project, '.gwgen/packs/acme-pack/templates/kong/NOTES.md.hbs')}:${at}: error: template kong/NOTES.md.hbs failed: "${helper}" was given a field that is not defined`);
    expect(existsSync(join(project, 'out'))).toBe(false);
  });

  it("a pack's partial that fails is named as the pack's, at its line, not as a fault of gwgen's template that uses it", async () => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'));
    writeFileSync(join(pack, 'templates/kong/_plugin.hbs'), '- name: {{yaml name}}\n  acme: {{acmeSetting}}\n');
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(1);
    expect(gen.stderr).toContain(`${join(project, '.gwgen/packs/acme-pack/templates/kong/_plugin.hbs')}:2:11: error: template kong/kong.yml.hbs failed (in the partial kong/_plugin.hbs): "acmeSetting" not defined\n`);
    expect(gen.stderr).toContain(`hint: this partial comes from the template pack in ${join(project, '.gwgen/packs/acme-pack')}: fix it in the pack's source, then install it again (gwgen pack install ${relative(project, pack)};`);
    expect(gen.stderr).not.toContain('please report it');
    expect(existsSync(join(project, 'out'))).toBe(false);
  });

  // Written as they render (prettier formats only code), a pack's YAML and JSON must still parse.
  it.each([
    ['kong/kong.yml.hbs', '# {{md gateway}}\nservices: [\n', 'kong/kong.yml (from template kong/kong.yml.hbs) is not valid YAML: line 3, column 1: Flow sequence'],
    ['k8s/gateway.yaml.hbs', 'a: 1\na: 2\n', 'k8s/gateway.yaml (from template k8s/gateway.yaml.hbs) is not valid YAML: line 2, column 1: Map keys must be unique'],
    ['gateway/config.json.hbs', '{ "routes": [ }\n', 'gateway/config.json (from template gateway/config.json.hbs) is not valid JSON'],
  ])("a pack's %s whose output does not parse fails generate, naming the pack's template, and writes nothing", async (template, source, message) => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'));
    mkdirSync(join(pack, 'templates', template, '..'), { recursive: true });
    writeFileSync(join(pack, 'templates', template), source);
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const gen = await gwgen(['generate', join(ROOT, 'examples/mesh-shop.ttl'), '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(1);
    expect(gen.stderr).toContain(`${join(project, '.gwgen/packs/acme-pack/templates', template)}: error: ${message}`);
    expect(gen.stderr).toContain(`hint: this template comes from the template pack in ${join(project, '.gwgen/packs/acme-pack')}: fix it in the pack's source, then install it again (gwgen pack install ${relative(project, pack)}; an edit of the installed copy is refused as modified), or generate without --pack`);
    expect(existsSync(join(project, 'out'))).toBe(false);
  });

  it("a pack's valid YAML and JSON generate as they render", async () => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'));
    writeFileSync(join(pack, 'templates/kong/kong.yml.hbs'), '# ACME {{md gateway}}\n_format_version: "3.0"\n---\nservices: []\n');
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '-t', 'kong', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.stderr).toContain('generated kong');
    expect(gen.exitCode).toBe(0);
    expect(readFileSync(join(project, 'out/kong/kong.yml'), 'utf8')).toBe('# ACME metered-gateway\n_format_version: "3.0"\n---\nservices: []\n');
  });

  it('a pack whose template calls an unknown helper is not installed', async () => {
    const project = tempDir();
    const r = await gwgen(['pack', 'install', makePack(join(tempDir(), 'acme'), { notes: '{{shout gateway}}\n' })], { cwd: project });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('calls the helper "shout"');
    expect(r.stderr).toMatch(/hint: gwgen's helpers are .*\byaml\b/);
    expect(existsSync(join(project, 'gwgen.lock'))).toBe(false);
  });

  it('reports every unknown helper and unknown partial of a template in one run, each at its line', async () => {
    const pack = makePack(tempDir(), { notes: '{{shout gateway}}\n{{#each (pick routes)}}{{/each}}\n{{> footer}}\n' });
    const r = await gwgen(['pack', 'validate', pack]);
    expect(r.exitCode).toBe(1);
    const file = join(pack, 'templates/kong/NOTES.md.hbs');
    expect(r.stderr).toContain(`${file}:1:1: error: templates/kong/NOTES.md.hbs calls the helper "shout"`);
    expect(r.stderr).toContain(`${file}:2:9: error: templates/kong/NOTES.md.hbs calls the helper "pick"`);
    expect(r.stderr).toContain(`${file}:3:1: error: templates/kong/NOTES.md.hbs uses the partial "footer"`);
    expect(r.stderr).toContain('3 problems');
  });

  it('a template that does not parse is reported at its line, with what the parser got and expected', async () => {
    const pack = makePack(tempDir(), { notes: 'ok\n{{#if gateway}}\n' });
    const r = await gwgen(['pack', 'validate', pack]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${join(pack, 'templates/kong/NOTES.md.hbs')}:3: error: template does not compile: Parse error: got the end of the template, expected`);
    expect(r.stderr).not.toContain('---^');
  });
});

describe('gwgen pack: symbolic links', () => {
  it('install refuses a source with a symbolic link (rather than dropping the file)', async () => {
    const outside = join(tempDir(), 'outside.hbs');
    writeFileSync(outside, 'injected\n');
    const pack = makePack(join(tempDir(), 'acme'));
    symlinkSync(outside, join(pack, 'templates/kong/kong.yml.hbs'));
    const project = tempDir();
    const r = await gwgen(['pack', 'install', pack], { cwd: project });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${join(pack, 'templates/kong/kong.yml.hbs')} is a symbolic link`);
    expect(r.stderr).toContain('hint: replace the link with a copy of the file it points to');
    expect(existsSync(join(project, 'gwgen.lock'))).toBe(false);
    expect(existsSync(join(project, '.gwgen/packs/acme-pack'))).toBe(false);
  });

  it('pack list and generate --pack refuse an installed pack a symbolic link was added to', async () => {
    const project = tempDir();
    expect((await gwgen(['pack', 'install', makePack(join(tempDir(), 'acme'))], { cwd: project })).exitCode).toBe(0);
    const outside = join(tempDir(), 'outside.hbs');
    writeFileSync(outside, 'injected\n');
    symlinkSync(outside, join(project, '.gwgen/packs/acme-pack/templates/kong/kong.yml.hbs'));
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.stdout).toMatch(/^acme-pack\s+1\.2\.0\s+invalid\s+path:/);
    expect(list.stderr).toContain('.gwgen/packs/acme-pack/templates/kong/kong.yml.hbs is a symbolic link: a pack must not contain symbolic links');
    expect(list.stderr).toContain('hint: remove it, and reinstall it as gwgen.lock pins it (gwgen pack install, with no source), or take its source as it is now (gwgen pack install');
    expect(list.exitCode).toBe(1);
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(2);
    expect(gen.stderr).toContain('.gwgen/packs/acme-pack/templates/kong/kong.yml.hbs is a symbolic link');
    expect(existsSync(join(project, 'out'))).toBe(false);
  });
});

describe('gwgen pack: an invalid gwgen.lock', () => {
  const entry = { version: '1.2.0', source: 'path:acme', integrity: `sha256-${'0'.repeat(64)}` };
  it.each([
    ['not JSON', '{broken', 'gwgen.lock is invalid: it is not JSON'],
    ['a JSON array', '[]', 'gwgen.lock is invalid: it is not a JSON object'],
    ['packs of the wrong shape', JSON.stringify({ lockfileVersion: 1, packs: ['acme-pack'] }), 'gwgen.lock is invalid: "packs" is not an object'],
    ['an entry without integrity', JSON.stringify({ lockfileVersion: 1, packs: { 'acme-pack': { version: '1.2.0', source: 'path:acme' } } }), 'pack "acme-pack" has no "integrity"'],
    ['another lockfileVersion', JSON.stringify({ lockfileVersion: 2, packs: {} }), '"lockfileVersion" is 2, and this gwgen reads version 1'],
    ['a pack name that is a path', JSON.stringify({ lockfileVersion: 1, packs: { '../../x': entry } }), '"../../x" is no pack name'],
  ])('is an error for pack list, pack install and generate --pack, and never overwritten: %s', async (_name, text, message) => {
    const project = tempDir();
    writeFileSync(join(project, 'gwgen.lock'), text);
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.exitCode).toBe(1);
    expect(list.stderr).toContain(message);
    expect(list.stderr).toContain('hint: fix it, or delete it and install your packs again');
    expect(list.stderr).not.toContain('no packs installed');
    const install = await gwgen(['pack', 'install', makePack(join(tempDir(), 'acme'))], { cwd: project });
    expect(install.exitCode).toBe(1);
    expect(install.stderr).toContain(message);
    expect(readFileSync(join(project, 'gwgen.lock'), 'utf8')).toBe(text);
    expect(existsSync(join(project, '.gwgen'))).toBe(false);
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(2);
    expect(gen.stderr).toContain(message);
    expect(existsSync(join(project, 'out'))).toBe(false);
  });

  it('a gwgen.lock that is not JSON is located at its line and column', async () => {
    const project = tempDir();
    writeFileSync(join(project, 'gwgen.lock'), '{\n  "lockfileVersion": 1,\n  "packs": { acme-pack: {} }\n}\n');
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.exitCode).toBe(1);
    expect(list.stderr).toContain(`${join(project, 'gwgen.lock')}:3:14: error: gwgen.lock is invalid: it is not JSON (expected property name or '}')`);
  });

  it('a pack name from gwgen.lock is never resolved outside .gwgen/packs/', async () => {
    const project = tempDir();
    // A pack at <project>/x, pinned under the name "../../x" with its real hash: .gwgen/packs/../../x is <project>/x.
    const pack = makePack(join(project, 'x'), { notes: 'OUTSIDE\n' });
    const installed = tempDir();
    expect((await gwgen(['pack', 'install', pack], { cwd: installed })).exitCode).toBe(0);
    const { integrity } = JSON.parse(readFileSync(join(installed, 'gwgen.lock'), 'utf8')).packs['acme-pack'];
    writeFileSync(join(project, 'gwgen.lock'), JSON.stringify({ lockfileVersion: 1, packs: { '../../x': { version: '1.2.0', source: 'path:x', integrity } } }));
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--pack', '../../x'], { cwd: project });
    expect(gen.exitCode).toBe(2);
    expect(gen.stderr).toContain('"../../x" is no pack name');
    expect(existsSync(join(project, 'out'))).toBe(false);
  });
});

describe('gwgen pack install from git: branch, tag and commit refs', () => {
  it('installs the commit a full or abbreviated commit id names, and a tag', async () => {
    const repo = makePack(join(tempDir(), 'acme.git'), { name: 'acme-git', version: '1.0.0' });
    const git = committedRepo(repo, 'v1');
    const first = git('rev-parse', 'HEAD');
    makePack(repo, { name: 'acme-git', version: '2.0.0' });
    git('commit', '-q', '-am', 'v2');
    git('tag', 'v2.0.0');
    makePack(repo, { name: 'acme-git', version: '3.0.0' });
    git('commit', '-q', '-am', 'v3');
    for (const [ref, version] of [[first, '1.0.0'], [first.slice(0, 7), '1.0.0'], ['v2.0.0', '2.0.0'], ['', '3.0.0']] as const) {
      const project = tempDir();
      const source = `file://${repo}${ref ? `#${ref}` : ''}`;
      const r = await gwgen(['pack', 'install', source], { cwd: project });
      expect(r.stderr, source).toContain(`installed acme-git ${version} from git:${source}`);
      expect(r.exitCode).toBe(0);
    }
    const missing = await gwgen(['pack', 'install', `file://${repo}#${'f'.repeat(40)}`], { cwd: tempDir() });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(`has no branch, tag or commit "${'f'.repeat(40)}"`);
  });
});

describe('gwgen pack install from a local git repository given by its path', () => {
  it('a bare repository is cloned (it is no pack directory), also at a ref; a working tree takes a ref too', async () => {
    const work = makePack(join(tempDir(), 'acme'), { name: 'acme-git', version: '1.0.0' });
    const git = committedRepo(work, 'v1');
    git('tag', 'v1');
    makePack(work, { name: 'acme-git', version: '2.0.0' });
    git('commit', '-q', '-am', 'v2');
    const parent = tempDir();
    execFileSync('git', ['clone', '-q', '--bare', work, join(parent, 'acme.git')]);
    const project = join(parent, 'project');
    mkdirSync(project);
    for (const [source, version, recorded] of [['../acme.git', '2.0.0', 'git:../acme.git'], [`${join(parent, 'acme.git')}#v1`, '1.0.0', 'git:../acme.git#v1'], [`${work}#v1`, '1.0.0', undefined]] as const) {
      const r = await gwgen(['pack', 'install', source], { cwd: project });
      expect(r.stderr, source).toContain(`installed acme-git ${version} from git:`);
      expect(r.exitCode, r.stderr).toBe(0);
      const lock = JSON.parse(readFileSync(join(project, 'gwgen.lock'), 'utf8'));
      if (recorded) expect(lock.packs['acme-git'].source).toBe(recorded);
      expect(readFileSync(join(project, '.gwgen/packs/acme-git/pack.toml'), 'utf8')).toContain(`version = "${version}"`);
    }
    // What pack list suggests for reinstalling works as given.
    expect((await gwgen(['pack', 'install', '../acme.git'], { cwd: project })).exitCode).toBe(0);
    const unknownRef = await gwgen(['pack', 'install', '../acme.git#nope'], { cwd: project });
    expect(unknownRef.exitCode).toBe(1);
    expect(unknownRef.stderr).toContain('fatal: Remote branch nope not found');
    // A folder whose name holds "#" is that folder, even beside a repository of the name before it.
    makePack(join(parent, 'acme.git#v1'), { name: 'acme-git', version: '9.0.0' });
    const folder = await gwgen(['pack', 'install', '../acme.git#v1'], { cwd: project });
    expect(folder.stderr).toContain('installed acme-git 9.0.0 from path:../acme.git#v1');
  });
});

describe('gwgen pack install from npm: what was fetched', () => {
  /** A tarball as npm pack makes it, of a package that is no template pack. */
  function notAPack(name: string): string {
    const dir = tempDir();
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0' }));
    writeFileSync(join(dir, 'index.js'), '');
    const out = tempDir();
    return join(out, execFileSync('npm', ['pack', dir, '--pack-destination', out, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop()!);
  }

  it('a tarball with a path that leaves package/ or a file behind a link is refused as such, and nothing lands outside', async () => {
    const root = tempDir();
    const project = join(root, 'project');
    mkdirSync(project);
    const src = makePack(join(root, 'src/package'), { name: 'evil-pack' });
    writeFileSync(join(src, 'package.json'), JSON.stringify({ name: 'evil-pack', version: '1.2.0' }));
    // tar's own --transform writes the hostile member names: "package/../../escaped.txt", and a link "package/lnk" with a file behind it.
    writeFileSync(join(root, 'escaped.txt'), 'x\n');
    execFileSync('tar', ['-czf', join(root, 'dots.tgz'), '-C', join(root, 'src'), 'package', '-C', root, '--transform', 's|^escaped.txt|package/../../escaped.txt|', 'escaped.txt']);
    mkdirSync(join(root, 'inner'));
    writeFileSync(join(root, 'inner/behind.txt'), 'x\n');
    symlinkSync(join(root, 'outside'), join(root, 'lnk'));
    execFileSync('tar', ['-czf', join(root, 'link.tgz'), '-C', join(root, 'src'), 'package', '-C', root, '--transform', 's|^lnk|package/lnk|;s|^inner|package/lnk|', 'lnk', 'inner/behind.txt']);
    mkdirSync(join(root, 'outside'));
    for (const [tarball, why] of [['dots.tgz', "Member name contains '..'"], ['link.tgz', 'Cannot open']] as const) {
      const r = await gwgen(['pack', 'install', join(root, tarball)], { cwd: project });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toContain(`cannot install pack ${join(root, tarball)}: its tarball does not unpack safely: `);
      expect(r.stderr).toContain(why);
      expect(r.stderr).not.toContain('npm could not fetch it');
    }
    expect(existsSync(join(project, 'gwgen.lock'))).toBe(false);
    expect(readdirSync(join(root, 'outside'))).toEqual([]);
  });

  it('a file that is no tarball is named as such (exit 2), and a pack.toml given for its pack points to its folder', async () => {
    const pack = makePack(join(tempDir(), 'acme'));
    const project = tempDir();
    writeFileSync(join(project, 'README.md'), '# notes\n');
    const toml = await gwgen(['pack', 'install', join(pack, 'pack.toml')], { cwd: project });
    expect(toml.exitCode).toBe(2);
    expect(toml.stderr).toContain(`${join(pack, 'pack.toml')} is a file, not a pack directory, a git repository or an npm tarball`);
    expect(toml.stderr).toContain(`hint: give the folder that holds the pack's pack.toml: ${pack}`);
    const readme = await gwgen(['pack', 'install', 'README.md'], { cwd: project });
    expect(readme.exitCode).toBe(2);
    expect(readme.stderr).toContain('README.md is a file, not a pack directory, a git repository or an npm tarball');
    for (const r of [toml, readme]) expect(r.stderr).not.toMatch(/npm could not|Command failed|gwgen-pack-/);
    expect(readdirSync(project)).toEqual(['README.md']);
  });

  it('an empty source or directory (an unset shell variable) is a usage error, not the current folder', async () => {
    const project = makePack(join(tempDir(), 'here'));
    const before = snapshotDir(project);
    for (const [args, what] of [[['pack', 'install', ''], 'source'], [['pack', 'install', '  '], 'source'], [['pack', 'validate', ''], 'directory']] as const) {
      const r = await gwgen([...args], { cwd: project });
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain(`error: the pack ${what} is empty`);
    }
    expect(snapshotDir(project)).toEqual(before);
  });

  it("npm's own reason is in the message when it cannot fetch a spec, and a spec with a scheme is no folder name", async () => {
    const project = tempDir();
    const r = await gwgen(['pack', 'install', 'file:no-such-pack-1.0.0.tgz'], { cwd: project });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`"file:no-such-pack-1.0.0.tgz" was taken as an npm package spec, and npm could not fetch it: ENOENT: no such file or directory, open '${join(project, 'no-such-pack-1.0.0.tgz')}'`);
    expect(r.stderr).not.toMatch(/Command failed|gwgen-pack-|local folder/);
  });

  it('a tarball that is not gzipped installs as npm takes it', async () => {
    const dir = makePack(join(tempDir(), 'acme'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'acme-pack', version: '1.2.0' }));
    const out = tempDir();
    const tgz = join(out, execFileSync('npm', ['pack', dir, '--pack-destination', out, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop()!);
    const tar = join(out, 'acme-pack.tar');
    execFileSync('sh', ['-c', 'gunzip -c "$1" > "$2"', 'sh', tgz, tar]);
    const r = await gwgen(['pack', 'install', tar], { cwd: tempDir() });
    expect(r.stderr).toContain(`installed acme-pack 1.2.0 from npm:${tar}`);
    expect(r.exitCode).toBe(0);
  });

  it('a tarball that is no pack names the npm package', async () => {
    const tarball = notAPack('not-a-pack');
    const r = await gwgen(['pack', 'install', tarball], { cwd: tempDir() });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`the tarball ${tarball} was taken as an npm package: npm fetched the package not-a-pack@1.0.0, which is not a template pack: it has no pack.toml`);
    expect(r.stderr).not.toContain('gwgen-pack-');
  });

  it('a bare name that is no local folder is an npm spec, and the message says so (a registry on 127.0.0.1)', async () => {
    const tarball = readFileSync(notAPack('p2'));
    const server = createServer((req, res) => {
      const port = (server.address() as AddressInfo).port;
      if (req.url === '/p2') {
        const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ name: 'p2', 'dist-tags': { latest: '1.0.0' }, versions: { '1.0.0': { name: 'p2', version: '1.0.0', dist: { tarball: `http://127.0.0.1:${port}/p2/-/p2-1.0.0.tgz`, integrity } } } }));
      } else if (req.url === '/p2/-/p2-1.0.0.tgz') {
        res.end(tarball);
      } else {
        res.statusCode = 404;
        res.setHeader('content-type', 'application/json');
        res.end('{"error":"Not found"}');
      }
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const env = { npm_config_registry: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, npm_config_cache: tempDir(), npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
      const project = tempDir();
      const r = await gwgen(['pack', 'install', 'p2'], { cwd: project, env });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('"p2" was taken as an npm package spec, as there is no local folder ./p2: npm fetched the package p2@1.0.0, which is not a template pack: it has no pack.toml');
      expect(r.stderr).toContain('hint: for a local folder, give ./p2');
      const unknown = await gwgen(['pack', 'install', 'p3'], { cwd: project, env });
      expect(unknown.exitCode).toBe(1);
      expect(unknown.stderr).toContain('"p3" was taken as an npm package spec, as there is no local folder ./p3, and npm could not fetch it: Not Found - GET http://127.0.0.1:');
      expect(unknown.stderr).not.toMatch(/Command failed|gwgen-pack-/);
      expect(unknown.stderr).toContain('hint: for a local folder, give ./p3');
      expect(existsSync(join(project, 'gwgen.lock'))).toBe(false);
    } finally {
      server.close();
    }
  });
});

describe('gwgen pack install / list / generate --pack', () => {
  it('installs from a directory, pins it in gwgen.lock and renders with its templates', async () => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'));
    const install = await gwgen(['pack', 'install', pack], { cwd: project });
    expect(install.stderr).toContain('installed acme-pack 1.2.0');
    expect(install.exitCode).toBe(0);
    const lock = JSON.parse(readFileSync(join(project, 'gwgen.lock'), 'utf8'));
    expect(lock.packs['acme-pack']).toEqual({ version: '1.2.0', source: expect.stringMatching(/^path:/), integrity: expect.stringMatching(/^sha256-[0-9a-f]{64}$/) });
    expect(existsSync(join(project, '.gwgen/packs/acme-pack/templates/kong/NOTES.md.hbs'))).toBe(true);
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.stdout).toMatch(/^acme-pack\s+1\.2\.0\s+ok\s+path:/);

    const model = join(ROOT, 'examples/metered-api.ttl');
    const gen = await gwgen(['generate', model, '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(0);
    expect(readFileSync(join(project, 'out/kong/NOTES.md'), 'utf8')).toBe('ACME NOTES for metered-gateway\n');
    // Templates the pack does not have come from gwgen.
    expect(readFileSync(join(project, 'out/kong/kong.yml'), 'utf8')).toBe(readFileSync(join(ROOT, 'generated-examples/metered-api/kong/kong.yml'), 'utf8'));
    expect(JSON.parse(readFileSync(join(project, 'out/.gwgen/manifest.json'), 'utf8')).pack).toEqual({ name: 'acme-pack', version: '1.2.0', integrity: lock.packs['acme-pack'].integrity });
  });

  it('installed from inside itself, a pack is the same pack on every install (its own gwgen.lock is not part of it)', async () => {
    const pack = makePack(join(tempDir(), 'acme'));
    const integrity = async () => {
      const r = await gwgen(['pack', 'install', '.'], { cwd: pack });
      expect(r.exitCode, r.stderr).toBe(0);
      return JSON.parse(readFileSync(join(pack, 'gwgen.lock'), 'utf8')).packs['acme-pack'].integrity as string;
    };
    const first = await integrity();
    expect(await integrity()).toBe(first);
    expect(existsSync(join(pack, '.gwgen/packs/acme-pack/gwgen.lock'))).toBe(false);
  });

  it('a folder named dist or generated inside the pack is the pack\'s (only at its root is it a project\'s output)', async () => {
    const pack = makePack(join(tempDir(), 'acme'));
    mkdirSync(join(pack, 'ontology/generated'), { recursive: true });
    mkdirSync(join(pack, 'dist'));
    writeFileSync(join(pack, 'dist/build.js'), 'built\n');
    writeFileSync(join(pack, 'ontology/generated/extra.ttl'), '@prefix : <urn:x#> .\n:a :b :c .\n');
    const project = tempDir();
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    expect(readFileSync(join(project, '.gwgen/packs/acme-pack/ontology/generated/extra.ttl'), 'utf8')).toContain(':a :b :c');
    expect(existsSync(join(project, '.gwgen/packs/acme-pack/dist'))).toBe(false);
    writeFileSync(join(pack, 'ontology/generated/extra.ttl'), '@prefix : <urn:x#> .\n:a :b\n');
    const r = await gwgen(['pack', 'validate', pack]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${join(pack, 'ontology/generated/extra.ttl')}:3: error: Turtle syntax error`);
  });

  it('refuses a template gwgen would never render: outside a target\'s folder, or a partial gwgen does not have', async () => {
    const pack = makePack(join(tempDir(), 'acme'));
    mkdirSync(join(pack, 'templates/bogus'), { recursive: true });
    writeFileSync(join(pack, 'templates/bogus/x.yaml.hbs'), 'x: 1\n');
    writeFileSync(join(pack, 'templates/top.yaml.hbs'), 'x: 1\n');
    writeFileSync(join(pack, 'templates/kong/_banner.hbs'), 'y: 2\n');
    writeFileSync(join(pack, 'templates/kong/extra.yml.hbs'), 'y: 2\n');
    mkdirSync(join(pack, 'templates/k8s'), { recursive: true });
    for (const name of ['.hbs', '..hbs', '...hbs']) writeFileSync(join(pack, 'templates/k8s', name), 'z: 3\n');
    const r = await gwgen(['pack', 'validate', pack]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("templates/bogus/x.yaml.hbs is in no target's folder");
    expect(r.stderr).toContain("templates/top.yaml.hbs is in no target's folder");
    expect(r.stderr).toContain('templates/kong/_banner.hbs is a partial gwgen does not have');
    expect(r.stderr).toContain('templates/k8s/.hbs has no name before .hbs to render to (its output would be "k8s/")');
    expect(r.stderr).toContain('templates/k8s/..hbs has no name before .hbs to render to (its output would be "k8s/.")');
    expect(r.stderr).toContain('templates/k8s/...hbs has no name before .hbs to render to (its output would be "k8s/..")');
    // A template of its own in a target's folder adds a file to that target.
    expect(r.stderr).not.toContain('extra.yml.hbs');
    expect(r.stderr).toContain('6 problems');
  });

  it("a pack's own template adds a file to its target, rendered with the target's view beside an override; without --pack it goes again", async () => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'));
    mkdirSync(join(pack, 'templates/k8s/extra'), { recursive: true });
    writeFileSync(join(pack, 'templates/k8s/extra/hpa.yaml.hbs'), 'apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {{gateway}}\n  labels:\n    container: {{gatewayWorkload.containerName}}\n');
    writeFileSync(join(pack, 'templates/kong/routes.txt.hbs'), '{{#each notes}}{{feature}}\n{{/each}}');
    const validate = await gwgen(['pack', 'validate', pack]);
    expect(validate.stderr).toContain('valid pack: acme-pack');
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    // A folder the pin does not cover (node_modules/, .git/) is no part of the pack: its templates are not rendered.
    for (const skipped of ['node_modules', '.git']) {
      mkdirSync(join(project, '.gwgen/packs/acme-pack/templates/k8s', skipped), { recursive: true });
      writeFileSync(join(project, '.gwgen/packs/acme-pack/templates/k8s', skipped, 'unpinned.yaml.hbs'), 'x: 1\n');
    }
    expect((await gwgen(['pack', 'list'], { cwd: project })).exitCode).toBe(0);
    const model = join(ROOT, 'examples/metered-api.ttl');
    const gen = await gwgen(['generate', model, '-o', 'out', '-t', 'kong,k8s', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.stderr).toContain('generated kong, k8s');
    expect(gen.exitCode).toBe(0);
    expect(readFileSync(join(project, 'out/kong/NOTES.md'), 'utf8')).toBe('ACME NOTES for metered-gateway\n');
    expect(readFileSync(join(project, 'out/k8s/extra/hpa.yaml'), 'utf8')).toMatch(/^apiVersion: autoscaling\/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: metered-gateway\n  labels:\n    container: \S+\n$/);
    expect(readFileSync(join(project, 'out/kong/routes.txt'), 'utf8')).toContain('agw:burstSize\n');
    const manifest = JSON.parse(readFileSync(join(project, 'out/.gwgen/manifest.json'), 'utf8'));
    expect(manifest.files['k8s/extra/hpa.yaml']).toEqual({ sha256: expect.any(String), target: 'k8s', template: 'k8s/extra/hpa.yaml.hbs' });
    expect(Object.keys(manifest.files).filter((path) => path.includes('unpinned'))).toEqual([]);
    const plain = await gwgen(['generate', model, '-o', 'out', '-t', 'kong,k8s'], { cwd: project });
    expect(plain.exitCode).toBe(0);
    expect(existsSync(join(project, 'out/k8s/extra/hpa.yaml'))).toBe(false);
    expect(existsSync(join(project, 'out/kong/routes.txt'))).toBe(false);
  });

  it.each([
    ['gateway/.gitignore.hbs', 'gateway/.gitignore', "gwgen's template gateway/gitignore.hbs writes gateway/.gitignore"],
    ['gateway/src.hbs', 'gateway/src', "gwgen's template gateway/src/auth.ts.hbs writes gateway/src/auth.ts"],
  ])("a pack's own template %s that would write where gwgen writes is refused, and the output stays as it was", async (template, path, message) => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'));
    mkdirSync(join(pack, 'templates/gateway'), { recursive: true });
    writeFileSync(join(pack, 'templates', template), 'x\n');
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const model = join(ROOT, 'examples/metered-api.ttl');
    expect((await gwgen(['generate', model, '-o', 'out'], { cwd: project })).exitCode).toBe(0);
    const before = snapshotDir(join(project, 'out'));
    const gen = await gwgen(['generate', model, '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(1);
    expect(gen.stderr).toContain(`${join(project, '.gwgen/packs/acme-pack/templates', template)}: error: the pack's template ${template} would write ${path}, where ${message} for this model`);
    expect(snapshotDir(join(project, 'out'))).toEqual(before);
  });

  it('a misspelt list given to each fails the run at its line (strict mode alone would loop over nothing), and writes nothing', async () => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'), { notes: '# ACME\n{{#each nots}}{{feature}}\n{{else}}none\n{{/each}}' });
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const model = join(ROOT, 'examples/metered-api.ttl');
    const gen = await gwgen(['generate', model, '-o', 'out', '-t', 'kong', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(1);
    expect(gen.stderr).toContain(`${join(project, '.gwgen/packs/acme-pack/templates/kong/NOTES.md.hbs')}:2:1: error: template kong/NOTES.md.hbs failed: "each" was given a field that is not defined`);
    expect(existsSync(join(project, 'out'))).toBe(false);
    // A list that is there and empty still takes the {{else}}.
    makePack(pack, { notes: '# ACME\n{{#each certificates}}{{name}}{{else}}no certificates{{/each}}\n' });
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const again = await gwgen(['generate', model, '-o', 'out', '-t', 'kong', '--pack', 'acme-pack'], { cwd: project });
    expect(again.exitCode).toBe(0);
    expect(readFileSync(join(project, 'out/kong/NOTES.md'), 'utf8')).toBe('# ACME\nno certificates\n');
  });

  it('refuses a pack modified since install, and an unknown pack', async () => {
    const project = tempDir();
    await gwgen(['pack', 'install', makePack(join(tempDir(), 'acme'))], { cwd: project });
    writeFileSync(join(project, '.gwgen/packs/acme-pack/templates/kong/NOTES.md.hbs'), 'tampered\n');
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.stdout).toContain('modified');
    expect(list.exitCode).toBe(1);
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(2);
    expect(gen.stderr).toContain('no longer matches gwgen.lock');
    expect(existsSync(join(project, 'out'))).toBe(false);
    const unknown = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--pack', 'nope'], { cwd: project });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('is not installed');
  });

  it('pack list says on stderr which pack is modified or missing and the command that puts it back, beside its exit 1', async () => {
    const project = tempDir();
    const source = makePack(join(tempDir(), 'my packs', 'acme'));
    const other = makePack(join(tempDir(), 'beta'), { name: 'beta-pack' });
    expect((await gwgen(['pack', 'install', source], { cwd: project })).exitCode).toBe(0);
    expect((await gwgen(['pack', 'install', other], { cwd: project })).exitCode).toBe(0);
    writeFileSync(join(project, '.gwgen/packs/acme-pack/templates/kong/NOTES.md.hbs'), 'tampered\n');
    rmSync(join(project, '.gwgen/packs/beta-pack'), { recursive: true });
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.exitCode).toBe(1);
    expect(list.stdout).toMatch(/^acme-pack\s+1\.2\.0\s+modified\s/m);
    expect(list.stdout).toMatch(/^beta-pack\s+1\.2\.0\s+missing\s/m);
    expect(list.stderr).toContain('pack "acme-pack" is modified in .gwgen/packs/acme-pack: it no longer matches gwgen.lock');
    expect(list.stderr).toContain(`or take its source as it is now (gwgen pack install '${relative(project, source)}')`);
    expect(list.stderr).toContain('pack "beta-pack" is missing from .gwgen/packs/beta-pack: it no longer matches gwgen.lock');
    expect(list.stderr).toContain(`hint: reinstall it as gwgen.lock pins it (gwgen pack install, with no source), or take its source as it is now (gwgen pack install ${relative(project, other)})`);
    expect(list.stderr).not.toMatch(/^\s+at /m);
  });

  it('the reinstall hint for a modified pack is a command that installs it again: git+ kept on a git URL, a path with a space quoted', async () => {
    const repo = makePack(join(tempDir(), 'acme-git'), { name: 'acme-git' });
    committedRepo(repo, 'pack');
    const spaced = makePack(join(tempDir(), 'my packs', 'acme'), { name: 'acme-spaced' });
    const project = tempDir();
    // No ".git" at its end: without "git+" this URL would be taken as an npm spec.
    expect((await gwgen(['pack', 'install', `git+file://${repo}`], { cwd: project })).exitCode).toBe(0);
    expect((await gwgen(['pack', 'install', spaced], { cwd: project })).exitCode).toBe(0);
    const model = join(ROOT, 'examples/metered-api.ttl');
    for (const [name, hint] of [['acme-git', `gwgen pack install git+file://${repo}`], ['acme-spaced', `gwgen pack install '${relative(project, spaced)}'`]] as const) {
      writeFileSync(join(project, '.gwgen/packs', name, 'templates/kong/NOTES.md.hbs'), 'tampered\n');
      const gen = await gwgen(['generate', model, '-o', 'out', '--pack', name], { cwd: project });
      expect(gen.exitCode).toBe(2);
      expect(gen.stderr).toContain(`or take its source as it is now (${hint})`);
      // The hint, run as a shell would run it, puts the pack back.
      const again = execFileSync('sh', ['-c', `${hint.replace(/^gwgen /, `"${process.execPath}" "${join(ROOT, 'dist/cli/bin.js')}" `)} 2>&1`], { cwd: project, encoding: 'utf8' });
      // Not "unchanged": the pin is the same, but the files it had drifted from are put back.
      expect(again).toContain(`installed ${name} 1.2.0`);
      expect(again).toContain(`restoring its files in .gwgen/packs/${name}/, which had been changed since install`);
    }
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.exitCode).toBe(0);
  });

  it('installs from a git URL', async () => {
    const repo = makePack(join(tempDir(), 'acme-git'), { name: 'acme-git', version: '2.0.0' });
    committedRepo(repo, 'pack');
    const project = tempDir();
    const r = await gwgen(['pack', 'install', `git+file://${repo}`], { cwd: project });
    expect(r.stderr).toContain('installed acme-git 2.0.0 from git:file://');
    expect(r.exitCode).toBe(0);
  });

  it('installs from an npm package spec (a packed tarball here, the registry works the same way)', async () => {
    const dir = makePack(join(tempDir(), 'acme-npm'), { name: 'acme-npm', version: '3.1.0' });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'acme-npm-pack', version: '3.1.0', files: ['pack.toml', 'templates'] }));
    const out = tempDir();
    const tarball = execFileSync('npm', ['pack', dir, '--pack-destination', out, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop()!;
    const project = tempDir();
    const r = await gwgen(['pack', 'install', join(out, tarball)], { cwd: project });
    expect(r.stderr).toContain('installed acme-npm 3.1.0 from npm:');
    expect(r.exitCode).toBe(0);
  });

  it('installing over a pinned pack says what it replaces (another version or source), or that nothing changed', async () => {
    const project = tempDir();
    const source = makePack(join(tempDir(), 'acme'));
    expect((await gwgen(['pack', 'install', source], { cwd: project })).stderr).not.toContain('replacing');
    const again = await gwgen(['pack', 'install', source], { cwd: project });
    expect(again.stderr).toMatch(/installed acme-pack 1\.2\.0 from path:\S+ \(sha256-[0-9a-f]{64}\), unchanged/);
    makePack(source, { version: '1.1.0' });
    const older = await gwgen(['pack', 'install', source], { cwd: project });
    expect(older.exitCode).toBe(0);
    expect(older.stderr).toMatch(/installed acme-pack 1\.1\.0 from path:\S+ \(sha256-[0-9a-f]{64}\), replacing acme-pack 1\.2\.0 from path:\S+ \(sha256-[0-9a-f]{64}\)/);
    // The same files from another place: gwgen.lock records the new source, so it is no "unchanged".
    const copy = join(tempDir(), 'acme-copy');
    cpSync(source, copy, { recursive: true });
    const moved = await gwgen(['pack', 'install', copy], { cwd: project });
    expect(moved.exitCode).toBe(0);
    expect(moved.stderr).not.toContain('unchanged');
    expect(moved.stderr).toMatch(/installed acme-pack 1\.1\.0 from path:\S+acme-copy \((sha256-[0-9a-f]{64})\), replacing acme-pack 1\.1\.0 from path:\S+\/acme \(\1\)/);
    expect(JSON.parse(readFileSync(join(project, 'gwgen.lock'), 'utf8')).packs['acme-pack'].source).toMatch(/acme-copy$/);
  });

  it('installs run one at a time (the project lock), so that installs at once keep every pin', async () => {
    const { execa } = await import('execa');
    const { lockOutput } = await import('../dist/pipeline/write.js');
    const project = tempDir();
    const packs = ['one', 'two', 'three'].map((n) => makePack(join(tempDir(), n), { name: `pack-${n}` }));
    const release = await lockOutput(project);
    const children = packs.map((pack) => execa(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'pack', 'install', pack], { cwd: project, reject: false }));
    await new Promise((done) => setTimeout(done, 1500));
    // Waiting for the lock: nothing pinned yet.
    expect(existsSync(join(project, 'gwgen.lock'))).toBe(false);
    await release();
    const runs = await Promise.all(children);
    for (const r of runs) expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(join(project, 'gwgen.lock'), 'utf8')).packs).sort()).toEqual(['pack-one', 'pack-three', 'pack-two']);
    expect(readdirSync(join(project, '.gwgen')).sort()).toEqual(['packs']);
  });

  it('an invalid pack is not installed', async () => {
    const project = tempDir();
    const r = await gwgen(['pack', 'install', makePack(join(tempDir(), 'bad'), { version: 'one' })], { cwd: project });
    expect(r.exitCode).toBe(1);
    expect(existsSync(join(project, 'gwgen.lock'))).toBe(false);
  });
});

describe('gwgen pack install: never half installed', () => {
  it('a project where .gwgen/packs cannot be made is a located error, not an internal one, and nothing is left', async () => {
    for (const inTheWay of ['.gwgen', '.gwgen/packs']) {
      const project = tempDir();
      mkdirSync(join(project, inTheWay, '..'), { recursive: true });
      writeFileSync(join(project, inTheWay), 'a file\n');
      const r = await gwgen(['pack', 'install', makePack(join(tempDir(), 'acme'))], { cwd: project });
      expect(r.exitCode, inTheWay).toBe(1);
      expect(r.stderr).toContain(`${join(project, '.gwgen/packs')}: error: cannot install pack acme-pack into .gwgen/packs/acme-pack: a part of the path is a file, not a directory`);
      expect(r.stderr).not.toContain('internal error');
      expect(readdirSync(project)).toEqual(['.gwgen']);
      expect(readFileSync(join(project, inTheWay), 'utf8')).toBe('a file\n');
      if (inTheWay !== '.gwgen') expect(readdirSync(join(project, '.gwgen'))).toEqual(['packs']);
    }
  });

  it('an install interrupted while it copies leaves the pack it was replacing and gwgen.lock as they were; a copy left by a killed one goes', async () => {
    const { execa } = await import('execa');
    const project = tempDir();
    const source = makePack(join(tempDir(), 'acme'));
    expect((await gwgen(['pack', 'install', source], { cwd: project })).exitCode).toBe(0);
    const lock = readFileSync(join(project, 'gwgen.lock'), 'utf8');
    // What an install killed by SIGKILL leaves: its copy in progress.
    mkdirSync(join(project, '.gwgen/packs/.acme-pack.installing-99999999/templates'), { recursive: true });
    makePack(source, { version: '2.0.0' });
    mkdirSync(join(source, 'queries/data'), { recursive: true });
    for (let i = 0; i < 4000; i++) writeFileSync(join(source, `queries/data/${i}.txt`), `${i}\n`);
    const child = execa(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'pack', 'install', source], { cwd: project, reject: false });
    const packs = () => readdirSync(join(project, '.gwgen/packs'));
    for (const deadline = Date.now() + 60_000; !packs().some((n) => n.endsWith(`.installing-${child.pid}`)); await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() > deadline) throw new Error(`the install never started copying: ${packs().join(', ')}`);
    }
    expect(packs()).not.toContain('.acme-pack.installing-99999999');
    child.kill('SIGINT');
    const r = await child;
    expect(r.signal).toBe('SIGINT');
    expect(packs()).toEqual(['acme-pack']);
    expect(readdirSync(join(project, '.gwgen'))).toEqual(['packs']);
    expect(readFileSync(join(project, 'gwgen.lock'), 'utf8')).toBe(lock);
    expect(readFileSync(join(project, '.gwgen/packs/acme-pack/pack.toml'), 'utf8')).toContain('version = "1.2.0"');
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.stdout).toMatch(/^acme-pack\s+1\.2\.0\s+ok\s/);
    expect(list.exitCode).toBe(0);
  });

  it("the hash sees a file's content moved into the file before it (path and content alone would not)", async () => {
    const project = tempDir();
    expect((await gwgen(['pack', 'install', makePack(join(tempDir(), 'acme'))], { cwd: project })).exitCode).toBe(0);
    const pack = join(project, '.gwgen/packs/acme-pack');
    const template = join(pack, 'templates/kong/NOTES.md.hbs');
    // pack.toml sorts before templates/: it takes in the template's path and content, and the template goes.
    writeFileSync(join(pack, 'pack.toml'), Buffer.concat([readFileSync(join(pack, 'pack.toml')), Buffer.from('\0templates/kong/NOTES.md.hbs\0'), readFileSync(template)]));
    rmSync(template);
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.stdout).toMatch(/^acme-pack\s+1\.2\.0\s+modified\s/);
    expect(list.exitCode).toBe(1);
    const gen = await gwgen(['generate', join(ROOT, 'examples/metered-api.ttl'), '-o', 'out', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(2);
    expect(gen.stderr).toContain('pack "acme-pack" is modified in .gwgen/packs/acme-pack');
  });
});

describe('gwgen watch --pack', () => {
  it('renders with the pack on every run, as generate --pack does, and refuses an unknown pack', async () => {
    const { execa } = await import('execa');
    const project = tempDir();
    expect((await gwgen(['pack', 'install', makePack(join(tempDir(), 'acme'))], { cwd: project })).exitCode).toBe(0);
    const model = join(project, 'model.ttl');
    writeFileSync(model, readFileSync(join(ROOT, 'examples/metered-api.ttl'), 'utf8'));
    const unknown = await gwgen(['watch', model, '-o', 'out', '--pack', 'nope'], { cwd: project });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('pack "nope" is not installed');
    const child = execa(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'watch', model, '-o', 'out', '--pack', 'acme-pack'], { cwd: project, reject: false });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const notes = () => (existsSync(join(project, 'out/kong/NOTES.md')) ? readFileSync(join(project, 'out/kong/NOTES.md'), 'utf8') : '');
    const until = async (what: string, ok: () => boolean) => {
      for (const deadline = Date.now() + 60_000; !ok(); await new Promise((r) => setTimeout(r, 100))) if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${stderr}`);
    };
    await until('the first generation', () => notes().startsWith('ACME NOTES for metered-gateway'));
    writeFileSync(model, readFileSync(model, 'utf8').replace('agw:gatewayName "metered-gateway"', 'agw:gatewayName "renamed-gateway"'));
    await until('the regeneration', () => notes().startsWith('ACME NOTES for renamed-gateway'));
    expect(JSON.parse(readFileSync(join(project, 'out/.gwgen/manifest.json'), 'utf8')).pack.name).toBe('acme-pack');
    child.kill('SIGINT');
    await child;
  });

  it('checks the pack against gwgen.lock before every run: a pack modified while watching is refused, a reinstalled one is used with its new pin', async () => {
    const { execa } = await import('execa');
    const project = tempDir();
    const source = makePack(join(tempDir(), 'acme'));
    expect((await gwgen(['pack', 'install', source], { cwd: project })).exitCode).toBe(0);
    const model = join(project, 'model.ttl');
    writeFileSync(model, readFileSync(join(ROOT, 'examples/metered-api.ttl'), 'utf8'));
    const child = execa(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'watch', model, '-o', 'out', '--pack', 'acme-pack'], { cwd: project, reject: false });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const notes = () => (existsSync(join(project, 'out/kong/NOTES.md')) ? readFileSync(join(project, 'out/kong/NOTES.md'), 'utf8') : '');
    const until = async (what: string, ok: () => boolean) => {
      for (const deadline = Date.now() + 60_000; !ok(); await new Promise((r) => setTimeout(r, 100))) if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${stderr}`);
    };
    try {
      await until('the first generation', () => notes().startsWith('ACME NOTES for metered-gateway'));
      writeFileSync(join(project, '.gwgen/packs/acme-pack/templates/kong/NOTES.md.hbs'), 'TAMPERED {{md gateway}}\n');
      writeFileSync(model, readFileSync(model, 'utf8').replace('agw:gatewayName "metered-gateway"', 'agw:gatewayName "renamed-gateway"'));
      await until('the refusal', () => stderr.includes('not generated, out left as it was; watching'));
      expect(stderr).toContain('pack "acme-pack" is modified in .gwgen/packs/acme-pack: it no longer matches gwgen.lock');
      expect(notes()).toBe('ACME NOTES for metered-gateway\n');
      makePack(source, { version: '1.3.0', notes: 'ACME 1.3 NOTES for {{md gateway}}\n' });
      expect((await gwgen(['pack', 'install', source], { cwd: project })).exitCode).toBe(0);
      writeFileSync(model, readFileSync(model, 'utf8').replace('agw:gatewayName "renamed-gateway"', 'agw:gatewayName "again-gateway"'));
      await until('the regeneration with the new version', () => notes() === 'ACME 1.3 NOTES for again-gateway\n');
      const lock = JSON.parse(readFileSync(join(project, 'gwgen.lock'), 'utf8'));
      expect(JSON.parse(readFileSync(join(project, 'out/.gwgen/manifest.json'), 'utf8')).pack).toEqual({ name: 'acme-pack', version: '1.3.0', integrity: lock.packs['acme-pack'].integrity });
    } finally {
      child.kill('SIGINT');
      await child;
    }
  });
});
