/**
 * Kubelet stand-in, in the spirit of kwok: one process plays every node's kubelet against the real API server.
 *
 * - Registers each Node (k3s labels, taints, capacity) and keeps its Lease and Ready heartbeat fresh.
 * - Runs pods bound to its nodes: Pending → Running with ready containers (after `bed.hecate.dev/start-seconds`
 *   when annotated), pod IPs from 10.42.<node>.0/24; records
 *   pulled images per node (status.images); a pod whose image cannot be pulled (`canPull`) waits in
 *   ImagePullBackOff.
 * - Graceful deletion: a pod with a deletionTimestamp is killed after its grace period (divided by `speed`),
 *   given a terminal status, then deleted with gracePeriodSeconds 0 as the kubelet does.
 * - Helper pods (see `isHelperPod`) run to completion with a scripted exit code.
 * - powerOff(node): heartbeats, lease renewals and pod updates stop, so the real node-lifecycle controller marks
 *   the node NotReady/Unknown and taints it. powerOn(node): heartbeats resume; the containers restart
 *   (restartCount + 1), terminating pods finish, helpers that were running fail.
 */
import { randomUUID } from 'node:crypto';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { withRequestTimeout } from '../../adapters/kube/request-timeout.js';
import { bootIdOf, POWER_OFF_MARKER } from '../../adapters/node-access/power-off-script.js';
import { KeyQueue, Watched } from '../informer.js';
import {
  hostIP,
  type KubeletNodeSpec,
  leaseObject,
  type NodeState,
  newNodeState,
  nodeObject,
  nodeStatus,
  normalizeImage,
} from './node.js';
import {
  type HelperOutcome,
  helperOutcomeFromPod,
  isHelperPod,
  isRunningAndReady,
  KUBELET_ANNOTATIONS,
  pullFailedStatus,
  runningStatus,
  terminatedStatus,
} from './pod.js';

export * from './node.js';
export * from './pod.js';

