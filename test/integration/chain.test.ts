/**
 * The local bootstrap chain on the real control plane with the kubelet stand-in, for a second cluster ("lab", not
 * Atlas): its PowerPlan and Flux repo snapshot are in test/fixtures/repos/lab. The chain's own adapters do the
 * work (kubectl kustomize, Flux substitution, server-side apply as field manager hecate, readiness reads); the
 * audit log is the witness of what was applied and when.
 *
 * One story in order: storage is applied (CRD first) and becomes Ready; Vault comes up sealed, the chain says so
 * and waits until the test unseals it; Postgres cannot be scheduled (no node has the SSD label), so the chain
 * stops there with a report naming it; a node is labelled and a rerun resumes at the database stage without
 * re-applying storage or secrets, then applies the git server.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApplier } from '../../adapters/kube/apply.js';
import { KubeFlux } from '../../adapters/kube/flux.js';
import { KubeKustomizations, KubeReadiness } from '../../adapters/kube/readiness.js';
import { KustomizeBuilder, manifestPort, SnapshotKustomizations } from '../../adapters/kustomize.js';
import { systemClock } from '../../adapters/system.js';
import {
  type AuditEvent,
  type ControlPlane,
  requireBed,
  startControlPlane,
  upstreamCrdPaths,
} from '../../bed/index.js';
import { eventually, type Simulators, startSimulators } from '../../bed/simulators.js';
import { outageRecord, type PowerPlanSpec, parseOrThrow, powerPlan, type RenderedPlan } from '../../core/api/index.js';
import { fromYaml } from '../../core/api/yaml.js';
import { compileStartup } from '../../core/plan/startup.js';
import { StepFailedError } from '../../core/run/errors.js';
import { runPlan } from '../../core/run/runner.js';
import { applyChainStage, StageNotReadyError } from '../../core/steps/chain.js';
import { chainManifests } from '../../core/steps/chain-substitute.js';
import { readinessChecker, UNSEAL_HINT } from '../../core/steps/readiness.js';
import { MemoryStore, silentLogger } from '../helpers/fakes.js';

const bed = requireBed();
const REPO = fileURLToPath(new URL('../fixtures/repos/lab', import.meta.url));
const USER = 'hecate-chain';
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Which stage an applied object belongs to, by namespace (or name, for cluster-scoped objects). */
const STAGE_OF: Record<string, string> = {
  'lab-storage': 'storage',
  'volumepools.storage.lab.hecate.dev': 'storage',
  'lab-secrets': 'secrets',
  'lab-db': 'database',
  'lab-git': 'git-server',
};

function labSpec(): PowerPlanSpec {
  const path = `${REPO}/clusters/lab/powerplan.yaml`;
  const spec = parseOrThrow(powerPlan, fromYaml(readFileSync(path, 'utf8')), path).spec;
  // a short deadline for the stage the story expects to fail
  return {
    ...spec,
    bootstrapChain: spec.bootstrapChain.map((s) => (s.name === 'database' ? { ...s, timeout: '12s' } : s)),
  };
}

function chainPlan(spec: PowerPlanSpec): RenderedPlan {
  const steps = compileStartup({
    planName: 'lab',
    spec,
    execute: true,
    paths: { repoSnapshot: REPO, stateFile: '/unused' },
    observed: { api: 'reachable', flux: { sourceReady: false } },
  }).filter((s) => s.kind === 'apply-chain-stage');
  return { mode: 'startup', planName: 'lab', execute: true, steps, notes: [] };
}

/** Hecate's server-side applies, in log order. */
function applies(events: readonly AuditEvent[]): AuditEvent[] {
  return events.filter(
    (e) =>
      e.user === USER &&
      e.verb === 'patch' &&
      e.stage === 'ResponseComplete' &&
      /fieldManager=hecate/.test(e.requestURI),
  );
}

function stageOf(event: AuditEvent): string {
  const ref = event.objectRef ?? {};
  return STAGE_OF[ref.namespace ?? ''] ?? STAGE_OF[ref.name ?? ''] ?? `?${ref.namespace}/${ref.name}`;
}

const micros = (timestamp: string) => Date.parse(timestamp);

