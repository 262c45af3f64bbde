/**
 * The names of the registered targets, without loading them (the CLI's help and flag checks
 * need the names; the targets' code is loaded only when a run renders). test/targets.test.ts
 * checks this list against targets/index.ts.
 */
export const TARGET_NAMES: readonly string[] = ['kong', 'gateway', 'istio', 'k8s'];
