/**
 * The gauges people alert on: UPS readings as the watcher takes them, the way back per PowerPlan
 * from the record prepare writes, and PowerEvents from the cache, all read at scrape time. Values are asserted in the
 * exposition text a Prometheus would scrape.
 */
import { describe, expect, it } from 'vitest';
import type { PowerPlanSpec } from '../../core/api/index.js';
import { wayBackGaps, wayBackRecordOf } from '../../core/plan/way-back.js';
import type { UpsReading } from '../../core/ports/ups.js';
import { type ClusterView, OperatorMetrics } from '../../operator/metrics.js';
import { atlasSpec } from '../helpers/atlas.js';

const NOW = new Date('2026-11-25T02:00:00Z');
const REVISION = 'main@sha1:0123abcd';
const UPS = 'atlas-ups@127.0.0.1:3493';

/** The value of the series `name{labels}` in the exposition text; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',').filter(Boolean);
    if (wanted.every((w) => have.includes(w)) && have.length === wanted.length) return Number(match[3]);
  }
  return undefined;
}

function plan(name: string, status: object | undefined, spec: Partial<PowerPlanSpec> = {}) {
  return {
    apiVersion: 'power.hecate.dev/v1alpha1',
    kind: 'PowerPlan',
    metadata: { name },
    spec: { ...atlasSpec(), ...spec },
    ...(status ? { status } : {}),
  };
}

const facts = (bundleProblem?: string) => ({
  snapshot: { dir: '/home/ops/hecate-repo', present: true, revision: REVISION },
  fluxRevision: REVISION,
  chain: true,
  bundle: { path: '/b.tar.zst', ...(bundleProblem ? { problem: bundleProblem } : {}) },
  kubectl: { command: 'kubectl', found: true },
});

/** `fluxRevision` null: the source cannot be read. */
function view(plans: unknown[], events: unknown[], fluxRevision: string | null = REVISION): ClusterView {
  return {
    plans: () => plans,
    events: () => events,
    fluxRevision: async () => fluxRevision ?? undefined,
    now: () => NOW,
  };
}

describe('UPS gauges', () => {
  const reading = (fields: Partial<UpsReading>): UpsReading => ({ source: UPS, status: [], readAt: NOW, ...fields });

  it('reports charge as a ratio, runtime in seconds, on battery and low battery, and when it was read', async () => {
    const metrics = new OperatorMetrics();
    metrics.upsRead(reading({ status: ['OB', 'LB'], charge: 20, runtimeSeconds: 300 }));
    const text = await metrics.text();
    expect(sample(text, 'hecate_ups_battery_charge_ratio', { ups: UPS })).toBe(0.2);
    expect(sample(text, 'hecate_ups_battery_runtime_seconds', { ups: UPS })).toBe(300);
    expect(sample(text, 'hecate_ups_on_battery', { ups: UPS })).toBe(1);
    expect(sample(text, 'hecate_ups_low_battery', { ups: UPS })).toBe(1);
    expect(sample(text, 'hecate_ups_up', { ups: UPS })).toBe(1);
    expect(sample(text, 'hecate_ups_last_read_timestamp_seconds', { ups: UPS })).toBe(NOW.getTime() / 1000);
  });

  it.each([
    { status: ['OL'], onBattery: 0, low: 0 },
    { status: ['OL', 'CHRG'], onBattery: 0, low: 0 },
    { status: ['OB', 'DISCHRG'], onBattery: 1, low: 0 },
    { status: ['FSD', 'OB', 'LB'], onBattery: 1, low: 1 },
    { status: ['OL', 'FSD'], onBattery: 0, low: 1 },
  ])('ups.status $status: on battery $onBattery, low battery $low', async ({ status, onBattery, low }) => {
    const metrics = new OperatorMetrics();
    metrics.upsRead(reading({ status, charge: 90 }));
    const text = await metrics.text();
    expect(sample(text, 'hecate_ups_on_battery', { ups: UPS })).toBe(onBattery);
    expect(sample(text, 'hecate_ups_low_battery', { ups: UPS })).toBe(low);
  });

  it('a failed read counts its fault and keeps the time of the last good read, so the age grows', async () => {
    const metrics = new OperatorMetrics();
    metrics.upsRead(reading({ status: ['OL'], charge: 100 }));
    const later = new Date(NOW.getTime() + 60_000);
    metrics.upsRead(reading({ readAt: later, error: { fault: 'unreachable', message: 'refused' } }));
    metrics.upsRead(reading({ readAt: later, error: { fault: 'unreachable', message: 'refused' } }));
    const text = await metrics.text();
    expect(sample(text, 'hecate_ups_up', { ups: UPS })).toBe(0);
    expect(sample(text, 'hecate_ups_read_errors_total', { ups: UPS, fault: 'unreachable' })).toBe(2);
    expect(sample(text, 'hecate_ups_last_read_timestamp_seconds', { ups: UPS })).toBe(NOW.getTime() / 1000);
  });

  it('watchUps records what the port reads and passes it on unchanged', async () => {
    const metrics = new OperatorMetrics();
    const read = reading({ status: ['OB'], charge: 55 });
    const port = metrics.watchUps({ read: async () => read, close: async () => undefined });
    expect(await port.read()).toBe(read);
    expect(sample(await metrics.text(), 'hecate_ups_battery_charge_ratio', { ups: UPS })).toBe(0.55);
  });
});

