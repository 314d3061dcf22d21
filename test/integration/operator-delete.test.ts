/**
 * Deleting an executing shutdown PowerEvent mid-drain: the operator, a real process under its
 * ServiceAccount, lets the drain steps in flight finish, starts nothing after them (no power-off helper in the audit
 * log), records where it stopped (a Warning Event on the PowerEvent, a JSON log line naming the step, and a ConfigMap
 * with the outage record), then removes its finalizer and the object goes. Nothing is undone: the drained workers
 * stay cordoned and Flux stays suspended.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodes, suspendedFlux } from '../../bed/e2e.js';
import { type AuditEvent, describeEvent, isMutation, requireBed } from '../../bed/index.js';
import { NS, type OperatorBed, SA_USER, startOperatorBed } from '../../bed/operator/index.js';
import { sleep } from '../../bed/operator/process.js';
import type { PowerEvent } from '../../core/api/index.js';

const bed = requireBed();
const ALL_NODES = ['titan-01', 'titan-02', 'titan-03', 'titan-04', 'titan-05', 'titan-06', 'titan-07'];

const isDone = (s: { state: string }) => s.state === 'done' || s.state === 'skipped';

describe.skipIf(!bed.ok)('operator: an executing PowerEvent deleted mid-drain', () => {
  let b: OperatorBed;

  beforeAll(async () => {
    b = await startOperatorBed({ drainTimeout: '8s' });
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('stops after the drain in flight, records where, undoes nothing, and lets the object go', async () => {
    const op = b.startOperator('delete-a');
    await op.waitForLog((l) => l.message === 'Caches synced, reconciling');
    await b.createEvent('shutdown', { action: 'shutdown', planRef: { name: 'atlas' }, execute: true });
    const drainRunning = (e: PowerEvent) =>
      (e.status?.progress?.steps ?? []).some((s) => s.id.startsWith('drain/') && s.state === 'running');
    const draining = await b.waitForEvent('shutdown', drainRunning, 90_000);
    expect(draining.metadata.finalizers).toContain('power.hecate.dev/stop-at-safe-point');
    const inFlight = (draining.status?.progress?.steps ?? []).filter((s) => s.state === 'running').map((s) => s.id);
    await b.kubectl('delete', 'powerevent', 'shutdown', '-n', NS, '--wait=false');

    // the object goes once the stop is recorded
    const deadline = Date.now() + 120_000;
    for (;;) {
      const gone = await b.getEvent('shutdown').then(
        () => false,
        (error: { code?: number }) => error.code === 404,
      );
      if (gone) break;
      if (Date.now() > deadline) throw new Error(`the PowerEvent was not released:\n${op.tail()}`);
      await sleep(200);
    }

    // the stop record outlives it: where it stopped, what was done, the outage record
    const core = b.e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
    const records = await core.listNamespacedConfigMap({
      namespace: NS,
      labelSelector: 'power.hecate.dev/record=stopped-powerevent',
    });
    expect(records.items).toHaveLength(1);
    const data = records.items[0]?.data ?? {};
    const record = JSON.parse(data['record.json'] ?? '{}') as {
      stopped: { beforeStep: string; title: string; at: string; reason: string };
      done: string[];
      outage: { cordonedByHecate: string[]; suspendedByHecate: { kustomizations: string[] }; poweredOff: string[] };
      progress: { steps: { id: string; state: string; startedAt: string }[] };
    };
    console.info(`deleted while ${inFlight.join(', ')} ran; stopped before ${record.stopped.beforeStep}`);
    expect(data.powerEvent).toBe(`${NS}/shutdown`);
    expect(data.reason).toBe('PowerEvent deleted');
    expect(data.stoppedBeforeStep).toBe(record.stopped.beforeStep);
    // the steps in flight at the deletion acted and none failed; nothing started after the run stopped; what is not
    // finished is a drain whose wait the stop cut short (recorded running: a rerun checks it again), never undone
    const steps = record.progress.steps;
    expect(steps.filter((s) => s.state === 'failed')).toEqual([]);
    for (const id of inFlight) expect(steps.find((s) => s.id === id)?.state, id).toMatch(/^(done|running)$/);
    const stoppedAt = Date.parse(record.stopped.at);
    expect(steps.filter((s) => Date.parse(s.startedAt) > stoppedAt).map((s) => s.id)).toEqual([]);
    expect(steps.filter((s) => !isDone(s)).every((s) => s.id.startsWith('drain/'))).toBe(true);
    const before = steps.find((s) => s.id === record.stopped.beforeStep);
    expect(before === undefined || before.state === 'running', JSON.stringify(before)).toBe(true);
    expect(record.stopped.beforeStep).toMatch(/^(drain\/|storage\/)/);
    expect(steps.filter((s) => s.id.startsWith('power-off/'))).toEqual([]);
    expect(record.outage.poweredOff).toEqual([]);

    // the Event on the PowerEvent and the log line name the step
    const events = await core.listNamespacedEvent({ namespace: NS, fieldSelector: 'involvedObject.name=shutdown' });
    const stopped = events.items.filter((e) => e.reason === 'Stopped');
    expect(stopped).toHaveLength(1);
    expect(stopped[0]?.type).toBe('Warning');
    expect(stopped[0]?.message).toContain(`Stopped before step ${record.stopped.beforeStep} (${record.stopped.title})`);
    expect(stopped[0]?.message).toContain('Nothing was undone');
    expect(stopped[0]?.message).toContain(`ConfigMap ${NS}/${records.items[0]?.metadata?.name}`);
    const line = op.logs.find((l) => l.message === 'PowerEvent deleted: stopped at a safe point');
    expect(line?.step).toBe(record.stopped.beforeStep);
    expect(line?.powerEvent).toBe(`${NS}/shutdown`);

    // the audit log: no power-off helper, no uncordon, no Flux resume; no write after the deletion but the stop's
    const requests = await b.requests();
    const all = await b.e2e.plane.readAudit();
    const deletion = all.find(
      (e) => e.verb === 'delete' && e.objectRef?.resource === 'powerevents' && e.objectRef.name === 'shutdown',
    );
    expect(deletion).toBeDefined();
    expect(stoppedAt).toBeGreaterThanOrEqual(Date.parse(deletion?.timestamp ?? ''));
    // after the deletion: the drains in flight go on (cordon, evictions, deletes), nothing else changes the cluster
    const afterDelete = requests.filter((e) => isMutation(e) && !e.dryRun && e.timestamp > (deletion?.timestamp ?? ''));
    const allowedAfter = (e: AuditEvent) =>
      (e.objectRef?.resource === 'pods' && (e.objectRef.subresource === 'eviction' || e.verb === 'delete')) ||
      (e.objectRef?.resource === 'nodes' && e.verb === 'patch') || // cordons of the drains in flight
      ['powerevents', 'events', 'configmaps', 'leases'].includes(e.objectRef?.resource ?? '');
    expect(
      afterDelete.filter((e) => !allowedAfter(e)).map((e) => `${describeEvent(e)} at ${e.timestamp}`),
      `deleted at ${deletion?.timestamp}`,
    ).toEqual([]);
    const helpers = requests.filter(
      (e) => e.verb === 'create' && e.objectRef?.resource === 'pods' && !e.objectRef.subresource,
    );
    expect(helpers.map(describeEvent)).toEqual([]);
    expect(requests.filter((e) => e.responseStatus?.code === 403).map(describeEvent)).toEqual([]);
    expect(requests.every((e) => e.user === SA_USER)).toBe(true);

    // the cluster as it was left: every node on, the drained workers still cordoned, Flux still suspended
    for (const node of ALL_NODES) expect(b.e2e.sims.kubelet.isOn(node), node).toBe(true);
    const cordoned = (await nodes(b.e2e.plane)).filter((n) => n.spec?.unschedulable).map((n) => n.metadata?.name);
    expect(cordoned.sort()).toEqual([...record.outage.cordonedByHecate].sort());
    expect(record.outage.cordonedByHecate.length).toBeGreaterThan(0);
    const suspended = await suspendedFlux(b.e2e.plane);
    for (const ks of record.outage.suspendedByHecate.kustomizations) {
      expect(suspended, ks).toContain(ks.startsWith('Kustomization/') ? ks : `Kustomization/${ks}`);
    }
    expect(record.outage.suspendedByHecate.kustomizations.length).toBeGreaterThan(0);
  });
});
