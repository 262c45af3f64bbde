import { lstat, mkdtemp, rename, rm, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { problem, type Problem } from '../errors.js';
import { holdingSignals } from '../pipeline/write.js';
import { isPackName } from './manifest.js';
import {
  fetchPack,
  interruptedProblem,
  LOCK_FILE,
  loadLock,
  packIntact,
  packIntegrity,
  PACKS_DIR,
  packTemplatesDir,
  putInPlace,
  reinstallCommand,
  sourceArgument,
  withProjectLock,
  writeLock,
  type LockEntry,
} from './pack.js';

export interface PinnedInstall {
  readonly name: string;
  readonly entry: LockEntry;
  /** ok: it was in place and matched its pin; installed: it was fetched from its source. */
  readonly status: 'ok' | 'installed';
}

/**
 * `gwgen pack install` without a source: every pack gwgen.lock pins, fetched from the source it
 * records and installed only if its content hashes to the pin (as `npm ci` installs a lockfile).
 * gwgen.lock is never rewritten: a source whose content changed since it was pinned is refused
 * for that pack, so CI cannot render with templates nobody reviewed. A pack already in place and
 * matching its pin is not fetched again.
 */
export function installPinned(projectDir = process.cwd()): Promise<{ installs: PinnedInstall[]; problems: Problem[] }> {
  return holdingSignals(async (interrupted) => {
    const lockFile = join(projectDir, LOCK_FILE);
    if (!(await stat(lockFile).then(() => true, () => false))) {
      return {
        installs: [],
        problems: [problem('file-not-found', `there is no ${LOCK_FILE} in ${projectDir}: no pack is pinned, so there is nothing to install`, { location: { file: lockFile }, hint: 'give a source to install a pack and pin it (gwgen pack install <path|git URL|npm spec>), and commit gwgen.lock' })],
      };
    }
    const { lock, problems } = await loadLock(projectDir);
    if (!lock) return { installs: [], problems };
    const installs: PinnedInstall[] = [];
    const failed: Problem[] = [];
    for (const name of Object.keys(lock.packs).sort()) {
      if (interrupted()) return { installs, problems: [...failed, interruptedProblem()] };
      const entry = lock.packs[name]!;
      if (await packIntact(join(projectDir, PACKS_DIR, name), entry.integrity)) {
        installs.push({ name, entry, status: 'ok' });
        continue;
      }
      const result = await installOne(name, entry, projectDir, interrupted);
      if ('code' in result) failed.push(result);
      else installs.push({ name, entry, status: 'installed' });
    }
    return { installs, problems: failed };
  });
}

async function installOne(name: string, entry: LockEntry, projectDir: string, interrupted: () => boolean): Promise<Problem | LockEntry> {
  const source = sourceArgument(entry.source);
  const work = await mkdtemp(join(tmpdir(), 'gwgen-pack-'));
  try {
    const fetched = await fetchPack(source, projectDir, work);
    if (!('manifest' in fetched)) {
      const why = fetched.problems.map((p) => `${p.location?.file && !p.message.includes(p.location.file) ? `${p.location.file}${p.location.line ? `:${p.location.line}` : ''}: ` : ''}${p.message}`).join('; ');
      return problem('usage', `pack "${name}" cannot be installed from ${entry.source}, where gwgen.lock says it comes from: ${why}`, {
        hint: `make ${sourceArgument(entry.source)} available as it was when the pack was pinned, or install the pack from another source (gwgen pack install <path|git URL|npm spec>) and commit gwgen.lock`,
      });
    }
    if (fetched.manifest.name !== name) {
      return problem('usage', `pack "${name}" is pinned from ${entry.source}, which now holds the pack "${fetched.manifest.name}" ${fetched.manifest.version}`, {
        hint: `nothing was installed for "${name}"; install the pack you mean with gwgen pack install <source> and commit gwgen.lock`,
      });
    }
    const integrity = await packIntegrity(fetched.dir);
    if (integrity !== entry.integrity) {
      return problem('usage', `pack "${name}" from ${entry.source} is ${fetched.manifest.version} (${integrity}), but gwgen.lock pins ${entry.version} (${entry.integrity}): its source changed since it was pinned`, {
        hint: `nothing was installed for "${name}" and gwgen.lock is unchanged; to take the new content, install it from its source (${reinstallCommand(entry.source)}), review and commit gwgen.lock (pin a git source by tag or commit, #v1.2.0, so that it does not move)`,
      });
    }
    return await withProjectLock(
      projectDir,
      interrupted,
      async () => {
        // The pin as it is now, under the project lock: another install may have changed it meanwhile.
        const now = (await loadLock(projectDir)).lock?.packs[name];
        if (now?.integrity !== entry.integrity) return problem('usage', `pack "${name}" was pinned again by another install while this one ran`, { hint: 'run gwgen pack install again' });
        return putInPlace(fetched.dir, projectDir, name, async (copied) => {
          // The copy, not only the fetched folder, must hash to the pin (a path source may change under us).
          if (copied !== entry.integrity) throw new Error(`its source changed while it was copied (${copied}, pinned ${entry.integrity})`);
          return entry;
        }, interrupted);
      },
      (problems) => problems[0]!,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface RemoveResult {
  readonly removed?: { entry?: LockEntry; folder: boolean };
  readonly problems: Problem[];
}

/**
 * `gwgen pack remove <name>`: the pack's pin goes from gwgen.lock and its folder from
 * .gwgen/packs/. The folder is moved aside first and put back if gwgen.lock cannot be written, so
 * the two never disagree; a folder moved aside by a run that was killed is removed by the next
 * install or remove (see putInPlace).
 */
export function removePack(name: string, projectDir = process.cwd()): Promise<RemoveResult> {
  return holdingSignals(async (interrupted) => {
    if (!isPackName(name)) {
      return { problems: [problem('usage', `${JSON.stringify(name)} is no pack name (a lower-case name: a-z, 0-9, "-")`, { hint: 'give the name gwgen pack list shows' })] };
    }
    const before = await loadLock(projectDir);
    if (!before.lock) return { problems: before.problems };
    return withProjectLock(
      projectDir,
      interrupted,
      async (): Promise<RemoveResult> => {
        const { lock, problems } = await loadLock(projectDir);
        if (!lock) return { problems };
        const entry = lock.packs[name];
        const packs = join(projectDir, PACKS_DIR);
        const target = join(packs, name);
        const folder = await lstat(target).then(() => true, () => false);
        if (!entry && !folder) {
          const names = Object.keys(lock.packs).sort();
          return { problems: [problem('usage', `pack "${name}" is not installed`, { hint: names.length > 0 ? `the installed packs are ${names.join(', ')}` : 'no pack is installed' })] };
        }
        const aside = join(packs, `.${name}.replaced-${process.pid}`);
        if (folder) await rename(target, aside);
        try {
          if (entry) {
            const { [name]: _gone, ...rest } = lock.packs;
            await writeLock(projectDir, { lockfileVersion: 1, packs: rest });
          }
        } catch (err) {
          if (folder) await rename(aside, target).catch(() => undefined);
          return { problems: [problem('write', `cannot remove pack ${name}: gwgen.lock cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { location: { file: join(projectDir, LOCK_FILE) }, hint: 'make gwgen.lock and its folder writable; nothing was removed' })] };
        }
        await rm(aside, { recursive: true, force: true }).catch(() => undefined);
        await rmdir(packs).catch(() => undefined);
        return { removed: { ...(entry ? { entry } : {}), folder }, problems: [] };
      },
      (problems) => ({ problems: [...problems] }),
    );
  });
}

/**
 * The folder of an installed pack's audit rules (queries/audit/), for `gwgen audit --pack`, after
 * checking the pack against gwgen.lock as generate --pack does: a rule of a modified pack is no
 * rule anybody reviewed. A pack without rules gives none.
 */
export async function packRulesDir(name: string, projectDir = process.cwd()): Promise<{ dir?: string; problems: Problem[] }> {
  const { dir: templates, problems } = await packTemplatesDir(name, projectDir);
  if (!templates) return { problems };
  const rules = join(templates, '..', 'queries', 'audit');
  return (await stat(rules).then((st) => st.isDirectory(), () => false)) ? { dir: rules, problems: [] } : { problems: [] };
}