describe('way-back gauges, per PowerPlan', () => {
  const recorded = (gaps: ReturnType<typeof wayBackGaps>, checkedAt = NOW, fluxRevision = REVISION) => ({
    wayBack: wayBackRecordOf(gaps, { now: checkedAt, checkedBy: 'cli/titan-db', fluxRevision }),
  });
  const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

  it.each([
    { name: 'verified, fresh, at Flux revision', status: recorded([]), ready: 1, verified: 1, matches: 1, bundle: 1 },
    {
      name: 'the bundle failed its check',
      status: recorded(wayBackGaps(facts('sha256 differs from the manifest; rebuild it with: hecate bundle build'))),
      ready: 0,
      verified: 0,
      matches: 1,
      bundle: 0,
    },
    {
      name: 'Flux moved on since prepare',
      status: recorded([], NOW, 'main@sha1:ffff0000'),
      ready: 0,
      verified: 1,
      matches: 0,
      bundle: 1,
    },
    // atlas: spec.shutdown.wayBackMaxAge defaults to 7 days
    {
      name: 'older than wayBackMaxAge',
      status: recorded([], hoursAgo(24 * 8)),
      ready: 0,
      verified: 1,
      matches: 1,
      bundle: 1,
    },
    { name: 'never prepared', status: undefined, ready: 0, verified: 0, matches: 0, bundle: 0 },
  ])('$name: ready $ready, verified $verified, revision matches $matches, bundle $bundle', async (row) => {
    const metrics = new OperatorMetrics();
    metrics.observeCluster(view([plan('atlas', row.status)], []));
    const text = await metrics.text();
    const labels = { powerplan: 'atlas' };
    expect(sample(text, 'hecate_wayback_ready', labels)).toBe(row.ready);
    expect(sample(text, 'hecate_wayback_verified', labels)).toBe(row.verified);
    expect(sample(text, 'hecate_wayback_revision_matches_flux', labels)).toBe(row.matches);
    expect(sample(text, 'hecate_wayback_bundle_verified', labels)).toBe(row.bundle);
    const checkedAt = row.status ? Date.parse(row.status.wayBack.checkedAt) / 1000 : undefined;
    expect(sample(text, 'hecate_wayback_prepare_timestamp_seconds', labels)).toBe(checkedAt);
  });

  it('has no bundle gauge for a plan without a Harbor stage, and no revision match when Flux cannot be read', async () => {
    const metrics = new OperatorMetrics();
    const noHarbor = plan('lab', recorded([]));
    delete (noHarbor.spec as { harbor?: unknown }).harbor;
    metrics.observeCluster(view([noHarbor], [], null));
    const text = await metrics.text();
    expect(sample(text, 'hecate_wayback_bundle_verified', { powerplan: 'lab' })).toBeUndefined();
    expect(sample(text, 'hecate_wayback_revision_matches_flux', { powerplan: 'lab' })).toBe(0);
    expect(sample(text, 'hecate_wayback_verified', { powerplan: 'lab' })).toBe(1);
  });

  it('asks for the Flux revision at most once per 30 s, and drops a plan once it leaves the cache', async () => {
    const metrics = new OperatorMetrics();
    let asked = 0;
    let plans = [plan('atlas', recorded([]))];
    metrics.observeCluster({
      plans: () => plans,
      events: () => [],
      fluxRevision: async () => {
        asked++;
        return REVISION;
      },
      now: () => NOW,
    });
    await metrics.text();
    await metrics.text();
    expect(asked).toBe(1);
    plans = [];
    expect(sample(await metrics.text(), 'hecate_wayback_ready', { powerplan: 'atlas' })).toBeUndefined();
  });
});

