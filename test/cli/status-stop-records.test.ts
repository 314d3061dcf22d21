/**
 * `hecate status` lists stop records (a deleted PowerEvent that stopped mid-run: where and why, and whether the outage
 * record it keeps is still open), read by the same adapter startup adopts them with (adapters/kube/outage-source.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { summarizeStopRecords } from '../../adapters/kube/outage-source.js';
import { stopRecordConfigMap } from '../../adapters/kube/stop-records.js';
import { renderStatusText } from '../../cli/render/status-text.js';
import { buildStatus, type StatusInputs } from '../../cli/status/build.js';
import { statusReport } from '../../cli/status/model.js';
import { upsStatus } from '../../cli/status/ups.js';
import { type PowerPlanSpec, parseOrThrow, powerPlan } from '../../core/api/index.js';
import { fromYaml } from '../../core/api/yaml.js';

const ROOT = join(import.meta.dirname, '../..');
const PLAN = join(ROOT, 'examples/atlas-powerplan.yaml');
const NOW = new Date('2026-11-25T02:00:00Z');
const spec: PowerPlanSpec = parseOrThrow(powerPlan, fromYaml(await readFile(PLAN, 'utf8')), PLAN).spec;

/** A stop record as the operator writes it. */
function stopped(name: string, o: { plan?: string; at?: string; outage?: Record<string, unknown> } = {}) {
  return stopRecordConfigMap(
    {
      powerEvent: { namespace: 'hecate-system', name, uid: `uid-${name}` },
      action: 'shutdown',
      planName: o.plan ?? 'atlas',
      stopped: {
        beforeStep: 'drain/titan-05',
        title: 'Drain titan-05',
        at: o.at ?? '2026-11-24T23:10:00.000Z',
        reason: 'PowerEvent deleted',
      },
      done: ['outage/record', 'drain/titan-04'],
      ...(o.outage ? { outage: o.outage as never } : {}),
    },
    'hecate-system',
  );
}

function inputs(configMaps: unknown[]): StatusInputs {
  return {
    plan: { name: 'atlas', source: PLAN, spec },
    paths: { repoSnapshot: '/home/op/hecate-repo', stateFile: '/home/op/.local/state/cluster_power_recovery.state' },
    facts: {
      api: 'reachable',
      nodes: [],
      powerEvents: [],
      ...(configMaps.length > 0 ? { stopRecords: summarizeStopRecords(configMaps, 'atlas') } : {}),
      unseen: [],
    },
    ups: upsStatus({ ...spec.ups, source: 'static', staticCharge: 90 }, undefined, NOW),
    now: NOW,
  };
}

describe('hecate status: stop records', () => {
  it("given stop records of this plan and another, then this plan's are listed newest first, with where, why and whether startup adopts them", () => {
    const report = buildStatus(
      inputs([
        stopped('older', {
          at: '2026-11-20T10:00:00.000Z',
          outage: { inOutage: true, endedAt: '2026-11-21T00:00:00Z' },
        }),
        stopped('other-plan', { plan: 'other' }),
        stopped('newer', { outage: { inOutage: true, cordonedByHecate: ['titan-04'] } }),
      ]),
    );
    expect(statusReport.safeParse(report).success).toBe(true);
    expect(report.powerEvent.stopRecords?.map((s) => [s.powerEvent, s.outageOpen])).toEqual([
      ['hecate-system/newer', true],
      ['hecate-system/older', false],
    ]);
    const text = renderStatusText(report, 400);
    expect(text).toContain(
      'Stopped:    hecate-system/newer (shutdown, deleted) stopped before drain/titan-05 at 2026-11-24T23:10:00.000Z: PowerEvent deleted; outage record open (startup adopts it) in ConfigMap hecate-system/hecate-stopped-newer-uidnewer',
    );
    expect(text).toContain('hecate-system/older (shutdown, deleted)');
    expect(text).toContain('outage record closed in ConfigMap hecate-system/hecate-stopped-older-uidolder');
    expect(text).not.toContain('other-plan');
  });

  it('given no stop record, then neither the text nor the JSON mentions any', () => {
    const report = buildStatus(inputs([]));
    expect(report.powerEvent).not.toHaveProperty('stopRecords');
    expect(renderStatusText(report)).not.toContain('Stopped:');
  });

  it('given a stop record whose record.json is not JSON, then it is still listed, its outage not taken as open', () => {
    const broken = stopped('broken', { outage: { inOutage: true } });
    broken.data = { ...broken.data, 'record.json': '{' };
    expect(summarizeStopRecords([broken], 'atlas')).toEqual([
      {
        configMap: 'hecate-system/hecate-stopped-broken-uidbroke',
        powerEvent: 'hecate-system/broken',
        action: 'shutdown',
        plan: 'atlas',
        stoppedBeforeStep: 'drain/titan-05',
        stoppedAt: '2026-11-24T23:10:00.000Z',
        reason: 'PowerEvent deleted',
        outageOpen: false,
      },
    ]);
  });
});
