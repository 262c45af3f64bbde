import { closest, distance } from 'fastest-levenshtein';

/**
 * The candidate a misspelt word most likely meant ("agw:hasRateLimitter", a suppressed rule id):
 * the closest by edit distance, if within a quarter of the word's length (at least 2 edits);
 * undefined when nothing is that near, so a message never suggests an unrelated name.
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const best = candidates.length > 0 ? closest(word, candidates as string[]) : undefined;
  return best !== undefined && distance(word, best) <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined;
}
