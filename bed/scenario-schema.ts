/**
 * The scenario format: a small cluster described in YAML (nodes, workloads, bare pods, Flux objects). Nodes are
 * registered by the kubelet stand-in; everything else is applied by `applyScenario`. Validation reports every
 * issue at once with its path, including cross-references (owned objects, dependsOn, node names).
 */
import { z } from 'zod';

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'expected a lowercase DNS label (a-z, 0-9, "-")')
  .max(63);
const dnsName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'expected a lowercase DNS subdomain (a-z, 0-9, "-", ".")')
  .max(253);
const labels = z.record(z.string(), z.string());
const intOrPercent = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+%$/, 'expected e.g. "50%"')]);

export const TaintSchema = z.strictObject({
  key: z.string().min(1),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
});

export const TolerationSchema = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.number().int().optional(),
});

export const ScenarioNodeSchema = z.strictObject({
  name: dnsName,
  role: z.enum(['control-plane', 'worker']),
  arch: z.enum(['amd64', 'arm64']).default('amd64'),
  labels: labels.default({}),
  taints: z.array(TaintSchema).default([]),
  capacity: z
    .strictObject({
      cpu: z.string().default('4'),
      memory: z.string().default('16Gi'),
      pods: z.number().int().positive().default(110),
    })
    .default({ cpu: '4', memory: '16Gi', pods: 110 }),
  /** Images already in the node's containerd at boot (stand-ins; a real node holds the bed's images). */
  images: z.array(z.string()).default([]),
  /**
   * A real kubelet + containerd + runc in a namespace of its own (bed/real-node/; root only) instead of a
   * stand-in. Its capacity is the whole machine's; its pods need an image it holds (the bed's busybox).
   */
  real: z.boolean().optional(),
});

const podShape = {
  namespace: dnsLabel,
  name: dnsName,
  image: z.string().default('registry.k8s.io/pause:3.10'),
  /** The container's command (a real node runs it; stand-ins ignore it). */
  command: z.array(z.string()).min(1).optional(),
  labels: labels.default({}),
  nodeSelector: labels.default({}),
  tolerations: z.array(TolerationSchema).default([]),
  /** Mounts an emptyDir volume (a drain then needs --delete-emptydir-data). */
  emptyDir: z.boolean().default(false),
  terminationGracePeriodSeconds: z.number().int().nonnegative().default(30),
  requests: z
    .strictObject({ cpu: z.string().default('50m'), memory: z.string().default('64Mi') })
    .default({ cpu: '50m', memory: '64Mi' }),
};

export const PdbSchema = z.union([
  z.strictObject({ minAvailable: intOrPercent }),
  z.strictObject({ maxUnavailable: intOrPercent }),
]);

/**
 * One Longhorn replica of a volume: `healthy` holds the data (healthyAt set), `failed` has failedAt set, `stopped`
 * is healthy but not running while its volume is attached, `rebuilding` runs but has no healthyAt yet.
 */
export const ReplicaPlacementSchema = z.strictObject({
  node: dnsName,
  state: z.enum(['healthy', 'failed', 'stopped', 'rebuilding']).default('healthy'),
});
export type ReplicaPlacement = z.output<typeof ReplicaPlacementSchema>;

export const WorkloadSchema = z.strictObject({
  kind: z.enum(['Deployment', 'StatefulSet', 'DaemonSet']),
  ...podShape,
  /** Ignored for DaemonSets (one pod per eligible node). */
  replicas: z.number().int().nonnegative().default(1),
  pdb: PdbSchema.optional(),
  /** Longhorn-backed claims: a PVC each for a Deployment, a volumeClaimTemplate each for a StatefulSet. */
  pvcs: z.array(dnsLabel).default([]),
  pvcSize: z.string().default('1Gi'),
  /**
   * Where the Longhorn stand-in puts the replicas of each of these claims' volumes (numberOfReplicas is their count).
   * Default: one healthy replica on each of the first three workers (all nodes when there is no worker).
   */
  volumeReplicas: z.array(ReplicaPlacementSchema).min(1).optional(),
});

