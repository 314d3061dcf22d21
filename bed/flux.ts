/**
 * Flux stand-in: source-, kustomize- and helm-controller reduced to their Ready conditions, driven by what exists
 * in the real API server.
 *
 * - GitRepository: Ready only while the Deployment serving it (annotation `bed.hecate.dev/served-by:
 *   namespace/name`, or the `gitServer` option) has an available replica; otherwise Ready=False
 *   GitOperationFailed. A GitRepository with neither is external and always reachable.
 * - HelmRepository: always Ready (the chart repositories are on the internet).
 * - Kustomization / HelmRelease: Ready when the source is Ready, every dependsOn is Ready (at its generation), and
 *   every owned object (annotation `bed.hecate.dev/inventory`, JSON refs) exists — and for `spec.wait` (always for
 *   a HelmRelease) is healthy. Otherwise the reason says why: ArtifactFailed, DependencyNotReady,
 *   ReconciliationFailed (missing objects) or Progressing (Ready=Unknown, waiting for health).
 * - Suspended objects are left alone. Status goes to the /status subresource with observedGeneration; a
 *   condition's lastTransitionTime changes only when its status does.
 */
import { createHash } from 'node:crypto';
import {
  ApiException,
  AppsV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type V1DaemonSet,
  type V1Deployment,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { Watched } from './informer.js';
import { PassScheduler } from './pass-scheduler.js';

export const FLUX_ANNOTATIONS = {
  /** JSON array of `{apiVersion, kind, namespace?, name}`: the objects a Kustomization or HelmRelease applies. */
  inventory: 'bed.hecate.dev/inventory',
  /** `namespace/name` of the Deployment serving a GitRepository. */
  servedBy: 'bed.hecate.dev/served-by',
  /** On a GitRepository: the revision its Git server serves (`main@sha1:<commit>`), e.g. the repo snapshot's. */
  revision: 'bed.hecate.dev/revision',
  requestedAt: 'reconcile.fluxcd.io/requestedAt',
} as const;

export const FLUX_KINDS = {
  GitRepository: { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories' },
  HelmRepository: { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'helmrepositories' },
  Kustomization: { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' },
  HelmRelease: { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' },
} as const;
export type FluxKind = keyof typeof FLUX_KINDS;

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface FluxObject extends KubernetesObject {
  // biome-ignore lint/suspicious/noExplicitAny: Flux specs are read loosely, as the controllers' CRDs allow
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: status is rewritten by this stand-in
  status?: any;
}

export interface FluxStandInOptions {
  /** Serving Deployment for GitRepositories without the served-by annotation. */
  gitServer?: { namespace: string; name: string };
  /** Periodic full pass besides the event-driven ones. */
  resyncMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

type Ref = { apiVersion: string; kind: string; namespace?: string; name: string };
type Verdict = { status: Condition['status']; reason: string; message: string; extra?: Record<string, unknown> };

const WORKLOADS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;

export class FluxStandIn {
  private readonly watched: Record<FluxKind | (typeof WORKLOADS)[number], Watched<FluxObject>>;
  private readonly custom: CustomObjectsApi;
  private readonly objects: KubernetesObjectApi;
  private readonly passes: PassScheduler;

  private constructor(
    kubeConfig: KubeConfig,
    private readonly options: FluxStandInOptions,
  ) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.objects = KubernetesObjectApi.makeApiClient(kubeConfig);
    // NOTE: a pass that fails (the API server restarting under it) is logged and followed by another, as Flux's
    // controllers requeue; unhandled, it would end the process that hosts the bed
    this.passes = new PassScheduler(() => this.pass(), {
      resyncMs: options.resyncMs ?? 5_000,
      onError: (error) => {
        options.log?.('Flux pass failed', { error: String(error) });
        setTimeout(() => this.passes.schedule(), 500).unref();
      },
    });
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    const onChange = () => this.passes.schedule();
    const log = options.log;
    const flux = (kind: FluxKind) => {
      const { group, version, plural } = FLUX_KINDS[kind];
      return new Watched<FluxObject>(kubeConfig, {
        name: plural,
        path: `/apis/${group}/${version}/${plural}`,
        list: () =>
          this.custom.listClusterCustomObject({ group, version, plural }) as Promise<KubernetesListObject<FluxObject>>,
        onChange,
        log,
      });
    };
    const workload = <T extends KubernetesObject>(plural: string, list: () => Promise<KubernetesListObject<T>>) =>
      new Watched<FluxObject>(kubeConfig, {
        name: plural,
        path: `/apis/apps/v1/${plural}`,
        list: list as () => Promise<KubernetesListObject<FluxObject>>,
        onChange,
        log,
      });
    this.watched = {
      GitRepository: flux('GitRepository'),
      HelmRepository: flux('HelmRepository'),
      Kustomization: flux('Kustomization'),
      HelmRelease: flux('HelmRelease'),
      Deployment: workload<V1Deployment>('deployments', () => apps.listDeploymentForAllNamespaces()),
      StatefulSet: workload<V1StatefulSet>('statefulsets', () => apps.listStatefulSetForAllNamespaces()),
      DaemonSet: workload<V1DaemonSet>('daemonsets', () => apps.listDaemonSetForAllNamespaces()),
    };
  }

  static async start(kubeConfig: KubeConfig, options: FluxStandInOptions = {}): Promise<FluxStandIn> {
    const standIn = new FluxStandIn(kubeConfig, options);
    await Promise.all(Object.values(standIn.watched).map((w) => w.start()));
    standIn.passes.startResync();
    await standIn.reconcileNow();
    return standIn;
  }

  async stop(): Promise<void> {
    this.passes.stop();
    await Promise.all(Object.values(this.watched).map((w) => w.stop()));
    await this.passes.idle();
  }

  /** One full pass now (after any running one); resolves when its status writes are done. */
  reconcileNow(): Promise<void> {
    return this.passes.reconcileNow();
  }

  private async pass(): Promise<void> {
    if (this.passes.isStopped) return;
    const exists = new Map<string, boolean>();
    const writes: Promise<void>[] = [];
    // sources first, then releases and kustomizations in dependency order: each reads the others' fresh verdicts
    const effective = new Map<string, FluxObject>();
    const order: FluxKind[] = ['GitRepository', 'HelmRepository', 'HelmRelease', 'Kustomization'];
    for (let round = 0; round < 20; round += 1) {
      let changed = false;
      for (const kind of order) {
        for (const obj of this.watched[kind].list()) {
          const key = objKey(kind, obj);
          const current = effective.get(key) ?? obj;
          if (current.spec?.suspend === true) continue;
          const verdict = await this.evaluate(kind, current, effective, exists);
          const next = withVerdict(kind, current, verdict);
          if (!sameStatus(current.status, next.status)) {
            effective.set(key, next);
            changed = true;
          }
        }
      }
      if (!changed) break;
    }
    for (const [key, next] of effective) {
      const kind = key.split('/')[0] as FluxKind;
      writes.push(this.writeStatus(kind, next));
    }
    await Promise.all(writes);
  }

  private async evaluate(
    kind: FluxKind,
    obj: FluxObject,
    effective: Map<string, FluxObject>,
    exists: Map<string, boolean>,
  ): Promise<Verdict> {
    const lookup = (k: FluxKind, namespace: string, name: string) =>
      effective.get(`${k}/${namespace}/${name}`) ?? this.watched[k].get(name, namespace);
    switch (kind) {
      case 'GitRepository':
        return this.gitRepository(obj);
      case 'HelmRepository':
        return {
          status: 'True',
          reason: 'Succeeded',
          message: `stored artifact: revision '${digest(obj.spec?.url ?? '', 'sha256')}'`,
        };
      case 'Kustomization':
      case 'HelmRelease': {
        const blocked = dependencyVerdict(kind, obj, lookup);
        if (blocked) return blocked;
        return this.inventoryVerdict(kind, obj, lookup, exists);
      }
    }
  }

  private gitRepository(obj: FluxObject): Verdict {
    const url: string = obj.spec?.url ?? '';
    const branch: string = obj.spec?.ref?.branch ?? 'main';
    const served = obj.metadata?.annotations?.[FLUX_ANNOTATIONS.servedBy];
    const server = served ? splitRef(served) : this.options.gitServer;
    const deployment = server && this.watched.Deployment.get(server.name, server.namespace);
    const available = (deployment?.status?.availableReplicas ?? 0) >= 1;
    if (server && !available) {
      return {
        status: 'False',
        reason: 'GitOperationFailed',
        message: `failed to checkout and determine revision: unable to clone '${url}': dial tcp: connect: connection refused (Deployment ${server.namespace}/${server.name} has no available replicas)`,
      };
    }
    const revision =
      obj.metadata?.annotations?.[FLUX_ANNOTATIONS.revision] ?? `${branch}@sha1:${digest(`${url}#${branch}`, 'sha1')}`;
    const artifact = obj.status?.artifact?.revision === revision ? obj.status.artifact : newArtifact(obj, revision);
    return {
      status: 'True',
      reason: 'Succeeded',
      message: `stored artifact for revision '${revision}'`,
      extra: { artifact },
    };
  }

  private async inventoryVerdict(
    kind: 'Kustomization' | 'HelmRelease',
    obj: FluxObject,
    lookup: (k: FluxKind, namespace: string, name: string) => FluxObject | undefined,
    exists: Map<string, boolean>,
  ): Promise<Verdict> {
    const refs = inventory(obj);
    const missing: string[] = [];
    const unhealthy: string[] = [];
    const wait = kind === 'HelmRelease' || obj.spec?.wait === true;
    for (const ref of refs) {
      const id = `${ref.kind}/${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
      const health = await this.health(ref, lookup, exists);
      if (health === 'NotFound') missing.push(id);
      else if (wait && health === 'InProgress') unhealthy.push(`${id} status: 'InProgress'`);
    }
    const revision =
      kind === 'Kustomization'
        ? (lookup('GitRepository', obj.spec?.sourceRef?.namespace ?? ns(obj), obj.spec?.sourceRef?.name ?? '')?.status
            ?.artifact?.revision ?? '')
        : String(obj.spec?.chart?.spec?.version ?? '');
    if (missing.length > 0) {
      return { status: 'False', reason: 'ReconciliationFailed', message: `${missing.join(', ')} not found` };
    }
    if (unhealthy.length > 0) {
      const message =
        kind === 'HelmRelease'
          ? `Running 'install' action with timeout of 5m0s: waiting for [${unhealthy.join(', ')}]`
          : `Running health checks for revision ${revision}: [${unhealthy.join(', ')}]`;
      return { status: 'Unknown', reason: 'Progressing', message };
    }
    const entries = refs.map((r) => ({
      id: `${r.namespace ?? ''}_${r.name}_${r.apiVersion.includes('/') ? r.apiVersion.split('/')[0] : ''}_${r.kind}`,
      v: r.apiVersion.split('/').pop(),
    }));
    if (kind === 'HelmRelease') {
      const chart = `${obj.spec?.chart?.spec?.chart}@${revision}`;
      return {
        status: 'True',
        reason: 'InstallSucceeded',
        message: `Helm install succeeded for release ${ns(obj)}/${obj.metadata?.name}.v1 with chart ${chart}`,
        extra: { lastAttemptedRevision: revision },
      };
    }
    return {
      status: 'True',
      reason: 'ReconciliationSucceeded',
      message: `Applied revision: ${revision}`,
      extra: { lastAppliedRevision: revision, lastAttemptedRevision: revision, inventory: { entries } },
    };
  }

  private async health(
    ref: Ref,
    lookup: (k: FluxKind, namespace: string, name: string) => FluxObject | undefined,
    exists: Map<string, boolean>,
  ): Promise<'Current' | 'InProgress' | 'NotFound'> {
    const namespace = ref.namespace ?? '';
    if (ref.kind in FLUX_KINDS) {
      const found = lookup(ref.kind as FluxKind, namespace, ref.name);
      if (!found) return 'NotFound';
      return found.spec?.suspend !== true && isReady(found) ? 'Current' : 'InProgress';
    }
    if ((WORKLOADS as readonly string[]).includes(ref.kind)) {
      const found = this.watched[ref.kind as (typeof WORKLOADS)[number]].get(ref.name, ref.namespace);
      if (!found) return 'NotFound';
      return workloadHealthy(ref.kind, found) ? 'Current' : 'InProgress';
    }
    const key = `${ref.apiVersion}/${ref.kind}/${namespace}/${ref.name}`;
    if (!exists.has(key)) exists.set(key, await this.exists(ref));
    return exists.get(key) ? 'Current' : 'NotFound';
  }

  private async exists(ref: Ref): Promise<boolean> {
    try {
      await this.objects.read({
        apiVersion: ref.apiVersion,
        kind: ref.kind,
        metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
      });
      return true;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return false;
      throw error;
    }
  }

  private async writeStatus(kind: FluxKind, obj: FluxObject): Promise<void> {
    const { group, version, plural } = FLUX_KINDS[kind];
    try {
      await this.custom.patchNamespacedCustomObjectStatus(
        { group, version, plural, namespace: ns(obj), name: obj.metadata?.name ?? '', body: { status: obj.status } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return; // deleted meanwhile
      this.options.log?.('Flux status write failed', { kind, name: obj.metadata?.name, error: String(error) });
      this.passes.schedule();
    }
  }
}

function dependencyVerdict(
  kind: 'Kustomization' | 'HelmRelease',
  obj: FluxObject,
  lookup: (k: FluxKind, namespace: string, name: string) => FluxObject | undefined,
): Verdict | undefined {
  const own = ns(obj);
  if (kind === 'Kustomization') {
    const ref = obj.spec?.sourceRef ?? {};
    const sourceKind = (ref.kind ?? 'GitRepository') as FluxKind;
    const source = lookup(sourceKind, ref.namespace ?? own, ref.name ?? '');
    if (!source) {
      return {
        status: 'False',
        reason: 'ArtifactFailed',
        message: `Source '${sourceKind}/${ref.namespace ?? own}/${ref.name}' not found`,
      };
    }
    if (!isReady(source)) {
      return { status: 'False', reason: 'ArtifactFailed', message: 'Source artifact not found, retrying in 30s' };
    }
  } else {
    const ref = obj.spec?.chart?.spec?.sourceRef ?? {};
    const source = lookup('HelmRepository', ref.namespace ?? own, ref.name ?? '');
    if (!source || !isReady(source)) {
      return {
        status: 'False',
        reason: 'ArtifactFailed',
        message: `HelmChart '${ref.namespace ?? own}/${own}-${obj.metadata?.name}' is not ready: HelmRepository '${ref.namespace ?? own}/${ref.name}' is not ready`,
      };
    }
  }
  for (const dep of (obj.spec?.dependsOn ?? []) as { name: string; namespace?: string }[]) {
    const found = lookup(kind, dep.namespace ?? own, dep.name);
    if (!found || !isReady(found)) {
      return {
        status: 'False',
        reason: 'DependencyNotReady',
        message: `dependency '${dep.namespace ?? own}/${dep.name}' is not ready`,
      };
    }
  }
  return undefined;
}

/** Ready=True for the object's current generation. */
export function isReady(obj: FluxObject): boolean {
  const ready = readyCondition(obj);
  const generation = obj.metadata?.generation;
  return ready?.status === 'True' && (generation === undefined || ready.observedGeneration === generation);
}

export function readyCondition(obj: FluxObject): Condition | undefined {
  return ((obj.status?.conditions ?? []) as Condition[]).find((c) => c.type === 'Ready');
}

/** kstatus "Current" for the apps/v1 workloads. */
export function workloadHealthy(kind: string, obj: FluxObject): boolean {
  const s = obj.status ?? {};
  const generation = obj.metadata?.generation ?? 0;
  if ((s.observedGeneration ?? 0) < generation) return false;
  const replicas = obj.spec?.replicas ?? 1;
  if (kind === 'Deployment') {
    // kstatus: old pods left over mean the rollout is still in progress
    if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0)) return false;
    return (s.updatedReplicas ?? 0) >= replicas && (s.availableReplicas ?? 0) >= replicas;
  }
  if (kind === 'StatefulSet')
    return (s.readyReplicas ?? 0) >= replicas && (s.availableReplicas ?? s.readyReplicas ?? 0) >= replicas;
  const desired = s.desiredNumberScheduled ?? 0;
  return (s.numberAvailable ?? 0) >= desired && (s.updatedNumberScheduled ?? 0) >= desired;
}

function withVerdict(kind: FluxKind, obj: FluxObject, verdict: Verdict): FluxObject {
  const generation = obj.metadata?.generation;
  const previous = (obj.status?.conditions ?? []) as Condition[];
  const condition = (type: string, status: Condition['status'], reason: string, message: string): Condition => {
    const before = previous.find((c) => c.type === type);
    return {
      type,
      status,
      reason,
      message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime:
        before && before.status === status
          ? before.lastTransitionTime
          : new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
  };
  const conditions = [condition('Ready', verdict.status, verdict.reason, verdict.message)];
  if (verdict.status === 'Unknown') conditions.push(condition('Reconciling', 'True', 'Progressing', verdict.message));
  if (verdict.reason === 'GitOperationFailed')
    conditions.push(condition('FetchFailed', 'True', verdict.reason, verdict.message));
  const artifact = verdict.extra?.artifact ?? obj.status?.artifact;
  if (artifact)
    conditions.push(
      condition('ArtifactInStorage', 'True', 'Succeeded', `stored artifact for revision '${artifact.revision}'`),
    );
  const requestedAt = obj.metadata?.annotations?.[FLUX_ANNOTATIONS.requestedAt];
  const status = {
    ...(obj.status ?? {}),
    ...(verdict.extra ?? {}),
    ...(requestedAt ? { lastHandledReconcileAt: requestedAt } : {}),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions:
      kind === 'GitRepository' || kind === 'HelmRepository'
        ? conditions
        : conditions.filter((c) => c.type !== 'ArtifactInStorage'),
  };
  return { ...obj, status };
}

function sameStatus(a: unknown, b: unknown): boolean {
  return canonical(a ?? {}) === canonical(b ?? {});
}

/** JSON with sorted keys: the API server returns custom resources with sorted keys. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function inventory(obj: FluxObject): Ref[] {
  const text = obj.metadata?.annotations?.[FLUX_ANNOTATIONS.inventory];
  if (!text) return [];
  try {
    const parsed = JSON.parse(text) as Ref[];
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

function newArtifact(obj: FluxObject, revision: string) {
  const sha = revision.split(':').pop() ?? '';
  const path = `gitrepository/${ns(obj)}/${obj.metadata?.name}/${sha}.tar.gz`;
  return {
    digest: `sha256:${digest(revision, 'sha256')}`,
    lastUpdateTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    path,
    revision,
    size: 4096,
    url: `http://source-controller.flux-system.svc.cluster.local./${path}`,
  };
}

function digest(text: string, algorithm: 'sha1' | 'sha256'): string {
  return createHash(algorithm).update(text).digest('hex');
}

function splitRef(text: string): { namespace: string; name: string } | undefined {
  const [namespace, name] = text.split('/');
  return namespace && name ? { namespace, name } : undefined;
}

function ns(obj: KubernetesObject): string {
  return obj.metadata?.namespace ?? '';
}

function objKey(kind: FluxKind, obj: KubernetesObject): string {
  return `${kind}/${ns(obj)}/${obj.metadata?.name}`;
}
