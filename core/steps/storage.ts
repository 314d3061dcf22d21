import type { NodePort, StoragePort, VolumeView } from '../ports/index.js';
import type { StepExecutor } from '../run/executor.js';
import { waitUntil } from './wait.js';

/** Longhorn volume states that still hold a node: the data path is (or is about to be) live. */
export const ATTACHED_STATES: readonly string[] = ['attached', 'attaching', 'detaching'];

export interface QuiesceStorageSettings {
  /** Names the nodes that hold volumes as drained (cordoned) or not, so a blocker on the control plane stands out. */
  readonly nodes?: NodePort;
  /** Reports the attached volumes and returns without waiting: a dry run changes nothing that could detach them. */
  readonly dryRun?: boolean;
  /** Poll interval (default 2 s): Longhorn volumes have no port-level watch. */
  readonly intervalMs?: number;
}

/** True when a volume still holds a node (see {@link ATTACHED_STATES}); creating, detached and faulted ones do not. */
export function isAttached(volume: VolumeView): boolean {
  return ATTACHED_STATES.includes(volume.state);
}

/** `pvc-1 (attached on titan-04, healthy)`, with `not drained` when the node is known and still schedulable. */
export function describeVolume(volume: VolumeView, cordoned?: ReadonlySet<string>): string {
  const where = volume.node ? ` on ${volume.node}` : '';
  const drained = volume.node && cordoned && !cordoned.has(volume.node) ? ', node not drained' : '';
  const robustness = volume.robustness ? `, ${volume.robustness}` : '';
  return `${volume.name} (${volume.state}${where}${robustness}${drained})`;
}

async function attachedStatus(
  storage: StoragePort,
  namespace: string,
  nodes?: NodePort,
): Promise<{ done: boolean; status: string }> {
  const attached = (await storage.volumes(namespace)).filter(isAttached);
  if (attached.length === 0) return { done: true, status: `every Longhorn volume in ${namespace} is detached` };
  const cordoned = nodes ? new Set((await nodes.list()).filter((n) => n.unschedulable).map((n) => n.name)) : undefined;
  const list = attached.map((v) => describeVolume(v, cordoned)).join(', ');
  return { done: false, status: `${attached.length} Longhorn volume(s) still attached: ${list}` };
}

/**
 * Waits until every Longhorn volume in `params.namespace` is detached (kind `quiesce-storage`): Longhorn's advice for
 * a full-cluster shutdown is to stop the workloads and wait for their volumes to detach, and the drains before this
 * step stop the workloads on the workers. Time-boxed by `ctx.deadline`; past it, throws DeadlineExceededError naming
 * every volume still attached and its node. A cluster without Longhorn has no volumes and is done at once.
 */
export function quiesceStorage(storage: StoragePort, settings: QuiesceStorageSettings = {}): StepExecutor {
  const namespace = (params: Record<string, string>) => params.namespace ?? 'longhorn-system';
  const probe = (ns: string) => attachedStatus(storage, ns, settings.nodes);
  return {
    check: async (step) => (await probe(namespace(step.params))).done,
    apply: async () => {},
    wait: async (step, ctx) => {
      const ns = namespace(step.params);
      if (settings.dryRun) {
        const { status } = await probe(ns);
        return ctx.report(`${status} (dry run: not waiting)`);
      }
      await waitUntil(ctx, () => probe(ns), settings.intervalMs ?? 2_000);
      ctx.report(`Every Longhorn volume in ${ns} is detached`);
    },
  };
}
