import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile, rmdir } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { GwgenError, problem, type Problem } from '../errors.js';
import { compareStrings } from '../order.js';
import { carryUserCode, withoutUserCode } from './user-code.js';

export interface GeneratedFile {
  /** Relative to the output directory, "/"-separated. */
  readonly path: string;
  readonly content: string;
  readonly target: string;
  readonly template: string;
}

export interface ManifestEntry {
  /** sha256 of the file as written, with user-code region bodies emptied. */
  readonly sha256: string;
  readonly target: string;
  readonly template: string;
}

export interface Manifest {
  readonly generator: string;
  readonly inputs: readonly { readonly path: string; readonly sha256: string }[];
  readonly targets: readonly string[];
  /** The template pack rendered with (gwgen generate --pack), pinned by content hash. */
  readonly pack?: { readonly name: string; readonly version: string; readonly integrity: string };
  readonly files: Readonly<Record<string, ManifestEntry>>;
}

export const MANIFEST_PATH = '.gwgen/manifest.json';

export interface WritePlan {
  readonly dir: string;
  readonly create: readonly string[];
  readonly update: readonly string[];
  readonly unchanged: readonly string[];
  readonly delete: readonly string[];
  /** Problems that stop the run unless forced: hand edits, foreign files, dropped user code. */
  readonly conflicts: readonly Problem[];
  /**
   * The conflicts --force does not override (also in `conflicts`): a folder or file of the user's
   * where gwgen needs the other kind. gwgen removes nothing it did not write.
   */
  readonly obstacles: readonly Problem[];
  /** Final content per path, user code carried over. */
  readonly contents: ReadonlyMap<string, string>;
  readonly manifest: Manifest;
  readonly manifestChanged: boolean;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * What sits where gwgen wants a file: the file's text, nothing, a directory, or nothing because
 * an ancestor inside dir is a file (`blocker`, relative to dir).
 */
type Occupant = { readonly kind: 'file'; readonly text: string } | { readonly kind: 'none' } | { readonly kind: 'directory' } | { readonly kind: 'blocked'; readonly blocker: string };

async function occupant(dir: string, full: string): Promise<Occupant> {
  try {
    return { kind: 'file', text: await readFile(full, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'none' };
    if (code === 'EISDIR') return { kind: 'directory' };
    if (code !== 'ENOTDIR') throw err;
  }
  const root = resolve(dir);
  for (const parent of foldersBetween(root, full)) {
    const isFile = await stat(parent).then((s) => !s.isDirectory(), () => false);
    if (isFile) return { kind: 'blocked', blocker: relative(root, parent).split(sep).join('/') };
  }
  return { kind: 'none' };
}

/** The folders between root (excluded) and a path in it, outermost first. */
function foldersBetween(root: string, full: string): string[] {
  const chain: string[] = [];
  for (let parent = dirname(full); parent.startsWith(root) && parent !== root; parent = dirname(parent)) chain.unshift(parent);
  return chain;
}

/** The first folder on the way from DIR to `full` that is a symbolic link, "/"-separated and relative to DIR. */
async function linkedFolder(dir: string, full: string, cache: Map<string, Promise<boolean>>): Promise<string | undefined> {
  const root = resolve(dir);
  for (const parent of foldersBetween(root, full)) {
    let isLink = cache.get(parent);
    if (isLink === undefined) cache.set(parent, (isLink = lstat(parent).then((s) => s.isSymbolicLink(), () => false)));
    if (await isLink) return relative(root, parent).split(sep).join('/');
  }
  return undefined;
}

/** Every file under a folder, "/"-separated and relative to root. */
async function filesUnder(root: string, folder: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const full = join(folder, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(root, full)));
    else out.push(relative(root, full).split(sep).join('/'));
  }
  return out;
}

