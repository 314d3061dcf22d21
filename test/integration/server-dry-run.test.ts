/**
 * `--dry-run=server` against the Atlas scenario on the real control plane, with the audit log as the witness: every
 * mutating request Hecate's user makes during the run carries dryRun=All (the audit event's requestURI), nothing
 * changes (nodes, Flux, the state file), and the API server's own RBAC refusal reaches the output with its 403 text.
 */
import { readFile } from 'node:fs/promises';
import { AppsV1Api, CoreV1Api, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeFlux } from '../../adapters/kube/flux.js';
import { StateFile } from '../../adapters/state-file.js';
import { type E2e, HECATE_USER, startE2e, suspendedFlux, withPausedApps } from '../../bed/e2e.js';
import { type AuditEvent, describeEvent, mutations, requireBed } from '../../bed/index.js';
import { eventually } from '../../bed/simulators.js';
import type { StepProbe } from '../../cli/render/server-dry-run-text.js';
import { outageRecord, type RenderedPlan } from '../../core/api/index.js';
import { fluxKey } from '../../core/flux/objects.js';

const bed = requireBed();
const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];
const LIMITED_USER = 'hecate-no-eviction';
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface Report {
  plan: RenderedPlan;
  serverDryRun: { steps: StepProbe[]; summary: Record<string, number> };
}