export const BarePodSchema = z.strictObject({
  ...podShape,
  /** Pins the pod without the scheduler. */
  nodeName: dnsName.optional(),
});

export const OWNABLE_KINDS = {
  Namespace: 'v1',
  ConfigMap: 'v1',
  Service: 'v1',
  PersistentVolumeClaim: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  HelmRelease: 'helm.toolkit.fluxcd.io/v2',
  Kustomization: 'kustomize.toolkit.fluxcd.io/v1',
  GitRepository: 'source.toolkit.fluxcd.io/v1',
  HelmRepository: 'source.toolkit.fluxcd.io/v1',
} as const;
export type OwnableKind = keyof typeof OWNABLE_KINDS;

/** What a Flux object owns of these kinds must be defined in the scenario (the others are made from the ref alone). */
export const DEFINED_OWNED_KINDS: ReadonlySet<string> = new Set<OwnableKind>([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'GitRepository',
  'HelmRepository',
  'Kustomization',
  'HelmRelease',
]);

/** `Kind/namespace/name`, or `Kind/name` for a cluster-scoped kind (Namespace). */
export const ObjectRefSchema = z.string().transform((text, ctx) => {
  const parts = text.split('/');
  const kind = parts[0] as OwnableKind;
  if (!(kind in OWNABLE_KINDS)) {
    ctx.addIssue({
      code: 'custom',
      message: `unknown kind in "${text}": expected one of ${Object.keys(OWNABLE_KINDS).join(', ')}`,
    });
    return z.NEVER;
  }
  const clusterScoped = kind === 'Namespace';
  if (parts.length !== (clusterScoped ? 2 : 3) || parts.some((part) => part === '')) {
    ctx.addIssue({
      code: 'custom',
      message: `expected "${clusterScoped ? 'Kind/name' : 'Kind/namespace/name'}", got "${text}"`,
    });
    return z.NEVER;
  }
  const name = parts[clusterScoped ? 1 : 2] as string;
  return { apiVersion: OWNABLE_KINDS[kind], kind, namespace: clusterScoped ? undefined : parts[1], name };
});
export type ObjectRef = z.output<typeof ObjectRefSchema>;

/** `name` (same namespace as the dependant) or `namespace/name`. */
const DependsOnSchema = z.string().regex(/^([a-z0-9-]+\/)?[a-z0-9-]+$/, 'expected "name" or "namespace/name"');

const fluxCommon = {
  name: dnsLabel,
  namespace: dnsLabel.optional(),
  suspended: z.boolean().default(false),
};

export const GitRepositorySchema = z.strictObject({
  ...fluxCommon,
  url: z.string().min(1),
  branch: z.string().default('main'),
  /** The Deployment (`namespace/name`) serving this repository: Ready only while it has an available replica. */
  servedBy: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, 'expected "namespace/name" of a Deployment')
    .optional(),
});

export const HelmRepositorySchema = z.strictObject({ ...fluxCommon, url: z.string().min(1) });

export const KustomizationSchema = z.strictObject({
  ...fluxCommon,
  path: z.string().min(1),
  /** Defaults to the first GitRepository. */
  sourceRef: z.string().optional(),
  dependsOn: z.array(DependsOnSchema).default([]),
  owns: z.array(ObjectRefSchema).default([]),
  /** Flux `spec.wait`: Ready also needs every owned workload healthy, not just present. */
  wait: z.boolean().default(true),
});

export const HelmReleaseSchema = z.strictObject({
  ...fluxCommon,
  namespace: dnsLabel,
  chart: z.string().min(1),
  version: z.string().default('*'),
  /** `namespace/name` or `name` (in the Flux namespace) of a HelmRepository. */
  sourceRef: z.string().min(1),
  dependsOn: z.array(DependsOnSchema).default([]),
  owns: z.array(ObjectRefSchema).default([]),
});

