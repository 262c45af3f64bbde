import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gwgen, ROOT, tempDir } from './helpers.js';

function makePack(dir: string, templates: Record<string, string>) {
  writeFileSync(join((mkdirSync(dir, { recursive: true }), dir), 'pack.toml'), '[pack]\nname = "acme-pack"\nversion = "1.0.0"\ndescription = "ACME extras"\n');
  for (const [path, text] of Object.entries(templates)) {
    mkdirSync(join(dir, 'templates', path, '..'), { recursive: true });
    writeFileSync(join(dir, 'templates', path), text);
  }
  return dir;
}

const MODEL = join(ROOT, 'examples/metered-api.ttl');

describe("a pack's JSON is JSON", () => {
  it.each([
    ['a hole in an array', '{ "replicas": [1, , 2] }\n', 'line 1, column 19'],
    ['NaN', '{\n  "ratio": NaN\n}\n', 'line 2, column 12'],
    ['a comment', '{\n  // ACME\n  "a": 1\n}\n', 'line 2, column 3'],
    ['a trailing comma', '{ "a": 1, }\n', 'line 1, column 11'],
  ])('a file a pack adds that renders %s (which prettier would format and write) fails generate at its line, writing nothing', async (_name, text, at) => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'), { 'k8s/extra.json.hbs': text });
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const gen = await gwgen(['generate', MODEL, '-o', 'out', '-t', 'k8s', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.exitCode).toBe(1);
    expect(gen.stderr).toContain(`.gwgen/packs/acme-pack/templates/k8s/extra.json.hbs: error: k8s/extra.json (from template k8s/extra.json.hbs) is not valid JSON: ${at}`);
    expect(gen.stderr).toContain("fix it in the pack's source, then install it again (gwgen pack install ");
    expect(existsSync(join(project, 'out'))).toBe(false);
  });

  it('valid JSON is formatted as before, and a tsconfig.json may hold comments, as TypeScript reads it', async () => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'), {
      'k8s/extra.json.hbs': '{"kind":"ConfigMap","data":{"gateway":"{{gateway}}"}}\n',
      'gateway/tsconfig.json.hbs': '{\n  // ACME: stricter\n  "compilerOptions": { "strict": true }\n}\n',
    });
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const gen = await gwgen(['generate', MODEL, '-o', 'out', '-t', 'k8s,gateway', '--pack', 'acme-pack'], { cwd: project });
    expect(gen.stderr).toContain('generated');
    expect(gen.exitCode).toBe(0);
    expect(readFileSync(join(project, 'out/k8s/extra.json'), 'utf8')).toBe('{ "kind": "ConfigMap", "data": { "gateway": "metered-gateway" } }\n');
    expect(readFileSync(join(project, 'out/gateway/tsconfig.json'), 'utf8')).toContain('// ACME: stricter');
  });
});

describe("a pack's file names", () => {
  it('a file name with a line break (it would become an output path) is refused by validate and install', async () => {
    const pack = makePack(join(tempDir(), 'acme'), { 'k8s/ev\nil.yaml.hbs': 'x: 1\n' });
    const validate = await gwgen(['pack', 'validate', pack]);
    expect(validate.exitCode).toBe(1);
    expect(validate.stderr).toContain('"templates/k8s/ev\\nil.yaml.hbs" has a control character (a line break, a tab) in its name');
    const project = tempDir();
    const install = await gwgen(['pack', 'install', pack], { cwd: project });
    expect(install.exitCode).toBe(1);
    expect(existsSync(join(project, 'gwgen.lock'))).toBe(false);
  });
});

describe('gwgen pack install: a tarball that is not there', () => {
  it('is named as a tarball, not a folder, in the message and its hint', async () => {
    const r = await gwgen(['pack', 'install', 'acme-pack-1.0.0.tgz'], { cwd: tempDir() });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('"acme-pack-1.0.0.tgz" was taken as an npm package spec, as there is no local tarball ./acme-pack-1.0.0.tgz');
    expect(r.stderr).toContain('hint: for a local tarball, give ./acme-pack-1.0.0.tgz (or its full path)');
  });
});
