/**
 * Which outage record the cluster holds open for a plan (adapters/kube/outage-source.ts `selectOpenOutage`): the
 * objects are given as the API returns them (PowerEvents as JSON, ConfigMaps as client-node objects, whose
 * creationTimestamp is a Date).
 */
import { describe, expect, it } from 'vitest';
import { selectOpenOutage } from '../../../adapters/kube/outage-source.js';
import { stopRecordConfigMap } from '../../../adapters/kube/stop-records.js';
import { STOP_RECORD_LABEL, STOP_RECORD_VALUE } from '../../../core/api/index.js';

const NS = 'hecate-system';

interface EventOptions {
  plan?: string;
  action?: string;
  created?: string;
  phase?: string;
  finishedAt?: string;
  outage?: unknown;
}

function event(name: string, o: EventOptions = {}) {
  return {
    apiVersion: 'power.hecate.dev/v1alpha1',
    kind: 'PowerEvent',
    metadata: { namespace: NS, name, creationTimestamp: o.created ?? '2026-11-24T21:59:58Z', uid: `uid-${name}` },
    spec: { action: o.action ?? 'shutdown', planRef: { name: o.plan ?? 'atlas' }, execute: true },
    status: {
      conditions: [],
      ...(o.phase ? { phase: o.phase } : {}),
      ...(o.finishedAt ? { finishedAt: o.finishedAt } : {}),
      ...(o.outage !== undefined ? { outage: o.outage } : {}),
    },
  };
}

const open = (startedAt: string | undefined, cordoned = ['titan-04']) => ({
  inOutage: true,
  ...(startedAt ? { startedAt } : {}),
  cordonedByHecate: cordoned,
  suspendedByHecate: { kustomizations: ['Kustomization/flux-system/flux-system'], helmReleases: [] },
});

/** A stop record as the operator writes it (adapters/kube/stop-records.ts), as client-node returns it. */
function stopRecord(eventName: string, outage: unknown, o: { plan?: string; action?: string } = {}) {
  const cm = stopRecordConfigMap(
    {
      powerEvent: { namespace: NS, name: eventName, uid: `uid-${eventName}` },
      action: o.action ?? 'shutdown',
      planName: o.plan ?? 'atlas',
      stopped: { beforeStep: 'drain/titan-05', title: 'Drain titan-05', at: '2026-11-24T23:10:00Z', reason: 'deleted' },
      done: ['outage/record'],
      ...(outage ? { outage: outage as never } : {}),
    },
    NS,
  );
  return { ...cm, metadata: { ...cm.metadata, creationTimestamp: new Date('2026-11-24T23:10:01Z') } };
}

function select(events: unknown[], stopRecords: unknown[] = [], plan = 'atlas') {
  const warnings: string[] = [];
  const found = selectOpenOutage(plan, { events, stopRecords }, (m) => warnings.push(m));
  return { found, warnings, source: found?.source, cordoned: found?.outage.cordonedByHecate };
}

