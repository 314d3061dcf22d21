/**
 * Scenarios: the format's validation (no bed needed), the Atlas scenario's consistency with the Atlas PowerPlan,
 * and the Atlas scenario applied to the real control plane with every stand-in, converging.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Condition, FLUX_KINDS, type FluxKind, type FluxObject } from '../../bed/flux.js';
import { allCrdPaths, type ControlPlane, REPO_ROOT, requireBed, startControlPlane } from '../../bed/index.js';
import { LONGHORN, type LonghornVolume } from '../../bed/longhorn.js';
import {
  ATLAS_SCENARIO,
  loadScenario,
  parseScenario,
  renderScenario,
  type Scenario,
  ScenarioError,
} from '../../bed/scenario.js';
import { eventually, type Simulators, startScenario } from '../../bed/simulators.js';
import { fromYaml } from '../../core/api/yaml.js';

interface PlanStage {
  name: string;
  kustomization: { name: string };
  waitFor?: { kind: string; namespace: string; name: string }[];
}
interface AtlasPlan {
  spec: {
    bootstrapChain: PlanStage[];
    harbor: { node: string; namespace: string; helmRelease: string; arch: string };
    nodes: { name: string; role: string; arch: string }[];
    flux: { namespace: string; rootKustomization: string; source: { kind: string; name: string } };
  };
}

describe('scenario format', () => {
  it.each([
    [{ name: 'x', nodes: [] }, 'nodes', 'expected array to have >=1 items'],
    [{ name: 'x', nodes: [{ name: 'a', role: 'boss' }] }, 'nodes.0.role', 'expected one of'],
    [
      { name: 'x', nodes: [{ name: 'a', role: 'worker' }], pods: [{ namespace: 'n', name: 'p', nodeName: 'b' }] },
      'pods.0.nodeName',
      'no node named "b"',
    ],
    [
      {
        name: 'x',
        nodes: [{ name: 'a', role: 'worker' }],
        workloads: [{ kind: 'Deployment', namespace: 'n', name: 'w', pdb: { minAvailable: 1, maxUnavailable: 1 } }],
      },
      'workloads.0.pdb',
      '',
    ],
    [
      {
        name: 'x',
        nodes: [{ name: 'a', role: 'worker' }],
        flux: {
          gitRepositories: [{ name: 'g', url: 'u' }],
          kustomizations: [{ name: 'k', path: '.', owns: ['Deployment/n/nope'] }],
        },
      },
      'flux.kustomizations.0.owns.0',
      'Deployment/n/nope is not defined',
    ],
    [
      {
        name: 'x',
        nodes: [{ name: 'a', role: 'worker' }],
        flux: {
          gitRepositories: [{ name: 'g', url: 'u' }],
          kustomizations: [
            { name: 'a', path: '.', dependsOn: ['b'] },
            { name: 'b', path: '.', dependsOn: ['a'] },
          ],
        },
      },
      'flux.kustomizations',
      'dependsOn cycle: a → b → a',
    ],
  ])('rejects an invalid scenario and names the path (%#)', (input, path, message) => {
    let error: unknown;
    try {
      parseScenario(input, 'test.yaml');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ScenarioError);
    const issue = (error as ScenarioError).issues.find((i) => i.path === path);
    expect(issue, `issues: ${JSON.stringify((error as ScenarioError).issues)}`).toBeDefined();
    expect(issue?.message).toContain(message);
    expect((error as ScenarioError).message).toContain('test.yaml');
  });

  it('reports every cross-reference problem at once', () => {
    const error = (() => {
      try {
        parseScenario({
          name: 'x',
          nodes: [{ name: 'a', role: 'worker' }],
          workloads: [
            { kind: 'Deployment', namespace: 'n', name: 'w', nodeSelector: { 'kubernetes.io/hostname': 'zz' } },
          ],
          flux: {
            gitRepositories: [{ name: 'g', url: 'u', servedBy: 'n/nope' }],
            kustomizations: [{ name: 'k', path: '.', dependsOn: ['other'] }],
          },
        });
      } catch (caught) {
        return caught as ScenarioError;
      }
      throw new Error('expected a ScenarioError');
    })();
    expect(error.issues.map((i) => i.path)).toEqual([
      'workloads.0.nodeSelector',
      'flux.gitRepositories.0.servedBy',
      'flux.kustomizations.0.dependsOn.0',
    ]);
  });
});

describe('the Atlas scenario', () => {
  let atlas: Scenario;
  let plan: AtlasPlan;

  beforeAll(async () => {
    atlas = await loadScenario(ATLAS_SCENARIO);
    plan = fromYaml(await readFile(join(REPO_ROOT, 'examples/atlas-powerplan.yaml'), 'utf8')) as AtlasPlan;
  });

  it('has the PowerPlan nodes, roles and architectures', () => {
    expect(atlas.nodes.map((n) => ({ name: n.name, role: n.role, arch: n.arch }))).toEqual(
      plan.spec.nodes.map((n) => ({ name: n.name, role: n.role, arch: n.arch })),
    );
  });

  it('has the bootstrap chain as Kustomizations, each depending on the previous stage and owning what the plan waits for', () => {
    const flux = atlas.flux;
    if (!flux) throw new Error('no flux');
    const owned = (name: string) => {
      const ks = flux.kustomizations.find((k) => k.name === name);
      const releases = ks?.owns.filter((r) => r.kind === 'HelmRelease') ?? [];
      const viaReleases = releases.flatMap(
        (r) => flux.helmReleases.find((h) => h.name === r.name && h.namespace === r.namespace)?.owns ?? [],
      );
      return [...(ks?.owns ?? []), ...viaReleases].map((r) => `${r.kind}/${r.namespace}/${r.name}`);
    };
    plan.spec.bootstrapChain.forEach((stage, i) => {
      const ks = flux.kustomizations.find((k) => k.name === stage.kustomization.name);
      expect(ks, stage.name).toBeDefined();
      const previous = plan.spec.bootstrapChain[i - 1];
      expect(ks?.dependsOn).toEqual(previous ? [previous.kustomization.name] : []);
      for (const target of stage.waitFor ?? []) {
        expect(owned(stage.kustomization.name), stage.name).toContain(
          `${target.kind}/${target.namespace}/${target.name}`,
        );
      }
    });
    expect(flux.kustomizations.map((k) => k.name)).toContain(plan.spec.flux.rootKustomization);
    expect(flux.gitRepositories[0]).toMatchObject({ name: plan.spec.flux.source.name, servedBy: 'gitea/gitea' });
  });

  it('pins Harbor to its arm64 node through a HelmRelease, and has the drain edge cases', () => {
    const harbor = atlas.flux?.helmReleases.find((h) => h.name === plan.spec.harbor.helmRelease);
    expect(harbor?.namespace).toBe(plan.spec.harbor.namespace);
    const pinned = atlas.workloads.filter((w) => w.namespace === plan.spec.harbor.namespace);
    expect(pinned.length).toBeGreaterThan(0);
    for (const w of pinned) {
      expect(w.nodeSelector).toEqual({
        'kubernetes.io/hostname': plan.spec.harbor.node,
        'kubernetes.io/arch': plan.spec.harbor.arch,
      });
      expect(harbor?.owns.map((r) => `${r.kind}/${r.name}`)).toContain(`${w.kind}/${w.name}`);
    }
    const stuck = atlas.workloads.filter((w) => w.pdb && 'minAvailable' in w.pdb && w.pdb.minAvailable === w.replicas);
    expect(stuck.length).toBeGreaterThan(0);
    expect(atlas.pods.length).toBeGreaterThan(0);
    expect(atlas.workloads.some((w) => w.emptyDir)).toBe(true);
    const claims = atlas.workloads.filter((w) => w.pvcs.length > 0).map((w) => `${w.namespace}/${w.name}`);
    expect(claims).toEqual(expect.arrayContaining(['vault/vault', 'postgres/postgres', 'gitea/gitea']));
  });

  it('renders namespaces first and Flux objects last, with Flux ownership labels', () => {
    const objects = renderScenario(atlas);
    const kinds = objects.map((o) => o.kind);
    expect(kinds.lastIndexOf('Namespace')).toBeLessThan(kinds.indexOf('Deployment'));
    expect(kinds.indexOf('Kustomization')).toBeGreaterThan(kinds.lastIndexOf('Pod'));
    const gitea = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'gitea');
    expect(gitea?.metadata?.labels).toMatchObject({ 'kustomize.toolkit.fluxcd.io/name': 'gitea' });
    const core = objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'harbor-core');
    expect(core?.metadata?.labels).toMatchObject({
      'helm.toolkit.fluxcd.io/name': 'harbor',
      'app.kubernetes.io/managed-by': 'Helm',
    });
  });
});

const bed = requireBed();

describe.skipIf(!bed.ok)('the Atlas scenario on the bed', () => {
  let plane: ControlPlane;
  let sims: Simulators;
  let atlas: Scenario;
  let plan: AtlasPlan;

  beforeAll(async () => {
    atlas = await loadScenario(ATLAS_SCENARIO);
    plan = fromYaml(await readFile(join(REPO_ROOT, 'examples/atlas-powerplan.yaml'), 'utf8')) as AtlasPlan;
    plane = await startControlPlane({ crds: allCrdPaths() });
    const started = Date.now();
    sims = await startScenario(plane.kubeConfig, atlas, { kubelet: { speed: 10 } });
    console.info(`Atlas scenario applied in ${Date.now() - started} ms`);
  });
  afterAll(async () => {
    await sims?.stop();
    await plane?.stop();
  });

  const custom = () => plane.kubeConfig.makeApiClient(CustomObjectsApi);
  const readFlux = async (kind: FluxKind, namespace: string, name: string) => {
    const { group, version, plural } = FLUX_KINDS[kind];
    return (await custom().getNamespacedCustomObject({ group, version, plural, namespace, name })) as FluxObject;
  };
  const isReady = (obj: FluxObject) =>
    (obj.status?.conditions as Condition[] | undefined)?.find((c) => c.type === 'Ready')?.status === 'True';

  it('converges: every node Ready, the GitRepository and every chain Kustomization Ready, Harbor on titan-05', async () => {
    const started = Date.now();
    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    const nodes = (await core.listNode()).items;
    expect(nodes.map((n) => n.metadata?.name).sort()).toEqual(atlas.nodes.map((n) => n.name).sort());
    for (const node of nodes) {
      expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status, node.metadata?.name).toBe('True');
    }
    const ns = plan.spec.flux.namespace;
    let waiting: string[] = [];
    await eventually(
      'the GitRepository and the whole chain Ready',
      async () => {
        const names = plan.spec.bootstrapChain.map((s) => s.kustomization.name);
        const objects = await Promise.all([
          readFlux('GitRepository', ns, plan.spec.flux.source.name),
          ...names.map((name) => readFlux('Kustomization', ns, name)),
          readFlux('HelmRelease', plan.spec.harbor.namespace, plan.spec.harbor.helmRelease),
          readFlux('Kustomization', ns, plan.spec.flux.rootKustomization),
        ]);
        waiting = objects.filter((o) => !isReady(o)).map((o) => `${o.kind}/${o.metadata?.name}`);
        return waiting.length === 0;
      },
      { timeoutMs: 150_000, intervalMs: 500 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; still waiting for ${waiting.join(', ')}`);
    });
    console.info(`Atlas converged ${Date.now() - started} ms after apply`);
    const harborPods = (await core.listNamespacedPod({ namespace: 'harbor' })).items;
    expect(harborPods.length).toBeGreaterThan(0);
    for (const pod of harborPods) expect(pod.spec?.nodeName).toBe('titan-05');
    // apps depends on harbor and the chain, so it turns Ready one reconcile after them.
    await eventually('the apps Kustomization Ready', async () => isReady(await readFlux('Kustomization', ns, 'apps')), {
      timeoutMs: 30_000,
      intervalMs: 500,
    });
  }, 180_000);

  it('keeps Longhorn volumes attached where their pods run, and detaches them when the pods are gone', async () => {
    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    const claims = [
      { namespace: 'vault', pvc: 'data-vault-0' },
      { namespace: 'postgres', pvc: 'data-postgres-0' },
      { namespace: 'gitea', pvc: 'gitea-data' },
    ];
    for (const { namespace, pvc } of claims) {
      const volume = await eventually(`the ${namespace}/${pvc} volume attached`, () => {
        const v = sims.longhorn?.volumeFor(namespace, pvc);
        return v?.status?.state === 'attached' && v;
      });
      const claim = await core.readNamespacedPersistentVolumeClaim({ name: pvc, namespace });
      expect(claim.status?.phase).toBe('Bound');
      expect(volume.metadata?.name).toBe(claim.spec?.volumeName);
      const users = (await core.listNamespacedPod({ namespace })).items.filter((p) =>
        p.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === pvc),
      );
      expect(volume.status).toMatchObject({ currentNodeID: users[0]?.spec?.nodeName, robustness: 'healthy' });
      expect(volume.status?.kubernetesStatus).toMatchObject({ namespace, pvcName: pvc, pvStatus: 'Bound' });
    }

    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    await plane.kubeConfig
      .makeApiClient(AppsV1Api)
      .patchNamespacedDeployment({ name: 'gitea', namespace: 'gitea', body: { spec: { replicas: 0 } } }, merge);
    const detached = await eventually(
      'the gitea volume detached',
      async () => {
        const { group, version, plural, namespace } = LONGHORN;
        const name = sims.longhorn?.volumeFor('gitea', 'gitea-data')?.metadata?.name ?? '';
        const v = (await custom().getNamespacedCustomObject({
          group,
          version,
          plural,
          namespace,
          name,
        })) as LonghornVolume;
        return v.status?.state === 'detached' && v;
      },
      { timeoutMs: 20_000 },
    );
    expect(detached.status).toMatchObject({ currentNodeID: '', robustness: 'unknown' });
    await eventually(
      'the GitRepository not Ready without Gitea',
      async () => !isReady(await readFlux('GitRepository', 'flux-system', 'flux-system')),
    );
  }, 60_000);
});
