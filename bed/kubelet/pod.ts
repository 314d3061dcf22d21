/**
 * Pod status as a kubelet writes it (pure builders), and how the stand-in tells helper pods apart.
 */
import { createHash } from 'node:crypto';
import type { V1Pod, V1PodCondition } from '@kubernetes/client-node';
import { imageDigest, normalizeImage, rfc3339 } from './node.js';

export const KUBELET_ANNOTATIONS = {
  /** Run to completion with this exit code (marks a helper pod). */
  exitCode: 'bed.hecate.dev/exit-code',
  /** How long a helper runs before it exits, in seconds before the speed factor (default 1). */
  runSeconds: 'bed.hecate.dev/run-seconds',
  /** How long the app takes to exit on SIGTERM, in seconds before the speed factor (default: the grace period). */
  stopSeconds: 'bed.hecate.dev/stop-seconds',
  /** How long the containers take to start and turn ready, in seconds before the speed factor (default 0). */
  startSeconds: 'bed.hecate.dev/start-seconds',
  /** Comma-separated images this helper imports into the node's containerd when it succeeds. */
  importImages: 'bed.hecate.dev/import-images',
} as const;
export const HELPER_LABEL = 'hecate.dev/helper';

/** What a helper pod does; from the pod's annotations unless a test scripts it. */
export interface HelperOutcome {
  exitCode: number;
  /** Before the speed factor. */
  runSeconds?: number;
  /** Images present on the node after a successful run. */
  importImages?: string[];
}

/** Privileged node helpers run to completion: labelled, annotated with an exit code, or hostPID + restartPolicy Never. */
export function isHelperPod(pod: V1Pod): boolean {
  return (
    pod.metadata?.labels?.[HELPER_LABEL] === 'true' ||
    pod.metadata?.annotations?.[KUBELET_ANNOTATIONS.exitCode] !== undefined ||
    (pod.spec?.hostPID === true && pod.spec?.restartPolicy === 'Never')
  );
}

/** The helper's outcome from its annotations; a `pull <image>` in its command also leaves that image behind. */
export function helperOutcomeFromPod(pod: V1Pod): HelperOutcome {
  const annotations = pod.metadata?.annotations ?? {};
  const exitCode = Number.parseInt(annotations[KUBELET_ANNOTATIONS.exitCode] ?? '0', 10);
  const runSeconds = Number.parseFloat(annotations[KUBELET_ANNOTATIONS.runSeconds] ?? '1');
  const imports = (annotations[KUBELET_ANNOTATIONS.importImages] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const c of pod.spec?.containers ?? []) {
    const words = [...(c.command ?? []), ...(c.args ?? [])].flatMap((w) => w.split(/\s+/));
    const at = words.indexOf('pull');
    const image = at >= 0 ? words.slice(at + 1).find((w) => !w.startsWith('-')) : undefined;
    if (image) imports.push(image);
  }
  return {
    exitCode: Number.isNaN(exitCode) ? 0 : exitCode,
    runSeconds: Number.isNaN(runSeconds) ? 1 : runSeconds,
    importImages: imports,
  };
}

export function containerID(pod: V1Pod, container: string, restartCount: number): string {
  const hex = createHash('sha256').update(`${pod.metadata?.uid}/${container}/${restartCount}`).digest('hex');
  return `containerd://${hex}`;
}

type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** Keeps lastTransitionTime when a condition's status is unchanged. */
function conditions(pod: V1Pod, now: Date, wanted: [string, 'True' | 'False', string?][]): V1PodCondition[] {
  const before = pod.status?.conditions ?? [];
  return wanted.map(([type, status, reason]) => {
    const old = before.find((c) => c.type === type);
    const since = old && old.status === status ? old.lastTransitionTime : undefined;
    return {
      type,
      status,
      ...(reason ? { reason } : {}),
      lastTransitionTime: (since ?? rfc3339(now)) as unknown as Date,
    };
  });
}

export interface RunningInput {
  pod: V1Pod;
  now: Date;
  hostIP: string;
  podIP: string;
  restartCount: number;
  /** When the current containers started. */
  startedAt: Date;
  /** Set after a node reboot: the previous containers' end. */
  lastTerminatedAt?: Date;
}

