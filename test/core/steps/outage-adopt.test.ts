/**
 * Startup's `outage/adopt` (core/steps/outage.ts): a shutdown run by the operator keeps its outage record in its
 * PowerEvent; a startup whose own record is not open adopts it before any later step acts, so that the uncordon and
 * the Flux resume undo exactly what that shutdown did.
 */
import { describe, expect, it } from 'vitest';
import { type OutageRecord, outageRecord, type PlanStep } from '../../../core/api/index.js';
import { compilePlan } from '../../../core/plan/index.js';
import type { FluxObject, NodePort, NodeView, OutageSourcePort } from '../../../core/ports/index.js';
import { StepFailedError } from '../../../core/run/errors.js';
import { type RunEvent, runPlan } from '../../../core/run/runner.js';
import { resumeFlux } from '../../../core/steps/flux.js';
import { coreExecutors } from '../../../core/steps/index.js';
import { uncordonNodes } from '../../../core/steps/nodes.js';
import { adoptOutage, mergeOutage } from '../../../core/steps/outage.js';
import { atlasInput } from '../../helpers/atlas.js';
import { FakeFlux } from '../../helpers/fake-flux.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';

const SOURCE = 'PowerEvent hecate-system/shutdown';
const STARTED = '2026-11-24T22:00:00.000Z';

const ks = (name: string, suspended = true): FluxObject => ({
  kind: 'Kustomization',
  namespace: 'flux-system',
  name,
  suspended,
  dependsOn: [],
});

/** What the operator's shutdown recorded in its PowerEvent. */
const clusterRecord = (extra: Partial<OutageRecord> = {}): OutageRecord =>
  outageRecord.parse({
    inOutage: true,
    startedAt: STARTED,
    reason: 'planned maintenance',
    suspendedByHecate: {
      kustomizations: ['Kustomization/flux-system/flux-system', 'Kustomization/flux-system/gitea'],
      helmReleases: [],
    },
    alreadySuspended: ['Kustomization/flux-system/paused'],
    cordonedByHecate: ['titan-04', 'titan-05'],
    poweredOff: ['titan-04', 'titan-05', 'titan-01'],
    ...extra,
  });

/** The world of one run: every read and change lands in `journal`, in order. */
function world(found: { source: string; outage: OutageRecord } | undefined, saved?: OutageRecord) {
  const journal: string[] = [];
  const source: OutageSourcePort = {
    latestOpenOutage: async (planName) => {
      journal.push(`read the cluster's records of ${planName}`);
      return found && structuredClone(found);
    },
  };
  const views = new Map<string, NodeView>(
    ['titan-04', 'titan-05', 'titan-06'].map((name) => [name, { name, ready: true, unschedulable: true }]),
  );
  const nodes: NodePort = {
    list: async () => [...views.values()],
    get: async (name) => views.get(name),
    cordon: async () => {},
    uncordon: async (name) => {
      journal.push(`uncordon ${name}`);
      views.set(name, { name, ready: true, unschedulable: false });
    },
  };
  const flux = new FakeFlux([ks('flux-system'), ks('gitea'), ks('paused')]);
  const setSuspended = flux.setSuspended.bind(flux);
  flux.setSuspended = async (ref, suspended, options) => {
    journal.push(`${suspended ? 'suspend' : 'resume'} ${ref.kind}/${ref.namespace}/${ref.name}`);
    return setSuspended(ref, suspended, options);
  };
  const store = new MemoryStore(saved ? { outage: saved } : undefined);
  const save = store.save.bind(store);
  store.save = async (state) => {
    const { cordonedByHecate, inOutage } = state.outage;
    journal.push(`save: inOutage=${inOutage} cordoned=[${cordonedByHecate.join(' ')}]`);
    return save(state);
  };
  return { journal, source, nodes, flux, store, views };
}

/** The Atlas startup plan's steps that adopt, uncordon, resume Flux and close the outage, in plan order. */
function startupSteps(): PlanStep[] {
  const kinds = ['adopt-outage', 'uncordon', 'resume-flux', 'close-outage'];
  return compilePlan('startup', atlasInput()).steps.filter((s) => kinds.includes(s.kind));
}

async function runStartup(w: ReturnType<typeof world>) {
  const plan = compilePlan('startup', atlasInput({ execute: true }));
  const reports: string[] = [];
  const events: RunEvent[] = [];
  const progress = await runPlan({
    plan: { ...plan, steps: startupSteps() },
    action: 'startup',
    executors: {
      ...coreExecutors(),
      'adopt-outage': adoptOutage(w.source),
      uncordon: uncordonNodes(w.nodes),
      'resume-flux': resumeFlux(w.flux, atlasInput().spec),
    },
    store: w.store,
    clock: new FakeClock(),
    logger: silentLogger,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'report' && e.step.id === 'outage/adopt') reports.push(e.message);
    },
  });
  return { progress, reports, events };
}

