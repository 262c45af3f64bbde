import { extname } from 'node:path';
import { GwgenError, problem } from '../errors.js';
import type { RenderedFile } from './render.js';

/**
 * Prettier formats code. YAML and Markdown are written by their templates in their final form
 * instead: prettier needs ~14 s for the kong.yml of 1,000 routes (and the yaml library 1.4 s
 * just to parse it back). The test suite parses every generated YAML file and checks that
 * prettier would not change a byte of it; model values reach YAML only through the escaping
 * helpers, whose round trip is tested with hostile strings.
 */
const PARSERS: Readonly<Record<string, string>> = {
  '.json': 'json',
  '.ts': 'typescript',
  '.js': 'babel',
  '.mjs': 'babel',
};

/** Fixed options, so output does not depend on a .prettierrc where gwgen happens to run. */
export const PRETTIER_OPTIONS = { printWidth: 120, singleQuote: true, trailingComma: 'all', proseWrap: 'preserve' } as const;

/** Formats what prettier supports (code); other files are already final. */
export async function formatFile(file: RenderedFile): Promise<RenderedFile> {
  const parser = PARSERS[extname(file.path)];
  if (!parser) return file;
  try {
    // Loaded on first use: prettier costs ~50 ms to import and only code files need it.
    const { format } = await import('prettier');
    return { ...file, content: await format(file.content, { ...PRETTIER_OPTIONS, parser }) };
  } catch (err) {
    throw new GwgenError(
      problem('render', `${file.path} (from template ${file.template}) is not valid ${parser}: ${(err as Error).message.split('\n')[0]}`, {
        location: { file: `templates/${file.template}` },
        hint: 'this is a fault in the template, not in your model; please report it',
      }),
    );
  }
}
