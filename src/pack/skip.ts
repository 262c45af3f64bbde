/**
 * What a project holds besides its pack: installed packs and their lock (a pack installed from
 * inside itself would otherwise copy its own gwgen.lock, and hash differently on every install),
 * its build and its generated output. Those at the root only: ontology/generated/x.ttl is the
 * pack's. None of it is copied, hashed or rendered.
 */
export const SKIP = new Set(['.git', 'node_modules', '.gwgen']);
export const SKIP_AT_ROOT = new Set(['dist', 'generated', 'generated-examples', 'gwgen.lock']);