/** A usage problem when dir cannot be an output directory (it, or a folder on its path, is a file). */
export async function outputDirProblem(dir: string): Promise<Problem | undefined> {
  // "" would resolve to the working directory, which gwgen would then take over as its output.
  if (dir.trim() === '') return problem('usage', 'the output directory is empty ("")', { hint: 'name a directory with -o, or leave -o out for ./generated' });
  const kind = await stat(dir).then(
    (s) => (s.isDirectory() ? 'directory' : 'file'),
    (err: NodeJS.ErrnoException) => (err.code === 'ENOTDIR' ? 'under-a-file' : 'none'),
  );
  if (kind !== 'file' && kind !== 'under-a-file') return undefined;
  const what = kind === 'file' ? 'is a file, not a directory' : 'cannot be created: a folder on its path is a file';
  return problem('usage', `the output directory ${dir} ${what}`, { location: { file: dir }, hint: 'choose another output directory with -o' });
}

/** Resolves a generated path inside dir, refusing anything that would escape it. */
function inside(dir: string, path: string): string {
  const full = resolve(dir, path);
  const rel = relative(resolve(dir), full);
  if (rel === '' || rel.startsWith('..') || rel.split(sep).includes('..') || /^[a-zA-Z]:/.test(rel)) {
    throw new GwgenError(problem('internal', `refusing to write outside the output directory: ${path}`));
  }
  return full;
}

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  const text = await readIfExists(join(dir, MANIFEST_PATH));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Manifest;
  } catch {
    return undefined;
  }
}

/**
 * Compares what would be generated with what is on disk. Nothing is written here, so
 * `--check` and `--dry-run` are this function plus printing.
 */
