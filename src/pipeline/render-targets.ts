import type { GatewayModel } from '../model/types.js';
import { TARGETS } from '../targets/index.js';
import type { RenderedFile, Renderer } from './render.js';

/**
 * Renders every file of one target. Each target registers its partials right before its own
 * files, so one renderer can render several targets in turn.
 */
export async function renderTarget(renderer: Renderer, name: string, model: GatewayModel): Promise<RenderedFile[]> {
  const target = TARGETS[name];
  if (!target) throw new Error(`unknown target ${name}`);
  if (target.partials) await renderer.registerPartials(target.partials.dir, target.partials.names);
  const out: RenderedFile[] = [];
  for (const file of target.plan(model)) out.push(await renderer.render(name, file));
  return out;
}

/**
 * Renders targets of `targets`, claiming each by its index with an atomic add on `claim[0]`,
 * until none is left. Two threads running this over the same list share the work.
 */
export async function renderClaimed(renderer: Renderer, targets: readonly string[], claim: Int32Array, model: GatewayModel): Promise<RenderedFile[]> {
  const out: RenderedFile[] = [];
  for (let i = Atomics.add(claim, 0, 1); i < targets.length; i = Atomics.add(claim, 0, 1)) out.push(...(await renderTarget(renderer, targets[i]!, model)));
  return out;
}
