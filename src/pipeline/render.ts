import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import Handlebars, { type HelperDelegate } from 'handlebars';
import { GwgenError, problem } from '../errors.js';
import { packFix } from '../pack/fix-hint.js';
import { SKIP } from '../pack/skip.js';
import { TEMPLATES_DIR } from '../paths.js';
import type { FileFormat, PlannedFile } from '../targets/types.js';
import { caseHelpers, HELPERS } from './helpers.js';
import { sha256 } from './write.js';

/** A rendered output file, relative to the output directory, before formatting. */
export interface RenderedFile {
  readonly path: string;
  readonly content: string;
  readonly target: string;
  readonly template: string;
  readonly format: FileFormat;
  /** Rendered from gwgen's own template, not from a template pack's override. */
  readonly builtin: boolean;
  /**
   * Set when the template (`template: true`), or a partial the run uses, is a template pack's:
   * `dir` is the pack's templates/ folder. A fault found in the output later (it does not
   * format) is then the pack's to fix.
   */
  readonly pack?: { readonly dir: string; readonly template: boolean; readonly reinstall?: string };
}

/**
 * An isolated Handlebars instance per run: helpers and partials registered here never leak
 * into other runs or into a user's own Handlebars. Templates are compiled in strict mode, so a
 * misspelt field is an error instead of an empty string.
 */