export interface KubeletOptions {
  /**
   * Each boot's ID, as the kubelet reports it (default a random UUID per boot). A test whose hosts are this machine
   * (its SSH transport goes to a loopback sshd) gives this machine's, which the power-off script's boot guard reads.
   */
  bootId?: () => string;
  /** Time compression for grace periods, helper run times and back-offs: speed 10 turns 30 s into 3 s. */
  speed?: number;
  /** Lease renewal period (default 1500 ms): what the node lifecycle controller reads as the node's heartbeat. */
  heartbeatMs?: number;
  /**
   * How often an unchanged node status is posted again (default 10 s, the kubelet's nodeStatusUpdateFrequency); a
   * changed one (conditions, images, a boot) is posted at the next heartbeat. A status patch on every heartbeat
   * would wake every Node watcher (scheduler, controllers, Hecate) each time: with 200 nodes that saturates the bed.
   */
  statusReportMs?: number;
  /** Whether `image` can be pulled onto `node` now (default: always). Absent images that cannot wait in ImagePullBackOff. */
  canPull?: (image: string, node: string) => boolean;
  /**
   * A helper whose command holds Hecate's power-off marker (the real script stops k3s, then powers the host off)
   * pulls the plug on its node this long after it starts running, in ms before the speed factor; its container
   * never reports an exit, as on a real host. Default: off (such a helper runs like any other).
   */
  powerOffHelperMs?: number;
  /** Overrides a helper pod's annotations (tests script Hecate's own helper pods with this). */
  helperScript?: (pod: V1Pod) => HelperOutcome | undefined;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

interface NodeRuntime extends NodeState {
  on: boolean;
  uid?: string;
  heartbeating: boolean;
  nextPodIP: number;
  /** When the node last went down, for the restarted containers' lastState. */
  downAt?: Date;
  /** The last status posted, without its heartbeat times, and when: an unchanged one waits for `statusReportMs`. */
  posted?: { status: string; at: number };
}

interface PodRuntime {
  restartCount: number;
  startedAt: Date;
  lastTerminatedAt?: Date;
  /** Killing: when the containers are gone. */
  killAt?: number;
  /** Helper: when it exits. */
  exitAt?: number;
  /** The node's boot this pod's containers started in. */
  bootID: string;
  /** Whether this run's Running status has been written. */
  posted?: boolean;
}

const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const STRATEGIC = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** How long one heartbeat request may take (the kubelet's own heartbeat client is bounded too). */
const HEARTBEAT_TIMEOUT_MS = 5_000;

export class KubeletStandIn {
  private readonly core: CoreV1Api;
  /** The heartbeat's own clients, whose requests give up after {@link HEARTBEAT_TIMEOUT_MS}. */
  private readonly beatCore: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly nodes = new Map<string, NodeRuntime>();
  private readonly pods = new Map<string, PodRuntime>();
  /** When a pod with a start delay was first seen on a running node, by uid. */
  private readonly starting = new Map<string, number>();
  private readonly queue: KeyQueue;
  private readonly informer: Watched<V1Pod>;
  private readonly speed: number;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;
  private helperScript: KubeletOptions['helperScript'];

  private constructor(
    kubeConfig: KubeConfig,
    specs: readonly KubeletNodeSpec[],
    private readonly options: KubeletOptions,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    // NOTE: a kubelet bounds its heartbeats: a request the API server took as it was killed may never be answered,
    // and one hung beat would stop the node's heartbeats for good (NotReady until the bed stops)
    const beats = new KubeConfig();
    beats.loadFromString(kubeConfig.exportConfig());
    withRequestTimeout(beats, HEARTBEAT_TIMEOUT_MS);
    this.beatCore = beats.makeApiClient(CoreV1Api);
    this.coordination = beats.makeApiClient(CoordinationV1Api);
    this.speed = options.speed ?? 1;
    this.helperScript = options.helperScript;
    const now = new Date();
    specs.forEach((spec, index) => {
      const state = newNodeState(spec, index, now, this.options.bootId?.());
      this.nodes.set(spec.name, { ...state, on: true, heartbeating: false, nextPodIP: 2 });
    });
    this.queue = new KeyQueue((key) => this.syncPod(key), {
      concurrency: 4,
      retryMs: 500,
      onError: (key, error) => options.log?.('Pod sync failed', { pod: key, error: String(error) }),
    });
    this.informer = new Watched<V1Pod>(kubeConfig, {
      name: 'pods',
      path: '/api/v1/pods',
      list: () => this.core.listPodForAllNamespaces(),
      onChange: (pod, deleted) => {
        const key = podKey(pod);
        if (deleted) this.pods.delete(pod.metadata?.uid ?? '');
        if (deleted) this.starting.delete(pod.metadata?.uid ?? '');
        else if (this.nodes.has(pod.spec?.nodeName ?? '')) this.queue.add(key);
      },
      log: options.log,
    });
  }

  /** Registers the nodes, posts their first heartbeat and starts running their pods. */
  static async start(
    kubeConfig: KubeConfig,
    nodes: readonly KubeletNodeSpec[],
    options: KubeletOptions = {},
  ): Promise<KubeletStandIn> {
    const kubelet = new KubeletStandIn(kubeConfig, nodes, options);
    await Promise.all([...kubelet.nodes.values()].map((node) => kubelet.register(node)));
    await Promise.all([...kubelet.nodes.values()].map((node) => kubelet.beat(node)));
    kubelet.heartbeat = setInterval(() => {
      for (const node of kubelet.nodes.values()) if (node.on && !node.heartbeating) void kubelet.beat(node);
    }, options.heartbeatMs ?? 1_500);
    await kubelet.informer.start();
    return kubelet;
  }

  get nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  isOn(node: string): boolean {
    return this.node(node).on;
  }

  /** Pulls the plug: no more heartbeats, lease renewals or pod updates from this node. */
  async powerOff(node: string): Promise<void> {
    const runtime = this.node(node);
    if (!runtime.on) return;
    runtime.on = false;
    runtime.downAt = new Date();
    this.options.log?.('Node powered off', { node });
  }

  /** Boots the node: new boot ID, Ready again at once, its pods' containers restarted. */
  async powerOn(node: string): Promise<void> {
    const runtime = this.node(node);
    if (runtime.on) return;
    const now = new Date();
    runtime.on = true;
    runtime.bootID = this.options.bootId?.() ?? randomUUID();
    runtime.readySince = now.toISOString().replace(/\.\d+Z$/, 'Z');
    runtime.posted = undefined; // a booted kubelet posts its status at once
    this.options.log?.('Node powered on', { node });
    await this.beat(runtime);
    for (const pod of this.informer.list()) if (pod.spec?.nodeName === node) this.queue.add(podKey(pod));
  }

  /** Images in the node's containerd. */
  images(node: string): string[] {
    return [...this.node(node).images].sort();
  }

  /** Puts images into the node's containerd (an import), reported with the next heartbeat. */
  async addImages(node: string, images: readonly string[]): Promise<void> {
    const runtime = this.node(node);
    for (const image of images) runtime.images.add(normalizeImage(image));
    if (runtime.on) await this.beat(runtime);
  }

  removeImages(node: string, images: readonly string[]): void {
    const runtime = this.node(node);
    for (const image of images) runtime.images.delete(normalizeImage(image));
  }

  setHelperScript(script: KubeletOptions['helperScript']): void {
    this.helperScript = script;
  }

  /** Stops heartbeats and pod handling; the Node objects stay (like kubelets that stopped). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.queue.close();
    await this.informer.stop();
  }

  private node(name: string): NodeRuntime {
    const runtime = this.nodes.get(name);
    if (!runtime) throw new Error(`The kubelet stand-in has no node named ${name}`);
    return runtime;
  }

  private async register(node: NodeRuntime): Promise<void> {
    const body = nodeObject(node, new Date());
    try {
      const created = await this.core.createNode({ body: body as unknown as V1Node }); // timestamps as strings: passed through
      node.uid = created.metadata?.uid;
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 409)) throw error;
      const existing = await this.core.patchNode(
        { name: node.spec.name, body: { metadata: { labels: body.metadata.labels } } },
        MERGE,
      );
      node.uid = existing.metadata?.uid;
    }
  }

  private async beat(node: NodeRuntime): Promise<void> {
    if (this.stopped) return;
    node.heartbeating = true;
    const now = new Date();
    try {
      const name = node.spec.name;
      const status = nodeStatus(node, now);
      const unchanged = JSON.stringify(nodeStatus(node, new Date(0)));
      const due =
        node.posted?.status !== unchanged || now.getTime() - node.posted.at >= (this.options.statusReportMs ?? 10_000);
      await Promise.all([
        this.coordination.patchNamespacedLease(
          {
            name,
            namespace: 'kube-node-lease',
            body: leaseObject(name, node.uid, now),
            fieldManager: 'kubelet',
            force: true,
          },
          APPLY,
        ),
        due
          ? this.beatCore.patchNodeStatus({ name, body: { status } }, STRATEGIC).then(() => {
              node.posted = { status: unchanged, at: now.getTime() };
            })
          : undefined,
      ]);
    } catch (error) {
      this.options.log?.('Heartbeat failed', { node: node.spec.name, error: String(error) });
    } finally {
      node.heartbeating = false;
    }
  }

  private async syncPod(key: string): Promise<void> {
    if (this.stopped) return;
    const [namespace = '', name = ''] = key.split('/');
    const pod = this.informer.get(name, namespace);
    const node = pod && this.nodes.get(pod.spec?.nodeName ?? '');
    if (!pod || !node?.on) return;
    const uid = pod.metadata?.uid ?? '';
    const phase = pod.status?.phase;
    let runtime = this.pods.get(uid);
    if (runtime && runtime.bootID !== node.bootID) runtime = this.rebooted(pod, runtime, node);
    if (pod.metadata?.deletionTimestamp) return this.kill(pod, node, runtime);
    if (phase === 'Succeeded' || phase === 'Failed') return;
    if (isHelperPod(pod)) return this.runHelper(pod, node, runtime);
    if (runtime?.posted && isRunningAndReady(pod)) return;
    if (!runtime && isRunningAndReady(pod)) {
      // a stand-in restarted under a running pod: adopt it
      this.pods.set(uid, { restartCount: 0, startedAt: new Date(), bootID: node.bootID, posted: true });
      return;
    }
    if (!runtime && this.startDelayLeft(pod) > 0) return this.queue.addAfter(key, this.startDelayLeft(pod));
    if (!(await this.pull(pod, node))) return;
    runtime ??= { restartCount: 0, startedAt: new Date(), bootID: node.bootID };
    this.pods.set(uid, runtime);
    await this.patchStatus(
      pod,
      runningStatus({ pod, now: new Date(), hostIP: hostIP(node.index), podIP: this.podIP(pod, node), ...runtime }),
    );
    runtime.posted = true;
    this.options.log?.('Pod running', { pod: key, uid, node: node.spec.name });
  }

  /** The node rebooted under this pod: its containers are gone. */
  private rebooted(pod: V1Pod, runtime: PodRuntime, node: NodeRuntime): PodRuntime | undefined {
    if (isHelperPod(pod) && pod.status?.phase === 'Running') {
      runtime.exitAt = 0;
      runtime.bootID = node.bootID;
      return runtime; // runHelper fails it
    }
    const next: PodRuntime = {
      restartCount: runtime.restartCount + 1,
      startedAt: new Date(),
      lastTerminatedAt: node.downAt ?? new Date(),
      bootID: node.bootID,
    };
    this.pods.set(pod.metadata?.uid ?? '', next);
    return next;
  }

  private async kill(pod: V1Pod, node: NodeRuntime, runtime: PodRuntime | undefined): Promise<void> {
    const key = podKey(pod);
    const started = runtime !== undefined || (pod.status?.containerStatuses ?? []).some((c) => c.state?.running);
    if (started) {
      const state = runtime ?? { restartCount: 0, startedAt: new Date(), bootID: node.bootID };
      if (state.killAt === undefined) {
        const grace = pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
        const stop = Number.parseFloat(pod.metadata?.annotations?.[KUBELET_ANNOTATIONS.stopSeconds] ?? `${grace}`);
        state.killAt = Date.now() + (Math.min(grace, Number.isNaN(stop) ? grace : stop) * 1000) / this.speed;
        this.pods.set(pod.metadata?.uid ?? '', state);
      }
      const left = state.killAt - Date.now();
      if (left > 0) return this.queue.addAfter(key, left);
      const phase = pod.status?.phase;
      if (phase !== 'Succeeded' && phase !== 'Failed') {
        const grace = pod.metadata?.deletionGracePeriodSeconds ?? 30;
        const graceful = pod.metadata?.annotations?.[KUBELET_ANNOTATIONS.stopSeconds] !== undefined || grace === 0;
        await this.patchStatus(
          pod,
          terminatedStatus(pod, new Date(), graceful ? 0 : 137, graceful ? 'Completed' : 'Error'),
        );
      }
    }
    this.options.log?.('Pod killed', { pod: key, uid: pod.metadata?.uid, node: node.spec.name, started });
    try {
      await this.core.deleteNamespacedPod({
        name: pod.metadata?.name ?? '',
        namespace: pod.metadata?.namespace ?? '',
        // NOTE: with a body the API server ignores the query parameters, so the grace period goes in the body
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } },
      });
    } catch (error) {
      if (!(error instanceof ApiException && (error.code === 404 || error.code === 409))) throw error;
    }
  }

