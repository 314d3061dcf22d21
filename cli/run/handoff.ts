/**
 * The CLI hands a cold boot back to the operator: it creates or updates a startup PowerEvent
 * (`execute: true`) whose status records what the CLI did, so the operator resumes the same run, finishes what is
 * left without repeating done steps, and the history lives in the cluster.
 *
 * - One event per outage: its name comes from the outage's start, so a rerun of the CLI updates the same event.
 * - The status is written through the operator's own store (server-side apply of the whole status, field manager
 *   `hecate-operator`), so the operator's next write replaces it cleanly. Phase `Running` with the CLI's plan makes
 *   the operator resume that plan; `progress.finishedAt` is left for the operator to set when its run ends.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { isApiUnavailable } from '../../adapters/kube/errors.js';
import { KubePowerEvents } from '../../adapters/kube/powerevents.js';
import {
  HANDOFF_PENDING_ANNOTATION,
  newPowerEvent,
  type OutageRecord,
  outageRecord,
  type Progress,
  type RenderedPlan,
} from '../../core/api/index.js';
import { handedOff } from '../../core/status/powerevent.js';

export const HANDOFF_REASON = 'cold boot by hecate CLI';
export const CREATED_BY_LABEL = 'power.hecate.dev/created-by';
const DEFAULT_NAMESPACE = 'hecate-system';

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
  const now = input.now ?? new Date();
  const events = new KubePowerEvents(kc, input.namespace ?? DEFAULT_NAMESPACE);
  const { namespace } = events;
  const name = handOffName(input.planName, input.outage, input.progress);
  const existing = await events.get(name);
  if (existing && existing.spec.action !== 'startup') {
    throw new Error(`PowerEvent ${namespace}/${name} exists with action ${existing.spec.action}, not startup`);
  }
  const metadata = {
    name,
    namespace,
    labels: { [CREATED_BY_LABEL]: 'hecate-cli' },
    // The operator waits while this is set: the status below comes in a second request (status is a subresource).
    annotations: { [HANDOFF_PENDING_ANNOTATION]: now.toISOString() },
  };
  const spec = { action: 'startup' as const, planRef: { name: input.planName }, execute: true, reason: HANDOFF_REASON };
  const event = existing
    ? await events.mergePatch(name, { metadata, spec: { execute: true, reason: HANDOFF_REASON } })
    : await events.create(newPowerEvent(metadata, spec));
  if (!event) throw new Error(`PowerEvent ${namespace}/${name} was created by someone else meanwhile; run again`);
  const store = events.statusStore(name, event.status ?? { conditions: [] });
  await store.update((current) => handedOff(current, { ...input, now }, event.metadata.generation));
  await events.mergePatch(name, { metadata: { annotations: { [HANDOFF_PENDING_ANNOTATION]: null } } });
  return { namespace, name, created: !existing };
}

export interface HandBackOptions {
  /** How long an API server that does not answer (restarting, a control-plane node still booting) is waited for. */
  patienceMs?: number;
  pauseMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * After a successful `startup --execute`: hands the run to the operator and says so on stderr. Never fails the
 * command: a cluster without the operator (no CRD, no namespace, no permission) gets a warning naming the cause.
 * An API server unavailable for now (no answer, or 503 while it starts; see isApiUnavailable) is tried again every
 * 2 s for up to a minute, each try said: the hand-off is idempotent (the same event, its status written whole), and
 * without it the operator never finishes the startup (Flux stays as the chain left it, the outage open in the cluster).
 */
export async function handBack(
  kc: KubeConfig,
  plan: RenderedPlan,
  progress: Progress,
  store: { load(): Promise<{ outage: OutageRecord } | undefined> },
  stderr: (text: string) => void,
  options: HandBackOptions = {},
): Promise<HandOffResult | undefined> {
  const { patienceMs = 60_000, pauseMs = 2_000 } = options;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const until = Date.now() + patienceMs;
  for (;;) {
    try {
      const outage = (await store.load())?.outage ?? outageRecord.parse({});
      const result = await handOff(kc, { planName: plan.planName, progress, outage, plan });
      stderr(`Handed back to the operator: PowerEvent ${result.namespace}/${result.name}\n`);
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      if (isApiUnavailable(error) && Date.now() + pauseMs <= until) {
        stderr(
          `the API server is unavailable (${message}): handing the startup back to the operator again in ${pauseMs / 1000} s\n`,
        );
        await sleep(pauseMs);
        continue;
      }
      stderr(`warning: could not hand the startup back to the operator (${message}); the cluster is up regardless\n`);
      return undefined;
    }
  }
}
