import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { bundleManifest, parseBundleManifest } from '../../../core/api/bundle-manifest.js';
import {
  API_VERSION,
  parseOrThrow,
  powerEvent,
  powerPlan,
  stateFile,
  ValidationError,
  type ValidationIssue,
} from '../../../core/api/index.js';
import { editDistance, knownKeysAt, suggestKey } from '../../../core/api/suggest.js';
import { fromYaml } from '../../../core/api/yaml.js';
import { ATLAS_PLAN_PATH } from '../../helpers/atlas.js';

// biome-ignore lint/suspicious/noExplicitAny: test documents are broken on purpose, field by field
type Doc = Record<string, any>;

function atlasDoc(): Doc {
  return fromYaml(readFileSync(ATLAS_PLAN_PATH, 'utf8')) as Doc;
}

function issuesOf(schema: z.ZodType, input: unknown): ValidationIssue[] {
  try {
    parseOrThrow(schema, input, 'test input');
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
  throw new Error('expected a ValidationError, but the input parsed');
}

describe('editDistance', () => {
  it.each<[string, string, number]>([
    ['method', 'method', 0],
    ['methd', 'method', 1],
    ['drian', 'drain', 1], // a transposition is one edit
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['ca', 'abc', 3], // optimal string alignment: no edit of a transposed pair
    ['sshuser', 'sshUser', 1],
  ])('%s → %s is %i', (a, b, expected) => {
    expect(editDistance(a, b)).toBe(expected);
    expect(editDistance(b, a)).toBe(expected);
  });
});

describe('suggestKey', () => {
  const powerOffKeys = ['method', 'command', 'sshUser', 'sshKeyFile', 'delayBetweenNodes'];
  it.each<[string, readonly string[], string | undefined]>([
    ['methd', powerOffKeys, 'method'],
    ['mehtod', powerOffKeys, 'method'],
    ['Method', powerOffKeys, 'method'],
    ['SSHUSER', powerOffKeys, 'sshUser'], // case-insensitive match, however far the case differs
    ['sshKeyFiles', powerOffKeys, 'sshKeyFile'],
    ['comand', powerOffKeys, 'command'],
    ['timeout', powerOffKeys, undefined],
    ['xyz', powerOffKeys, undefined],
    ['ab', ['arch'], undefined], // two edits of a two-letter key would rewrite it entirely
    ['up', ['ups'], 'ups'],
    ['nodez', ['node', 'nodes'], 'node'], // a tie goes to the key listed first
    ['methd', [], undefined],
  ])('%s among %j → %s', (unknown, known, expected) => {
    expect(suggestKey(unknown, known)).toBe(expected);
  });
});

describe('knownKeysAt', () => {
  it.each<[string, z.ZodType, PropertyKey[], string[]]>([
    ['the root of a PowerPlan', powerPlan, [], ['apiVersion', 'kind', 'metadata', 'spec', 'status']],
    [
      'a nested object behind a prefault',
      powerPlan,
      ['spec', 'powerOff'],
      ['method', 'command', 'sshUser', 'sshKeyFile', 'parallelism', 'delayBetweenNodes'],
    ],
    [
      'an array element',
      powerPlan,
      ['spec', 'bootstrapChain', 3],
      ['name', 'path', 'kustomization', 'waitFor', 'timeout'],
    ],
    [
      'an element of an array inside an element',
      powerPlan,
      ['spec', 'bootstrapChain', 0, 'waitFor', 1],
      ['kind', 'name', 'namespace'],
    ],
    ['an optional object', powerPlan, ['spec', 'ups', 'nut'], ['host', 'port', 'ups', 'credentialsFile']],
    ['a record value', stateFile, ['outage', 'drainLevels', 'titan-04'], ['level', 'index', 'startedAt']],
    [
      'a step of the plan in a PowerEvent status',
      powerEvent,
      ['status', 'plan', 'steps', 0],
      ['id', 'stage', 'kind', 'title', 'targets', 'why', 'blockers', 'destructive', 'when', 'timeoutSeconds', 'params'],
    ],
    ['a path to no object', powerPlan, ['spec', 'nodes', 0, 'name'], []],
    ['a path that does not exist', powerPlan, ['spec', 'nope', 'deeper'], []],
    ['an index into an object', powerPlan, ['spec', 0], []],
  ])('%s', (_case, schema, path, expected) => {
    expect(knownKeysAt(schema, path)).toEqual(expected);
  });
});

describe('strict parsing', () => {
  it.each<[string, z.ZodType, (doc: Doc) => Doc, ValidationIssue[]]>([
    [
      'a misspelled powerOff field',
      powerPlan,
      (doc) => {
        doc.spec.powerOff = { methd: 'ssh' };
        return doc;
      },
      [{ path: 'spec.powerOff.methd', message: 'unknown field "methd" (did you mean "method"?)' }],
    ],
    [
      'a misspelled spec field',
      powerPlan,
      (doc) => {
        doc.spec.drian = doc.spec.drain;
        delete doc.spec.drain;
        return doc;
      },
      [{ path: 'spec.drian', message: 'unknown field "drian" (did you mean "drain"?)' }],
    ],
    [
      'a made-up key in a chain stage, and one in a waitFor entry',
      powerPlan,
      (doc) => {
        doc.spec.bootstrapChain[2].retries = 3;
        doc.spec.bootstrapChain[2].waitFor[1] = { kind: 'DaemonSet', name: 'longhorn-manager', namspace: 'x' };
        return doc;
      },
      [
        {
          path: 'spec.bootstrapChain[2].waitFor[1].namspace',
          message: 'unknown field "namspace" (did you mean "namespace"?)',
        },
        { path: 'spec.bootstrapChain[2].retries', message: 'unknown field "retries"' },
      ],
    ],
    [
      'two unknown keys in one object, one already set under its right name',
      powerPlan,
      (doc) => {
        doc.spec.powerOff.methd = 'none'; // "method" is set too: renaming would not help
        doc.spec.powerOff.delaybetweennode = '10s';
        return doc;
      },
      [
        { path: 'spec.powerOff.methd', message: 'unknown field "methd"' },
        {
          path: 'spec.powerOff.delaybetweennode',
          message: 'unknown field "delaybetweennode" (did you mean "delayBetweenNodes"?)',
        },
      ],
    ],
    [
      'an unknown top-level field',
      powerPlan,
      (doc) => {
        doc.sepc = doc.spec;
        delete doc.spec;
        return doc;
      },
      [
        { path: 'spec', message: 'required: expected object' },
        { path: 'sepc', message: 'unknown field "sepc" (did you mean "spec"?)' },
      ],
    ],
  ])('refuses %s, naming its full path', (_case, schema, edit, expected) => {
    expect(issuesOf(schema, edit(atlasDoc()))).toEqual(expected);
  });

  it('keeps metadata loose: the fields the API server sets are accepted', () => {
    const doc = atlasDoc();
    doc.metadata = {
      ...doc.metadata,
      managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
      selfLink: '/apis/x',
      ownerReferences: [],
    };
    doc.status = { observedGeneration: 2, conditions: [] };
    expect(parseOrThrow(powerPlan, doc, 'cluster').metadata).toMatchObject({ selfLink: '/apis/x' });
  });

  it('refuses an unknown field in a PowerEvent status and in the state file', () => {
    const event = {
      apiVersion: API_VERSION,
      kind: 'PowerEvent',
      metadata: { name: 'down', namespace: 'hecate-system' },
      spec: { action: 'shutdown', planRef: { name: 'atlas' }, exectue: true },
      status: { phase: 'Running', stagee: 'drain' },
    };
    expect(issuesOf(powerEvent, event)).toEqual([
      { path: 'spec.exectue', message: 'unknown field "exectue" (did you mean "execute"?)' },
      { path: 'status.stagee', message: 'unknown field "stagee" (did you mean "stage"?)' },
    ]);
    const state = {
      apiVersion: API_VERSION,
      kind: 'OutageState',
      outage: {
        inOutage: true,
        drainLevels: { 'titan-04': { levle: 'evict', index: 0, startedAt: '2026-11-25T01:00:00Z' } },
      },
    };
    expect(issuesOf(stateFile, state)).toEqual([
      { path: 'outage.drainLevels.titan-04.level', message: 'required: expected string' },
      { path: 'outage.drainLevels.titan-04.levle', message: 'unknown field "levle" (did you mean "level"?)' },
    ]);
  });

  it('refuses an unknown field in a bundle manifest, with the suggestion', () => {
    const manifest = {
      schemaVersion: 1,
      sha256: 'a'.repeat(64),
      size: 1,
      platform: 'linux/arm64',
      harbor: { verison: 'v2.14.1', arch: 'arm64' },
      createdAt: '2026-11-25T01:00:00Z',
      images: [{ reference: 'r', digest: `sha256:${'b'.repeat(64)}`, platform: 'linux/arm64' }],
    };
    expect(parseBundleManifest(JSON.stringify(manifest))).toEqual({
      kind: 'invalid',
      issues: [
        { path: 'harbor.version', message: 'required: expected string' },
        { path: 'harbor.verison', message: 'unknown field "verison" (did you mean "version"?)' },
      ],
    });
  });

  /** Every object node reachable from `schema`, with its path, except under metadata. */
  function objectNodes(schema: z.core.$ZodType, path = ''): [string, z.core.$ZodType][] {
    // biome-ignore lint/suspicious/noExplicitAny: walking zod's internal definitions
    const def = schema._zod.def as any;
    if (path.endsWith('metadata')) return [];
    switch (def.type) {
      case 'object':
        return [
          [path, schema],
          ...Object.entries(def.shape as Record<string, z.core.$ZodType>).flatMap(([k, v]) =>
            objectNodes(v, `${path}.${k}`),
          ),
        ];
      case 'array':
        return objectNodes(def.element, `${path}[]`);
      case 'record':
        return objectNodes(def.valueType, `${path}{}`);
      case 'pipe':
        return objectNodes(def.in, path);
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'readonly':
        return objectNodes(def.innerType, path);
      default:
        return [];
    }
  }

  it.each<[string, z.core.$ZodType]>([
    ['PowerPlan', powerPlan],
    ['PowerEvent', powerEvent],
    ['the state file', stateFile],
    ['the bundle manifest', bundleManifest],
  ])('every object of %s but metadata is strict', (_name, schema) => {
    const nodes = objectNodes(schema);
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    // biome-ignore lint/suspicious/noExplicitAny: zod's internal definitions
    const loose = nodes.filter(([, node]) => (node._zod.def as any).catchall?._zod.def.type !== 'never');
    expect(loose.map(([path]) => path)).toEqual([]);
  });
});
