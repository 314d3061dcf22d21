/**
 * Builds the status model from what was read: the plan, the state file, the cluster, the snapshot and the UPS.
 * Pure: every input is passed in, `now` included, so tests assert it without I/O.
 */
import type { OutageRecord, PowerEvent, PowerPlanSpec, Progress, StepRecord } from '../../core/api/index.js';
import { fluxKey } from '../../core/flux/objects.js';
import { compilePlan, type ResolvedPaths, STAGE_CONDITION, type Stage } from '../../core/plan/index.js';
import type { Observed } from '../../core/ports/index.js';
import {
  type ChainStageStatus,
  type Health,
  type NodeStatus,
  type PowerEventRef,
  STATUS_API_VERSION,
  STATUS_KIND,
  type StatusReport,
  type UpsStatus,
} from './model.js';
import type { ClusterFacts } from './observe.js';

export interface StatusInputs {
  plan: { name: string; source: string; spec: PowerPlanSpec };
  paths: ResolvedPaths;
  saved?: { outage: OutageRecord; progress?: Progress };
  facts: ClusterFacts;
  snapshot?: { present: boolean; revision?: string };
  ups: UpsStatus;
  now: Date;
}

const EMPTY_RECORD: OutageRecord = {
  inOutage: false,
  suspendedByHecate: { kustomizations: [], helmReleases: [] },
  alreadySuspended: [],
  cordonedByHecate: [],
  poweredOff: [],
  ignoredUps: false,
};

function nodesSection(spec: PowerPlanSpec, facts: ClusterFacts, record: OutageRecord): NodeStatus[] {
  const seen = new Map((facts.nodes ?? []).map((n) => [n.name, n]));
  const planned = new Map(spec.nodes.map((n) => [n.name, n]));
  const names = [...spec.nodes.map((n) => n.name), ...[...seen.keys()].filter((n) => !planned.has(n)).sort()];
  return names.map((name) => {
    const node = seen.get(name);
    const inPlan = planned.get(name);
    const arch = node?.arch ?? inPlan?.arch;
    return {
      name,
      ...(inPlan ? { role: inPlan.role } : {}),
      ...(arch ? { arch } : {}),
      inPlan: inPlan !== undefined,
      seen: node !== undefined,
      ...(node ? { ready: node.ready, cordoned: node.unschedulable } : {}),
      ...(node?.cordonedBy ? { cordonedBy: node.cordonedBy } : {}),
      cordonedByHecate: record.cordonedByHecate.includes(name),
      poweredOffByHecate: record.poweredOff.includes(name),
    };
  });
}

/** The outage record's keys are `Kind/namespace/name` (older records: `namespace/name` per list). */
function recordedByHecate(record: OutageRecord): Set<string> {
  const { kustomizations, helmReleases } = record.suspendedByHecate;
  const full = (kind: string, key: string) => (key.split('/').length === 3 ? key : `${kind}/${key}`);
  return new Set([
    ...kustomizations.map((k) => full('Kustomization', k)),
    ...helmReleases.map((k) => full('HelmRelease', k)),
  ]);
}

function fluxSection(spec: PowerPlanSpec, facts: ClusterFacts, record: OutageRecord): StatusReport['flux'] {
  const mine = recordedByHecate(record);
  const objects = facts.fluxObjects;
  const { kind, name } = spec.flux.source;
  const source = facts.source;
  return {
    seen: objects !== undefined,
    source: {
      kind,
      namespace: spec.flux.namespace,
      name,
      ...(source ? { ready: source.ready } : {}),
      ...(source?.revision ? { revision: source.revision } : {}),
      ...(source?.message ? { message: source.message } : {}),
      ...(source === null ? { ready: false, message: 'not found' } : {}),
    },
    ...(objects ? { objects: objects.length } : {}),
    notReady: (objects ?? []).filter((o) => !o.suspended && o.ready === false).map(fluxKey),
    suspended: (objects ?? [])
      .filter((o) => o.suspended)
      .map((o) => ({
        ref: fluxKey(o),
        suspended: true,
        byHecate: mine.has(fluxKey(o)),
        ...(o.ready === undefined ? {} : { ready: o.ready }),
      })),
    recordedSuspendedByHecate: [...mine],
  };
}

function chainSection(spec: PowerPlanSpec, facts: ClusterFacts): ChainStageStatus[] {
  return spec.bootstrapChain.map((stage) => {
    const waitFor = facts.chain?.[stage.name];
    const owner = stage.kustomization
      ? facts.fluxObjects?.find((o) => o.kind === 'Kustomization' && o.name === stage.kustomization?.name)
      : undefined;
    let ready: boolean | undefined;
    if (waitFor && waitFor.length > 0) {
      ready = waitFor.some((w) => w.ready === false)
        ? false
        : waitFor.every((w) => w.ready === true)
          ? true
          : undefined;
    } else if (owner?.ready !== undefined && !owner.suspended) ready = owner.ready; // NOTE: a suspended one's Ready is stale
    return { name: stage.name, path: stage.path, ...(ready === undefined ? {} : { ready }), waitFor: waitFor ?? [] };
  });
}

