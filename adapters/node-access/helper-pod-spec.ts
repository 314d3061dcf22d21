/**
 * The helper pod Hecate creates on a node, as plain data: pinned to the node (nodeName, every taint tolerated) and
 * owner-labelled, so that a rerun finds and removes what a crashed run left behind. The power-off helper runs
 * privileged with hostPID and enters PID 1's namespaces with nsenter; the image pre-pull runs the image itself,
 * unprivileged. Pure; ./helper-pod.ts runs and removes these pods.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { HELPER_LABELS, MANAGED_BY } from '../../core/api/meta.js';
import { isBootId, type PowerOffScriptOptions, powerOffArgv } from './power-off-script.js';

export { HELPER_LABELS, MANAGED_BY };

export const DEFAULT_HELPER_NAMESPACE = 'hecate-system';
/** The one container of every helper pod. */
export const HELPER_CONTAINER = 'helper';

export interface HelperPodInput {
  purpose: string;
  node: string;
  namespace: string;
  image: string;
  command: readonly string[];
  /** privileged + hostPID + the host's root at /host; false: an unprivileged pod that only runs the image. */
  privileged: boolean;
  /** The kubelet fails the pod after this long (while the kubelet still runs). */
  activeDeadlineSeconds: number;
  /**
   * The boot the helper is meant for (see isBootId): a label, and the pod's name instead of a generated one, so that
   * two runs making the same request meet on one pod (the second create is refused with AlreadyExists).
   */
  bootId?: string | undefined;
}

/** Label selector of the helpers for one purpose, on one node or on all. */
export function helperSelector(purpose?: string, node?: string): string {
  return [
    `${HELPER_LABELS.managedBy}=${MANAGED_BY}`,
    ...(purpose ? [`${HELPER_LABELS.purpose}=${purpose}`] : [`${HELPER_LABELS.purpose}`]),
    ...(node ? [`${HELPER_LABELS.node}=${node}`] : []),
  ].join(',');
}

/**
 * The helper pod, minimal and explicit. Pure.
 * NOTE: `nodeName` bypasses the scheduler, so NoSchedule taints do not apply; the `Exists` toleration keeps the
 * taint manager from evicting it from a NoExecute-tainted node (e.g. unreachable while it powers off).
 */
export function helperPodSpec(input: HelperPodInput): V1Pod {
  const name = `hecate-${input.purpose}-${input.node}`.slice(0, 200).replace(/[^a-z0-9-.]/g, '-');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(isBootId(input.bootId)
        ? { name: `${name}-${input.bootId.slice(0, 8).toLowerCase()}` }
        : { generateName: `${name}-` }),
      namespace: input.namespace,
      labels: {
        [HELPER_LABELS.managedBy]: MANAGED_BY,
        [HELPER_LABELS.purpose]: input.purpose,
        [HELPER_LABELS.node]: input.node,
        ...(isBootId(input.bootId) ? { [HELPER_LABELS.bootId]: input.bootId } : {}),
      },
    },
    spec: {
      nodeName: input.node,
      restartPolicy: 'Never',
      activeDeadlineSeconds: input.activeDeadlineSeconds,
      terminationGracePeriodSeconds: 5,
      tolerations: [{ operator: 'Exists' }],
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(input.privileged ? { hostPID: true } : {}),
      containers: [
        {
          name: HELPER_CONTAINER,
          image: input.image,
          imagePullPolicy: 'IfNotPresent',
          command: [...input.command],
          securityContext: input.privileged
            ? { privileged: true }
            : { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          ...(input.privileged ? { volumeMounts: [{ name: 'host', mountPath: '/host' }] } : {}),
          resources: { requests: { cpu: '10m', memory: '16Mi' } },
        },
      ],
      ...(input.privileged ? { volumes: [{ name: 'host', hostPath: { path: '/', type: 'Directory' } }] } : {}),
    },
  };
}

/** `nsenter` into PID 1's mount, UTS, IPC, network and PID namespaces, then the power-off script. */
export function powerOffHelperCommand(command: readonly string[], script: PowerOffScriptOptions = {}): string[] {
  return ['nsenter', '-t', '1', '-m', '-u', '-i', '-n', '-p', '--', ...powerOffArgv(command, script)];
}