export const FluxSchema = z.strictObject({
  namespace: dnsLabel.default('flux-system'),
  gitRepositories: z.array(GitRepositorySchema).default([]),
  helmRepositories: z.array(HelmRepositorySchema).default([]),
  kustomizations: z.array(KustomizationSchema).default([]),
  helmReleases: z.array(HelmReleaseSchema).default([]),
});

export const ScenarioSchema = z
  .strictObject({
    name: dnsLabel,
    description: z.string().optional(),
    nodes: z.array(ScenarioNodeSchema).min(1),
    /** Extra namespaces; every namespace used below is created anyway. */
    namespaces: z.array(dnsLabel).default([]),
    workloads: z.array(WorkloadSchema).default([]),
    pods: z.array(BarePodSchema).default([]),
    storageClass: dnsLabel.default('longhorn'),
    flux: FluxSchema.optional(),
  })
  .superRefine((scenario, ctx) => {
    for (const issue of crossReferenceIssues(scenario)) ctx.addIssue({ code: 'custom', ...issue });
  });

export type Scenario = z.output<typeof ScenarioSchema>;
export type ScenarioInput = z.input<typeof ScenarioSchema>;
export type ScenarioNode = Scenario['nodes'][number];
export type Workload = Scenario['workloads'][number];
export type BarePod = Scenario['pods'][number];
export type FluxScenario = z.output<typeof FluxSchema>;

type Path = (string | number)[];
type Issue = { path: Path; message: string };
type Draft = Omit<Scenario, 'flux'> & { flux?: FluxScenario | undefined };

function crossReferenceIssues(s: Draft): Issue[] {
  const issues: Issue[] = [];
  const duplicates = (keys: string[], path: Path, what: string) => {
    keys.forEach((key, i) => {
      if (keys.indexOf(key) !== i) issues.push({ path: [...path, i], message: `duplicate ${what} "${key}"` });
    });
  };
  const nodes = new Set(s.nodes.map((n) => n.name));
  duplicates(
    s.nodes.map((n) => n.name),
    ['nodes'],
    'node',
  );
  duplicates(
    s.workloads.map((w) => `${w.kind}/${w.namespace}/${w.name}`),
    ['workloads'],
    'workload',
  );
  duplicates(
    s.pods.map((p) => `${p.namespace}/${p.name}`),
    ['pods'],
    'pod',
  );
  const pinned = (selector: Record<string, string>, path: Path) => {
    const host = selector['kubernetes.io/hostname'];
    if (host !== undefined && !nodes.has(host)) issues.push({ path, message: `no node named "${host}"` });
  };
  s.workloads.forEach((w, i) => {
    pinned(w.nodeSelector, ['workloads', i, 'nodeSelector']);
    if (w.kind === 'DaemonSet' && w.pvcs.length > 0)
      issues.push({ path: ['workloads', i, 'pvcs'], message: 'a DaemonSet cannot use ReadWriteOnce PVCs' });
    if (w.volumeReplicas && w.pvcs.length === 0)
      issues.push({ path: ['workloads', i, 'volumeReplicas'], message: 'volumeReplicas needs pvcs to place' });
    w.volumeReplicas?.forEach((r, j) => {
      if (!nodes.has(r.node))
        issues.push({ path: ['workloads', i, 'volumeReplicas', j, 'node'], message: `no node named "${r.node}"` });
    });
  });
  s.pods.forEach((p, i) => {
    pinned(p.nodeSelector, ['pods', i, 'nodeSelector']);
    if (p.nodeName !== undefined && !nodes.has(p.nodeName))
      issues.push({ path: ['pods', i, 'nodeName'], message: `no node named "${p.nodeName}"` });
  });
  if (s.flux) issues.push(...fluxIssues(s, s.flux));
  return issues;
}

