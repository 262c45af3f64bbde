import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { parseAllDocuments, visit } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { withoutUserCode } from '../dist/pipeline/user-code.js';
import { applyWrite, planWrite, type GeneratedFile } from '../dist/pipeline/write.js';
import { gwgen, ROOT, snapshotDir, tempDir } from './helpers.js';

/**
 * The command line and the regeneration rules of ../shared/interfaces.md, one test (or table)
 * per statement, run against the real CLI. The generated gateway's part of the contract is in
 * test/contract-gateway.test.ts.
 */

const MESH = 'examples/mesh-shop.ttl';
const METERED = 'examples/metered-api.ttl';
const STACK = /\n\s+at \S.*(\(.*:\d+:\d+\)|:\d+:\d+)/;
const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** Every file and folder under dir: content hash, inode and mtime, so that "untouched" means untouched. */
function statSnapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      const s = statSync(full);
      const rel = relative(dir, full).split('\\').join('/');
      if (s.isDirectory()) {
        out[`${rel}/`] = 'dir';
        walk(full);
      } else out[rel] = `${sha256(readFileSync(full))} ino=${s.ino} mtime=${s.mtimeMs}`;
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

function copyOf(dir: string): string {
  const copy = join(tempDir(), 'out');
  cpSync(dir, copy, { recursive: true });
  return copy;
}

/** The lines of stderr that report a problem (not hints, not the "N problems" summary). */
function problemLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /(^|\s)error: /.test(l));
}

/** Each problem says what to do: a hint line after it, or the advice in the message itself. */
function everyProblemSaysWhatToDo(stderr: string): void {
  const lines = stderr.split('\n');
  lines.forEach((line, i) => {
    if (!/(^|\s)error: /.test(line)) return;
    const advice = (lines[i + 1] ?? '').startsWith('  hint: ') || (lines[i + 1] ?? '').includes('--help') || /for example|e\.g\./.test(line);
    expect(advice, `no advice for: ${line}`).toBe(true);
  });
}

let pristineMesh = '';
let pristineMetered = '';
beforeAll(async () => {
  pristineMesh = join(tempDir(), 'mesh');
  pristineMetered = join(tempDir(), 'metered');
  const [a, b] = await Promise.all([gwgen(['generate', MESH, '-o', pristineMesh]), gwgen(['generate', METERED, '-o', pristineMetered])]);
  expect(a.exitCode, a.stderr).toBe(0);
  expect(b.exitCode, b.stderr).toBe(0);
});

