import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { GwgenError, problem } from '../errors.js';
import { TEMPLATES_DIR } from '../paths.js';
import { HELPERS } from './helpers.js';

/** A rendered output file, relative to the output directory, before formatting. */
export interface RenderedFile {
  readonly path: string;
  readonly content: string;
  readonly target: string;
  readonly template: string;
}

/**
 * An isolated Handlebars instance per run: helpers and partials registered here never leak
 * into other runs or into a user's own Handlebars. Templates are compiled in strict mode, so a
 * misspelt field is an error instead of an empty string.
 */
export function createRenderer(overrideDirs: readonly string[] = []) {
  const hb = Handlebars.create();
  hb.registerHelper(HELPERS);
  const cache = new Map<string, HandlebarsTemplateDelegate>();
  // A template pack's templates/ come first; a file it does not have comes from gwgen's own.
  const dirs = [...overrideDirs, TEMPLATES_DIR];
  const read = async (path: string): Promise<string> => {
    for (const dir of dirs) {
      try {
        return await readFile(join(dir, path), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    throw new Error(`template ${path} not found in ${dirs.join(', ')}`);
  };

  async function compile(template: string): Promise<HandlebarsTemplateDelegate> {
    let fn = cache.get(template);
    if (!fn) {
      const source = await read(template);
      fn = hb.compile(source, { strict: true, noEscape: true, preventIndent: false });
      cache.set(template, fn);
    }
    return fn;
  }

  return {
    /** Registers every `_*.hbs` file of a folder as a partial named after it (`_plugin.hbs` → `plugin`). */
    async registerPartials(dir: string, names: readonly string[]): Promise<void> {
      for (const name of names) hb.registerPartial(name.replace(/^_|\.hbs$/g, ''), await read(join(dir, name)));
    },
    async render(target: string, template: string, path: string, context: unknown): Promise<RenderedFile> {
      try {
        const fn = await compile(template);
        return { path, content: fn(context), target, template };
      } catch (err) {
        throw new GwgenError(
          problem('render', `template ${template} failed: ${(err as Error).message}`, {
            location: { file: join('templates', template) },
            hint: 'this is a fault in the template or the target, not in your model; please report it',
          }),
        );
      }
    },
  };
}

export type Renderer = ReturnType<typeof createRenderer>;
