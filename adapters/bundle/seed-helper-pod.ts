/**
 * ImageSeedPort through a privileged helper pod on the Harbor node: the bundle goes through `kubectl exec -i` (its
 * stdin has flow control, unlike client-node's exec, which buffers a whole upload in memory), the pod enters the
 * host's namespaces with nsenter, and the same node script as over SSH decompresses and imports it.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { execa } from 'execa';
import type { Clock, NodeAddress } from '../../core/ports/index.js';
import {
  type ImagePresencePort,
  type ImageSeedPort,
  type ImportOptions,
  type ImportResult,
  type NodeImage,
  SeedTransportError,
} from '../../core/ports/seed.js';
import { isConflict, isNotFound } from '../kube/errors.js';
import { DEFAULT_HELPER_NAMESPACE, HELPER_LABELS, helperPodSpec } from '../node-access/helper-pod-spec.js';
import { imageHelperState } from '../node-access/helper-pod-status.js';
import { systemClock } from '../system.js';
import { type CtrOptions, importScript, listScript, parseImageList } from './node-script.js';
import { KubeImagePresence } from './presence-kube.js';
import { describeStreamFailure, lastLines, notInstalledFailure, streamForSeed } from './seed-ssh.js';

export interface HelperPodSeedOptions extends CtrOptions {
  /** The PowerPlan's helperImage (needs nsenter and sh). */
  helperImage: string;
  namespace?: string;
  /** kubectl binary and the kubeconfig and context it uses (the same cluster as `kc`). */
  kubectl?: string;
  kubeconfig?: string;
  context?: string;
  /** How long the helper may take to start (default 120 s). */
  startTimeoutMs?: number;
  pollMs?: number;
  clock?: Clock;
}

const NSENTER = ['nsenter', '-t', '1', '-m', '-u', '-i', '-n', '-p', '--'];

/** `kubectl [--kubeconfig K] [--context C] exec -i -n NS POD -c helper -- nsenter … sh -c SCRIPT name args…`. Pure. */
export function kubectlExecArgs(
  options: Pick<HelperPodSeedOptions, 'kubeconfig' | 'context'>,
  namespace: string,
  pod: string,
  script: string,
  args: readonly string[],
): string[] {
  return [
    ...(options.kubeconfig ? ['--kubeconfig', options.kubeconfig] : []),
    ...(options.context ? ['--context', options.context] : []),
    'exec',
    '-i',
    '-n',
    namespace,
    pod,
    '-c',
    'helper',
    '--',
    ...NSENTER,
    'sh',
    '-c',
    script,
    ...args,
  ];
}

/**
 * kubectl's environment for the bundle's stream: SPDY end to end (`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`) unless
 * the user chose. Over WebSocket, kubectl's default since 1.30, the API server translates every frame to SPDY for the
 * kubelet; `npm run bench -- real-node` measured the stream at 0.63 of the raw pipeline that way and 0.76 over SPDY.
 */
export function streamEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return 'KUBECTL_REMOTE_COMMAND_WEBSOCKETS' in env ? env : { ...env, KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' };
}

export class HelperPodImageSeed implements ImageSeedPort, ImagePresencePort {
  private readonly core: CoreV1Api;
  private readonly presence: KubeImagePresence;
  private readonly namespace: string;
  private readonly clock: Clock;

  constructor(
    kc: KubeConfig,
    private readonly options: HelperPodSeedOptions,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.presence = new KubeImagePresence(kc);
    this.namespace = options.namespace ?? DEFAULT_HELPER_NAMESPACE;
    this.clock = options.clock ?? systemClock;
  }