describe.skipIf(!bed.ok)('hecate <mode> --dry-run=server on the Atlas scenario', () => {
  let e2e: E2e;

  beforeAll(async () => {
    e2e = await startE2e({ scenario: withPausedApps, drainTimeout: '5s', speed: 20 });
    // as `kubectl apply -k manifests/` leaves it: the helper pods' namespace exists, so their creation is probed
    await e2e.plane.createNamespace('hecate-system');
  });
  afterAll(async () => {
    await e2e?.stop();
  });

  /** Runs `hecate argv` and returns what `user` sent that could mutate (dry run or not) while it ran. */
  async function witnessed(argv: string[], user = HECATE_USER) {
    const before = new Set((await e2e.plane.readAudit()).map((e) => e.auditID));
    const result = await e2e.hecate(argv);
    const sent = mutations(await e2e.plane.readAudit(), { user, includeDryRun: true }).filter(
      (e) => !before.has(e.auditID),
    );
    return { result, sent };
  }

  const notDryRun = (sent: readonly AuditEvent[]) => sent.filter((e) => !e.dryRun).map(describeEvent);

  async function cordoned(): Promise<string[]> {
    const nodes = await e2e.plane.kubeConfig.makeApiClient(CoreV1Api).listNode();
    return nodes.items.filter((n) => n.spec?.unschedulable).map((n) => n.metadata?.name ?? '');
  }

  it('shutdown: cordons, Flux patches, evictions and helper pods all go out with dryRun=All; nothing changes, no state file', async () => {
    const suspendedBefore = await suspendedFlux(e2e.plane);
    const { result, sent } = await witnessed(['shutdown', ...e2e.args('--dry-run=server', '-o', 'json')]);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    const byKind = new Map<string, number>();
    for (const e of sent) {
      const key = `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`;
      byKind.set(key, (byKind.get(key) ?? 0) + 1);
    }
    console.info(
      `shutdown --dry-run=server on Atlas: ${result.ms} ms, ${sent.length} dry-run requests: ${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ')}`,
    );

    expect(sent.length).toBeGreaterThan(0);
    expect(notDryRun(sent)).toEqual([]);
    const kinds = new Set(sent.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.subresource ?? ''}`));
    expect([...kinds].sort()).toEqual(
      expect.arrayContaining(['create pods/eviction', 'patch kustomizations/', 'patch helmreleases/', 'patch nodes/']),
    );
    expect(await cordoned()).toEqual([]);
    expect(await suspendedFlux(e2e.plane)).toEqual(suspendedBefore);
    expect(await e2e.state()).toBeUndefined();

    // kubectl's pod selection: DaemonSet pods are never evicted
    const core = e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
    const daemonPods = new Set<string>();
    for (const worker of WORKERS) {
      const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${worker}` });
      for (const p of pods.items) {
        if (p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet')) daemonPods.add(p.metadata.name ?? '');
      }
    }
    expect(daemonPods.size).toBeGreaterThan(0);
    const evicted = sent.filter((e) => e.objectRef?.subresource === 'eviction').map((e) => e.objectRef?.name ?? '');
    expect(evicted.length).toBeGreaterThan(0);
    expect(evicted.filter((name) => daemonPods.has(name))).toEqual([]);

    // every step reported; the PDB-covered api pods answer 429 (held), which a real drain retries and escalates
    const steps = report.serverDryRun.steps;
    expect(steps.map((s) => s.id)).toEqual(report.plan.steps.map((s) => s.id));
    expect(steps.filter((s) => s.verdict === 'refused' || s.verdict === 'failed')).toEqual([]);
    for (const worker of WORKERS) expect(steps.find((s) => s.id === `drain/${worker}`)?.verdict).toBe('allowed');
    const held = steps.flatMap((s) => s.requests).filter((r) => r.outcome === 'held');
    expect(held.map((r) => r.target)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^pods\/eviction apps\/api-/)]),
    );
    expect(steps.find((s) => s.kind === 'quiesce-storage')).toMatchObject({
      verdict: 'not-probed',
      reason: expect.stringMatching(/^only reads/),
    });
    expect(steps.filter((s) => s.kind === 'power-off-node').map((s) => s.verdict)).toEqual(Array(7).fill('allowed'));
    const helpers = sent.filter(
      (e) => e.verb === 'create' && e.objectRef?.resource === 'pods' && !e.objectRef.subresource,
    );
    expect(helpers.map((e) => `${e.objectRef?.namespace} ${e.responseStatus?.code}`)).toEqual(
      Array(7).fill('hecate-system 201'),
    );
  });

  it('shutdown --emergency and prepare: only dry-run requests, no state file', async () => {
    for (const argv of [
      ['shutdown', '--emergency', ...e2e.args('--dry-run=server')],
      ['prepare', ...e2e.args('--dry-run=server')],
    ]) {
      const { result, sent } = await witnessed(argv);
      expect(result.code, `${argv.join(' ')}\n${result.stdout.slice(-3000)}${result.stderr.slice(-2000)}`).toBe(0);
      expect(result.stdout).toContain('SERVER DRY-RUN');
      expect(notDryRun(sent), argv.join(' ')).toEqual([]);
      expect(await e2e.state()).toBeUndefined();
    }
    expect(await cordoned()).toEqual([]);
  });

  it('a user who may not create pods/eviction: the server dry-run shows the 403 and exits 1; the client dry-run prints the plan and exits 0', async () => {
    const admin = e2e.plane.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    const everything = ['*'];
    await admin.createClusterRole({
      body: {
        metadata: { name: LIMITED_USER },
        rules: [
          // core: everything Hecate uses except the eviction subresource
          {
            apiGroups: [''],
            resources: ['nodes', 'pods', 'namespaces', 'serviceaccounts', 'configmaps', 'secrets', 'services'],
            verbs: everything,
          },
          {
            apiGroups: [
              'apps',
              'policy',
              'kustomize.toolkit.fluxcd.io',
              'helm.toolkit.fluxcd.io',
              'source.toolkit.fluxcd.io',
              'longhorn.io',
              'power.hecate.dev',
            ],
            resources: everything,
            verbs: everything,
          },
        ],
      },
    });
    await admin.createClusterRoleBinding({
      body: {
        metadata: { name: LIMITED_USER },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: LIMITED_USER },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: LIMITED_USER }],
      },
    });
    const kubeconfig = await e2e.plane.writeKubeConfig(
      await e2e.plane.userKubeConfig(LIMITED_USER),
      'no-eviction.kubeconfig',
    );
    const args = ['--plan', e2e.planPath, '--kubeconfig', kubeconfig];

    const { result, sent } = await witnessed(['shutdown', ...args, '--dry-run=server'], LIMITED_USER);
    expect(result.code, result.stderr.slice(-3000)).toBe(1);
    expect(result.stdout).toMatch(/\[drain\] Cordon and drain titan-04\n\s+→ REFUSED/);
    expect(result.stdout).toMatch(
      new RegExp(
        `refused {2}create pods/eviction \\S+: 403 Forbidden: pods "[^"]+" is forbidden: User "${LIMITED_USER}" cannot create resource "pods/eviction"`,
      ),
    );
    expect(result.stdout).toMatch(/allowed {2}patch nodes titan-04/);
    expect(result.stderr).toMatch(/server dry-run: \d+ request\(s\) refused.*--execute would stop at drain\/titan-04/);
    expect(sent.filter((e) => e.objectRef?.subresource === 'eviction').map((e) => e.responseStatus?.code)).toEqual(
      expect.arrayContaining([403]),
    );
    expect(notDryRun(sent)).toEqual([]);
    expect(await e2e.state()).toBeUndefined();

    const client = await e2e.hecate(['shutdown', ...args]);
    expect(client.code, client.stderr).toBe(0);
    expect(client.stdout).toContain('DRY-RUN: nothing will be changed');
    expect(client.stdout).toContain('Cordon and drain titan-04');
  });

  it('startup with the Flux source down: uncordons, chain server-side applies and Flux resumes all go out with dryRun=All; the state file is not written', async () => {
    // what a shutdown leaves: workers cordoned, Flux suspended, the outage recorded; then Gitea is gone
    const flux = new KubeFlux(e2e.plane.kubeConfig);
    const objects = [...(await flux.list('Kustomization')), ...(await flux.list('HelmRelease'))];
    const mine = objects.filter((o) => !o.suspended);
    for (const o of mine) await flux.setSuspended(o, true);
    const core = e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
    for (const name of WORKERS) {
      await core.patchNode({ name, body: { spec: { unschedulable: true } } }, MERGE);
    }
    await new StateFile(e2e.statePath).save({
      outage: outageRecord.parse({
        inOutage: true,
        startedAt: new Date().toISOString(),
        reason: 'made by the test',
        suspendedByHecate: {
          kustomizations: mine.filter((o) => o.kind === 'Kustomization').map(fluxKey),
          helmReleases: mine.filter((o) => o.kind === 'HelmRelease').map(fluxKey),
        },
        alreadySuspended: objects.filter((o) => o.suspended).map(fluxKey),
        cordonedByHecate: WORKERS,
        poweredOff: [],
        fluxRevision: e2e.revision,
        ignoredUps: false,
      }),
    });
    const stateBefore = await readFile(e2e.statePath, 'utf8');
    await e2e.plane.kubeConfig
      .makeApiClient(AppsV1Api)
      .deleteNamespacedDeployment({ name: 'gitea', namespace: 'gitea' });
    await eventually(
      'the Flux source to go down with Gitea',
      async () => (await flux.source('GitRepository', 'flux-system', 'flux-system'))?.ready === false,
      { timeoutMs: 60_000 },
    );
    const suspendedBefore = await suspendedFlux(e2e.plane);

    const { result, sent } = await witnessed(['startup', ...e2e.args('--dry-run=server', '-o', 'json')]);
    expect(result.code, `${result.stdout.slice(-4000)}\n${result.stderr.slice(-2000)}`).toBe(0);
    const steps = (JSON.parse(result.stdout) as Report).serverDryRun.steps;

    expect(notDryRun(sent)).toEqual([]);
    const patched = (resource: string) => sent.filter((e) => e.verb === 'patch' && e.objectRef?.resource === resource);
    expect(
      patched('nodes')
        .map((e) => e.objectRef?.name)
        .sort(),
    ).toEqual(WORKERS);
    // stages whose workloads are Ready are done already (as in a real run); Gitea's is applied
    const gitea = steps.find((s) => s.id === 'chain/gitea');
    expect(gitea?.verdict, JSON.stringify(gitea)).toBe('allowed');
    expect(gitea?.requests).toContainEqual(
      expect.objectContaining({ target: 'deployments gitea/gitea', outcome: 'allowed' }),
    );
    expect(patched('deployments').map(describeEvent)).toContain('patch deployments gitea/gitea 201');
    const chain = steps.filter((s) => s.kind === 'apply-chain-stage');
    expect(chain.filter((s) => !['allowed', 'already-done'].includes(s.verdict))).toEqual([]);
    expect(steps.find((s) => s.kind === 'resume-flux')?.verdict).toBe('allowed');
    for (const kind of ['wait-api', 'wait-nodes', 'wait-flux']) {
      expect(steps.find((s) => s.kind === kind)).toMatchObject({ verdict: 'not-probed', reason: 'only reads' });
    }

    expect((await cordoned()).sort()).toEqual(WORKERS);
    expect(await suspendedFlux(e2e.plane)).toEqual(suspendedBefore);
    expect(await readFile(e2e.statePath, 'utf8')).toBe(stateBefore);
  });
});