/** Phase Running, every container started and ready. */
export function runningStatus(input: RunningInput) {
  const { pod, now } = input;
  const started = rfc3339(input.startedAt);
  return {
    phase: 'Running' as Phase,
    hostIP: input.hostIP,
    hostIPs: [{ ip: input.hostIP }],
    podIP: input.podIP,
    podIPs: [{ ip: input.podIP }],
    startTime: pod.status?.startTime ?? started,
    conditions: conditions(pod, now, [
      ['PodReadyToStartContainers', 'True'],
      ['Initialized', 'True'],
      ['Ready', 'True'],
      ['ContainersReady', 'True'],
      ['PodScheduled', 'True'],
    ]),
    initContainerStatuses: (pod.spec?.initContainers ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: `${normalizeImage(c.image ?? '')}@${imageDigest(c.image ?? '')}`,
      containerID: containerID(pod, c.name, 0),
      ready: true,
      started: false,
      restartCount: 0,
      state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: started, finishedAt: started } },
    })),
    containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: `${normalizeImage(c.image ?? '')}@${imageDigest(c.image ?? '')}`,
      containerID: containerID(pod, c.name, input.restartCount),
      ready: true,
      started: true,
      restartCount: input.restartCount,
      state: { running: { startedAt: started } },
      lastState: input.lastTerminatedAt
        ? {
            terminated: {
              exitCode: 255,
              reason: 'Unknown',
              startedAt: rfc3339(input.lastTerminatedAt),
              finishedAt: rfc3339(input.lastTerminatedAt),
              containerID: containerID(pod, c.name, input.restartCount - 1),
            },
          }
        : {},
    })),
  };
}

/** Every container exited (helper done, or killed on deletion); a terminal phase. */
export function terminatedStatus(pod: V1Pod, now: Date, exitCode: number, reason?: string) {
  const finished = rfc3339(now);
  const phase: Phase = exitCode === 0 ? 'Succeeded' : 'Failed';
  const why = reason ?? (exitCode === 0 ? 'Completed' : 'Error');
  return {
    phase,
    conditions: conditions(pod, now, [
      ['PodReadyToStartContainers', 'False'],
      ['Ready', 'False', 'PodCompleted'],
      ['ContainersReady', 'False', 'PodCompleted'],
    ]),
    containerStatuses: (pod.spec?.containers ?? []).map((c) => {
      const before = pod.status?.containerStatuses?.find((s) => s.name === c.name);
      const startedAt = before?.state?.running?.startedAt;
      return {
        name: c.name,
        image: c.image,
        imageID: before?.imageID ?? `${normalizeImage(c.image ?? '')}@${imageDigest(c.image ?? '')}`,
        containerID: before?.containerID ?? containerID(pod, c.name, 0),
        ready: false,
        started: false,
        restartCount: before?.restartCount ?? 0,
        state: {
          terminated: {
            exitCode,
            reason: why,
            startedAt: startedAt ? rfc3339(new Date(startedAt)) : finished,
            finishedAt: finished,
            containerID: before?.containerID ?? containerID(pod, c.name, 0),
          },
        },
      };
    }),
  };
}

/** Stuck pulling: Pending, containers waiting with ErrImagePull / ImagePullBackOff. */
export function pullFailedStatus(pod: V1Pod, now: Date, hostIP: string, image: string, backOff: boolean) {
  const reason = backOff ? 'ImagePullBackOff' : 'ErrImagePull';
  return {
    phase: 'Pending' as Phase,
    hostIP,
    hostIPs: [{ ip: hostIP }],
    startTime: pod.status?.startTime ?? rfc3339(now),
    conditions: conditions(pod, now, [
      ['PodReadyToStartContainers', 'True'],
      ['Initialized', 'True'],
      ['Ready', 'False', 'ContainersNotReady'],
      ['ContainersReady', 'False', 'ContainersNotReady'],
      ['PodScheduled', 'True'],
    ]),
    containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: '',
      ready: false,
      started: false,
      restartCount: 0,
      state: {
        waiting: {
          reason,
          message:
            normalizeImage(c.image ?? '') === normalizeImage(image)
              ? `Back-off pulling image "${c.image}": failed to pull and unpack image "${normalizeImage(image)}": failed to resolve reference: connection refused`
              : undefined,
        },
      },
    })),
  };
}

/** Running with every container ready: nothing for the kubelet to do. */
export function isRunningAndReady(pod: V1Pod): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const containers = pod.status?.containerStatuses ?? [];
  return (
    pod.status?.phase === 'Running' &&
    ready?.status === 'True' &&
    containers.length === (pod.spec?.containers ?? []).length &&
    containers.every((c) => c.ready && c.state?.running)
  );
}
