/**
 * A capture as the bed replays it (bed/drill/scenario.ts) and the PowerPlan as the bed runs it (bed/drill/run.ts
 * drillPlan): what each captured object becomes, what is listed as not replayed, and what of the plan is adapted.
 */
import { describe, expect, it } from 'vitest';
import { capturedPlacement } from '../bed/drill/placement.js';
import { drillPlan } from '../bed/drill/run.js';
import { replayScenario } from '../bed/drill/scenario.js';
import { API_VERSION, type CapturedObject, type DrillCapture } from '../core/api/index.js';
import { atlasSpec } from './helpers/atlas.js';

const node = (name: string, extra: Partial<CapturedObject> = {}): CapturedObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels: { 'kubernetes.io/arch': 'arm64', ...(extra.metadata?.labels ?? {}) } },
  spec: extra.spec ?? {},
  status: { capacity: { cpu: '8', memory: '32Gi', pods: '110' } },
});

const template = (labels: Record<string, string>, spec: Record<string, unknown>) => ({
  metadata: { labels },
  spec: { containers: [{ name: 'c', image: 'example/app:1', resources: { requests: { cpu: '100m' } } }], ...spec },
});

function capture(objects: CapturedObject[]): DrillCapture {
  return {
    apiVersion: API_VERSION,
    kind: 'DrillCapture',
    metadata: { capturedAt: '2026-12-07T02:00:00Z', server: 'https://atlas:6443', redacted: false },
    objects,
    referenced: { secrets: [], configMaps: [] },
  };
}

const CLUSTER: CapturedObject[] = [
  node('titan-01', {
    metadata: { name: 'titan-01', labels: { 'node-role.kubernetes.io/control-plane': 'true' } },
    spec: {
      taints: [
        { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
      ],
    },
  }),
  node('titan-04'),
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gitea' } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'gitea', namespace: 'gitea', labels: { 'kustomize.toolkit.fluxcd.io/name': 'gitea' } },
    spec: {
      replicas: 1,
      template: template(
        { app: 'gitea' },
        { volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'gitea-data' } }] },
      ),
    },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web', namespace: 'apps' },
    spec: {
      replicas: 3,
      template: template(
        { app: 'web' },
        { terminationGracePeriodSeconds: 120, volumes: [{ name: 'tmp', emptyDir: {} }], containers: [{}, {}] },
      ),
      volumeClaimTemplates: [{ metadata: { name: 'data' } }],
    },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'harbor-core',
      namespace: 'apps',
      labels: { 'helm.toolkit.fluxcd.io/name': 'harbor', 'helm.toolkit.fluxcd.io/namespace': 'apps' },
    },
    spec: { template: template({ app: 'harbor' }, {}) },
  },
  {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'web', namespace: 'apps' },
    spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } },
  },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'debug', namespace: 'apps' },
    spec: { nodeName: 'titan-04', containers: [{ image: 'busybox' }] },
  },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-0',
      namespace: 'apps',
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', controller: true }],
    },
    spec: { containers: [{ image: 'example/app:1' }] },
  },
  { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'backup', namespace: 'apps' }, spec: {} },
  {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'flux-system', namespace: 'flux-system' },
    spec: { url: 'http://gitea-http.gitea.svc.cluster.local:3000/ops/atlas.git', ref: { branch: 'prod' } },
  },
  {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'HelmRepository',
    metadata: { name: 'harbor', namespace: 'flux-system' },
    spec: { url: 'https://helm.goharbor.io' },
  },
  {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'gitea', namespace: 'flux-system' },
    spec: { path: './services/gitea', sourceRef: { kind: 'GitRepository', name: 'flux-system' }, wait: true },
    status: {
      inventory: {
        entries: [
          { id: '_gitea__Namespace', v: 'v1' },
          { id: 'gitea_gitea_apps_Deployment', v: 'v1' },
          { id: 'gitea_gone_apps_Deployment', v: 'v1' },
        ],
      },
    },
  },
  {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'apps', namespace: 'flux-system' },
    spec: { path: './apps', suspend: true, dependsOn: [{ name: 'gitea' }] },
  },
  {
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: 'harbor', namespace: 'apps' },
    spec: {
      chart: {
        spec: {
          chart: 'harbor',
          version: '1.18.0',
          sourceRef: { kind: 'HelmRepository', name: 'harbor', namespace: 'flux-system' },
        },
      },
    },
  },
  {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'OCIRepository',
    metadata: { name: 'charts', namespace: 'flux-system' },
    spec: {},
  },
];

