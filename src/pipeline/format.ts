import { extname } from 'node:path';
import { format } from 'prettier';
import { parseAllDocuments } from 'yaml';
import { GwgenError, problem } from '../errors.js';
import type { RenderedFile } from './render.js';

const PARSERS: Readonly<Record<string, string>> = {
  '.yml': 'yaml',
  '.yaml': 'yaml',
  '.json': 'json',
  '.ts': 'typescript',
  '.md': 'markdown',
};

/** Fixed options, so output does not depend on a .prettierrc where gwgen happens to run. */
const OPTIONS = { printWidth: 120, singleQuote: true, trailingComma: 'all', proseWrap: 'preserve' } as const;

/**
 * Formats what prettier supports and checks that every YAML file still parses: a template
 * that produced broken YAML is gwgen's fault and must never reach the disk.
 */
export async function formatFile(file: RenderedFile): Promise<RenderedFile> {
  const parser = PARSERS[extname(file.path)];
  if (!parser) return file;
  if (parser === 'yaml') assertYaml(file);
  try {
    return { ...file, content: await format(file.content, { ...OPTIONS, parser }) };
  } catch (err) {
    throw new GwgenError(
      problem('render', `${file.path} (from template ${file.template}) is not valid ${parser}: ${(err as Error).message.split('\n')[0]}`, {
        location: { file: `templates/${file.template}` },
        hint: 'this is a fault in the template, not in your model; please report it',
      }),
    );
  }
}

function assertYaml(file: RenderedFile): void {
  for (const doc of parseAllDocuments(file.content, { uniqueKeys: true })) {
    const error = doc.errors[0];
    if (error) {
      throw new GwgenError(
        problem('render', `${file.path} (from template ${file.template}) is not valid YAML: ${error.message.split('\n')[0]}`, {
          location: { file: `templates/${file.template}` },
          hint: 'this is a fault in the template, not in your model; please report it',
        }),
      );
    }
  }
}
