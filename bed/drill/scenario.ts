/**
 * A drill capture as a bed scenario: the nodes, namespaces, workloads (with their PodDisruptionBudgets, grace periods
 * and claims), bare pods and Flux objects of the captured cluster, in the form the stand-ins replay. What the bed
 * cannot replay (Jobs, OCIRepositories, containers beyond the first) is listed, never silently dropped.
 */

import { isRecord } from '../../core/analyze/input.js';
import type { CapturedObject, DrillCapture, PowerPlanSpec } from '../../core/api/index.js';
import {
  DEFINED_OWNED_KINDS,
  OWNABLE_KINDS,
  type Scenario,
  type ScenarioInput,
  ScenarioSchema,
} from '../scenario-schema.js';

/** A converted capture and what of it the bed does not replay, one line each. */
export interface ReplayScenario {
  scenario: Scenario;
  notReplayed: string[];
}

/** Namespaces every API server makes itself. */
const BUILT_IN_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
/** Taints the node controllers set from the node's state: the replay's nodes get them from their own state. */
const STATE_TAINT = /^node\.(kubernetes\.io|cloudprovider\.kubernetes\.io)\//;
const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
type WorkloadKind = (typeof WORKLOAD_KINDS)[number];
type WorkloadInput = NonNullable<ScenarioInput['workloads']>[number];

type Obj = CapturedObject;
const rec = (value: unknown): Record<string, unknown> => (isRecord(value) ? value : {});
const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const strings = (value: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(rec(value)).filter((e): e is [string, string] => typeof e[1] === 'string'));
const nsOf = (o: Obj) => o.metadata.namespace ?? '';
const keyOf = (kind: string, namespace: string | undefined, name: string) =>
  namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;

/**
 * The scenario a capture replays as. `spec` is the PowerPlan the drill runs: the Flux source is served by the
 * Deployment its bootstrap chain waits for last (the chain ends with what serves the source), unless the source's
 * URL names an in-cluster Service whose namespace has a Deployment of that name.
 */
export function replayScenario(capture: DrillCapture, spec: PowerPlanSpec): ReplayScenario {
  const notReplayed: string[] = [];
  const of = (kind: string) => capture.objects.filter((o) => o.kind === kind);
  const pdbs = of('PodDisruptionBudget');
  const nodes = of('Node').map(nodeOf);
  const workloads = WORKLOAD_KINDS.flatMap((kind) => of(kind).map((o) => workloadOf(kind, o, pdbs, notReplayed)));
  const pods = of('Pod')
    .filter((p) => !(p.metadata.ownerReferences ?? []).some((r) => r.controller))
    .map((p) => ({
      ...podShapeOf(p.metadata.namespace ?? 'default', p.metadata.name, rec(p.spec), notReplayed),
      ...pinnedTo(p),
    }));
  for (const job of of('Job')) notReplayed.push(`Job ${nsOf(job)}/${job.metadata.name}: the bed runs no Jobs`);
  for (const oci of of('OCIRepository'))
    notReplayed.push(
      `OCIRepository ${nsOf(oci)}/${oci.metadata.name}: the bed's Flux serves Git and Helm sources only`,
    );
  const namespaces = of('Namespace')
    .map((n) => n.metadata.name)
    .filter((n) => !BUILT_IN_NAMESPACES.has(n));
  const input: ScenarioInput = {
    name: 'drill',
    description: `replay of the capture of ${capture.metadata.server} at ${capture.metadata.capturedAt}`,
    nodes,
    namespaces,
    workloads,
    pods,
    storageClass: str(of('StorageClass')[0]?.metadata.name) ?? 'longhorn',
  };
  const flux = fluxOf(capture, workloads, spec);
  if (flux) input.flux = flux;
  return { scenario: ScenarioSchema.parse(input), notReplayed };
}

function nodeOf(node: Obj): ScenarioInput['nodes'][number] {
  const labels = node.metadata.labels ?? {};
  const spec = rec(node.spec);
  const capacity = strings(rec(rec(node.status).capacity));
  const controlPlane = 'node-role.kubernetes.io/control-plane' in labels || 'node-role.kubernetes.io/master' in labels;
  const arch = labels['kubernetes.io/arch'] === 'arm64' ? 'arm64' : 'amd64';
  const taints = list(spec.taints)
    .map(rec)
    .filter((t) => typeof t.key === 'string' && !STATE_TAINT.test(t.key))
    .map((t) => ({
      key: t.key as string,
      effect: t.effect as 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute',
      ...(str(t.value) ? { value: t.value as string } : {}),
    }));
  const pods = Number.parseInt(capacity.pods ?? '', 10);
  return {
    name: node.metadata.name,
    role: controlPlane ? 'control-plane' : 'worker',
    arch,
    labels,
    taints,
    capacity: {
      cpu: capacity.cpu ?? '4',
      memory: capacity.memory ?? '16Gi',
      pods: Number.isFinite(pods) && pods > 0 ? pods : 110,
    },
  };
}

