import { parseDuration } from '../api/meta.js';
import type { PlanStep } from '../api/plan.js';
import { fluxSuspendSteps } from './flux-steps.js';
import type { CompileInput } from './input.js';
import { Stage, StepKind } from './stages.js';
import { humanList, nodesInOrder, seconds, step } from './step.js';

/**
 * Records the outage before anything changes, so that startup knows what to undo. The operator's own words
 * (`--reason`, `spec.reason`) come first in the recorded reason.
 */
export function recordOutageStep(input: CompileInput, what: string): PlanStep {
  const reason = input.reason ? `${input.reason}; ${what}` : what;
  return step({
    id: 'outage/record',
    stage: Stage.Outage,
    kind: StepKind.RecordOutage,
    title: 'Record the outage in the state file',
    targets: [input.paths.stateFile],
    why: 'Startup reads this record to undo exactly what this shutdown changes, and nothing else',
    params: { reason },
  });
}

function escalationText(input: CompileInput): string {
  const { escalation, timeout } = input.spec.drain;
  const ms = parseDuration(timeout);
  return escalation.map((level, i) => (i === 0 ? level : `${level} after ${formatMinutes(ms * i)}`)).join(' → ');
}

function formatMinutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`;
}

/** Every worker cordoned first, then one drain step per worker; the runner drains up to `parallelism` at once. */
export function drainSteps(input: CompileInput): PlanStep[] {
  const { drain } = input.spec;
  const timeout = parseDuration(drain.timeout);
  const bypass = drain.escalation.includes('disable-eviction');
  const workers = nodesInOrder(input.spec.nodes, 'worker');
  if (workers.length === 0) return [];
  const cordonAll = step({
    id: 'cordon/workers',
    stage: Stage.Drain,
    kind: StepKind.CordonNodes,
    title: `Cordon every worker: ${humanList(workers.map((n) => n.name))}`,
    targets: workers.map((n) => n.name),
    why: 'Before the first eviction: a pod evicted from one worker must not be rescheduled onto a worker drained later',
    blockers: ['a node cordoned by someone else is left out of the record: startup leaves it cordoned'],
    destructive: true,
    params: {},
  });
  const drains = workers.map((node) =>
    step({
      id: `drain/${node.name}`,
      stage: Stage.Drain,
      kind: StepKind.DrainNode,
      title: `Cordon and drain ${node.name}`,
      targets: [node.name],
      why: `Pods stop cleanly and flush their data before the node loses power (${drain.parallelism} workers at a time)`,
      blockers: [
        `PodDisruptionBudgets that allow no disruption: escalation ${escalationText(input)}`,
        bypass
          ? 'at "disable-eviction" pods are deleted without eviction: the only level that bypasses a PodDisruptionBudget'
          : 'escalation stops before "disable-eviction": a PodDisruptionBudget can block the shutdown',
        'pods with no controller are deleted only from the "force" level on (they are not recreated)',
        ...(drain.deleteEmptyDirData ? ['emptyDir data on the node is lost'] : []),
      ],
      destructive: true,
      timeoutSeconds: seconds(timeout * drain.escalation.length),
      params: { node: node.name, group: 'drain-workers', parallelism: String(drain.parallelism) },
    }),
  );
  return [cordonAll, ...drains];
}

export function storageStep(input: CompileInput): PlanStep[] {
  const { storage } = input.spec;
  if (!storage.longhorn) return [];
  return [
    step({
      id: 'storage/quiesce',
      stage: Stage.Storage,
      kind: StepKind.QuiesceStorage,
      title: 'Wait for every Longhorn volume to detach',
      targets: [`volumes.longhorn.io in ${storage.namespace}`],
      why: 'A volume still attached at power-off can come back faulted or need a replica rebuild',
      blockers: ['pods still using a volume on a node that is not drained (the control plane)'],
      timeoutSeconds: seconds(parseDuration(storage.detachTimeout)),
      params: { namespace: storage.namespace },
    }),
  ];
}

/**
 * Workers first, then the control plane; within a role by `order`, then name. The node Hecate itself runs on
 * (`selfNode`, when it is one of the plan's nodes) goes last whatever its role: its power-off is the last thing
 * Hecate does, after the final status is written.
 */
export function powerOffSteps(input: CompileInput, emergency: boolean): PlanStep[] {
  const { powerOff } = input.spec;
  const self = selfNodeOf(input);
  const workers = nodesInOrder(input.spec.nodes, 'worker');
  const controlPlane = nodesInOrder(input.spec.nodes, 'control-plane');
  const ordered = [...workers, ...controlPlane];
  const nodes = self ? [...ordered.filter((n) => n.name !== self), ...ordered.filter((n) => n.name === self)] : ordered;
  const command = powerOff.command.join(' ');
  const how = (address: string) =>
    ({
      ssh: `ssh ${powerOff.sshUser}@${address} ${command}`,
      'helper-pod': `a privileged helper pod runs ${command}`,
      none: 'by hand (method none)',
    })[powerOff.method];
  const reach = {
    ssh: 'the node must accept the SSH key',
    'helper-pod': 'the helper pod must be scheduled on the node (it tolerates every taint)',
    none: 'Hecate waits for the node to stop reporting',
  }[powerOff.method];
  const selfIsControlPlane = controlPlane.some((n) => n.name === self);
  const last = controlPlane[controlPlane.length - 1]?.name;
  const controlPlaneWhy = (name: string) => {
    if (selfIsControlPlane)
      return `Control-plane nodes go after the workers, in order; ${self}, where Hecate runs, stays up to the end`;
    return name === last
      ? 'The last control-plane node: the API goes away with it'
      : `Control-plane nodes go last, in order; ${last} stays up to the end`;
  };
  // Workers go down together (up to powerOff.parallelism at once); the control plane and Hecate's own node, in order.
  const together = workers.filter((n) => n.name !== self);
  const parallelism = String(Math.min(powerOff.parallelism ?? together.length, Math.max(together.length, 1)));
  const grouped = (name: string) => together.length > 1 && together.some((n) => n.name === name);
  const atOnce =
    parallelism === String(together.length) ? `all ${together.length} at once` : `${parallelism} at a time`;
  const workerWhy = emergency
    ? `No time to drain: the kubelet's graceful node shutdown stops the pods; workers go together (${atOnce})`
    : `Workers go first and together (${atOnce}), while the control plane still serves the API`;
  return nodes.map((node) =>
    step({
      id: `power-off/${node.name}`,
      stage: Stage.PowerOff,
      kind: StepKind.PowerOffNode,
      title: `Power off ${node.name} (${node.role}): ${how(node.address ?? node.name)}`,
      targets: [node.address ?? node.name],
      why:
        node.name === self
          ? `Hecate runs on ${self}: it is powered off last, after every other node and after the final status is written`
          : node.role === 'worker'
            ? workerWhy
            : controlPlaneWhy(node.name),
      blockers: [reach],
      destructive: true,
      params: {
        node: node.name,
        method: powerOff.method,
        role: node.role,
        ...(grouped(node.name) ? { group: POWER_OFF_WORKERS, parallelism } : {}),
      },
    }),
  );
}