describe('outage/adopt', () => {
  it('given an empty state file and an open outage in a PowerEvent, when startup runs, then the record is merged and saved before anything acts, and exactly what that shutdown changed is undone', async () => {
    const w = world({ source: SOURCE, outage: clusterRecord() });
    const { reports } = await runStartup(w);

    expect(reports).toEqual([
      `adopted the outage record of ${SOURCE} (started ${STARTED}): 2 node(s) cordoned by Hecate, 2 Flux object(s) suspended`,
    ]);
    // read, then saved, then (only then) the first change
    const firstChange = w.journal.findIndex((line) => /^(uncordon|resume)/.test(line));
    const adopted = w.journal.indexOf('save: inOutage=true cordoned=[titan-04 titan-05]');
    expect(w.journal.indexOf("read the cluster's records of atlas")).toBeLessThan(adopted);
    expect(adopted).toBeGreaterThan(-1);
    expect(adopted).toBeLessThan(firstChange);
    // exactly the adopted nodes and objects: titan-06 (cordoned by someone else) and the paused one stay
    expect(w.journal.filter((line) => /^(uncordon|resume)/.test(line))).toEqual([
      'uncordon titan-04',
      'uncordon titan-05',
      'resume Kustomization/flux-system/flux-system',
      'resume Kustomization/flux-system/gitea',
    ]);
    expect(w.views.get('titan-06')?.unschedulable).toBe(true);
    expect(w.flux.objects.get('Kustomization/flux-system/paused')?.suspended).toBe(true);
    // the outage is the adopted one (named by its start), and it is closed
    const outage = w.store.latest?.outage;
    expect(outage).toMatchObject({ inOutage: false, startedAt: STARTED, cordonedByHecate: [] });
    expect(outage?.reason).toBe(`planned maintenance (outage record adopted from ${SOURCE})`);
  });

  it("given the run's own record is open (the CLI ran the shutdown), then the step is already done and the cluster is not read", async () => {
    const own = outageRecord.parse({ inOutage: true, startedAt: STARTED, cordonedByHecate: ['titan-06'] });
    const w = world({ source: SOURCE, outage: clusterRecord() }, own);
    const { events } = await runStartup(w);

    expect(w.journal.filter((line) => line.startsWith('read'))).toEqual([]);
    expect(events.filter((e) => e.type === 'already-done').map((e) => 'step' in e && e.step.id)).toContain(
      'outage/adopt',
    );
    expect(w.journal.filter((line) => /^(uncordon|resume)/.test(line))).toEqual(['uncordon titan-06']);
  });

  it('given nothing recorded in the cluster either, then it says so plainly, changes nothing and the startup goes on', async () => {
    const w = world(undefined);
    const { reports, progress } = await runStartup(w);

    expect(reports).toEqual([
      "no open outage of PowerPlan atlas in this run's record, nor in the cluster (PowerEvents, stop records): startup restores only what it finds recorded",
    ]);
    expect(w.journal.filter((line) => /^(uncordon|resume)/.test(line))).toEqual([]);
    expect(progress.steps.every((s) => s.state === 'done')).toBe(true);
  });

  it('given this machine closed its record after the cluster outage began (a hand-off that failed), then it is not adopted again', async () => {
    const closed = outageRecord.parse({ inOutage: false, startedAt: STARTED, endedAt: '2026-11-25T01:00:00.000Z' });
    const w = world({ source: SOURCE, outage: clusterRecord() }, closed);
    const { reports } = await runStartup(w);

    expect(reports).toEqual([
      `the outage record of ${SOURCE} (started ${STARTED}) was closed by a startup here at 2026-11-25T01:00:00.000Z: not adopted again`,
    ]);
    expect(w.journal.filter((line) => /^(uncordon|resume)/.test(line))).toEqual([]);
  });

  it('given the cluster cannot be read, then the step fails naming the cause (a rerun tries again)', async () => {
    const w = world(undefined);
    w.source.latestOpenOutage = async () => {
      throw new Error('could not list PowerEvents power.hecate.dev/v1alpha1 in every namespace: 500');
    };
    const run = runStartup(w);
    await expect(run).rejects.toBeInstanceOf(StepFailedError);
    await expect(run).rejects.toThrow(/outage\/adopt.*could not list PowerEvents/s);
    expect(w.journal.filter((line) => /^(uncordon|resume)/.test(line))).toEqual([]);
  });
});

describe('mergeOutage', () => {
  it.each([
    {
      given: 'leftovers of an earlier, failed startup',
      own: { cordonedByHecate: ['titan-06', 'titan-04'], fluxRevision: 'main@sha1:local' },
      expected: {
        cordonedByHecate: ['titan-06', 'titan-04', 'titan-05'],
        fluxRevision: 'main@sha1:local',
      },
    },
    {
      given: 'an object this machine saw suspended by someone else that the adopted shutdown suspended',
      own: { alreadySuspended: ['Kustomization/flux-system/gitea', 'Kustomization/flux-system/mine'] },
      expected: { alreadySuspended: ['Kustomization/flux-system/mine', 'Kustomization/flux-system/paused'] },
    },
    {
      given: 'a closed record with drain levels',
      own: {
        endedAt: '2026-11-20T00:00:00.000Z',
        drainLevels: { 'titan-04': { level: 'force', index: 1, startedAt: '2026-11-19T00:00:00.000Z' } },
      },
      expected: { inOutage: true, startedAt: STARTED },
    },
  ])('given $given, then lists are joined (own first) and the adopted outage names it', ({ own, expected }) => {
    const into = outageRecord.parse(own);
    mergeOutage(into, clusterRecord({ fluxRevision: 'main@sha1:cluster' }), SOURCE);
    expect(into).toMatchObject({ inOutage: true, startedAt: STARTED, ...expected });
    expect(into.endedAt).toBeUndefined();
    expect(into.suspendedByHecate.kustomizations).toEqual([
      'Kustomization/flux-system/flux-system',
      'Kustomization/flux-system/gitea',
    ]);
    expect(into.drainLevels).toEqual(own.drainLevels);
  });

  it('keeps the drain levels of its own record only', () => {
    const into = outageRecord.parse({});
    const adopted = clusterRecord({
      drainLevels: { 'titan-04': { level: 'force', index: 1, startedAt: STARTED } },
    });
    mergeOutage(into, adopted, SOURCE);
    expect(into.drainLevels).toBeUndefined();
    expect(into.fluxRevision).toBeUndefined();
  });
});
