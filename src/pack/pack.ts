import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { cp, lstat, mkdir, mkdtemp, open, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import Handlebars from 'handlebars';
import { Parser } from 'n3';
import { parseRule } from '../audit/rules.js';
import { GwgenError, problem, type Problem } from '../errors.js';
import { parseJsonText } from '../json-text.js';
import { makeDirs } from '../mkdirs.js';
import { isPackName, readManifest, type PackManifest } from './manifest.js';
import { SKIP, SKIP_AT_ROOT } from './skip.js';
import { TEMPLATES_DIR } from '../paths.js';
import { TARGET_NAMES } from '../targets/names.js';
import { decodeUtf8, readFailure } from '../pipeline/load.js';
import { isBuiltinTemplate } from '../pipeline/render.js';
import { holdingSignals, lockOutput } from '../pipeline/write.js';

const run = promisify(execFile);

export const PACKS_DIR = join('.gwgen', 'packs');
export const LOCK_FILE = 'gwgen.lock';

/** What a project pins per installed pack (gwgen.lock is JSON with sorted keys, no timestamps). */
export interface LockEntry {
  readonly version: string;
  /** `path:…`, `git:…` or `npm:…`: where it was installed from. */
  readonly source: string;
  /** sha256 over every file of the installed pack (paths and contents). */
  readonly integrity: string;
}
export interface LockFile {
  readonly lockfileVersion: 1;
  readonly packs: Readonly<Record<string, LockEntry>>;
}


/**
 * What a pack directory holds: its files, and what a pack must not hold: symbolic links (the
 * renderer would follow one the content hash does not cover) and anything else that is neither
 * a file nor a directory.
 */
interface PackTree {
  readonly files: string[];
  readonly links: string[];
  readonly special: string[];
}

async function packTree(dir: string): Promise<PackTree> {
  const out: PackTree = { files: [], links: [], special: [] };
  const walk = async (d: string) => {
    for (const entry of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (SKIP.has(entry.name) || (d === dir && SKIP_AT_ROOT.has(entry.name))) continue;
      const full = join(d, entry.name);
      // Dirent types are lstat's: a link to a directory is a link here, never a directory.
      if (entry.isSymbolicLink()) out.links.push(full);
      else if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) out.files.push(full);
      else out.special.push(full);
    }
  };
  await walk(dir);
  return out;
}

async function files(dir: string): Promise<string[]> {
  return (await packTree(dir)).files;
}

/** A pack's symbolic links and special files as problems; `shown` gives the path to report. */
function treeProblems(tree: PackTree, shown: (file: string) => string, hint: string): Problem[] {
  return [
    ...tree.links.map((file) =>
      problem('usage', `${shown(file)} is a symbolic link: a pack must not contain symbolic links`, {
        location: { file: shown(file) },
        hint: `${hint}; gwgen pins a pack by the content of its files, and a link could bring in any file of the machine (ggen refuses symbolic links in packs too)`,
      }),
    ),
    ...tree.special.map((file) =>
      problem('usage', `${shown(file)} is neither a file nor a directory (a FIFO, socket or device): a pack holds only files and directories`, {
        location: { file: shown(file) },
        hint: 'remove it from the pack',
      }),
    ),
  ];
}

/**
 * Content hash of a pack directory: independent of where it lies and of file times. Each file is
 * its path, its length and its content: without the length, a file holding "\0<path>\0<content>"
 * of the next file would hash as the two, so a pack could lose a file and keep its hash.
 */
export async function packIntegrity(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of await files(dir)) {
    const content = await readFile(file);
    hash.update(`${relative(dir, file).split(sep).join('/')}\0${content.length}\0`);
    hash.update(content);
  }
  return `sha256-${hash.digest('hex')}`;
}

/**
 * Checks a pack: pack.toml, then that its Turtle parses, its templates compile, its audit
 * rules have their metadata and it holds at least one of ontology/, queries/, templates/.
 */
/** An empty argument (`gwgen pack install ""`, an unset shell variable) names no pack: it is not the current folder. */
const emptySource = (what: string): Problem =>
  problem('file-not-found', `the pack ${what} is empty`, { hint: `give the pack's ${what} (\`.\` for the current folder)` });