  private async runHelper(pod: V1Pod, node: NodeRuntime, runtime: PodRuntime | undefined): Promise<void> {
    const outcome = this.helperScript?.(pod) ?? helperOutcomeFromPod(pod);
    if (!runtime) {
      if (!(await this.pull(pod, node))) return;
      const startedAt = new Date();
      runtime = {
        restartCount: 0,
        startedAt,
        bootID: node.bootID,
        exitAt: startedAt.getTime() + ((outcome.runSeconds ?? 1) * 1000) / this.speed,
      };
      this.pods.set(pod.metadata?.uid ?? '', runtime);
      await this.patchStatus(
        pod,
        runningStatus({ pod, now: startedAt, hostIP: hostIP(node.index), podIP: this.podIP(pod, node), ...runtime }),
      );
      // NOTE: the script's boot guard, as the host runs it: a request meant for another boot exits 0, doing nothing
      if (this.options.powerOffHelperMs !== undefined && runsPowerOff(pod) && meantForBoot(pod, node.bootID)) {
        runtime.exitAt = Number.POSITIVE_INFINITY; // the host goes down under it
        const name = node.spec.name;
        setTimeout(() => void this.powerOff(name), this.options.powerOffHelperMs / this.speed);
        return;
      }
      return this.queue.addAfter(podKey(pod), (runtime.exitAt ?? 0) - Date.now());
    }
    if (runtime.exitAt === 0) {
      return this.patchStatus(pod, terminatedStatus(pod, new Date(), 255, 'Unknown'));
    }
    if (runtime.exitAt === Number.POSITIVE_INFINITY) return; // a power-off helper: never exits
    const left = (runtime.exitAt ?? 0) - Date.now();
    if (left > 0) return this.queue.addAfter(podKey(pod), left);
    if (pod.status?.phase !== 'Running') return this.queue.addAfter(podKey(pod), 100); // our Running not seen yet
    if (outcome.exitCode === 0) for (const image of outcome.importImages ?? []) node.images.add(normalizeImage(image));
    await this.patchStatus(pod, terminatedStatus(pod, new Date(), outcome.exitCode));
    if (outcome.exitCode === 0 && (outcome.importImages ?? []).length > 0) await this.beat(node);
  }

