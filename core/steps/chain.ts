/**
 * The local bootstrap chain: one executor for every `apply-chain-stage` step. A stage is built from the repo
 * snapshot (kustomize, then Flux post-build substitution), server-side applied, and waited until what it names
 * (its `waitFor`, plus its Flux Kustomization's health checks) is Ready. A stage that misses its deadline fails
 * with a report naming each object and why; the runner then stops the chain, and a rerun resumes at that stage.
 */
import type { ChainStage, OutageRecord, PlanStep, PowerPlanSpec } from '../api/index.js';
import { fluxKey } from '../flux/objects.js';
import type {
  AppliedRef,
  FluxKustomizationPort,
  FluxKustomizationView,
  KubeObject,
  ObjectKey,
} from '../ports/chain.js';
import type { FluxObjectRef, FluxPort } from '../ports/index.js';
import { DeadlineExceededError } from '../run/errors.js';
import type { StepContext, StepExecutor } from '../run/executor.js';
import { type ChainManifests, resolveSubstitutions } from './chain-substitute.js';
import {
  describeKey,
  keyOf,
  type Observation,
  refOf,
  reportLines,
  StageNotReadyError,
  statusLine,
  waitTargets,
} from './chain-targets.js';
import { type ReadinessCheck, UNSEAL_HINT } from './readiness.js';
import { waitWatching } from './wait.js';

export interface ChainOptions {
  /** Reads the stage's Flux Kustomization (postBuild, healthChecks, wait); without it neither applies. */
  kustomizations?: FluxKustomizationPort;
  /**
   * Resumes the Flux objects of a stage that Hecate suspended at shutdown (and asks Flux to reconcile them):
   * a HelmRelease that stays suspended is never installed, so its stage would never become Ready.
   * NOTE: objects suspended by someone else (`alreadySuspended`) stay suspended.
   */
  flux?: FluxPort;
  /** Server-side dry-run: nothing is persisted and nothing is waited for. */
  dryRun?: boolean;
  /** Fail on undefined `${VAR}` without a default (Flux's StrictPostBuildSubstitutions). */
  strictSubstitution?: boolean;
  /** Poll interval of the wait (default 1 s). */
  intervalMs?: number;
}

export interface ChainPaths {
  repoSnapshot: string;
}

/** `<root>/<path>` without node:path (core does no I/O): `./a/` and `a` name the same folder. */
export function stageDir(root: string, path: string): string {
  const clean = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  return `${root.replace(/\/+$/, '')}/${clean}`;
}

const FLUX_KINDS = new Set(['HelmRelease', 'Kustomization']);

function stageOf(spec: PowerPlanSpec, step: PlanStep): ChainStage {
  const stage = spec.bootstrapChain.find((s) => s.name === step.params.name);
  if (!stage) throw new Error(`the plan has no chain stage named "${step.params.name ?? ''}"`);
  return stage;
}

function summary(applied: readonly AppliedRef[]): string {
  const count = (result: AppliedRef['result']) => applied.filter((a) => a.result === result).length;
  const names = applied.slice(0, 6).map(describeKey).join(', ');
  const more = applied.length > 6 ? ` and ${applied.length - 6} more` : '';
  return `applied ${applied.length} objects (${count('created')} created, ${count('configured')} configured${count('skipped') ? `, ${count('skipped')} skipped` : ''}): ${names}${more}`;
}

