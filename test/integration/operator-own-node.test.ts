/**
 * The operator's own node is powered off last, after the last status it writes. The
 * operator runs as a real process under its ServiceAccount, told (--node-name, as NODE_NAME from the downward API
 * would) that it runs on titan-03, a control-plane node of the Atlas bed that the plan would otherwise power off
 * first among the control plane. The Atlas control plane has three nodes, so the last status is written before the
 * first control-plane power-off (the API would lose its quorum on the way: test/integration/operator-quorum.test.ts
 * stops it). From the audit log: every other node's power-off helper was created before titan-03's, and the status
 * write that says it is the last one came after the workers' helpers and before titan-02's, with no status write
 * after it. Then power returns: a restarted operator marks the steps done and creates no second helper.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workersTogether } from '../../bed/e2e.js';
import { type AuditEvent, describeEvent, requireBed } from '../../bed/index.js';
import { type OperatorBed, startOperatorBed } from '../../bed/operator/index.js';
import { sleep } from '../../bed/operator/process.js';
import { getCondition } from '../../core/status/conditions.js';

const bed = requireBed();
const SELF = 'titan-03';
const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];
const ORDER = [...WORKERS, 'titan-02', 'titan-01', SELF];
const LAST_WORDS =
  "powering off the control plane: titan-02, titan-01, then titan-03 (this operator's node); the API loses quorum on the way, so this is the last status this operator writes";
const CONTROL_PLANE = ['titan-02', 'titan-01', SELF];

const isHelperCreate = (e: AuditEvent) =>
  e.verb === 'create' && e.objectRef?.resource === 'pods' && !e.objectRef.subresource && e.responseStatus?.code === 201;
const isStatusWrite = (e: AuditEvent) =>
  e.objectRef?.resource === 'powerevents' &&
  e.objectRef.subresource === 'status' &&
  e.verb === 'patch' &&
  e.responseStatus?.code === 200;

/** `hecate-power-off-<node>-<the boot's first 8>`, or `-<5 generated>` for a node whose kubelet reports no boot. */
const helperNode = (name: string) => /^hecate-power-off-(.+)-(?:[0-9a-f]{8}|[a-z0-9]{5})$/.exec(name)?.[1];

/**
 * The node of each power-off helper pod the operator created, in audit order. A helper is named after its node and
 * boot, which the create's audit record shows; one created by generateName (no boot) has no name there, and the
 * adapter's reads of its pod do: such a create takes the first helper read after it that no earlier create took.
 */
function helperNodes(requests: AuditEvent[]): { index: number; node: string }[] {
  const out: { index: number; node: string }[] = [];
  const taken = new Set<string>();
  requests.forEach((e, index) => {
    if (!isHelperCreate(e)) return;
    const named = e.objectRef?.name && helperNode(e.objectRef.name);
    if (named) {
      out.push({ index, node: named });
      return;
    }
    const read = requests
      .slice(index + 1)
      .find(
        (r) =>
          r.objectRef?.resource === 'pods' &&
          /^hecate-power-off-/.test(r.objectRef.name ?? '') &&
          !taken.has(r.objectRef.name ?? ''),
      );
    if (read?.objectRef?.name) taken.add(read.objectRef.name);
    const node = helperNode(read?.objectRef?.name ?? '') ?? '?';
    out.push({ index, node });
  });
  return out;
}