function fluxIssues(s: Draft, flux: FluxScenario): Issue[] {
  const issues: Issue[] = [];
  const ns = flux.namespace;
  const existing = new Set<string>([
    ...s.workloads.map((w) => `${w.kind}/${w.namespace}/${w.name}`),
    ...flux.gitRepositories.map((g) => `GitRepository/${g.namespace ?? ns}/${g.name}`),
    ...flux.helmRepositories.map((h) => `HelmRepository/${h.namespace ?? ns}/${h.name}`),
    ...flux.kustomizations.map((k) => `Kustomization/${k.namespace ?? ns}/${k.name}`),
    ...flux.helmReleases.map((h) => `HelmRelease/${h.namespace}/${h.name}`),
  ]);
  const checked = DEFINED_OWNED_KINDS;
  const checkOwns = (owns: ObjectRef[], path: Path) =>
    owns.forEach((ref, i) => {
      const key = `${ref.kind}/${ref.namespace}/${ref.name}`;
      if (checked.has(ref.kind) && !existing.has(key))
        issues.push({ path: [...path, i], message: `${key} is not defined in this scenario` });
    });
  const ref = (text: string, own: string) => (text.includes('/') ? text : `${own}/${text}`);
  const checkDeps = (deps: string[], kind: string, own: string, path: Path) =>
    deps.forEach((dep, i) => {
      if (!existing.has(`${kind}/${ref(dep, own)}`))
        issues.push({ path: [...path, i], message: `no ${kind} "${ref(dep, own)}" in this scenario` });
    });
  flux.gitRepositories.forEach((g, i) => {
    if (g.servedBy !== undefined && !existing.has(`Deployment/${g.servedBy}`))
      issues.push({
        path: ['flux', 'gitRepositories', i, 'servedBy'],
        message: `no Deployment "${g.servedBy}" in this scenario`,
      });
  });
  flux.kustomizations.forEach((k, i) => {
    const path: Path = ['flux', 'kustomizations', i];
    const own = k.namespace ?? ns;
    checkOwns(k.owns, [...path, 'owns']);
    checkDeps(k.dependsOn, 'Kustomization', own, [...path, 'dependsOn']);
    const source = k.sourceRef ?? flux.gitRepositories[0]?.name;
    if (source === undefined)
      issues.push({ path: [...path, 'sourceRef'], message: 'no sourceRef and no GitRepository to default to' });
    else if (!existing.has(`GitRepository/${ref(source, own)}`))
      issues.push({ path: [...path, 'sourceRef'], message: `no GitRepository "${ref(source, own)}" in this scenario` });
  });
  flux.helmReleases.forEach((h, i) => {
    const path: Path = ['flux', 'helmReleases', i];
    checkOwns(h.owns, [...path, 'owns']);
    checkDeps(h.dependsOn, 'HelmRelease', h.namespace, [...path, 'dependsOn']);
    if (!existing.has(`HelmRepository/${ref(h.sourceRef, ns)}`))
      issues.push({
        path: [...path, 'sourceRef'],
        message: `no HelmRepository "${ref(h.sourceRef, ns)}" in this scenario`,
      });
  });
  const cycle = dependencyCycle(
    flux.kustomizations.map((k) => [k.name, k.dependsOn.map((d) => d.split('/').pop() ?? d)]),
  );
  if (cycle) issues.push({ path: ['flux', 'kustomizations'], message: `dependsOn cycle: ${cycle.join(' → ')}` });
  return issues;
}

/** The first cycle found in a name → dependencies graph, as a path that ends where it starts. */
export function dependencyCycle(edges: [string, string[]][]): string[] | undefined {
  const graph = new Map(edges);
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): string[] | undefined => {
    if (state.get(name) === 'visiting') return [...trail.slice(trail.indexOf(name)), name];
    if (state.get(name) === 'done') return undefined;
    state.set(name, 'visiting');
    for (const next of graph.get(name) ?? []) {
      const found = visit(next, [...trail, name]);
      if (found) return found;
    }
    state.set(name, 'done');
    return undefined;
  };
  for (const name of graph.keys()) {
    const found = visit(name, []);
    if (found) return found;
  }
  return undefined;
}
