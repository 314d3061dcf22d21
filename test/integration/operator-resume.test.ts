/**
 * The operator SIGKILLed mid-drain during an executed shutdown on the Atlas bed; a new instance (the same binary,
 * the same ServiceAccount) resumes from the PowerEvent's status and finishes without repeating steps: in the audit
 * log no node is cordoned twice, no Flux object suspended twice, and no node sent a second power-off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { suspendedFlux } from '../../bed/e2e.js';
import { type AuditEvent, describeEvent, isMutation, requireBed } from '../../bed/index.js';
import { type OperatorBed, startOperatorBed } from '../../bed/operator/index.js';
import { sleep } from '../../bed/operator/process.js';
import { checkKstatusInvariants } from '../../core/status/conditions.js';

const bed = requireBed();
const ORDER = ['titan-04', 'titan-05', 'titan-06', 'titan-07', 'titan-03', 'titan-02', 'titan-01'];

const isDone = (s: { state: string }) => s.state === 'done' || s.state === 'skipped';

/** `verb resource name` of each mutation, counted. */
function counts(events: AuditEvent[], match: (e: AuditEvent) => boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events.filter((e) => isMutation(e) && match(e))) {
    const key = `${e.objectRef?.resource}/${e.objectRef?.name}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe.skipIf(!bed.ok)('operator: killed mid-drain, resumed by a new instance', () => {
  let b: OperatorBed;

  beforeAll(async () => {
    b = await startOperatorBed({ drainTimeout: '8s' });
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('finishes the shutdown without a second cordon, suspend or power-off', async () => {
    const first = b.startOperator('resume-a');
    await first.waitForLog((l) => l.message === 'Caches synced, reconciling');
    await b.createEvent('shutdown', { action: 'shutdown', planRef: { name: 'atlas' }, execute: true });
    const deadline = Date.now() + 60_000;
    const draining = () => b.seen.some((v) => v.name === 'shutdown' && v.status?.stage === 'drain');
    while (!draining() && Date.now() < deadline) await sleep(20);
    expect(draining(), first.tail()).toBe(true);
    await first.stop('SIGKILL');
    const killed = await b.getEvent('shutdown');
    expect(killed.status?.phase).toBe('Running');
    const doneBefore = (killed.status?.progress?.steps ?? []).filter(isDone).map((s) => s.id);
    const drainsOpen = (killed.status?.progress?.steps ?? []).filter((s) => s.id.startsWith('drain/') && !isDone(s));
    console.info(`killed mid-drain: done ${doneBefore.join(', ')}; drains open: ${drainsOpen.length}`);
    expect(doneBefore.some((id) => id.startsWith('power-off/'))).toBe(false);

    const started = Date.now();
    const second = b.startOperator('resume-b');
    const done = await b.waitForEvent(
      'shutdown',
      (e) => ['Succeeded', 'Failed'].includes(e.status?.phase ?? ''),
      110_000,
    );
    console.info(`resumed and finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(done.status?.phase, second.tail()).toBe('Succeeded');
    // three control-plane nodes: that was the last status, written before their power-offs; the run goes on
    await second.waitForLog((l) => l.message === 'Finished the plan', 60_000);
    const open = done.status?.progress?.steps.filter((s) => !isDone(s)).map((s) => `${s.id} ${s.state}`);
    expect(open).toEqual(['titan-03', 'titan-02', 'titan-01'].map((n) => `power-off/${n} running`));

    // the new instance started none of the steps the first one had finished
    const startedAgain = second.logs.filter((l) => l.message === 'Step started').map((l) => l.step as string);
    expect(startedAgain.filter((id) => doneBefore.includes(id))).toEqual([]);
    expect(startedAgain.filter((id) => id.startsWith('power-off/')).sort()).toEqual(
      ORDER.map((n) => `power-off/${n}`).sort(),
    );

    // the audit log: one cordon per worker, one suspend per Flux object, one power-off helper per node
    const requests = await b.requests();
    const cordons = counts(requests, (e) => e.objectRef?.resource === 'nodes' && e.verb === 'patch');
    expect(
      Object.values(cordons).every((n) => n === 1),
      JSON.stringify(cordons),
    ).toBe(true);
    expect(Object.keys(cordons)).toHaveLength(4);
    const suspends = counts(requests, (e) => ['kustomizations', 'helmreleases'].includes(e.objectRef?.resource ?? ''));
    expect(
      Object.values(suspends).every((n) => n === 1),
      JSON.stringify(suspends),
    ).toBe(true);
    expect(Object.keys(suspends).length).toBe((await suspendedFlux(b.e2e.plane)).length);
    const helpers = requests.filter(
      (e) =>
        e.verb === 'create' &&
        e.objectRef?.resource === 'pods' &&
        !e.objectRef.subresource &&
        e.objectRef.namespace === 'hecate-system',
    );
    expect(helpers.map(describeEvent)).toHaveLength(ORDER.length);
    expect(helpers.every((e) => e.responseStatus?.code === 201)).toBe(true);
    for (const node of ORDER) expect(b.e2e.sims.kubelet.isOn(node), node).toBe(false);
    expect(requests.filter((e) => e.responseStatus?.code === 403).map(describeEvent)).toEqual([]);

    const versions = b.seen.filter((s) => s.name === 'shutdown' && s.status); // every status write
    const broken = versions.flatMap((v) => checkKstatusInvariants(v.status, v.generation));
    expect(broken).toEqual([]);
  });
});