/** `docker.io/library/x` and `x` are one image. */
function normaliseImage(image: string): string {
  const withTag = /:[^/]+$/.test(image) || image.includes('@') ? image : `${image}:latest`;
  const parts = withTag.split('/');
  if (parts.length === 1) return `docker.io/library/${withTag}`;
  if (!/[.:]/.test(parts[0] ?? '') && parts[0] !== 'localhost') return `docker.io/${withTag}`;
  return withTag;
}

function harborSection(spec: PowerPlanSpec, facts: ClusterFacts): StatusReport['harbor'] {
  const harbor = spec.harbor;
  if (!harbor) return undefined;
  const node = facts.nodes?.find((n) => n.name === harbor.node);
  const present = new Set((node?.images ?? []).map(normaliseImage));
  const seen = facts.harbor;
  return {
    node: harbor.node,
    namespace: harbor.namespace,
    helmRelease: harbor.helmRelease,
    seen: seen !== undefined,
    ...(node ? { nodeReady: node.ready } : {}),
    ...(seen?.helmReleaseReady === undefined ? {} : { helmReleaseReady: seen.helmReleaseReady }),
    ...(seen ? { pods: seen.pods } : {}),
    ...(seen && node
      ? { images: { expected: seen.images, missing: seen.images.filter((i) => !present.has(normaliseImage(i))) } }
      : {}),
  };
}

function observedFor(facts: ClusterFacts, snapshot: StatusInputs['snapshot']): Observed {
  return {
    api: facts.api,
    ...(facts.api === 'reachable'
      ? {
          flux: {
            ...(facts.source ? { sourceReady: facts.source.ready } : { sourceReady: false }),
            ...(facts.source?.revision ? { sourceRevision: facts.source.revision } : {}),
            ...(facts.fluxObjects ? { objects: facts.fluxObjects } : {}),
          },
          nodes: (facts.nodes ?? []).map(({ name, ready, unschedulable }) => ({ name, ready, unschedulable })),
        }
      : {}),
    ...(snapshot ? { snapshot } : {}),
  };
}

const stageOf = (id: string) => id.split('/')[0] ?? id;
const FINISHED = new Set<StepRecord['state']>(['done', 'skipped']);

/** The run in the state file: last step done, the running or failed one, and the next step a rerun would take. */
function runSection(input: StatusInputs, progress: Progress): NonNullable<StatusReport['outage']['run']> {
  const steps = progress.steps;
  const lastDone = [...steps].reverse().find((s) => FINISHED.has(s.state));
  const running = steps.find((s) => s.state === 'running');
  const failed = steps.find((s) => s.state === 'failed');
  const current = running ?? failed ?? lastDone;
  const stage = current ? stageOf(current.id) : undefined;
  const condition = stage ? STAGE_CONDITION[stage as Stage] : undefined;
  const next = progress.finishedAt ? undefined : nextStep(input, progress);
  return {
    action: progress.action,
    mode: progress.mode,
    finished: progress.finishedAt !== undefined,
    ...(stage ? { stage } : {}),
    ...(condition ? { condition } : {}),
    ...(lastDone ? { lastDone } : {}),
    ...(running ? { running } : {}),
    ...(failed ? { failed } : {}),
    ...(next ? { next } : {}),
    progress,
  };
}

function nextStep(input: StatusInputs, progress: Progress): { id: string; stage: string; title: string } | undefined {
  const done = new Set(progress.steps.filter((s) => FINISHED.has(s.state)).map((s) => s.id));
  try {
    const plan = compilePlan(progress.mode as never, {
      planName: input.plan.name,
      spec: input.plan.spec,
      execute: true,
      paths: input.paths,
      observed: observedFor(input.facts, input.snapshot),
      ...(input.saved ? { outage: input.saved.outage } : {}),
    });
    const step = plan.steps.find((s) => !done.has(s.id));
    return step ? { id: step.id, stage: step.stage, title: step.title } : undefined;
  } catch {
    return undefined;
  }
}

function powerEventSection(facts: ClusterFacts): StatusReport['powerEvent'] {
  if (facts.api === 'unknown') return { seen: false, message: 'not seen: the cluster was not consulted' };
  if (facts.api !== 'reachable') return { seen: false, message: 'not seen: the API is unreachable' };
  if (!facts.powerEvents) return { seen: false, message: 'the PowerEvent CRD is not installed or not readable' };
  const isActive = (e: PowerEvent) => !['Succeeded', 'Failed'].includes(e.status?.phase ?? 'Pending');
  const byTime = (e: PowerEvent) => e.status?.startedAt ?? String(e.metadata.creationTimestamp ?? '');
  const sorted = [...facts.powerEvents].sort((a, b) => byTime(b).localeCompare(byTime(a)));
  const current = sorted.find(isActive) ?? sorted[0];
  const stopRecords = facts.stopRecords?.length ? { stopRecords: facts.stopRecords } : {};
  if (!current) return { seen: true, message: 'none', ...stopRecords };
  const status = current.status;
  const ref: PowerEventRef = {
    namespace: current.metadata.namespace ?? '',
    name: current.metadata.name ?? '',
    action: current.spec.action,
    execute: current.spec.execute === true,
    active: isActive(current),
    ...(status?.phase ? { phase: status.phase } : {}),
    ...(status?.stage ? { stage: status.stage } : {}),
    conditions: status?.conditions ?? [],
    ...(status?.startedAt ? { startedAt: status.startedAt } : {}),
    ...(status?.finishedAt ? { finishedAt: status.finishedAt } : {}),
  };
  return { seen: true, current: ref, ...stopRecords };
}

