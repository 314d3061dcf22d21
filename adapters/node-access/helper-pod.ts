/**
 * NodeAccessPort through helper pods (./helper-pod-spec.ts): starts one on the node, polls what its status says
 * (./helper-pod-status.ts) until done, failed or timed out, and removes it and the helpers a crashed run left behind.
 * Creates the helper namespace when missing; a dry run sends its writes with dryRun=All and polls nothing.
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Clock, MutationOptions, NodeAccessPort, NodeAddress, PowerControlPort } from '../../core/ports/index.js';
import { isConflict, isNotFound } from '../kube/errors.js';
import { systemClock } from '../system.js';
import {
  DEFAULT_HELPER_NAMESPACE,
  HELPER_LABELS,
  helperPodSpec,
  helperSelector,
  MANAGED_BY,
  powerOffHelperCommand,
} from './helper-pod-spec.js';
import { imageHelperState, normalizeImageRef, powerOffHelperState } from './helper-pod-status.js';
import { isBootId, type PowerOffScriptOptions } from './power-off-script.js';

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
export class HelperPodAccess implements PowerControlPort, NodeAccessPort {
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
   *
   * A request for a boot (`node.bootId`, see isBootId) is made once per boot: its helper is named after the node and
   * the boot, and a live one found (or a create refused with AlreadyExists) is that request, already on its way (an
   * operator that lost its Lease delivering what it announced, beside the new leader): it is followed instead of
   * replaced. A followed helper its maker removes (done, or failed) while the node still reads Ready is made again.
   * The script is void on any other boot (PowerOffScriptOptions.bootId), so a helper left Pending on a node that went
   * down cannot power it off when it boots.
   */
  async powerOff(node: NodeAddress, command: readonly string[], options: MutationOptions = {}): Promise<void> {
    const bootId = isBootId(node.bootId) ? node.bootId : undefined;
    const spec = helperPodSpec({
      purpose: 'power-off',
      node: node.name,
      namespace: this.namespace,
      image: this.options.helperImage,
      command: powerOffHelperCommand(command, { ...this.options.script, ...(bootId ? { bootId } : {}) }),
      privileged: true,
      activeDeadlineSeconds: 600,
      bootId,
    });
    if (!(await this.nodeReady(node.name))) {
      throw new HelperPodError(`${node.name} is not Ready: a helper pod cannot run there (power it off another way)`);
    }
    let helper = await this.start(spec, options);
    if (!helper) return;
    let remade = false;
    const started = this.clock.now().getTime();
    let runningSince: number | undefined;
    for (;;) {
      const current = await this.read(helper.name);
      if (!current && helper.followed && !remade) {
        if (!(await this.nodeReady(node.name))) return; // its maker saw it through
        remade = true;
        helper = await this.start(spec, options);
        if (!helper) return;
        continue;
      }
      const state = current ? powerOffHelperState(current) : { kind: 'failed' as const, message: 'deleted' };
      const pod = helper.name;
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
    const pod = (await this.start(spec, options))?.name;
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

  /**
   * Removes the node's stale helpers of this purpose, then creates the pod: its name, or undefined in a dry run. A
   * live helper for the same boot as `spec` (see helperPodSpec's bootId) is no stale one: it is the same request,
   * made by another run, and is followed (`followed`), whether found first or met as AlreadyExists on create.
   */
  private async start(spec: V1Pod, options: MutationOptions): Promise<{ name: string; followed: boolean } | undefined> {
    const labels = spec.metadata?.labels ?? {};
    const bootId = labels[HELPER_LABELS.bootId];
    if (!(await this.ensureNamespace(options))) return undefined; // dry run, namespace to be created: nothing to try
    if (!options.dryRun) {
      const list = await this.core.listNamespacedPod({
        namespace: this.namespace,
        labelSelector: helperSelector(labels[HELPER_LABELS.purpose], labels[HELPER_LABELS.node]),
      });
      const sameRequest = (p: V1Pod) =>
        bootId !== undefined &&
        p.metadata?.labels?.[HELPER_LABELS.bootId] === bootId &&
        !p.metadata?.deletionTimestamp &&
        powerOffHelperState(p).kind !== 'failed';
      const live = list.items.find(sameRequest);
      if (live?.metadata?.name) return { name: live.metadata.name, followed: true };
      for (const pod of list.items) await this.delete(pod.metadata?.name ?? '');
    }
    try {
      const created = await this.core.createNamespacedPod({
        namespace: this.namespace,
        body: spec,
        ...(options.dryRun ? { dryRun: 'All' } : {}),
      });
      return options.dryRun ? undefined : { name: created.metadata?.name ?? '', followed: false };
    } catch (error) {
      const name = spec.metadata?.name;
      if (!options.dryRun && name && isConflict(error)) return { name, followed: true };
      throw error;
    }
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