describe('interfaces.md: the commands', () => {
  it.each(['generate', 'validate', 'audit', 'query', 'watch', 'init', 'pack', 'pack validate', 'pack install', 'pack list', 'pack remove'])(
    'gwgen %s --help exits 0 with the usage and examples',
    async (command) => {
      const args = command.split(' ');
      const r = await gwgen([...args, '--help']);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain(`Usage: gwgen ${args.join(' ')}`);
      expect(r.stdout).toContain('Examples:');
    },
  );

  it('gwgen is an npm bin: npx gwgen works in the clone', () => {
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
    const r = spawnSync('npx', ['--no-install', 'gwgen', '--version'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('generate writes under ./generated when -o is not given', async () => {
    const cwd = tempDir();
    const r = await gwgen(['generate', join(ROOT, METERED), '-t', 'kong'], { cwd });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(cwd)).toEqual(['generated']);
    expect(existsSync(join(cwd, 'generated/kong/kong.yml'))).toBe(true);
    expect(existsSync(join(cwd, 'generated/.gwgen/manifest.json'))).toBe(true);
  });

  it('validate prints every problem of the model and writes nothing', async () => {
    const cwd = tempDir();
    const r = await gwgen(['validate', join(ROOT, 'test/fixtures/invalid/many-problems.ttl')], { cwd });
    expect(r.exitCode).toBe(1);
    expect(problemLines(r.stderr)).toHaveLength(4);
    expect(r.stderr).toContain('4 problems');
    expect(r.stdout).toBe('');
    expect(readdirSync(cwd)).toEqual([]);
  });

  it.each([
    ['kong', ['kong']],
    [' gateway , k8s ', ['gateway', 'k8s']],
    ['gateway,kong,istio,k8s', ['gateway', 'istio', 'k8s', 'kong']],
  ])('-t %j writes exactly those core targets', async (list, targets) => {
    const out = join(tempDir(), 'out');
    const r = await gwgen(['generate', MESH, '-o', out, '-t', list]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(out).filter((d) => d !== '.gwgen').sort()).toEqual(targets);
    const manifest = JSON.parse(readFileSync(join(out, '.gwgen/manifest.json'), 'utf8'));
    expect(manifest.targets).toEqual(targets);
    expect([...new Set(Object.values(manifest.files as Record<string, { target: string }>).map((f) => f.target))].sort()).toEqual(targets);
  });

  it('without -t, every target the model has data for: Istio only for an Istio mesh', () => {
    expect(readdirSync(pristineMesh).sort()).toEqual(['.gwgen', 'gateway', 'istio', 'k8s', 'kong']);
    expect(readdirSync(pristineMetered).sort()).toEqual(['.gwgen', 'gateway', 'k8s', 'kong']);
  });

  it('output layout: gateway/ (a TypeScript project), kong/kong.yml, istio/*.yaml, k8s/*.yaml, .gwgen/manifest.json', () => {
    const files = Object.keys(snapshotDir(pristineMesh));
    expect(files).toEqual(expect.arrayContaining(['gateway/package.json', 'gateway/tsconfig.json', 'gateway/src/main.ts', 'kong/kong.yml', '.gwgen/manifest.json']));
    expect(files.filter((f) => /^gateway\/src\/[^/]+\.ts$/.test(f)).length).toBeGreaterThan(5);
    expect(files.filter((f) => /^istio\/[^/]+\.yaml$/.test(f)).length).toBeGreaterThan(0);
    expect(files.filter((f) => /^k8s\/[^/]+\.yaml$/.test(f)).length).toBeGreaterThan(0);
    const pkg = JSON.parse(readFileSync(join(pristineMesh, 'gateway/package.json'), 'utf8'));
    expect(pkg.scripts).toMatchObject({ start: expect.any(String), test: expect.any(String) });
    expect(pkg.devDependencies.typescript).toBeDefined();
    // Every top-level entry is one of the documented ones.
    // istio/*.yaml and k8s/*.yaml: flat, so `kubectl apply -f k8s/` (not recursive) misses no backend's Deployment.
    for (const f of files) expect(f).toMatch(/^(gateway\/|kong\/|istio\/[^/]+$|k8s\/[^/]+$|\.gwgen\/manifest\.json$)/);
    const kinds = new Set(
      files
        .filter((f) => f.startsWith('k8s/') && f.endsWith('.yaml'))
        .flatMap((f) => parseAllDocuments(readFileSync(join(pristineMesh, f), 'utf8')).map((d) => (d.toJS() as { kind?: string } | null)?.kind)),
    );
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy']) expect(kinds).toContain(kind);
  });

  it('the manifest records what was generated from what, with hashes', () => {
    const manifest = JSON.parse(readFileSync(join(pristineMesh, '.gwgen/manifest.json'), 'utf8'));
    expect(manifest.inputs).toEqual([{ path: MESH, sha256: sha256(readFileSync(join(ROOT, MESH))) }]);
    const onDisk = snapshotDir(pristineMesh);
    delete onDisk['.gwgen/manifest.json'];
    expect(Object.keys(manifest.files)).toEqual(Object.keys(onDisk));
    for (const [path, entry] of Object.entries(manifest.files as Record<string, { sha256: string; target: string; template: string }>)) {
      expect(entry.sha256, path).toBe(sha256(withoutUserCode(onDisk[path]!)));
      expect(path.startsWith(`${entry.target}/`), path).toBe(true);
      expect(existsSync(join(ROOT, 'templates', entry.template)), entry.template).toBe(true);
    }
  });

  it('several model files are merged into one graph', async () => {
    const dir = tempDir();
    const lines = readFileSync(join(ROOT, METERED), 'utf8').split('\n');
    const prefixes = lines.filter((l) => l.startsWith('@prefix')).join('\n');
    let cut = Math.floor(lines.length / 2);
    while (cut < lines.length && lines[cut]!.trim() !== '') cut++;
    writeFileSync(join(dir, 'a.ttl'), lines.slice(0, cut).join('\n'));
    writeFileSync(join(dir, 'b.ttl'), `${prefixes}\n${lines.slice(cut).join('\n')}`);
    const out = join(dir, 'out');
    const r = await gwgen(['generate', join(dir, 'a.ttl'), join(dir, 'b.ttl'), '-o', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const merged = snapshotDir(out);
    const whole = snapshotDir(pristineMetered);
    delete merged['.gwgen/manifest.json'];
    delete whole['.gwgen/manifest.json'];
    expect(merged).toEqual(whole);
    const count = await gwgen(['query', join(dir, 'a.ttl'), join(dir, 'b.ttl'), '-e', 'SELECT (COUNT(?r) AS ?n) WHERE { ?r a agw:Route }', '--format', 'csv']);
    expect(count.stdout.trimEnd()).toBe('n\r\n8');
  });

  it('a model without agw:listenPort gives the gateway the default port 8080 (PORT overrides it at run time)', async () => {
    const out = join(tempDir(), 'out');
    const r = await gwgen(['generate', 'test/fixtures/contract/query.ttl', '-o', out, '-t', 'gateway']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'gateway/config.json'), 'utf8')).gateway.listenPort).toBe(8080);
  });

  it('init without DIR writes the starter model and config into the current folder, and they generate', async () => {
    const cwd = tempDir();
    const r = await gwgen(['init'], { cwd });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(cwd).sort()).toEqual(['gwgen.json', 'model.ttl']);
    const gen = await gwgen(['generate'], { cwd });
    expect(gen.exitCode, gen.stderr).toBe(0);
    expect(existsSync(join(cwd, 'generated/.gwgen/manifest.json'))).toBe(true);
  });
});

describe('gwgen watch reads gwgen.json too', () => {
  it('watch without model files uses the models and output of ./gwgen.json, and stops on SIGINT', async () => {
    const { execa } = await import('execa');
    const { BIN } = await import('./helpers.js');
    const cwd = tempDir();
    expect((await gwgen(['init'], { cwd })).exitCode).toBe(0);
    const child = execa(process.execPath, [BIN, 'watch'], { cwd, reject: false });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    for (let waited = 0; !(stderr.includes('watching') && existsSync(join(cwd, 'generated/.gwgen/manifest.json'))) && waited < 60_000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(stderr).toContain('generated into generated');
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(0);
    expect(existsSync(join(cwd, 'generated/kong/kong.yml'))).toBe(true);
  });
});

describe('interfaces.md: exit codes and error messages', () => {
  const file = join(tempDir(), 'a-file');
  writeFileSync(file, 'not a directory\n');
  const brokenPack = tempDir();
  mkdirSync(join(brokenPack, 'templates/kong'), { recursive: true });
  writeFileSync(join(brokenPack, 'pack.toml'), '[pack]\nname = "broken\n');
  writeFileSync(join(brokenPack, 'templates/kong/NOTES.md.hbs'), 'notes\n');
  const badTemplatePack = tempDir();
  mkdirSync(join(badTemplatePack, 'templates/kong'), { recursive: true });
  writeFileSync(join(badTemplatePack, 'pack.toml'), '[pack]\nname = "bad-template"\nversion = "1.0.0"\ndescription = "x"\n');
  writeFileSync(join(badTemplatePack, 'templates/kong/NOTES.md.hbs'), '{{#each routes}}unclosed\n');
  const badConfig = tempDir();
  writeFileSync(join(badConfig, 'gwgen.json'), '{ "models": [');
  const emptyConfig = tempDir();
  writeFileSync(join(emptyConfig, 'gwgen.json'), '{ "models": [] }');
  const links = tempDir();
  symlinkSync(join(links, 'nowhere'), join(links, 'dangling'));
  symlinkSync(join(links, 'loop-b'), join(links, 'loop-a'));
  symlinkSync(join(links, 'loop-a'), join(links, 'loop-b'));

  // [what, exit code, args]: every failing run prints to stderr only, located, with what to do, no stack trace.
  it.each([
    ['an invalid model (validate)', 1, ['validate', 'test/fixtures/invalid/dangling-reference.ttl']],
    ['an invalid model (generate)', 1, ['generate', 'test/fixtures/invalid/broken-turtle.ttl', '-o', join(tempDir(), 'o')]],
    ['an invalid model (audit)', 1, ['audit', 'test/fixtures/invalid/two-gateways.ttl']],
    ['an invalid model (query)', 1, ['query', 'test/fixtures/invalid/undeclared-prefix.ttl', '-e', 'ASK {}']],
    ['a query that does not parse', 1, ['query', METERED, '-e', 'SELECT ?x WHERE {']],
    ['an unknown flag', 2, ['validate', METERED, '--frobnicate']],
    ['an unknown command', 2, ['gen']],
    ['a missing model file (generate)', 2, ['generate', 'no/such/model.ttl']],
    ['a missing model file (validate)', 2, ['validate', 'no/such/model.ttl']],
    ['a missing model file (audit)', 2, ['audit', 'no/such/model.ttl']],
    ['a missing model file (query)', 2, ['query', 'no/such/model.ttl', '-e', 'ASK {}']],
    ['a missing model file (watch)', 2, ['watch', 'no/such/model.ttl', '-o', join(tempDir(), 'o')]],
    ['a missing query file', 2, ['query', METERED, 'no/such/query.rq']],
    ['a model file that is a directory', 2, ['validate', 'examples']],
    ['an unknown target', 2, ['generate', METERED, '-t', 'kong,nginx', '-o', join(tempDir(), 'o')]],
    ['an empty target list', 2, ['generate', METERED, '-t', ',', '-o', join(tempDir(), 'o')]],
    ['an output directory that is a file', 2, ['generate', METERED, '-o', file]],
    ['an output directory under a file', 2, ['generate', METERED, '-o', join(file, 'out')]],
    ['an output directory that is a link to nothing', 2, ['generate', METERED, '-o', join(links, 'dangling')]],
    ['an output directory under a link to nothing', 2, ['generate', METERED, '-o', join(links, 'dangling/out')]],
    ['an output directory that is a loop of links', 2, ['generate', METERED, '-o', join(links, 'loop-a')]],
    ['init into a file', 2, ['init', file]],
    ['a pack path that does not exist (install)', 2, ['pack', 'install', './no/such/pack']],
    ['a pack path that does not exist (validate)', 2, ['pack', 'validate', 'no/such/pack']],
    ['a pack that is not installed', 2, ['generate', METERED, '--pack', 'nope', '-o', join(tempDir(), 'o')]],
    ['a pack.toml that does not parse', 1, ['pack', 'validate', brokenPack]],
    ['a pack template that does not compile', 1, ['pack', 'validate', badTemplatePack]],
    ['a gwgen.json that is not JSON (generate)', 2, ['generate'], badConfig],
    ['a gwgen.json that names no model (watch)', 2, ['watch'], emptyConfig],
  ])('%s: exit %i, the problem on stderr with what to do, no stack trace', async (_what, code, args, cwd?: string) => {
    const r = await gwgen(args as string[], cwd ? { cwd } : {});
    expect(r.exitCode, r.stderr).toBe(code);
    expect(r.stdout).toBe('');
    expect(problemLines(r.stderr).length).toBeGreaterThan(0);
    everyProblemSaysWhatToDo(r.stderr);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).not.toContain('internal error');
  });

  it.each(['broken-turtle.ttl', 'dangling-reference.ttl', 'no-gateway.ttl', 'many-problems.ttl', 'blank-node-violation.ttl', 'route-conflict.ttl', 'bad-cidr.ttl', 'unknown-enum.ttl', 'empty.ttl'])(
    'model problems of %s are located by file:line:col or <focus node IRI>, say what is wrong and what to do',
    async (fixture) => {
      const path = `test/fixtures/invalid/${fixture}`;
      const r = await gwgen(['validate', path]);
      expect(r.exitCode).toBe(1);
      const lines = problemLines(r.stderr);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        const located = line.startsWith(`${path}:`) && (/^\S+:\d+:\d+[ :]/.test(line) || /^\S+ <[^>]+>/.test(line) || line.startsWith(`${path}: error: `));
        expect(located || /^<[^>]+>/.test(line), line).toBe(true);
        expect(line).toMatch(/error: \S.{10,}/);
      }
      everyProblemSaysWhatToDo(r.stderr);
      expect(r.stderr).not.toMatch(STACK);
    },
  );

  // The engine runs the query after 5 predeclared PREFIX lines: the line is the query file's own.
  it.each([
    ['a query file', (file: string) => ['query', METERED, file], 'SELECT ?x WHERE {\n  ?x a agw:Route\n  FILTER(\n}\n', 4],
    ['an audit rule', (file: string) => ['audit', METERED, '--rules', join(file, '..')], '# id: broken-rule\n# severity: error\n# message: m\n# MESSAGE: m\nSELECT ?focus WHERE {\n  ?focus a agw:Route\n  FILTER(\n}\n', 8],
  ])('%s that does not parse is located at its own line, as file:line', async (_what, args, text, line) => {
    const file = join(tempDir(), 'broken.rq');
    writeFileSync(file, text);
    const r = await gwgen(args(file));
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}(:\\d+)?[: ]`, 'm'));
  });

  it.each(['broken-turtle.ttl', 'unclosed-string.ttl', 'undeclared-prefix.ttl'])('a Turtle syntax error (%s) is located as file:line:col', async (fixture) => {
    const path = `test/fixtures/invalid/${fixture}`;
    const r = await gwgen(['validate', path]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${path.replace(/\./g, '\\.')}:\\d+:\\d+: error: Turtle syntax error: `));
  });

  it('exit 3: a generated file was edited by hand (--check: see the regeneration tests)', async () => {
    const out = copyOf(pristineMetered);
    writeFileSync(join(out, 'gateway/src/router.ts'), `${readFileSync(join(out, 'gateway/src/router.ts'), 'utf8')}\n// tweak\n`);
    const edited = await gwgen(['generate', METERED, '-o', out]);
    expect(edited.exitCode).toBe(3);
    expect(edited.stderr).toContain('gateway/src/router.ts was edited by hand');
    everyProblemSaysWhatToDo(edited.stderr);
    // --check counts the hand edit as a difference too.
    expect((await gwgen(['generate', METERED, '-o', out, '--check'])).exitCode).toBe(3);
  });

  it('an internal error shows no stack trace unless --debug', async () => {
    // A fault injected into node:crypto, which the generator uses for the k8s config hash.
    const dir = tempDir();
    const fault = join(dir, 'fault.mjs');
    writeFileSync(fault, "import crypto from 'node:crypto';\nimport { syncBuiltinESMExports } from 'node:module';\ncrypto.createHash = () => { throw new Error('injected fault'); };\nsyncBuiltinESMExports();\n");
    const env = { NODE_OPTIONS: `--import=${fault}` };
    const plain = await gwgen(['generate', METERED, '-o', join(dir, 'out')], { env });
    expect(plain.exitCode).toBe(1);
    expect(plain.stderr).toContain('internal error: injected fault');
    expect(plain.stderr).toContain('hint: ');
    expect(plain.stderr).not.toMatch(STACK);
    // --debug is global and may also follow the command.
    const debug = await gwgen(['generate', METERED, '-o', join(dir, 'out'), '--debug'], { env });
    expect(debug.exitCode).toBe(1);
    expect(debug.stderr).toContain('injected fault');
    expect(debug.stderr).toMatch(STACK);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });
});

