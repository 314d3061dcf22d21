/**
 * Scenarios: load and validate the YAML, render it into Kubernetes objects (pure), and apply them with
 * server-side apply (field manager `bed`). Nodes are not applied here: the kubelet stand-in registers them, or a real
 * kubelet (`real: true`, see real-node/startMixedScenario).
 */
import { readFile } from 'node:fs/promises';
import {
  ApiException,
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import { fromYaml } from '../core/api/yaml.js';
import { FLUX_ANNOTATIONS } from './flux.js';
import { REPLICAS_ANNOTATION } from './longhorn-replicas.js';
import {
  type BarePod,
  type FluxScenario,
  type ObjectRef,
  type ReplicaPlacement,
  type Scenario,
  ScenarioSchema,
  type Workload,
} from './scenario-schema.js';

export * from './scenario-schema.js';

export interface ScenarioIssue {
  path: string;
  message: string;
}

/** Every problem in a scenario file, each with its path. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
  constructor(
    readonly source: string,
    readonly issues: ScenarioIssue[],
  ) {
    super(`Invalid scenario ${source}:\n${issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
  }
}

export function parseScenario(value: unknown, source = '(inline)'): Scenario {
  const result = ScenarioSchema.safeParse(value);
  if (result.success) return result.data;
  throw new ScenarioError(
    source,
    result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
  );
}

export async function loadScenario(path: string | URL): Promise<Scenario> {
  const text = await readFile(path, 'utf8');
  return parseScenario(fromYaml(text), String(path));
}

/** The Atlas scenario shipped beside this file. */
export const ATLAS_SCENARIO = new URL('./scenarios/atlas.yaml', import.meta.url);

export const FIELD_MANAGER = 'bed';
export const WORKLOAD_LABEL = 'app.kubernetes.io/name';

type Manifest = KubernetesObject & Record<string, unknown>;

/** Every object of the scenario, in apply order (namespaces first, Flux objects last). Pure. */
export function renderScenario(scenario: Scenario): Manifest[] {
  const flux = scenario.flux;
  const owners = ownerLabels(flux);
  const namespaces = new Set([
    ...scenario.namespaces,
    ...scenario.workloads.map((w) => w.namespace),
    ...scenario.pods.map((p) => p.namespace),
    ...(flux ? fluxNamespaces(flux) : []),
  ]);
  const out: Manifest[] = [...namespaces].map((name) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, ...owners.meta('Namespace', undefined, name) },
  }));
  if (scenario.workloads.some((w) => w.pvcs.length > 0)) out.push(storageClass(scenario.storageClass));
  const replicas = defaultReplicas(scenario);
  for (const w of scenario.workloads) {
    out.push(...renderWorkload(w, { storageClassName: scenario.storageClass, replicas }, owners));
  }
  for (const p of scenario.pods) out.push(renderBarePod(p));
  if (flux) out.push(...renderFlux(flux, owners));
  return out;
}

export interface ApplyResult {
  applied: { apiVersion: string; kind: string; namespace?: string; name: string }[];
}

