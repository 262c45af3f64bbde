import type { Command } from 'commander';
import { installPack, listPacks, validatePack } from '../../pack/pack.js';
import { installPinned, removePack } from '../../pack/pinned.js';
import { visible } from '../../errors.js';
import { out } from '../output.js';
import type { Run } from '../program.js';

export function registerPack(program: Command, run: Run): void {
  const pack = program
    .command('pack')
    .description('template packs: validate, install, list and remove them')
    .addHelpText(
      'after',
      `
A pack is a directory with pack.toml ([pack] name, version (SemVer), description) and any of
ontology/, queries/, queries/audit/ and templates/<target>/. This repository is itself one.
A template of the pack overrides gwgen's of the same path; one gwgen does not have adds a file
to its target (templates/k8s/hpa.yaml.hbs is written to k8s/hpa.yaml).

Examples:
  $ gwgen pack validate .                                   # check a pack
  $ gwgen pack install ../acme-pack                         # from a directory
  $ gwgen pack install git+https://example.com/acme-pack.git#v1.2.0
  $ gwgen pack install @acme/gwgen-pack@1.2.0               # from the npm registry
  $ gwgen pack install                                      # in CI: every pack gwgen.lock pins, as pinned
  $ gwgen pack list
  $ gwgen pack remove acme-pack
  $ gwgen generate model.ttl --pack acme-pack               # render with its templates
  $ gwgen audit model.ttl --pack acme-pack                  # run its queries/audit/ rules too

Installed packs live in .gwgen/packs/<name>/ and are pinned in gwgen.lock by content hash;
a pack whose files changed since install is refused until it is reinstalled.`,
    );

  pack
    .command('validate')
    .description('check a pack: pack.toml, Turtle, templates, queries and audit rules')
    .argument('[dir]', 'the pack directory', '.')
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen pack validate                 # the pack in this directory
  $ gwgen pack validate ../acme-pack

Exit codes: 0 valid, 1 the pack has problems (among them a symbolic link, a helper or a partial
gwgen does not have), 2 the directory does not exist or is a file.`,
    )
    .action((dir: string) =>
      run(async () => {
        const { manifest, problems } = await validatePack(dir);
        if (!manifest) {
          out.problems(problems);
          // A pack's own faults are 'usage' problems of the pack, exit 1; a directory that is not there is exit 2.
          return problems.some((p) => p.code === 'file-not-found') ? 2 : 1;
        }
        out.info(`valid pack: ${manifest.name} ${manifest.version}`);
        return 0;
      }),
    );

  pack
    .command('install')
    .description('install a pack into .gwgen/packs/<name>/ and pin it in gwgen.lock; without a source, install every pack gwgen.lock pins')
    .argument('[source]', 'a directory, a git URL (git+https://…, …/repo.git[#ref]) or an npm package spec')
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen pack install ../acme-pack
  $ gwgen pack install git+https://example.com/acme-pack.git#v1.2.0
  $ gwgen pack install @acme/gwgen-pack@1.2.0
  $ gwgen pack install              # every pack gwgen.lock pins (a fresh clone, CI)

Without a source, each pack gwgen.lock pins is fetched from the source it records and installed
only if its content hashes to its pin; gwgen.lock is not changed, and a pack whose source changed
since it was pinned is refused (exit 1). A pack already in place and matching its pin is kept.

A git ref after "#" is a branch, a tag or a (full or abbreviated) commit id. A name that is no
local folder is an npm package spec: give ./name for a folder named name.

Exit codes: 0 installed, 1 the pack is invalid or cannot be fetched, or gwgen.lock is invalid
(nothing installed), or a pinned pack's source no longer gives the pinned content, 2 the path
does not exist or is a file that is no tarball, or (without a source) there is no gwgen.lock.`,
    )
    .action((source: string | undefined) =>
      run(async () => {
        if (source === undefined) return installFromLock();
        const result = await installPack(source);
        if (!result.manifest || !result.entry) {
          out.problems(result.problems);
          return result.problems.some((p) => p.code === 'file-not-found') ? 2 : 1;
        }
        const { replaced } = result;
        // Installing over a pinned pack replaces it: say what was there, a downgrade or another source included.
        const same = replaced !== undefined && replaced.integrity === result.entry.integrity && replaced.source === result.entry.source;
        const was = replaced === undefined ? '' : same ? (result.restored ? `, restoring its files in .gwgen/packs/${result.manifest.name}/, which had been changed since install` : ', unchanged') : `, replacing ${result.manifest.name} ${replaced.version} from ${replaced.source} (${replaced.integrity})`;
        out.info(`installed ${result.manifest.name} ${result.manifest.version} from ${result.entry.source} (${result.entry.integrity})${was}`);
        return 0;
      }),
    );

  pack
    .command('list')
    .description('list the installed packs and check them against gwgen.lock')
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen pack list        # name, version, ok|modified|missing|invalid, source, integrity

Exit codes: 0 every pack is ok, 1 a pack is modified, missing or invalid (it holds a symbolic
link), or gwgen.lock is invalid.`,
    )
    .action(() =>
      run(async () => {
        const { packs, problems } = await listPacks();
        if (packs.length === 0 && problems.length === 0) {
          out.info('no packs installed');
          return 0;
        }
        if (packs.length > 0) {
          const width = Math.max(...packs.map((p) => p.name.length));
          out.result(packs.map((p) => visible(`${p.name.padEnd(width)}  ${p.version}  ${p.status}  ${p.source}  ${p.integrity}`)).join('\n'));
        }
        out.problems(problems);
        return problems.length === 0 && packs.every((p) => p.status === 'ok') ? 0 : 1;
      }),
    );

  pack
    .command('remove')
    .description('remove an installed pack: its folder in .gwgen/packs/ and its pin in gwgen.lock')
    .argument('<name>', 'the pack name, as gwgen pack list shows it')
    .addHelpText(
      'after',
      `
Examples:
  $ gwgen pack remove acme-pack

Output generated with the pack stays as it is; generate without --pack to go back to gwgen's
templates.

Exit codes: 0 removed, 1 no such pack is installed, or gwgen.lock is invalid or cannot be written.`,
    )
    .action((name: string) =>
      run(async () => {
        const { removed, problems } = await removePack(name);
        if (!removed) {
          out.problems(problems);
          return 1;
        }
        const what = removed.entry ? `${name} ${removed.entry.version} (${removed.entry.source})` : `${name}, which gwgen.lock did not pin`;
        out.info(`removed ${what}${removed.folder ? '' : `; its folder in .gwgen/packs/ was already gone`}`);
        return 0;
      }),
    );
}

/** `gwgen pack install` without a source: what gwgen.lock pins, each as pinned. */
async function installFromLock(): Promise<number> {
  const { installs, problems } = await installPinned();
  for (const i of installs) out.info(`${i.status === 'ok' ? 'ok' : 'installed'} ${i.name} ${i.entry.version} from ${i.entry.source} (${i.entry.integrity})`);
  if (installs.length === 0 && problems.length === 0) out.info('gwgen.lock pins no packs: nothing to install');
  out.problems(problems);
  return problems.length === 0 ? 0 : problems.some((p) => p.code === 'file-not-found') ? 2 : 1;
}
