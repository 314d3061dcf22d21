/**
 * An executed shutdown PowerEvent on the Atlas bed, run by the operator as a real process under its ServiceAccount
 * token with the RBAC from manifests/: conditions progress in plan order, the kstatus invariants hold in every status
 * version the watch delivered, and the end state is the shutdown issue's — Flux suspended, workers drained, every
 * node powered off (stand-in nodes NotReady) — with no request refused (no 403 in the audit log).
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFlux, nodes, suspendedFlux, workersTogether } from '../../bed/e2e.js';
import { describeEvent, isMutation, requireBed } from '../../bed/index.js';
import { type OperatorBed, runsOf, startOperatorBed } from '../../bed/operator/index.js';
import { eventually } from '../../bed/simulators.js';
import { ConditionType } from '../../core/api/index.js';
import { STAGE_CONDITION, type Stage } from '../../core/plan/index.js';
import { checkKstatusInvariants, getCondition } from '../../core/status/conditions.js';

const bed = requireBed();
const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];
const ORDER = [...WORKERS, 'titan-03', 'titan-02', 'titan-01'];

describe.skipIf(!bed.ok)('operator: executed shutdown on the Atlas bed', () => {
  let b: OperatorBed;

  beforeAll(async () => {
    // no way back recorded: the shutdown waits for hecate prepare --execute to record one
    b = await startOperatorBed({ drainTimeout: '8s', wayBack: false });
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('stalls while the plan has no way back; once hecate prepare --execute recorded one, runs the plan in order, keeps the kstatus invariants, and leaves Flux suspended and every node off', async () => {
    const op = b.startOperator('shutdown-a');
    await op.waitForLog((l) => l.message === 'Caches synced, reconciling');
    await b.createEvent('shutdown', { action: 'shutdown', planRef: { name: 'atlas' }, execute: true });
    const stalled = await b.waitForEvent(
      'shutdown',
      (e) => getCondition(e.status?.conditions, 'Stalled') !== undefined,
    );
    const condition = getCondition(stalled.status?.conditions, 'Stalled');
    expect(condition?.reason).toBe('WayBackNotVerified');
    expect(condition?.message).toMatch(
      /^Not shutting down: PowerPlan "atlas" has no way-back record \(status\.wayBack\)/,
    );
    expect(stalled.status?.progress).toBeUndefined();
    // while stalled, the operator wrote only its own status, Events and its leader Lease
    const bookkeeping = ['leases', 'events'];
    const acted = (await b.requests()).filter(
      (e) => isMutation(e) && !e.objectRef?.subresource && !bookkeeping.includes(e.objectRef?.resource ?? ''),
    );
    expect(acted.map(describeEvent)).toEqual([]);

    const started = Date.now();
    const prepared = await b.e2e.hecate(['prepare', ...b.e2e.args('--execute')]);
    expect(prepared.code, prepared.stderr).toBe(0);
    expect(prepared.stderr).toContain(
      'Way back verified: a shutdown now has what startup needs after the power is cut',
    );
    expect(prepared.stderr).toContain('Recorded in PowerPlan atlas (status.wayBack)');
    const { stdout } = await b.kubectl('get', 'powerplan', 'atlas', '-o', 'jsonpath={.status.wayBack}');
    expect(JSON.parse(stdout)).toMatchObject({ verified: true, fluxRevision: b.e2e.revision, gaps: [] });
    const done = await b.waitForEvent(
      'shutdown',
      (e) => ['Succeeded', 'Failed'].includes(e.status?.phase ?? ''),
      110_000,
    );
    expect(done.status?.phase, JSON.stringify(getCondition(done.status?.conditions, 'Ready'))).toBe('Succeeded');
    expect(getCondition(done.status?.conditions, 'Stalled')).toBeUndefined();
    // three control-plane nodes: that was the last status, written before their power-offs; the run goes on
    await op.waitForLog((l) => l.message === 'Finished the plan', 60_000);
    console.info(`operator shutdown of the Atlas bed: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(getCondition(done.status?.conditions, ConditionType.Ready)?.reason).toBe('PoweringOffControlPlane');
    const plan = done.status?.plan;
    expect(plan?.execute).toBe(true);

    // every step done, recorded in status.progress; the control plane's power-offs recorded before they were sent
    expect(done.status?.progress?.steps.map((s) => s.id).sort()).toEqual(plan?.steps.map((s) => s.id).sort());
    const open = done.status?.progress?.steps.filter((s) => s.state !== 'done').map((s) => `${s.id} ${s.state}`);
    expect(open).toEqual(['titan-03', 'titan-02', 'titan-01'].map((n) => `power-off/${n} running`));

    // conditions progress in plan order: the stage moves through the plan's stages in order, and each stage's
    // condition turns True in that order
    const versions = b.seen.filter((s) => s.name === 'shutdown' && s.status); // every status write
    const stages = runsOf(versions.flatMap((v) => (v.status?.stage ? [v.status.stage] : [])));
    // (a step found already done, such as storage with nothing attached, does not start: its stage may not show)
    const planStages = runsOf(plan?.steps.map((s) => s.stage) ?? []);
    expect(stages).toEqual(planStages.filter((s) => stages.includes(s)));
    expect(stages).toEqual(expect.arrayContaining(['flux-suspend', 'drain', 'power-off']));
    const trueOrder: string[] = [];
    for (const v of versions) {
      for (const c of v.status?.conditions ?? []) {
        if (
          c.status === 'True' &&
          !trueOrder.includes(c.type) &&
          !['Ready', 'Reconciling', 'Stalled'].includes(c.type)
        ) {
          trueOrder.push(c.type);
        }
      }
    }
    const planConditions = runsOf(plan?.steps.map((s) => STAGE_CONDITION[s.stage as Stage]) ?? []);
    expect(trueOrder).toEqual(planConditions.filter((c, i) => planConditions.indexOf(c) === i));
    expect(getCondition(done.status?.conditions, ConditionType.Ready)?.status).toBe('True');

    // kstatus invariants after every status write
    expect(versions.length).toBeGreaterThan(10);
    const broken = versions.flatMap((v) =>
      checkKstatusInvariants(v.status, v.generation).map((p) => `rv ${v.resourceVersion}: ${p}`),
    );
    expect(broken).toEqual([]);

    // end state: Flux suspended, the outage record names what Hecate changed
    const allFlux = [
      ...(await listFlux(b.e2e.plane, 'Kustomization')).map(
        (o) => `Kustomization/${o.metadata?.namespace}/${o.metadata?.name}`,
      ),
      ...(await listFlux(b.e2e.plane, 'HelmRelease')).map(
        (o) => `HelmRelease/${o.metadata?.namespace}/${o.metadata?.name}`,
      ),
    ].sort();
    expect(await suspendedFlux(b.e2e.plane)).toEqual(allFlux);
    const outage = done.status?.outage;
    expect(outage?.inOutage).toBe(true);
    expect([...(outage?.cordonedByHecate ?? [])].sort()).toEqual(WORKERS);
    expect(workersTogether(outage?.poweredOff ?? [], WORKERS)).toEqual(ORDER);

    // workers drained: DaemonSet pods only
    const core = b.e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
    for (const worker of WORKERS) {
      const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${worker}` });
      const left = pods.items.filter(
        (p) => p.metadata?.ownerReferences?.[0]?.kind !== 'DaemonSet' && !p.metadata?.labels?.['hecate.dev/helper'],
      );
      expect(
        left.map((p) => p.metadata?.name),
        worker,
      ).toEqual([]);
    }
    // every node powered off; the API reports the workers NotReady after the node-monitor grace period
    for (const node of ORDER) expect(b.e2e.sims.kubelet.isOn(node), node).toBe(false);
    await eventually(
      'the workers to be NotReady',
      async () =>
        (await nodes(b.e2e.plane))
          .filter((n) => WORKERS.includes(n.metadata?.name ?? ''))
          .every((n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True'),
      { timeoutMs: 30_000 },
    );

    // RBAC: nothing the operator asked for was refused
    const requests = await b.requests();
    expect(requests.length).toBeGreaterThan(50);
    expect(requests.filter((e) => e.responseStatus?.code === 403).map(describeEvent)).toEqual([]);
    expect(requests.some((e) => e.objectRef?.subresource === 'eviction')).toBe(true);
  });
});
