import { parseDuration } from '../api/meta.js';
import type { PlanStep } from '../api/plan.js';
import { fluxKey, parseFluxKey } from '../flux/objects.js';
import { resumeOrder, suspendOrder } from '../flux/order.js';
import type { FluxObject, FluxObjectRef } from '../ports/index.js';
import type { CompileInput } from './input.js';
import { Stage, StepKind } from './stages.js';
import { seconds, step } from './step.js';

function rootRef(input: CompileInput): FluxObjectRef {
  return { kind: 'Kustomization', namespace: input.spec.flux.namespace, name: input.spec.flux.rootKustomization };
}

function listed(objects: readonly FluxObject[] | undefined, fallback: string): string[] {
  if (!objects) return [fallback];
  return objects.length > 0 ? objects.map(fluxKey) : ['(none to suspend)'];
}

/**
 * Suspend order: the root Kustomization, then the others, then HelmReleases. Objects already suspended are
 * recorded as not Hecate's, so that startup leaves them suspended.
 */
export function fluxSuspendSteps(input: CompileInput, emergency: boolean): PlanStep[] {
  const root = rootRef(input);
  const known = input.observed.flux?.objects;
  const ordered = known ? suspendOrder(root, known) : undefined;
  const already = known?.filter((o) => o.suspended).map(fluxKey) ?? [];
  const blockers = already.length > 0 ? [`already suspended, left alone: ${already.join(', ')}`] : [];
  const scope = (kind: string, isRoot: boolean) =>
    ordered?.filter((o) => o.kind === kind && (fluxKey(o) === fluxKey(root)) === isRoot);
  const common = { stage: Stage.FluxSuspend, kind: StepKind.SuspendFlux, destructive: true, blockers };
  return [
    step({
      ...common,
      id: 'flux-suspend/root',
      title: `Suspend the root Kustomization ${root.namespace}/${root.name}`,
      targets: listed(scope('Kustomization', true), fluxKey(root)),
      why: 'First, so that it cannot re-apply the other Flux objects while they are suspended',
      params: { scope: 'root' },
    }),
    step({
      ...common,
      id: 'flux-suspend/kustomizations',
      title: 'Suspend every other Kustomization',
      targets: listed(scope('Kustomization', false), 'every Kustomization in every namespace, as listed at run time'),
      why: emergency
        ? 'Flux must not recreate what the power-off stops'
        : 'Flux must not recreate what the drain evicts, nor fight the shutdown',
      params: { scope: 'kustomizations' },
    }),
    step({
      ...common,
      id: 'flux-suspend/helmreleases',
      title: 'Suspend every HelmRelease',
      targets: listed(scope('HelmRelease', false), 'every HelmRelease in every namespace, as listed at run time'),
      why: 'Last, after the Kustomizations that define them: helm-controller must not roll back or upgrade mid-shutdown',
      params: { scope: 'helmreleases' },
    }),
  ];
}

/** What the outage record says Hecate suspended, joined with the live dependsOn edges when known. */
function toResume(input: CompileInput): FluxObject[] | undefined {
  const record = input.outage?.suspendedByHecate;
  if (!record) return undefined;
  const live = new Map((input.observed.flux?.objects ?? []).map((o) => [fluxKey(o), o]));
  return [...record.kustomizations, ...record.helmReleases].flatMap((key) => {
    const ref = parseFluxKey(key);
    if (!ref) return [];
    return [live.get(key) ?? { ...ref, suspended: true, dependsOn: [] }];
  });
}

/** Resume only what Hecate suspended, root first, then in dependsOn order; then wait for Flux to converge. */
export function fluxResumeSteps(input: CompileInput): PlanStep[] {
  const objects = toResume(input);
  const ordered = objects ? resumeOrder(rootRef(input), objects) : undefined;
  const timeout = parseDuration(input.spec.flux.convergeTimeout);
  return [
    step({
      id: 'flux-resume/resume',
      stage: Stage.FluxResume,
      kind: StepKind.ResumeFlux,
      title: 'Resume the Flux objects Hecate suspended',
      targets: ordered
        ? ordered.length > 0
          ? ordered.map(fluxKey)
          : ['(nothing recorded as suspended by Hecate)']
        : ['the objects listed in the outage record, in dependsOn order'],
      why: 'Only what shutdown suspended: objects suspended by someone else stay suspended',
      blockers: ['the order is recomputed from the live dependsOn graph when the step runs'],
    }),
    step({
      id: 'flux-resume/wait',
      stage: Stage.FluxResume,
      kind: StepKind.WaitFlux,
      title: 'Wait for every Kustomization and HelmRelease to be Ready',
      targets: [`Flux in all namespaces (up to ${input.spec.flux.convergeTimeout})`],
      why: 'The cluster is back only when Flux has reconciled everything from Git again',
      timeoutSeconds: seconds(timeout),
    }),
  ];
}
