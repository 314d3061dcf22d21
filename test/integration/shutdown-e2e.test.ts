/**
 * `hecate shutdown` end to end, through the CLI, against the Atlas scenario on the real control plane with every
 * stand-in (kubelet, Flux, Longhorn). The audit log is the witness: which requests Hecate's user made, in which
 * order, and when. The kubelet stand-in powers a node off when Hecate's power-off helper pod "runs" on it.
 *
 * Sizes are the Atlas scenario's (7 nodes, ~30 pods); the drain levels are 5 s (the plan's 5m, scaled down) and the
 * kubelet runs grace periods 20× faster. One Kustomization (apps) is suspended by someone else before the shutdown.
 */
import { readdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type E2e,
  powerOffOrder,
  runs,
  stageOfMutation,
  stageOfStep,
  stageTimes,
  startE2e,
  suspendedFlux,
  withPausedApps,
  workersTogether,
} from '../../bed/e2e.js';
import { describeEvent, requireBed } from '../../bed/index.js';
import type { RenderedPlan } from '../../core/api/index.js';

const bed = requireBed();
const DRAIN_LEVEL_MS = 5_000;
/**
 * NOTE: the last level (disable-eviction) also lasts one level time, and the pods it deletes need their grace
 * period: at speed 20 the longest here (postgres, 60 s) takes 3 s, leaving room on a loaded machine.
 */
const SPEED = 20;
const PRE_SUSPENDED = 'Kustomization/flux-system/apps';
const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];
const CONTROL_PLANE_ORDER = ['titan-03', 'titan-02', 'titan-01'];

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
let graceful: { ms: number; stages: Record<string, number> } | undefined;

