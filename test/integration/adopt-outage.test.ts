/**
 * A shutdown run by the operator keeps its outage record in its PowerEvent; the cold boot is run by the CLI on a
 * machine whose state file knows nothing of it. On the Atlas bed (the apps Kustomization paused by someone before
 * the power event): the operator (a real process under its ServiceAccount) runs an executed shutdown PowerEvent to
 * the end, every node comes back, and `hecate startup --execute` with an EMPTY state file adopts the PowerEvent's
 * record: it uncordons exactly the nodes Hecate cordoned and resumes exactly the Flux objects Hecate suspended (not
 * the paused one). The CLI hands the cold boot back as a startup PowerEvent, which the operator finishes; a second
 * startup then finds no open outage and changes nothing. Last, a startup PowerEvent created with kubectl after a
 * second operator shutdown: the operator compiles it with no outage record, and the same step adopts the shutdown's.
 * And a shutdown deleted mid-drain: `hecate status` lists its stop record, and startup adopts the record it keeps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2e, nodes, spawnCli, suspendedFlux, withPausedApps } from '../../bed/e2e.js';
import { describeEvent, requireBed } from '../../bed/index.js';
import { NS, type OperatorBed, startOperatorBed } from '../../bed/operator/index.js';
import { eventually } from '../../bed/simulators.js';
import type { StatusReport } from '../../cli/status/model.js';
import { type OutageRecord, outageRecord } from '../../core/api/index.js';

const bed = requireBed();
const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];
const PAUSED = 'Kustomization/flux-system/apps';
const FLUX_RESOURCES = ['kustomizations', 'helmreleases'];

/**
 * `hecate startup --execute` as a child process, killed past `ms`. NOTE: with the adopted record it takes seconds on
 * this bed; without it the workers stay cordoned, Gitea cannot come back and the chain waits out its stage timeouts
 * (minutes), so the deadline turns that into a prompt failure with the CLI's output.
 */
async function startup(e2e: E2e, ms = 180_000): Promise<{ code: number | string; output: string; seconds: number }> {
  const started = Date.now();
  const cli = spawnCli(['startup', ...e2e.args('--execute')], e2e.env);
  const timer = setTimeout(() => cli.kill(), ms);
  const code = await cli.exited.finally(() => clearTimeout(timer));
  const seconds = (Date.now() - started) / 1000;
  if (code === 'SIGKILL') throw new Error(`startup did not finish in ${ms / 1000} s:\n${cli.output().slice(-4000)}`);
  return { code, output: cli.output(), seconds };
}

/** NOTE: the last node goes down just after its power-off helper runs, which may be after the status says Succeeded. */
async function allPoweredOff(e2e: E2e): Promise<void> {
  await eventually('every node to be powered off', async () =>
    e2e.sims.kubelet.nodeNames.every((node) => !e2e.sims.kubelet.isOn(node)),
  );
}

