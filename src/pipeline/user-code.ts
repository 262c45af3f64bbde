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

/** Region ids that appear more than once (a copied marker pair): whose body is the user's is unclear. */
export function duplicateRegionIds(content: string): string[] {
  if (!content.includes(MARKER)) return [];
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const m of content.matchAll(REGION)) (seen.has(m[2]!) ? twice : seen).add(m[2]!);
  return [...twice];
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

const MARKER_LINES = {
  begin: /^[ \t]*\/\/ gwgen:user-code-begin ([\w.-]+)[ \t]*$/gm,
  end: /^[ \t]*\/\/ gwgen:user-code-end ([\w.-]+)[ \t]*$/gm,
};

/**
 * Ids of markers that pair with none (such a region is not carried over): `unclosed`, begin
 * markers without their end (a deleted or mistyped end line), and `unopened`, end markers without
 * their begin.
 */
export function unmatchedRegionMarkers(content: string): { unclosed: string[]; unopened: string[] } {
  if (!content.includes('gwgen:user-code-')) return { unclosed: [], unopened: [] };
  const closed = new Set([...content.matchAll(REGION)].map((m) => m[2]!));
  const unmatched = (line: RegExp) => [...new Set([...content.matchAll(line)].map((m) => m[1]!).filter((id) => !closed.has(id)))];
  return { unclosed: unmatched(MARKER_LINES.begin), unopened: unmatched(MARKER_LINES.end) };
}