/** The fields of the first container and the pod spec the stand-ins act on. */
function podShapeOf(namespace: string, name: string, podSpec: Record<string, unknown>, notReplayed: string[]) {
  const containers = list(podSpec.containers).map(rec);
  const first = containers[0] ?? {};
  const requests = strings(rec(rec(first.resources).requests));
  if (containers.length > 1)
    notReplayed.push(`${namespace}/${name}: ${containers.length - 1} container(s) beyond the first (one is simulated)`);
  const grace = podSpec.terminationGracePeriodSeconds;
  const tolerations = list(podSpec.tolerations)
    .map(rec)
    .map((t) =>
      Object.fromEntries(
        Object.entries(t).filter(([k]) => ['key', 'operator', 'value', 'effect', 'tolerationSeconds'].includes(k)),
      ),
    );
  return {
    namespace,
    name,
    image: str(first.image) ?? 'registry.k8s.io/pause:3.10',
    nodeSelector: strings(podSpec.nodeSelector),
    tolerations,
    emptyDir: list(podSpec.volumes).some((v) => isRecord(rec(v).emptyDir)),
    terminationGracePeriodSeconds: typeof grace === 'number' ? grace : 30,
    requests: { cpu: requests.cpu ?? '50m', memory: requests.memory ?? '64Mi' },
  };
}

function pinnedTo(pod: Obj): { nodeName?: string } {
  const node = str(rec(pod.spec).nodeName);
  return node ? { nodeName: node } : {};
}

function workloadOf(kind: WorkloadKind, o: Obj, pdbs: readonly Obj[], notReplayed: string[]): WorkloadInput {
  const spec = rec(o.spec);
  const template = rec(spec.template);
  const podSpec = rec(template.spec);
  const namespace = nsOf(o);
  const labels = strings(rec(template.metadata).labels);
  const claims =
    kind === 'StatefulSet'
      ? list(spec.volumeClaimTemplates).map((t) => str(rec(rec(t).metadata).name))
      : list(podSpec.volumes).map((v) => str(rec(rec(v).persistentVolumeClaim).claimName));
  const pdb = pdbs.find((p) => nsOf(p) === namespace && selects(rec(rec(p.spec).selector), labels));
  const budget = pdb ? budgetOf(rec(pdb.spec)) : undefined;
  const replicas = typeof spec.replicas === 'number' ? spec.replicas : 1;
  return {
    kind,
    ...podShapeOf(namespace, o.metadata.name, podSpec, notReplayed),
    labels,
    replicas,
    pvcs: claims.filter((c): c is string => c !== undefined),
    ...(budget ? { pdb: budget } : {}),
  };
}

/** A PDB's matchLabels select the pod template's labels (matchExpressions are not evaluated: none selects). */
function selects(selector: Record<string, unknown>, labels: Record<string, string>): boolean {
  const match = strings(selector.matchLabels);
  if (Object.keys(match).length === 0 || list(selector.matchExpressions).length > 0) return false;
  return Object.entries(match).every(([k, v]) => labels[k] === v);
}

function budgetOf(
  spec: Record<string, unknown>,
): { minAvailable: number | string } | { maxUnavailable: number | string } | undefined {
  const value = (v: unknown) => (typeof v === 'number' || typeof v === 'string' ? v : undefined);
  const min = value(spec.minAvailable);
  if (min !== undefined) return { minAvailable: min };
  const max = value(spec.maxUnavailable);
  return max === undefined ? undefined : { maxUnavailable: max };
}

/** `namespace/name` of a Flux reference, or the name alone when it is in `own`. */
function refText(ref: Record<string, unknown>, own: string): string | undefined {
  const name = str(ref.name);
  if (!name) return undefined;
  const namespace = str(ref.namespace);
  return namespace && namespace !== own ? `${namespace}/${name}` : name;
}