/** The executor of `apply-chain-stage` steps; see the module comment. */
export function applyChainStage(
  manifests: ChainManifests,
  readiness: ReadinessCheck,
  spec: PowerPlanSpec,
  paths: ChainPaths,
  options: ChainOptions = {},
): StepExecutor {
  const built = new Map<string, KubeObject[]>();

  const kustomizationOf = async (stage: ChainStage, ctx?: StepContext): Promise<FluxKustomizationView | undefined> => {
    const ref = stage.kustomization;
    if (!ref || !options.kustomizations) return undefined;
    const namespace = ref.namespace ?? spec.flux.namespace;
    const view = await options.kustomizations.kustomization(namespace, ref.name);
    if (!view) {
      ctx?.report(
        `${stage.name}: Kustomization ${namespace}/${ref.name} is in neither the snapshot nor the cluster: no substitution or health checks`,
      );
    } else if (view.unsupported && view.unsupported.length > 0) {
      ctx?.report(
        `${stage.name}: Kustomization ${namespace}/${ref.name} (${view.from}) uses ${view.unsupported.join(', ')}, which Hecate does not replicate: the applied objects may differ from what Flux applies`,
      );
    }
    return view;
  };

  const build = async (stage: ChainStage, ks: FluxKustomizationView | undefined): Promise<KubeObject[]> => {
    const substitutions =
      ks && options.kustomizations
        ? await resolveSubstitutions(ks, options.kustomizations, options.strictSubstitution)
        : undefined;
    const objects = await manifests.build(stageDir(paths.repoSnapshot, stage.path), substitutions);
    if (objects.length === 0) throw new Error(`${stage.name}: ${stage.path} builds no objects`);
    return objects;
  };

  const observe = async (targets: readonly ObjectKey[]): Promise<Observation[]> =>
    Promise.all(targets.map(async (ref) => ({ ref, readiness: await readiness.check(ref) })));

  /** Targets, building the stage when it waits for nothing (then every built object must exist). */
  const targetsOf = async (step: PlanStep, stage: ChainStage, ks: FluxKustomizationView | undefined) => {
    let objects = built.get(step.id);
    const needsBuild = ks?.wait || waitTargets(stage, ks).length === 0;
    if (!objects && needsBuild) objects = await build(stage, ks);
    const targets = waitTargets(stage, ks, objects);
    return targets.length > 0
      ? { targets, existOnly: false }
      : { targets: (objects ?? []).map(refOf), existOnly: true };
  };

  const pending = async (step: PlanStep, stage: ChainStage, ks: FluxKustomizationView | undefined) => {
    const { targets, existOnly } = await targetsOf(step, stage, ks);
    const observed = await observe(targets);
    return observed.filter((o) => (existOnly ? o.readiness.missing === true : !o.readiness.ready));
  };

  const resumeSuspended = async (stage: ChainStage, objects: readonly KubeObject[], ctx: StepContext) => {
    const outage: OutageRecord = ctx.outage();
    const mine = new Set([...outage.suspendedByHecate.kustomizations, ...outage.suspendedByHecate.helmReleases]);
    const theirs = new Set(outage.alreadySuspended);
    for (const object of objects.filter((o) => FLUX_KINDS.has(o.kind))) {
      const ref = { kind: object.kind, namespace: object.metadata.namespace ?? 'default', name: object.metadata.name };
      const key = fluxKey(ref as FluxObjectRef);
      if (theirs.has(key)) {
        ctx.report(`${stage.name}: ${key} stays suspended (it was suspended before the shutdown, not by Hecate)`);
      } else if (mine.has(key) && options.flux) {
        await options.flux.setSuspended(ref as FluxObjectRef, false, { dryRun: options.dryRun === true });
        if (!options.dryRun) await options.flux.requestReconcile(ref as FluxObjectRef, ctx.clock.now());
        ctx.report(`${stage.name}: resumed ${key} (suspended by Hecate at shutdown) so that Flux installs it now`);
      }
    }
  };

  const giveUp = async (stage: ChainStage, waiting: readonly Observation[], elapsed: string) => {
    const notReady = await Promise.all(
      waiting.map(async ({ ref, readiness: r }) => {
        const details = (await readiness.explain?.(ref).catch((e: unknown) => [`(could not explain: ${e})`])) ?? [];
        return { ref, message: r.sealed?.length ? `${r.message}: ${UNSEAL_HINT}` : r.message, details };
      }),
    );
    return new StageNotReadyError(stage.name, notReady, elapsed);
  };

  return {
    check: async (step) => {
      const stage = stageOf(spec, step);
      const ks = await kustomizationOf(stage);
      return (await pending(step, stage, ks)).length === 0;
    },

    apply: async (step, ctx) => {
      const stage = stageOf(spec, step);
      const ks = await kustomizationOf(stage, ctx);
      const objects = await build(stage, ks);
      built.set(step.id, objects);
      const applied = await manifests.apply(objects, { dryRun: options.dryRun === true, signal: ctx.signal });
      ctx.report(`${stage.name}: ${options.dryRun ? '(server dry-run) ' : ''}${summary(applied)}`);
      ctx.logger.info('Applied chain stage', { stage: stage.name, path: stage.path, objects: applied.length });
      await resumeSuspended(stage, objects, ctx);
    },

    wait: async (step, ctx) => {
      if (options.dryRun) return;
      const stage = stageOf(spec, step);
      const ks = await kustomizationOf(stage);
      const started = ctx.clock.now().getTime();
      let last: Observation[] = [];
      let sealedLogged = false;
      const probe = async () => {
        last = await pending(step, stage, ks);
        if (!sealedLogged && last.some((o) => o.readiness.sealed?.length)) {
          sealedLogged = true;
          ctx.logger.warn('Vault is sealed', { stage: stage.name, hint: 'vault operator unseal' });
        }
        return { done: last.length === 0, status: statusLine(stage.name, last) };
      };
      // each object the stage waits for is watched: the stage ends one watch event after it is Ready, not a poll
      // (an API that does not answer now opens no feed: the wait then polls, and its probe rides out the outage)
      const refs = await pending(step, stage, ks).then(
        (waiting) => waiting.map((o) => o.ref),
        () => [],
      );
      const watch = readiness.watch?.bind(readiness);
      try {
        await waitWatching(
          ctx,
          probe,
          options.intervalMs ?? 1_000,
          refs.length > 0 && watch ? () => watch(refs) : undefined,
        );
      } catch (error) {
        if (!(error instanceof DeadlineExceededError) || last.length === 0) throw error;
        const elapsed = `${Math.round((ctx.clock.now().getTime() - started) / 1000)}s`;
        const failure = await giveUp(stage, last, elapsed);
        for (const line of reportLines(failure)) ctx.report(line);
        throw failure;
      } finally {
        built.delete(step.id);
      }
      ctx.report(`${stage.name}: Ready`);
    },
  };
}

export { keyOf, StageNotReadyError };
