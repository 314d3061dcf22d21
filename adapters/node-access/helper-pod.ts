/**
 * NodeAccessPort through helper pods: a pod pinned to the node (nodeName, every taint tolerated), owner-labelled so
 * that a rerun finds and removes what a crashed run left behind. Power-off runs privileged with hostPID and enters
 * PID 1's namespaces with nsenter; the image pre-pull runs the image itself, unprivileged.
 */
import { CoreV1Api, type KubeConfig, type V1ContainerStatus, type V1Pod } from '@kubernetes/client-node';
import type { Clock, MutationOptions, NodeAccessPort, NodeAddress } from '../../core/ports.js';
import { isConflict, isNotFound } from '../kube/errors.js';
import { systemClock } from '../system.js';
import { type PowerOffScriptOptions, powerOffArgv } from './power-off-script.js';

export const HELPER_LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  /** What the helper does: `power-off`, `prepull`... */
  purpose: 'hecate.dev/helper',
  node: 'hecate.dev/node',
} as const;
export const MANAGED_BY = 'hecate';
export const DEFAULT_HELPER_NAMESPACE = 'hecate-system';
const CONTAINER = 'helper';

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
      generateName: `${name}-`,
      namespace: input.namespace,
      labels: {
        [HELPER_LABELS.managedBy]: MANAGED_BY,
        [HELPER_LABELS.purpose]: input.purpose,
        [HELPER_LABELS.node]: input.node,
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
          name: CONTAINER,
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
  return pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
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

export class HelperPodError extends Error {
  override readonly name = 'HelperPodError';
}

export interface HelperPodOptions {
  /** The PowerPlan's helperImage: runs nsenter for the power-off. */
  helperImage: string;
  /** Default hecate-system; created when missing. */
  namespace?: string;
  /** How long a helper may take to start (pull, admission) before it counts as failed (default 120 s). */
  startTimeoutMs?: number;
  /** A running power-off helper that has not failed within this time is taken as delivered (default 5 s). */
  settleMs?: number;
  /** How long an image pull may take (default 300 s). */
  pullTimeoutMs?: number;
  pollMs?: number;
  script?: PowerOffScriptOptions;
  clock?: Clock;
}

/** NodeAccessPort with helper pods. */
export class HelperPodAccess implements NodeAccessPort {
  private readonly core: CoreV1Api;
  private readonly namespace: string;
  private readonly clock: Clock;
  private namespaceReady = false;

  constructor(
    kc: KubeConfig,
    private readonly options: HelperPodOptions,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.namespace = options.namespace ?? DEFAULT_HELPER_NAMESPACE;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Runs the power-off script on the host. Resolves when the helper exited 0 (or was killed by the shutdown), when
   * it has run for `settleMs` without failing, or when the node stopped being Ready; the pod then stays (deleting it
   * would kill the script) and the next run's cleanup removes it. Rejects when the helper failed or never started.
   */
  async powerOff(node: NodeAddress, command: readonly string[], options: MutationOptions = {}): Promise<void> {
    const spec = helperPodSpec({
      purpose: 'power-off',
      node: node.name,
      namespace: this.namespace,
      image: this.options.helperImage,
      command: powerOffHelperCommand(command, this.options.script),
      privileged: true,
      activeDeadlineSeconds: 600,
    });
    if (!(await this.nodeReady(node.name))) {
      throw new HelperPodError(`${node.name} is not Ready: a helper pod cannot run there (power it off another way)`);
    }
    const pod = await this.start(spec, options);
    if (!pod) return;
    const started = this.clock.now().getTime();
    let runningSince: number | undefined;
    for (;;) {
      const current = await this.read(pod);
      const state = current ? powerOffHelperState(current) : { kind: 'failed' as const, message: 'deleted' };
      if (state.kind === 'failed') {
        await this.delete(pod);
        throw new HelperPodError(`power-off helper ${pod} on ${node.name} failed: ${state.message}`);
      }
      if (state.kind === 'done') return this.delete(pod);
      const now = this.clock.now().getTime();
      if (state.kind === 'running') runningSince ??= now;
      if (runningSince !== undefined && now - runningSince >= (this.options.settleMs ?? 5_000)) return;
      if (!(await this.nodeReady(node.name))) return;
      if (runningSince === undefined && now - started > (this.options.startTimeoutMs ?? 120_000)) {
        await this.delete(pod);
        throw new HelperPodError(`power-off helper ${pod} did not start on ${node.name} in time`);
      }
      await this.clock.sleep(this.options.pollMs ?? 1_000, options.signal);
    }
  }

  /** Present when the node's status.images lists the image, or a pod with the image started there. */
  async ensureImage(
    node: NodeAddress,
    image: string,
    options: MutationOptions = {},
  ): Promise<{ present: boolean; message?: string }> {
    if (await this.nodeHasImage(node.name, image)) return { present: true, message: 'already on the node' };
    const spec = helperPodSpec({
      purpose: 'prepull',
      node: node.name,
      namespace: this.namespace,
      image,
      command: ['true'],
      privileged: false,
      activeDeadlineSeconds: Math.ceil((this.options.pullTimeoutMs ?? 300_000) / 1000) + 60,
    });
    const pod = await this.start(spec, options);
    if (!pod) return { present: false, message: 'dry run: the helper pod was accepted' };
    try {
      return await this.waitForImage(pod, node.name, image, options.signal);
    } finally {
      await this.delete(pod);
    }
  }

  /** Deletes every helper (of one purpose, on one node) left by an earlier run; returns how many. */
  async removeHelpers(purpose?: string, node?: string): Promise<number> {
    const list = await this.core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: helperSelector(purpose, node),
    });
    for (const pod of list.items) await this.delete(pod.metadata?.name ?? '');
    return list.items.length;
  }

  private async waitForImage(pod: string, node: string, image: string, signal?: AbortSignal) {
    const deadline = this.clock.now().getTime() + (this.options.pullTimeoutMs ?? 300_000);
    for (;;) {
      const current = await this.read(pod);
      const state = current ? imageHelperState(current) : { kind: 'failed' as const, message: 'deleted' };
      if (state.kind === 'done') return { present: true, message: 'pulled' };
      if (await this.nodeHasImage(node, image)) return { present: true, message: 'pulled' };
      if (state.kind === 'failed') return { present: false, message: state.message };
      if (this.clock.now().getTime() > deadline) return { present: false, message: 'timed out waiting for the pull' };
      await this.clock.sleep(this.options.pollMs ?? 1_000, signal);
    }
  }

  /** Removes the node's stale helpers of this purpose, then creates the pod; its name, or undefined in a dry run. */
  private async start(spec: V1Pod, options: MutationOptions): Promise<string | undefined> {
    const labels = spec.metadata?.labels ?? {};
    if (!(await this.ensureNamespace(options))) return undefined; // dry run, namespace to be created: nothing to try
    if (!options.dryRun) await this.removeHelpers(labels[HELPER_LABELS.purpose], labels[HELPER_LABELS.node]);
    const created = await this.core.createNamespacedPod({
      namespace: this.namespace,
      body: spec,
      ...(options.dryRun ? { dryRun: 'All' } : {}),
    });
    return options.dryRun ? undefined : created.metadata?.name;
  }

  /** Creates the namespace when missing; false in a dry run where it is missing (nothing can be created in it). */
  private async ensureNamespace(options: MutationOptions): Promise<boolean> {
    if (this.namespaceReady) return true;
    try {
      await this.core.readNamespace({ name: this.namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const body = { metadata: { name: this.namespace, labels: { [HELPER_LABELS.managedBy]: MANAGED_BY } } };
      await this.core
        .createNamespace({ body, ...(options.dryRun ? { dryRun: 'All' } : {}) })
        .catch((e: unknown) => (isConflict(e) ? undefined : Promise.reject(e)));
      if (options.dryRun) return false;
    }
    await this.waitForDefaultServiceAccount(options.signal);
    this.namespaceReady = true;
    return true;
  }

  /** Pod admission needs the namespace's `default` ServiceAccount, which a controller creates just after it. */
  private async waitForDefaultServiceAccount(signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < 60; i++) {
      try {
        await this.core.readNamespacedServiceAccount({ name: 'default', namespace: this.namespace });
        return;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      await this.clock.sleep(500, signal);
    }
    throw new HelperPodError(`namespace ${this.namespace} has no default ServiceAccount after 30 s`);
  }

  private async read(name: string): Promise<V1Pod | undefined> {
    try {
      return await this.core.readNamespacedPod({ name, namespace: this.namespace });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async delete(name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: 0 });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private async nodeReady(name: string): Promise<boolean> {
    try {
      const node = await this.core.readNode({ name });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  private async nodeHasImage(name: string, image: string): Promise<boolean> {
    const wanted = normalizeImageRef(image);
    const node = await this.core.readNode({ name });
    return (node.status?.images ?? []).some((i) => (i.names ?? []).some((n) => normalizeImageRef(n) === wanted));
  }
}
