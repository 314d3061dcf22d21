/**
 * Pods where the capture found them. The replay's scheduler places a workload's pods anew, and a drain's escalations
 * depend on which node holds which pod (a PodDisruptionBudget blocks the drain of the nodes its pods are on), so
 * after the replay converges each Deployment's and StatefulSet's pods are moved to the captured nodes: with every
 * other node cordoned, a pod on a node that holds more of them than captured is deleted, and its replacement can
 * only land on a node that holds fewer. A workload whose placement cannot be reproduced (its captured node cannot
 * take the pod) is listed, not forced.
 */
import { CoreV1Api, type KubeConfig, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import type { CapturedObject, DrillCapture } from '../../core/api/index.js';
import { WORKLOAD_LABEL } from '../scenario.js';
import type { Scenario } from '../scenario-schema.js';
import { eventually } from '../simulators.js';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** `Kind/namespace/name` of a captured pod's controlling workload (through its ReplicaSet for a Deployment). */
function workloadOf(pod: CapturedObject, replicaSets: Map<string, CapturedObject>): string | undefined {
  const owner = pod.metadata.ownerReferences?.find((r) => r.controller);
  if (!owner) return undefined;
  const ns = pod.metadata.namespace ?? '';
  if (owner.kind === 'ReplicaSet') {
    const deployment = replicaSets.get(`${ns}/${owner.name}`)?.metadata.ownerReferences?.find((r) => r.controller);
    return deployment?.kind === 'Deployment' ? `Deployment/${ns}/${deployment.name}` : undefined;
  }
  return owner.kind === 'StatefulSet' ? `StatefulSet/${ns}/${owner.name}` : undefined;
}

/** The captured nodes of each Deployment's and StatefulSet's pods, one entry per pod. */
export function capturedPlacement(capture: DrillCapture): Map<string, string[]> {
  const replicaSets = new Map(
    capture.objects
      .filter((o) => o.kind === 'ReplicaSet')
      .map((o) => [`${o.metadata.namespace ?? ''}/${o.metadata.name}`, o] as const),
  );
  const placement = new Map<string, string[]>();
  for (const pod of capture.objects.filter((o) => o.kind === 'Pod')) {
    const workload = workloadOf(pod, replicaSets);
    const node = (pod.spec as { nodeName?: unknown } | undefined)?.nodeName;
    if (!workload || typeof node !== 'string' || node === '') continue;
    placement.set(workload, [...(placement.get(workload) ?? []), node]);
  }
  return placement;
}

/** How many of `nodes` each node holds. */
function counts(nodes: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of nodes) out.set(n, (out.get(n) ?? 0) + 1);
  return out;
}

/**
 * Moves pods until each workload's pods are on its captured nodes (at most one move per pod); returns the workloads
 * it could not place so, one line each.
 */
export async function placeAsCaptured(
  kc: KubeConfig,
  scenario: Scenario,
  placement: Map<string, string[]>,
  log: (line: string) => void,
): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const notPlaced: string[] = [];
  const nodes = scenario.nodes.map((n) => n.name);
  let moves = 0;
  for (const w of scenario.workloads) {
    const key = `${w.kind}/${w.namespace}/${w.name}`;
    const wanted = placement.get(key);
    if (w.kind === 'DaemonSet' || !wanted) continue;
    const livePods = async (): Promise<V1Pod[]> =>
      (
        await core.listNamespacedPod({ namespace: w.namespace, labelSelector: `${WORKLOAD_LABEL}=${w.name}` })
      ).items.filter((p) => !p.metadata?.deletionTimestamp);
    for (let attempt = 0; attempt < wanted.length; attempt++) {
      const pods = await livePods();
      const have = counts(pods.map((p) => p.spec?.nodeName ?? ''));
      const want = counts(wanted);
      const surplus = pods.find(
        (p) => (have.get(p.spec?.nodeName ?? '') ?? 0) > (want.get(p.spec?.nodeName ?? '') ?? 0),
      );
      const deficit = [...want].filter(([n, c]) => (have.get(n) ?? 0) < c).map(([n]) => n);
      if (!surplus || deficit.length === 0) break;
      const fenced = nodes.filter((n) => !deficit.includes(n));
      const before = new Set(pods.map((p) => p.metadata?.uid));
      try {
        for (const n of fenced) await core.patchNode({ name: n, body: { spec: { unschedulable: true } } }, MERGE);
        await core.deleteNamespacedPod({
          namespace: w.namespace,
          name: surplus.metadata?.name ?? '',
          gracePeriodSeconds: 0,
        });
        await eventually(
          `a new pod of ${key} on ${deficit.join(' or ')}`,
          async () =>
            (await livePods()).some((p) => !before.has(p.metadata?.uid) && deficit.includes(p.spec?.nodeName ?? '')),
          { timeoutMs: 20_000 },
        );
        moves++;
      } catch {
        notPlaced.push(`${key}: its pods could not be put back on ${deficit.join(', ')} as captured`);
        break;
      } finally {
        for (const n of fenced) await core.patchNode({ name: n, body: { spec: { unschedulable: null } } }, MERGE);
      }
    }
  }
  if (moves > 0) log(`Moved ${moves} pod(s) to the nodes the capture found them on`);
  return notPlaced;
}