/** The `params.group` of the worker power-offs, which the runner starts together. */
export const POWER_OFF_WORKERS = 'power-off-workers';

/**
 * A note for `powerOff.method: helper-pod` with three or more control-plane nodes: a helper pod needs the API, and
 * with embedded etcd (k3s servers) the API loses its quorum once a majority of the control plane is off, so the
 * power-offs after that point cannot start their helpers. Names the node whose power-off loses the quorum and the
 * nodes that could not be reached, in the compiled order (`steps`). Empty otherwise. Pure.
 */
export function quorumNotes(input: CompileInput, steps: readonly PlanStep[]): string[] {
  if (input.spec.powerOff.method !== 'helper-pod') return [];
  const powerOffs = steps.filter((s) => s.kind === StepKind.PowerOffNode);
  const controlPlane = powerOffs.filter((s) => s.params.role === 'control-plane');
  const n = controlPlane.length;
  if (n < 3) return [];
  const quorum = Math.floor(n / 2) + 1;
  const losing = controlPlane[n - quorum]; // the power-off that leaves fewer than `quorum` members up
  if (!losing) return [];
  const unreachable = powerOffs.slice(powerOffs.indexOf(losing) + 1).map((s) => s.params.node ?? s.id);
  return [
    `WARNING: powerOff.method helper-pod needs the API for every power-off, and the API loses its etcd quorum once ${n - quorum + 1} of the ${n} control-plane nodes are off (after ${losing.params.node ?? losing.id}): ${humanList(unreachable)} could not be reached. Use \`powerOff.method: ssh\`, which does not need the API`,
  ];
}

/** `input.selfNode` when it names one of the plan's nodes. */
export function selfNodeOf(input: CompileInput): string | undefined {
  const self = input.selfNode;
  return self !== undefined && input.spec.nodes.some((n) => n.name === self) ? self : undefined;
}

/** shutdown: record, suspend Flux, drain workers, quiesce storage, power off workers then control plane. */
export function compileShutdown(input: CompileInput): PlanStep[] {
  const workers = nodesInOrder(input.spec.nodes, 'worker').map((n) => n.name);
  return [
    recordOutageStep(input, `planned shutdown; workers ${humanList(workers)}`),
    ...fluxSuspendSteps(input, false),
    ...drainSteps(input),
    ...storageStep(input),
    ...powerOffSteps(input, false),
  ];
}
