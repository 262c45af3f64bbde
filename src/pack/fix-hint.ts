/**
 * What to do about a fault in an installed pack's template. Not "fix it there": the copy in
 * .gwgen/packs/ is checked against gwgen.lock, so an edit there is refused as a modified pack.
 * `reinstall` is the command that installs the pack again from its source.
 */
export function packFix(reinstall: string | undefined, what = 'fix it'): string {
  return `${what} in the pack's source, then install it again (${reinstall ?? 'gwgen pack install <source>'}; an edit of the installed copy is refused as modified)`;
}
