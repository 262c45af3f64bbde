import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gwgen, ROOT, snapshotDir, tempDir } from './helpers.js';

function makePack(dir: string, { name = 'acme-pack', version = '1.2.0', notes = 'ACME NOTES for {{md gateway}}\n' } = {}) {
  mkdirSync(join(dir, 'templates/kong'), { recursive: true });
  writeFileSync(join(dir, 'pack.toml'), `[pack]\nname = "${name}"\nversion = "${version}"\ndescription = "Kong notes in ACME's words"\n`);
  writeFileSync(join(dir, 'templates/kong/NOTES.md.hbs'), notes);
  return dir;
}

/** A git repository of `dir` committed on branch main; returns a git runner in it. */
function committedRepo(dir: string): (...args: string[]) => string {
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  git('add', '.');
  git('commit', '-q', '-m', 'pack');
  return git;
}

const MODEL = join(ROOT, 'examples/metered-api.ttl');

/** A workspace of three packs (a folder, a bare git repository, an npm tarball) pinned in a project. */
async function pinnedProject() {
  const work = tempDir();
  const folder = makePack(join(work, 'acme'));
  const gitTree = makePack(join(work, 'beta-src'), { name: 'beta-pack', version: '2.0.0', notes: 'BETA\n' });
  committedRepo(gitTree);
  execFileSync('git', ['clone', '-q', '--bare', gitTree, join(work, 'beta.git')]);
  const npmDir = makePack(join(work, 'gamma-src'), { name: 'gamma-pack', version: '3.0.0', notes: 'GAMMA\n' });
  writeFileSync(join(npmDir, 'package.json'), JSON.stringify({ name: 'gamma-pack', version: '3.0.0', files: ['pack.toml', 'templates'] }));
  const tarball = execFileSync('npm', ['pack', npmDir, '--pack-destination', work, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop()!;
  const project = join(work, 'project');
  mkdirSync(project);
  for (const source of ['../acme', 'git+file://' + join(work, 'beta.git') + '#main', `../${tarball}`]) {
    const r = await gwgen(['pack', 'install', source], { cwd: project });
    expect(r.stderr).toContain('installed ');
    expect(r.exitCode).toBe(0);
  }
  return { work, project, folder, gitTree };
}

/** The project as a fresh clone has it: its gwgen.lock (and sources beside it), no .gwgen/. */
function freshClone(work: string, project: string): string {
  const clone = join(work, 'clone');
  mkdirSync(clone);
  cpSync(join(project, 'gwgen.lock'), join(clone, 'gwgen.lock'));
  return clone;
}

describe('gwgen pack install without a source: what gwgen.lock pins (CI)', () => {
  it('a fresh clone gets every pinned pack, as pinned, and gwgen.lock stays as it is', async () => {
    const { work, project } = await pinnedProject();
    const clone = freshClone(work, project);
    const lock = readFileSync(join(clone, 'gwgen.lock'), 'utf8');

    // What generate says in a fresh clone is the command that installs the pins.
    const refused = await gwgen(['generate', MODEL, '-o', 'out', '--pack', 'acme-pack'], { cwd: clone });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('pack "acme-pack" is missing from .gwgen/packs/acme-pack');
    expect(refused.stderr).toContain('reinstall it as gwgen.lock pins it (gwgen pack install, with no source)');

    const install = await gwgen(['pack', 'install'], { cwd: clone });
    expect(install.stderr).toContain('installed acme-pack 1.2.0 from path:../acme');
    expect(install.stderr).toMatch(/installed beta-pack 2\.0\.0 from git:file:\/\/\S+beta\.git#main/);
    expect(install.stderr).toContain('installed gamma-pack 3.0.0 from npm:../gamma-pack-3.0.0.tgz');
    expect(install.exitCode).toBe(0);
    expect(readFileSync(join(clone, 'gwgen.lock'), 'utf8')).toBe(lock);
    expect(snapshotDir(join(clone, '.gwgen/packs'))).toEqual(snapshotDir(join(project, '.gwgen/packs')));
    expect((await gwgen(['pack', 'list'], { cwd: clone })).exitCode).toBe(0);
    for (const [name, notes] of [['acme-pack', 'ACME NOTES for metered-gateway\n'], ['beta-pack', 'BETA\n'], ['gamma-pack', 'GAMMA\n']]) {
      const gen = await gwgen(['generate', MODEL, '-o', `out-${name}`, '-t', 'kong', '--pack', name!], { cwd: clone });
      expect(gen.exitCode).toBe(0);
      expect(readFileSync(join(clone, `out-${name}/kong/NOTES.md`), 'utf8')).toBe(notes);
    }

    // Run again, nothing is fetched: every pack is in place and matches its pin.
    rmSync(join(work, 'acme'), { recursive: true });
    const again = await gwgen(['pack', 'install'], { cwd: clone });
    expect(again.stderr).toContain('ok acme-pack 1.2.0 from path:../acme');
    expect(again.exitCode).toBe(0);
  });

  it("refuses a pack whose source changed since it was pinned (an edited folder, a moved branch), installs the others, and keeps gwgen.lock", async () => {
    const { work, project, folder, gitTree } = await pinnedProject();
    writeFileSync(join(folder, 'templates/kong/NOTES.md.hbs'), 'NOT REVIEWED\n');
    writeFileSync(join(gitTree, 'templates/kong/NOTES.md.hbs'), 'NOT REVIEWED EITHER\n');
    execFileSync('git', ['-C', gitTree, '-c', 'user.email=t@example.com', '-c', 'user.name=t', 'commit', '-q', '-am', 'moved on']);
    execFileSync('git', ['-C', gitTree, 'push', '-q', join(work, 'beta.git'), 'main']);
    const clone = freshClone(work, project);
    const lock = readFileSync(join(clone, 'gwgen.lock'), 'utf8');
    const pins = JSON.parse(lock).packs;

    const install = await gwgen(['pack', 'install'], { cwd: clone });
    expect(install.exitCode).toBe(1);
    expect(install.stderr).toContain(`pack "acme-pack" from path:../acme is 1.2.0 (sha256-`);
    expect(install.stderr).toContain(`but gwgen.lock pins 1.2.0 (${pins['acme-pack'].integrity}): its source changed since it was pinned`);
    expect(install.stderr).toContain('to take the new content, install it from its source (gwgen pack install ../acme)');
    expect(install.stderr).toContain(`but gwgen.lock pins 2.0.0 (${pins['beta-pack'].integrity})`);
    expect(install.stderr).toContain('installed gamma-pack 3.0.0');
    expect(readFileSync(join(clone, 'gwgen.lock'), 'utf8')).toBe(lock);
    expect(existsSync(join(clone, '.gwgen/packs/acme-pack'))).toBe(false);
    expect(existsSync(join(clone, '.gwgen/packs/beta-pack'))).toBe(false);
    const gen = await gwgen(['generate', MODEL, '-o', 'out', '--pack', 'acme-pack'], { cwd: clone });
    expect(gen.exitCode).toBe(2);
    expect(existsSync(join(clone, 'out'))).toBe(false);
  });

  it('puts back the pinned files of a pack edited in .gwgen/packs/', async () => {
    const { project } = await pinnedProject();
    const installed = join(project, '.gwgen/packs/gamma-pack/templates/kong/NOTES.md.hbs');
    writeFileSync(installed, 'tampered\n');
    expect((await gwgen(['pack', 'list'], { cwd: project })).exitCode).toBe(1);
    const install = await gwgen(['pack', 'install'], { cwd: project });
    expect(install.stderr).toContain('installed gamma-pack 3.0.0');
    expect(install.stderr).toContain('ok acme-pack 1.2.0');
    expect(install.exitCode).toBe(0);
    expect(readFileSync(installed, 'utf8')).toBe('GAMMA\n');
    expect((await gwgen(['pack', 'list'], { cwd: project })).exitCode).toBe(0);
  });

  it('a source that now holds another pack is refused; no gwgen.lock is a usage error (exit 2), an empty one installs nothing', async () => {
    const work = tempDir();
    makePack(join(work, 'acme'));
    const project = join(work, 'project');
    mkdirSync(project);
    expect((await gwgen(['pack', 'install', '../acme'], { cwd: project })).exitCode).toBe(0);
    rmSync(join(project, '.gwgen'), { recursive: true });
    makePack(join(work, 'acme'), { name: 'other-pack' });
    const other = await gwgen(['pack', 'install'], { cwd: project });
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain('pack "acme-pack" is pinned from path:../acme, which now holds the pack "other-pack" 1.2.0');
    expect(existsSync(join(project, '.gwgen/packs'))).toBe(false);
    rmSync(join(work, 'acme'), { recursive: true });
    const gone = await gwgen(['pack', 'install'], { cwd: project });
    expect(gone.exitCode).toBe(1);
    expect(gone.stderr).toContain('error: pack "acme-pack" cannot be installed from path:../acme, where gwgen.lock says it comes from: pack not found: ../acme');
    expect(gone.stderr).toContain('hint: make ../acme available as it was when the pack was pinned');

    const none = await gwgen(['pack', 'install'], { cwd: tempDir() });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('there is no gwgen.lock in');
    expect(none.stderr).toContain('hint: give a source to install a pack and pin it');

    const empty = tempDir();
    writeFileSync(join(empty, 'gwgen.lock'), '{ "lockfileVersion": 1, "packs": {} }\n');
    const nothing = await gwgen(['pack', 'install'], { cwd: empty });
    expect(nothing.stderr).toContain('gwgen.lock pins no packs');
    expect(nothing.exitCode).toBe(0);
  });
});

describe('gwgen pack remove', () => {
  it("removes a pack's folder and its pin, and keeps the other packs", async () => {
    const { project } = await pinnedProject();
    const before = JSON.parse(readFileSync(join(project, 'gwgen.lock'), 'utf8'));
    const r = await gwgen(['pack', 'remove', 'beta-pack'], { cwd: project });
    expect(r.stderr).toMatch(/removed beta-pack 2\.0\.0 \(git:file:\/\/\S+#main\)/);
    expect(r.exitCode).toBe(0);
    expect(existsSync(join(project, '.gwgen/packs/beta-pack'))).toBe(false);
    const after = JSON.parse(readFileSync(join(project, 'gwgen.lock'), 'utf8'));
    expect(after.packs).toEqual({ 'acme-pack': before.packs['acme-pack'], 'gamma-pack': before.packs['gamma-pack'] });
    const list = await gwgen(['pack', 'list'], { cwd: project });
    expect(list.exitCode).toBe(0);
    expect(list.stdout).not.toContain('beta-pack');
    const gen = await gwgen(['generate', MODEL, '-o', 'out', '--pack', 'beta-pack'], { cwd: project });
    expect(gen.exitCode).toBe(2);
    expect(gen.stderr).toContain('pack "beta-pack" is not installed');

    // A pin whose folder is gone goes too; a pack that is neither pinned nor there is an error naming those that are.
    rmSync(join(project, '.gwgen/packs/gamma-pack'), { recursive: true });
    const pinOnly = await gwgen(['pack', 'remove', 'gamma-pack'], { cwd: project });
    expect(pinOnly.stderr).toContain('its folder in .gwgen/packs/ was already gone');
    expect(pinOnly.exitCode).toBe(0);
    const unknown = await gwgen(['pack', 'remove', 'gamma-pack'], { cwd: project });
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain('pack "gamma-pack" is not installed');
    expect(unknown.stderr).toContain('hint: the installed packs are acme-pack');
  });

  it('never leaves .gwgen/packs/ through a name, and leaves an invalid gwgen.lock as it is', async () => {
    const project = tempDir();
    mkdirSync(join(project, '.gwgen/packs'), { recursive: true });
    writeFileSync(join(project, 'keep'), 'x');
    const escape = await gwgen(['pack', 'remove', '../../keep'], { cwd: project });
    expect(escape.exitCode).toBe(1);
    expect(escape.stderr).toContain('is no pack name');
    expect(existsSync(join(project, 'keep'))).toBe(true);
    writeFileSync(join(project, 'gwgen.lock'), '{ not json');
    const invalid = await gwgen(['pack', 'remove', 'acme-pack'], { cwd: project });
    expect(invalid.exitCode).toBe(1);
    expect(invalid.stderr).toContain('gwgen.lock is invalid');
    expect(readFileSync(join(project, 'gwgen.lock'), 'utf8')).toBe('{ not json');
  });
});

describe('gwgen audit --pack', () => {
  it("runs an installed pack's queries/audit/ rules beside gwgen's, and refuses a pack that no longer matches its pin", async () => {
    const pack = makePack(join(tempDir(), 'acme'));
    mkdirSync(join(pack, 'queries/audit'), { recursive: true });
    writeFileSync(
      join(pack, 'queries/audit/owner.rq'),
      '# id: acme-gateway-owner\n# severity: error\n# message: Gateway {?focus} names no owner\n# MESSAGE: Gateway without owner\nPREFIX agw: <https://ggen.ai/ontology/api-gateway#>\nSELECT ?focus WHERE { ?focus a agw:ApiGateway } ORDER BY ?focus\n',
    );
    const project = tempDir();
    expect((await gwgen(['pack', 'install', pack], { cwd: project })).exitCode).toBe(0);

    const without = await gwgen(['audit', MODEL, '--format', 'json', '--fail-on', 'never'], { cwd: project });
    expect(without.exitCode).toBe(0);
    expect(without.stdout).not.toContain('acme-gateway-owner');
    const withPack = await gwgen(['audit', MODEL, '--format', 'json', '--pack', 'acme-pack'], { cwd: project });
    expect(withPack.stdout).toContain('"rule": "acme-gateway-owner"');
    expect(withPack.exitCode).toBe(1);

    writeFileSync(join(project, '.gwgen/packs/acme-pack/queries/audit/owner.rq'), '# id: x\n');
    const modified = await gwgen(['audit', MODEL, '--pack', 'acme-pack'], { cwd: project });
    expect(modified.exitCode).toBe(2);
    expect(modified.stderr).toContain('pack "acme-pack" is modified in .gwgen/packs/acme-pack');
    const unknown = await gwgen(['audit', MODEL, '--pack', 'nope'], { cwd: project });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('pack "nope" is not installed');
  });
});
