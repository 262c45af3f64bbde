/**
 * Hand-written regions inside generated TypeScript:
 *   // gwgen:user-code-begin <id>
 *   ...the user's code...
 *   // gwgen:user-code-end <id>
 * Regeneration keeps each region's body by id.
 */
const REGION = /^([ \t]*\/\/ gwgen:user-code-begin ([\w.-]+)[ \t]*\r?\n)([\s\S]*?)(^[ \t]*\/\/ gwgen:user-code-end \2[ \t]*$)/gm;

/** Most files have no region: a plain substring search rules that out far faster than REGION. */
const MARKER = 'gwgen:user-code-begin';

/** Region bodies by id; where an id appears twice, the first body counts. */
export function userRegions(content: string): Map<string, string> {
  const regions = new Map<string, string>();
  if (!content.includes(MARKER)) return regions;
  for (const m of content.matchAll(REGION)) if (!regions.has(m[2]!)) regions.set(m[2]!, m[3]!);
  return regions;
}

/** The 1-based line of an offset in content. */
function lineAt(content: string, offset: number): number {
  let line = 1;
  for (let i = content.indexOf('\n'); i !== -1 && i < offset; i = content.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * Region ids that appear more than once (a copied marker pair): whose body is the user's is
 * unclear. `line`: where the second one begins.
 */
export function duplicateRegionIds(content: string): { id: string; line: number }[] {
  if (!content.includes(MARKER)) return [];
  const seen = new Set<string>();
  const twice = new Map<string, number>();
  for (const m of content.matchAll(REGION)) {
    if (!seen.has(m[2]!)) seen.add(m[2]!);
    else if (!twice.has(m[2]!)) twice.set(m[2]!, lineAt(content, m.index));
  }
  return [...twice].map(([id, line]) => ({ id, line }));
}

/** The line where region `id` begins in content (the first one, if twice). */
export function regionLine(content: string, id: string): number | undefined {
  for (const m of content.matchAll(REGION)) if (m[2] === id) return lineAt(content, m.index);
  return undefined;
}

/**
 * The generated content with every region body replaced by the one found in `previous`, except
 * bodies `templates` says are a template's own (not the user's): those take the new template's
 * body. `dropped`: regions with the user's code that the generated content no longer has.
 */
export function carryUserCode(generated: string, previous: string, templates: (id: string, body: string) => boolean = () => false): { content: string; dropped: string[] } {
  if (!previous.includes(MARKER) && !generated.includes(MARKER)) return { content: generated, dropped: [] };
  const kept = new Map([...userRegions(previous)].filter(([id, body]) => !templates(id, body)));
  const content = generated.replace(REGION, (_whole, begin: string, id: string, body: string, end: string) => begin + (kept.get(id) ?? body) + end);
  const present = userRegions(generated);
  const dropped = [...kept].filter(([id, body]) => !present.has(id) && body.trim() !== '').map(([id]) => id);
  return { content, dropped };
}

/** Content with region bodies emptied: what "generated, not edited" is hashed on. */
export function withoutUserCode(content: string): string {
  if (!content.includes(MARKER)) return content;
  return content.replace(REGION, (_whole, begin: string, _id: string, _body: string, end: string) => begin + end);
}

const MARKER_LINES = /^[ \t]*\/\/ gwgen:user-code-(begin|end) ([\w.-]+)[ \t]*$/gm;

export interface StrayMarker {
  readonly id: string;
  readonly line: number;
  /** The region `id` is closed elsewhere in the file: this marker is one too many, not a lost partner. */
  readonly extra: boolean;
}

/**
 * Marker lines that pair with none (such a region is not carried over): `unclosed`, begin
 * markers without their end (a deleted or mistyped end line), and `unopened`, end markers without
 * their begin. A marker inside a region's body is the user's text, not a marker.
 */
export function unmatchedRegionMarkers(content: string): { unclosed: StrayMarker[]; unopened: StrayMarker[] } {
  if (!content.includes('gwgen:user-code-')) return { unclosed: [], unopened: [] };
  const regions = [...content.matchAll(REGION)].map((m) => ({ id: m[2]!, begin: m.index, end: m.index + m[1]!.length + m[3]!.length, after: m.index + m[0].length }));
  const closed = new Set(regions.map((r) => r.id));
  const unclosed: StrayMarker[] = [];
  const unopened: StrayMarker[] = [];
  for (const m of content.matchAll(MARKER_LINES)) {
    const at = m.index;
    if (regions.some((r) => at === r.begin || at === r.end || (at > r.begin && at < r.after))) continue;
    (m[1] === 'begin' ? unclosed : unopened).push({ id: m[2]!, line: lineAt(content, at), extra: closed.has(m[2]!) });
  }
  return { unclosed, unopened };
}