describe('selectOpenOutage', () => {
  it('given two open shutdowns of the plan, then the newest by outage start wins', () => {
    const { source, cordoned, warnings } = select([
      event('newer', { created: '2026-11-20T00:00:00Z', outage: open('2026-11-24T22:00:00Z', ['titan-05']) }),
      event('older', { created: '2026-11-23T00:00:00Z', outage: open('2026-11-23T22:00:00Z', ['titan-04']) }),
    ]);
    expect(source).toBe(`PowerEvent ${NS}/newer`);
    expect(cordoned).toEqual(['titan-05']);
    expect(warnings).toEqual([]);
  });

  it('given an outage without a start, then its creationTimestamp places it', () => {
    const { source } = select([
      event('recorded', { outage: open('2026-11-24T22:00:00Z') }),
      event('no-start', { created: '2026-11-24T23:00:00Z', outage: open(undefined) }),
    ]);
    expect(source).toBe(`PowerEvent ${NS}/no-start`);
  });

  it.each([
    {
      given: 'a startup of the plan that Succeeded after it began',
      closer: { action: 'startup', phase: 'Succeeded', finishedAt: '2026-11-25T03:00:00Z' },
      adopted: false,
    },
    {
      given: 'a Succeeded startup without finishedAt, created after it began',
      closer: { action: 'startup', phase: 'Succeeded', created: '2026-11-25T02:00:00Z' },
      adopted: false,
    },
    {
      given: 'a handed-off startup whose own record was closed after it began, still Running',
      closer: {
        action: 'startup',
        phase: 'Running',
        outage: { inOutage: false, startedAt: '2026-11-24T22:00:00Z', endedAt: '2026-11-25T02:30:00Z' },
      },
      adopted: false,
    },
    {
      given: 'a startup that Succeeded before the outage began',
      closer: {
        action: 'startup',
        phase: 'Succeeded',
        created: '2026-11-01T00:00:00Z',
        finishedAt: '2026-11-01T00:10:00Z',
      },
      adopted: true,
    },
    {
      given: 'a startup that is still running (not closed)',
      closer: { action: 'startup', phase: 'Running', created: '2026-11-25T02:00:00Z' },
      adopted: true,
    },
    {
      given: 'a startup that Failed',
      closer: { action: 'startup', phase: 'Failed', finishedAt: '2026-11-25T02:00:00Z' },
      adopted: true,
    },
    {
      given: 'a Succeeded startup of another plan',
      closer: { action: 'startup', phase: 'Succeeded', finishedAt: '2026-11-25T03:00:00Z', plan: 'other' },
      adopted: true,
    },
  ])('given $given, then adopted=$adopted', ({ closer, adopted }) => {
    const { found, warnings } = select([
      event('shutdown', { outage: open('2026-11-24T22:00:00Z') }),
      event('startup', closer),
    ]);
    expect(found?.source).toBe(adopted ? `PowerEvent ${NS}/shutdown` : undefined);
    expect(warnings).toEqual([]);
  });

  it('given a later Succeeded startup that closed a newer outage, then an older open one is not adopted either', () => {
    const { found } = select([
      event('old', { outage: open('2026-11-20T22:00:00Z') }),
      event('new', { outage: open('2026-11-24T22:00:00Z') }),
      event('startup', { action: 'startup', phase: 'Succeeded', finishedAt: '2026-11-25T03:00:00Z' }),
    ]);
    expect(found).toBeUndefined();
  });

  it.each([
    { given: 'endedAt set', outage: { ...open('2026-11-24T22:00:00Z'), endedAt: '2026-11-25T01:00:00Z' } },
    { given: 'inOutage false', outage: { ...open('2026-11-24T22:00:00Z'), inOutage: false } },
    { given: 'no outage record (a dry-run)', outage: undefined },
  ])('given a shutdown whose outage has $given, then it is not adopted', ({ outage }) => {
    expect(select([event('shutdown', { outage })]).found).toBeUndefined();
  });

  it('given a stop record of a deleted shutdown, then it counts, and the newest of it and the PowerEvents wins', () => {
    const events = [event('shutdown', { outage: open('2026-11-20T22:00:00Z', ['titan-04']) })];
    const records = [stopRecord('deleted-mid-drain', open('2026-11-24T23:00:00Z', ['titan-04', 'titan-05']))];
    const { source, cordoned, warnings } = select(events, records);
    expect(source).toBe(
      `stop record ConfigMap ${NS}/hecate-stopped-deleted-mid-drain-uiddelet (of PowerEvent ${NS}/deleted-mid-drain, deleted)`,
    );
    expect(cordoned).toEqual(['titan-04', 'titan-05']);
    expect(warnings).toEqual([]);
  });

  it('given a stop record and its PowerEvent at once (the finalizer not yet released), then the PowerEvent is named', () => {
    const outage = open('2026-11-24T23:00:00Z');
    const { source } = select([event('shutdown', { outage })], [stopRecord('shutdown', outage)]);
    expect(source).toBe(`PowerEvent ${NS}/shutdown`);
  });

  it('given records of other plans and other actions, then they are ignored', () => {
    const { found } = select(
      [
        event('other-plan', { plan: 'other', outage: open('2026-11-24T22:00:00Z') }),
        event('prepare', { action: 'prepare', outage: open('2026-11-24T22:00:00Z') }),
      ],
      [
        stopRecord('other-plan', open('2026-11-24T22:00:00Z'), { plan: 'other' }),
        stopRecord('a-startup', open('2026-11-24T22:00:00Z'), { action: 'startup' }),
      ],
    );
    expect(found).toBeUndefined();
  });

  it('given a malformed record.json, then it warns naming the ConfigMap, skips it and adopts the next newest', () => {
    const broken = stopRecord('broken', open('2026-11-24T23:00:00Z'));
    broken.data = { ...broken.data, 'record.json': '{"powerEvent": {"name": "broken"' };
    const wrongShape = stopRecord('wrong', undefined);
    wrongShape.data = { ...wrongShape.data, 'record.json': JSON.stringify({ planName: 'atlas' }) };
    const badOutage = stopRecord('bad-outage', { inOutage: 'yes', cordonedByHecate: 'titan-04' });
    const { source, warnings } = select(
      [event('shutdown', { outage: open('2026-11-20T22:00:00Z') })],
      [broken, wrongShape, badOutage],
    );
    expect(source).toBe(`PowerEvent ${NS}/shutdown`);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(
      new RegExp(
        `^stop record ConfigMap ${NS}/hecate-stopped-broken-uidbroke: record.json is not JSON \\(.+\\): not adopted$`,
      ),
    );
    expect(warnings[1]).toMatch(
      /^stop record ConfigMap .*hecate-stopped-wrong-.*: record.json is not a stop record \(action: .+\): not adopted$/,
    );
    expect(warnings[2]).toMatch(
      /^stop record ConfigMap .*hecate-stopped-bad-outage-.*: record.json outage is not an outage record \(inOutage: .+\): not adopted$/,
    );
  });

  it('given a shutdown whose status.outage does not parse, then it warns naming the PowerEvent and is skipped', () => {
    const { found, warnings } = select([event('bad', { outage: { inOutage: true, poweredOff: 7 } })]);
    expect(found).toBeUndefined();
    expect(warnings).toEqual([
      expect.stringMatching(
        /^PowerEvent hecate-system\/bad: status.outage is not an outage record \(poweredOff: .+\): not adopted$/,
      ),
    ]);
  });

  it('reads stop records by the label the operator writes', () => {
    const labels = stopRecord('x', undefined).metadata?.labels ?? {};
    expect(labels[STOP_RECORD_LABEL]).toBe(STOP_RECORD_VALUE);
  });
});
