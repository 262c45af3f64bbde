import { gatewayTarget } from './gateway.js';
import { istioTarget } from './istio.js';
import { k8sTarget } from './k8s.js';
import { kongTarget } from './kong.js';
import type { Target } from './types.js';

/**
 * Every output target gwgen can generate. A target is a plain object (targets/types.ts): adding
 * one means writing its view builder and templates and listing it here.
 */
export const TARGETS: Readonly<Record<string, Target>> = {
  kong: kongTarget,
  gateway: gatewayTarget,
  istio: istioTarget,
  k8s: k8sTarget,
};

export type { Target } from './types.js';