describe.skipIf(!bed.ok)('startup adopts the outage record of a shutdown the operator ran', () => {
  let b: OperatorBed;
  /** The shutdown PowerEvent's record, once it finished. */
  let shutdownOutage: OutageRecord;

  beforeAll(async () => {
    b = await startOperatorBed({ scenario: withPausedApps, drainTimeout: '8s' });
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('given an executed shutdown PowerEvent run to the end by the operator, then startup with an empty state file undoes exactly what it did', async () => {
    const { e2e } = b;
    const op = b.startOperator('adopt-a');
    await op.waitForLog((l) => l.message === 'Caches synced, reconciling');
    await b.createEvent('shutdown', { action: 'shutdown', planRef: { name: 'atlas' }, execute: true });
    const shut = await b.waitForEvent(
      'shutdown',
      (e) => ['Succeeded', 'Failed'].includes(e.status?.phase ?? ''),
      180_000,
    );
    expect(shut.status?.phase, op.tail()).toBe('Succeeded');
    shutdownOutage = outageRecord.parse(shut.status?.outage);
    expect(shutdownOutage.inOutage).toBe(true);
    expect([...shutdownOutage.cordonedByHecate].sort()).toEqual(WORKERS);
    expect(shutdownOutage.alreadySuspended).toEqual([PAUSED]);
    const suspendedByHecate = [
      ...shutdownOutage.suspendedByHecate.kustomizations,
      ...shutdownOutage.suspendedByHecate.helmReleases,
    ].sort();
    expect(suspendedByHecate.length).toBeGreaterThan(3);
    expect(suspendedByHecate).not.toContain(PAUSED);
    await allPoweredOff(e2e);

    // the cold boot: power comes back; this machine's state file is empty (the operator ran the shutdown)
    for (const node of e2e.sims.kubelet.nodeNames) await e2e.sims.kubelet.powerOn(node);
    expect(await e2e.state()).toBeUndefined();
    const before = (await e2e.mutations()).length;
    const first = await startup(e2e);
    const { output } = first;
    console.info(`startup with an empty state file: exit ${first.code} in ${first.seconds.toFixed(1)} s`);
    expect(first.code, output.slice(-4000)).toBe(0);
    const flux = suspendedByHecate.length;
    expect(output).toContain(
      `adopted the outage record of PowerEvent ${NS}/shutdown (started ${shutdownOutage.startedAt}): 4 node(s) cordoned by Hecate, ${flux} Flux object(s) suspended`,
    );

    // exactly the nodes Hecate cordoned were uncordoned, and exactly the Flux objects it suspended were resumed
    const mine = (await e2e.mutations()).slice(before);
    const patched = (resources: string[]) => [
      ...new Set(
        mine
          .filter((e) => e.verb === 'patch' && resources.includes(e.objectRef?.resource ?? ''))
          .map((e) => e.objectRef?.name ?? ''),
      ),
    ];
    expect(patched(['nodes']).sort()).toEqual(WORKERS);
    const fluxName = (key: string) => key.split('/').slice(2).join('/');
    expect(patched(FLUX_RESOURCES).sort()).toEqual([...new Set(suspendedByHecate.map(fluxName))].sort());
    expect(
      mine.filter((e) => e.objectRef?.resource === 'kustomizations' && e.objectRef.name === 'apps').map(describeEvent),
    ).toEqual([]);
    expect(await suspendedFlux(e2e.plane)).toEqual([PAUSED]);
    for (const node of await nodes(e2e.plane)) expect(node.spec?.unschedulable, node.metadata?.name).toBeFalsy();

    // the state file now holds the adopted outage, closed; the hand-off PowerEvent is named after its start
    const state = await e2e.state();
    expect(state?.outage).toMatchObject({ inOutage: false, startedAt: shutdownOutage.startedAt });
    expect(state?.outage.reason).toContain(`outage record adopted from PowerEvent ${NS}/shutdown`);
    const handOff = /Handed back to the operator: PowerEvent (\S+)\/(\S+)/.exec(output);
    expect(handOff?.[1], output.slice(-2000)).toBe(NS);
    const stamp = (shutdownOutage.startedAt ?? '').replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    expect(handOff?.[2]).toBe(`cold-boot-atlas-${stamp}`.toLowerCase());
    await b.waitForEvent(handOff?.[2] ?? '', (e) => e.status?.phase === 'Succeeded', 60_000);
  }, 600_000);

  it('given the hand-off startup closed it, then a second startup finds no open outage and changes nothing', async () => {
    const { e2e } = b;
    const before = (await e2e.mutations()).length;
    const second = await startup(e2e);
    const { output } = second;
    expect(second.code, output.slice(-4000)).toBe(0);
    expect(output).toContain(
      "no open outage of PowerPlan atlas in this run's record, nor in the cluster (PowerEvents, stop records): startup restores only what it finds recorded",
    );
    const changes = (await e2e.mutations())
      .slice(before)
      .filter((e) => e.objectRef?.resource !== 'powerevents')
      .map(describeEvent);
    expect(changes).toEqual([]);
    expect(await suspendedFlux(e2e.plane)).toEqual([PAUSED]);
    // the shutdown PowerEvent still says what it did: the record is closed by the startup, not rewritten
    const shut = await b.getEvent('shutdown');
    expect(shut.status?.outage?.inOutage).toBe(true);
    await eventually('every node to be schedulable', async () =>
      (await nodes(e2e.plane)).every((n) => !n.spec?.unschedulable),
    );
  }, 300_000);

  it("given a startup PowerEvent created with kubectl after another operator shutdown, then the operator adopts that shutdown's record", async () => {
    const { e2e } = b;
    const op = b.operators[0];
    if (!op) throw new Error('no operator');
    await b.createEvent('shutdown-2', { action: 'shutdown', planRef: { name: 'atlas' }, execute: true });
    const shut = await b.waitForEvent(
      'shutdown-2',
      (e) => ['Succeeded', 'Failed'].includes(e.status?.phase ?? ''),
      180_000,
    );
    expect(shut.status?.phase, op.tail()).toBe('Succeeded');
    const outage = outageRecord.parse(shut.status?.outage);
    await allPoweredOff(e2e);
    for (const node of e2e.sims.kubelet.nodeNames) await e2e.sims.kubelet.powerOn(node);

    const before = (await b.requests()).length;
    await b.createEvent('startup-2', { action: 'startup', planRef: { name: 'atlas' }, execute: true });
    // NOTE: Succeeded when the Flux source is Ready; else Failed at the first chain stage with a 403, since the
    // operator does not apply the bootstrap chain (the CLI's job, README). Adopting and uncordoning come before.
    const done = await b.waitForEvent(
      'startup-2',
      (e) => ['Succeeded', 'Failed'].includes(e.status?.phase ?? ''),
      180_000,
    );
    console.info(`operator startup after a kubectl-created event: ${done.status?.phase} at ${done.status?.stage}`);
    const flux = outage.suspendedByHecate.kustomizations.length + outage.suspendedByHecate.helmReleases.length;
    expect(op.logs.map((l) => l.message)).toContain(
      `adopted the outage record of PowerEvent ${NS}/shutdown-2 (started ${outage.startedAt}): 4 node(s) cordoned by Hecate, ${flux} Flux object(s) suspended`,
    );
    const steps = done.status?.progress?.steps ?? [];
    expect(steps.find((r) => r.id === 'outage/adopt')?.state).toBe('done');
    expect(steps.find((r) => r.id === 'nodes/uncordon')?.state, op.tail(20)).toBe('done');
    expect(done.status?.outage).toMatchObject({ startedAt: outage.startedAt, cordonedByHecate: [] });
    const nodePatches = (await b.requests())
      .slice(before)
      .filter((e) => e.verb === 'patch' && e.objectRef?.resource === 'nodes')
      .map((e) => e.objectRef?.name ?? '');
    expect([...new Set(nodePatches)].sort()).toEqual(WORKERS);
    for (const node of await nodes(e2e.plane)) expect(node.spec?.unschedulable, node.metadata?.name).toBeFalsy();
    if (done.status?.phase === 'Succeeded') {
      expect(await suspendedFlux(e2e.plane)).toEqual([PAUSED]);
      return;
    }
    // the chain is the CLI's: it adopts the same open outage (the failed startup closed nothing) and finishes
    expect(steps.find((r) => r.state === 'failed')?.id).toMatch(/^chain\//);
    const cli = await startup(e2e);
    expect(cli.code, cli.output.slice(-4000)).toBe(0);
    expect(cli.output).toContain(`adopted the outage record of PowerEvent ${NS}/shutdown-2`);
    expect(await suspendedFlux(e2e.plane)).toEqual([PAUSED]);
    const handed = /Handed back to the operator: PowerEvent \S+\/(\S+)/.exec(cli.output)?.[1] ?? '';
    await b.waitForEvent(handed, (e) => e.status?.phase === 'Succeeded', 60_000);
  }, 600_000);

  it('given a shutdown PowerEvent deleted mid-drain, then status lists its stop record and startup adopts the record it keeps', async () => {
    const { e2e } = b;
    const op = b.operators[0];
    if (!op) throw new Error('no operator');
    await b.createEvent('shutdown-3', { action: 'shutdown', planRef: { name: 'atlas' }, execute: true });
    const draining = await b.waitForEvent(
      'shutdown-3',
      (e) => (e.status?.progress?.steps ?? []).some((s) => s.id.startsWith('drain/') && s.state === 'running'),
      120_000,
    );
    const startedAt = draining.status?.outage?.startedAt;
    await b.kubectl('delete', 'powerevent', 'shutdown-3', '-n', NS, '--wait=false');
    await eventually(
      'the deleted PowerEvent to be released',
      async () =>
        b.getEvent('shutdown-3').then(
          () => false,
          (error: { code?: number }) => error.code === 404,
        ),
      { timeoutMs: 120_000 },
    );
    const cordoned = (await nodes(e2e.plane)).filter((n) => n.spec?.unschedulable).map((n) => n.metadata?.name);
    expect(cordoned.length, op.tail(20)).toBeGreaterThan(0);

    // status: where it stopped and why, the outage record open
    const status = await e2e.hecate(['status', ...e2e.args('-o', 'json')]);
    const report = JSON.parse(status.stdout) as StatusReport;
    const records = report.powerEvent.stopRecords ?? [];
    expect(
      records.map((r) => [r.powerEvent, r.action, r.outageOpen]),
      status.stderr,
    ).toEqual([[`${NS}/shutdown-3`, 'shutdown', true]]);
    expect(records[0]?.stoppedBeforeStep).toMatch(/^(drain|storage|power-off)\//);
    expect(records[0]?.reason).toBe('PowerEvent deleted');

    // startup adopts the stop record's outage: what that shutdown cordoned and suspended is undone
    const run = await startup(e2e);
    expect(run.code, run.output.slice(-4000)).toBe(0);
    expect(run.output).toMatch(
      new RegExp(
        `adopted the outage record of stop record ConfigMap ${NS}/hecate-stopped-shutdown-3-\\w+ \\(of PowerEvent ${NS}/shutdown-3, deleted\\) \\(started ${startedAt}\\)`,
      ),
    );
    for (const node of await nodes(e2e.plane)) expect(node.spec?.unschedulable, node.metadata?.name).toBeFalsy();
    expect(await suspendedFlux(e2e.plane)).toEqual([PAUSED]);
  }, 480_000);
});