/** Server-side applies every object of the scenario (idempotent: applying twice changes nothing). */
export async function applyScenario(kubeConfig: KubeConfig, scenario: Scenario): Promise<ApplyResult> {
  const client = KubernetesObjectApi.makeApiClient(kubeConfig);
  const applied: ApplyResult['applied'] = [];
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const accounts = new Set<string>();
  for (const manifest of renderScenario(scenario)) {
    const { apiVersion = '', kind = '', metadata = {} } = manifest;
    try {
      // NOTE: the ServiceAccount admission plugin rejects pods until the namespace's `default` account exists
      if (kind === 'Pod' && metadata.namespace && !accounts.has(metadata.namespace)) {
        await waitForDefaultServiceAccount(core, metadata.namespace);
        accounts.add(metadata.namespace);
      }
      await client.patch(manifest, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    } catch (error) {
      const where = `${kind} ${metadata.namespace ? `${metadata.namespace}/` : ''}${metadata.name}`;
      throw new Error(`Could not apply ${where} of scenario ${scenario.name}`, { cause: error });
    }
    applied.push({ apiVersion, kind, namespace: metadata.namespace, name: metadata.name ?? '' });
  }
  return { applied };
}

async function waitForDefaultServiceAccount(core: CoreV1Api, namespace: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await core.readNamespacedServiceAccount({ namespace, name: 'default' });
      return;
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

type Meta = { labels?: Record<string, string>; annotations?: Record<string, string> };

/** Labels and annotations that Flux puts on what it applies: kustomize-controller's, or Helm's for a release. */
function ownerLabels(flux: FluxScenario | undefined) {
  const byRef = new Map<string, Meta>();
  for (const k of flux?.kustomizations ?? []) {
    const ns = k.namespace ?? flux?.namespace ?? 'flux-system';
    for (const ref of k.owns) {
      byRef.set(refKey(ref), {
        labels: { 'kustomize.toolkit.fluxcd.io/name': k.name, 'kustomize.toolkit.fluxcd.io/namespace': ns },
      });
    }
  }
  for (const h of flux?.helmReleases ?? []) {
    for (const ref of h.owns) {
      byRef.set(refKey(ref), {
        labels: {
          'app.kubernetes.io/managed-by': 'Helm',
          'helm.toolkit.fluxcd.io/name': h.name,
          'helm.toolkit.fluxcd.io/namespace': h.namespace,
        },
        annotations: { 'meta.helm.sh/release-name': h.name, 'meta.helm.sh/release-namespace': h.namespace },
      });
    }
  }
  return {
    meta: (kind: string, namespace: string | undefined, name: string): Meta =>
      byRef.get(`${kind}/${namespace ?? ''}/${name}`) ?? {},
  };
}
type Owners = ReturnType<typeof ownerLabels>;

function refKey(ref: Pick<ObjectRef, 'kind' | 'namespace' | 'name'>): string {
  return `${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

function fluxNamespaces(flux: FluxScenario): string[] {
  return [
    flux.namespace,
    ...[...flux.gitRepositories, ...flux.helmRepositories, ...flux.kustomizations].flatMap((o) => o.namespace ?? []),
    ...flux.helmReleases.map((h) => h.namespace),
  ];
}

function storageClass(name: string): Manifest {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name },
    provisioner: 'driver.longhorn.io',
    allowVolumeExpansion: true,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'Immediate',
    parameters: { numberOfReplicas: '3', staleReplicaTimeout: '30', fsType: 'ext4' },
  };
}

/** One healthy replica on each of the first three workers, as Longhorn's default numberOfReplicas would spread them. */
function defaultReplicas(scenario: Scenario): ReplicaPlacement[] {
  const workers = scenario.nodes.filter((n) => n.role === 'worker');
  return (workers.length > 0 ? workers : scenario.nodes).slice(0, 3).map((n) => ({ node: n.name, state: 'healthy' }));
}

/** The claim's metadata: the Longhorn stand-in reads the replica placement of its volume from the annotation. */
function claimMeta(replicas: ReplicaPlacement[]) {
  return { annotations: { [REPLICAS_ANNOTATION]: JSON.stringify(replicas) } };
}

function claimSpec(storageClassName: string, size: string) {
  return { accessModes: ['ReadWriteOnce'], storageClassName, resources: { requests: { storage: size } } };
}

function podSpec(p: Workload | BarePod, claims: string[]) {
  const volumes = [
    ...claims.map((claim) => ({ name: claim, persistentVolumeClaim: { claimName: claim } })),
    ...(p.emptyDir ? [{ name: 'scratch', emptyDir: {} }] : []),
  ];
  const mounts = [
    ...claims.map((claim) => ({ name: claim, mountPath: `/data/${claim}` })),
    ...(p.emptyDir ? [{ name: 'scratch', mountPath: '/scratch' }] : []),
  ];
  return {
    terminationGracePeriodSeconds: p.terminationGracePeriodSeconds,
    ...(Object.keys(p.nodeSelector).length > 0 ? { nodeSelector: p.nodeSelector } : {}),
    ...(p.tolerations.length > 0 ? { tolerations: p.tolerations } : {}),
    containers: [
      {
        name: 'main',
        image: p.image,
        ...(p.command ? { command: p.command } : {}),
        resources: { requests: p.requests },
        ...(mounts.length > 0 ? { volumeMounts: mounts } : {}),
      },
    ],
    ...(volumes.length > 0 ? { volumes } : {}),
  };
}

function renderWorkload(
  w: Workload,
  defaults: { storageClassName: string; replicas: ReplicaPlacement[] },
  owners: Owners,
): Manifest[] {
  const { storageClassName } = defaults;
  const claimAnnotations = claimMeta(w.volumeReplicas ?? defaults.replicas);
  const out: Manifest[] = [];
  const owner = owners.meta(w.kind, w.namespace, w.name);
  const podLabels = { ...w.labels, [WORKLOAD_LABEL]: w.name };
  const metadata = {
    namespace: w.namespace,
    name: w.name,
    labels: { ...podLabels, ...owner.labels },
    ...(owner.annotations ? { annotations: owner.annotations } : {}),
  };
  const selector = { matchLabels: { [WORKLOAD_LABEL]: w.name } };
  const template = (claims: string[]) => ({ metadata: { labels: podLabels }, spec: podSpec(w, claims) });
  if (w.kind === 'Deployment') {
    for (const claim of w.pvcs) {
      out.push({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { namespace: w.namespace, name: claim, labels: { ...owner.labels }, ...claimAnnotations },
        spec: claimSpec(storageClassName, w.pvcSize),
      });
    }
    out.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata,
      spec: {
        replicas: w.replicas,
        selector,
        // RWO claims cannot be mounted by the old and new pod at once
        strategy: w.pvcs.length > 0 ? { type: 'Recreate' } : { type: 'RollingUpdate' },
        template: template(w.pvcs),
      },
    });
  } else if (w.kind === 'StatefulSet') {
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: w.namespace, name: w.name, labels: metadata.labels },
      spec: { clusterIP: 'None', selector: selector.matchLabels, ports: [{ name: 'main', port: 8080 }] },
    });
    out.push({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata,
      spec: {
        replicas: w.replicas,
        serviceName: w.name,
        selector,
        template: template(w.pvcs),
        volumeClaimTemplates: w.pvcs.map((claim) => ({
          metadata: { name: claim, ...claimAnnotations },
          spec: claimSpec(storageClassName, w.pvcSize),
        })),
      },
    });
  } else {
    out.push({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata, spec: { selector, template: template([]) } });
  }
  if (w.pdb) {
    out.push({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { namespace: w.namespace, name: w.name },
      spec: { selector, ...w.pdb },
    });
  }
  return out;
}

function renderBarePod(p: BarePod): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: p.namespace, name: p.name, labels: { ...p.labels, [WORKLOAD_LABEL]: p.name } },
    spec: { ...podSpec(p, []), ...(p.nodeName ? { nodeName: p.nodeName } : {}) },
  };
}

function renderFlux(flux: FluxScenario, owners: Owners): Manifest[] {
  const ns = flux.namespace;
  const qualified = (text: string, own: string) => {
    const [a, b] = text.split('/');
    return b === undefined ? { name: a as string, namespace: own } : { name: b, namespace: a as string };
  };
  const meta = (kind: string, name: string, namespace: string, annotations: Record<string, string>) => {
    const owner = owners.meta(kind, namespace, name);
    return { name, namespace, ...(owner.labels ? { labels: owner.labels } : {}), annotations };
  };
  const inventory = (owns: ObjectRef[]) => ({ [FLUX_ANNOTATIONS.inventory]: JSON.stringify(owns) });
  const out: Manifest[] = [];
  for (const g of flux.gitRepositories) {
    const namespace = g.namespace ?? ns;
    out.push({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: meta('GitRepository', g.name, namespace, g.servedBy ? { [FLUX_ANNOTATIONS.servedBy]: g.servedBy } : {}),
      spec: {
        interval: '1m0s',
        url: g.url,
        ref: { branch: g.branch },
        ...(g.url.startsWith('ssh://') ? { secretRef: { name: g.name } } : {}),
        suspend: g.suspended,
      },
    });
  }
  for (const h of flux.helmRepositories) {
    out.push({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'HelmRepository',
      metadata: meta('HelmRepository', h.name, h.namespace ?? ns, {}),
      spec: { interval: '1h0m0s', url: h.url, suspend: h.suspended },
    });
  }
  for (const h of flux.helmReleases) {
    out.push({
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      metadata: meta('HelmRelease', h.name, h.namespace, inventory(h.owns)),
      spec: {
        interval: '30m0s',
        chart: {
          spec: {
            chart: h.chart,
            version: h.version,
            sourceRef: { kind: 'HelmRepository', ...qualified(h.sourceRef, ns) },
          },
        },
        dependsOn: h.dependsOn.map((d) => qualified(d, h.namespace)),
        suspend: h.suspended,
      },
    });
  }
  for (const k of flux.kustomizations) {
    const namespace = k.namespace ?? ns;
    const source = k.sourceRef ?? flux.gitRepositories[0]?.name ?? 'flux-system';
    out.push({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: meta('Kustomization', k.name, namespace, inventory(k.owns)),
      spec: {
        interval: '10m0s',
        path: k.path,
        prune: true,
        wait: k.wait,
        sourceRef: { kind: 'GitRepository', ...qualified(source, namespace) },
        dependsOn: k.dependsOn.map((d) => qualified(d, namespace)),
        suspend: k.suspended,
      },
    });
  }
  return out;
}