export async function validatePack(dir: string): Promise<{ manifest?: PackManifest; problems: Problem[] }> {
  if (dir.trim() === '') return { problems: [emptySource('directory')] };
  const found = await stat(dir).then((s) => (s.isDirectory() ? 'directory' : 'file'), () => 'none');
  if (found !== 'directory') {
    // Either way there is no pack directory there: a usage error (exit 2), not a fault of a pack.
    return { problems: [problem('file-not-found', found === 'file' ? `${dir} is a file, not a pack directory` : `pack directory not found: ${dir}`, { location: { file: dir }, hint: 'give the directory that holds the pack.toml' })] };
  }
  const { manifest, problems } = await readManifest(dir);
  const tree = await packTree(dir).catch((): PackTree => ({ files: [], links: [], special: [] }));
  problems.push(...treeProblems(tree, (file) => file, 'replace the link with a copy of the file it points to'));
  const all = tree.files;
  const rel = (f: string) => relative(dir, f).split(sep).join('/');
  const parts = ['ontology/', 'queries/', 'templates/'];
  if (!all.some((f) => parts.some((p) => rel(f).startsWith(p)))) {
    problems.push(problem('usage', `pack ${dir} has none of ontology/, queries/ or templates/`, { location: { file: dir }, hint: 'a pack brings an ontology, queries or templates' }));
  }
  for (const file of all) {
    const path = rel(file);
    // A template's name becomes an output path: a line break in it would write k8s/a<LF>b.yaml,
    // and split every listing (dry-run, the manifest's readers, pack list) that names it.
    if (/[\u0000-\u001f\u007f]/.test(path)) {
      problems.push(problem('usage', `${JSON.stringify(path)} has a control character (a line break, a tab) in its name`, { location: { file: JSON.stringify(file).slice(1, -1) }, hint: 'rename the file: a pack\'s file names are printed and some become output paths' }));
      continue;
    }
    if (path.startsWith('ontology/') && path.endsWith('.ttl')) {
      try {
        new Parser({ format: 'text/turtle' }).parse(await readFile(file, 'utf8'));
      } catch (err) {
        const e = err as Error & { context?: { line?: number } };
        problems.push(problem('usage', `Turtle syntax error: ${e.message.replace(/ on line \d+\.?$/, '')}`, { location: { file, ...(e.context?.line ? { line: e.context.line } : {}) }, hint: 'fix the Turtle syntax at this position (a missing "." or ";", an unclosed quote or an undeclared prefix are the usual causes)' }));
      }
    } else if (path.startsWith('templates/') && path.endsWith('.hbs')) {
      // A pack overrides gwgen's templates by path, or adds a file to a target's folder; a
      // template anywhere else, or a partial gwgen does not call, is never rendered.
      const unused = await unrenderedTemplate(path);
      if (unused) {
        problems.push(problem('usage', `${path} ${unused}, so it would never be rendered`, { location: { file }, hint: `a pack overrides gwgen's own templates by their path under templates/ (e.g. templates/kong/kong.yml.hbs; see ${TEMPLATES_DIR}), or adds a file to a target: templates/k8s/hpa.yaml.hbs is rendered to k8s/hpa.yaml` }));
        continue;
      }
      problems.push(...(await checkTemplate(file, path)));
    } else if (path.startsWith('templates/') && !FOLDER_LITTER.has(basename(path))) {
      // Rendered are only *.hbs: a kong.yml dropped in as is would leave gwgen's own in place, unseen.
      problems.push(problem('usage', `${path} is not a template (a template's name ends in .hbs), so it would never be rendered`, { location: { file }, hint: `name it ${path}.hbs (its output is then ${path.slice('templates/'.length)}; a template is Handlebars, and plain text renders as it is), or move it out of templates/` }));
    } else if (path.startsWith('queries/') && path.endsWith('.rq')) {
      problems.push(...(await checkQuery(file, path)));
    }
  }
  return { ...(manifest && problems.length === 0 ? { manifest } : {}), problems };
}

/** Files that file managers and git habits leave in folders, never meant as templates. */
const FOLDER_LITTER = new Set(['.DS_Store', 'Thumbs.db', 'desktop.ini', '.gitkeep', '.keep']);

/**
 * Why a pack's template (`templates/…`) would never be rendered, or nothing when it would be: it
 * overrides one of gwgen's, or adds a file to a target's folder (generate renders it with that
 * target's view). Partials are registered by gwgen's names only.
 */
async function unrenderedTemplate(path: string): Promise<string | undefined> {
  const rel = path.slice('templates/'.length);
  if (await isBuiltinTemplate(rel)) return undefined;
  const [folder, ...rest] = rel.split('/');
  if (rest.length === 0 || !TARGET_NAMES.includes(folder!)) return `is in no target's folder (templates/${TARGET_NAMES.join('/, templates/')}/)`;
  if (basename(rel).startsWith('_')) return 'is a partial gwgen does not have (a pack overrides a partial, it cannot add one)';
  // ".hbs", "..hbs", "...hbs" would be rendered to a file named "", "." or "..": no file can be.
  const output = basename(rel).slice(0, -'.hbs'.length);
  if (output === '' || output === '.' || output === '..') return `has no name before .hbs to render to (its output would be "${folder}/${output}")`;
  return undefined;
}

/**
 * A query of the pack parses as SPARQL (with gwgen's predeclared prefixes, as `gwgen query` and
 * `gwgen audit --rules` read it); an audit rule also carries its metadata and is a SELECT of
 * ?focus. A rule that does not parse is reported for that alone: its shape cannot be known.
 */
async function checkQuery(file: string, path: string): Promise<Problem[]> {
  const rule = path.startsWith('queries/audit/');
  const decoded = decodeUtf8(file, await readFile(file), rule ? 'audit rule files' : 'SPARQL query files');
  if ('problem' in decoded) return [rule ? { ...decoded.problem, code: 'usage', message: `audit rule ${file}: ${decoded.problem.message}` } : decoded.problem];
  const text = decoded.text;
  const { queryParseProblem } = await import('../sparql/engine.js');
  const unparsed = await queryParseProblem(text, file);
  if (unparsed) return [rule ? { ...unparsed, code: 'usage', message: `audit rule ${file}: ${unparsed.message}` } : unparsed];
  return rule ? parseRule(file, text).problems : [];
}

/**
 * gwgen's helpers (a helper a template calls must be one of these or Handlebars' own). Loaded
 * when a pack is checked, not when the CLI starts: the targets' modules are the generator's.
 */
let helperNames: Promise<Readonly<Record<string, true>>> | undefined;
function knownHelpers(): Promise<Readonly<Record<string, true>>> {
  helperNames ??= import('../pipeline/helpers.js').then(({ HELPERS }) => Object.fromEntries(Object.keys(HELPERS).map((name) => [name, true])));
  return helperNames;
}
// Not `log`: it prints to gwgen's stdout, into the listing of --dry-run (see render.ts).
const BUILTIN_HELPERS = ['if', 'unless', 'each', 'with', 'lookup'];

/** The partials gwgen registers for the templates of templates/<dir>/ (a pack can only override them). */
async function partialsFor(dir: string): Promise<string[]> {
  const { TARGETS } = await import('../targets/index.js');
  return Object.values(TARGETS)
    .flatMap((target) => (target.partials?.dir === dir ? target.partials.names : []))
    .map((name) => name.replace(/^_|\.hbs$/g, ''))
    .sort();
}

interface PartialUse {
  readonly name: string;
  readonly line?: number;
  readonly column?: number;
}

/**
 * The partials a template calls by a fixed name (`{{> name}}`), and the inline partials it defines
 * (`{{#*inline "name"}}`). A partial block (`{{#> name}}…{{/name}}`) has its own fallback and a
 * dynamic partial (`{{> (expr)}}`) no name to check, so neither is listed.
 */
