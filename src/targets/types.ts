import type { GatewayModel } from '../model/types.js';

/** One file a target wants: which template renders it, where it goes, with what data. */
export interface PlannedFile {
  /** Path under the output directory, always with "/" separators. */
  readonly path: string;
  /** Template path under templates/. */
  readonly template: string;
  readonly context: unknown;
}

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
}