function fluxOf(
  capture: DrillCapture,
  workloads: readonly WorkloadInput[],
  spec: PowerPlanSpec,
): ScenarioInput['flux'] | undefined {
  const of = (kind: string) => capture.objects.filter((o) => o.kind === kind);
  const git = of('GitRepository');
  const kustomizations = of('Kustomization');
  const releases = of('HelmRelease');
  const first = git[0] ?? kustomizations[0] ?? releases[0];
  if (!first) return undefined;
  const namespace = nsOf(first) || 'flux-system';
  const deployments = new Set(workloads.filter((w) => w.kind === 'Deployment').map((w) => `${w.namespace}/${w.name}`));
  const existing = new Set<string>([
    ...workloads.map((w) => keyOf(w.kind, w.namespace, w.name)),
    ...capture.objects.map((o) => keyOf(o.kind, o.metadata.namespace, o.metadata.name)),
  ]);
  const ownedBy = (kind: 'Kustomization' | 'HelmRelease', o: Obj) => ownsOf(kind, o, capture.objects, existing);
  const common = (o: Obj) => ({
    name: o.metadata.name,
    namespace: nsOf(o),
    suspended: rec(o.spec).suspend === true,
  });
  const deps = (o: Obj) =>
    list(rec(o.spec).dependsOn)
      .map((d) => refText(rec(d), nsOf(o)))
      .filter((d): d is string => d !== undefined);
  return {
    namespace,
    gitRepositories: git.map((g) => {
      const gs = rec(g.spec);
      const servedBy = servingDeployment(str(gs.url) ?? '', deployments, spec);
      return {
        ...common(g),
        url: str(gs.url) ?? 'unknown',
        branch: str(rec(gs.ref).branch) ?? 'main',
        ...(servedBy ? { servedBy } : {}),
      };
    }),
    helmRepositories: of('HelmRepository').map((h) => ({ ...common(h), url: str(rec(h.spec).url) ?? 'unknown' })),
    kustomizations: kustomizations.map((k) => {
      const ks = rec(k.spec);
      const sourceRef = refText(rec(ks.sourceRef), nsOf(k));
      return {
        ...common(k),
        path: str(ks.path) ?? './',
        ...(sourceRef ? { sourceRef } : {}),
        dependsOn: deps(k),
        owns: ownedBy('Kustomization', k),
        wait: ks.wait === true,
      };
    }),
    helmReleases: releases.map((h) => {
      const chart = rec(rec(rec(h.spec).chart).spec);
      return {
        ...common(h),
        chart: str(chart.chart) ?? 'unknown',
        version: str(chart.version) ?? '*',
        sourceRef: refText(rec(chart.sourceRef), namespace) ?? 'unknown',
        dependsOn: deps(h),
        owns: ownedBy('HelmRelease', h),
      };
    }),
  };
}

/**
 * What a Flux object applied, as real Flux records it: a Kustomization's `status.inventory` (ids
 * `namespace_name_group_Kind`), and for both kinds the labels Flux and Helm put on what they apply.
 */
function ownsOf(kind: 'Kustomization' | 'HelmRelease', owner: Obj, objects: readonly Obj[], existing: Set<string>) {
  const refs = new Set<string>();
  for (const entry of list(rec(rec(owner.status).inventory).entries)) {
    const [namespace = '', name = '', , objectKind = ''] = (str(rec(entry).id) ?? '').split('_');
    if (objectKind in OWNABLE_KINDS && name) refs.add(keyOf(objectKind, namespace || undefined, name));
  }
  const own = owner.metadata;
  for (const o of objects) {
    const labels = o.metadata.labels ?? {};
    const annotations = o.metadata.annotations ?? {};
    const byKustomization =
      labels['kustomize.toolkit.fluxcd.io/name'] === own.name &&
      labels['kustomize.toolkit.fluxcd.io/namespace'] === own.namespace;
    const byRelease =
      (labels['helm.toolkit.fluxcd.io/name'] === own.name &&
        labels['helm.toolkit.fluxcd.io/namespace'] === own.namespace) ||
      annotations['meta.helm.sh/release-name'] === own.name;
    if ((kind === 'Kustomization' ? byKustomization : byRelease) && o.kind in OWNABLE_KINDS)
      refs.add(keyOf(o.kind, o.metadata.namespace, o.metadata.name));
  }
  // an owned object the capture does not hold (deleted since) would make the scenario invalid: left out
  return [...refs].filter((ref) => !DEFINED_OWNED_KINDS.has(ref.split('/')[0] ?? '') || existing.has(ref));
}

/**
 * The Deployment (`namespace/name`) that serves a Git URL: an in-cluster Service host (`name.namespace.svc…`) whose
 * namespace has a Deployment of that name (or the Service name less a `-http`/`-ssh` suffix); else the last
 * Deployment the plan's bootstrap chain waits for, since the chain ends with what serves the source.
 */
function servingDeployment(url: string, deployments: Set<string>, spec: PowerPlanSpec): string | undefined {
  const host = /^[a-z+]+:\/\/(?:[^@/]+@)?([^:/]+)/.exec(url)?.[1] ?? '';
  const [service = '', namespace = ''] = host.split('.');
  for (const name of [service, service.replace(/-(http|ssh|git)$/, '')]) {
    if (namespace && deployments.has(`${namespace}/${name}`)) return `${namespace}/${name}`;
  }
  for (const stage of [...spec.bootstrapChain].reverse()) {
    for (const w of [...(stage.waitFor ?? [])].reverse()) {
      const ref = `${w.namespace}/${w.name}`;
      if (w.kind === 'Deployment' && deployments.has(ref)) return ref;
    }
  }
  return undefined;
}