function partialUses(node: unknown, uses: PartialUse[], inline: Set<string>): void {
  if (Array.isArray(node)) {
    for (const child of node) partialUses(child, uses, inline);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const n = node as { type?: unknown; name?: { type?: unknown; original?: unknown; value?: unknown }; path?: { original?: unknown }; params?: { type?: unknown; value?: unknown }[]; loc?: { start?: { line?: number; column?: number } } };
  if (n.type === 'PartialStatement' && n.name) {
    const name = n.name.type === 'PathExpression' ? n.name.original : n.name.type === 'StringLiteral' || n.name.type === 'NumberLiteral' ? n.name.value : undefined;
    if (name !== undefined && !String(name).startsWith('@')) {
      const start = n.loc?.start;
      uses.push({ name: String(name), ...(start?.line !== undefined ? { line: start.line } : {}), ...(start?.column !== undefined ? { column: start.column + 1 } : {}) });
    }
  }
  if (n.type === 'DecoratorBlock' && n.path?.original === 'inline' && n.params?.[0]?.type === 'StringLiteral') inline.add(String(n.params[0].value));
  for (const [key, value] of Object.entries(n)) if (key !== 'loc') partialUses(value, uses, inline);
}

/** Handlebars' parse error in one line: what it got, and what it expected (its ASCII-art pointer left out). */
function compileError(message: string): string {
  const lines = message.split('\n');
  const expecting = lines.find((l) => l.startsWith('Expecting '));
  return expecting ? `${lines[0]!.replace(/ on line \d+:?$/, '')}: ${expecting.replace(/^Expecting (.*), got '(\w+)'$/, (_all, wanted: string, got: string) => `got ${got === 'EOF' ? 'the end of the template' : `'${got}'`}, expected ${wanted}`)}` : lines[0]!;
}

function compileErrorLine(e: Error & { lineNumber?: number; column?: number }): { line?: number; column?: number } {
  const line = e.lineNumber ?? Number(/on line (\d+)/.exec(e.message)?.[1] ?? NaN);
  if (!Number.isFinite(line)) return {};
  return { line, ...(e.lineNumber !== undefined && e.column !== undefined ? { column: e.column + 1 } : {}) };
}

/**
 * A pack's template: it compiles as generate compiles it, calls only helpers gwgen has, and only
 * partials gwgen registers for its folder, so that none of these fails first at generate time.
 */
async function checkTemplate(file: string, path: string): Promise<Problem[]> {
  const source = await readFile(file, 'utf8');
  const KNOWN_HELPERS = await knownHelpers();
  // Every unknown helper, not only the first: each one found is allowed for the next try.
  const problems: Problem[] = [];
  const allowed: Record<string, boolean> = { ...KNOWN_HELPERS, log: false };
  let parses = true;
  for (let tries = 0; ; tries++) {
    try {
      Handlebars.precompile(source, { strict: true, knownHelpers: allowed, knownHelpersOnly: true });
      break;
    } catch (err) {
      const e = err as Error & { lineNumber?: number; column?: number };
      const unknown = /unknown helper (\S+)/.exec(e.message);
      if (!unknown || tries >= 50) {
        parses = Boolean(unknown);
        if (!unknown) problems.push(problem('usage', `template does not compile: ${compileError(e.message)}`, { location: { file, ...compileErrorLine(e) }, hint: 'fix the Handlebars syntax of the template (an unclosed {{#each}} or {{#if}} block is the usual cause)' }));
        break;
      }
      allowed[unknown[1]!] = true;
      problems.push(
        problem('usage', `${path} calls the helper "${unknown[1]}", which gwgen does not have`, {
          location: { file, ...compileErrorLine(e) },
          hint: `gwgen's helpers are ${Object.keys(KNOWN_HELPERS).sort().join(', ')}, and Handlebars' own ${BUILTIN_HELPERS.join(', ')}`,
        }),
      );
    }
  }
  // A template that does not parse has no partials to check.
  if (!parses) return problems;
  const uses: PartialUse[] = [];
  const inline = new Set<string>();
  partialUses(Handlebars.parse(source), uses, inline);
  const folder = path.split('/')[1]!;
  const known = await partialsFor(folder);
  return [...problems, ...uses
    .filter((use) => !known.includes(use.name) && !inline.has(use.name))
    .map((use) =>
      problem('usage', `${path} uses the partial "${use.name}", which neither the pack nor gwgen provides for templates/${folder}/`, {
        location: { file, ...(use.line !== undefined ? { line: use.line } : {}), ...(use.line !== undefined && use.column !== undefined ? { column: use.column } : {}) },
        hint: known.length > 0
          ? `the partials of templates/${folder}/ are ${known.join(', ')} (the files ${known.map((k) => `_${k}.hbs`).join(', ')}); a pack overrides them by path, it cannot add new ones`
          : `gwgen has no partials for templates/${folder}/, and a pack cannot add new ones; define it inline ({{#*inline "${use.name}"}}…{{/inline}}) or write it out`,
      }),
    )];
}

const LOCK_HINT = "fix it, or delete it and install your packs again with gwgen pack install <source> (gwgen does not overwrite a gwgen.lock it cannot read: that would lose the other packs' pins)";
const LOCK_ENTRY_KEYS = ['integrity', 'source', 'version'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * gwgen.lock, checked: no lock file is no pack installed; a lock that cannot be read, is not JSON
 * or not of gwgen.lock's shape is a problem, never taken as empty (a later install would drop
 * every other pin). A pack name in it must be one pack.toml allows, so that it names a folder
 * in .gwgen/packs/ and nothing outside.
 */
export async function loadLock(projectDir: string): Promise<{ lock?: LockFile; problems: Problem[] }> {
  const file = join(projectDir, LOCK_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { lock: { lockfileVersion: 1, packs: {} }, problems: [] };
    return { problems: [problem('usage', `gwgen.lock cannot be read (${code ?? (err as Error).message})`, { location: { file }, hint: `make it a readable file; ${LOCK_HINT}` })] };
  }
  const problems: Problem[] = [];
  const fail = (what: string, at: { line?: number; column?: number } = {}) => problems.push(problem('usage', `gwgen.lock is invalid: ${what}`, { location: { file, ...at }, hint: LOCK_HINT }));
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    fail(`it is not JSON (${parsed.why})`, { line: parsed.line, column: parsed.column });
    return { problems };
  }
  const data = parsed.value;
  if (!isRecord(data)) {
    fail('it is not a JSON object');
    return { problems };
  }
  if (data.lockfileVersion !== 1) fail(`"lockfileVersion" is ${JSON.stringify(data.lockfileVersion) ?? 'missing'}, and this gwgen reads version 1`);
  for (const key of Object.keys(data)) if (key !== 'lockfileVersion' && key !== 'packs') fail(`it has an unknown key "${key}"`);
  if (!isRecord(data.packs)) {
    fail('"packs" is not an object of pack name to { version, source, integrity }');
    return { problems };
  }
  for (const [name, entry] of Object.entries(data.packs)) {
    if (!isPackName(name)) {
      fail(`${JSON.stringify(name)} is no pack name (a lower-case name: a-z, 0-9, "-"), so it names no folder in ${PACKS_DIR}`);
      continue;
    }
    if (!isRecord(entry)) {
      fail(`pack "${name}" is not an object of version, source and integrity`);
      continue;
    }
    if (typeof entry.version !== 'string' || entry.version === '') fail(`pack "${name}" has no "version"`);
    if (typeof entry.source !== 'string' || !/^(path|git|npm):./.test(entry.source)) fail(`pack "${name}" has no "source" (path:…, git:… or npm:…)`);
    if (typeof entry.integrity !== 'string' || !/^sha256-[0-9a-f]{64}$/.test(entry.integrity)) fail(`pack "${name}" has no "integrity" (sha256-<64 hex digits>)`);
    for (const key of Object.keys(entry)) if (!LOCK_ENTRY_KEYS.includes(key)) fail(`pack "${name}" has an unknown key "${key}"`);
  }
  if (problems.length > 0) return { problems };
  return { lock: { lockfileVersion: 1, packs: data.packs as Record<string, LockEntry> }, problems };
}