export function createRenderer(overrideDirs: readonly string[] = [], packReinstall?: string) {
  const hb = Handlebars.create();
  hb.registerHelper(strictWriters(hb));
  const cache = new Map<string, { fn: HandlebarsTemplateDelegate; builtin: boolean; dir: string }>();
  // Whether a pack overrides a partial: then no output is exactly what gwgen's templates give.
  let packPartials: string | undefined;
  const failedIn = new WeakMap<object, PartialOrigin>();
  // A template pack's templates/ come first; a file it does not have comes from gwgen's own.
  const dirs = [...overrideDirs, TEMPLATES_DIR];
  const read = async (path: string): Promise<{ source: string; builtin: boolean; dir: string }> => {
    for (const dir of dirs) {
      try {
        return { source: templateText(await readFile(join(dir, path), 'utf8')), builtin: dir === TEMPLATES_DIR, dir };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    throw new Error(`template ${path} not found in ${dirs.join(', ')}`);
  };

  async function compile(template: string): Promise<{ fn: HandlebarsTemplateDelegate; builtin: boolean; dir: string }> {
    let compiled = cache.get(template);
    if (!compiled) {
      const { source, builtin, dir } = await read(template);
      compiled = { fn: await compileTemplate(hb, template, source, builtin), builtin, dir };
      cache.set(template, compiled);
    }
    return compiled;
  }

  return {
    /** Registers every `_*.hbs` file of a folder as a partial named after it (`_plugin.hbs` → `plugin`). */
    async registerPartials(dir: string, names: readonly string[]): Promise<void> {
      for (const name of names) {
        const path = join(dir, name);
        const { source, builtin, dir: from } = await read(path);
        const fn = await compileTemplate(hb, path.split(sep).join('/'), source, builtin);
        const origin: PartialOrigin = { path: path.split(sep).join('/'), builtin, dir: from };
        // Handlebars' error names a line, but not the partial it is in: the innermost partial tags it.
        const tagged: HandlebarsTemplateDelegate = (context, options) => {
          try {
            return fn(context, options);
          } catch (err) {
            if (err !== null && typeof err === 'object' && !failedIn.has(err)) failedIn.set(err, origin);
            throw err;
          }
        };
        hb.registerPartial(name.replace(/^_|\.hbs$/g, ''), tagged);
        if (!builtin) packPartials ??= from;
      }
    },
    /**
     * Compiles every template of a target ahead of its render (~0.15 s for all of gwgen's):
     * generate() calls it while it waits for the query worker.
     */
    async warm(target: string): Promise<void> {
      let names: string[];
      try {
        names = (await readdir(join(TEMPLATES_DIR, target), { recursive: true })).filter((n) => n.endsWith('.hbs') && !basename(n).startsWith('_'));
      } catch {
        return;
      }
      for (const name of names.sort()) await compile(join(target, name).split(sep).join('/'));
    },
    /**
     * The templates a pack adds to a target folder (not partials, none gwgen has): their paths
     * under templates/, sorted, and the pack's templates/ each is in.
     */
    async addedTemplates(target: string): Promise<{ template: string; dir: string }[]> {
      const added = new Map<string, string>();
      for (const dir of overrideDirs) {
        let names: string[];
        try {
          names = await readdir(join(dir, target), { recursive: true });
        } catch {
          continue;
        }
        for (const name of names) {
          const template = join(target, name).split(sep).join('/');
          // Not a file the pack's hash leaves out (node_modules/, .git/): it could be added unseen.
          if (!name.endsWith('.hbs') || basename(name).startsWith('_') || name.split(sep).some((part) => SKIP.has(part))) continue;
          if (!added.has(template) && !(await isBuiltinTemplate(template))) added.set(template, dir);
        }
      }
      return [...added.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([template, dir]) => ({ template, dir }));
    },
    async render(target: string, file: PlannedFile): Promise<RenderedFile> {
      const { template, path } = file;
      try {
        const { fn, builtin, dir } = await compile(template);
        const reinstall = packReinstall === undefined ? {} : { reinstall: packReinstall };
        const pack = builtin ? (packPartials === undefined ? undefined : { dir: packPartials, template: false, ...reinstall }) : { dir, template: true, ...reinstall };
        return { path, content: fn(file.context), target, template, format: file.format ?? 'prettier', builtin: pack === undefined, ...(pack ? { pack } : {}) };
      } catch (err) {
        throw renderFailure(err, template, cache.get(template), failedIn.get(err as object), packPartials, packReinstall);
      }
    },
  };
}

export type Renderer = ReturnType<typeof createRenderer>;

/** Whether gwgen has a template of this path under templates/ (a pack's of the same path overrides it). */
export async function isBuiltinTemplate(template: string): Promise<boolean> {
  return stat(join(TEMPLATES_DIR, template)).then(
    (st) => st.isFile(),
    () => false,
  );
}

/** The helpers that write one value into the output (`{{yaml name}}`, `{{md title}}`, `{{kebabCase name}}`). */
const WRITERS = ['yaml', 'yamlBlock', 'yamlEntries', 'deckEnv', 'json', 'jsonPretty', 'ts', 'md', ...Object.keys(caseHelpers)];

/**
 * gwgen's helpers, the writers and `each` among them strict: Handlebars' strict mode fails on a
 * missing field in `{{name}}` but passes one given to a helper as undefined, so a misspelt
 * `{{yaml nmae}}` would write `null` (and `{{md nmae}}` "undefined") into a file with exit 0.
 * `defined`, `if` and the others that test a value still take a missing one.
 */
function strictWriters(hb: typeof Handlebars): Record<string, HelperDelegate> {
  const strict = (name: string, helper: HelperDelegate): HelperDelegate =>
    function (this: unknown, ...list: unknown[]) {
      const options = list[list.length - 1] as { loc?: unknown } | undefined;
      if (list.length < 2 || list[0] === undefined) {
        throw new hb.Exception(`"${name}" was given a field that is not defined (a misspelt name, or one the model does not have)`, { loc: options?.loc } as unknown as hbs.AST.Node);
      }
      return (helper as (...args: unknown[]) => unknown).apply(this, list);
    };
  const helpers: Record<string, HelperDelegate> = { ...HELPERS };
  for (const name of WRITERS) helpers[name] = strict(name, HELPERS[name]!);
  // Strict mode does not look at a block helper's argument either: `{{#each routs}}` would loop
  // over nothing and drop every route with exit 0. A list that is there and empty still renders
  // the {{else}}; `with`, like `if`, tests whether a value is there, so it takes a missing one.
  helpers.each = strict('each', hb.helpers.each as HelperDelegate);
  // Handlebars' log prints with console.log: a template's message would land in gwgen's stdout.
  helpers.log = (...list: unknown[]) => {
    throw new hb.Exception('the "log" helper is not available: it would print into gwgen\'s own output', { loc: (list[list.length - 1] as { loc?: unknown } | undefined)?.loc } as unknown as hbs.AST.Node);
  };
  return helpers;
}

/** Where a partial comes from: `dir` is gwgen's templates/ or a pack's. */
interface PartialOrigin {
  readonly path: string;
  readonly builtin: boolean;
  readonly dir: string;
}

/**
 * A template that threw while rendering, located in the file it failed in: the innermost
 * partial if the failure was in one, else the template. A pack's file is the pack's to fix; so
 * is a pack's template that fails inside a partial of gwgen's (located at the template: the line
 * is the partial's), and gwgen's own template when it ran with a pack's partials.
 */
function renderFailure(err: unknown, template: string, compiled: { builtin: boolean; dir: string } | undefined, partial: PartialOrigin | undefined, packPartials: string | undefined, reinstall: string | undefined): GwgenError {
  const e = err as Error & { lineNumber?: unknown; column?: unknown };
  // Handlebars' runtime errors end in " - line:column" (column from 0) and name the object as "[object Object]".
  const message = e.message.replace(/ - \d+:\d+$/, '').replace(/ in \[object Object\]$/, '');
  const at = typeof e.lineNumber === 'number' ? { line: e.lineNumber, ...(typeof e.column === 'number' ? { column: e.column + 1 } : {}) } : {};
  const packTemplate = compiled !== undefined && !compiled.builtin;
  const fix = (what?: string) => `${packFix(reinstall, what)}, or generate without --pack (a field the model does not have is the usual cause)`;
  const fail = (file: string, where: object, hint: string, inPartial = partial ? ` (in the partial ${partial.path})` : '') =>
    new GwgenError(problem('render', `template ${template} failed${inPartial}: ${message}`, { location: { file, ...where }, hint }));
  if (partial && !partial.builtin) return fail(join(partial.dir, partial.path), at, `this partial comes from the template pack in ${join(partial.dir, '..')}: ${fix()}`);
  if (packTemplate && partial) {
    return fail(join(compiled.dir, template), {}, `this template comes from the template pack in ${join(compiled.dir, '..')}: it calls gwgen's partial ${partial.path}, which failed at its line ${String(e.lineNumber ?? '?')}; ${fix('fix the call')}`, ` (in gwgen's partial ${partial.path})`);
  }
  if (packTemplate) return fail(join(compiled.dir, template), at, `this template comes from the template pack in ${join(compiled.dir, '..')}: ${fix()}`);
  const file = join('templates', partial?.path ?? template);
  if (packPartials !== undefined) return fail(file, at, `this template of gwgen's ran with the partials of the template pack in ${join(packPartials, '..')}: ${packFix(reinstall, 'fix them')}, or generate without --pack`);
  return fail(file, at, 'this is a fault in the template or the target, not in your model; please report it');
}

const COMPILE_OPTIONS = { strict: true, noEscape: true, preventIndent: false } as const;

/**
 * A template's text as it is rendered: LF line ends and no byte order mark. A template saved on
 * Windows (or checked out with git's core.autocrlf) would otherwise put CRLF and a BOM into its
 * YAML and Markdown (prettier only normalizes code), so the output would depend on the checkout,
 * and the next run, which compares files with LF line ends, took gwgen's own file for a hand edit.
 */
export function templateText(source: string): string {
  const bare = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  return bare.includes('\r\n') ? bare.replace(/\r\n/g, '\n') : bare;
}

/** Handlebars' precompiled form of a template: the source of a JavaScript object. */
export function precompileTemplate(source: string): string {
  return Handlebars.precompile(source, COMPILE_OPTIONS) as string;
}

type Precompiled = Readonly<Record<string, { readonly hash: string; readonly spec: TemplateSpecification }>>;

let builtinSpecs: Promise<Precompiled> | undefined;

/** gwgen's own templates as the build precompiled them (src/build/precompile.ts). */
function precompiled(): Promise<Precompiled> {
  builtinSpecs ??= import(new URL('../vendor/templates.js', import.meta.url).href).then(
    (m: { TEMPLATES: Precompiled }) => m.TEMPLATES,
    () => ({}),
  );
  return builtinSpecs;
}

/**
 * A template ready to run. gwgen's own come precompiled from the build unless the file changed
 * since; a pack's are compiled here. Handlebars' compile() would only compile on the first call;
 * precompile() and template(), its documented pair for precompiled templates, compile at once,
 * so that warm() can do it ahead of time. Same options, same output.
 */
async function compileTemplate(hb: typeof Handlebars, name: string, source: string, builtin: boolean): Promise<HandlebarsTemplateDelegate> {
  const built = builtin ? (await precompiled())[name] : undefined;
  if (built && built.hash === sha256(source)) return hb.template(built.spec);
  return hb.template(new Function(`return ${precompileTemplate(source)}`)() as TemplateSpecification);
}
