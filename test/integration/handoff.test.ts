/**
 * The CLI hands a cold boot back to the operator. After a power cut three workers
 * are still off, so `hecate startup --execute` (a child process) blocks waiting for the node quorum; it is killed
 * there, the workers come back, and `handOff` creates the startup PowerEvent from the CLI's state file. The operator
 * (a real process under its ServiceAccount) resumes the same run: it finishes the remaining steps (nodes, uncordon,
 * Flux source, resume, converge, close the outage) and starts none of the steps the CLI had finished.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeFlux } from '../../adapters/kube/flux.js';
import { KubeNodes } from '../../adapters/kube/nodes.js';
import { StateFile } from '../../adapters/state-file.js';
import { HECATE_USER, nodes, spawnCli, suspendedFlux } from '../../bed/e2e.js';
import { describeEvent, isMutation, requireBed } from '../../bed/index.js';
import { NS, type OperatorBed, SA_USER, startOperatorBed } from '../../bed/operator/index.js';
import { sleep } from '../../bed/operator/process.js';
import { eventually } from '../../bed/simulators.js';
import { HANDOFF_REASON, handBack, handOff } from '../../cli/run/handoff.js';
import { outageRecord, type RenderedPlan } from '../../core/api/index.js';
import { checkKstatusInvariants } from '../../core/status/conditions.js';

const bed = requireBed();
const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];
const STILL_OFF = ['titan-05', 'titan-06', 'titan-07'];
const isDone = (s: { state: string }) => s.state === 'done' || s.state === 'skipped';

describe.skipIf(!bed.ok)('hand-off: the operator finishes a startup the CLI began', () => {
  let b: OperatorBed;
  /** The hand-off event of the first test. */
  let handedName = '';

  beforeAll(async () => {
    b = await startOperatorBed();
  });
  afterAll(async () => {
    await b?.stop();
  });

  it('resumes the CLI run from the PowerEvent status without repeating done steps', async () => {
    const { e2e } = b;
    // after the power cut: Flux suspended and workers cordoned by Hecate, three workers still off
    const flux = new KubeFlux(e2e.plane.kubeConfig);
    const suspended = { kustomizations: [] as string[], helmReleases: [] as string[] };
    for (const kind of ['Kustomization', 'HelmRelease'] as const) {
      for (const object of await flux.list(kind)) {
        await flux.setSuspended(object, true);
        (kind === 'Kustomization' ? suspended.kustomizations : suspended.helmReleases).push(
          `${kind}/${object.namespace}/${object.name}`,
        );
      }
    }
    const kubeNodes = new KubeNodes(e2e.plane.kubeConfig);
    for (const worker of WORKERS) await kubeNodes.cordon(worker, 'hecate');
    for (const node of STILL_OFF) await e2e.sims.kubelet.powerOff(node);
    const outage = outageRecord.parse({
      inOutage: true,
      startedAt: new Date(Date.now() - 3_600_000).toISOString(),
      reason: 'power cut',
      suspendedByHecate: {
        kustomizations: suspended.kustomizations,
        helmReleases: suspended.helmReleases,
      },
      cordonedByHecate: WORKERS,
      poweredOff: [...WORKERS, 'titan-03', 'titan-02', 'titan-01'],
    });
    await new StateFile(e2e.statePath).save({ outage });
    const saved = await readFile(e2e.statePath, 'utf8');
    expect(saved).toContain('OutageState');
    await eventually(
      'the workers that are off to be NotReady',
      async () =>
        (await nodes(e2e.plane))
          .filter((n) => STILL_OFF.includes(n.metadata?.name ?? ''))
          .every((n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True'),
      { timeoutMs: 30_000 },
    );

    // the CLI begins the startup and blocks on the node quorum; it is killed there
    const cli = spawnCli(['startup', ...e2e.args('--execute')], e2e.env);
    const deadline = Date.now() + 60_000;
    const waitingForNodes = async () =>
      (await e2e.state())?.progress?.steps.some((s) => s.id.startsWith('nodes/') && s.state === 'running');
    while (!(await waitingForNodes()) && Date.now() < deadline) await sleep(100);
    cli.kill();
    expect(await cli.exited, cli.output().slice(-3000)).toBe('SIGKILL');
    const state = await e2e.state();
    const cliDone = (state?.progress?.steps ?? []).filter(isDone).map((s) => s.id);
    console.info(`CLI killed waiting for nodes; done: ${cliDone.join(', ')}`);
    expect(cliDone.length).toBeGreaterThan(0);

    // the power comes back and Gitea serves again; the CLI's run is handed to the operator (twice: the second call
    // updates). NOTE: without the CLI's plan, which needed the chain when it was compiled (Gitea's node was off): the
    // operator compiles its own from what it sees now; the chain is the CLI's job (the operator may not apply it).
    for (const node of STILL_OFF) await e2e.sims.kubelet.powerOn(node);
    await eventually(
      'the Flux source to be Ready again',
      async () => (await flux.source('GitRepository', 'flux-system', 'flux-system'))?.ready,
      { timeoutMs: 60_000 },
    );
    if (!state?.progress) throw new Error('no progress in the state file');
    const input = { planName: 'atlas', namespace: NS, progress: state.progress, outage: state.outage };
    const first = await handOff(e2e.plane.kubeConfig, input);
    handedName = first.name;
    const again = await handOff(e2e.plane.kubeConfig, input);
    expect(first.created).toBe(true);
    expect(again).toEqual({ ...first, created: false });
    const handed = await b.getEvent(first.name);
    expect(handed.spec).toMatchObject({ action: 'startup', execute: true, reason: HANDOFF_REASON });
    expect(handed.status?.phase).toBe('Running');
    expect(checkKstatusInvariants(handed.status, handed.metadata.generation)).toEqual([]);

    const started = Date.now();
    const op = b.startOperator('handoff-a');
    const done = await b.waitForEvent(
      first.name,
      (e) => ['Succeeded', 'Failed'].includes(e.status?.phase ?? ''),
      110_000,
    );
    console.info(`operator finished the hand-off in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(done.status?.phase, op.tail()).toBe('Succeeded');
    expect(done.status?.progress?.finishedAt).toBeDefined();
    expect(done.status?.progress?.startedAt).toBe(state.progress.startedAt);
    expect(done.status?.progress?.steps.every(isDone)).toBe(true);
    const plan = done.status?.plan as RenderedPlan;
    expect(done.status?.progress?.steps.map((s) => s.id).sort()).toEqual(plan.steps.map((s) => s.id).sort());

    // the operator started only what the CLI had not finished
    const startedByOperator = op.logs.filter((l) => l.message === 'Step started').map((l) => l.step as string);
    expect(startedByOperator.filter((id) => cliDone.includes(id))).toEqual([]);
    expect(startedByOperator.some((id) => id.startsWith('flux-resume/'))).toBe(true);

    // end state: Flux resumed, workers uncordoned, the outage closed; the resume and uncordon were the operator's
    expect(await suspendedFlux(e2e.plane)).toEqual([]);
    for (const node of await nodes(e2e.plane)) expect(node.spec?.unschedulable, node.metadata?.name).toBeFalsy();
    expect(done.status?.outage?.inOutage).toBe(false);
    const audit = await e2e.plane.readAudit();
    const fluxPatches = (user: string) =>
      audit.filter(
        (e) =>
          e.user === user &&
          e.verb === 'patch' &&
          ['kustomizations', 'helmreleases'].includes(e.objectRef?.resource ?? ''),
      );
    expect(fluxPatches(HECATE_USER)).toEqual([]);
    expect(fluxPatches(SA_USER).length).toBeGreaterThan(0);
    const mine = audit.filter((e) => e.user === SA_USER && e.stage === 'ResponseComplete');
    expect(mine.filter((e) => e.responseStatus?.code === 403).map(describeEvent)).toEqual([]);

    const versions = b.seen.filter((s) => s.name === first.name && s.status);
    expect(versions.length).toBeGreaterThan(3);
    expect(versions.flatMap((v) => checkKstatusInvariants(v.status, v.generation))).toEqual([]);
  });

  it('a later hand-off of the same outage (a CLI rerun, with its plan) is picked up by the running operator', async () => {
    const name = handedName;
    const event = await b.getEvent(name);
    const { progress, outage, plan } = event.status ?? {};
    if (!progress || !outage || !plan) throw new Error('the finished event has no progress, outage or plan');
    const writesBefore = (await b.requests()).filter((e) => isMutation(e)).length;
    const op = b.operators[0];
    const startedBefore = op?.logs.filter((l) => l.message === 'Step started').length;
    const result = await handOff(b.e2e.plane.kubeConfig, { planName: 'atlas', namespace: NS, progress, outage, plan });
    expect(result).toEqual({ namespace: NS, name, created: false });
    // NOTE: handOff returns once the Running status is written, so Succeeded from here on is the operator's new run
    const done = await b.waitForEvent(name, (e) => e.status?.phase === 'Succeeded', 30_000);
    expect(done.status?.progress?.finishedAt).toBeDefined();
    expect(op?.logs.filter((l) => l.message === 'Step started').length).toBe(startedBefore);
    const writes = (await b.requests())
      .filter((e) => isMutation(e))
      .slice(writesBefore)
      .map(describeEvent);
    // its own status and Events, the Lease, and the stop-at-safe-point finalizer added and removed on this event
    const finalizer = new RegExp(`^patch powerevents ${NS}/${name} `);
    expect(
      writes.filter((d) => !/^patch powerevents\/status |^create events |leases/.test(d) && !finalizer.test(d)),
    ).toEqual([]);
    expect(writes.filter((d) => finalizer.test(d)).length).toBeLessThanOrEqual(2);
    const versions = b.seen.filter((s) => s.name === name && s.status);
    expect(versions.flatMap((v) => checkKstatusInvariants(v.status, v.generation))).toEqual([]);
  });
  it('a new hand-off while the operator runs: it waits for the CLI status, then starts none of the CLI steps', async () => {
    const first = await b.getEvent(handedName);
    const { progress, outage, plan } = first.status ?? {};
    if (!progress || !outage || !plan) throw new Error('the finished event has no progress, outage or plan');
    const op = b.operators[0];
    const startedBefore = op?.logs.filter((l) => l.message === 'Step started').length;
    // another outage (a later start): a new event, created while the operator watches
    const later = { ...outage, startedAt: new Date(Date.now() - 60_000).toISOString() };
    const result = await handOff(b.e2e.plane.kubeConfig, {
      planName: 'atlas',
      namespace: NS,
      progress,
      outage: later,
      plan,
    });
    expect(result.created).toBe(true);
    const done = await b.waitForEvent(result.name, (e) => e.status?.phase === 'Succeeded', 60_000);
    expect(op?.logs.filter((l) => l.message === 'Step started').length).toBe(startedBefore);
    expect(done.status?.progress?.steps.map((s) => s.id)).toEqual(progress.steps.map((s) => s.id));
    expect(done.metadata.annotations?.['power.hecate.dev/handoff-pending']).toBeUndefined();
    // the operator wrote no status before the CLI's: every version it wrote carries the CLI's plan
    const versions = b.seen.filter((v) => v.name === result.name && v.status);
    expect(versions.every((v) => v.status?.plan?.steps.length === plan.steps.length)).toBe(true);
  });

  it('a hand-off that meets the API server restarting is tried again until it answers, each try said, and the operator finishes it', async () => {
    const first = await b.getEvent(handedName);
    const { progress, outage, plan } = first.status ?? {};
    if (!progress || !outage || !plan) throw new Error('the finished event has no progress, outage or plan');
    const later = { ...outage, startedAt: new Date(Date.now() - 30_000).toISOString() };
    const lines: string[] = [];
    await b.e2e.plane.stopApiServer(); // the CLI's startup is done; the API goes away as it hands off
    const handing = handBack(b.e2e.plane.kubeConfig, plan, progress, { load: async () => ({ outage: later }) }, (t) =>
      lines.push(t),
    );
    await sleep(3_000);
    await b.e2e.plane.startApiServer();
    const result = await handing;
    // an operator that could not renew its Lease through the outage stops (a Deployment restarts it): a second replica
    const op = b.startOperator('handoff-b');

    expect(result?.created).toBe(true);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines[0]).toMatch(/^the API server is unavailable \(.*ECONNREFUSED.*\)/); // stopped: nothing listens
    // NOTE: a restarting API server listens before it is ready and answers 503 until then: also tried again
    for (const line of lines.slice(0, -1)) {
      expect(line).toMatch(
        /^the API server is unavailable \((.*ECONNREFUSED.*|HTTP-Code: 503)\): handing the startup back to the operator again in 2 s\n$/,
      );
    }
    expect(lines.at(-1)).toBe(`Handed back to the operator: PowerEvent ${NS}/${result?.name}\n`);
    const done = await b.waitForEvent(result?.name ?? '', (e) => e.status?.phase === 'Succeeded', 90_000);
    expect(done.status?.phase, op.tail()).toBe('Succeeded');
    expect(done.metadata.annotations?.['power.hecate.dev/handoff-pending']).toBeUndefined();
    expect(done.status?.progress?.steps.map((s) => s.id)).toEqual(progress.steps.map((s) => s.id));
  });
});
