import { basename, dirname, extname, join } from 'node:path';
import { GwgenError, problem } from '../errors.js';
import { parseJsonText } from '../json-text.js';
import { packFix } from '../pack/fix-hint.js';
import type { RenderedFile } from './render.js';

/**
 * Prettier formats code. YAML and Markdown are written by their templates in their final form
 * instead: prettier needs ~14 s for the kong.yml of 1,000 routes (and the yaml library 1.4 s
 * just to parse it back). The test suite parses every generated YAML file and checks that
 * prettier would not change a byte of it; model values reach YAML only through the escaping
 * helpers, whose round trip is tested with hostile strings.
 *
 * The gateway's runtime modules are the same for every model, and their templates are kept in
 * prettier's form (test/format.test.ts), so formatting them again each run (~0.8 s) is skipped;
 * a template pack's override of them is formatted like any other code. The gateway's config
 * is data, written as JSON.stringify with two spaces: prettier would need ~1.7 s for it at
 * 1,000 routes only to put short arrays on one line.
 */
const PARSERS: Readonly<Record<string, string>> = {
  '.json': 'json',
  '.ts': 'typescript',
  '.js': 'babel',
  '.mjs': 'babel',
};

/** Fixed options, so output does not depend on a .prettierrc where gwgen happens to run. */
export const PRETTIER_OPTIONS = { printWidth: 120, singleQuote: true, trailingComma: 'all', proseWrap: 'preserve' } as const;

/** The prettier parser for a file, if prettier formats files of its kind. */
export function prettierParser(path: string): string | undefined {
  return PARSERS[extname(path)];
}

/** Whether prettier must run on a rendered file (see the comment above). */
export function needsPrettier(file: RenderedFile): boolean {
  if (file.format === 'verbatim' || (file.format === 'template' && file.builtin)) return false;
  return prettierParser(file.path) !== undefined;
}

/** Formats what prettier supports (code) and needs it; other files are already final. */
export async function formatFile(file: RenderedFile): Promise<RenderedFile> {
  // gwgen's own YAML and JSON are parsed back by its tests; a pack's are not, so they are here,
  // before prettier: its json parser takes what no JSON reader does ([1, , 2], NaN, comments).
  if (file.pack !== undefined) await checkPackData(file);
  if (!needsPrettier(file)) return file;
  const parser = prettierParser(file.path)!;
  try {
    // Loaded on first use: prettier costs ~50 ms to import and only code files need it.
    const { format } = await import('prettier');
    return { ...file, content: await format(file.content, { ...PRETTIER_OPTIONS, parser }) };
  } catch (err) {
    throw notValid(file, parser, (err as Error).message.split('\n')[0]!);
  }
}

/** A rendered file that does not parse: a template pack's (or gwgen's with the pack's partials) is the pack's to fix, not gwgen's. */
function notValid(file: RenderedFile, language: string, why: string): GwgenError {
  const { pack } = file;
  return new GwgenError(
    problem('render', `${file.path} (from template ${file.template}) is not valid ${language}: ${why}`, {
      location: { file: pack?.template ? join(pack.dir, file.template) : `templates/${file.template}` },
      hint:
        pack === undefined
          ? 'this is a fault in the template, not in your model; please report it'
          : `${pack.template ? 'this template comes from' : 'this file was rendered with the partials of'} the template pack in ${dirname(pack.dir)}: ${packFix(pack.reinstall)}, or generate without --pack`,
    }),
  );
}

/** JSON with comments, as TypeScript reads tsconfig.json: prettier's json parser checks those. */
const JSONC = /^[tj]sconfig(\..*)?\.json$/;

/**
 * A pack's kong.yml, Istio or Kubernetes YAML and any JSON (config.json, a file it adds) must
 * parse: written as they are (prettier does not touch them), one that does not would otherwise
 * fail only when kubectl, Kong or the gateway reads it.
 */
async function checkPackData(file: RenderedFile): Promise<void> {
  const ext = extname(file.path);
  if (ext === '.yaml' || ext === '.yml') {
    const { parseAllDocuments } = await import('yaml');
    for (const doc of parseAllDocuments(file.content)) {
      const error = doc.errors[0];
      if (error) {
        const at = error.linePos?.[0];
        throw notValid(file, 'YAML', `${at ? `line ${at.line}, column ${at.col}: ` : ''}${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
      }
    }
  } else if (ext === '.json' && !JSONC.test(basename(file.path))) {
    const parsed = parseJsonText(file.content);
    if (!parsed.ok) throw notValid(file, 'JSON', `line ${parsed.line}, column ${parsed.column}: ${parsed.why}`);
  }
}