describe.skipIf(!bed.ok)('local bootstrap chain on the test bed (cluster "lab")', () => {
  let plane: ControlPlane;
  let sims: Simulators;
  let kc: KubeConfig;
  let core: CoreV1Api;
  /** After the shutdown: Hecate suspended the forge's HelmRelease (the chain must resume it, or it never installs). */
  const RUNNER = 'HelmRelease/lab-git/forge-runner';
  const store = new MemoryStore({
    outage: outageRecord.parse({ inOutage: true, suspendedByHecate: { kustomizations: [], helmReleases: [RUNNER] } }),
  });
  const spec = labSpec();
  const reports: string[] = [];
  let unsealedAt = 0;

  const run = () => {
    const executor = applyChainStage(
      chainManifests(manifestPort(new KustomizeBuilder(), new KubeApplier(kc))),
      readinessChecker(new KubeReadiness(kc)),
      spec,
      { repoSnapshot: REPO },
      {
        kustomizations: new SnapshotKustomizations(REPO, new KubeKustomizations(kc)),
        flux: new KubeFlux(kc),
        intervalMs: 250,
      },
    );
    return runPlan({
      plan: chainPlan(spec),
      action: 'startup',
      executors: { 'apply-chain-stage': executor },
      store,
      clock: systemClock,
      logger: silentLogger,
      onEvent: (event) => {
        if (event.type !== 'report') return;
        reports.push(event.message);
        if (event.message.includes(UNSEAL_HINT) && unsealedAt === 0) void unseal();
      },
    });
  };

  /** What an operator does with `vault operator unseal`: here, the pod's vault-sealed label goes false, as Vault sets it. */
  const unseal = async () => {
    unsealedAt = Date.now();
    await core.patchNamespacedPod(
      {
        name: 'vault-0',
        namespace: 'lab-secrets',
        body: { metadata: { labels: { 'vault-sealed': 'false' } } },
      },
      MERGE,
    );
  };

  beforeAll(async () => {
    plane = await startControlPlane({ crds: upstreamCrdPaths() });
    sims = await startSimulators(
      plane.kubeConfig,
      spec.nodes.map((n) => ({
        name: n.name,
        role: n.role,
        arch: n.arch ?? 'amd64',
        ...(n.role === 'control-plane'
          ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' as const }] }
          : {}),
      })),
      { kubelet: { speed: 10 }, longhorn: false },
    );
    kc = await plane.userKubeConfig(USER, ['system:masters']);
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    await plane.createNamespace('flux-system');
    await core.createNamespacedConfigMap({
      namespace: 'flux-system',
      body: { metadata: { name: 'lab-vars' }, data: { VAULT_SEALED: 'true' } },
    });
    // the forge's HelmRelease as the shutdown left it: installed once, then suspended by Hecate
    await plane.createNamespace('lab-git');
    await plane.kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: 'helm.toolkit.fluxcd.io',
      version: 'v2',
      namespace: 'lab-git',
      plural: 'helmreleases',
      body: {
        apiVersion: 'helm.toolkit.fluxcd.io/v2',
        kind: 'HelmRelease',
        metadata: { name: 'forge-runner', namespace: 'lab-git' },
        spec: {
          interval: '30m',
          suspend: true,
          chart: { spec: { chart: 'forge-runner', sourceRef: { kind: 'HelmRepository', name: 'forge-charts' } } },
        },
      },
    });
  });
  afterAll(async () => {
    await sims?.stop();
    await plane?.stop();
  });

  it('applies storage and secrets in order, says Vault is sealed and waits, then stops at the database that cannot be scheduled, naming it', async () => {
    const error = await run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailedError);
    expect((error as Error).message).toMatch(/^step chain\/database /); // a failure elsewhere shows its message
    const cause = (error as StepFailedError).cause as StageNotReadyError;
    expect(cause).toBeInstanceOf(StageNotReadyError);
    expect(cause.notReady.map((o) => o.message)).toEqual(['StatefulSet lab-db/postgres 0/1 ready']);
    expect(cause.notReady[0]?.details.join('\n')).toMatch(
      /pod postgres-0: Unschedulable: .*didn't match Pod's node affinity\/selector/,
    );
    expect(store.latest?.progress?.steps.map((s) => `${s.id}:${s.state}`)).toEqual([
      'chain/storage:done',
      'chain/secrets:done',
      'chain/database:failed',
    ]);

    const sealed = reports.filter((r) => r.includes(UNSEAL_HINT));
    expect(sealed.length).toBeGreaterThan(0);
    for (const line of sealed) {
      expect(line).toMatch(
        /^secrets: vault is sealed: unseal it with `vault operator unseal` \(StatefulSet lab-secrets\/vault \d\/1 ready.*; vault-0 sealed\) \(waiting \d+s of \d+m\d+s\)$/,
      );
    }
    expect(reports).toContain('secrets: Ready');
    expect(reports).toContain('database: not Ready by the deadline; a rerun resumes at this stage');

    // substitution: inline over substituteFrom, defaults, $${...} kept literal; the CRD's enum and CEL rule survive
    const apps = plane.kubeConfig.makeApiClient(AppsV1Api);
    const postgres = await apps.readNamespacedStatefulSet({ name: 'postgres', namespace: 'lab-db' });
    expect(postgres.spec?.template.spec?.containers[0]?.image).toBe('postgres:17.6');
    const vault = await apps.readNamespacedStatefulSet({ name: 'vault', namespace: 'lab-secrets' });
    expect(vault.spec?.template.metadata?.labels?.['vault-sealed']).toBe('true');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Flux's $${VAR} escape leaves this literal
    expect(vault.spec?.template.spec?.containers[0]?.env?.[0]?.value).toBe('http://${POD_IP}:8200');
    const crd = await plane.kubeConfig
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: 'volumepools.storage.lab.hecate.dev' });
    const schema = crd.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec;
    expect(schema?.properties?.medium?._enum).toEqual(['ssd', 'hdd']);
    expect(schema?.x_kubernetes_validations?.[0]?.rule).toBe('self.replicas >= 1');
  });

  it('after a node gets the SSD label, a rerun resumes at the database stage without re-applying storage or secrets', async () => {
    await core.patchNode({ name: 'lab-w2', body: { metadata: { labels: { 'lab.hecate.dev/disk': 'ssd' } } } }, MERGE);
    const apps = plane.kubeConfig.makeApiClient(AppsV1Api);
    await eventually('postgres Ready on lab-w2', async () => {
      const sts = await apps.readNamespacedStatefulSet({ name: 'postgres', namespace: 'lab-db' });
      return (sts.status?.readyReplicas ?? 0) >= 1;
    });
    const before = applies(await plane.readAudit()).length;
    const progress = await run();
    expect(progress.steps.map((s) => `${s.id}:${s.state}`)).toEqual([
      'chain/storage:done',
      'chain/secrets:done',
      'chain/database:done',
      'chain/git-server:done',
    ]);
    expect(progress.steps.find((s) => s.id === 'chain/database')?.message).toBe('already done');
    const events = await plane.waitForAudit((all) => applies(all).some((e) => e.objectRef?.name === 'forge'));
    const rerun = applies(events).slice(before);
    expect([...new Set(rerun.map(stageOf))]).toEqual(['git-server']);
    expect(reports).toContain('git-server: Ready');
    expect(reports).toContain(
      `git-server: resumed ${RUNNER} (suspended by Hecate at shutdown) so that Flux installs it now`,
    );
    const release = (await plane.kubeConfig.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group: 'helm.toolkit.fluxcd.io',
      version: 'v2',
      namespace: 'lab-git',
      plural: 'helmreleases',
      name: 'forge-runner',
    })) as { spec?: { suspend?: boolean }; status?: { conditions?: { type: string; status: string }[] } };
    expect(release.spec?.suspend).toBeUndefined();
    expect(release.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('the audit log shows the stages applied in order, each only after the previous stage was Ready', async () => {
    const events = applies(await plane.readAudit());
    const order = events.map(stageOf).filter((stage, i, all) => stage !== all[i - 1]);
    expect(order).toEqual(['storage', 'secrets', 'database', 'git-server']);
    expect(events.filter((e) => e.responseStatus?.code && e.responseStatus.code >= 400)).toEqual([]);
    // CRD first within storage, then its namespace, then the rest
    expect(events.slice(0, 2).map((e) => e.objectRef?.resource)).toEqual(['customresourcedefinitions', 'namespaces']);

    const firstApply = (stage: string) => micros(events.find((e) => stageOf(e) === stage)?.timestamp ?? '');
    const podReadySince = async (namespace: string, name: string) => {
      const pod = await core.readNamespacedPod({ name, namespace });
      const ready = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
      return new Date(ready?.lastTransitionTime ?? 0).getTime();
    };
    const [controller] = (
      await core.listNamespacedPod({ namespace: 'lab-storage', labelSelector: 'app=volume-controller' })
    ).items;
    const storageReady = await podReadySince('lab-storage', controller?.metadata?.name ?? '');
    expect(storageReady).toBeGreaterThan(0);
    expect(firstApply('secrets')).toBeGreaterThanOrEqual(storageReady);
    expect(firstApply('database')).toBeGreaterThanOrEqual(unsealedAt);
    expect(firstApply('git-server')).toBeGreaterThanOrEqual(await podReadySince('lab-db', 'postgres-0'));
  });
});
