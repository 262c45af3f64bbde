import { createHash, randomUUID } from 'node:crypto';
import { chmod, link, lstat, open, readdir, readFile, readlink, rename, rm, stat, writeFile, rmdir } from 'node:fs/promises';
import { rmdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { GwgenError, problem, type Problem } from '../errors.js';
import { parseJsonText } from '../json-text.js';
import { makeDirs } from '../mkdirs.js';
import { compareStrings } from '../order.js';
import { carryUserCode, duplicateRegionIds, regionLine, unmatchedRegionMarkers, userRegions, withoutUserCode } from './user-code.js';

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
  /**
   * For a file with user-code regions: sha256 of the template's output, region bodies as the
   * template has them. A file on disk that hashes so holds no user code.
   */
  readonly template_sha256?: string;
  /**
   * For a file with user-code regions: sha256 of each region's body as the template wrote it. A
   * region whose body still hashes so holds no user code, and takes the next template's body.
   */
  readonly template_regions?: Readonly<Record<string, string>>;
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
  /** The manifest file would be rewritten (also when only its record of the inputs changes). */
  readonly manifestChanged: boolean;
  /** There is no manifest file yet: it would be created. */
  readonly manifestCreated: boolean;
  /** What was generated, from which templates and targets, differs from the manifest on disk. */
  readonly manifestFilesChanged: boolean;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * What a path (through links) is when it is neither a file nor a folder: reading a FIFO would wait
 * for a writer that never comes, a device like /dev/zero would never end.
 */
const special = (path: string): Promise<string | undefined> =>
  stat(path).then(
    (st) => (st.isFile() || st.isDirectory() ? undefined : st.isFIFO() ? 'a named pipe (FIFO)' : st.isSocket() ? 'a socket' : 'a device'),
    () => undefined,
  );

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    const other = await special(path);
    if (other) throw new Error(`it is ${other}, not a file`);
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Whether anything (a file, a folder, a link) is at path. */
const exists = (path: string): Promise<boolean> => lstat(path).then(() => true, () => false);
/** Whether path is a folder itself (not a link to one). */
const isFolder = (path: string): Promise<boolean> => lstat(path).then((st) => st.isDirectory(), () => false);

/**
 * What sits where gwgen wants a file: the file's text, nothing, a directory, or nothing because
 * an ancestor inside dir is a file (`blocker`, relative to dir).
 */
type Occupant = { readonly kind: 'file'; readonly text: string; readonly notUtf8?: number; readonly linkTo?: string } | { readonly kind: 'none' } | { readonly kind: 'directory' } | { readonly kind: 'special'; readonly what: string } | { readonly kind: 'blocked'; readonly blocker: string };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A file's text, and for a file that is not UTF-8 the 1-based line of its first such byte:
 * decoding replaces those bytes with U+FFFD, so written back, the user's text would be garbled.
 */
function decodeText(bytes: Buffer): { readonly text: string; readonly notUtf8?: number } {
  try {
    return { text: strictUtf8.decode(bytes) };
  } catch {
    let start = 0;
    for (let line = 1; ; line++) {
      const end = bytes.indexOf(0x0a, start);
      try {
        strictUtf8.decode(bytes.subarray(start, end === -1 ? bytes.length : end));
      } catch {
        return { text: bytes.toString('utf8'), notUtf8: line };
      }
      if (end === -1) return { text: bytes.toString('utf8'), notUtf8: line };
      start = end + 1;
    }
  }
}

async function occupant(dir: string, full: string): Promise<Occupant> {
  // A link the user put where gwgen writes a file: read through, it may say what gwgen would write.
  const linkTo = await readlink(full).catch(() => undefined);
  // Never read: a user's link there is replaced only with --force, and a FIFO is in the way like a folder.
  const other = await special(full);
  if (other) return linkTo !== undefined ? { kind: 'file', text: '', linkTo } : { kind: 'special', what: other };
  try {
    return { kind: 'file', ...decodeText(await readFile(full)), ...(linkTo !== undefined ? { linkTo } : {}) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A link to nothing, to a folder or to itself is the user's link all the same: writing would replace it.
    if (linkTo !== undefined && (code === 'ENOENT' || code === 'EISDIR' || code === 'ELOOP')) return { kind: 'file', text: '', linkTo };
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
  // .gwgen holds another output's manifest, lock and staging folders, which that output's next run removes.
  const parts = resolve(dir).split(sep);
  const inner = parts.indexOf('.gwgen');
  const own = parts.slice(0, inner + 1).join(sep);
  // Only gwgen's: a folder of the user's that happens to be called .gwgen (~/.gwgen/project) is theirs to use.
  if (inner > 0 && (STAGING.test(parts[inner + 1] ?? '') || parts[inner + 1] === 'packs' || (await exists(join(own, 'manifest.json'))))) {
    return problem('usage', `the output directory ${dir} is inside ${own}, where gwgen keeps the state of another output directory`, { location: { file: dir }, hint: 'choose another output directory with -o' });
  }
  const kind = await stat(dir).then(
    (s) => (s.isDirectory() ? 'directory' : 'file'),
    (err: NodeJS.ErrnoException) => (err.code === 'ENOTDIR' ? 'under-a-file' : err.code === 'ENOENT' ? 'none' : (err.code ?? 'none')),
  );
  const hint = 'choose another output directory with -o';
  if (kind === 'none') {
    // DIR, or the first folder on its path that is there, may be a link to nothing: gwgen would
    // have to make its target, wherever it points.
    for (let path = resolve(dir); ; path = dirname(path)) {
      const link = await lstat(path).then((st) => st.isSymbolicLink(), () => undefined);
      if (link === true) {
        // A link to a folder that is there is a folder like any other: gwgen makes DIR inside it,
        // as it writes into `-o link` itself.
        if (await stat(path).then((s) => s.isDirectory(), () => false)) return undefined;
        const target = await readlink(path);
        const what = path === resolve(dir) ? 'is' : `cannot be created: ${path} on its path is`;
        // A relative target is relative to the link's folder, not to the working directory.
        return problem('usage', `the output directory ${dir} ${what} a symbolic link to ${target}, which does not exist`, { location: { file: path }, hint: `create ${resolve(dirname(path), target)}, or ${hint}` });
      }
      if (link === false || path === dirname(path)) return undefined;
    }
  }
  if (/^E[A-Z]+$/.test(kind)) return problem('usage', `the output directory ${dir} cannot be used (${kind})`, { location: { file: dir }, hint });
  if (kind !== 'file' && kind !== 'under-a-file') return undefined;
  const what = kind === 'file' ? 'is a file, not a directory' : 'cannot be created: a folder on its path is a file';
  return problem('usage', `the output directory ${dir} ${what}`, { location: { file: dir }, hint });
}

/**
 * A file system error met while comparing with DIR (a generated file or folder gwgen may not
 * read, as after a chmod or a checkout by another user) as a problem located at its path: the
 * user's to fix, not a fault of gwgen's. Undefined for any other error.
 */
export function fileSystemProblem(err: unknown): Problem | undefined {
  const { code, path, syscall } = err as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof path !== 'string' || !/^E[A-Z]+$/.test(code)) return undefined;
  const what = syscall === 'scandir' ? 'list the folder' : syscall === 'open' || syscall === 'read' ? 'read' : `${syscall ?? 'access'}`;
  return problem('write', `gwgen cannot ${what} ${path} (${code}), so nothing was written`, { location: { file: path }, hint: 'give the user running gwgen access to it (check its permissions and owner), or move it away' });
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

/**
 * The manifest of the previous run, or undefined when there is none or it cannot be trusted (not
 * JSON, another shape, a path that leaves DIR or lies in .gwgen): gwgen then treats every file in DIR as not its
 * own, so nothing is overwritten or deleted on the word of a broken manifest.
 */
export async function readManifest(dir: string): Promise<Manifest | undefined> {
  return (await inspectManifest(dir)).manifest;
}

/**
 * The manifest of the previous run, or why there is none to trust: `missing` (no file), or what
 * is wrong with the file (`untrusted`). A file of another kind there (a folder) is untrusted too.
 */
async function inspectManifest(dir: string): Promise<{ readonly manifest?: Manifest; readonly text?: string; readonly missing?: true; readonly untrusted?: string; readonly at?: { line: number; column: number } }> {
  let text: string | undefined;
  try {
    text = await readIfExists(join(dir, MANIFEST_PATH));
  } catch (err) {
    return { untrusted: `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  if (text === undefined) return { missing: true };
  const parsed = parseJsonText(text);
  if (!parsed.ok) return { text, untrusted: 'is not valid JSON', at: { line: parsed.line, column: parsed.column } };
  const value = parsed.value;
  return isManifest(value) ? { manifest: value, text } : { text, untrusted: 'is not a manifest gwgen wrote (another shape, or a path outside the output directory or inside .gwgen)' };
}

/**
 * Line ends are not content: a file checked out with CRLF line ends (git's core.autocrlf on
 * Windows) is still the file gwgen wrote. Texts are compared and hashed with LF line ends.
 */
function lf(text: string): string {
  const bare = hasBom(text) ? text.slice(1) : text;
  return bare.includes('\r\n') ? bare.replace(/\r\n/g, '\n') : bare;
}

/**
 * Nor is a UTF-8 byte order mark, which some Windows editors put at the start of every file
 * they save: gwgen keeps it when it rewrites the file, as it keeps CRLF.
 */
function hasBom(text: string): boolean {
  return text.charCodeAt(0) === 0xfeff;
}

/** Whether a file's first line ends in CRLF: gwgen then keeps CRLF when it rewrites the file. */
function usesCrlf(text: string): boolean {
  const end = text.indexOf('\n');
  return end > 0 && text[end - 1] === '\r';
}

function isManifest(value: unknown): value is Manifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { files, targets } = value as { files?: unknown; targets?: unknown };
  if (typeof files !== 'object' || files === null || Array.isArray(files)) return false;
  if (targets !== undefined && !(Array.isArray(targets) && targets.every((t) => typeof t === 'string'))) return false;
  return Object.entries(files).every(([path, entry]) => {
    // .gwgen is gwgen's own (the manifest, the lock, staging): never a generated file to overwrite or delete.
    if (!isRelativePath(path) || path.split('/')[0] === '.gwgen' || typeof entry !== 'object' || entry === null) return false;
    const e = entry as Record<string, unknown>;
    return typeof e.sha256 === 'string' && typeof e.target === 'string' && typeof e.template === 'string' && (e.template_sha256 === undefined || typeof e.template_sha256 === 'string') && (e.template_regions === undefined || (typeof e.template_regions === 'object' && e.template_regions !== null && !Array.isArray(e.template_regions) && Object.values(e.template_regions).every((h) => typeof h === 'string')));
  });
}

/** A "/"-separated path that stays inside the folder it is relative to. */
function isRelativePath(path: string): boolean {
  return path !== '' && !path.startsWith('/') && !path.includes('\\') && !/^[a-zA-Z]:/.test(path) && path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
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
  const recorded = await inspectManifest(dir);
  const previous = recorded.manifest;
  const create: string[] = [];
  const update: string[] = [];
  const unchanged: string[] = [];
  const conflicts: Problem[] = [];
  const obstacles: Problem[] = [];
  const contents = new Map<string, string>();
  const entries: Record<string, ManifestEntry> = {};

  const unusable = await outputDirProblem(dir);
  if (unusable) throw new GwgenError(unusable);
  const repeated = files.flatMap((f) => duplicateRegionIds(f.content).map(({ id }) => problem('render', `${f.path}: the template ${f.template} has the user-code region "${id}" twice, so regeneration could not tell whose code goes where`, { location: { file: f.template }, hint: 'give every gwgen:user-code region of a template its own id' })));
  if (repeated.length > 0) throw new GwgenError(repeated);
  const gwgenDir = await lstat(join(dir, '.gwgen')).catch(() => undefined);
  const gwgenObstacle = gwgenDir?.isSymbolicLink()
    ? problem('hand-edited', '.gwgen is a symbolic link, where gwgen keeps its manifest and stages its writes: writing through it could leave the output directory', { location: { file: join(dir, '.gwgen') }, hint: 'replace the link with a directory (or remove it), then run gwgen again' })
    : gwgenDir && !gwgenDir.isDirectory()
      ? // Planned as a folder in the way of a file is: before, the run failed late, at its staging folder, with a bare ENOTDIR.
        problem('hand-edited', '.gwgen is a file that gwgen did not generate, where gwgen keeps its manifest and stages its writes', { location: { file: join(dir, '.gwgen') }, hint: 'move it away, then run gwgen again (--force does not remove what gwgen did not write)' })
      : undefined;
  if (gwgenObstacle) {
    conflicts.push(gwgenObstacle);
    obstacles.push(gwgenObstacle);
  }
  if (recorded.untrusted !== undefined) {
    // Planning on without it would forget what gwgen generated before (never deleted, never recorded again).
    conflicts.push(problem('hand-edited', `${MANIFEST_PATH} ${recorded.untrusted}, so gwgen cannot tell which files in the output directory it generated`, { location: { file: join(dir, MANIFEST_PATH), ...recorded.at }, hint: `restore it (from version control or a backup), or pass --force to rebuild it: files as gwgen would generate them are then taken as gwgen's, other files at generated paths are overwritten, and files generated before that the model no longer produces are left in place, no longer recorded` }));
  }
  const blockers = new Set<string>();
  const running = new Set(manifestBase.targets);
  const produced = new Set(files.map((f) => f.path));
  // A file gwgen generated before that this run deletes is no obstacle (a file that became a folder, or the reverse).
  const deletedByThisRun = (path: string) => {
    const entry = previous?.files[path];
    return entry !== undefined && !produced.has(path) && !(options.keepOtherTargets && !running.has(entry.target));
  };
  // A file planned as generated, in `list` (create or update), though something stands in its way.
  const planBlocked = (file: GeneratedFile, list: string[]) => {
    contents.set(file.path, file.content);
    entries[file.path] = manifestEntry(file, file.content);
    list.push(file.path);
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
      // Still produced: planned (for --dry-run) and not taken for a file the model dropped.
      planBlocked(file, previous?.files[file.path] !== undefined ? update : create);
      continue;
    }
    let found = await occupant(dir, full);
    if (found.kind === 'blocked' && deletedByThisRun(found.blocker)) found = { kind: 'none' };
    if (found.kind === 'directory' && (await filesUnder(resolve(dir), full)).every(deletedByThisRun)) found = { kind: 'none' };
    if (found.kind === 'directory' || found.kind === 'special' || found.kind === 'blocked') {
      // Something gwgen did not generate is in the way: stop as for any foreign file.
      planBlocked(file, found.kind === 'blocked' ? create : update);
      const hint = 'move it away, then run gwgen again (--force does not remove what gwgen did not write)';
      let obstacle: Problem | undefined;
      if (found.kind !== 'blocked') {
        const what = found.kind === 'directory' ? 'a directory' : found.what;
        obstacle = problem('hand-edited', `${file.path} is ${what} that gwgen did not generate, where gwgen writes a file`, { location: { file: join(dir, file.path) }, hint });
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
    // Compared, carried over and hashed with LF line ends; written back with the file's own.
    const onDiskLf = onDisk === undefined ? undefined : lf(onDisk);
    const known = previous?.files[file.path];
    let content = file.content;
    if (onDiskLf !== undefined) {
      // A file exactly as its template last wrote it holds no user code, whatever its regions say;
      // nor does a region whose body is still the template's: both take the template's new bodies.
      const untouched = known?.template_sha256 !== undefined && known.template_sha256 === sha256(onDiskLf);
      const carried = carryUserCode(content, onDiskLf, (id, body) => untouched || templateBody(known, id, body));
      content = carried.content;
      for (const id of carried.dropped) {
        const where = { location: { file: join(dir, file.path), line: regionLine(onDiskLf, id) } };
        // Markers copied to make a region of one's own are no region gwgen generated: "no longer" would mislead.
        if (known?.template_regions !== undefined && !(id in known.template_regions)) {
          const ids = [...userRegions(file.content).keys()];
          const theirs = ids.length > 0 ? `one of the user code regions gwgen generates in this file (${ids.join(', ')})` : 'a user code region gwgen generates (this file has none)';
          conflicts.push(problem('hand-edited', `${file.path}: "${id}" is not ${theirs}, so its code would be lost`, { ...where, hint: ids.length > 0 ? 'move the code into one of those regions, or pass --force to drop it' : 'move the code elsewhere, or pass --force to drop it' }));
        } else {
          conflicts.push(problem('hand-edited', `${file.path}: the user code region "${id}" no longer exists in the generated file and would be lost`, { ...where, hint: 'move the code elsewhere, or pass --force to drop it' }));
        }
      }
      for (const { id, line } of duplicateRegionIds(onDiskLf)) {
        conflicts.push(problem('hand-edited', `${file.path}: the user code region "${id}" appears twice, so gwgen cannot tell which body is yours (the first would be kept)`, { location: { file: join(dir, file.path), line }, hint: `remove the copied gwgen:user-code-begin/-end ${id} markers, or pass --force to keep the first region's code` }));
      }
    }
    const ends = onDisk !== undefined && usesCrlf(onDisk) ? content.replace(/\r?\n/g, '\r\n') : content;
    const written = onDisk !== undefined && hasBom(onDisk) ? `\uFEFF${ends}` : ends;
    contents.set(file.path, written);
    entries[file.path] = manifestEntry(file, content);
    if (onDisk === undefined) create.push(file.path);
    // Compared without line ends and BOM: a file whose lines end in a mix of LF and CRLF (CRLF lines
    // pasted into a region) says what gwgen would write, and is left as it is.
    else if (onDiskLf === content) unchanged.push(file.path);
    else {
      update.push(file.path);
      if (found.kind === 'file' && found.linkTo !== undefined) {
        // Writing renames the new file over the link: the user's link would be gone, the file it leads to stale.
        conflicts.push(problem('hand-edited', `${file.path} is a symbolic link to ${found.linkTo}, which gwgen did not make: rewriting it would replace the link with a file`, { location: { file: join(dir, file.path) }, hint: 'replace the link with a copy of its file and run gwgen again, or pass --force to replace the link with the generated file (the file it leads to is left as it is)' }));
      } else if (!known) {
        // No record: DIR was never generated into, or its manifest was deleted (or cannot be trusted).
        // With a manifest that is there and trusted, it is a file of the user's (one made where gwgen
        // deleted its own, say): restoring the manifest is no fix then.
        const intact = previous !== undefined;
        const why = recorded.untrusted !== undefined ? `${MANIFEST_PATH} ${recorded.untrusted}` : intact ? `${MANIFEST_PATH} does not record it` : `no ${MANIFEST_PATH} records it`;
        const restore = intact ? '' : `; if gwgen did generate it, restore ${MANIFEST_PATH} (from version control or a backup) instead`;
        conflicts.push(problem('hand-edited', `${file.path} exists but was not generated by gwgen (${why})`, { location: { file: join(dir, file.path) }, hint: `move it away, or pass --force to overwrite it${restore}` }));
      } else if (found.kind === 'file' && found.notUtf8 !== undefined) {
        // gwgen writes UTF-8: the user saved it in another encoding (in a user-code region, too).
        conflicts.push(problem('hand-edited', `${file.path} is not UTF-8 text, so gwgen cannot rewrite it without garbling your text (the bytes that are not UTF-8 would become U+FFFD)`, { location: { file: join(dir, file.path), line: found.notUtf8 }, hint: 'save the file as UTF-8 (your editor\'s encoding setting), then run gwgen again; --force rewrites it with those bytes replaced' }));
      } else if (sha256(withoutUserCode(onDiskLf!)) !== known.sha256) {
        const { unclosed, unopened } = unmatchedRegionMarkers(onDiskLf!);
        const strays = [...unclosed.map((m) => ({ ...m, kind: 'begin' as const })), ...unopened.map((m) => ({ ...m, kind: 'end' as const }))].sort((a, b) => a.line - b.line);
        for (const { id, line, extra, kind } of strays) {
          const where = { location: { file: join(dir, file.path), line } };
          const edge = kind === 'begin' ? 'ends' : 'starts';
          if (extra) {
            conflicts.push(problem('hand-edited', `${file.path}: the line // gwgen:user-code-${kind} ${id} pairs with no ${kind === 'begin' ? 'end' : 'begin'} marker (the region "${id}" is complete elsewhere), so gwgen cannot tell where your code ${edge}`, { ...where, hint: `remove the line, or give the region its ${kind === 'begin' ? 'end' : 'begin'} marker back (--force would overwrite the file)` }));
          } else if (kind === 'begin') {
            conflicts.push(problem('hand-edited', `${file.path}: the user code region "${id}" lost its end marker, so gwgen cannot tell where your code ends`, { ...where, hint: `put back the line // gwgen:user-code-end ${id} after your code (--force would drop the region's code)` }));
          } else {
            conflicts.push(problem('hand-edited', `${file.path}: the user code region "${id}" lost its begin marker, so gwgen cannot tell where your code starts`, { ...where, hint: `put back the line // gwgen:user-code-begin ${id} before your code (--force would drop the region's code)` }));
          }
        }
        if (strays.length === 0) {
          const regions = userRegions(file.content).size > 0;
          // Where gwgen would write now what it wrote then, the first line that differs is the edit.
          const line = sha256(withoutUserCode(content)) === known.sha256 ? firstDifferentLine(onDiskLf!, content) : undefined;
          conflicts.push(problem('hand-edited', `${file.path} was edited by hand since gwgen generated it`, { location: { file: join(dir, file.path), line }, hint: `move your change into the model${regions ? ' (or a gwgen:user-code region of this file)' : ''}, or pass --force to overwrite it` }));
        }
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
    const link = await linkedFolder(dir, full, linkCache);
    if (link !== undefined) {
      // Deleting through a link could remove a file outside DIR: gwgen deletes only in folders of DIR.
      const obstacle = problem('hand-edited', `${path} is no longer generated, but ${link} on its way is a symbolic link: gwgen does not delete through one (the file it leads to may lie outside the output directory)`, { location: { file: join(dir, link) }, hint: 'replace the link with a directory, or remove it, then run gwgen again' });
      conflicts.push(obstacle);
      obstacles.push(obstacle);
      continue;
    }
    const found = await occupant(dir, full);
    // Gone already, or replaced by something gwgen did not make (a directory): nothing to delete.
    if (found.kind !== 'file') continue;
    const onDisk = lf(found.text);
    remove.push(path);
    if (found.linkTo !== undefined) {
      conflicts.push(problem('hand-edited', `${path} is no longer generated, but is a symbolic link to ${found.linkTo}, which gwgen did not make`, { location: { file: join(dir, path) }, hint: 'remove the link yourself, or pass --force to remove it (the file it leads to is left as it is)' }));
    } else if (sha256(withoutUserCode(onDisk)) !== entry.sha256) {
      conflicts.push(problem('hand-edited', `${path} is no longer generated, but was edited by hand since gwgen generated it`, { location: { file: join(dir, path) }, hint: 'keep a copy elsewhere, or pass --force to delete it' }));
    } else if (entry.template_sha256 !== undefined && sha256(onDisk) !== entry.template_sha256) {
      conflicts.push(problem('hand-edited', `${path} is no longer generated, but holds your code in its gwgen:user-code regions, which would be lost`, { location: { file: join(dir, path) }, hint: 'move the code elsewhere, or pass --force to delete the file' }));
    }
  }

  const kept = Object.values(entries).map((e) => e.target);
  const targets = [...new Set([...manifestBase.targets, ...kept])].sort(compareStrings);
  const manifest: Manifest = { ...manifestBase, targets, files: Object.fromEntries(Object.entries(entries).sort(([a], [b]) => compareStrings(a, b))) };
  const manifestOnDisk = recorded.text;
  // A manifest with CRLF line ends (a Windows checkout) that says the same is not rewritten.
  const manifestChanged = manifestOnDisk === undefined || lf(manifestOnDisk) !== manifestText(manifest);
  // The record of the inputs (their paths as given, the gwgen version) is provenance: it changes
  // with the working directory and argument order, while the output stays the same.
  const record = (m: Manifest | undefined) => JSON.stringify(m ? { targets: m.targets, pack: m.pack, files: m.files } : undefined);
  const manifestFilesChanged = record(previous) !== record(manifest);
  return { dir, create, update, unchanged, delete: remove.sort(), conflicts, obstacles, contents, manifest, manifestChanged, manifestCreated: manifestOnDisk === undefined, manifestFilesChanged };
}

/** The 1-based number of the first line where two texts differ. */
function firstDifferentLine(a: string, b: string): number {
  const x = a.split('\n');
  const y = b.split('\n');
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return i + 1;
}

/** Whether a region body is the template's own as the manifest recorded it (no user code in it). */
function templateBody(entry: ManifestEntry | undefined, id: string, body: string): boolean {
  const recorded = entry?.template_regions?.[id];
  return recorded !== undefined && recorded === sha256(body);
}

function manifestEntry(file: GeneratedFile, content: string): ManifestEntry {
  const bare = withoutUserCode(content);
  const regions = [...userRegions(file.content)].sort(([a], [b]) => compareStrings(a, b));
  return {
    sha256: sha256(bare),
    ...(regions.length > 0 ? { template_sha256: sha256(file.content), template_regions: Object.fromEntries(regions.map(([id, body]) => [id, sha256(body)])) } : {}),
    target: file.target,
    template: file.template,
  };
}

export function manifestText(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** `2 created, 1 updated, 0 deleted, 5 unchanged`: a plan in one line, for the CLI. */
export function summarizePlan(plan: WritePlan): string {
  return `${plan.create.length} created, ${plan.update.length} updated, ${plan.delete.length} deleted, ${plan.unchanged.length} unchanged`;
}

/** Anything at all to write, the manifest included. */
export function planChanges(plan: WritePlan): boolean {
  return plan.create.length + plan.update.length + plan.delete.length > 0 || plan.manifestChanged;
}

/** The output differs from what would be generated (`--check`): files, or what the manifest says of them. */
export function planDrifts(plan: WritePlan): boolean {
  return plan.create.length + plan.update.length + plan.delete.length > 0 || plan.manifestFilesChanged;
}

/** How a staged run replaces one path: what a recovery needs to undo it (relative to DIR and the staging folder). */
interface JournalStep {
  readonly target: string;
  /** The staged new content (absent for a deletion). */
  readonly tmp?: string;
  /** Size and mtime of the staged file, which a rename keeps: how undo knows the target is still what this run put there. */
  readonly size?: number;
  readonly mtimeMs?: number;
  /** Where the old file is moved before it is replaced or deleted (absent when there was none). */
  readonly backup?: string;
  /** The target was an (emptied) folder of files this run deletes. */
  readonly wasFolder?: boolean;
}

interface Journal {
  readonly steps: readonly JournalStep[];
  /** Folders the renames create (relative to DIR, deepest first): undo removes them again when empty. */
  readonly folders: readonly string[];
}

const JOURNAL = 'journal.json';
const STAGING = /^staging-(\d+)-(\d+)$/;
/** The names commit() gives staged and backed-up files: a journal naming anything else is not gwgen's. */
const STAGED_NAME = /^\d+\.(new|old|deleted)$/;
const LOCK = 'lock';
/** The name a lock is written under before it is linked into place (takeLock). */
const LOCK_ASIDE = /^lock-(\d+)-[0-9a-f-]+$/;
/** A lock older than this is stale whatever its pid (a run writes in seconds; pids are reused). */
const LOCK_STALE_MS = 10 * 60_000;
/** Links tried before a run gives up: a stale lock removed, and locks released while being read. */
const LOCK_ATTEMPTS = 5;

/**
 * Applies a plan all or nothing: new contents are staged in DIR/.gwgen/staging-* first, a journal
 * of the renames to come is written (and synced), then the renames run; if any step fails, they
 * are undone. A process killed during the renames leaves the journal, and the next run undoes them
 * first (recoverInterruptedWrites). The journal is deleted before anything else of the staging
 * folder, so a journal never outlives a backup. SIGINT, SIGTERM and SIGHUP wait until the renames
 * are done.
 */
export async function applyWrite(plan: WritePlan): Promise<void> {
  // Nothing changes: nothing is touched, not even the manifest (no new mtime for tools that watch DIR).
  if (!planChanges(plan)) return;
  await holdingSignals(() => commit(plan));
}

async function commit(plan: WritePlan): Promise<void> {
  const staging = join(plan.dir, '.gwgen', `staging-${process.pid}-${Date.now()}`);
  const writes = [...plan.create, ...plan.update].map((path) => ({ path, content: plan.contents.get(path)! }));
  if (plan.manifestChanged) writes.push({ path: MANIFEST_PATH, content: manifestText(plan.manifest) });
  /** The first folder made for the staging area (DIR itself, DIR/.gwgen or the staging folder), removed last. */
  let madeForStaging: string | undefined;
  let journal: Journal = { steps: [], folders: [] };
  try {
    madeForStaging = await makeDirs(staging);
    await Promise.all(writes.map(({ content }, i) => writeFile(join(staging, `${i}.new`), content)));
    const steps: JournalStep[] = [
      ...plan.delete.map((path, i) => ({ target: path, backup: `${i}.deleted` })),
      ...(await Promise.all(
        writes.map(async ({ path }, i) => {
          const target = inside(plan.dir, path);
          // lstat: a link (which --force replaces) is moved aside as itself, whatever it leads to.
          const old = await lstat(target).catch(() => undefined);
          const kind = old === undefined ? 'none' : old.isDirectory() ? 'folder' : 'file';
          // A file that is rewritten keeps its permissions (a script made executable stays so); a link, those of the file it led to.
          const was = old?.isSymbolicLink() ? await stat(target).catch(() => undefined) : old;
          if (kind === 'file' && was?.isFile()) await chmod(join(staging, `${i}.new`), was.mode & 0o7777);
          const staged = await stat(join(staging, `${i}.new`));
          return { target: path, tmp: `${i}.new`, size: staged.size, mtimeMs: staged.mtimeMs, ...(kind === 'file' ? { backup: `${i}.old` } : {}), ...(kind === 'folder' ? { wasFolder: true } : {}) };
        }),
      )),
    ];
    journal = { steps, folders: await missingFolders(plan.dir, writes.map((w) => w.path)) };
    await writeSynced(join(staging, JOURNAL), JSON.stringify(journal));
    for (const step of steps) {
      const target = inside(plan.dir, step.target);
      if (step.tmp === undefined) {
        await rename(target, join(staging, step.backup!));
        continue;
      }
      await makeDirs(dirname(target));
      // planWrite allowed a folder here only when every file in it is deleted by this run: it is empty now.
      if (step.wasFolder) await removeEmptyTree(target);
      if (step.backup) await rename(target, join(staging, step.backup));
      await rename(join(staging, step.tmp), target);
    }
  } catch (err) {
    const failed = await undo(plan.dir, staging, journal);
    const kept = failed.length > 0;
    // The staging folder may never have been made (DIR or DIR/.gwgen is a file): cleaning up must not hide the cause.
    if (!kept) {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
      if (madeForStaging) await rm(madeForStaging, { recursive: true, force: true }).catch(() => undefined);
    }
    const why = (err as Error).message;
    const crossDevice = kept ? undefined : crossDeviceProblem(plan.dir, staging, err);
    if (crossDevice) throw new GwgenError(crossDevice);
    throw new GwgenError(
      kept
        ? problem('write', `writing to ${plan.dir} failed (${why}), and ${failed.length} file${failed.length > 1 ? 's' : ''} could not be put back (${failed.slice(0, 3).join(', ')}${failed.length > 3 ? ' …' : ''})`, { location: { file: plan.dir }, hint: `fix the permissions of the output directory and run gwgen again: it finishes the undo from ${staging}` })
        : problem('write', `writing to ${plan.dir} failed, nothing was changed: ${why}`, { location: { file: plan.dir }, hint: 'check permissions and free space of the output directory' }),
    );
  }
  // The journal first: from here on, the run is done whatever happens to the rest of the folder.
  await rm(join(staging, JOURNAL));
  await rm(staging, { recursive: true, force: true });
  for (const path of plan.delete) await removeEmptyParents(plan.dir, inside(plan.dir, path));
}

/**
 * A rename that failed because a folder of DIR is a mount point of another file system (EXDEV):
 * every file is staged in DIR/.gwgen and renamed into place, which no file system does across
 * devices. Said as such, since "check permissions and free space" would send the user elsewhere.
 */
function crossDeviceProblem(dir: string, staging: string, err: unknown): Problem | undefined {
  const { code, path, dest } = err as NodeJS.ErrnoException & { dest?: string };
  if (code !== 'EXDEV') return undefined;
  const target = [path, dest].find((p): p is string => typeof p === 'string' && !p.startsWith(staging)) ?? dir;
  const folder = dirname(target);
  const shown = relative(resolve(dir), folder).split(sep).join('/') || '.';
  return problem('write', `${shown} is on another file system than ${join(dir, '.gwgen')} (a mount point inside the output directory): gwgen stages every file in .gwgen and renames it into place, which cannot cross file systems, so nothing was changed`, {
    location: { file: folder },
    hint: 'mount the whole output directory rather than a folder inside it (or generate elsewhere and copy the files over)',
  });
}

/** Writes a file and syncs it to the disk before anything depends on it (the journal). */
async function writeSynced(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The folders (relative to DIR, deepest first) that writing these files will create. */
async function missingFolders(dir: string, paths: readonly string[]): Promise<string[]> {
  const root = resolve(dir);
  const missing = new Set<string>();
  for (const path of paths) {
    for (const folder of foldersBetween(root, inside(dir, path))) {
      const rel = relative(root, folder).split(sep).join('/');
      if (missing.has(rel)) continue;
      if (!(await exists(folder))) missing.add(rel);
    }
  }
  return [...missing].sort((a, b) => b.split('/').length - a.split('/').length || compareStrings(a, b));
}

/**
 * Undoes the steps of a journal, whichever of them ran (each is two renames at most, and a
 * rename either happened or did not): new files out, then old files and folders back, then the
 * folders the run made. A target that is no longer what the run put there (edited since) is left
 * as it is: the next plan then reports it as edited by hand. Safe to run again if interrupted.
 * Returns the targets whose old content could not be put back.
 */
async function undo(dir: string, staging: string, journal: Journal): Promise<string[]> {
  const failed: string[] = [];
  for (const step of [...journal.steps].reverse()) {
    const target = inside(dir, step.target);
    const backup = step.backup === undefined ? undefined : join(staging, step.backup);
    if (step.tmp !== undefined && !(await exists(join(staging, step.tmp)))) {
      // The new content was moved into place: take it out again, unless someone changed it since.
      const now = await stat(target).catch(() => undefined);
      const ours = now !== undefined && now.size === step.size && now.mtimeMs === step.mtimeMs;
      if (now !== undefined && !ours) continue;
      if (now !== undefined && (backup === undefined || (await exists(backup)))) await rm(target, { force: true });
    }
    try {
      if (backup !== undefined && (await exists(backup))) {
        await makeDirs(dirname(target));
        // A file that became a folder (p → p/inner): the run's folder, empty again, makes way.
        if (await stat(target).then((st) => st.isDirectory(), () => false)) await rmdir(target);
        await rename(backup, target);
      }
      if (step.wasFolder) await makeDirs(target);
    } catch {
      failed.push(step.target);
    }
  }
  for (const folder of journal.folders) await rmdir(inside(dir, folder)).catch(() => undefined);
  return failed;
}

function isJournal(value: unknown): value is Journal {
  if (typeof value !== 'object' || value === null) return false;
  const { steps, folders } = value as { steps?: unknown; folders?: unknown };
  const name = (v: unknown) => v === undefined || (typeof v === 'string' && STAGED_NAME.test(v));
  return (
    Array.isArray(steps) &&
    Array.isArray(folders) &&
    folders.every((f) => typeof f === 'string' && isRelativePath(f)) &&
    steps.every((st: unknown) => {
      if (typeof st !== 'object' || st === null) return false;
      const x = st as Record<string, unknown>;
      return typeof x.target === 'string' && isRelativePath(x.target) && name(x.tmp) && name(x.backup);
    })
  );
}

/**
 * Finishes what an interrupted run left in DIR/.gwgen (call it holding DIR's lock, so no other
 * run is under way): a staging folder with a journal is undone (DIR returns to what it was before
 * that run, files edited since excepted), one without is only removed. A journal that is not
 * gwgen's (a path outside the staging folder) is not acted on. Returns how many runs were undone.
 */
export async function recoverInterruptedWrites(dir: string): Promise<number> {
  await removeOrphanedLockFiles(dir);
  let undone = 0;
  for (const staging of await stagingFolders(dir)) {
    try {
      const text = await readIfExists(join(staging, JOURNAL));
      if (text !== undefined) {
        let journal: unknown;
        try {
          journal = JSON.parse(text);
        } catch {
          // A journal cut short was written before any rename: there is nothing to undo.
        }
        if (journal !== undefined && !isJournal(journal)) {
          throw new Error(`${join(staging, JOURNAL)} is not a journal gwgen wrote (a path leaves its folder)`);
        }
        if (journal !== undefined) {
          // The run that wrote it renamed nothing through a link (planWrite refuses them): one on the way now would take the undo outside DIR.
          const linkCache = new Map<string, Promise<boolean>>();
          for (const path of [...journal.steps.map((st) => st.target), ...journal.folders]) {
            const link = await linkedFolder(dir, inside(dir, path), linkCache);
            if (link !== undefined) throw new Error(`${join(staging, JOURNAL)} names ${path}, but ${link} on its way is a symbolic link, which gwgen never writes through: nothing was undone`);
          }
          const failed = await undo(dir, staging, journal);
          if (failed.length > 0) throw new Error(`could not put back ${failed.join(', ')}`);
          undone++;
        }
        await rm(join(staging, JOURNAL));
      }
      await rm(staging, { recursive: true, force: true });
    } catch (err) {
      throw new GwgenError(
        problem('write', `an earlier gwgen run into ${dir} was interrupted, and undoing it failed: ${(err as Error).message}`, {
          location: { file: staging },
          hint: `fix what is wrong (permissions of the output directory, usually), then run gwgen again; to give up that run instead, delete ${staging}`,
        }),
      );
    }
  }
  return undone;
}

/**
 * The files `lock-<pid>-<time>` that takeLock writes aside and removes within milliseconds: one
 * killed outright (kill -9) in that moment leaves its file for good. Called holding the lock; a
 * file whose process is gone is removed (one of a run on another host that is taking the lock
 * right now only makes that run try again: the lock itself is a separate link).
 */
async function removeOrphanedLockFiles(dir: string): Promise<void> {
  const gwgenDir = join(dir, '.gwgen');
  const names = await readdir(gwgenDir).catch(() => [] as string[]);
  for (const name of names) {
    const m = LOCK_ASIDE.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) await rm(join(gwgenDir, name), { force: true });
  }
}

/**
 * The run that holds DIR's lock, if it is alive on this host: a journal found meanwhile is its
 * write under way, not an interrupted one.
 */
export async function liveLockHolder(dir: string): Promise<{ pid: number; started: string } | undefined> {
  const text = await readFile(join(dir, '.gwgen', LOCK), 'utf8').catch(() => undefined);
  // No lock, or not one gwgen wrote: nobody is writing.
  const holder = text === undefined ? {} : lockHolder(text);
  return typeof holder.pid === 'number' && holder.host === hostname() && alive(holder.pid) ? { pid: holder.pid, started: String(holder.started) } : undefined;
}

/** What a lock's text says of its holder: nothing for text gwgen did not write (not JSON, not an object). */
function lockHolder(text: string): { pid?: unknown; host?: unknown; started?: unknown } {
  try {
    const holder: unknown = JSON.parse(text);
    return holder !== null && typeof holder === 'object' ? holder : {};
  } catch {
    return {};
  }
}

/** The staging folder of a killed run that still has its journal: what --check and --dry-run must not plan over. */
export async function pendingWrite(dir: string): Promise<string | undefined> {
  for (const staging of await stagingFolders(dir)) if (await exists(join(staging, JOURNAL))) return staging;
  return undefined;
}

/** DIR/.gwgen/staging-* folders, the latest run first (each undo returns DIR to the state the one before it left). */
async function stagingFolders(dir: string): Promise<string[]> {
  const gwgenDir = join(dir, '.gwgen');
  if (!(await isFolder(gwgenDir))) return [];
  const stagings = (await readdir(gwgenDir)).flatMap((name) => {
    const m = STAGING.exec(name);
    return m ? [{ name, started: Number(m[2]) }] : [];
  });
  return stagings.sort((a, b) => b.started - a.started || compareStrings(b.name, a.name)).map(({ name }) => join(gwgenDir, name));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes DIR's write lock (DIR/.gwgen/lock), so that two runs never plan and write into one DIR at
 * once. The lock appears at once with its content (written aside, then hard-linked into place), so
 * a run never sees it half written. A lock whose process is gone (same host) or that is older than
 * ten minutes is stale and taken over. A first run into a new DIR makes DIR and DIR/.gwgen for its
 * lock, and the release removes them again if the run left them empty (a run that fails writes
 * nothing). Nothing is locked where DIR/.gwgen is not a folder (a link or a file: the plan refuses
 * it). Returns the release function.
 */
export async function lockOutput(dir: string): Promise<() => Promise<void>> {
  // A run that made DIR/.gwgen for its lock removes it again on release, if empty: a run waiting
  // for the lock may then find the folder gone under its feet (ENOENT), and simply starts over.
  for (let attempt = 1; ; attempt++) {
    try {
      return await takeLock(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 5) continue;
      if (err instanceof GwgenError) throw err;
      // DIR/.gwgen not writable, a read-only or full disk: the user's to fix, not a fault of gwgen's.
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      const gwgenDir = join(dir, '.gwgen');
      throw new GwgenError(problem('write', `cannot take the lock ${join(gwgenDir, LOCK)} (${why}), so nothing was written`, { location: { file: gwgenDir }, hint: 'check the permissions and free space of the output directory and its .gwgen folder' }));
    }
  }
}

async function takeLock(dir: string): Promise<() => Promise<void>> {
  const gwgenDir = join(dir, '.gwgen');
  const path = join(gwgenDir, LOCK);
  // Unique per attempt, not only per process: two runs of one process (a library user's, watch)
  // may try at once, and one's clean-up must not remove the other's file.
  const token = randomUUID();
  const mine = join(gwgenDir, `${LOCK}-${process.pid}-${token}`);
  let made: string | undefined;
  let held = false;
  // A signal that ends the process meanwhile (Ctrl-C while the run plans) must not leave the lock,
  // its temporary file or the folders made for it behind: DIR is to be as it was.
  const unguard = onFatalSignal(() => {
    rmSync(mine, { force: true });
    if (held) rmSync(path, { force: true });
    for (let folder = gwgenDir; made !== undefined && folder.length >= made.length; folder = dirname(folder)) {
      try {
        rmdirSync(folder);
      } catch {
        break;
      }
    }
  });
  if (!(await exists(gwgenDir))) {
    try {
      made = await makeDirs(gwgenDir);
    } catch {
      // DIR cannot be made (permissions): the write reports it, with nothing changed.
      unguard();
      return async () => undefined;
    }
  }
  if (!(await isFolder(gwgenDir))) {
    unguard();
    return async () => undefined;
  }
  const unmake = async () => {
    // Only what this run made, and only while empty: another run may be writing into it by now.
    for (let folder = gwgenDir; made !== undefined && folder.length >= made.length; folder = dirname(folder)) {
      if (!(await rmdir(folder).then(() => true, () => false))) break;
    }
  };
  // `token` makes every lock's text its own, so that the lock judged stale is told from a new one.
  const me = JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString(), token });
  try {
    await writeFile(mine, me);
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      try {
        await link(mine, path);
        held = true;
        return async () => {
          await rm(path, { force: true });
          held = false;
          await unmake();
          unguard();
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const text = await readFile(path, 'utf8').catch(() => undefined);
      // Released since the link failed: try again. (Judged stale, a lock that is not there would be
      // "removed" after another run took it in the meantime: two runs would hold it.)
      if (text === undefined) continue;
      const holder = lockHolder(text);
      const age = await stat(path).then((st) => Date.now() - st.mtimeMs, () => undefined);
      if (age === undefined) continue;
      const gone = holder.host === hostname() && typeof holder.pid === 'number' && !alive(holder.pid);
      if (!(gone || age > LOCK_STALE_MS || typeof holder.pid !== 'number')) {
        throw new GwgenError(
          problem('locked', `another gwgen run (pid ${holder.pid} on ${String(holder.host)}, since ${String(holder.started)}) is writing to ${dir}`, {
            location: { file: path },
            hint: `wait for it to finish; if no gwgen is running, delete ${path}`,
          }),
        );
      }
      // Remove the stale lock only if it is still the one judged stale (another run may have taken it over meanwhile).
      if ((await readFile(path, 'utf8').catch(() => undefined)) === text) await rm(path, { force: true });
    }
    throw new GwgenError(problem('locked', `could not take the lock ${path}: another run keeps taking it`, { location: { file: path }, hint: 'run one gwgen at a time into one output directory' }));
  } catch (err) {
    // `mine` first: the folders it made come out only once empty. Failing here (a .gwgen gwgen
    // may not even look into) must not hide why the lock could not be taken.
    await rm(mine, { force: true }).catch(() => undefined);
    await unmake();
    unguard();
    throw err;
  } finally {
    await rm(mine, { force: true }).catch(() => undefined);
  }
}

/**
 * Until the returned function is called, a SIGINT, SIGTERM or SIGHUP that would end the process
 * (nothing else listens for it) first runs `cleanup`, synchronously, and then ends the process by
 * that signal as it would have. Where something else listens (gwgen watch stops at its own pace,
 * holdingSignals defers the signal until the renames are done), it is left to them: a signal they
 * raise again afterwards comes back here.
 */
function onFatalSignal(cleanup: () => void): () => void {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const handler = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    off();
    try {
      cleanup();
    } finally {
      process.kill(process.pid, signal);
    }
  };
  const off = () => {
    for (const signal of signals) process.off(signal, handler);
  };
  for (const signal of signals) process.on(signal, handler);
  return off;
}

/**
 * Runs fn with SIGINT, SIGTERM and SIGHUP held back: a Ctrl-C in the middle of the renames would
 * leave DIR half old, half new. A signal that came meanwhile is raised again afterwards, so the
 * process ends (or its own handlers run) as it would have. fn can ask whether one came, to stop
 * early at a point where it can clean up.
 */
export async function holdingSignals<T>(fn: (interrupted: () => boolean) => Promise<T>): Promise<T> {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  let received: NodeJS.Signals | undefined;
  const hold = (signal: NodeJS.Signals) => {
    received ??= signal;
  };
  for (const signal of signals) process.on(signal, hold);
  try {
    return await fn(() => received !== undefined);
  } finally {
    for (const signal of signals) process.off(signal, hold);
    if (received !== undefined) process.kill(process.pid, received);
  }
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
