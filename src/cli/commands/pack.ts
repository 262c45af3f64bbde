import type { Command } from 'commander';
import { exitCodeFor } from '../../errors.js';
import { installPack, listPacks, validatePack } from '../../pack/pack.js';
import { out } from '../output.js';
import type { Run } from '../program.js';

export function registerPack(program: Command, run: Run): void {
  const pack = program
    .command('pack')
    .description('template packs: validate, install and list them')
    .addHelpText(
      'after',
      `
A pack is a directory with pack.toml ([pack] name, version (SemVer), description) and any of
ontology/, queries/, queries/audit/ and templates/<target>/. This repository is itself one.

Examples:
  $ gwgen pack validate .                                   # check a pack
  $ gwgen pack install ../acme-pack                         # from a directory
  $ gwgen pack install git+https://example.com/acme-pack.git#v1.2.0
  $ gwgen pack install @acme/gwgen-pack@1.2.0               # from the npm registry
  $ gwgen pack list
  $ gwgen generate model.ttl --pack acme-pack               # render with its templates

Installed packs live in .gwgen/packs/<name>/ and are pinned in gwgen.lock by content hash;
a pack whose files changed since install is refused until it is reinstalled.`,
    );

  pack
    .command('validate')
    .description('check a pack: pack.toml, Turtle, templates and audit rules')
    .argument('[dir]', 'the pack directory', '.')
    .action((dir: string) =>
      run(async () => {
        const { manifest, problems } = await validatePack(dir);
        if (!manifest) {
          out.problems(problems);
          return problems.some((p) => p.code === 'usage') ? 1 : exitCodeFor(problems);
        }
        out.info(`valid pack: ${manifest.name} ${manifest.version}`);
        return 0;
      }),
    );

  pack
    .command('install')
    .description('install a pack into .gwgen/packs/<name>/ and pin it in gwgen.lock')
    .argument('<source>', 'a directory, a git URL (git+https://…, …/repo.git[#ref]) or an npm package spec')
    .action((source: string) =>
      run(async () => {
        const result = await installPack(source);
        if (!result.manifest || !result.entry) {
          out.problems(result.problems);
          return 1;
        }
        out.info(`installed ${result.manifest.name} ${result.manifest.version} from ${result.entry.source} (${result.entry.integrity})`);
        return 0;
      }),
    );

  pack
    .command('list')
    .description('list the installed packs and check them against gwgen.lock')
    .action(() =>
      run(async () => {
        const packs = await listPacks();
        if (packs.length === 0) {
          out.info('no packs installed');
          return 0;
        }
        const width = Math.max(...packs.map((p) => p.name.length));
        out.result(packs.map((p) => `${p.name.padEnd(width)}  ${p.version}  ${p.status}  ${p.source}  ${p.integrity}`).join('\n'));
        return packs.every((p) => p.status === 'ok') ? 0 : 1;
      }),
    );
}