describe.skipIf(!bed.ok)('hecate shutdown on the Atlas scenario', () => {
  let e2e: E2e;
  let plan: RenderedPlan;

  beforeAll(async () => {
    e2e = await startE2e({ scenario: withPausedApps, drainTimeout: `${DRAIN_LEVEL_MS / 1000}s`, speed: SPEED });
  });
  afterAll(async () => {
    await e2e?.stop();
  });

  it('dry-run: prints the plan, makes zero mutating requests and leaves the state file untouched', async () => {
    const result = await e2e.hecate(['shutdown', ...e2e.args('-o', 'json')]);
    expect(result.code, result.stderr).toBe(0);
    plan = JSON.parse(result.stdout) as RenderedPlan;
    expect(plan.execute).toBe(false);
    expect(plan.steps.map((s) => s.id)).toContain('power-off/titan-01');
    const text = await e2e.hecate(['shutdown', ...e2e.args()]);
    expect(text.stdout).toMatch(/DRY-RUN: nothing will be changed/);
    const persisted = (await e2e.plane.readAudit()).filter(
      (e) => e.user === 'hecate-cli' && e.stage === 'ResponseComplete' && /^(create|update|patch|delete)/.test(e.verb),
    );
    expect(persisted.filter((e) => !e.dryRun).map(describeEvent)).toEqual([]);
    expect(await e2e.state()).toBeUndefined();
  });

  it('--execute without a repo snapshot refuses (exit 3) before it records or changes anything', async () => {
    const since = (await e2e.mutations()).length;
    await rename(e2e.snapshot, `${e2e.snapshot}.away`);
    try {
      const result = await e2e.hecate(['shutdown', ...e2e.args('--execute')]);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr.split('\n').slice(0, 2)).toEqual([
        'hecate: refusing to shut down: startup could not bring the cluster back after the power cut (1 gap). Nothing was changed.',
        `  - no repo snapshot at ${e2e.snapshot}: the bootstrap chain has nothing to apply from`,
      ]);
    } finally {
      await rename(`${e2e.snapshot}.away`, e2e.snapshot);
    }
    expect((await e2e.mutations()).slice(since).map(describeEvent)).toEqual([]);
    expect(await e2e.state()).toBeUndefined();
    expect(await readdir(dirname(e2e.statePath)).catch(() => [])).toEqual([]);
  });

  it('--execute while the operator runs a PowerEvent (it holds the run Lease) refuses (exit 3) naming it, and changes nothing', async () => {
    const since = (await e2e.mutations()).length;
    const kc = e2e.plane.kubeConfig;
    await kc
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: 'hecate-system' } } })
      .catch(() => undefined); // there already
    // An operator runs the PowerEvent "maintenance" and holds the run Lease for it.
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: 'power.hecate.dev', version: 'v1alpha1', namespace: 'hecate-system', plural: 'powerevents' };
    await custom.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: 'power.hecate.dev/v1alpha1',
        kind: 'PowerEvent',
        metadata: { name: 'maintenance' },
        spec: { action: 'shutdown', planRef: { name: 'atlas' } },
      },
    });
    const setPhase = (phase: string) =>
      custom.patchNamespacedCustomObjectStatus(
        { ...ref, name: 'maintenance', body: { status: { phase } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await setPhase('Running');
    const leases = kc.makeApiClient(CoordinationV1Api);
    const holder = 'operator/hecate-7d9f: PowerEvent hecate-system/maintenance';
    const now = new V1MicroTime(Date.now());
    await leases.createNamespacedLease({
      namespace: 'hecate-system',
      body: {
        metadata: { name: 'hecate-run' },
        spec: { holderIdentity: holder, leaseDurationSeconds: 60, acquireTime: now, renewTime: now },
      },
    });
    const result = await e2e.hecate(['shutdown', ...e2e.args('--execute')]);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr.split('\n')[0]).toMatch(
      new RegExp(
        `^hecate: the run Lease hecate-system/hecate-run is held by ${holder}, renewed at \\S+: another run acts on this cluster\\. Nothing was changed\\.`,
      ),
    );
    const lease = await leases.readNamespacedLease({ namespace: 'hecate-system', name: 'hecate-run' });
    expect(lease.spec?.holderIdentity).toBe(holder);
    expect((await e2e.mutations()).slice(since).map(describeEvent)).toEqual([]);
    expect(await e2e.state()).toBeUndefined();
    // NOTE: then the operator writes its last status and goes down with its node, still holding the Lease: the next
    // test's shutdown must take the Lease over (its run is over) instead of waiting 60 s for it to expire.
    await setPhase('Succeeded');
  });

  it('--execute: suspends Flux, drains the workers with escalation, powers off workers then the control plane, in plan order', async () => {
    const apiPods = await e2e.plane.kubeConfig
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: 'apps', labelSelector: 'app.kubernetes.io/name=api' });
    const nodeOf = new Map(apiPods.items.map((p) => [p.metadata?.name ?? '', p.spec?.nodeName ?? '']));
    const started = Date.now();
    // Two executing runs started together: exactly one acts (every assertion below counts each action once),
    // the other is refused by the lock beside the state file and names the run that holds it.
    const { result: both, order } = await powerOffOrder(e2e, () =>
      Promise.all([
        e2e.hecate(['shutdown', ...e2e.args('--execute')]),
        e2e.hecate(['shutdown', ...e2e.args('--execute')]),
      ]),
    );
    const refused = both.filter((r) => r.code === 3);
    const result = both.find((r) => r.code !== 3) ?? both[0];
    expect(refused, both.map((r) => r.stderr.slice(-500)).join('\n---\n')).toHaveLength(1);
    expect(refused[0]?.stderr.split('\n')[0]).toMatch(
      /^hecate: another hecate run holds \S+\/state\/cluster_power_recovery\.state\.lock: "hecate shutdown --execute" \(pid \d+ on \S+, since \S+\)\. Nothing was changed\./,
    );
    expect(result?.code, result?.stderr.slice(-3000)).toBe(0);
    expect(result?.stderr).toMatch(/^Acting as hecate-cli on /m);
    // The run Lease was taken for the run and handed back empty
    const lease = await e2e.plane.kubeConfig
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: 'hecate-system', name: 'hecate-run' });
    expect(lease.spec?.holderIdentity).toBe('');
    expect(lease.spec?.leaseTransitions).toBe(1); // taken over from the operator whose run was over
    expect(await readdir(dirname(e2e.statePath))).toEqual(['cluster_power_recovery.state']);
    const state = await e2e.state();
    graceful = { ms: Date.now() - started, stages: stageTimes(state?.progress) };
    console.info(`graceful shutdown of Atlas: ${seconds(graceful.ms)} (drain levels ${DRAIN_LEVEL_MS / 1000} s)`);

    // Flux: every Kustomization and HelmRelease suspended; the one paused by someone else recorded as theirs
    const outage = state?.outage;
    expect(outage?.inOutage).toBe(true);
    const suspended = await suspendedFlux(e2e.plane);
    const fluxObjects = (e2e.scenario.flux?.kustomizations.length ?? 0) + (e2e.scenario.flux?.helmReleases.length ?? 0);
    expect(suspended).toHaveLength(fluxObjects);
    const byHecate = [
      ...(outage?.suspendedByHecate.kustomizations ?? []),
      ...(outage?.suspendedByHecate.helmReleases ?? []),
    ];
    expect(byHecate).not.toContain(PRE_SUSPENDED);
    expect(outage?.alreadySuspended).toEqual([PRE_SUSPENDED]);
    expect([...byHecate, PRE_SUSPENDED].sort()).toEqual(suspended);

    // Drain: every worker cordoned (by Hecate) and left with DaemonSet pods only
    const core = e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
    for (const worker of WORKERS) {
      const node = await core.readNode({ name: worker });
      expect(node.spec?.unschedulable, worker).toBe(true);
      const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${worker}` });
      const left = pods.items.filter(
        (p) => p.metadata?.ownerReferences?.[0]?.kind !== 'DaemonSet' && !p.metadata?.labels?.['hecate.dev/helper'],
      );
      expect(
        left.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`),
        worker,
      ).toEqual([]);
    }
    expect([...(outage?.cordonedByHecate ?? [])].sort()).toEqual(WORKERS);

    // The PDB-blocked app (api: minAvailable = replicas) is deleted only at disable-eviction: two levels after its
    // node's drain began (the cordon). Evictions answered 429 until then.
    const mutations = await e2e.mutations();
    for (const deleted of mutations.filter((e) => e.verb === 'delete' && /^api-/.test(e.objectRef?.name ?? ''))) {
      const name = deleted.objectRef?.name ?? '';
      const evictions = mutations.filter((e) => e.objectRef?.subresource === 'eviction' && e.objectRef.name === name);
      expect(evictions.length, name).toBeGreaterThan(0);
      expect(
        evictions.every((e) => e.responseStatus?.code === 429),
        name,
      ).toBe(true);
      const node = nodeOf.get(name);
      const cordon = mutations.find((e) => e.objectRef?.resource === 'nodes' && e.objectRef.name === node);
      const waited = Date.parse(deleted.timestamp) - Date.parse(cordon?.timestamp ?? '');
      expect(waited, `${name} deleted ${waited} ms after ${node} was cordoned`).toBeGreaterThanOrEqual(
        2 * DRAIN_LEVEL_MS,
      );
    }
    expect(mutations.filter((e) => e.verb === 'delete' && /^api-/.test(e.objectRef?.name ?? ''))).toHaveLength(2);

    // Power: workers before any control-plane node, the control plane in its order, each node recorded once
    expect(order.slice(0, WORKERS.length).sort()).toEqual(WORKERS);
    expect(order.slice(WORKERS.length)).toEqual(CONTROL_PLANE_ORDER);
    expect(workersTogether(outage?.poweredOff ?? [], WORKERS)).toEqual([...WORKERS, ...CONTROL_PLANE_ORDER]);

    // The order of Hecate's mutations follows the printed plan, stage by stage
    const planStages = runs(plan.steps.map((s) => stageOfStep(s.id)));
    const seen = runs(mutations.map(stageOfMutation));
    expect(seen).toEqual(planStages.filter((s) => seen.includes(s)));
    expect(seen).toEqual(['flux-suspend', 'drain', 'power-off']);

    // The state file is complete: every step done, the run finished
    expect(state?.progress?.finishedAt).toBeDefined();
    // (parallel drains finish in any order)
    const records = state?.progress?.steps.map((s) => `${s.id} ${s.state}`).sort();
    expect(records).toEqual(plan.steps.map((s) => `${s.id} done`).sort());
  });

  it('--execute again after it finished (killed between its last record and its exit): every step done, nothing sent', async () => {
    const since = (await e2e.mutations()).length;
    const result = await e2e.hecate(['shutdown', ...e2e.args('--execute')]);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    // the drains count the workers drained with the power-off helpers still listed on them (the nodes are off)
    const output = `${result.stdout}${result.stderr}`;
    for (const worker of WORKERS) expect(output).toMatch(new RegExp(`drain/${worker} +already done`));
    const sent = (await e2e.mutations())
      .slice(since)
      .filter((e) => ['pods', 'nodes', 'kustomizations', 'helmreleases'].includes(e.objectRef?.resource ?? ''));
    expect(sent.map(describeEvent)).toEqual([]);
  });
});