  /** Ms until a pod annotated with a start delay may run (0: now); the delay counts from when it was first seen. */
  private startDelayLeft(pod: V1Pod): number {
    const seconds = Number.parseFloat(pod.metadata?.annotations?.[KUBELET_ANNOTATIONS.startSeconds] ?? '0');
    if (!(seconds > 0)) return 0;
    const uid = pod.metadata?.uid ?? '';
    const since = this.starting.get(uid) ?? Date.now();
    this.starting.set(uid, since);
    return Math.max(0, since + (seconds * 1000) / this.speed - Date.now());
  }

  /** Pulls what is missing; false (and a back-off status) when an image cannot be pulled now. */
  private async pull(pod: V1Pod, node: NodeRuntime): Promise<boolean> {
    const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
    let pulled = false;
    for (const c of containers) {
      const image = normalizeImage(c.image ?? '');
      const always = c.imagePullPolicy === 'Always';
      if (!always && node.images.has(image)) continue;
      if (this.options.canPull && !this.options.canPull(image, node.spec.name)) {
        if (c.imagePullPolicy !== 'Always' || !node.images.has(image)) {
          const backOff =
            pod.status?.containerStatuses?.some((s) => s.state?.waiting?.reason === 'ErrImagePull') ?? false;
          await this.patchStatus(pod, pullFailedStatus(pod, new Date(), hostIP(node.index), image, backOff));
          this.queue.addAfter(podKey(pod), 5_000 / this.speed);
          return false;
        }
        continue;
      }
      if (!node.images.has(image)) {
        node.images.add(image);
        pulled = true;
      }
    }
    if (pulled) void this.beat(node);
    return true;
  }