/** gwgen.lock; throws a GwgenError when it is invalid (see loadLock). */
export async function readLock(projectDir: string): Promise<LockFile> {
  const { lock, problems } = await loadLock(projectDir);
  if (!lock) throw new GwgenError(problems);
  return lock;
}

/** A JSON value with the keys of every object sorted, so gwgen.lock is the same text however it was built. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, sortedKeys(v)]),
  );
}

export async function writeLock(projectDir: string, lock: LockFile): Promise<void> {
  const tmp = join(projectDir, `${LOCK_FILE}.tmp-${process.pid}`);
  try {
    await writeFile(tmp, `${JSON.stringify(sortedKeys({ lockfileVersion: 1, packs: lock.packs }), null, 2)}\n`);
    await rename(tmp, join(projectDir, LOCK_FILE));
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** An npm source: `local` says whether the spec named a file (a tarball) or nothing on disk. */
type Source = { kind: 'path'; dir: string } | { kind: 'git'; url: string; ref?: string; shown?: string } | { kind: 'npm'; spec: string; local: 'file' | 'none' };

/** `./x`, `../x`, `/x`, `~/x` or `C:\x`: meant as a path, never as an npm package name. */
const PATH_LIKE = /^(\.{1,2}([/\\]|$)|[/\\~]|[a-zA-Z]:[/\\])/;
/** A full or abbreviated commit id, which `git clone --branch` does not take. */
const COMMIT = /^[0-9a-f]{7,40}$/i;

/** A bare git repository (`git clone --bare`, `git init --bare`): HEAD, objects/ and refs/ at its root, no working tree. */
async function isBareRepo(dir: string): Promise<boolean> {
  const is = (path: string, kind: 'file' | 'directory') => stat(join(dir, path)).then((st) => (kind === 'file' ? st.isFile() : st.isDirectory()), () => false);
  return (await is('HEAD', 'file')) && (await is('objects', 'directory')) && (await is('refs', 'directory')) && !(await is('pack.toml', 'file'));
}

/**
 * A local git repository given by its path: a bare one (`../acme.git`), or any repository with a
 * ref after "#" (`../acme#v1.2.0`, `../acme.git#main`). Cloned like a git URL; recorded by the
 * path as given relative to the project, like a pack directory.
 */
async function localGit(source: string, cwd: string, exists: boolean): Promise<Source | undefined> {
  // A folder named with a "#" is that folder; only a path that does not exist as given (`exists`) has a ref.
  const hash = exists ? -1 : source.lastIndexOf('#');
  const [path, ref] = hash > 0 ? [source.slice(0, hash), source.slice(hash + 1)] : [source, undefined];
  const dir = resolve(cwd, path);
  if (!(await stat(dir).then((st) => st.isDirectory(), () => false))) return undefined;
  const repo = (await isBareRepo(dir)) || (ref !== undefined && (await stat(join(dir, '.git')).then(() => true, () => false)));
  if (!repo) return undefined;
  // As a file:// URL: git ignores --depth for a plain local path (and says so).
  return { kind: 'git', url: pathToFileURL(dir).href, ...(ref ? { ref } : {}), shown: relative(cwd, dir).split(sep).join('/') || '.' };
}

