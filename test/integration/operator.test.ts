/**
 * The operator as a real process against the real control plane, under its own ServiceAccount token with the RBAC
 * from manifests/: dry-run rendering, stalling, one event at a time, and what it may and may not write.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordWayBack } from '../../adapters/kube/way-back-record.js';
import {
  type AuditEvent,
  allCrdPaths,
  type ControlPlane,
  describeEvent,
  mutationsBy,
  REPO_ROOT,
  requestsBy,
  requireBed,
  startControlPlane,
} from '../../bed/index.js';
import { OperatorProcess, sleep } from '../../bed/operator/process.js';
import { type Condition, GROUP, type PowerEvent, VERSION } from '../../core/api/index.js';
import { fromYamlAll } from '../../core/api/yaml.js';
import { wayBackRecordOf } from '../../core/plan/way-back.js';
import { checkKstatusInvariants, getCondition } from '../../core/status/conditions.js';

const bed = requireBed();
const run = promisify(execFile);
const NS = 'hecate-system';
const SA_USER = `system:serviceaccount:${NS}:hecate-operator`;
const FIXTURES = join(REPO_ROOT, 'test/fixtures/operator');
/** The operator with executors that only wait: the execution path without touching the cluster. */
const HOLD_MAIN = 'test/fixtures/operator/hold-main.ts';
const FAST = ['--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '500ms', '--wait-requeue', '1s'];

/** Every status the test saw, to check the kstatus invariants on each. */
const seen: Array<{ name: string; generation?: number | undefined; status: PowerEvent['status'] }> = [];

describe.skipIf(!bed.ok)('operator against the control plane', () => {
  let plane: ControlPlane;
  let api: CustomObjectsApi;
  let saKubeconfig: string;
  const operators: OperatorProcess[] = [];

  const kubectl = (...args: string[]) =>
    run(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfigPath, ...args], { cwd: REPO_ROOT });

  const startOperator = (identity: string, extra: string[] = [], entry?: string) => {
    const op = new OperatorProcess({
      kubeconfig: saKubeconfig,
      identity,
      args: ['--namespace', NS, '--lease-namespace', NS, ...FAST, ...extra],
      ...(entry ? { entry } : {}),
    });
    operators.push(op);
    return op;
  };

  const createEvent = async (name: string, spec: Record<string, unknown>) =>
    api.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'powerevents',
      namespace: NS,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'PowerEvent', metadata: { name, namespace: NS }, spec },
    });

  const getEvent = async (name: string) =>
    (await api.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'powerevents',
      namespace: NS,
      name,
    })) as PowerEvent;

  /** Polls the PowerEvent until `predicate` holds, recording every status seen for the invariant check. */
  const waitForEvent = async (name: string, predicate: (e: PowerEvent) => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = await getEvent(name);
      if (event.status) seen.push({ name, generation: event.metadata.generation, status: event.status });
      if (predicate(event)) return event;
      if (Date.now() > deadline) {
        throw new Error(`PowerEvent ${name} did not reach the state: ${JSON.stringify(event.status, null, 2)}`);
      }
      await sleep(50);
    }
  };

  const condition = (e: PowerEvent, type: string): Condition | undefined => getCondition(e.status?.conditions, type);

  beforeAll(async () => {
    plane = await startControlPlane({ crds: allCrdPaths() });
    api = plane.kubeConfig.makeApiClient(CustomObjectsApi);
    await kubectl('apply', '-f', 'manifests/namespace.yaml', '-f', 'manifests/rbac.yaml');
    await kubectl('apply', '-f', 'examples/atlas-powerplan.yaml');
    // the way back as hecate prepare --execute records it: executing shutdowns below may run
    await recordWayBack(plane.kubeConfig, 'atlas', wayBackRecordOf([], { now: new Date(), checkedBy: 'cli/test' }));
    saKubeconfig = await plane.writeKubeConfig(
      await plane.serviceAccountKubeConfig(NS, 'hecate-operator'),
      'hecate-operator.kubeconfig',
    );
  });

  afterAll(async () => {
    await Promise.all(operators.map((op) => op.stop('SIGKILL')));
    await plane?.stop();
  });

  it('renders a dry-run PowerEvent into status.plan, Ready=True, writing only its own status and events', async () => {
    const op = startOperator('replica-a');
    await op.waitForLog((l) => l.message === 'Caches synced, reconciling');
    const applied = Date.now();
    await createEvent('dry-shutdown', { action: 'shutdown', planRef: { name: 'atlas' } });
    const done = await waitForEvent('dry-shutdown', (e) => condition(e, 'Ready')?.status === 'True');
    const latencyMs = Date.now() - applied;
    console.info(`Reconcile latency apply → status.plan: ${latencyMs} ms`);

    expect(done.status?.plan?.mode).toBe('shutdown');
    expect(done.status?.plan?.execute).toBe(false);
    expect(done.status?.plan?.steps.length).toBeGreaterThan(5);
    expect(done.status?.phase).toBe('Succeeded');
    expect(done.status?.observedGeneration).toBe(done.metadata.generation);
    expect(condition(done, 'Ready')?.reason).toBe('DryRun');
    expect(checkKstatusInvariants(done.status, done.metadata.generation)).toEqual([]);

    const events = await plane.waitForAudit((all) =>
      mutationsBy(all, SA_USER).some((e) => e.objectRef?.resource === 'events'),
    );
    const writes = mutationsBy(events, SA_USER).filter((e) => !isLease(e));
    expect(writes.map(describeEvent).filter((d) => !/^patch powerevents\/status |^create events /.test(d))).toEqual([]);
    expect(writes.some((e) => e.objectRef?.name === 'dry-shutdown' && e.objectRef.subresource === 'status')).toBe(true);
  });

  it('does not render a handled generation again (no write on resync or restart)', async () => {
    const before = (await plane.readAudit()).filter(
      (e) => e.objectRef?.name === 'dry-shutdown' && e.objectRef.subresource === 'status',
    ).length;
    await operators[0]?.stop();
    const op = startOperator('replica-a2');
    await op.waitForLog((l) => l.message === 'Caches synced, reconciling');
    await sleep(1_000);
    const after = (await plane.readAudit()).filter(
      (e) => e.objectRef?.name === 'dry-shutdown' && e.objectRef.subresource === 'status',
    ).length;
    expect(after).toBe(before);
  });

  it('stalls a PowerEvent whose PowerPlan does not exist, with a clear message, and recovers when it appears', async () => {
    await createEvent('no-plan', { action: 'startup', planRef: { name: 'missing-plan' } });
    const stalled = await waitForEvent('no-plan', (e) => condition(e, 'Stalled')?.status === 'True');
    expect(condition(stalled, 'Stalled')?.reason).toBe('PlanNotFound');
    expect(condition(stalled, 'Stalled')?.message).toContain('PowerPlan "missing-plan" not found');
    expect(condition(stalled, 'Ready')?.status).toBe('False');
    expect(condition(stalled, 'Reconciling')).toBeUndefined();
    expect(checkKstatusInvariants(stalled.status, stalled.metadata.generation)).toEqual([]);

    const { stdout } = await kubectl('get', 'powerplan', 'atlas', '-o', 'json');
    const plan = JSON.parse(stdout) as { spec: unknown };
    await api.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'powerplans',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'PowerPlan',
        metadata: { name: 'missing-plan' },
        spec: plan.spec,
      },
    });
    const ready = await waitForEvent('no-plan', (e) => condition(e, 'Ready')?.status === 'True');
    expect(condition(ready, 'Stalled')).toBeUndefined();
    expect(ready.status?.plan?.mode).toBe('startup');
  });

  it('makes a second executing PowerEvent wait with a condition naming the active one', async () => {
    await operators[1]?.stop();
    const op = startOperator('replica-hold', [], HOLD_MAIN);
    await op.waitForLog((l) => l.message === 'Caches synced, reconciling');
    await createEvent('first', { action: 'startup', planRef: { name: 'atlas' }, execute: true });
    await waitForEvent('first', (e) => e.status?.phase === 'Running');
    await createEvent('second', { action: 'prepare', planRef: { name: 'atlas' }, execute: true });
    const waiting = await waitForEvent('second', (e) => e.status?.phase === 'Waiting');
    expect(condition(waiting, 'Reconciling')?.reason).toBe('WaitingForActiveEvent');
    expect(condition(waiting, 'Reconciling')?.message).toContain(`${NS}/first`);
    expect(condition(waiting, 'Ready')?.status).toBe('False');
    expect(checkKstatusInvariants(waiting.status, waiting.metadata.generation)).toEqual([]);

    const first = await waitForEvent('first', (e) => e.status?.phase === 'Succeeded', 60_000);
    expect(first.status?.progress?.steps.every((s) => s.state === 'done' || s.state === 'skipped')).toBe(true);
    const second = await waitForEvent('second', (e) => e.status?.phase === 'Succeeded', 60_000);
    expect(Date.parse(second.status?.startedAt ?? '')).toBeGreaterThanOrEqual(
      Date.parse(first.status?.finishedAt ?? ''),
    );
    await op.stop();
  });

  it('resumes an executing PowerEvent after the operator is killed mid-run, without repeating done steps', async () => {
    const isDone = (s: { state: string }) => s.state === 'done' || s.state === 'skipped';
    const first = startOperator('replica-r1', [], HOLD_MAIN);
    await first.waitForLog((l) => l.message === 'Caches synced, reconciling');
    await createEvent('resume', { action: 'shutdown', planRef: { name: 'atlas' }, execute: true });
    await waitForEvent('resume', (e) => (e.status?.progress?.steps.filter(isDone).length ?? 0) >= 3, 60_000);
    await first.stop('SIGKILL');
    const killed = await getEvent('resume');
    expect(killed.status?.phase).toBe('Running');
    const doneBefore = (killed.status?.progress?.steps ?? []).filter(isDone).map((s) => s.id);

    const second = startOperator('replica-r2', [], HOLD_MAIN);
    const finished = await waitForEvent('resume', (e) => e.status?.phase === 'Succeeded', 90_000);
    const startedAgain = second.logs
      .filter((l) => l.message === 'Step started' && l.powerEvent === `${NS}/resume`)
      .map((l) => l.step as string);
    expect(startedAgain.length).toBeGreaterThan(0);
    expect(startedAgain.filter((id) => doneBefore.includes(id))).toEqual([]);
    // three control-plane nodes: the last status is written before their power-offs, which it records `running`
    expect(condition(finished, 'Ready')?.reason).toBe('PoweringOffControlPlane');
    const open = finished.status?.progress?.steps.filter((s) => !isDone(s)).map((s) => `${s.id} ${s.state}`);
    expect(open).toEqual(['titan-03', 'titan-02', 'titan-01'].map((n) => `power-off/${n} running`));
    expect(finished.status?.progress?.steps.map((s) => s.id).sort()).toEqual(
      finished.status?.plan?.steps.map((s) => s.id).sort(),
    );
    await second.stop();
  });

  it('keeps the kstatus invariants in every status the tests observed', () => {
    const broken = seen.flatMap((s) => checkKstatusInvariants(s.status, s.generation).map((p) => `${s.name}: ${p}`));
    expect(broken).toEqual([]);
    expect(seen.length).toBeGreaterThan(5);
  });

  it('RBAC: kubectl auth can-i --list for the ServiceAccount matches the checked-in list; no wildcards in its roles', async () => {
    const rules = await rulesIn(join(REPO_ROOT, 'manifests/rbac.yaml'));
    expect(rules.length).toBeGreaterThan(5);
    const wildcards = rules.filter(({ rule }) =>
      Object.values(rule).some((values) => values?.some((v) => v.includes('*'))),
    );
    expect(wildcards).toEqual([]);

    const { stdout } = await kubectl('auth', 'can-i', '--list', `--as=${SA_USER}`, '-n', NS);
    const actual = normaliseCanI(stdout);
    const fixture = join(FIXTURES, 'can-i.txt');
    if (process.env.HECATE_UPDATE_FIXTURES === '1') await writeFile(fixture, actual);
    expect(actual).toBe(await readFile(fixture, 'utf8'));
  });

  it('the Deployment is accepted and meets the "restricted" Pod Security level the namespace warns at', async () => {
    const { stdout, stderr } = await kubectl('apply', '--dry-run=server', '-f', 'manifests/deployment.yaml');
    expect(stdout).toContain('deployment.apps/hecate-operator created (server dry run)');
    expect(stderr).not.toMatch(/PodSecurity/);
    const { stdout: kustomized } = await kubectl('kustomize', 'manifests');
    expect(kustomized).toContain('kind: Deployment');
  });

  it('RBAC: every request the operator made was allowed, and its writes are only status, events, its Leases (leader, run) and the stop finalizer of executing events', async () => {
    const events = await plane.readAudit();
    const mine = requestsBy(events, SA_USER);
    expect(mine.length).toBeGreaterThan(10);
    expect(mine.filter((e) => e.responseStatus?.code === 403).map(describeEvent)).toEqual([]);
    const writes = mutationsBy(events, SA_USER).map(describeEvent);
    const unexpected = writes.filter(
      (d) =>
        !/^patch powerevents\/status |^create events |^(create|update) leases hecate-system\/hecate-(operator|run) /.test(
          d,
        ) && !/^patch powerevents hecate-system\/(first|second|resume) 200$/.test(d), // the stop finalizer, added and removed
    );
    expect(unexpected).toEqual([]);
    // a dry-run event never carries the finalizer
    expect(writes.filter((d) => /^patch powerevents hecate-system\/(dry-shutdown|no-plan) /.test(d))).toEqual([]);
  });
});

function isLease(event: AuditEvent): boolean {
  return event.objectRef?.resource === 'leases';
}

/** `kubectl auth can-i --list` output with runs of spaces collapsed, so column widths do not matter. */
function normaliseCanI(text: string): string {
  return `${text
    .trim()
    .split('\n')
    .map((line) => line.trim().replace(/\s{2,}/g, ' | '))
    .join('\n')}\n`;
}

/** Every rule of every Role and ClusterRole in a manifest file. */
async function rulesIn(path: string): Promise<Array<{ role: string; rule: Record<string, string[] | undefined> }>> {
  const docs = fromYamlAll(await readFile(path, 'utf8')) as Array<{
    kind?: string;
    metadata?: { name?: string };
    rules?: Array<Record<string, string[] | undefined>>;
  }>;
  return docs
    .filter((d) => d?.kind === 'ClusterRole' || d?.kind === 'Role')
    .flatMap((d) => (d.rules ?? []).map((rule) => ({ role: `${d.kind}/${d.metadata?.name}`, rule })));
}