/** Every reason the cluster is not healthy, in screen order. */
export function problemsOf(report: Omit<StatusReport, 'health' | 'problems'>): string[] {
  const out: string[] = [];
  for (const n of report.nodes.filter((n) => n.inPlan)) {
    if (report.controlPlane.api === 'reachable' && !n.seen) out.push(`node ${n.name} is not registered`);
    else if (n.seen && !n.ready) out.push(`node ${n.name} is NotReady`);
    if (n.cordoned) out.push(`node ${n.name} is cordoned${n.cordonedBy ? ` by ${n.cordonedBy}` : ''}`);
  }
  const { flux } = report;
  if (flux.seen && flux.source.ready === false) out.push(`Flux source ${flux.source.name} is not Ready`);
  const byHecate = flux.suspended.filter((s) => s.byHecate).length;
  if (byHecate > 0) out.push(`${byHecate} Flux object(s) suspended by Hecate`);
  for (const s of flux.suspended.filter((s) => !s.byHecate)) out.push(`${s.ref} is suspended (not by Hecate)`);
  for (const ref of flux.notReady) out.push(`${ref} is not Ready`);
  for (const stage of report.chain) if (stage.ready === false) out.push(`chain stage ${stage.name} is not Ready`);
  const h = report.harbor;
  if (h?.pods && h.pods.ready < h.pods.total) out.push(`Harbor: ${h.pods.ready}/${h.pods.total} pods ready`);
  if (h?.images && h.images.missing.length > 0) {
    out.push(`Harbor: ${h.images.missing.length} image(s) missing on ${h.node}`);
  }
  const ups = report.ups.verdict;
  if (ups && !ups.startupAllowed) out.push(`UPS blocks a startup: ${ups.reasons.map((r) => r.code).join(', ')}`);
  if (report.outage.inOutage) out.push('an outage is recorded in the state file');
  const run = report.outage.run;
  if (run?.failed) out.push(`${run.mode} failed at ${run.failed.id}`);
  else if (run && !run.finished) out.push(`${run.mode} has not finished (next: ${run.next?.id ?? 'unknown'})`);
  const event = report.powerEvent.current;
  if (event?.active && event.execute)
    out.push(`PowerEvent ${event.namespace}/${event.name} is ${event.phase ?? 'Pending'}`);
  return out;
}

function healthOf(api: ClusterFacts['api'], problems: readonly string[]): Health {
  if (api !== 'reachable') return 'unreachable';
  return problems.length > 0 ? 'degraded' : 'healthy';
}

function unseenOf(facts: ClusterFacts): string[] {
  if (facts.api === 'unknown') {
    return ['the cluster: not consulted (--offline or no kubeconfig); shown from the plan, state file and UPS'];
  }
  if (facts.api === 'unreachable') {
    return [
      `the cluster: the API is unreachable (${facts.message ?? 'no answer'}); nodes, Flux, the chain, Harbor and PowerEvents are not shown`,
    ];
  }
  return facts.unseen;
}

/** The whole status. Pure. */
export function buildStatus(input: StatusInputs): StatusReport {
  const { spec } = input.plan;
  const { facts } = input;
  const record = input.saved?.outage ?? EMPTY_RECORD;
  const progress = input.saved?.progress;
  const body: Omit<StatusReport, 'health' | 'problems'> = {
    apiVersion: STATUS_API_VERSION,
    kind: STATUS_KIND,
    observedAt: input.now.toISOString(),
    unseen: unseenOf(facts),
    plan: { name: input.plan.name, source: input.plan.source },
    controlPlane: {
      api: facts.api,
      ...(facts.server ? { server: facts.server } : {}),
      ...(facts.message ? { message: facts.message } : {}),
    },
    nodes: nodesSection(spec, facts, record),
    flux: fluxSection(spec, facts, record),
    chain: chainSection(spec, facts),
    ...(spec.harbor ? { harbor: harborSection(spec, facts) } : {}),
    ups: input.ups,
    outage: {
      stateFile: input.paths.stateFile,
      present: input.saved !== undefined,
      inOutage: record.inOutage,
      ...(input.saved ? { record } : {}),
      ...(progress ? { run: runSection(input, progress) } : {}),
    },
    snapshot: { path: input.paths.repoSnapshot, ...(input.snapshot ?? {}) },
    powerEvent: powerEventSection(facts),
  };
  const problems = problemsOf(body);
  const { apiVersion, kind, observedAt, ...rest } = body;
  return { apiVersion, kind, observedAt, health: healthOf(facts.api, problems), problems, ...rest };
}
