import { harborBundleName } from '../api/defaults.js';
import type { PlanStep } from '../api/plan.js';
import type { CompileInput } from './input.js';
import { Stage, StepKind } from './stages.js';
import { step } from './step.js';

function bundlePath(input: CompileInput): string {
  const harbor = input.spec.harbor;
  return (
    input.paths.harborBundle ??
    harbor?.bundlePath ??
    harborBundleName(harbor?.version ?? 'undefined', harbor?.arch ?? 'undefined')
  );
}

export function verifyBundleStep(input: CompileInput): PlanStep[] {
  const harbor = input.spec.harbor;
  if (!harbor) return [];
  return [
    step({
      id: 'bundle/verify',
      stage: Stage.Bundle,
      kind: StepKind.VerifyBundle,
      title: `Check the Harbor ${harbor.version} ${harbor.arch} bundle and its checksum`,
      targets: [bundlePath(input)],
      why: 'Harbor serves its own images: after a cold boot on a pruned node, only this bundle can start it',
      blockers: ['a missing bundle or a checksum that does not match its manifest'],
      params: { path: bundlePath(input) },
    }),
  ];
}

/** Seed Harbor's images onto its node, then reconcile its HelmRelease. `afterChain` explains the startup order. */
export function harborSteps(input: CompileInput, afterChain: boolean): PlanStep[] {
  const harbor = input.spec.harbor;
  if (!harbor) return [];
  return [
    step({
      id: 'harbor/seed',
      stage: Stage.Harbor,
      kind: StepKind.SeedHarbor,
      title: `Seed Harbor's images into containerd on ${harbor.node}`,
      targets: [harbor.node, bundlePath(input)],
      why: `${afterChain ? 'After the chain, before Harbor is reconciled. ' : ''}Harbor cannot pull its own images from itself; skipped when every image is already present`,
      blockers: [`${harbor.node} must be Ready and able to run a helper pod`, `the bundle is ${harbor.arch}-only`],
      params: { node: harbor.node, path: bundlePath(input) },
    }),
    step({
      id: 'harbor/reconcile',
      stage: Stage.Harbor,
      kind: StepKind.ReconcileHarbor,
      title: `Reconcile HelmRelease ${harbor.namespace}/${harbor.helmRelease} and wait until Ready`,
      targets: [`HelmRelease ${harbor.namespace}/${harbor.helmRelease}`],
      why: 'Harbor starts from the seeded images; the apps that pull from it can follow',
      params: { namespace: harbor.namespace, name: harbor.helmRelease },
    }),
  ];
}

/** harbor-seed on its own: verify, seed, reconcile. */
export function compileHarborSeed(input: CompileInput): PlanStep[] {
  return [...verifyBundleStep(input), ...harborSteps(input, false)];
}