describe('PowerEvent gauges, from the cache', () => {
  const event = (name: string, status: object) => ({ metadata: { namespace: 'hecate-system', name }, status });

  it('reports phase, stage, Stalled and the last progress of an unfinished event; only phase for a finished one', async () => {
    const metrics = new OperatorMetrics();
    const running = event('shutdown-1', {
      phase: 'Running',
      stage: 'drain',
      startedAt: '2026-11-25T01:00:00Z',
      progress: { updatedAt: '2026-11-25T01:30:00Z' },
      conditions: [{ type: 'Stalled', status: 'True' }],
    });
    const done = event('prepare-1', { phase: 'Succeeded', stage: 'prepare' });
    metrics.observeCluster(view([], [running, done]));
    const text = await metrics.text();
    const key = 'hecate-system/shutdown-1';
    expect(sample(text, 'hecate_powerevent_phase', { powerevent: key, phase: 'Running' })).toBe(1);
    expect(sample(text, 'hecate_powerevent_phase', { powerevent: key, phase: 'Waiting' })).toBe(0);
    expect(sample(text, 'hecate_powerevent_stage', { powerevent: key, stage: 'drain' })).toBe(1);
    expect(sample(text, 'hecate_powerevent_stalled', { powerevent: key })).toBe(1);
    expect(sample(text, 'hecate_powerevent_progress_timestamp_seconds', { powerevent: key })).toBe(
      Date.parse('2026-11-25T01:30:00Z') / 1000,
    );
    const finished = 'hecate-system/prepare-1';
    expect(sample(text, 'hecate_powerevent_phase', { powerevent: finished, phase: 'Succeeded' })).toBe(1);
    expect(sample(text, 'hecate_powerevent_stage', { powerevent: finished, stage: 'prepare' })).toBeUndefined();
    expect(sample(text, 'hecate_powerevent_stalled', { powerevent: finished })).toBe(0);
  });

  it('forgets an event deleted from the cache, and a stage it has left', async () => {
    const metrics = new OperatorMetrics();
    let events = [event('shutdown-1', { phase: 'Running', stage: 'drain' })];
    metrics.observeCluster({ ...view([], []), events: () => events });
    await metrics.text();
    events = [event('shutdown-1', { phase: 'Running', stage: 'power-off' })];
    let text = await metrics.text();
    const key = 'hecate-system/shutdown-1';
    expect(sample(text, 'hecate_powerevent_stage', { powerevent: key, stage: 'drain' })).toBeUndefined();
    expect(sample(text, 'hecate_powerevent_stage', { powerevent: key, stage: 'power-off' })).toBe(1);
    events = [];
    text = await metrics.text();
    expect(text).not.toContain(key);
  });
});
