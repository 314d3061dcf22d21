import type { OutageRecord, PowerPlanSpec } from '../api/index.js';
import { fluxKey, parseFluxKey } from '../flux/objects.js';
import { resumeOrder, suspendOrder } from '../flux/order.js';
import type { FluxObject, FluxObjectRef, FluxPort } from '../ports/index.js';
import type { StepContext, StepExecutor } from '../run/executor.js';
import { waitWatching } from './wait.js';

type Scope = 'root' | 'kustomizations' | 'helmreleases';

function rootOf(spec: PowerPlanSpec): FluxObjectRef {
  return { kind: 'Kustomization', namespace: spec.flux.namespace, name: spec.flux.rootKustomization };
}

function inScope(object: FluxObject, scope: Scope, root: FluxObjectRef): boolean {
  const isRoot = fluxKey(object) === fluxKey(root);
  if (scope === 'root') return isRoot;
  if (scope === 'kustomizations') return object.kind === 'Kustomization' && !isRoot;
  return object.kind === 'HelmRelease';
}

function recorded(outage: OutageRecord): Set<string> {
  const { kustomizations, helmReleases } = outage.suspendedByHecate;
  return new Set([...kustomizations, ...helmReleases, ...outage.alreadySuspended]);
}

async function listAll(flux: FluxPort): Promise<FluxObject[]> {
  return [...(await flux.list('Kustomization')), ...(await flux.list('HelmRelease'))];
}

/**
 * Suspends one scope of Flux objects. Each object is recorded before it is patched: in `suspendedByHecate` when
 * Hecate suspends it, in `alreadySuspended` when someone else had (startup then leaves it alone).
 */
export function suspendFlux(flux: FluxPort, spec: PowerPlanSpec, dryRun = false): StepExecutor {
  const root = rootOf(spec);
  const scopeOf = (params: Record<string, string>) => (params.scope ?? 'root') as Scope;
  return {
    check: async (step, ctx) => {
      const known = recorded(ctx.outage());
      const objects = (await listAll(flux)).filter((o) => inScope(o, scopeOf(step.params), root));
      return objects.every((o) => o.suspended && known.has(fluxKey(o)));
    },
    apply: async (step, ctx) => {
      const all = await listAll(flux);
      const objects = all.filter((o) => inScope(o, scopeOf(step.params), root));
      const mine = new Set(suspendOrder(root, objects).map(fluxKey));
      for (const object of objects.filter((o) => o.suspended && !recorded(ctx.outage()).has(fluxKey(o)))) {
        await ctx.record((outage) => outage.alreadySuspended.push(fluxKey(object)));
      }
      for (const object of suspendOrder(root, objects).filter((o) => mine.has(fluxKey(o)))) {
        const key = fluxKey(object);
        if (!recorded(ctx.outage()).has(key)) {
          await ctx.record((outage) => {
            const list =
              object.kind === 'HelmRelease'
                ? outage.suspendedByHecate.helmReleases
                : outage.suspendedByHecate.kustomizations;
            list.push(key);
          });
        }
        await flux.setSuspended(object, true, { dryRun });
        ctx.report(`${dryRun ? 'would suspend' : 'suspended'} ${key}`);
      }
    },
  };
}

/** Resumes what Hecate suspended, root first then in dependsOn order, asking Flux to reconcile each one now. */
export function resumeFlux(flux: FluxPort, spec: PowerPlanSpec): StepExecutor {
  const root = rootOf(spec);
  const pending = (outage: OutageRecord) => [
    ...outage.suspendedByHecate.kustomizations,
    ...outage.suspendedByHecate.helmReleases,
  ];
  return {
    check: async (_step, ctx) => pending(ctx.outage()).length === 0,
    apply: async (_step, ctx) => {
      const live = new Map((await listAll(flux)).map((o) => [fluxKey(o), o]));
      const objects = pending(ctx.outage()).flatMap((key) => {
        const ref = parseFluxKey(key);
        return ref ? [live.get(key) ?? { ...ref, suspended: true, dependsOn: [] }] : [];
      });
      for (const object of resumeOrder(root, objects)) {
        const key = fluxKey(object);
        if (live.has(key)) {
          await flux.setSuspended(object, false);
          await flux.requestReconcile(object, ctx.clock.now());
          ctx.report(`resumed ${key}`);
        } else {
          ctx.report(`${key} no longer exists: nothing to resume`);
        }
        await ctx.record((outage) => {
          const drop = (list: string[]) => list.filter((k) => k !== key);
          outage.suspendedByHecate.kustomizations = drop(outage.suspendedByHecate.kustomizations);
          outage.suspendedByHecate.helmReleases = drop(outage.suspendedByHecate.helmReleases);
        });
      }
    },
  };
}

async function notReady(flux: FluxPort, spec: PowerPlanSpec): Promise<string[]> {
  const { source, namespace } = spec.flux;
  const state = await flux.source(source.kind, namespace, source.name);
  const waiting = state?.ready
    ? []
    : [`${source.kind} ${namespace}/${source.name}${state?.message ? ` (${state.message})` : ''}`];
  const objects = (await listAll(flux)).filter((o) => !o.suspended && o.ready !== true);
  return [...waiting, ...objects.map(fluxKey)];
}

/** Waits until the source and every Kustomization and HelmRelease that is not suspended report Ready. */
export function waitFlux(flux: FluxPort, spec: PowerPlanSpec, intervalMs = 2_000): StepExecutor {
  const probe = async () => {
    const waiting = await notReady(flux, spec);
    const more = waiting.length > 3 ? ` and ${waiting.length - 3} more` : '';
    return { done: waiting.length === 0, status: `not Ready: ${waiting.slice(0, 3).join(', ')}${more}` };
  };
  return {
    check: async () => (await probe()).done,
    apply: async () => {},
    wait: async (_step, ctx: StepContext) => {
      const watch = flux.watch?.bind(flux);
      const { source, namespace } = spec.flux;
      await waitWatching(
        ctx,
        probe,
        intervalMs,
        watch && (() => watch({ kind: source.kind, namespace, name: source.name })),
      );
    },
  };
}

/** Reports the Flux source's state; the chain steps' guard acts on it. Changes nothing. */
export function checkFluxSource(flux: FluxPort, spec: PowerPlanSpec): StepExecutor {
  return {
    check: async () => false,
    apply: async (_step, ctx) => {
      const { source, namespace } = spec.flux;
      const state = await flux.source(source.kind, namespace, source.name);
      ctx.report(
        state?.ready
          ? `${source.kind} ${namespace}/${source.name} is Ready at ${state.revision ?? 'an unknown revision'}: no fallback needed`
          : `${source.kind} ${namespace}/${source.name} is not Ready${state?.message ? ` (${state.message})` : ''}: applying the bootstrap chain`,
      );
    },
  };
}

/** The guard of the chain steps, evaluated once per run so that the chain does not stop half-way. */
export function fluxSourceNotReadyGuard(flux: FluxPort, spec: PowerPlanSpec): () => Promise<boolean> {
  let answer: Promise<boolean> | undefined;
  return () => {
    const { source, namespace } = spec.flux;
    answer ??= flux.source(source.kind, namespace, source.name).then((state) => state?.ready !== true);
    return answer;
  };
}