async function classify(source: string, cwd: string): Promise<Source | Problem> {
  const found = await stat(resolve(cwd, source)).then((s) => (s.isDirectory() ? 'directory' : 'file'), () => 'none');
  if (found !== 'file') {
    const git = await localGit(source, cwd, found !== 'none');
    if (git?.kind === 'git' && git.ref?.startsWith('-')) return problem('usage', `git ref "${git.ref}" of ${source} starts with "-"`, { hint: 'give a branch, a tag or a commit id after "#"' });
    if (git) return git;
  }
  if (found === 'directory') return { kind: 'path', dir: resolve(cwd, source) };
  if (found === 'none' && PATH_LIKE.test(source)) {
    return problem('file-not-found', `pack not found: ${source}`, { location: { file: source }, hint: 'give the directory of a pack (with its pack.toml), a git URL or an npm package spec' });
  }
  const git = /^git\+/.test(source) || /^git@/.test(source) || /^(https?|ssh|file):\/\/.+\.git(#.*)?$/.test(source);
  if (git) {
    const [url, ref] = source.replace(/^git\+/, '').split('#');
    if (ref?.startsWith('-')) return problem('usage', `git ref "${ref}" of ${source} starts with "-"`, { hint: 'give a branch, a tag or a commit id after "#"' });
    return { kind: 'git', url: url!, ...(ref ? { ref } : {}) };
  }
  if (found === 'file' && !(await isTarball(resolve(cwd, source)))) {
    // Not for npm to fail on with its own words (it says nothing under --silent): a pack.toml, a README given by mistake.
    const folder = basename(source) === 'pack.toml' ? `: ${dirname(source)}` : ', or a git URL';
    return problem('file-not-found', `${source} is a file, not a pack directory, a git repository or an npm tarball`, { location: { file: source }, hint: `give the folder that holds the pack's pack.toml${folder}` });
  }
  return { kind: 'npm', spec: source, local: found === 'file' ? 'file' : 'none' };
}

/** A gzip file (npm pack's .tgz) or a plain tar: what npm takes as a tarball on disk. */
async function isTarball(file: string): Promise<boolean> {
  const head = Buffer.alloc(262);
  const handle = await open(file, 'r');
  try {
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) || (bytesRead >= 262 && head.toString('latin1', 257, 262) === 'ustar');
  } finally {
    await handle.close();
  }
}

/**
 * Clones a git source into dest. A branch or tag is cloned shallow; a commit id, which `git clone
 * --branch` refuses, is checked out of a full clone (a ref that merely looks like one, such as a
 * branch "cafe123", is still tried as a branch first).
 */
