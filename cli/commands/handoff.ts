/**
 * The CLI hands a cold boot back to the operator (issue 5 item 6): it creates or updates a startup PowerEvent
 * (`execute: true`) whose status records what the CLI did, so the operator resumes the same run, finishes what is
 * left without repeating done steps, and the history lives in the cluster.
 *
 * - One event per outage: its name comes from the outage's start, so a rerun of the CLI updates the same event.
 * - The status is written through the operator's own store (server-side apply of the whole status, field manager
 *   `hecate-operator`), so the operator's next write replaces it cleanly. Phase `Running` with the CLI's plan makes
 *   the operator resume that plan; `progress.finishedAt` is left for the operator to set when its run ends.
 */
import { CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { isNotFound } from '../../adapters/kube/errors.js';
import { kubeStatusApply, PowerEventStatusStore } from '../../adapters/kube/powerevent-store.js';
import {
  API_VERSION,
  ConditionReason,
  ConditionType,
  GROUP,
  HANDOFF_PENDING_ANNOTATION,
  type OutageRecord,
  outageRecord,
  type PowerEvent,
  type PowerEventStatus,
  type Progress,
  type RenderedPlan,
  VERSION,
} from '../../core/api/index.js';
import { STAGE_CONDITION, type Stage } from '../../core/plan/index.js';
import { setCondition, setKstatus } from '../../core/status/conditions.js';

export const HANDOFF_REASON = 'cold boot by hecate CLI';
export const CREATED_BY_LABEL = 'power.hecate.dev/created-by';
const DEFAULT_NAMESPACE = 'hecate-system';
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface HandOffInput {
  planName: string;
  /** Where the operator watches PowerEvents (default hecate-system). */
  namespace?: string;
  /** The CLI's run of the startup plan, from its state file. */
  progress: Progress;
  outage: OutageRecord;
  /** The plan the CLI ran; recorded in status.plan so the operator resumes exactly it (else it compiles its own). */
  plan?: RenderedPlan;
  now?: Date;
}

export interface HandOffResult {
  namespace: string;
  name: string;
  created: boolean;
}

/** `cold-boot-<plan>-<yyyymmdd-hhmmss>` of the outage's start (else the run's), a valid object name. */
export function handOffName(planName: string, outage: OutageRecord, progress: Progress): string {
  const at = outage.startedAt ?? progress.startedAt;
  const stamp = at.replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `cold-boot-${planName}-${stamp}`.toLowerCase().slice(0, 253);
}

/** Creates or updates the startup PowerEvent and writes the CLI's progress into its status. */
export async function handOff(kc: KubeConfig, input: HandOffInput): Promise<HandOffResult> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const namespace = input.namespace ?? DEFAULT_NAMESPACE;
  const name = handOffName(input.planName, input.outage, input.progress);
  const ref = { group: GROUP, version: VERSION, plural: 'powerevents', namespace };
  const spec = { action: 'startup', planRef: { name: input.planName }, execute: true, reason: HANDOFF_REASON };
  let existing: PowerEvent | undefined;
  try {
    existing = (await api.getNamespacedCustomObject({ ...ref, name })) as PowerEvent;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (existing && existing.spec.action !== 'startup') {
    throw new Error(`PowerEvent ${namespace}/${name} exists with action ${existing.spec.action}, not startup`);
  }
  const body = {
    apiVersion: API_VERSION,
    kind: 'PowerEvent',
    metadata: {
      name,
      namespace,
      labels: { [CREATED_BY_LABEL]: 'hecate-cli' },
      // The operator waits while this is set: the status below comes in a second request (status is a subresource).
      annotations: { [HANDOFF_PENDING_ANNOTATION]: input.now?.toISOString() ?? new Date().toISOString() },
    },
    spec,
  };
  const event = (
    existing
      ? await api.patchNamespacedCustomObject(
          { ...ref, name, body: { metadata: body.metadata, spec: { execute: true, reason: HANDOFF_REASON } } },
          MERGE_PATCH,
        )
      : await api.createNamespacedCustomObject({ ...ref, body })
  ) as PowerEvent;
  const store = new PowerEventStatusStore({ namespace, name }, event.status ?? { conditions: [] }, kubeStatusApply(kc));
  await store.update((current) => handedOffStatus(current, input, event.metadata.generation));
  await api.patchNamespacedCustomObject(
    { ...ref, name, body: { metadata: { annotations: { [HANDOFF_PENDING_ANNOTATION]: null } } } },
    MERGE_PATCH,
  );
  return { namespace, name, created: !existing };
}

/**
 * The status the operator resumes from: Running, the CLI's plan and progress (not finished), the outage record, one
 * condition per stage the CLI finished, and the kstatus pair saying the run is in progress. Pure.
 */
export function handedOffStatus(
  current: PowerEventStatus,
  input: HandOffInput,
  generation: number | undefined,
): PowerEventStatus {
  const now = input.now ?? new Date();
  const { finishedAt: _finished, ...progress } = input.progress;
  const finished = new Set(progress.steps.filter((s) => s.state === 'done' || s.state === 'skipped').map((s) => s.id));
  const steps = input.plan?.steps ?? [];
  const message = `Handed off by the hecate CLI after a cold boot: ${finished.size} step(s) done${
    steps.length > 0 ? ` of ${steps.length}` : ''
  }; the operator finishes the rest`;
  let conditions = setKstatus(
    [],
    {
      ready: { type: ConditionType.Ready, status: 'False', reason: ConditionReason.Progressing, message },
      reconciling: { type: ConditionType.Reconciling, status: 'True', reason: ConditionReason.Progressing, message },
    },
    now,
    generation,
  );
  const stages = [...new Set(steps.map((s) => s.stage))];
  for (const stage of stages) {
    const type = STAGE_CONDITION[stage as Stage] ?? ConditionType.Planned;
    const all = steps.filter((s) => (STAGE_CONDITION[s.stage as Stage] ?? ConditionType.Planned) === type);
    if (!all.every((s) => finished.has(s.id))) continue;
    const text = `${stage}: done by the hecate CLI`;
    conditions = setCondition(
      conditions,
      { type, status: 'True', reason: ConditionReason.Succeeded, message: text },
      now,
      generation,
    );
  }
  const last = [...progress.steps].reverse().find((s) => finished.has(s.id));
  const stage = steps.find((s) => s.id === last?.id)?.stage;
  return {
    ...(current.observedGeneration !== undefined && current.observedGeneration < (generation ?? 0)
      ? { observedGeneration: current.observedGeneration }
      : {}),
    phase: 'Running',
    ...(stage ? { stage } : {}),
    conditions,
    ...(input.plan ? { plan: { ...input.plan, execute: true } } : {}),
    progress: { ...progress, updatedAt: now.toISOString() },
    outage: input.outage,
    startedAt: progress.startedAt,
  };
}

/**
 * After a successful `startup --execute`: hands the run to the operator and says so on stderr. Never fails the
 * command: a cluster without the operator (no CRD, no namespace, no permission) gets a warning naming the cause.
 */
export async function handBack(
  kc: KubeConfig,
  plan: RenderedPlan,
  progress: Progress,
  store: { load(): Promise<{ outage: OutageRecord } | undefined> },
  stderr: (text: string) => void,
): Promise<HandOffResult | undefined> {
  try {
    const outage = (await store.load())?.outage ?? outageRecord.parse({});
    const result = await handOff(kc, { planName: plan.planName, progress, outage, plan });
    stderr(`Handed back to the operator: PowerEvent ${result.namespace}/${result.name}\n`);
    return result;
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    stderr(`warning: could not hand the startup back to the operator (${message}); the cluster is up regardless\n`);
    return undefined;
  }
}
