/**
 * Never a shutdown without a way back, on the operator's side: an executing shutdown PowerEvent reads the verdict
 * `hecate prepare --execute` recorded in its PowerPlan's status. Without a fresh verified one for the revision Flux
 * has applied, it stalls naming the gap and nothing runs; `spec.ignoreWayBack` and a UPS-triggered (emergency)
 * shutdown go ahead with a Warning and the gap in the outage reason.
 */
import { describe, expect, it } from 'vitest';
import { type PowerPlanSpec, UPS_TRIGGER_LABEL, type WayBackRecord } from '../../core/api/index.js';
import { getCondition } from '../../core/status/conditions.js';
import { atlasSpec, VERIFIED_WAY_BACK } from '../helpers/atlas.js';
import { api, executors, KEY, operator, shutdownEvent } from './reconciler-world.js';

/** One control-plane node: the run ends Succeeded (with more, it ends with the last status). */
function spec(): PowerPlanSpec {
  const all = atlasSpec();
  return { ...all, nodes: all.nodes.filter((n) => n.name !== 'titan-01' && n.name !== 'titan-02') };
}

function plan(wayBack: WayBackRecord | undefined, maxAge?: string) {
  const s = spec();
  return {
    apiVersion: 'power.hecate.dev/v1alpha1',
    kind: 'PowerPlan',
    metadata: { name: 'atlas' },
    spec: maxAge ? { ...s, shutdown: { wayBackMaxAge: maxAge } } : s,
    status: { conditions: [], ...(wayBack ? { wayBack } : {}) },
  };
}

const observeFlux = (revision: string) => async () => ({
  api: 'reachable' as const,
  nodes: [],
  flux: { objects: [], sourceRevision: revision },
});

const GAP = { what: 'no repo snapshot at /root/hecate-repo', fix: 'hecate prepare --execute' };

describe('an executing shutdown PowerEvent and its plan’s way back', () => {
  it.each([
    { given: 'no record', record: undefined, says: 'PowerPlan "atlas" has no way-back record (status.wayBack)' },
    {
      given: 'a record with gaps',
      record: { ...VERIFIED_WAY_BACK, verified: false, gaps: [GAP] },
      says: 'is not verified (checked at 2026-11-25T01:00:00.000Z by cli/control-host): no repo snapshot at /root/hecate-repo (fix: hecate prepare --execute)',
    },
    {
      given: 'a record older than spec.shutdown.wayBackMaxAge',
      record: VERIFIED_WAY_BACK,
      maxAge: '30m',
      says: 'longer ago than spec.shutdown.wayBackMaxAge (30m)',
    },
    {
      given: 'a record for a revision Flux has since replaced',
      record: { ...VERIFIED_WAY_BACK, fluxRevision: 'main@sha1:aaaa111' },
      flux: 'main@sha1:bbbb222',
      says: 'verified for Flux revision main@sha1:aaaa111, but Flux has applied main@sha1:bbbb222 since',
    },
  ])('stalls on $given, naming the gap and its fix, running nothing', async ({ record, maxAge, flux, says }) => {
    const world = api(shutdownEvent());
    const { reconciler, recorded } = operator(world, executors(world), {
      plan: plan(record as WayBackRecord | undefined, maxAge),
      ...(flux ? { observe: observeFlux(flux) } : {}),
    });
    const outcome = await reconciler.reconcile(KEY);
    expect(outcome.kind).toBe('stalled');
    const status = world.objects[KEY]?.status;
    const stalled = getCondition(status?.conditions, 'Stalled');
    expect(stalled).toMatchObject({ status: 'True', reason: 'WayBackNotVerified' });
    expect(stalled?.message).toMatch(/^Not shutting down: /);
    expect(stalled?.message).toContain(says);
    expect(stalled?.message).toContain('hecate prepare --execute');
    expect(stalled?.message).toContain('Nothing was changed');
    expect(status?.phase).toBe('Pending');
    expect(status?.progress).toBeUndefined();
    expect(status?.plan?.mode).toBe('shutdown'); // what it would do, for the person reading it
    expect(world.timeline.filter((t) => t.startsWith('ran ') || t.startsWith('deliver '))).toEqual([]);
    expect(recorded).toEqual([expect.stringMatching(/^Warning WayBackNotVerified: Not shutting down: /)]);
    expect(world.violations).toEqual([]);
  });

  it('runs once prepare has recorded a verified way back for the revision Flux applied', async () => {
    const world = api(shutdownEvent());
    const stale = operator(world, executors(world), { plan: plan(undefined) });
    expect((await stale.reconciler.reconcile(KEY)).kind).toBe('stalled');
    const record = { ...VERIFIED_WAY_BACK, fluxRevision: 'main@sha1:bbbb222' };
    const fresh = operator(world, executors(world), { plan: plan(record), observe: observeFlux('bbbb222') });
    expect(await fresh.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    const status = world.objects[KEY]?.status;
    expect(status?.phase).toBe('Succeeded');
    expect(getCondition(status?.conditions, 'Stalled')).toBeUndefined();
    expect(world.timeline).toContain('deliver titan-03');
    expect(fresh.recorded.some((r) => r.includes('WayBackIgnored'))).toBe(false);
    // the stall had observed the generation; running it again un-observes it (kstatus) until it ends
    expect(world.violations).toEqual([]);
  });

  it.each([
    {
      given: 'spec.ignoreWayBack: true',
      event: () => {
        const e = shutdownEvent() as ReturnType<typeof shutdownEvent> & { spec: Record<string, unknown> };
        e.spec = { ...e.spec, ignoreWayBack: true, reason: 'planned power work' };
        return e;
      },
      why: 'spec.ignoreWayBack',
      reason:
        /^planned power work; way back not verified \(spec\.ignoreWayBack\): PowerPlan "atlas" has no way-back record/,
    },
    {
      given: 'a UPS-triggered (emergency) event',
      event: () => {
        const e = shutdownEvent() as ReturnType<typeof shutdownEvent> & { metadata: Record<string, unknown> };
        e.metadata = { ...e.metadata, labels: { [UPS_TRIGGER_LABEL]: 'ups' } };
        return e;
      },
      why: 'emergency: triggered by the UPS',
      reason: /^way back not verified \(emergency: triggered by the UPS\): PowerPlan "atlas" has no way-back record/,
    },
  ])('goes ahead on $given with a Warning, the gap recorded in the outage reason', async ({ event, why, reason }) => {
    const world = api(event());
    const { reconciler, recorded } = operator(world, executors(world), { plan: plan(undefined) });
    expect(await reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    const status = world.objects[KEY]?.status;
    expect(status?.phase).toBe('Succeeded');
    expect(recorded[0]).toMatch(
      new RegExp(`^Warning WayBackIgnored: Shutting down without a verified way back \\(${why}\\)`),
    );
    const record = status?.plan?.steps.find((s) => s.id === 'outage/record');
    expect(record?.params.reason).toMatch(reason);
    expect(world.timeline).toContain('ran outage/record');
  });

  it('does not ask a startup for a way back', async () => {
    const world = api(shutdownEvent());
    const first = operator(world, executors(world), { plan: plan(undefined) });
    const e = world.objects[KEY] as unknown as { spec: Record<string, unknown> };
    e.spec = { ...e.spec, action: 'startup' };
    expect(await first.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(world.objects[KEY]?.status?.phase).toBe('Succeeded');
  });
});
