/**
 * The bed itself: a real control plane that serves, enforces RBAC, records mutations in its audit log, and leaves
 * no process behind when the process that started it is killed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import {
  ApiException,
  CoreV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_USER,
  BED_DIR_PREFIX,
  type ControlPlane,
  describeEvent,
  isRunning,
  mutations,
  mutationsBy,
  pidsWithCommandLine,
  REPO_ROOT,
  requestsBy,
  requireBed,
  startControlPlane,
} from '../../bed/index.js';
import { sweepStaleBeds } from '../../bed/reaper.js';

const bed = requireBed();

async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

describe.skipIf(!bed.ok)('control plane bed', () => {
  let plane: ControlPlane;
  let core: CoreV1Api;

  beforeAll(async () => {
    plane = await startControlPlane();
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    const memory = await plane.memory();
    console.info(
      `Bed started in ${plane.startupMs} ms; RSS ${memory.map((m) => `${m.name}=${Math.round((m.rssKiB ?? 0) / 1024)}MiB`).join(' ')}`,
    );
  });
  afterAll(async () => {
    await plane?.stop();
  });

  it('serves the core API with the bootstrap namespaces', async () => {
    const names = (await core.listNamespace()).items.map((ns) => ns.metadata?.name);
    expect(names).toEqual(expect.arrayContaining(['default', 'kube-system', 'kube-public', 'kube-node-lease']));
  });

  it('creates, lists and deletes Node objects', async () => {
    await core.createNode({ body: { metadata: { name: 'bed-node-1', labels: { 'kubernetes.io/arch': 'arm64' } } } });
    const nodes = await core.listNode({ labelSelector: 'kubernetes.io/arch=arm64' });
    expect(nodes.items.map((n) => n.metadata?.name)).toEqual(['bed-node-1']);
    await core.deleteNode({ name: 'bed-node-1' });
    expect(await statusOf(core.readNode({ name: 'bed-node-1' }))).toBe(404);
  });

  it('denies an unprivileged ServiceAccount (403) until RBAC grants it, and allows the admin', async () => {
    await plane.createNamespace('bed-rbac');
    const nobody = (await plane.serviceAccountKubeConfig('bed-rbac', 'nobody')).makeApiClient(CoreV1Api);
    expect(await statusOf(nobody.listNode())).toBe(403);
    expect(await statusOf(nobody.listNamespacedPod({ namespace: 'bed-rbac' }))).toBe(403);
    expect(await statusOf(core.listNode())).toBe(200);

    await grantRole(plane, 'bed-rbac', 'system:serviceaccount:bed-rbac:nobody', ['pods']);
    await expect.poll(() => statusOf(nobody.listNamespacedPod({ namespace: 'bed-rbac' })), { timeout: 5000 }).toBe(200);
    expect(await statusOf(nobody.listNamespacedPod({ namespace: 'default' }))).toBe(403);
  });

  it('issues client certificates whose O= entries are groups', async () => {
    const alice = (await plane.userKubeConfig('alice')).makeApiClient(CoreV1Api);
    const root = (await plane.userKubeConfig('root', ['system:masters'])).makeApiClient(CoreV1Api);
    expect(await statusOf(alice.listNode())).toBe(403);
    expect(await statusOf(root.listNode())).toBe(200);
  });

  it('records a patch made by a test in the audit log', async () => {
    await plane.createNamespace('bed-audit-patch');
    await core.patchNamespace(
      { name: 'bed-audit-patch', body: { metadata: { labels: { 'hecate.dev/probe': 'yes' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const isOurPatch = (e: { verb: string; objectRef?: { resource?: string; name?: string } }) =>
      e.verb === 'patch' && e.objectRef?.resource === 'namespaces' && e.objectRef.name === 'bed-audit-patch';
    const events = await plane.waitForAudit((all) => mutationsBy(all, ADMIN_USER).some(isOurPatch));
    const patch = mutationsBy(events, ADMIN_USER).find(isOurPatch);
    expect(patch?.responseStatus?.code).toBe(200);
    expect(patch?.dryRun).toBe(false);
  });

  it('tells dry-run requests apart: recorded, but not counted as mutations', async () => {
    await core.patchNamespace(
      { name: 'default', body: { metadata: { labels: { dry: 'run' } } }, dryRun: 'All' },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const dry = (e: { dryRun: boolean; objectRef?: { name?: string } }) => e.dryRun && e.objectRef?.name === 'default';
    const events = await plane.waitForAudit((all) => mutations(all, { includeDryRun: true }).some(dry));
    expect(mutations(events, { user: ADMIN_USER }).filter(dry)).toEqual([]);
    expect((await core.readNamespace({ name: 'default' })).metadata?.labels?.dry).toBeUndefined();
  });

  it('shows reads but no mutation for a read-only sequence', async () => {
    await plane.createNamespace('bed-audit-ro');
    const reader = 'system:serviceaccount:bed-audit-ro:reader';
    const kc = await plane.serviceAccountKubeConfig('bed-audit-ro', 'reader');
    await grantClusterReader(plane, reader);
    const api = kc.makeApiClient(CoreV1Api);
    await expect.poll(() => statusOf(api.listNamespace()), { timeout: 5000 }).toBe(200);

    await api.readNamespace({ name: 'bed-audit-ro' });
    await api.listPodForAllNamespaces();
    await api.listNamespacedConfigMap({ namespace: 'bed-audit-ro' });
    const watch = await new Watch(kc).watch(
      '/api/v1/namespaces/bed-audit-ro/configmaps',
      {},
      () => {},
      () => {},
    );
    const events = await plane.waitForAudit((all) => requestsBy(all, reader).some((e) => e.verb === 'watch'));
    watch.abort();

    const verbs = new Set(requestsBy(events, reader).map((e) => e.verb));
    expect([...verbs].sort()).toEqual(['get', 'list', 'watch']);
    expect(mutations(events, { user: reader, includeDryRun: true }).map(describeEvent)).toEqual([]);
  });
});

describe.skipIf(!bed.ok)('killing the test runner', () => {
  /** Starts controlplane.child.ts and waits for its bed. */
  async function startChild(mode: 'self' | 'runner') {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/integration/controlplane.child.ts', mode], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    const bed = JSON.parse(line) as { dir: string; pids: number[]; worker: number };
    expect(await pidsWithCommandLine(bed.dir)).toHaveLength(4);
    return { child, ...bed };
  }

  /** NOTE: a dying process may already show an empty command line, so its pid is checked as well. */
  async function expectNoComponentLeft(dir: string, pids: number[]): Promise<void> {
    const left = async () => {
      const running = await Promise.all(pids.map(isRunning));
      return [...new Set([...(await pidsWithCommandLine(dir)), ...pids.filter((_, i) => running[i])])];
    };
    await expect.poll(left, { timeout: 5000, interval: 100 }).toEqual([]);
  }

  it('that started the bed leaves no etcd or kube-apiserver, and the next start sweeps its folder', async () => {
    const { child, dir, pids } = await startChild('self');
    child.kill('SIGKILL');
    await expectNoComponentLeft(dir, pids);

    // Nothing ran in the child to remove its folder; the next start does (ours, or a parallel test file's).
    await sweepStaleBeds(tmpdir(), BED_DIR_PREFIX);
    expect(existsSync(dir)).toBe(false);
  }, 90_000);

  it('whose fork worker started the bed leaves no etcd or kube-apiserver, though the worker lives on', async () => {
    const { child, dir, pids, worker } = await startChild('runner');
    try {
      child.kill('SIGKILL');
      await expectNoComponentLeft(dir, pids);
      expect(existsSync(dir)).toBe(false); // the worker was alive to remove it
    } finally {
      if (await isRunning(worker)) process.kill(worker, 'SIGKILL');
    }
  }, 90_000);
});

async function grantRole(plane: ControlPlane, namespace: string, user: string, resources: string[]): Promise<void> {
  const rbac = plane.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  const name = 'bed-test-reader';
  await rbac.createNamespacedRole({
    namespace,
    body: { metadata: { name }, rules: [{ apiGroups: [''], resources, verbs: ['get', 'list', 'watch'] }] },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    },
  });
}

async function grantClusterReader(plane: ControlPlane, user: string): Promise<void> {
  const rbac = plane.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  const name = 'bed-test-cluster-reader';
  await rbac.createClusterRole({
    body: { metadata: { name }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list', 'watch'] }] },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    },
  });
}