describe('a capture replayed as a bed scenario', () => {
  const { scenario, notReplayed } = replayScenario(capture(CLUSTER), atlasSpec());

  it('nodes keep their role (from the role label), arch, capacity and taints; taints the node controllers set are left to the replay', () => {
    expect(scenario.nodes.map((n) => [n.name, n.role, n.arch, n.capacity.cpu])).toEqual([
      ['titan-01', 'control-plane', 'arm64', '8'],
      ['titan-04', 'worker', 'arm64', '8'],
    ]);
    expect(scenario.nodes[0]?.taints).toEqual([{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
  });

  it('workloads keep replicas, grace periods, claims, emptyDir and the PodDisruptionBudget that selects them', () => {
    const web = scenario.workloads.find((w) => w.name === 'web');
    expect(web).toMatchObject({
      kind: 'StatefulSet',
      namespace: 'apps',
      replicas: 3,
      terminationGracePeriodSeconds: 120,
      emptyDir: true,
      pvcs: ['data'],
      pdb: { minAvailable: 2 },
      labels: { app: 'web' },
    });
    expect(scenario.workloads.find((w) => w.name === 'gitea')).toMatchObject({
      pvcs: ['gitea-data'],
      requests: { cpu: '100m', memory: '64Mi' },
    });
    expect(scenario.workloads.find((w) => w.name === 'gitea')?.pdb).toBeUndefined();
  });

  it('only pods without a controller become bare pods, pinned where they ran', () => {
    expect(scenario.pods.map((p) => [p.namespace, p.name, p.nodeName])).toEqual([['apps', 'debug', 'titan-04']]);
  });

  it('built-in namespaces are left to the API server', () => {
    expect(scenario.namespaces).toEqual(['gitea', 'apps']);
  });

  it('Flux: sources, dependsOn and suspend as captured; what a Kustomization applied from its inventory, a HelmRelease from its labels; gone objects dropped', () => {
    const flux = scenario.flux;
    expect(flux?.gitRepositories).toEqual([
      expect.objectContaining({ name: 'flux-system', branch: 'prod', servedBy: 'gitea/gitea' }),
    ]);
    const gitea = flux?.kustomizations.find((k) => k.name === 'gitea');
    expect(gitea?.owns.map((r) => `${r.kind}/${r.namespace ?? ''}/${r.name}`)).toEqual([
      'Namespace//gitea',
      'Deployment/gitea/gitea',
    ]);
    expect(gitea?.wait).toBe(true);
    expect(flux?.kustomizations.find((k) => k.name === 'apps')).toMatchObject({
      suspended: true,
      dependsOn: ['gitea'],
    });
    const harbor = flux?.helmReleases[0];
    expect(harbor).toMatchObject({ chart: 'harbor', version: '1.18.0', sourceRef: 'harbor' });
    expect(harbor?.owns.map((r) => `${r.kind}/${r.namespace}/${r.name}`)).toEqual(['Deployment/apps/harbor-core']);
  });

  it('says what it does not replay: Jobs, OCIRepositories, containers beyond the first', () => {
    expect(notReplayed).toEqual([
      'apps/web: 1 container(s) beyond the first (one is simulated)',
      'Job apps/backup: the bed runs no Jobs',
      "OCIRepository flux-system/charts: the bed's Flux serves Git and Helm sources only",
    ]);
  });

  it('without an in-cluster Service in the URL, the source is served by the last Deployment the chain waits for', () => {
    const objects = CLUSTER.map((o) =>
      o.kind === 'GitRepository' ? { ...o, spec: { url: 'ssh://git@scm.example.org/ops/atlas.git' } } : o,
    );
    expect(replayScenario(capture(objects), atlasSpec()).scenario.flux?.gitRepositories[0]?.servedBy).toBe(
      'gitea/gitea',
    );
  });
});

describe('where the capture found each workload’s pods', () => {
  const owned = (name: string, kind: string, owner: string, node?: string): CapturedObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'apps',
      ownerReferences: [{ apiVersion: 'apps/v1', kind, name: owner, controller: true }],
    },
    spec: node ? { nodeName: node } : {},
  });
  const objects: CapturedObject[] = [
    {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'api-7c9f',
        namespace: 'apps',
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'api', controller: true }],
      },
    },
    owned('api-7c9f-a', 'ReplicaSet', 'api-7c9f', 'titan-04'),
    owned('api-7c9f-b', 'ReplicaSet', 'api-7c9f', 'titan-04'),
    owned('web-0', 'StatefulSet', 'web', 'titan-06'),
    owned('web-1', 'StatefulSet', 'web'), // pending: no node to put it back on
    owned('agent-x', 'DaemonSet', 'agent', 'titan-06'), // a DaemonSet places its own
    owned('orphan-x', 'ReplicaSet', 'unknown-rs', 'titan-07'),
  ];

  it('one node per pod, a Deployment’s through its ReplicaSet; pending pods, DaemonSets and unknown owners left out', () => {
    expect(Object.fromEntries(capturedPlacement(capture(objects)))).toEqual({
      'Deployment/apps/api': ['titan-04', 'titan-04'],
      'StatefulSet/apps/web': ['titan-06'],
    });
  });
});

describe('the PowerPlan as the bed runs it', () => {
  const spec = atlasSpec();
  const plan = drillPlan(
    { name: 'atlas', spec },
    { snapshot: '/tmp/d/repo', statePath: '/tmp/d/state', origin: 'file:///tmp/d/git', speed: 10 },
  );

  it('keeps the nodes, the chain and the escalation; divides the drain level by the speed', () => {
    expect(plan.spec.nodes).toEqual(spec.nodes);
    expect(plan.spec.bootstrapChain).toEqual(spec.bootstrapChain);
    expect(plan.spec.drain.escalation).toEqual(spec.drain.escalation);
    expect(spec.drain.timeout).toBe('5m');
    expect(plan.spec.drain.timeout).toBe('30000ms');
  });

  it('points at the bed: snapshot, state file, Git server, helper-pod power-off, a full static UPS, no Harbor seed', () => {
    expect(plan.spec).toMatchObject({
      repoSnapshot: '/tmp/d/repo',
      stateFile: '/tmp/d/state',
      powerOff: { method: 'helper-pod' },
      ups: { source: 'static', staticCharge: 100 },
    });
    expect(plan.spec.flux.source.url).toBe('file:///tmp/d/git');
    expect(plan.spec.harbor).toBeUndefined();
    expect(spec.harbor).toBeDefined(); // the plan given is not changed
  });
});
