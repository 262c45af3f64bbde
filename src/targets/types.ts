import type { GatewayModel } from '../model/types.js';

/** One file a target wants: which template renders it, where it goes, with what data. */
export interface PlannedFile {
  /** Path under the output directory, always with "/" separators. */
  readonly path: string;
  /** Template path under templates/. */
  readonly template: string;
  readonly context: unknown;
  /**
   * How the rendered text is formatted (see pipeline/format.ts). `prettier`, the default:
   * prettier formats code files. `template`: gwgen's own template is already in prettier's
   * form (the test suite checks every one), so prettier only runs when a template pack
   * overrides it. `verbatim`: data a helper writes in its canonical form, never reformatted.
   */
  readonly format?: FileFormat;
}

export type FileFormat = 'prettier' | 'template' | 'verbatim';

/** A feature of the model a target cannot express, reported in that target's NOTES.md. */
export interface Limitation {
  /** The route, service or consumer concerned. */
  readonly subject: string;
  readonly feature: string;
  readonly detail: string;
}

export interface Target {
  readonly name: string;
  readonly description: string;
  /** Whether the model has data for this target, for runs without `-t`. */
  applies(model: GatewayModel): boolean;
  /** Partials (files under templates/<dir>/ starting with "_") the templates use. */
  readonly partials?: { readonly dir: string; readonly names: readonly string[] };
  plan(model: GatewayModel): readonly PlannedFile[];
  /**
   * What a template pack's own templates of this target (ones gwgen has no template for) are
   * rendered with: the view gwgen's templates of the target see.
   */
  view(model: GatewayModel): unknown;
}