describe.skipIf(!bed.ok)('hecate shutdown --emergency on the Atlas scenario', () => {
  let e2e: E2e;

  beforeAll(async () => {
    e2e = await startE2e({ scenario: withPausedApps, drainTimeout: `${DRAIN_LEVEL_MS / 1000}s`, speed: SPEED });
  });
  afterAll(async () => {
    await e2e?.stop();
  });

  it('completes the same shutdown (suspended, drained, powered off in order) without waiting for nodes to report down', async () => {
    const started = Date.now();
    // No repo snapshot: an emergency does not wait for a way back; it warns and records that it went without one.
    await rm(e2e.snapshot, { recursive: true, force: true });
    const { result, order } = await powerOffOrder(e2e, () =>
      e2e.hecate(['shutdown', '--emergency', ...e2e.args('--execute')]),
    );
    expect(result.stderr.split('\n')[0]).toBe('WARNING: going ahead without a verified way back (emergency):');
    const emergencyMs = Date.now() - started;
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const state = await e2e.state();
    const stages = stageTimes(state?.progress);
    const show = (s: Record<string, number>) =>
      ['flux-suspend', 'drain', 'storage', 'power-off'].map((k) => `${k} ${seconds(s[k] ?? 0)}`).join(', ');
    console.info(
      `emergency shutdown of Atlas: ${seconds(emergencyMs)} (${show(stages)}; drain levels min(15 s, the plan's), workers powered off together)\n` +
        `graceful shutdown of Atlas:  ${seconds(graceful?.ms ?? 0)} (${graceful ? show(graceful.stages) : 'not run'}; drain levels ${DRAIN_LEVEL_MS / 1000} s)`,
    );
    const outage = state?.outage;
    expect(outage?.reason).toMatch(
      /^way back not verified \(emergency\): no repo snapshot at \S+: the bootstrap chain has nothing to apply from; emergency shutdown$/,
    );
    // Workers lose power together (any order among them), then the control plane in its order.
    expect(outage?.poweredOff.slice(0, WORKERS.length).sort()).toEqual([...WORKERS].sort());
    expect(outage?.poweredOff.slice(WORKERS.length)).toEqual(CONTROL_PLANE_ORDER);
    expect(order.slice(0, WORKERS.length).sort()).toEqual(WORKERS);
    expect(await suspendedFlux(e2e.plane)).toHaveLength(
      (e2e.scenario.flux?.kustomizations.length ?? 0) + (e2e.scenario.flux?.helmReleases.length ?? 0),
    );
    // NOTE: the bed's drain levels are already short (5 s; Atlas: 5m), so the saving shows mostly in the power-off:
    // every worker at once, and no node waited for until it reports down.
    for (const node of [...WORKERS, ...CONTROL_PLANE_ORDER]) {
      expect(result.stderr).toContain(`not waiting for ${node}: emergency`);
    }
  });
});
