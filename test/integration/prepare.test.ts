/**
 * prepare against real parts: git with a local bare repository (file:// URL), bundle checksums on real files, and,
 * on the real control plane with the kubelet stand-in, the helper image pre-pull and the preflight report.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localBundleFiles } from '../../adapters/bundle-files.js';
import { GitSnapshot, GitSnapshotError } from '../../adapters/git.js';
import { KubePreflight } from '../../adapters/kube/preflight.js';
import { HelperPodAccess } from '../../adapters/node-access/helper-pod.js';
import { helperSelector } from '../../adapters/node-access/helper-pod-spec.js';
import { systemClock } from '../../adapters/system.js';
import { onPath } from '../../bed/binaries.js';
import { type ControlPlane, requireBed, startControlPlane, upstreamCrdPath } from '../../bed/index.js';
import { LonghornStandIn } from '../../bed/longhorn.js';
import { REPLICAS_ANNOTATION } from '../../bed/longhorn-replicas.js';
import { ATLAS_SCENARIO, applyScenario, loadScenario, parseScenario, renderScenario } from '../../bed/scenario.js';
import { eventually, type Simulators, startSimulators } from '../../bed/simulators.js';
import type { PlanStep, PowerPlanSpec } from '../../core/api/index.js';
import { compilePlan } from '../../core/plan/index.js';
import { runPlan } from '../../core/run/runner.js';
import { preflightFindings } from '../../core/steps/preflight-checks.js';
import { PrepareError, preflight, prepullImage, verifyBundle } from '../../core/steps/prepare.js';
import { atlasInput } from '../helpers/atlas.js';
import { MemoryStore, silentLogger } from '../helpers/fakes.js';

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
};
const hasGit = onPath('git') !== undefined;
if (!hasGit && process.env.CI === 'true') throw new Error('git is not on PATH (CI=true: tests may not skip)');

describe.skipIf(!hasGit)('GitSnapshot with a local bare repository', () => {
  let dir: string;
  let url: string;
  let work: string;
  const git = (cwd: string, ...args: string[]) => execa('git', args, { cwd, env: GIT_ENV }).then((r) => r.stdout);
  const commit = async (text: string) => {
    await writeFile(join(work, 'README'), text);
    await git(work, 'add', 'README');
    await git(work, 'commit', '-q', '-m', text);
    await git(work, 'push', '-q', 'origin', 'HEAD:main');
    return git(work, 'rev-parse', 'HEAD');
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-git-'));
    await git(dir, 'init', '-q', '--bare', '-b', 'main', 'origin.git');
    url = `file://${join(dir, 'origin.git')}`;
    await git(dir, 'clone', '-q', url, 'work');
    work = join(dir, 'work');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('clones, then fetches and checks out the branch on later refreshes, reporting Flux-style revisions', async () => {
    const first = await commit('one');
    const snapshot = new GitSnapshot();
    const target = join(dir, 'snapshot');
    expect(await snapshot.refresh({ url, branch: 'main', dir: target })).toEqual({
      revision: `main@sha1:${first}`,
      cloned: true,
    });
    const second = await commit('two');
    expect(await snapshot.refresh({ url, branch: 'main', dir: target })).toEqual({
      revision: `main@sha1:${second}`,
      cloned: false,
    });
    expect(await readFile(join(target, 'README'), 'utf8')).toBe('two');
  });

  it('without a branch, follows the remote HEAD', async () => {
    const head = await git(work, 'rev-parse', 'HEAD');
    const result = await new GitSnapshot().refresh({ url, dir: join(dir, 'no-branch') });
    expect(result.revision).toBe(`main@sha1:${head}`);
  });

  it.each([
    ['a snapshot with local changes', 'dirty', /has local changes \(1 files\)/],
    ['a clone of another repository', 'other-origin', /is a clone of .*other\.git, not of/],
    ['a folder that is not a clone', 'not-a-clone', /exists and is not a git clone/],
  ])('refuses %s, saying what to do', async (_what, name, message) => {
    const target = join(dir, name);
    if (name === 'not-a-clone') {
      await mkdir(target);
      await writeFile(join(target, 'notes'), 'mine');
    } else {
      await new GitSnapshot().refresh({ url, branch: 'main', dir: target });
      if (name === 'dirty') await writeFile(join(target, 'README'), 'edited by hand');
      else await git(target, 'remote', 'set-url', 'origin', `file://${join(dir, 'other.git')}`);
    }
    const error = await new GitSnapshot().refresh({ url, branch: 'main', dir: target }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitSnapshotError);
    expect((error as Error).message).toMatch(message);
  });

  it('fails with git stderr for a URL that does not exist', async () => {
    const error = await new GitSnapshot()
      .refresh({ url: `file://${join(dir, 'missing.git')}`, dir: join(dir, 'missing') })
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/git clone .* failed \(exit 128\)/);
  });
});

describe('verify-bundle on real files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-bundle-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const step = (path: string) => ({ params: { path }, targets: [path] }) as unknown as PlanStep;

  it('accepts a bundle whose sha256 matches its manifest (with ~ expanded), and refuses a changed one', async () => {
    const bytes = Buffer.from('not really zstd, but bytes');
    const bundle = join(dir, 'harbor.tar.zst');
    await writeFile(bundle, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await writeFile(`${bundle}.manifest.json`, JSON.stringify({ sha256, images: ['goharbor/harbor-core:v2.14.1'] }));
    const reports: string[] = [];
    const executor = verifyBundle(localBundleFiles({ HOME: dir }));
    await executor.apply(step('~/harbor.tar.zst'), { report: (m: string) => reports.push(m) } as never);
    expect(reports).toEqual([`~/harbor.tar.zst matches its manifest (sha256 ${sha256.slice(0, 12)}…)`]);
    await writeFile(bundle, Buffer.concat([bytes, Buffer.from('!')]));
    await expect(executor.apply(step(bundle), { report: () => undefined } as never)).rejects.toThrow(
      /checksum mismatch/,
    );
  });

  it('names the missing path', async () => {
    const executor = verifyBundle(localBundleFiles({ HOME: dir }));
    const missing = join(dir, 'nope.tar.zst');
    await writeFile(`${missing}.manifest.json`, JSON.stringify({ sha256: 'c'.repeat(64) }));
    await expect(executor.apply(step(missing), {} as never)).rejects.toThrow(
      new PrepareError(`Harbor bundle not found: ${missing}`),
    );
  });
});

describe('Longhorn replica placement in the Atlas scenario', () => {
  it("places gitea's single replica on a worker, postgres's on two workers plus a failed one, the rest on three", async () => {
    const objects = renderScenario(await loadScenario(ATLAS_SCENARIO));
    type Annotated = { metadata?: { name?: string; annotations?: Record<string, string> } };
    const claims: [string, Annotated][] = objects.flatMap((o): [string, Annotated][] => {
      const spec = o.spec as { volumeClaimTemplates?: Annotated[] } | undefined;
      if (o.kind === 'PersistentVolumeClaim') return [[o.metadata?.name ?? '', o]];
      return (spec?.volumeClaimTemplates ?? []).map((t) => [`${o.metadata?.name}/template`, t]);
    });
    const placement = Object.fromEntries(
      claims.map(([name, c]) => [name, JSON.parse(c.metadata?.annotations?.[REPLICAS_ANNOTATION] ?? 'null')]),
    );
    expect(placement).toEqual({
      'gitea-data': [{ node: 'titan-06', state: 'healthy' }],
      'postgres/template': [
        { node: 'titan-04', state: 'healthy' },
        { node: 'titan-07', state: 'healthy' },
        { node: 'titan-05', state: 'failed' },
      ],
      'vault/template': ['titan-04', 'titan-05', 'titan-06'].map((node) => ({ node, state: 'healthy' })),
    });
  });
});

const bed = requireBed();
const IMAGE = 'docker.io/library/busybox:1.37';

describe.skipIf(!bed.ok)('prepare on the real control plane', () => {
  let plane: ControlPlane;
  let sims: Simulators;
  let core: CoreV1Api;
  let spec: PowerPlanSpec;

  beforeAll(async () => {
    plane = await startControlPlane();
    sims = await startSimulators(
      plane.kubeConfig,
      [
        {
          name: 'cp-1',
          role: 'control-plane',
          taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
        },
        { name: 'worker-1', role: 'worker', images: [IMAGE] },
        { name: 'worker-2', role: 'worker' },
        { name: 'worker-3', role: 'worker' },
      ],
      {
        kubelet: { speed: 10, canPull: (image, node) => !(node === 'worker-3' && image === IMAGE) },
        flux: false,
        longhorn: false,
      },
    );
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    const input = atlasInput();
    spec = {
      ...input.spec,
      helperImage: IMAGE,
      nodes: ['cp-1', 'worker-1', 'worker-2', 'worker-3'].map((name) => ({
        name,
        role: name === 'cp-1' ? ('control-plane' as const) : ('worker' as const),
        order: 100,
      })),
    };
  });
  let longhorn: LonghornStandIn | undefined;
  afterAll(async () => {
    await longhorn?.stop();
    await sims?.stop();
    await plane?.stop();
  });

  it('pre-pulls the helper image on every node: present, pulled or reported, in a namespace it creates, leaving no helper', async () => {
    const access = new HelperPodAccess(plane.kubeConfig, {
      helperImage: IMAGE,
      namespace: 'hecate-prepull',
      pullTimeoutMs: 30_000,
      pollMs: 250,
    });
    const plan = compilePlan('prepare', { ...atlasInput(), spec });
    const reports: string[] = [];
    const started = Date.now();
    const progress = await runPlan({
      plan: { ...plan, steps: plan.steps.filter((s) => s.kind === 'prepull-image') },
      action: 'prepare',
      executors: { 'prepull-image': prepullImage(access, spec) },
      store: new MemoryStore(),
      clock: systemClock,
      logger: silentLogger,
      onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
    });
    console.info(`Pre-pull on 4 nodes took ${Date.now() - started} ms`);
    expect(progress.steps[0]?.state).toBe('done');
    expect(reports).toContain(`worker-1: ${IMAGE} present (already on the node)`);
    expect(reports).toContain(`worker-2: ${IMAGE} present (pulled)`);
    expect(reports.find((r) => r.startsWith('worker-3:'))).toMatch(/NOT present \((ErrImagePull|ImagePullBackOff): /);
    expect(reports.at(-1)).toBe(`1 of 4 nodes could not pull ${IMAGE}: worker-3`);
    expect(sims.kubelet.images('worker-2')).toContain(IMAGE);
    const namespace = await core.readNamespace({ name: 'hecate-prepull' });
    expect(namespace.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('hecate');
    await eventually('no prepull helper left', async () => {
      const pods = await core.listNamespacedPod({
        namespace: 'hecate-prepull',
        labelSelector: helperSelector('prepull'),
      });
      return pods.items.length === 0;
    });
  });

  it('reports PDBs allowing no disruption, single-replica StatefulSets, naked and emptyDir pods, foreign cordons', async () => {
    await plane.createNamespace('apps');
    const apps = plane.kubeConfig.makeApiClient(AppsV1Api);
    const labels = (app: string) => ({
      selector: { matchLabels: { app } },
      template: { metadata: { labels: { app } } },
    });
    const container = { name: 'main', image: 'nginx:1.29' };
    await apps.createNamespacedDeployment({
      namespace: 'apps',
      body: {
        metadata: { name: 'solo' },
        spec: {
          replicas: 1,
          ...labels('solo'),
          template: { ...labels('solo').template, spec: { containers: [container] } },
        },
      },
    });
    await plane.kubeConfig.makeApiClient(PolicyV1Api).createNamespacedPodDisruptionBudget({
      namespace: 'apps',
      body: { metadata: { name: 'solo' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'solo' } } } },
    });
    await apps.createNamespacedStatefulSet({
      namespace: 'apps',
      body: {
        metadata: { name: 'db' },
        spec: {
          serviceName: 'db',
          replicas: 1,
          ...labels('db'),
          template: { ...labels('db').template, spec: { containers: [container] } },
        },
      },
    });
    await apps.createNamespacedDeployment({
      namespace: 'apps',
      body: {
        metadata: { name: 'cache' },
        spec: {
          replicas: 1,
          ...labels('cache'),
          template: {
            ...labels('cache').template,
            spec: {
              containers: [{ ...container, volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] }],
              volumes: [{ name: 'scratch', emptyDir: {} }],
            },
          },
        },
      },
    });
    await core.createNamespacedPod({
      namespace: 'apps',
      body: { metadata: { name: 'naked' }, spec: { nodeName: 'worker-2', containers: [container] } },
    });
    const running = await eventually('every app pod scheduled and the PDB observed', async () => {
      const pods = (await core.listNamespacedPod({ namespace: 'apps' })).items;
      const pdb = await plane.kubeConfig
        .makeApiClient(PolicyV1Api)
        .readNamespacedPodDisruptionBudget({ name: 'solo', namespace: 'apps' });
      return pods.length === 4 && pods.every((p) => p.spec?.nodeName) && pdb.status?.observedGeneration === 1 && pods;
    });
    await core.patchNode(
      { name: 'worker-3', body: { spec: { unschedulable: true } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const findings = preflightFindings(await new KubePreflight(plane.kubeConfig).snapshot(), spec);
    const where = (name: string) => running.find((p) => p.metadata?.name?.startsWith(name))?.spec?.nodeName;
    const cache = running.find((p) => p.metadata?.name?.startsWith('cache-'));
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PodDisruptionBudget apps\/solo allows no disruption now/),
        'StatefulSet apps/db has a single replica: it is unavailable while its node drains',
        `Pod apps/naked on ${where('naked')} has no controller: deleted only from the "force" level on, and not recreated`,
        `Pod apps/${cache?.metadata?.name} on ${where('cache-')} has emptyDir data: lost when the node drains`,
        'Node worker-3 is already cordoned by someone else: startup leaves it cordoned',
      ]),
    );
    expect(findings).toHaveLength(5);
  });

  /** A CRD just Established may answer 429 "storage is (re)initializing" for a moment: wait until it lists. */
  const listable = (plural: string) =>
    eventually(`${plural}.longhorn.io listable`, async () => {
      const api = plane.kubeConfig.makeApiClient(CustomObjectsApi);
      await api.listNamespacedCustomObject({ group: 'longhorn.io', version: 'v1beta2', plural, namespace: 'default' });
      return true;
    });

  /** Runs the preflight executor on the bed, as `prepare --execute` wires it; returns its reports. */
  const runPreflight = async () => {
    const reports: string[] = [];
    const step = compilePlan('prepare', { ...atlasInput(), spec }).steps.find((s) => s.kind === 'preflight');
    await preflight(new KubePreflight(plane.kubeConfig), spec).apply(
      step as PlanStep,
      {
        report: (m: string) => reports.push(m),
      } as never,
    );
    return reports;
  };

  it('with a Longhorn that has no Replica CRD, says it could not check replica placement and does not fail', async () => {
    await plane.installCrds([upstreamCrdPath('volumes.longhorn.io')]);
    await listable('volumes');
    const reports = await runPreflight();
    expect(reports).toContain(
      'Could not check which Longhorn volumes have their only healthy replica on a worker: replicas.longhorn.io is not served by this cluster (no Longhorn, or one without that CRD)',
    );
    expect(reports.at(-1)).toMatch(/ \(1 check not made\)$/);
    expect(reports.filter((r) => r.startsWith('Longhorn volume'))).toEqual([]);
  });

  it('names exactly the Longhorn volume whose only healthy replica is on a worker, with its claim and workload', async () => {
    await plane.installCrds([upstreamCrdPath('volumes.longhorn.io'), upstreamCrdPath('replicas.longhorn.io')]);
    await Promise.all([listable('volumes'), listable('replicas')]);
    longhorn = await LonghornStandIn.start(plane.kubeConfig);
    const scenario = parseScenario({
      name: 'replicas',
      // Longhorn's own namespace, where its Volume and Replica objects live
      namespaces: ['longhorn-system'],
      nodes: [
        { name: 'cp-1', role: 'control-plane' },
        ...['worker-1', 'worker-2', 'worker-3'].map((name) => ({ name, role: 'worker' })),
      ],
      workloads: [
        // numberOfReplicas 1 on a worker: the one to name
        {
          kind: 'StatefulSet',
          namespace: 'storage',
          name: 'solo',
          pvcs: ['data'],
          volumeReplicas: [{ node: 'worker-2' }],
        },
        // two healthy replicas on workers and a failed one
        {
          kind: 'Deployment',
          namespace: 'storage',
          name: 'pair',
          pvcs: ['pair-data'],
          volumeReplicas: [{ node: 'worker-1' }, { node: 'worker-2' }, { node: 'worker-3', state: 'failed' }],
        },
        // the only healthy replica on the control plane (not drained)
        { kind: 'Deployment', namespace: 'storage', name: 'cp', pvcs: ['cp-data'], volumeReplicas: [{ node: 'cp-1' }] },
        // the default placement: one healthy replica on each of three workers
        { kind: 'Deployment', namespace: 'storage', name: 'spread', pvcs: ['spread-data'] },
      ],
    });
    await applyScenario(plane.kubeConfig, scenario);
    const claims = ['data-solo-0', 'pair-data', 'cp-data', 'spread-data'];
    let seen: string[] = [];
    const volumes = await eventually(
      'every storage volume attached with its replicas running or failed as placed',
      () => {
        const found = claims.map((c) => longhorn?.volumeFor('storage', c));
        seen = found.map((v, i) => `${claims[i]}: ${v?.status?.state ?? 'no volume'}`);
        if (found.some((v) => v?.status?.state !== 'attached')) return false;
        const states = found.map((v) =>
          (longhorn?.replicasOf(v?.metadata?.name ?? '') ?? [])
            .map((r) => `${r.spec?.nodeID}:${r.status?.currentState}${r.spec?.failedAt ? ':failed' : ''}`)
            .sort()
            .join(' '),
        );
        const expected = [
          'worker-2:running',
          'worker-1:running worker-2:running worker-3:stopped:failed',
          'cp-1:running',
          'worker-1:running worker-2:running worker-3:running',
        ];
        seen = states;
        return states.every((s, i) => s === expected[i]) && found;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; last seen: ${seen.join('; ')}`);
    });
    const solo = volumes[0];
    expect(solo?.spec?.numberOfReplicas).toBe(1);
    expect(volumes[1]?.spec?.numberOfReplicas).toBe(3);

    const reports = await runPreflight();
    const named = reports.filter((r) => r.startsWith('Longhorn volume'));
    expect(named).toEqual([
      `Longhorn volume ${solo?.metadata?.name} (PVC storage/data-solo-0) has its only healthy replica on worker worker-2: Longhorn refuses to drain worker-2 (node drain policy block-if-contains-last-replica) until the volume detaches, so the storage quiesce has to stop what uses it: StatefulSet storage/solo`,
    ]);
    expect(reports.filter((r) => r.startsWith('Could not check'))).toEqual([]);
    expect(reports.at(-1)).toMatch(/^\d+ findings$/);
  }, 90_000);
});
