import { readdir, readFile } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import Handlebars from 'handlebars';
import { GwgenError, problem } from '../errors.js';
import { TEMPLATES_DIR } from '../paths.js';
import type { FileFormat, PlannedFile } from '../targets/types.js';
import { HELPERS } from './helpers.js';
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
  readonly pack?: { readonly dir: string; readonly template: boolean };
}

/**
 * An isolated Handlebars instance per run: helpers and partials registered here never leak
 * into other runs or into a user's own Handlebars. Templates are compiled in strict mode, so a
 * misspelt field is an error instead of an empty string.
 */
export function createRenderer(overrideDirs: readonly string[] = []) {
  const hb = Handlebars.create();
  hb.registerHelper(HELPERS);
  const cache = new Map<string, { fn: HandlebarsTemplateDelegate; builtin: boolean; dir: string }>();
  // Whether a pack overrides a partial: then no output is exactly what gwgen's templates give.
  let packPartials: string | undefined;
  // A template pack's templates/ come first; a file it does not have comes from gwgen's own.
  const dirs = [...overrideDirs, TEMPLATES_DIR];
  const read = async (path: string): Promise<{ source: string; builtin: boolean; dir: string }> => {
    for (const dir of dirs) {
      try {
        return { source: await readFile(join(dir, path), 'utf8'), builtin: dir === TEMPLATES_DIR, dir };
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
        hb.registerPartial(name.replace(/^_|\.hbs$/g, ''), await compileTemplate(hb, path.split(sep).join('/'), source, builtin));
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
    async render(target: string, file: PlannedFile): Promise<RenderedFile> {
      const { template, path } = file;
      try {
        const { fn, builtin, dir } = await compile(template);
        const pack = builtin ? (packPartials === undefined ? undefined : { dir: packPartials, template: false }) : { dir, template: true };
        return { path, content: fn(file.context), target, template, format: file.format ?? 'prettier', builtin: pack === undefined, ...(pack ? { pack } : {}) };
      } catch (err) {
        // A template pack's template: name its file, which names the pack (.gwgen/packs/<name>/).
        const packDir = cache.get(template)?.builtin === false ? cache.get(template)!.dir : undefined;
        throw new GwgenError(
          problem('render', `template ${template} failed: ${(err as Error).message}`, {
            location: { file: packDir ? join(packDir, template) : join('templates', template) },
            hint: packDir
              ? `this template comes from the template pack in ${join(packDir, '..')}: fix it there (a field the model does not have is the usual cause), or generate without --pack`
              : 'this is a fault in the template or the target, not in your model; please report it',
          }),
        );
      }
    },
  };
}

export type Renderer = ReturnType<typeof createRenderer>;

const COMPILE_OPTIONS = { strict: true, noEscape: true, preventIndent: false } as const;

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