export async function planWrite(
  dir: string,
  files: readonly GeneratedFile[],
  manifestBase: Omit<Manifest, 'files'>,
  options: { readonly keepOtherTargets?: boolean } = {},
): Promise<WritePlan> {
  const previous = await readManifest(dir);
  const create: string[] = [];
  const update: string[] = [];
  const unchanged: string[] = [];
  const conflicts: Problem[] = [];
  const obstacles: Problem[] = [];
  const contents = new Map<string, string>();
  const entries: Record<string, ManifestEntry> = {};

  const unusable = await outputDirProblem(dir);
  if (unusable) throw new GwgenError(unusable);
  const blockers = new Set<string>();
  const running = new Set(manifestBase.targets);
  const produced = new Set(files.map((f) => f.path));
  // A file gwgen generated before that this run deletes is no obstacle (a file that became a folder, or the reverse).
  const deletedByThisRun = (path: string) => {
    const entry = previous?.files[path];
    return entry !== undefined && !produced.has(path) && !(options.keepOtherTargets && !running.has(entry.target));
  };
  const linkCache = new Map<string, Promise<boolean>>();
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const full = inside(dir, file.path);
    const link = await linkedFolder(dir, full, linkCache);
    if (link !== undefined) {
      if (!blockers.has(link)) {
        blockers.add(link);
        const obstacle = problem('hand-edited', `${link} is a symbolic link, where gwgen writes the directory ${link}/: writing through it could leave the output directory`, { location: { file: join(dir, link) }, hint: 'replace the link with a directory (or remove it), then run gwgen again' });
        conflicts.push(obstacle);
        obstacles.push(obstacle);
      }
      continue;
    }
    let found = await occupant(dir, full);
    if (found.kind === 'blocked' && deletedByThisRun(found.blocker)) found = { kind: 'none' };
    if (found.kind === 'directory' && (await filesUnder(resolve(dir), full)).every(deletedByThisRun)) found = { kind: 'none' };
    if (found.kind === 'directory' || found.kind === 'blocked') {
      // Something gwgen did not generate is in the way: stop as for any foreign file.
      contents.set(file.path, file.content);
      entries[file.path] = { sha256: sha256(withoutUserCode(file.content)), target: file.target, template: file.template };
      (found.kind === 'directory' ? update : create).push(file.path);
      const hint = 'move it away, then run gwgen again (--force does not remove what gwgen did not write)';
      let obstacle: Problem | undefined;
      if (found.kind === 'directory') {
        obstacle = problem('hand-edited', `${file.path} is a directory that gwgen did not generate, where gwgen writes a file`, { location: { file: join(dir, file.path) }, hint });
      } else if (!blockers.has(found.blocker)) {
        blockers.add(found.blocker);
        obstacle = problem('hand-edited', `${found.blocker} is a file that gwgen did not generate, where gwgen writes the directory ${found.blocker}/`, { location: { file: join(dir, found.blocker) }, hint });
      }
      if (obstacle) {
        conflicts.push(obstacle);
        obstacles.push(obstacle);
      }
      continue;
    }
    const onDisk = found.kind === 'file' ? found.text : undefined;
    const known = previous?.files[file.path];
    let content = file.content;
    if (onDisk !== undefined) {
      const carried = carryUserCode(content, onDisk);
      content = carried.content;
      for (const id of carried.dropped) {
        conflicts.push(problem('hand-edited', `${file.path}: the user code region "${id}" no longer exists in the generated file and would be lost`, { location: { file: join(dir, file.path) }, hint: 'move the code elsewhere, or pass --force to drop it' }));
      }
    }
    contents.set(file.path, content);
    entries[file.path] = { sha256: sha256(withoutUserCode(content)), target: file.target, template: file.template };
    if (onDisk === undefined) create.push(file.path);
    else if (onDisk === content) unchanged.push(file.path);
    else {
      update.push(file.path);
      if (!known) {
        conflicts.push(problem('hand-edited', `${file.path} exists but was not generated by gwgen`, { location: { file: join(dir, file.path) }, hint: 'move it away, or pass --force to overwrite it' }));
      } else if (sha256(withoutUserCode(onDisk)) !== known.sha256) {
        conflicts.push(problem('hand-edited', `${file.path} was edited by hand since gwgen generated it`, { location: { file: join(dir, file.path) }, hint: 'move your change into the model (or a gwgen:user-code region), or pass --force to overwrite it' }));
      }
    }
  }

  const remove: string[] = [];
  for (const [path, entry] of Object.entries(previous?.files ?? {})) {
    if (contents.has(path)) continue;
    if (options.keepOtherTargets && !running.has(entry.target)) {
      // `-t kong` regenerates Kong only: the other targets' files stay, and stay recorded.
      entries[path] = entry;
      continue;
    }
    const full = inside(dir, path);
    const found = await occupant(dir, full);
    // Gone already, or replaced by something gwgen did not make (a directory): nothing to delete.
    if (found.kind !== 'file') continue;
    const onDisk = found.text;
    remove.push(path);
    if (sha256(withoutUserCode(onDisk)) !== entry.sha256) {
      conflicts.push(problem('hand-edited', `${path} is no longer generated, but was edited by hand since gwgen generated it`, { location: { file: join(dir, path) }, hint: 'keep a copy elsewhere, or pass --force to delete it' }));
    }
  }

  const kept = Object.values(entries).map((e) => e.target);
  const targets = [...new Set([...manifestBase.targets, ...kept])].sort(compareStrings);
  const manifest: Manifest = { ...manifestBase, targets, files: Object.fromEntries(Object.entries(entries).sort(([a], [b]) => compareStrings(a, b))) };
  const manifestChanged = (await readIfExists(join(dir, MANIFEST_PATH))) !== manifestText(manifest);
  return { dir, create, update, unchanged, delete: remove.sort(), conflicts, obstacles, contents, manifest, manifestChanged };
}