describe.skipIf(!bed.ok)('operator: its own node is powered off last, after its last status', () => {
  let b: OperatorBed;

  beforeAll(async () => {
    b = await startOperatorBed({ drainTimeout: '8s' });
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('writes the last status, then powers off titan-03 after every other node; a restart does not repeat it', async () => {
    const op = b.startOperator('own-a', ['--node-name', SELF]);
    await op.waitForLog((l) => l.message === 'Caches synced, reconciling');
    await b.createEvent('shutdown', { action: 'shutdown', planRef: { name: 'atlas' }, execute: true });
    const last = await b.waitForEvent(
      'shutdown',
      (e) =>
        e.status?.phase === 'Failed' ||
        getCondition(e.status?.conditions, 'Ready')?.reason === 'PoweringOffControlPlane',
      150_000,
    );
    expect(getCondition(last.status?.conditions, 'Ready')?.message, op.tail()).toContain(LAST_WORDS);
    expect(last.status?.plan?.steps.filter((s) => s.kind === 'power-off-node').map((s) => s.params.node)).toEqual(
      ORDER,
    );
    expect(last.status?.plan?.steps.at(-1)?.why).toContain('Hecate runs on titan-03: it is powered off last');
    // titan-03 loses power (the kubelet stand-in runs the helper), and the operator, still running here, writes nothing
    for (let i = 0; i < 300 && b.e2e.sims.kubelet.isOn(SELF); i++) await sleep(100);
    for (const node of ORDER) expect(b.e2e.sims.kubelet.isOn(node), node).toBe(false);
    await op.waitForLog((l) => l.message === 'Finished the plan'); // the run went on past the sealed writes

    const requests = await b.requests();
    const helpers = helperNodes(requests);
    expect(
      workersTogether(
        helpers.map((h) => h.node),
        WORKERS,
      ),
    ).toEqual(ORDER);
    const own = helpers.at(-1)?.index ?? -1;
    const statusWrites = requests.flatMap((e, i) => (isStatusWrite(e) ? [i] : []));
    const lastWrite = statusWrites.at(-1) ?? -1;
    // the last status write is the one that says so (the object holds it now): after the workers' helpers, before
    // the control plane's, and nothing after it
    const firstControlPlane = helpers.at(-CONTROL_PLANE.length)?.index ?? -1;
    expect(lastWrite).toBeGreaterThan(helpers.at(-CONTROL_PLANE.length - 1)?.index ?? -1);
    expect(lastWrite, describeEvent(requests[lastWrite] as AuditEvent)).toBeLessThan(firstControlPlane);
    expect(own).toBeGreaterThan(firstControlPlane);
    expect(statusWrites.filter((i) => i > firstControlPlane)).toEqual([]);
    const now = await b.getEvent('shutdown');
    expect(getCondition(now.status?.conditions, 'Ready')?.message).toContain(LAST_WORDS);
    expect(workersTogether(now.status?.outage?.poweredOff ?? [], WORKERS)).toEqual(ORDER);
    for (const node of CONTROL_PLANE) {
      expect(now.status?.progress?.steps.find((s) => s.id === `power-off/${node}`)?.state, node).toBe('running');
    }
    expect(now.metadata.finalizers ?? []).toEqual([]); // a finished event never blocks its deletion
    expect(op.logs.some((l) => l.message === 'Wrote the last status; powering off what it announces')).toBe(true);

    // power returns; the operator's pod starts again on titan-03
    await op.stop('SIGKILL');
    await b.e2e.sims.kubelet.powerOn(SELF);
    const again = b.startOperator('own-b', ['--node-name', SELF]);
    const done = await b.waitForEvent(
      'shutdown',
      (e) => getCondition(e.status?.conditions, 'Ready')?.reason === 'Succeeded',
      60_000,
    );
    const step = done.status?.progress?.steps.find((s) => s.id === `power-off/${SELF}`);
    expect(step?.state, again.tail()).toBe('done');
    expect(step?.message).toContain('not sent again');
    expect(done.status?.progress?.steps.every((s) => s.state === 'done')).toBe(true);
    expect(getCondition(done.status?.conditions, 'Ready')?.message).toContain('titan-03 (the operator');
    await again.waitForLog((l) => l.message.startsWith('Confirmed the power-offs announced in the last status'));
    await sleep(2_000); // NOTE: an absence: give a wrong second run time to show itself in the audit log
    const after = await b.requests();
    expect(
      workersTogether(
        helperNodes(after).map((h) => h.node),
        WORKERS,
      ),
    ).toEqual(ORDER); // no second helper for titan-03
    expect(b.e2e.sims.kubelet.isOn(SELF)).toBe(true);
    const core = b.e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: 'hecate-system', labelSelector: `hecate.dev/node=${SELF}` });
    expect(pods.items.length).toBeLessThanOrEqual(1);
    expect(after.filter((e) => e.responseStatus?.code === 403).map(describeEvent)).toEqual([]);
  });
});
