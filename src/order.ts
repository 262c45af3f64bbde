/**
 * Code-point order of strings: the same on every machine and locale (localeCompare is not),
 * which is what deterministic output needs.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