describe('interfaces.md: a failed run leaves DIR exactly as it was', () => {
  const blockIstio = (out: string) => writeFileSync(join(out, 'istio'), 'mine\n');
  it.each([
    ['an invalid model', ['test/fixtures/invalid/many-problems.ttl'], undefined, 1],
    ['a missing model file', ['no/such.ttl'], undefined, 2],
    ['an unknown target', [MESH, '-t', 'nginx'], undefined, 2],
    ['a pack that is not installed', [MESH, '--pack', 'nope'], undefined, 2],
    ['a hand-edited file', [MESH], (out: string) => writeFileSync(join(out, 'kong/NOTES.md'), 'my notes\n'), 3],
    ['a file gwgen did not generate where it writes one', [MESH], (out: string) => { mkdirSync(join(out, 'istio')); writeFileSync(join(out, 'istio/gateway.yaml'), 'mine: true\n'); }, 3],
    ['a file gwgen did not generate where it writes a folder', [MESH], blockIstio, 3],
    ['a folder gwgen did not make where it writes a file', [MESH], (out: string) => { rmSync(join(out, 'kong/kong.yml')); mkdirSync(join(out, 'kong/kong.yml/mine'), { recursive: true }); writeFileSync(join(out, 'kong/kong.yml/mine/x'), 'x\n'); }, 3],
    // --force never removes what gwgen did not write; a write failing half way is rolled back (write.test.ts).
    ['--force, with a file gwgen did not generate where it writes a folder', [MESH, '--force'], blockIstio, 3],
  ] as const)('%s', async (_what, args, prepare, code) => {
    const out = copyOf(pristineMetered);
    prepare?.(out);
    const before = statSnapshot(out);
    const r = await gwgen(['generate', ...args, '-o', out]);
    expect(r.exitCode, r.stderr).toBe(code);
    expect(statSnapshot(out)).toEqual(before);
  });

  it.each([
    ['an invalid model', ['generate', 'test/fixtures/invalid/many-problems.ttl']],
    ['an unknown target', ['generate', METERED, '-t', 'nginx']],
    ['a missing model file', ['generate', 'no/such.ttl']],
    ['--check', ['generate', METERED, '--check']],
    ['--dry-run', ['generate', METERED, '--dry-run']],
  ])('%s does not create DIR', async (_what, args) => {
    const parent = tempDir();
    await gwgen([...args, '-o', join(parent, 'out')]);
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('interfaces.md: regeneration', () => {
  it('is deterministic: byte-identical files in another folder, time zone, locale and day', async () => {
    const dir = tempDir();
    // Another day: the clock of the second run is 400 days and some hours ahead.
    const shift = join(dir, 'shift-clock.mjs');
    writeFileSync(
      shift,
      'const Real = Date; const offset = 400 * 86400000 + 12345678;\n' +
        'class Shifted extends Real { constructor(...a) { if (a.length === 0) super(Real.now() + offset); else super(...a); } static now() { return Real.now() + offset; } }\n' +
        'globalThis.Date = Shifted;\n',
    );
    const other = join(dir, 'elsewhere', 'deeper', 'out');
    const r = await gwgen(['generate', MESH, '-o', other], { env: { TZ: 'Pacific/Kiritimati', LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8', NODE_OPTIONS: `--import=${shift}` } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(snapshotDir(other)).toEqual(snapshotDir(pristineMesh));
  });

  it('writes no YAML anchors or aliases', () => {
    let yamlFiles = 0;
    for (const [path, text] of Object.entries(snapshotDir(pristineMesh))) {
      if (!/\.ya?ml$/.test(path)) continue;
      yamlFiles++;
      for (const doc of parseAllDocuments(text)) {
        if (!('contents' in doc)) throw new Error(`${path} does not parse`);
        visit(doc, {
          Alias: () => expect.fail(`${path} has a YAML alias`),
          Node: (_key, node) => expect(node.anchor, `${path} has a YAML anchor`).toBeUndefined(),
        });
      }
    }
    expect(yamlFiles).toBeGreaterThan(5);
  });

  it('rewrites only the files whose content changes, and a run with nothing to change touches nothing', async () => {
    const dir = tempDir();
    const model = join(dir, 'model.ttl');
    writeFileSync(model, readFileSync(join(ROOT, METERED), 'utf8'));
    const out = join(dir, 'out');
    expect((await gwgen(['generate', model, '-o', out])).exitCode).toBe(0);
    const before = statSnapshot(out);
    const again = await gwgen(['generate', model, '-o', out]);
    expect(again.exitCode).toBe(0);
    expect(statSnapshot(out)).toEqual(before);

    writeFileSync(model, readFileSync(model, 'utf8').replace('agw:timeoutSeconds 120 .', 'agw:timeoutSeconds 119 .'));
    const changed = await gwgen(['generate', model, '-o', out]);
    expect(changed.exitCode, changed.stderr).toBe(0);
    const after = statSnapshot(out);
    expect(Object.keys(after)).toEqual(Object.keys(before));
    const rewritten = Object.keys(after).filter((p) => after[p] !== before[p]);
    const sameContent = (p: string) => after[p]!.split(' ')[0] === before[p]!.split(' ')[0];
    expect(rewritten.filter(sameContent)).toEqual([]);
    expect(rewritten).toContain('kong/kong.yml');
    expect(rewritten.length).toBeLessThan(Object.keys(after).length / 2);
    expect(changed.stderr).toContain(`${rewritten.filter((p) => p !== '.gwgen/manifest.json').length} updated`);
  });

  it('deletes the files it generated that the model no longer produces, and never touches files it did not generate', async () => {
    const out = copyOf(pristineMesh);
    const foreign = ['istio/mine.yaml', 'gateway/src/mine.ts', 'notes.txt', 'kong/extra/keep.yml'];
    for (const f of foreign) {
      mkdirSync(join(out, f, '..'), { recursive: true });
      writeFileSync(join(out, f), `${f} is mine\n`);
    }
    const before = statSnapshot(out);
    const r = await gwgen(['generate', METERED, '-o', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const after = statSnapshot(out);
    for (const f of foreign) expect(after[f], f).toBe(before[f]);
    // Istio's generated files are gone; the folder stays for the file gwgen did not generate.
    expect(readdirSync(join(out, 'istio'))).toEqual(['mine.yaml']);
    const manifest = JSON.parse(readFileSync(join(out, '.gwgen/manifest.json'), 'utf8'));
    expect(Object.keys(manifest.files).filter((p) => p.startsWith('istio/'))).toEqual([]);
    expect(manifest.targets).toEqual(['gateway', 'k8s', 'kong']);
    const generated = snapshotDir(pristineMetered);
    const now = snapshotDir(out);
    for (const f of foreign) delete now[f];
    expect(now).toEqual(generated);
  });

  it('with -t, only the named targets are regenerated; the others stay, and stay in the manifest', async () => {
    const out = copyOf(pristineMesh);
    const before = statSnapshot(out);
    const r = await gwgen(['generate', METERED, '-o', out, '-t', 'kong']);
    expect(r.exitCode, r.stderr).toBe(0);
    const after = statSnapshot(out);
    for (const path of Object.keys(before).filter((p) => /^(gateway|istio|k8s)\//.test(p))) expect(after[path], path).toBe(before[path]);
    expect(readFileSync(join(out, 'kong/kong.yml'), 'utf8')).toBe(readFileSync(join(pristineMetered, 'kong/kong.yml'), 'utf8'));
    const manifest = JSON.parse(readFileSync(join(out, '.gwgen/manifest.json'), 'utf8'));
    expect(manifest.targets).toEqual(['gateway', 'istio', 'k8s', 'kong']);
    expect(Object.keys(manifest.files).filter((p) => p.startsWith('istio/')).length).toBeGreaterThan(0);
  });

  it('a hand-edited generated file stops the run with exit 3 naming it; --force overwrites it', async () => {
    const out = copyOf(pristineMetered);
    const path = join(out, 'k8s/kustomization.yaml');
    writeFileSync(path, `${readFileSync(path, 'utf8')}# mine\n`);
    const r = await gwgen(['generate', MESH, '-o', out]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain('k8s/kustomization.yaml');
    expect(readFileSync(path, 'utf8')).toContain('# mine');
    const forced = await gwgen(['generate', MESH, '-o', out, '--force']);
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe(readFileSync(join(pristineMesh, 'k8s/kustomization.yaml'), 'utf8'));
  });

  it('code between gwgen:user-code-begin/-end is carried over on every regeneration, and is no difference for --check', async () => {
    const out = copyOf(pristineMetered);
    const hooks = join(out, 'gateway/src/hooks.ts');
    const text = readFileSync(hooks, 'utf8');
    const regions = [...text.matchAll(/^([ \t]*)\/\/ gwgen:user-code-end (\S+)$/gm)];
    expect(regions.length).toBeGreaterThan(0);
    let mine = text;
    for (const [line, indent, id] of regions) mine = mine.replace(line, `${indent}// my code for ${id}\n${line}`);
    writeFileSync(hooks, mine);
    expect((await gwgen(['generate', METERED, '-o', out, '--check'])).exitCode).toBe(0);
    // Another model rewrites the project; the regions keep the user's code.
    const r = await gwgen(['generate', MESH, '-o', out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const after = readFileSync(hooks, 'utf8');
    for (const [, , id] of regions) expect(after).toContain(`// my code for ${id}\n`);
    expect(readFileSync(join(out, 'gateway/config.json'), 'utf8')).toBe(readFileSync(join(pristineMesh, 'gateway/config.json'), 'utf8'));
    const back = await gwgen(['generate', METERED, '-o', out]);
    expect(back.exitCode).toBe(0);
    expect(readFileSync(hooks, 'utf8')).toBe(mine);
  });

  it('a user-code region that would vanish from the template stops the run unless --force', async () => {
    // A pack whose hooks.ts template has no region stands in for a template that dropped one.
    const project = tempDir();
    const pack = join(tempDir(), 'no-hooks');
    mkdirSync(join(pack, 'templates/gateway/src'), { recursive: true });
    writeFileSync(join(pack, 'pack.toml'), '[pack]\nname = "no-hooks"\nversion = "1.0.0"\ndescription = "hooks without user code"\n');
    writeFileSync(join(pack, 'templates/gateway/src/hooks.ts.hbs'), readFileSync(join(ROOT, 'templates/gateway/src/hooks.ts.hbs'), 'utf8').replace(/^.*gwgen:user-code-(begin|end).*\n/gm, ''));
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const out = join(project, 'out');
    cpSync(pristineMetered, out, { recursive: true });
    const hooks = join(out, 'gateway/src/hooks.ts');
    const id = /^\s*\/\/ gwgen:user-code-end ([\w.-]+)$/m.exec(readFileSync(hooks, 'utf8'))![1]!;
    writeFileSync(hooks, readFileSync(hooks, 'utf8').replace(new RegExp(`^(\\s*)// gwgen:user-code-end ${id}$`, 'm'), `$1keep(me);\n$1// gwgen:user-code-end ${id}`));
    const before = statSnapshot(out);
    const model = join(ROOT, METERED);
    const r = await gwgen(['generate', model, '-o', 'out', '--pack', 'no-hooks'], { cwd: project });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain(`"${id}" no longer exists`);
    // Located at the region's begin marker in the file on disk.
    const edited = readFileSync(hooks, 'utf8');
    const beginLine = edited.slice(0, edited.search(new RegExp(`^\\s*// gwgen:user-code-begin ${id}$`, 'm'))).split('\n').length;
    expect(r.stderr).toContain(`${join(project, 'out/gateway/src/hooks.ts')}:${beginLine}: error: gateway/src/hooks.ts: the user code region "${id}" no longer exists`);
    expect(statSnapshot(out)).toEqual(before);
    const forced = await gwgen(['generate', model, '-o', 'out', '--pack', 'no-hooks', '--force'], { cwd: project });
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(readFileSync(hooks, 'utf8')).not.toContain('keep(me)');
  });

  it('--check writes nothing and exits 3 when a file would be created, updated or deleted; 0 when up to date', async () => {
    const out = copyOf(pristineMesh);
    const before = statSnapshot(out);
    expect((await gwgen(['generate', MESH, '-o', out, '--check'])).exitCode).toBe(0);
    // From mesh-shop to metered-api: updates and deletions (the Istio files).
    const r = await gwgen(['generate', METERED, '-o', out, '--check']);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toMatch(/^delete {3}istio\//m);
    expect(r.stdout).toMatch(/^update {3}kong\/kong\.yml$/m);
    // A deleted generated file would be created again.
    rmSync(join(out, 'kong/NOTES.md'));
    const missing = await gwgen(['generate', MESH, '-o', out, '--check']);
    expect(missing.exitCode).toBe(3);
    expect(missing.stdout).toMatch(/^create {3}kong\/NOTES\.md$/m);
    delete before['kong/NOTES.md'];
    expect(statSnapshot(out)).toEqual(before);
  });

  it('--dry-run prints create/update/delete/unchanged per file and writes nothing', async () => {
    const out = copyOf(pristineMesh);
    const before = statSnapshot(out);
    const r = await gwgen(['generate', METERED, '-o', out, '--dry-run']);
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const verbs = new Set(lines.map((l) => l.split(/\s+/)[0]));
    expect([...verbs].sort()).toEqual(['delete', 'unchanged', 'update']);
    for (const line of lines) expect(line).toMatch(/^(create|update|delete|unchanged)\s+\S+$/);
    // Every file of either model is listed once.
    const listed = lines.map((l) => l.split(/\s+/)[1]).sort();
    // The manifest too, which another model's output rewrites.
    const expected = [...new Set([...Object.keys(snapshotDir(pristineMesh)), ...Object.keys(snapshotDir(pristineMetered))])].filter((p) => !p.startsWith('.gwgen/') || p === '.gwgen/manifest.json').sort();
    expect(listed).toEqual(expected);
    expect(statSnapshot(out)).toEqual(before);
    const fresh = join(tempDir(), 'fresh');
    const create = await gwgen(['generate', METERED, '-o', fresh, '--dry-run']);
    expect(create.stdout.trim().split('\n').every((l) => l.startsWith('create '))).toBe(true);
    expect(existsSync(fresh)).toBe(false);
  });
});

describe('interfaces.md: regeneration when a generated file and folder trade places (the write stage)', () => {
  const base = { generator: 'gwgen test', inputs: [], targets: ['t'] };
  const file = (path: string, content = `${path}\n`): GeneratedFile => ({ path, content, target: 't', template: 't.hbs' });
  const run = async (dir: string, files: GeneratedFile[], force = false) => {
    const plan = await planWrite(dir, files, base);
    if (plan.conflicts.length > 0 && !force) return plan;
    await applyWrite(plan);
    return plan;
  };

  it.each([
    ['a generated file becomes a folder', ['a/b', 'keep.txt'], ['a/b/c', 'keep.txt']],
    ['a generated folder becomes a file', ['x/y/z', 'x/y/w', 'keep.txt'], ['x/y', 'keep.txt']],
  ])('%s: the old files are deleted, the new ones written, no conflict', async (_what, first, second) => {
    const dir = tempDir();
    await run(dir, first.map((p) => file(p)));
    const plan = await run(dir, second.map((p) => file(p)));
    expect(plan.conflicts).toEqual([]);
    expect(plan.delete).toEqual(first.filter((p) => !second.includes(p)).sort());
    const now = snapshotDir(dir);
    delete now['.gwgen/manifest.json'];
    expect(now).toEqual(Object.fromEntries(second.map((p) => [p, `${p}\n`])));
  });

  it('a failed write after a file and a folder traded places restores DIR exactly', async () => {
    const dir = tempDir();
    await run(dir, [file('p'), file('q.txt')]);
    writeFileSync(join(dir, 'zz'), 'not generated\n');
    const before = statSnapshot(dir);
    // p becomes a folder and q.txt changes; then zz/c cannot be written (forced past the conflict).
    await expect(run(dir, [file('p/inner'), file('q.txt', 'new\n'), file('zz/c')], true)).rejects.toThrow(/nothing was changed/);
    const after = statSnapshot(dir);
    const content = (snap: Record<string, string>) => Object.fromEntries(Object.entries(snap).map(([k, v]) => [k, v.split(' ')[0]]));
    expect(content(after)).toEqual(content(before));
  });

  it('a forced overwrite of files gwgen did not generate that fails half way restores them, and leaves no .gwgen', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.txt'), 'mine\n');
    writeFileSync(join(dir, 'zz'), 'mine too\n');
    await expect(run(dir, [file('a.txt'), file('zz/c')], true)).rejects.toThrow(/nothing was changed/);
    expect(snapshotDir(dir)).toEqual({ 'a.txt': 'mine\n', zz: 'mine too\n' });
    expect(readdirSync(dir).sort()).toEqual(['a.txt', 'zz']);
  });
});

describe('interfaces.md: gwgen query', () => {
  const model = 'test/fixtures/contract/query.ttl';

  it.each([
    ['rdf', 'SELECT ?r WHERE { ?r rdf:type agw:Route }'],
    ['rdfs', 'SELECT ?l WHERE { agw:Route rdfs:label ?l }'],
    ['owl', 'SELECT ?c WHERE { ?c a owl:Class } LIMIT 1'],
    ['xsd', 'SELECT ?r WHERE { ?r agw:timeoutSeconds ?t FILTER(?t > "1"^^xsd:decimal) }'],
    ['agw', 'SELECT ?p WHERE { ?r agw:routePath ?p }'],
  ])('the prefix %s is predeclared', async (_prefix, q) => {
    const r = await gwgen(['query', model, '-e', q, '--format', 'json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).results.bindings.length).toBeGreaterThan(0);
  });

  it('runs the ggen package style of query file unchanged: its own PREFIX lines, xsd: without one, dateTime filters', async () => {
    const dir = tempDir();
    const file = join(dir, 'expiring.rq');
    writeFileSync(
      file,
      'PREFIX agw: <https://ggen.ai/ontology/api-gateway#>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n# services whose certificate expires early\n' +
        'SELECT ?service ?mode ?expiry WHERE {\n  ?service agw:hasMutualTLS ?m .\n  ?m agw:mtlsMode ?mode ; agw:hasCertificate ?c .\n  ?c agw:certificateExpiry ?expiry .\n  FILTER(?expiry < "2031-01-01T00:00:00"^^xsd:dateTime)\n}\n',
    );
    const r = await gwgen(['query', model, file, '--format', 'json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).results.bindings).toEqual([
      {
        service: { type: 'uri', value: 'https://example.org/query#svc' },
        mode: { type: 'literal', value: 'STRICT' },
        expiry: { type: 'literal', value: '2030-06-01T00:00:00Z', datatype: 'http://www.w3.org/2001/XMLSchema#dateTime' },
      },
    ]);
  });

  const q = 'SELECT ?route ?name ?limiter ?timeout ?label WHERE { ?route a agw:Route . OPTIONAL { ?route agw:routeName ?name } OPTIONAL { ?route agw:hasRateLimiter ?limiter } OPTIONAL { ?route agw:timeoutSeconds ?timeout } OPTIONAL { ?route rdfs:label ?label } } ORDER BY ?route';

  it('--format json is the W3C SPARQL 1.1 Query Results JSON Format', async () => {
    const r = await gwgen(['query', model, '-e', q, '--format', 'json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.head).toEqual({ vars: ['route', 'name', 'limiter', 'timeout', 'label'] });
    const [a, b] = json.results.bindings;
    expect(json.results.bindings).toHaveLength(2);
    expect(a).toEqual({
      route: { type: 'uri', value: 'https://example.org/query#a' },
      limiter: { type: 'bnode', value: expect.stringMatching(/^\S+$/) },
      timeout: { type: 'literal', value: '2.5', datatype: 'http://www.w3.org/2001/XMLSchema#decimal' },
      label: { type: 'literal', value: 'Route "A", the first\nof two', 'xml:lang': 'en' },
    });
    // Unbound variables are left out of the binding.
    expect(b).toEqual({ route: { type: 'uri', value: 'https://example.org/query#b' }, name: { type: 'literal', value: 'route-b' } });
    const ask = await gwgen(['query', model, '-e', 'ASK { ?s agw:mtlsMode "STRICT" }', '--format', 'json']);
    expect(JSON.parse(ask.stdout)).toEqual({ head: {}, boolean: true });
  });

  it('--format csv is the W3C SPARQL 1.1 CSV format', async () => {
    const r = await gwgen(['query', model, '-e', q, '--format', 'csv']);
    expect(r.exitCode, r.stderr).toBe(0);
    // (execa drops the CRLF that ends the last record.)
    const [header, a, b, ...rest] = r.stdout.split('\r\n');
    expect(header).toBe('route,name,limiter,timeout,label');
    expect(a).toMatch(/^https:\/\/example\.org\/query#a,,_:\S+,2\.5,"Route ""A"", the first\nof two"$/);
    expect(b).toBe('https://example.org/query#b,route-b,,,');
    expect(rest).toEqual([]);
  });

  it('--format table (the default) is an aligned text table', async () => {
    const r = await gwgen(['query', model, '-e', 'SELECT ?route ?name WHERE { ?route a agw:Route OPTIONAL { ?route agw:routeName ?name } } ORDER BY ?route']);
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\?route\s+\?name$/);
    const column = lines[0]!.indexOf('?name');
    expect(lines[1]).toMatch(/^-+\s+-+$/);
    expect(lines[3]!.indexOf('route-b')).toBe(column);
    expect(lines.at(-1)).toBe('2 rows');
  });

  it('runs on a model that parses but is not valid', async () => {
    const r = await gwgen(['query', 'test/fixtures/invalid/many-problems.ttl', '-e', 'SELECT ?p WHERE { ?g agw:listenPort ?p }', '--format', 'csv']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trimEnd()).toBe('p\r\n0');
  });
});

describe('interfaces.md: the marketplace', () => {
  it('the repository is a pack: pack.toml [pack] name, SemVer version, description; ontology/, queries/, queries/audit/, templates/<target>/', async () => {
    const { pack } = parseToml(readFileSync(join(ROOT, 'pack.toml'), 'utf8')) as { pack: Record<string, unknown> };
    expect(Object.keys(pack).sort()).toEqual(['description', 'name', 'version']);
    expect(pack.name).toMatch(/^[a-z0-9-]+$/);
    expect(pack.version).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/);
    expect(String(pack.description).trim()).not.toBe('');
    expect(readdirSync(join(ROOT, 'ontology')).some((f) => f.endsWith('.ttl'))).toBe(true);
    expect(readdirSync(join(ROOT, 'queries')).some((f) => f.endsWith('.rq'))).toBe(true);
    expect(readdirSync(join(ROOT, 'queries/audit')).some((f) => f.endsWith('.rq'))).toBe(true);
    for (const target of ['gateway', 'kong', 'istio', 'k8s']) expect(readdirSync(join(ROOT, 'templates', target)).length, target).toBeGreaterThan(0);
    const r = await gwgen(['pack', 'validate', ROOT]);
    expect(r.exitCode, r.stderr).toBe(0);
  });

  const makePack = (name: string, notes = `${name} notes\n`) => {
    const dir = join(tempDir(), name);
    mkdirSync(join(dir, 'templates/kong'), { recursive: true });
    writeFileSync(join(dir, 'pack.toml'), `[pack]\nname = "${name}"\nversion = "1.0.0"\ndescription = "test pack"\n`);
    writeFileSync(join(dir, 'templates/kong/NOTES.md.hbs'), notes);
    return dir;
  };

  it('gwgen.lock pins each pack by a content hash of every path and content: sorted keys, no timestamps, same bytes on reinstall', async () => {
    const project = tempDir();
    const zeta = makePack('zeta-pack');
    const alpha = makePack('alpha-pack');
    for (const p of [zeta, alpha]) expect((await gwgen(['pack', 'install', p], { cwd: project })).exitCode).toBe(0);
    const text = readFileSync(join(project, 'gwgen.lock'), 'utf8');
    const lock = JSON.parse(text);
    expect(Object.keys(lock)).toEqual(['lockfileVersion', 'packs']);
    expect(lock.lockfileVersion).toBe(1);
    expect(Object.keys(lock.packs)).toEqual(['alpha-pack', 'zeta-pack']);
    for (const entry of Object.values(lock.packs) as Record<string, string>[]) {
      expect(Object.keys(entry)).toEqual(['integrity', 'source', 'version']);
      expect(entry.integrity).toMatch(/^sha256-[0-9a-f]{64}$/);
    }
    expect(text).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);
    // Reinstalling the same content gives the same bytes.
    expect((await gwgen(['pack', 'install', alpha], { cwd: project })).exitCode).toBe(0);
    expect(readFileSync(join(project, 'gwgen.lock'), 'utf8')).toBe(text);
    // The hash covers paths too: a renamed file is a modified pack.
    const installed = join(project, '.gwgen/packs/alpha-pack/templates/kong');
    renameSync(join(installed, 'NOTES.md.hbs'), join(installed, 'OTHER.md.hbs'));
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.stdout).toMatch(/^alpha-pack\s+1\.0\.0\s+modified/m);
    expect(list.stdout).toMatch(/^zeta-pack\s+1\.0\.0\s+ok/m);
    expect(list.exitCode).toBe(1);
  });

  it('pack list shows a missing pack, and generate --pack refuses it (exit 2)', async () => {
    const project = tempDir();
    expect((await gwgen(['pack', 'install', makePack('gone-pack')], { cwd: project })).exitCode).toBe(0);
    rmSync(join(project, '.gwgen/packs/gone-pack'), { recursive: true });
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.stdout).toMatch(/^gone-pack\s+1\.0\.0\s+missing/m);
    expect(list.exitCode).toBe(1);
    const gen = await gwgen(['generate', join(ROOT, METERED), '-o', 'out', '--pack', 'gone-pack'], { cwd: project });
    expect(gen.exitCode).toBe(2);
    expect(gen.stderr).toContain('no longer matches gwgen.lock');
    expect(existsSync(join(project, 'out'))).toBe(false);
  });

  it('an npm spec that cannot be fetched installs nothing', async () => {
    const project = tempDir();
    // A tarball path that does not exist is an npm spec npm cannot resolve, without the network.
    const r = await gwgen(['pack', 'install', 'file:no-such-pack-1.0.0.tgz'], { cwd: project });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('cannot fetch pack');
    expect(existsSync(join(project, 'gwgen.lock'))).toBe(false);
    expect(existsSync(join(project, '.gwgen'))).toBe(false);
  });
});
