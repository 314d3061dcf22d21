/**
 * prepare against real parts: git with a local bare repository (file:// URL), bundle checksums on real files, and,
 * on the real control plane with the kubelet stand-in, the helper image pre-pull and the preflight report.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, PatchStrategy, PolicyV1Api, setHeaderOptions } from '@kubernetes/client-node';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localBundleFiles } from '../../adapters/bundle-files.js';
import { GitSnapshot, GitSnapshotError } from '../../adapters/git.js';
import { KubePreflight } from '../../adapters/kube/preflight.js';
import { HelperPodAccess, helperSelector } from '../../adapters/node-access/helper-pod.js';
import { systemClock } from '../../adapters/system.js';
import type { PlanStep, PowerPlanSpec } from '../../core/api/index.js';
import { compilePlan } from '../../core/plan/index.js';
import { runPlan } from '../../core/run/runner.js';
import { PrepareError, preflightFindings, prepullImage, verifyBundle } from '../../core/steps/prepare.js';
import { onPath } from '../bed/binaries.js';
import { type ControlPlane, requireBed, startControlPlane } from '../bed/index.js';
import { eventually, type Simulators, startSimulators } from '../bed/simulators.js';
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
  afterAll(async () => {
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
});