  private podIP(pod: V1Pod, node: NodeRuntime): string {
    if (pod.status?.podIP) return pod.status.podIP;
    if (pod.spec?.hostNetwork) return hostIP(node.index);
    const ip = `10.42.${node.index}.${node.nextPodIP}`;
    node.nextPodIP = node.nextPodIP >= 254 ? 2 : node.nextPodIP + 1;
    return ip;
  }

  private async patchStatus(pod: V1Pod, status: object): Promise<void> {
    try {
      await this.core.patchNamespacedPodStatus(
        {
          name: pod.metadata?.name ?? '',
          namespace: pod.metadata?.namespace ?? '',
          body: { metadata: { uid: pod.metadata?.uid }, status },
        },
        STRATEGIC,
      );
    } catch (error) {
      // gone, or a new pod by that name (the uid in the patch is a precondition)
      if (error instanceof ApiException && [404, 409, 422].includes(error.code)) return;
      throw error;
    }
  }
}

/** Starts the stand-in; see `KubeletStandIn`. */
export function startKubelet(
  kubeConfig: KubeConfig,
  nodes: readonly KubeletNodeSpec[],
  options?: KubeletOptions,
): Promise<KubeletStandIn> {
  return KubeletStandIn.start(kubeConfig, nodes, options);
}

/** Whether the helper runs Hecate's power-off script (its text holds the marker it prints before the command). */
function runsPowerOff(pod: V1Pod): boolean {
  return (pod.spec?.containers ?? []).some((c) =>
    [...(c.command ?? []), ...(c.args ?? [])].some((word) => word.includes(POWER_OFF_MARKER)),
  );
}

/** Whether a power-off helper's script would run on this boot: it names none, or this one. */
function meantForBoot(pod: V1Pod, bootID: string): boolean {
  const words = (pod.spec?.containers ?? []).flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]);
  const meantFor = bootIdOf(words);
  return meantFor === undefined || meantFor === bootID;
}

function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}
