import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  API_VERSION,
  parseOrThrow,
  powerEvent,
  powerPlan,
  ValidationError,
  type ValidationIssue,
} from '../../../core/api/index.js';
import { fromYaml } from '../../../core/api/yaml.js';
import { ATLAS_CHAIN } from '../../helpers/atlas.js';

const ROOT = join(import.meta.dirname, '../../..');
// biome-ignore lint/suspicious/noExplicitAny: test documents are broken on purpose, field by field
type Doc = Record<string, any>;

function minimalPlan(): Doc {
  return {
    apiVersion: API_VERSION,
    kind: 'PowerPlan',
    metadata: { name: 'lab' },
    spec: {
      bootstrapChain: [
        { name: 'core', path: 'infrastructure/core' },
        { name: 'gitea', path: 'services/gitea' },
      ],
      nodes: [
        { name: 'n1', role: 'control-plane' },
        { name: 'n2', role: 'worker' },
      ],
    },
  };
}

function minimalEvent(): Doc {
  return {
    apiVersion: API_VERSION,
    kind: 'PowerEvent',
    metadata: { name: 'down', namespace: 'hecate-system' },
    spec: { action: 'shutdown', planRef: { name: 'lab' } },
  };
}

/** The issues of the one ValidationError that parsing `input` throws. */
function issuesOf(schema: typeof powerPlan | typeof powerEvent, input: unknown): ValidationIssue[] {
  try {
    parseOrThrow(schema, input, 'test input');
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
  throw new Error('expected a ValidationError, but the input parsed');
}

function readYaml(path: string): unknown {
  return fromYaml(readFileSync(join(ROOT, path), 'utf8'));
}

describe('valid input', () => {
  it('parses the Atlas PowerPlan', () => {
    const plan = parseOrThrow(powerPlan, readYaml('examples/atlas-powerplan.yaml'), 'atlas-powerplan.yaml');

    expect(plan.spec.nodes).toHaveLength(7);
    expect(plan.spec.bootstrapChain.map((stage) => stage.name)).toEqual(ATLAS_CHAIN);
    expect(plan.spec.harbor?.node).toBe('titan-05');
    expect(plan.spec.ups.nut?.ups).toBe('atlas-ups');
  });

  it.each(readdirSync(join(ROOT, 'examples/samples')))('parses the sample %s', (file) => {
    const event = parseOrThrow(powerEvent, readYaml(`examples/samples/${file}`), file);

    expect(event.spec.planRef.name).toBe('atlas');
    expect(event.spec.execute).toBe(false);
  });

  it.each([
    ['drain.escalation', (s: Doc) => s.drain.escalation, ['evict', 'force', 'disable-eviction']],
    ['drain.timeout', (s: Doc) => s.drain.timeout, '5m'],
    ['drain.gracePeriodSeconds', (s: Doc) => s.drain.gracePeriodSeconds, -1],
    ['flux.namespace', (s: Doc) => s.flux.namespace, 'flux-system'],
    ['flux.source.kind', (s: Doc) => s.flux.source.kind, 'GitRepository'],
    ['powerOff.method', (s: Doc) => s.powerOff.method, 'helper-pod'],
    ['ups.source', (s: Doc) => s.ups.source, 'none'],
    ['nodes[0].order', (s: Doc) => s.nodes[0].order, 100],
    ['bootstrapChain[0].timeout', (s: Doc) => s.bootstrapChain[0].timeout, '10m'],
    ['bootstrapChain[0].waitFor', (s: Doc) => s.bootstrapChain[0].waitFor, []],
    ['repoSnapshot', (s: Doc) => s.repoSnapshot, '~/hecate-repo'],
  ])('defaults spec.%s', (_field, read, expected) => {
    // given a plan that sets only the required fields; when it is parsed
    const plan = parseOrThrow(powerPlan, minimalPlan(), 'minimal plan');

    // then the default is filled in
    expect(read(plan.spec)).toEqual(expected);
  });

  it('defaults spec.execute and spec.ignoreUps of a PowerEvent to false', () => {
    const event = parseOrThrow(powerEvent, minimalEvent(), 'minimal event');

    expect(event.spec).toMatchObject({ execute: false, ignoreUps: false });
  });
});

describe('bad PowerPlan', () => {
  it.each<[string, (doc: Doc) => void, string, RegExp]>([
    ['a wrong node role', (d) => (d.spec.nodes[1].role = 'boss'), 'spec.nodes[1].role', /"control-plane"\|"worker"/],
    [
      'a node name that is no RFC 1123 name',
      (d) => (d.spec.nodes[0].name = 'Titan_01'),
      'spec.nodes[0].name',
      /RFC 1123/,
    ],
    ['no nodes', (d) => (d.spec.nodes = []), 'spec.nodes', />=1/],
    ['a bad duration', (d) => (d.spec.drain = { timeout: 'soon' }), 'spec.drain.timeout', /expected a duration/],
    ['a missing chain', (d) => delete d.spec.bootstrapChain, 'spec.bootstrapChain', /required: expected array/],
    [
      'an absolute chain path',
      (d) => (d.spec.bootstrapChain[0].path = '/etc'),
      'spec.bootstrapChain[0].path',
      /relative/,
    ],
    [
      'an unknown escalation level',
      (d) => (d.spec.drain = { escalation: ['nuke'] }),
      'spec.drain.escalation[0]',
      /"evict"/,
    ],
    ['a quorum above 1', (d) => (d.spec.startup = { nodeReadyQuorum: 1.5 }), 'spec.startup.nodeReadyQuorum', /<=1/],
    [
      'a bad Harbor version',
      (d) => (d.spec.harbor = { node: 'n2', version: 'latest' }),
      'spec.harbor.version',
      /v2\.14\.1/,
    ],
    [
      'a NUT port out of range',
      (d) => (d.spec.ups = { source: 'nut', nut: { ups: 'u', port: 70000 } }),
      'spec.ups.nut.port',
      /<=65535/,
    ],
    [
      'a duplicate node name',
      (d) => (d.spec.nodes[1].name = 'n1'),
      'spec.nodes[1].name',
      /duplicate name "n1" \(also nodes\[0\]\)/,
    ],
    [
      'a duplicate stage name',
      (d) => (d.spec.bootstrapChain[1].name = 'core'),
      'spec.bootstrapChain[1].name',
      /duplicate name "core"/,
    ],
    [
      'a Harbor node not in nodes',
      (d) => (d.spec.harbor = { node: 'n9', version: 'v2.14.1' }),
      'spec.harbor.node',
      /one of spec\.nodes, got "n9"/,
    ],
    [
      'ups.source nut without ups.nut',
      (d) => (d.spec.ups = { source: 'nut' }),
      'spec.ups.nut',
      /required when ups.source is "nut"/,
    ],
    [
      'ups.source command without a command',
      (d) => (d.spec.ups = { source: 'command' }),
      'spec.ups.command',
      /required/,
    ],
    [
      'ups.source static without a charge',
      (d) => (d.spec.ups = { source: 'static' }),
      'spec.ups.staticCharge',
      /required/,
    ],
    ['a wrong kind', (d) => (d.kind = 'PowerEvent'), 'kind', /PowerPlan/],
    ['a wrong apiVersion', (d) => (d.apiVersion = 'power.hecate.dev/v1'), 'apiVersion', /v1alpha1/],
  ])('reports %s at its path', (_case, mutate, path, expected) => {
    // given a valid plan with one mistake
    const doc = minimalPlan();
    mutate(doc);

    // when it is parsed, then exactly that field is reported with what was expected
    const issues = issuesOf(powerPlan, doc);
    expect(issues.map((issue) => issue.path)).toEqual([path]);
    expect(issues[0]?.message).toMatch(expected);
  });

  it('reports every bad field at once, cross-field rules included', () => {
    // given a plan with five mistakes in different places
    const doc = minimalPlan();
    doc.spec.nodes[1].role = 'boss';
    doc.spec.nodes.push({ name: 'n1', role: 'worker' });
    doc.spec.drain = { timeout: '5 minutes' };
    doc.spec.harbor = { node: 'titan-05', version: 'v2.14.1' };
    delete doc.spec.bootstrapChain;

    // when it is parsed, then one error lists them all
    let error: unknown;
    try {
      parseOrThrow(powerPlan, doc, 'plan.yaml');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const { issues, message } = error as ValidationError;
    const paths = [
      'spec.bootstrapChain',
      'spec.nodes[1].role',
      'spec.drain.timeout',
      'spec.nodes[2].name',
      'spec.harbor.node',
    ];
    expect(issues.map((issue) => issue.path).sort()).toEqual([...paths].sort());
    expect(message).toMatch(/^plan\.yaml is invalid:/);
    for (const path of paths) expect(message).toContain(`  - ${path}: `);
  });

  it('reports a spec that is not an object once', () => {
    const doc = { ...minimalPlan(), spec: 'nodes: 3' };

    expect(issuesOf(powerPlan, doc)).toEqual([{ path: 'spec', message: expect.stringMatching(/expected object/) }]);
  });
});

describe('bad PowerEvent', () => {
  it.each<[string, (doc: Doc) => void, string, RegExp]>([
    [
      'an unknown action',
      (d) => (d.spec.action = 'reboot'),
      'spec.action',
      /"prepare"\|"shutdown"\|"startup"\|"harbor-seed"/,
    ],
    ['a missing planRef', (d) => delete d.spec.planRef, 'spec.planRef', /required: expected object/],
    ['a bad plan name', (d) => (d.spec.planRef.name = 'Atlas!'), 'spec.planRef.name', /RFC 1123/],
    ['execute as a string', (d) => (d.spec.execute = 'yes'), 'spec.execute', /expected boolean/],
    ['a reason over 1024 characters', (d) => (d.spec.reason = 'x'.repeat(1025)), 'spec.reason', /<=1024/],
    ['an unknown phase', (d) => (d.status = { phase: 'Done' }), 'status.phase', /"Succeeded"/],
    [
      'a timestamp that is no RFC 3339 time',
      (d) => (d.status = { startedAt: 'yesterday' }),
      'status.startedAt',
      /datetime/,
    ],
    [
      'a condition without lastTransitionTime',
      (d) => (d.status = { conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: '' }] }),
      'status.conditions[0].lastTransitionTime',
      /required: expected string/,
    ],
  ])('reports %s at its path', (_case, mutate, path, expected) => {
    const doc = minimalEvent();
    mutate(doc);

    const issues = issuesOf(powerEvent, doc);
    expect(issues.map((issue) => issue.path)).toEqual([path]);
    expect(issues[0]?.message).toMatch(expected);
  });

  it('reports every bad field at once', () => {
    const doc = minimalEvent();
    doc.spec = { action: 'reboot', execute: 'true' };

    const issues = issuesOf(powerEvent, doc);

    expect(issues.map((issue) => issue.path).sort()).toEqual(['spec.action', 'spec.execute', 'spec.planRef']);
  });
});