export function manifestText(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** `2 created, 1 updated, 0 deleted, 5 unchanged`: a plan in one line, for the CLI. */
export function summarizePlan(plan: WritePlan): string {
  return `${plan.create.length} created, ${plan.update.length} updated, ${plan.delete.length} deleted, ${plan.unchanged.length} unchanged`;
}

export function planChanges(plan: WritePlan): boolean {
  return plan.create.length + plan.update.length + plan.delete.length > 0 || plan.manifestChanged;
}

/**
 * Applies a plan all or nothing: new contents are staged next to their targets first, then
 * renamed into place; if any step fails, the files already replaced are restored from backups.
 */
export async function applyWrite(plan: WritePlan): Promise<void> {
  // Nothing changes: nothing is touched, not even the manifest (no new mtime for tools that watch DIR).
  if (!planChanges(plan)) return;
  const staging = join(plan.dir, '.gwgen', `staging-${process.pid}-${Date.now()}`);
  const writes = [...plan.create, ...plan.update].map((path) => ({ path, content: plan.contents.get(path)! }));
  if (plan.manifestChanged) writes.push({ path: MANIFEST_PATH, content: manifestText(plan.manifest) });
  const done: Array<{ target: string; backup?: string }> = [];
  const createdDirs: string[] = [];
  /** Folders that held only files this run deletes, removed so that a file can take their place. */
  const removedDirs: string[] = [];
  /** The first folder made for the staging area (DIR itself, DIR/.gwgen or the staging folder), removed last. */
  let madeForStaging: string | undefined;
  try {
    madeForStaging = await mkdir(staging, { recursive: true });
    const staged = await Promise.all(
      writes.map(async ({ path, content }, i) => {
        const tmp = join(staging, `${i}.new`);
        await writeFile(tmp, content);
        return { tmp, target: inside(plan.dir, path) };
      }),
    );
    for (const [i, path] of plan.delete.entries()) {
      const target = inside(plan.dir, path);
      const backup = join(staging, `${i}.deleted`);
      await rename(target, backup);
      done.push({ target, backup });
    }
    for (const [i, { tmp, target }] of staged.entries()) {
      const parent = dirname(target);
      const made = await mkdir(parent, { recursive: true });
      if (made) createdDirs.push(made);
      const backup = join(staging, `${i}.old`);
      if (await stat(target).then((st) => st.isDirectory(), () => false)) {
        // planWrite allowed this only when every file in it is deleted by this run: it is empty now.
        await removeEmptyTree(target);
        removedDirs.push(target);
      }
      const existed = (await readIfExists(target)) !== undefined;
      if (existed) await rename(target, backup);
      await rename(tmp, target);
      done.push(existed ? { target, backup } : { target });
    }
  } catch (err) {
    // Undo in an order that works when a file and a folder traded places: new files out, new
    // folders out, removed folders back, then the old files back.
    const steps = done.reverse();
    for (const step of steps) await rm(step.target, { force: true }).catch(() => undefined);
    for (const made of createdDirs.reverse()) await rm(made, { recursive: true, force: true }).catch(() => undefined);
    for (const removed of removedDirs) await mkdir(removed, { recursive: true }).catch(() => undefined);
    for (const step of steps) {
      if (!step.backup) continue;
      await mkdir(dirname(step.target), { recursive: true }).catch(() => undefined);
      await rename(step.backup, step.target).catch(() => undefined);
    }
    // The staging folder may never have been made (DIR or DIR/.gwgen is a file): cleaning up must not hide the cause.
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    if (madeForStaging) await rm(madeForStaging, { recursive: true, force: true }).catch(() => undefined);
    throw new GwgenError(problem('write', `writing to ${plan.dir} failed, nothing was changed: ${(err as Error).message}`, { location: { file: plan.dir }, hint: 'check permissions and free space of the output directory' }));
  }
  await rm(staging, { recursive: true, force: true });
  for (const path of plan.delete) await removeEmptyParents(plan.dir, inside(plan.dir, path));
}

/** Removes a folder that holds only (empty) folders; fails on the first file. */
async function removeEmptyTree(folder: string): Promise<void> {
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    if (!entry.isDirectory()) throw new Error(`${join(folder, entry.name)} is in the way`);
    await removeEmptyTree(join(folder, entry.name));
  }
  await rmdir(folder);
}

async function removeEmptyParents(dir: string, file: string): Promise<void> {
  let parent = dirname(file);
  const root = resolve(dir);
  while (parent.startsWith(root) && parent !== root) {
    try {
      await rmdir(parent);
    } catch {
      return;
    }
    parent = dirname(parent);
  }
}