async function cloneGit(src: { url: string; ref?: string }, dest: string): Promise<void> {
  const timeout = 120_000;
  if (!src.ref) {
    await run('git', ['clone', '--quiet', '--depth', '1', '--', src.url, dest], { timeout });
    return;
  }
  try {
    await run('git', ['clone', '--quiet', '--depth', '1', '--branch', src.ref, '--', src.url, dest], { timeout });
    return;
  } catch (err) {
    if (!COMMIT.test(src.ref)) throw err;
  }
  await rm(dest, { recursive: true, force: true });
  await run('git', ['clone', '--quiet', '--no-checkout', '--', src.url, dest], { timeout });
  const commit = await run('git', ['-C', dest, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${src.ref}^{commit}`], { timeout }).then(
    ({ stdout }) => stdout.trim(),
    () => undefined,
  );
  if (!commit) throw new Error(`${src.url} has no branch, tag or commit "${src.ref}"`);
  await run('git', ['-C', dest, 'checkout', '--quiet', '--detach', commit], { timeout });
}

/** Brings the source into a temporary directory; returns the pack's directory in it. */
async function fetchSource(src: Source, work: string): Promise<string> {
  if (src.kind === 'path') return src.dir;
  if (src.kind === 'git') {
    const dest = join(work, 'git');
    await cloneGit(src, dest);
    return dest;
  }
  // --loglevel=error, not --silent: npm says why it failed only on stderr. After "--" the spec is one, whatever it starts with.
  const { stdout } = await run('npm', ['pack', '--pack-destination', work, '--loglevel=error', '--ignore-scripts', '--', src.spec], { timeout: 120_000 });
  const tarball = stdout.trim().split('\n').pop()!;
  const unpacked = join(work, 'unpacked');
  await mkdir(unpacked);
  try {
    // GNU tar refuses members with ".." or a path through a link it made; any such refusal fails the
    // install. -x without -z: tar tells a .tgz from a plain tar (npm takes both) by its content.
    await run('tar', ['-xf', join(work, tarball), '-C', unpacked]);
  } catch (err) {
    const lines = ((err as Error & { stderr?: string }).stderr || (err as Error).message).trim().split('\n');
    throw new UnpackError(lines.find((l) => !/Removing leading|Exiting with failure/.test(l)) ?? lines[0] ?? 'tar failed');
  }
  return join(unpacked, 'package');
}

/** npm fetched the package, but its tarball does not unpack cleanly (a path with "..", a file behind a link). */
class UnpackError extends Error {}

function describeSource(src: Source, projectDir: string): string {
  if (src.kind === 'path') return `path:${relative(projectDir, src.dir).split(sep).join('/') || '.'}`;
  if (src.kind === 'git') return `git:${src.shown ?? src.url}${src.ref ? `#${src.ref}` : ''}`;
  return `npm:${src.spec}`;
}

/** How an npm spec was read: a tarball on disk, or (nothing of that name being on disk) a package to fetch. */
function npmReading(src: { spec: string; local: 'file' | 'none' }): string {
  if (src.local === 'file') return `the tarball ${src.spec} was taken as an npm package`;
  // A spec with a scheme (file:, npm:, https:) could never have been a folder.
  return `"${src.spec}" was taken as an npm package spec${src.spec.includes(':') ? '' : `, as there is no local ${localKind(src.spec)} ./${src.spec}`}`;
}

/**
 * Why npm failed, from its "npm error …" lines: the first that says something (not its code,
 * errno, syscall or path lines, nor where its log is), without the word npm starts several of
 * them with ("enoent", "404", "notarget").
 */
function npmWhy(stderr: string): string | undefined {
  const lines = stderr
    .split('\n')
    .map((line) => /^npm (?:error|ERR!) (.*)$/.exec(line.trim())?.[1]?.trim())
    .filter((line): line is string => line !== undefined && line !== '' && !/^(code|errno|syscall|path) |^A complete log/.test(line));
  const first = (line: string) => line.split(/\s+/)[0]!;
  const said = lines.find((line) => line.includes(' '));
  if (said === undefined) return undefined;
  const word = first(said);
  return lines.filter((line) => first(line) === word).length > 1 ? said.slice(word.length).trim() : said;
}

function npmHint(src: { spec: string; local: 'file' | 'none' }): string {
  return src.local === 'none' && !src.spec.includes(':') ? `for a local ${localKind(src.spec)}, give ./${src.spec} (or its full path); ` : '';
}

/** What a spec that is nothing on disk was likely meant as: `gwgen-0.1.0.tgz` is a tarball `npm pack` wrote, not a folder. */
function localKind(spec: string): string {
  return /\.(tgz|tar|tar\.gz)$/i.test(spec) ? 'tarball' : 'folder';
}

/** `name@version` of an unpacked npm package, or its spec when its package.json says nothing. */
async function npmPackageName(dir: string, spec: string): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
    if (typeof pkg.name === 'string') return typeof pkg.version === 'string' ? `${pkg.name}@${pkg.version}` : pkg.name;
  } catch {
    // no or no readable package.json: the spec is the best name there is
  }
  return spec;
}

/** A problem about a fetched copy, with the temporary directory replaced by where it came from. */
function fromSource(p: Problem, dir: string, label: string): Problem {
  const shown = (text: string) => text.split(dir).join(label);
  return { ...p, message: shown(p.message), ...(p.location?.file ? { location: { ...p.location, file: shown(p.location.file) } } : {}) };
}

/** The project's lock (.gwgen/lock, as for an output directory), waited for up to a minute while another install holds it. */
async function lockProject(projectDir: string, interrupted: () => boolean): Promise<() => Promise<void>> {
  for (const deadline = Date.now() + 60_000; ; ) {
    try {
      return await lockOutput(projectDir);
    } catch (err) {
      if (!(err instanceof GwgenError) || !err.problems.some((p) => p.code === 'locked') || Date.now() > deadline) throw err;
      if (interrupted()) throw new GwgenError(interruptedProblem());
      await new Promise((done) => setTimeout(done, 50 + Math.floor(Math.random() * 100)));
    }
  }
}

/**
 * Runs `body` holding the project lock (lockProject), released however `body` ends; when the lock
 * cannot be taken (another run holds it past the wait, or the run was interrupted) `refused` turns
 * its problems into the caller's result instead.
 */
export async function withProjectLock<T>(projectDir: string, interrupted: () => boolean, body: () => Promise<T>, refused: (problems: readonly Problem[]) => T): Promise<T> {
  let release: () => Promise<void>;
  try {
    release = await lockProject(projectDir, interrupted);
  } catch (err) {
    if (err instanceof GwgenError) return refused(err.problems);
    throw err;
  }
  try {
    return await body();
  } finally {
    await release();
  }
}

export function interruptedProblem(): Problem {
  return problem('usage', 'pack install interrupted: nothing was installed, and gwgen.lock is unchanged', { hint: 'run gwgen pack install again' });
}

/** A Ctrl-C (or SIGTERM, SIGHUP) while a pack is copied: the copy stops, and is removed. */
class Interrupted extends Error {}

/** What an install killed midway leaves in .gwgen/packs/: its copy in progress, or the pack it was replacing. */
const LEFTOVER = /^\..+\.(installing|replaced)-\d+$/;

/** Removes what installs killed midway left in .gwgen/packs/ (see LEFTOVER); run under the project lock. */
async function removeLeftovers(projectDir: string): Promise<void> {
  const packs = join(projectDir, PACKS_DIR);
  for (const entry of await readdir(packs).catch(() => [])) if (LEFTOVER.test(entry)) await rm(join(packs, entry), { recursive: true, force: true });
}

/**
 * Copies a validated pack into .gwgen/packs/<name>/ and pins it (`pin` writes gwgen.lock). The copy
 * goes to a staging folder first (a signal stops it there, and it is removed); then the old pack
 * is moved aside, the copy moved in and the lock written, and the old pack put back if any of that
 * fails, so a pack is never half there or out of step with gwgen.lock. Runs under the project
 * lock: a staging folder already there is a leftover of an install that was killed, and goes.
 */
export async function putInPlace(dir: string, projectDir: string, name: string, pin: (integrity: string) => Promise<LockEntry>, interrupted: () => boolean): Promise<LockEntry | Problem> {
  const packs = join(projectDir, PACKS_DIR);
  const target = join(packs, name);
  const staging = join(packs, `.${name}.installing-${process.pid}`);
  const aside = join(packs, `.${name}.replaced-${process.pid}`);
  const failed = (err: unknown) =>
    problem('write', `cannot install pack ${name} into ${join(PACKS_DIR, name)}: ${readFailure(err)}`, {
      location: { file: join(projectDir, PACKS_DIR) },
      hint: `make ${PACKS_DIR} a folder you can write to (with free space) and install again; nothing was installed and gwgen.lock is unchanged`,
    });
  let made: string | undefined;
  let integrity: string;
  try {
    await removeLeftovers(projectDir);
    made = await makeDirs(staging);
    for (const file of await files(dir)) {
      if (interrupted()) throw new Interrupted();
      const dest = join(staging, relative(dir, file));
      await makeDirs(join(dest, '..'));
      await cp(file, dest);
    }
    integrity = await packIntegrity(staging);
  } catch (err) {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    // .gwgen/packs made for this install goes again (.gwgen itself is the project lock's to remove).
    if (made !== undefined && made !== staging) await rmdir(packs).catch(() => undefined);
    return err instanceof Interrupted ? interruptedProblem() : failed(err);
  }
  // Signals wait from here on (see installPack): the old pack goes aside, the new one in, the pin is written.
  const had = await lstat(target).then(() => true, () => false);
  let movedIn = false;
  try {
    if (had) await rename(target, aside);
    await rename(staging, target);
    movedIn = true;
    const entry = await pin(integrity);
    await rm(aside, { recursive: true, force: true }).catch(() => undefined);
    return entry;
  } catch (err) {
    if (movedIn) await rm(target, { recursive: true, force: true }).catch(() => undefined);
    if (had) await rename(aside, target).catch(() => undefined);
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    return failed(err);
  }
}

/**
 * Installs a pack from a directory, a git URL or an npm spec into .gwgen/packs/<name>/ and pins
 * it in gwgen.lock by content hash. An invalid pack is not installed, and nothing is installed
 * while gwgen.lock is invalid.
 */
export function installPack(source: string, projectDir = process.cwd()): Promise<InstallResult> {
  // SIGINT, SIGTERM and SIGHUP wait until the install has cleaned up after itself (its staging
  // copy, the project lock, the fetched source), and end the process then.
  return holdingSignals((interrupted) => install(source, projectDir, interrupted));
}

interface InstallResult {
  readonly manifest?: PackManifest;
  readonly entry?: LockEntry;
  readonly replaced?: LockEntry;
  /** The pack it replaced no longer matched its pin (its files were changed, or it was gone). */
  readonly restored?: boolean;
  readonly problems: Problem[];
}

/** A pack fetched into a temporary folder and validated: its folder there, its manifest and how gwgen.lock records its source. */
export interface FetchedPack {
  readonly dir: string;
  readonly manifest: PackManifest;
  readonly source: string;
}

/**
 * Brings a pack from a directory, a git URL or an npm spec into `work` (a path is used where it
 * is) and validates it. Problems name where it came from, never the temporary folder.
 */
export async function fetchPack(source: string, projectDir: string, work: string): Promise<FetchedPack | { problems: Problem[] }> {
  const src = await classify(source, projectDir);
  if ('code' in src) return { problems: [src] };
  let dir: string;
  try {
    dir = await fetchSource(src, work);
  } catch (err) {
    const e = err as Error & { stderr?: string };
    // The line that says why (git's "fatal: …"), not a warning before it.
    const lines = (e.stderr || e.message).trim().split('\n');
    const why = lines.find((l) => /^(fatal|error)\b/i.test(l)) ?? lines.find((l) => !/^warning\b/i.test(l)) ?? lines[0];
    if (err instanceof UnpackError) {
      return { problems: [problem('usage', `cannot install pack ${source}: its tarball does not unpack safely: ${err.message}`, { hint: "a pack's tarball holds only files and folders under package/, with no \"..\" in a path and no file behind a link; ask the pack's author for a clean one (gwgen installs nothing from this one)" })] };
    }
    if (src.kind === 'npm') {
      return { problems: [problem('usage', `cannot fetch pack ${source}: ${npmReading(src)}, and npm could not fetch it: ${npmWhy(e.stderr ?? '') ?? why}`, { hint: `${npmHint(src)}a pack is a directory, a git URL (git+https://…, …/repo.git) or an npm package spec` })] };
    }
    return { problems: [problem('usage', `cannot fetch pack ${source}: ${why}`, { hint: 'give a pack directory, a git URL (git+https://…, …/repo.git[#branch, tag or commit]) or an npm package spec' })] };
  }
  const recorded = describeSource(src, projectDir);
  let label = dir;
  if (src.kind === 'npm') {
    const name = await npmPackageName(dir, src.spec);
    label = `npm:${name}`;
    if (!(await stat(join(dir, 'pack.toml')).then((st) => st.isFile(), () => false))) {
      return {
        problems: [
          problem('usage', `${npmReading(src)}: npm fetched the package ${name}, which is not a template pack: it has no pack.toml`, {
            hint: `${npmHint(src)}a pack has pack.toml with [pack] name, version and description`,
          }),
        ],
      };
    }
  } else if (src.kind === 'git') {
    label = recorded;
  }
  const validated = await validatePack(dir);
  if (!validated.manifest) return { problems: src.kind === 'path' ? validated.problems : validated.problems.map((p) => fromSource(p, dir, label)) };
  return { dir, manifest: validated.manifest, source: recorded };
}

async function install(source: string, projectDir: string, interrupted: () => boolean): Promise<InstallResult> {
  if (source.trim() === '') return { problems: [emptySource('source')] };
  // Before anything is fetched: a gwgen.lock that cannot be read is never overwritten.
  const before = await loadLock(projectDir);
  if (!before.lock) return { problems: before.problems };
  const work = await mkdtemp(join(tmpdir(), 'gwgen-pack-'));
  try {
    const fetched = await fetchPack(source, projectDir, work);
    if (!('manifest' in fetched)) return { problems: fetched.problems };
    const { dir, manifest } = fetched;
    // One install at a time puts its pack into place and rewrites gwgen.lock: two at once would
    // each write the lock as they read it, and one pin would be lost.
    if (interrupted()) return { problems: [interruptedProblem()] };
    return await withProjectLock(
      projectDir,
      interrupted,
      async (): Promise<InstallResult> => {
        const { lock, problems } = await loadLock(projectDir);
        if (!lock) return { problems };
        // Whether the copy in .gwgen/packs/ still matched its pin: reinstalling a pack that was
        // edited there (what `pack list` and `generate --pack` ask for) restores it, it is no no-op.
        const pinned = lock.packs[manifest.name];
        const wasIntact = pinned === undefined || (await packIntact(join(projectDir, PACKS_DIR, manifest.name), pinned.integrity));
        // The same pack from the same source, in place as pinned: nothing to change, and nothing is
        // touched (neither the folder a running generate --pack reads its templates from, nor gwgen.lock).
        if (pinned && wasIntact && pinned.source === fetched.source && pinned.version === manifest.version && pinned.integrity === (await packIntegrity(dir))) {
          await removeLeftovers(projectDir).catch(() => undefined);
          return { manifest, entry: pinned, replaced: pinned, restored: false, problems: [] };
        }
        const placed = await putInPlace(dir, projectDir, manifest.name, (integrity) => {
          const entry: LockEntry = { version: manifest.version, source: fetched.source, integrity };
          return writeLock(projectDir, { lockfileVersion: 1, packs: { ...lock.packs, [manifest.name]: entry } }).then(() => entry);
        }, interrupted);
        if ('code' in placed) return { problems: [placed] };
        return { manifest, entry: placed, ...(pinned ? { replaced: pinned, restored: !wasIntact } : {}), problems: [] };
      },
      (problems) => ({ problems: [...problems] }),
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The command that installs a pinned pack again from its source. A git URL is recorded without
 * "git+", and one that does not end in .git (`git+https://host/acme`) would be taken as an npm spec
 * without it; a path with a space or a quote is quoted for the shell.
 */
export function reinstallCommand(source: string): string {
  const given = sourceArgument(source);
  return `gwgen pack install ${/^[\w@%+=:,./#-]+$/.test(given) ? given : `'${given.replace(/'/g, `'\\''`)}'`}`;
}

/** A git URL (`https://…`, `ssh://…`, scp-like `git@host:repo`) rather than a local repository's path. */
const REMOTE_GIT = /^[a-z][a-z0-9+.-]*:\/\/|^[^/\\]+@[^/\\]+:/i;

/**
 * The source of a pin (`path:…`, `git:…`, `npm:…`) as `pack install` takes it. A path inside the
 * project (`path:packs/acme`, or a local repository `git:packs/acme#v1`) is given as `./packs/acme`:
 * written bare, a missing folder would be taken as an npm spec, which npm reads as the GitHub
 * repository packs/acme, and fetches.
 */
export function sourceArgument(source: string): string {
  const [, kind, rest] = /^([a-z]+):(.*)$/s.exec(source) ?? [source, '', source];
  if (kind === 'git' && /^[a-z][a-z0-9+.-]*:\/\//i.test(rest!) && !/^git\+/.test(rest!)) return `git+${rest}`;
  if (kind === 'path' || (kind === 'git' && !REMOTE_GIT.test(rest!))) return PATH_LIKE.test(rest!) ? rest! : `./${rest}`;
  return rest!;
}

/** Whether an installed pack's folder is there, holds no link, and hashes to its pin. */
export async function packIntact(dir: string, integrity: string): Promise<boolean> {
  const info = await lstat(dir).catch(() => undefined);
  if (!info?.isDirectory()) return false;
  const tree = await packTree(dir);
  return tree.links.length === 0 && tree.special.length === 0 && (await packIntegrity(dir)) === integrity;
}

export interface InstalledPack extends LockEntry {
  readonly name: string;
  /**
   * ok: matches gwgen.lock; modified: its files changed since install; missing: not on disk;
   * invalid: it holds what no pack may (a symbolic link), see its problems.
   */
  readonly status: 'ok' | 'modified' | 'missing' | 'invalid';
  readonly problems: readonly Problem[];
}

/**
 * The packs gwgen.lock pins, each checked against its files in .gwgen/packs/. `problems` are
 * gwgen.lock's own (then there is no list) and those of every pack that is not ok.
 */
export async function listPacks(projectDir = process.cwd()): Promise<{ packs: InstalledPack[]; problems: Problem[] }> {
  const { lock, problems } = await loadLock(projectDir);
  if (!lock) return { packs: [], problems };
  const packs: InstalledPack[] = [];
  for (const [name, entry] of Object.entries(lock.packs).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const dir = join(projectDir, PACKS_DIR, name);
    // In CI (a fresh clone with gwgen.lock, no .gwgen/packs/), the first is what keeps the pin: the second re-pins.
    const reinstall = `reinstall it as gwgen.lock pins it (gwgen pack install, with no source), or take its source as it is now (${reinstallCommand(entry.source)})`;
    const info = await lstat(dir).catch(() => undefined);
    if (!info || !(info.isDirectory() || info.isSymbolicLink())) {
      packs.push({ name, ...entry, status: 'missing', problems: [unpinned(name, 'missing', reinstall)] });
      continue;
    }
    const shown = (file: string) => join(PACKS_DIR, name, relative(dir, file));
    const tree: PackTree = info.isSymbolicLink() ? { files: [], links: [dir], special: [] } : await packTree(dir);
    const found = treeProblems(tree, shown, `remove it, and ${reinstall}`);
    const status = found.length > 0 ? 'invalid' : (await packIntegrity(dir)) === entry.integrity ? 'ok' : 'modified';
    packs.push({ name, ...entry, status, problems: status === 'modified' ? [unpinned(name, status, reinstall)] : found });
  }
  return { packs, problems: packs.flatMap((p) => p.problems) };
}

/**
 * A pack whose files no longer hash to its pin: `pack list` says so with the command that puts it
 * back (its exit 1 would otherwise come with a bare status word), and `generate --pack` refuses it.
 */
function unpinned(name: string, status: 'missing' | 'modified', reinstall: string): Problem {
  return problem('usage', `pack "${name}" is ${status === 'missing' ? 'missing from' : 'modified in'} ${join(PACKS_DIR, name)}: it no longer matches gwgen.lock`, { hint: reinstall });
}

/** The templates directory of an installed pack, after checking it against gwgen.lock. */
export async function packTemplatesDir(name: string, projectDir = process.cwd()): Promise<{ dir?: string; problems: Problem[] }> {
  const { packs, problems } = await listPacks(projectDir);
  const pack = packs.find((p) => p.name === name);
  if (!pack) {
    // gwgen.lock itself is invalid: that, not "not installed", is what is wrong.
    if (packs.length === 0 && problems.length > 0) return { problems };
    return { problems: [problem('usage', `pack "${name}" is not installed`, { hint: 'run gwgen pack install <path|git URL|npm spec> first; gwgen pack list shows what is installed' })] };
  }
  if (pack.status !== 'ok') return { problems: [...pack.problems] };
  return { dir: join(projectDir, PACKS_DIR, name, 'templates'), problems: [] };
}

/** What `generate --pack <name>` and `watch --pack <name>` add to a generation: the pack's templates and its pin. */
export async function packGenerateInput(name: string, projectDir = process.cwd()): Promise<{ input?: { templateDirs: string[]; pack: { name: string; version: string; integrity: string }; packReinstall: string }; problems: Problem[] }> {
  const { dir, problems } = await packTemplatesDir(name, projectDir);
  if (!dir) return { problems };
  const entry = (await readLock(projectDir)).packs[name]!;
  return { input: { templateDirs: [dir], pack: { name, version: entry.version, integrity: entry.integrity }, packReinstall: reinstallCommand(entry.source) }, problems: [] };
}
