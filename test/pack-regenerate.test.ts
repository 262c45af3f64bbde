import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gwgen, ROOT, snapshotDir, tempDir } from './helpers.js';

const MODEL = join(ROOT, 'examples/metered-api.ttl');

function makePack(dir: string, templates: Record<string, string>, name = 'acme-pack') {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pack.toml'), `[pack]\nname = "${name}"\nversion = "1.0.0"\ndescription = "ACME extras"\n`);
  for (const [path, text] of Object.entries(templates)) {
    mkdirSync(join(dir, 'templates', path, '..'), { recursive: true });
    writeFileSync(join(dir, 'templates', path), text);
  }
  return dir;
}

/** A template as a Windows editor saves it (or git's core.autocrlf checks it out): CRLF line ends and a byte order mark. */
const windows = (text: string) => `\uFEFF${text.replace(/\n/g, '\r\n')}`;

const TEMPLATES: Record<string, string> = {
  'k8s/extra/hpa.yaml.hbs': 'apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {{gateway}}\n',
  'kong/NOTES.md.hbs': '# ACME notes for {{md gateway}}\n\nSee the runbook.\n',
  'gateway/src/ext/audit.ts.hbs': "// ACME audit for {{name}}\nexport function audit(): string {\n  // gwgen:user-code-begin body\n  return 'default';\n  // gwgen:user-code-end body\n}\n",
};

describe('generate --pack with templates saved with CRLF line ends and a byte order mark', () => {
  it('writes what the same templates with LF give, and a second run finds its own files unchanged (it took them for hand edits)', async () => {
    const project = tempDir();
    const lfPack = makePack(join(tempDir(), 'lf'), TEMPLATES, 'lf-pack');
    const crlfPack = makePack(join(tempDir(), 'crlf'), Object.fromEntries(Object.entries(TEMPLATES).map(([path, text]) => [path, windows(text)])), 'crlf-pack');
    expect((await gwgen(['pack', 'install', lfPack], { cwd: project })).exitCode).toBe(0);
    expect((await gwgen(['pack', 'install', crlfPack], { cwd: project })).exitCode).toBe(0);
    const args = ['generate', MODEL, '-t', 'kong,k8s,gateway'];
    expect((await gwgen([...args, '-o', 'lf', '--pack', 'lf-pack'], { cwd: project })).exitCode).toBe(0);
    const first = await gwgen([...args, '-o', 'crlf', '--pack', 'crlf-pack'], { cwd: project });
    expect(first.exitCode).toBe(0);
    const lf = snapshotDir(join(project, 'lf'));
    const crlf = snapshotDir(join(project, 'crlf'));
    delete lf['.gwgen/manifest.json'];
    const manifest = JSON.parse(crlf['.gwgen/manifest.json']!) as { pack: { name: string } };
    delete crlf['.gwgen/manifest.json'];
    expect(manifest.pack.name).toBe('crlf-pack');
    expect(crlf['k8s/extra/hpa.yaml']).toBe('apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: metered-gateway\n');
    expect(crlf).toEqual(lf);

    const again = await gwgen([...args, '-o', 'crlf', '--pack', 'crlf-pack'], { cwd: project });
    expect(again.stderr).not.toContain('edited by hand');
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toMatch(/0 created, 0 updated, 0 deleted/);
    expect((await gwgen([...args, '-o', 'crlf', '--pack', 'crlf-pack', '--check'], { cwd: project })).exitCode).toBe(0);

    // The user's code in the pack's region is carried over, as with any template.
    const audit = join(project, 'crlf/gateway/src/ext/audit.ts');
    writeFileSync(audit, readFileSync(audit, 'utf8').replace("return 'default';", "return 'mine';"));
    expect((await gwgen([...args, '-o', 'crlf', '--pack', 'crlf-pack'], { cwd: project })).exitCode).toBe(0);
    expect(readFileSync(audit, 'utf8')).toContain("return 'mine';");
  });
});

describe("the hint on a fault in a pack's template", () => {
  it('leads to a fix that generate takes: the pack\'s source, installed again by the command it names (an edit of the installed copy is refused)', async () => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'), { 'kong/NOTES.md.hbs': '# ACME notes for {{gatway}}\n' });
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const args = ['generate', MODEL, '-o', 'out', '-t', 'kong', '--pack', 'acme-pack'];
    const failed = await gwgen(args, { cwd: project });
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toContain('"gatway" not defined');
    expect(failed.stderr).not.toContain('fix it there');

    // Fixing the installed copy, which the error locates, only gets the pack refused as modified.
    const installed = join(project, '.gwgen/packs/acme-pack/templates/kong/NOTES.md.hbs');
    writeFileSync(installed, '# ACME notes for {{gateway}}\n');
    const refused = await gwgen(args, { cwd: project });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('is modified in');

    // What the hint says: fix the source, then run the command it names.
    writeFileSync(join(pack, 'templates/kong/NOTES.md.hbs'), '# ACME notes for {{gateway}}\n');
    const command = /\(gwgen pack install ([^;]+);/.exec(failed.stderr)?.[1];
    expect(command).toBeDefined();
    expect((await gwgen(['pack', 'install', command!], { cwd: project })).exitCode).toBe(0);
    const fixed = await gwgen(args, { cwd: project });
    expect(fixed.exitCode).toBe(0);
    expect(readFileSync(join(project, 'out/kong/NOTES.md'), 'utf8')).toBe('# ACME notes for metered-gateway\n');
  });
});