  async importBundle(node: NodeAddress, bundlePath: string, options: ImportOptions): Promise<ImportResult> {
    return this.withPod(node, options.signal, async (pod) => {
      const args = kubectlExecArgs(this.options, this.namespace, pod, importScript(this.options), [
        'hecate-seed',
        options.platform,
      ]);
      const result = await streamForSeed(this.options.kubectl ?? 'kubectl', args, bundlePath, {
        env: streamEnv(process.env),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const failure = describeStreamFailure(result, `${node.name} (helper pod ${pod})`, options.totalBytes);
      if (failure) throw new SeedTransportError(failure, result.sent, { cause: result.pipeError });
      if (options.sha256 && result.sha256 !== options.sha256) {
        throw new SeedTransportError(`${bundlePath} changed while it was streamed`, result.sent);
      }
      return { sent: result.sent, output: `${result.stdout}${result.stderr}` };
    });
  }

  async listImages(node: NodeAddress, signal?: AbortSignal): Promise<NodeImage[]> {
    return this.withPod(node, signal, async (pod) => {
      const args = kubectlExecArgs(this.options, this.namespace, pod, listScript(this.options), ['hecate-ls']);
      const kubectl = this.options.kubectl ?? 'kubectl';
      const result = await execa(kubectl, args, {
        reject: false,
        stdin: 'ignore',
        timeout: 60_000,
        ...(signal ? { cancelSignal: signal } : {}),
      });
      const missing = notInstalledFailure(kubectl, result);
      if (missing) throw missing;
      if (result.exitCode !== 0) {
        throw new SeedTransportError(
          `cannot list containerd's images on ${node.name}: ${lastLines(result.stderr) || 'no output'}`,
          0,
        );
      }
      return parseImageList(result.stdout);
    });
  }

  /** From the Node's status.images: no helper pod needed. */
  imagesOn(node: NodeAddress): Promise<NodeImage[] | undefined> {
    return this.presence.imagesOn(node);
  }

  /** Runs `work` with a running privileged helper on the node; the helper is deleted afterwards, whatever happens. */
  private async withPod<T>(node: NodeAddress, signal: AbortSignal | undefined, work: (pod: string) => Promise<T>) {
    await this.ensureNamespace();
    const spec = helperPodSpec({
      purpose: 'seed',
      node: node.name,
      namespace: this.namespace,
      image: this.options.helperImage,
      command: ['sleep', '86400'],
      privileged: true,
      activeDeadlineSeconds: 86_400,
    });
    const stale = await this.core.listNamespacedPod({
      namespace: this.namespace,
      labelSelector: `${HELPER_LABELS.purpose}=seed,${HELPER_LABELS.node}=${node.name}`,
    });
    for (const p of stale.items) await this.delete(p.metadata?.name ?? '');
    const created = await this.core.createNamespacedPod({ namespace: this.namespace, body: spec });
    const pod = created.metadata?.name ?? '';
    try {
      await this.waitRunning(pod, node.name, signal);
      return await work(pod);
    } finally {
      await this.delete(pod);
    }
  }

  private async waitRunning(pod: string, node: string, signal?: AbortSignal): Promise<void> {
    const deadline = this.clock.now().getTime() + (this.options.startTimeoutMs ?? 120_000);
    for (;;) {
      const current = await this.core.readNamespacedPod({ name: pod, namespace: this.namespace });
      const running = current.status?.containerStatuses?.some((c) => c.state?.running);
      if (running) return;
      const state = imageHelperState(current);
      if (state.kind === 'failed')
        throw new SeedTransportError(`seed helper ${pod} on ${node} failed: ${state.message}`, 0);
      if (this.clock.now().getTime() > deadline) {
        throw new SeedTransportError(`seed helper ${pod} did not start on ${node} in time`, 0);
      }
      await this.clock.sleep(this.options.pollMs ?? 1_000, signal);
    }
  }

  private async ensureNamespace(): Promise<void> {
    try {
      await this.core.readNamespace({ name: this.namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.core
        .createNamespace({ body: { metadata: { name: this.namespace } } })
        .catch((e: unknown) => (isConflict(e) ? undefined : Promise.reject(e)));
      await this.defaultServiceAccount();
    }
  }

  /**
   * A namespace's `default` ServiceAccount comes a moment after the namespace (the ServiceAccount controller makes it),
   * and until then the API refuses pods in it: wait for it, bounded.
   */
  private async defaultServiceAccount(): Promise<void> {
    const deadline = this.clock.now().getTime() + 30_000;
    for (;;) {
      try {
        await this.core.readNamespacedServiceAccount({ name: 'default', namespace: this.namespace });
        return;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      if (this.clock.now().getTime() >= deadline) {
        throw new Error(
          `namespace ${this.namespace} has no default ServiceAccount after 30s: is the controller-manager's ServiceAccount controller running?`,
        );
      }
      await this.clock.sleep(250);
    }
  }

  private async delete(name: string): Promise<void> {
    if (!name) return;
    try {
      await this.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: 0 });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
