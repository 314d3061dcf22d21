/**
 * One real worker beside the Atlas stand-ins, for the demo (and anyone who wants to watch a real kubelet go through
 * a power event): `titan-08`, a real kubelet + containerd + runc in a namespace of this machine (bed/real-node/),
 * tainted so that only what is meant for it lands there, running one Deployment of the bed's busybox that traps
 * SIGTERM (its log shows the drain's grace). The PowerPlan gains the node (a worker, amd64: the machine's own arch)
 * and the bed's helper image, which the real node holds (stand-ins ignore images).
 */
import { BED_IMAGES } from '../real-node/node.js';
import type { Scenario } from '../scenario.js';
import type { PlanNode } from './fleet.js';

export const REAL_WORKER = 'titan-08';
/** Keeps off a real node whatever is not meant for it (the stand-ins' images cannot run there). */
export const REAL_NODE_TAINT = { key: 'hecate.dev/real-node', value: 'true', effect: 'NoSchedule' } as const;

/** A scenario's real node (amd64: the machine's own arch), tainted with {@link REAL_NODE_TAINT}. */
export function realScenarioNode(name: string, role: 'worker' | 'control-plane'): Scenario['nodes'][number] {
  return {
    name,
    role,
    arch: 'amd64',
    labels: {},
    taints: [REAL_NODE_TAINT],
    capacity: { cpu: '2', memory: '4Gi', pods: 110 },
    images: [],
    real: true,
  };
}

/** The workload on the real worker: `edge/sensor`, one replica. */
export const REAL_WORKLOAD = { namespace: 'edge', name: 'sensor' } as const;

const SENSOR = [
  'sh',
  '-c',
  'trap \'echo "SIGTERM: flushing readings"; sleep 2; echo "stopped cleanly"; exit 0\' TERM; echo "sensor up on $(hostname)"; while :; do sleep 1 & wait $!; done',
];

export function withRealWorker(atlas: Scenario, name = REAL_WORKER): Scenario {
  if (atlas.nodes.some((n) => n.name === name)) throw new Error(`the scenario already has a node ${name}`);
  return {
    ...atlas,
    nodes: [...atlas.nodes, realScenarioNode(name, 'worker')],
    workloads: [
      ...atlas.workloads,
      {
        kind: 'Deployment',
        ...REAL_WORKLOAD,
        image: BED_IMAGES.busybox,
        command: SENSOR,
        labels: {},
        nodeSelector: { 'kubernetes.io/hostname': name },
        tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect }],
        emptyDir: false,
        terminationGracePeriodSeconds: 10,
        requests: { cpu: '10m', memory: '16Mi' },
        replicas: 1,
        pvcs: [],
        pvcSize: '1Gi',
      },
    ],
  };
}

/** The PowerPlan's entry for the real worker. */
export function realWorkerPlanNode(name = REAL_WORKER): PlanNode {
  return { name, role: 'worker', arch: 'amd64' };
}
