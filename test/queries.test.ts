import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const files = readdirSync(join(ROOT, 'queries')).filter((f) => f.endsWith('.rq'));

describe('extraction queries', () => {
  it.each(files)('%s is a flat SELECT with ORDER BY', (f) => {
    const text = readFileSync(join(ROOT, 'queries', f), 'utf8').replace(/#.*$/gm, '');
    expect(text).toMatch(/^SELECT /m);
    expect(text).toMatch(/^ORDER BY /m);
    // OPTIONAL makes Comunica bind-join per node (superlinear); extraction queries avoid it.
    expect(text).not.toMatch(/OPTIONAL/);
  });
});
