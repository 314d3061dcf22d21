/**
 * What a helper pod's status says (done, failed with a reason, still running or pending), and how an image
 * reference compares with the names a node's status.images lists. Pure; ./helper-pod.ts polls with these.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { HELPER_CONTAINER } from './helper-pod-spec.js';

const PULL_ERRORS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'RegistryUnavailable',
]);
/** Exit codes of a process killed by SIGTERM or SIGKILL: the host's shutdown stopped the helper. */
const KILLED = new Set([137, 143]);

export type HelperState =
  | { kind: 'pending' }
  | { kind: 'running' }
  | { kind: 'done' }
  | { kind: 'failed'; message: string };

function containerOf(pod: V1Pod): V1ContainerStatus | undefined {
  return pod.status?.containerStatuses?.find((c) => c.name === HELPER_CONTAINER);
}

/**
 * What a power-off helper's status says. Pure.
 * - exit 0, or killed by SIGTERM/SIGKILL (the host's own shutdown): done;
 * - any other exit, a pull error, or a Failed pod that never ran (deadline, eviction): failed;
 * - running: the script is with the host. It stops k3s (the kubelet) first, so nothing more will be reported.
 */
export function powerOffHelperState(pod: V1Pod): HelperState {
  const c = containerOf(pod);
  const terminated = c?.state?.terminated;
  if (terminated) {
    if (terminated.exitCode === 0 || KILLED.has(terminated.exitCode)) return { kind: 'done' };
    const why = [terminated.reason, terminated.message].filter(Boolean).join(': ');
    return { kind: 'failed', message: `exit code ${terminated.exitCode}${why ? ` (${why})` : ''}` };
  }
  const waiting = c?.state?.waiting;
  if (waiting?.reason && PULL_ERRORS.has(waiting.reason)) {
    return { kind: 'failed', message: `${waiting.reason}: ${waiting.message ?? 'cannot pull the helper image'}` };
  }
  if (pod.status?.phase === 'Failed') {
    return { kind: 'failed', message: `${pod.status.reason ?? 'Failed'}: ${pod.status.message ?? 'never ran'}` };
  }
  return c?.state?.running ? { kind: 'running' } : { kind: 'pending' };
}

/** Whether an image helper shows the image on the node: a container that started means the image was there. */
export function imageHelperState(pod: V1Pod): HelperState {
  const c = containerOf(pod);
  if (c?.state?.running || c?.state?.terminated) return { kind: 'done' };
  const waiting = c?.state?.waiting;
  if (waiting?.reason && PULL_ERRORS.has(waiting.reason)) {
    return { kind: 'failed', message: `${waiting.reason}: ${waiting.message ?? 'pull failed'}` };
  }
  if (pod.status?.phase === 'Failed') {
    return { kind: 'failed', message: `${pod.status.reason ?? 'Failed'}: ${pod.status.message ?? 'never ran'}` };
  }
  return { kind: 'pending' };
}

/** `busybox:1.37` → `docker.io/library/busybox:1.37`, as containerd lists it in a node's status.images. */
export function normalizeImageRef(image: string): string {
  const [name = '', digest] = image.split('@');
  const first = name.split('/')[0] ?? '';
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  let full = hasRegistry ? name : name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
  if (!digest && !(full.split('/').pop() ?? '').includes(':')) full = `${full}:latest`;
  return digest ? `${full}@${digest}` : full;
}