describe('a file under templates/ that is no template', () => {
  it('is refused by validate and install (generate would leave gwgen\'s own file in its place, unseen); folder litter is not', async () => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'), { 'kong/kong.yml': "_format_version: '3.0'\n", 'kong/.DS_Store': '', '.gitkeep': '' });
    const validate = await gwgen(['pack', 'validate', pack]);
    expect(validate.exitCode).toBe(1);
    expect(validate.stderr).toContain(`${join(pack, 'templates/kong/kong.yml')}: error: templates/kong/kong.yml is not a template (a template's name ends in .hbs), so it would never be rendered`);
    expect(validate.stderr).toContain('hint: name it templates/kong/kong.yml.hbs');
    expect(validate.stderr).not.toContain('.DS_Store');
    expect(validate.stderr).not.toContain('.gitkeep');
    const install = await gwgen(['pack', 'install', pack], { cwd: project });
    expect(install.exitCode).toBe(1);
    expect(install.stderr).toContain('templates/kong/kong.yml is not a template');
    expect(snapshotDir(project)).toEqual({});
  });
});

describe('a pack pinned from a folder inside the project', () => {
  it('whose folder is gone is reported missing, never handed to npm (which reads packs/acme as a GitHub repository)', async () => {
    const project = tempDir();
    makePack(join(project, 'packs/acme'), { 'kong/NOTES.md.hbs': '# ACME\n' });
    const install = await gwgen(['pack', 'install', 'packs/acme'], { cwd: project });
    expect(install.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(join(project, 'gwgen.lock'), 'utf8')).packs['acme-pack'].source).toBe('path:packs/acme');
    const pinned = readFileSync(join(project, 'gwgen.lock'), 'utf8');

    // A fresh clone where the folder was renamed: the pinned install must not fetch anything.
    renameSync(join(project, 'packs/acme'), join(project, 'packs/acme-renamed'));
    rmSync(join(project, '.gwgen'), { recursive: true });
    const ci = await gwgen(['pack', 'install'], { cwd: project });
    expect(ci.exitCode).toBe(1);
    expect(ci.stderr).toContain('pack "acme-pack" cannot be installed from path:packs/acme, where gwgen.lock says it comes from: pack not found: ./packs/acme');
    expect(ci.stderr).not.toContain('taken as an npm package');
    expect(readFileSync(join(project, 'gwgen.lock'), 'utf8')).toBe(pinned);

    // The command the hint names installs from the folder, and only from a folder.
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.stderr).toContain('(gwgen pack install ./packs/acme)');
    renameSync(join(project, 'packs/acme-renamed'), join(project, 'packs/acme'));
    expect((await gwgen(['pack', 'install'], { cwd: project })).exitCode).toBe(0);
    expect((await gwgen(['pack', 'list'], { cwd: project })).exitCode).toBe(0);
  });
});

describe('installing a pack again that is in place as pinned', () => {
  it('touches nothing: neither its folder (which a running generate --pack reads) nor gwgen.lock', async () => {
    const project = tempDir();
    const pack = makePack(join(tempDir(), 'acme'), { 'kong/NOTES.md.hbs': '# ACME\n' });
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);
    const identity = (path: string) => {
      const st = statSync(join(project, path));
      return { ino: st.ino, mtimeMs: st.mtimeMs };
    };
    // What an install killed by SIGKILL leaves goes on the next install, also one that changes nothing.
    mkdirSync(join(project, '.gwgen/packs/.acme-pack.installing-99999999/templates'), { recursive: true });
    const before = { folder: identity('.gwgen/packs/acme-pack'), lock: identity('gwgen.lock') };
    const again = await gwgen(['pack', 'install', pack], { cwd: project });
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toMatch(/installed acme-pack 1\.0\.0 from path:\S+ \(sha256-[0-9a-f]{64}\), unchanged$/m);
    expect({ folder: identity('.gwgen/packs/acme-pack'), lock: identity('gwgen.lock') }).toEqual(before);
    expect(readdirSync(join(project, '.gwgen/packs'))).toEqual(['acme-pack']);

    // A copy edited since install is put back, as before.
    writeFileSync(join(project, '.gwgen/packs/acme-pack/templates/kong/NOTES.md.hbs'), '# edited\n');
    const restore = await gwgen(['pack', 'install', pack], { cwd: project });
    expect(restore.stderr).toContain('restoring its files in .gwgen/packs/acme-pack/');
    expect(readFileSync(join(project, '.gwgen/packs/acme-pack/templates/kong/NOTES.md.hbs'), 'utf8')).toBe('# ACME\n');
  });
});
