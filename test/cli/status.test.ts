/**
 * The status model without I/O: buildStatus over given facts (health, problems, the run's last and next step,
 * Flux suspended by whom, Harbor images, the active PowerEvent), the text renderer's width, the checked-in JSON
 * Schema (drift and validation) and the exit codes through the CLI with the API down or not consulted.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { renderStatusText } from '../../cli/render/status-text.js';
import { buildStatus, type StatusInputs } from '../../cli/status/build.js';
import { statusJsonSchema, statusReport } from '../../cli/status/model.js';
import type { ClusterFacts } from '../../cli/status/observe.js';
import { upsStatus } from '../../cli/status/ups.js';
import { type PowerPlanSpec, parseOrThrow, powerPlan, type StepRecord } from '../../core/api/index.js';
import { fromYaml } from '../../core/api/yaml.js';
import { hecate, withHome } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '../..');
const PLAN = join(ROOT, 'examples/atlas-powerplan.yaml');
const NOW = new Date('2026-11-25T02:00:00Z');
const spec: PowerPlanSpec = parseOrThrow(powerPlan, fromYaml(await readFile(PLAN, 'utf8')), PLAN).spec;
const staticUps = { ...spec.ups, source: 'static' as const, staticCharge: 90 };

const node = (name: string, extra: Partial<NonNullable<ClusterFacts['nodes']>[number]> = {}) => ({
  name,
  ready: true,
  unschedulable: false,
  images: [] as string[],
  ...extra,
});

function healthyFacts(): ClusterFacts {
  return {
    api: 'reachable',
    server: 'https://10.0.0.1:6443',
    nodes: spec.nodes.map((n) =>
      node(n.name, n.name === 'titan-05' ? { images: ['registry.bstein.dev/infra/harbor-core:v2.14.1'] } : {}),
    ),
    source: { ready: true, revision: 'main@sha1:abc' },
    fluxObjects: [
      { kind: 'Kustomization', namespace: 'flux-system', name: 'core', suspended: false, dependsOn: [], ready: true },
    ],
    chain: Object.fromEntries(
      spec.bootstrapChain.map((s) => [
        s.name,
        s.waitFor.map((w) => ({ ref: `${w.kind} ${w.name}`, ready: true, message: 'ok' })),
      ]),
    ),
    harbor: {
      pods: { ready: 1, total: 1 },
      images: ['registry.bstein.dev/infra/harbor-core:v2.14.1'],
      helmReleaseReady: true,
    },
    powerEvents: [],
    unseen: [],
  };
}

function inputs(overrides: Partial<StatusInputs> = {}): StatusInputs {
  const reading = { source: 'static', charge: 90, status: ['OL'], readAt: NOW };
  return {
    plan: { name: 'atlas', source: PLAN, spec },
    paths: { repoSnapshot: '/home/op/hecate-repo', stateFile: '/home/op/.local/state/cluster_power_recovery.state' },
    facts: healthyFacts(),
    snapshot: { present: true, revision: 'main@sha1:abc' },
    ups: upsStatus(staticUps, reading, NOW),
    now: NOW,
    ...overrides,
  };
}

const record = {
  inOutage: true,
  suspendedByHecate: { kustomizations: ['Kustomization/flux-system/core'], helmReleases: [] },
  alreadySuspended: [],
  cordonedByHecate: ['titan-04'],
  poweredOff: [],
  ignoredUps: false,
};

describe('buildStatus', () => {
  it.each([
    ['a healthy cluster', {}, 'healthy', []],
    [
      'a node down and one cordoned by hecate',
      {
        facts: {
          ...healthyFacts(),
          nodes: healthyFacts().nodes?.map((n) =>
            n.name === 'titan-06'
              ? { ...n, ready: false }
              : n.name === 'titan-04'
                ? { ...n, unschedulable: true, cordonedBy: 'hecate' }
                : n,
          ),
        },
      },
      'degraded',
      ['node titan-04 is cordoned by hecate', 'node titan-06 is NotReady'],
    ],
    [
      'Harbor images missing on its node',
      { facts: { ...healthyFacts(), nodes: healthyFacts().nodes?.map((n) => ({ ...n, images: [] })) } },
      'degraded',
      ['Harbor: 1 image(s) missing on titan-05'],
    ],
    [
      'the UPS below the startup minimum',
      { ups: upsStatus(staticUps, { source: 'static', charge: 20, status: ['OL'], readAt: NOW }, NOW) },
      'degraded',
      ['UPS blocks a startup: charge-below-minimum'],
    ],
    [
      'the API down',
      { facts: { api: 'unreachable', message: 'connect ECONNREFUSED', unseen: [] } as ClusterFacts },
      'unreachable',
      [],
    ],
    ['the cluster not consulted', { facts: { api: 'unknown', unseen: [] } as ClusterFacts }, 'unreachable', []],
  ] as const)('given %s, then the health and the problems are as listed', (_, overrides, health, problems) => {
    const report = buildStatus(inputs(overrides as Partial<StatusInputs>));
    expect(report.health).toBe(health);
    expect([...report.problems].sort()).toEqual([...problems].sort());
    expect(statusReport.safeParse(report).success).toBe(true);
  });

  it('given a startup stopped at chain/vault, then the last step done, the running one and the next are named', () => {
    const steps = [
      'power-gate/ups',
      'api/wait',
      'outage/adopt',
      'nodes/quorum',
      'nodes/uncordon',
      'flux-source/check',
      'chain/core',
    ]
      .map((id): StepRecord => ({ id, state: 'done' }))
      .concat([{ id: 'chain/helm', state: 'failed' }]);
    const progress = {
      action: 'startup' as const,
      mode: 'startup',
      planName: 'atlas',
      startedAt: NOW.toISOString(),
      updatedAt: NOW.toISOString(),
      steps,
    };
    const facts = { ...healthyFacts(), source: { ready: false } };
    const report = buildStatus(inputs({ facts, saved: { outage: record, progress } }));
    expect(report.outage.run).toMatchObject({
      stage: 'chain',
      condition: 'ChainReady',
      lastDone: { id: 'chain/core' },
      failed: { id: 'chain/helm' },
      next: { id: 'chain/helm' },
    });
    expect(report.problems).toContain('startup failed at chain/helm');
  });

  it('given Flux objects suspended by Hecate and by someone else, then each is attributed', () => {
    const facts = healthyFacts();
    facts.fluxObjects = [
      { kind: 'Kustomization', namespace: 'flux-system', name: 'core', suspended: true, dependsOn: [] },
      { kind: 'Kustomization', namespace: 'flux-system', name: 'apps', suspended: true, dependsOn: [] },
    ];
    const report = buildStatus(inputs({ facts, saved: { outage: record } }));
    expect(report.flux.suspended).toEqual([
      { ref: 'Kustomization/flux-system/core', suspended: true, byHecate: true },
      { ref: 'Kustomization/flux-system/apps', suspended: true, byHecate: false },
    ]);
  });

  it('given PowerEvents, then the active one is current, else the latest', () => {
    const event = (name: string, phase: string, startedAt: string) => ({
      apiVersion: 'power.hecate.dev/v1alpha1' as const,
      kind: 'PowerEvent' as const,
      metadata: { name, namespace: 'default' },
      spec: {
        action: 'startup' as const,
        planRef: { name: 'atlas' },
        execute: true,
        ignoreUps: false,
        ignoreWayBack: false,
      },
      status: { phase: phase as 'Running', stage: 'chain', startedAt, conditions: [] },
    });
    const facts = {
      ...healthyFacts(),
      powerEvents: [event('old', 'Succeeded', '2026-11-25T03:00:00Z'), event('now', 'Running', '2026-11-25T01:00:00Z')],
    };
    expect(buildStatus(inputs({ facts })).powerEvent.current).toMatchObject({
      name: 'now',
      active: true,
      stage: 'chain',
    });
    const done = { ...healthyFacts(), powerEvents: [event('old', 'Succeeded', '2026-11-25T03:00:00Z')] };
    expect(buildStatus(inputs({ facts: done })).powerEvent.current).toMatchObject({ name: 'old', active: false });
  });
});

describe('renderStatusText', () => {
  it('given any situation, then no line is wider than 80 columns except a single long word', () => {
    const report = buildStatus(
      inputs({ saved: { outage: record }, facts: { api: 'unreachable', message: 'x '.repeat(80), unseen: [] } }),
    );
    for (const line of renderStatusText(report).split('\n')) {
      if (line.length > 80) expect(line.trim()).not.toContain(' ');
    }
  });
});

describe('the JSON Schema of status -o json', () => {
  it('given the model, then the checked-in schema is up to date (rewrite: UPDATE_GOLDEN=1)', async () => {
    const file = join(ROOT, 'cli/status/status.schema.json');
    const generated = `${JSON.stringify(statusJsonSchema(), null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') await (await import('node:fs/promises')).writeFile(file, generated);
    // NOTE: compared as data: biome formats the checked-in JSON
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(JSON.parse(generated));
  });

  it('given the output with the API down, then it validates; given a broken document, then it does not', async () => {
    const schema = z.fromJSONSchema(JSON.parse(await readFile(join(ROOT, 'cli/status/status.schema.json'), 'utf8')));
    await withHome(async (home) => {
      const result = await hecate(['status', '--plan', PLAN, '--offline', '-o', 'json'], home);
      expect(result.code).toBe(4);
      const doc = JSON.parse(result.stdout);
      expect(schema.safeParse(doc).success).toBe(true);
      expect(schema.safeParse({ ...doc, health: 'fine' }).success).toBe(false);
      expect(schema.safeParse({ ...doc, nodes: [{ name: 'x' }] }).success).toBe(false);
    });
  });

  it('given -o yaml, then the same model is printed', async () => {
    await withHome(async (home) => {
      const result = await hecate(['status', '--plan', PLAN, '--offline', '-o', 'yaml'], home);
      expect(statusReport.safeParse(fromYaml(result.stdout)).success).toBe(true);
    });
  });
});
