/**
 * The prepare preflight's checks: what would block or slow a shutdown, read from one snapshot of the cluster
 * (PodDisruptionBudgets, single-replica StatefulSets, unmanaged and emptyDir pods on workers, Longhorn volumes whose
 * only healthy replica is on a worker, nodes cordoned by someone else), and what could not be checked. Pure; the
 * `preflight` step in ./prepare.ts reports them and changes nothing.
 */
import type { PowerPlanSpec } from '../api/index.js';
import { isFinished, toDrainPod } from '../drain/pod.js';
import type { LonghornPlacement, PreflightSnapshot, ReplicaView } from '../ports/prepare.js';
import { ATTACHED_STATES } from './storage.js';

/**
 * Longhorn's own test of a healthy replica (longhorn-manager's datastore): not being deleted, `healthyAt` set (a
 * rebuilding or never-started replica has none) and `failedAt` empty. NOTE: for an attached volume Hecate also
 * asks for a running replica: a stopped or errored one is not serving the volume. A detached volume's replicas are
 * all stopped, and Longhorn keeps protecting the healthy ones, so for it they count.
 */
export function isHealthyReplica(replica: ReplicaView, volumeAttached: boolean): boolean {
  if (replica.deleting || replica.failedAt || !replica.healthyAt || !replica.node) return false;
  return !volumeAttached || !replica.state || replica.state === 'running';
}

/**
 * Longhorn volumes whose healthy replicas all sit on one worker of the plan: Longhorn's default node-drain policy
 * (block-if-contains-last-replica) keeps that node's instance-manager from being drained while the volume is in
 * use. A volume with a healthy replica on another node, or whose only one is on the control plane, is not named.
 */
export function lastReplicaFindings(placement: LonghornPlacement & { readable: true }, spec: PowerPlanSpec): string[] {
  const workers = new Set(spec.nodes.filter((n) => n.role === 'worker').map((n) => n.name));
  return [...placement.volumes]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((volume) => {
      const attached = ATTACHED_STATES.includes(volume.state);
      const healthy = placement.replicas.filter((r) => r.volume === volume.name && isHealthyReplica(r, attached));
      const nodes = [...new Set(healthy.map((r) => r.node))];
      const node = nodes[0];
      if (nodes.length !== 1 || node === undefined || !workers.has(node)) return [];
      const claim = volume.pvc ? ` (PVC ${volume.pvc.namespace}/${volume.pvc.name})` : '';
      const users = volume.workloads.length > 0 ? volume.workloads.join(', ') : 'no workload Longhorn knows of';
      return [
        `Longhorn volume ${volume.name}${claim} has its only healthy replica on worker ${node}: Longhorn refuses to drain ${node} (node drain policy block-if-contains-last-replica) until the volume detaches, so the storage quiesce has to stop what uses it: ${users}`,
      ];
    });
}

/**
 * What would block or slow a shutdown, from one read-only snapshot. Pure. Pods count only on the plan's workers
 * (the nodes that are drained); DaemonSet pods, mirror pods and finished pods are not drained and not reported.
 */
export function preflightFindings(snapshot: PreflightSnapshot, spec: PowerPlanSpec): string[] {
  const workers = new Set(spec.nodes.filter((n) => n.role === 'worker').map((n) => n.name));
  const planned = new Set(spec.nodes.map((n) => n.name));
  const findings: string[] = [];
  for (const pdb of snapshot.pdbs.filter((p) => p.disruptionsAllowed <= 0)) {
    const healthy =
      pdb.expectedPods !== undefined ? ` (${pdb.currentHealthy ?? 0} of ${pdb.expectedPods} healthy)` : '';
    findings.push(
      `PodDisruptionBudget ${pdb.namespace}/${pdb.name} allows no disruption now${healthy}: its pods yield only at "disable-eviction"`,
    );
  }
  for (const sts of snapshot.statefulSets.filter((s) => s.replicas === 1)) {
    findings.push(
      `StatefulSet ${sts.namespace}/${sts.name} has a single replica: it is unavailable while its node drains`,
    );
  }
  for (const raw of snapshot.pods) {
    const pod = toDrainPod(raw);
    if (!workers.has(pod.nodeName) || pod.isMirror || isFinished(pod) || pod.controller?.kind === 'DaemonSet') continue;
    const where = `${pod.namespace}/${pod.name} on ${pod.nodeName}`;
    if (!pod.controller)
      findings.push(`Pod ${where} has no controller: deleted only from the "force" level on, and not recreated`);
    if (pod.hasEmptyDir) findings.push(`Pod ${where} has emptyDir data: lost when the node drains`);
  }
  if (spec.storage.longhorn && snapshot.longhorn?.readable) {
    findings.push(...lastReplicaFindings(snapshot.longhorn, spec));
  }
  for (const node of snapshot.nodes.filter((n) => planned.has(n.name) && n.unschedulable && !n.cordonedBy)) {
    findings.push(`Node ${node.name} is already cordoned by someone else: startup leaves it cordoned`);
  }
  return findings;
}

/** What the preflight could not check, and why (e.g. a Longhorn without the Replica CRD). Pure. */
export function preflightUnchecked(snapshot: PreflightSnapshot, spec: PowerPlanSpec): string[] {
  if (!spec.storage.longhorn) return [];
  const longhorn = snapshot.longhorn ?? { readable: false, reason: 'not read' };
  if (longhorn.readable) return [];
  return [`which Longhorn volumes have their only healthy replica on a worker: ${longhorn.reason}`];
}
