import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCrds, type CustomResourceDefinition } from '../../../core/api/crd.js';
import type { CelRule, JsonSchema } from '../../../core/api/crd-schema.js';
import { fromYaml } from '../../../core/api/yaml.js';
import { CRD_DIR, HEADER, renderCrdFiles } from '../../../hack/gen-crds.js';
import { isObject, schemaNodes } from '../../helpers/schema-nodes.js';

const ROOT = join(import.meta.dirname, '../../..');
const FIX = 'run npm run gen:crds and commit crds/';

/** The subset of OpenAPI validation our schemas use; returns what is wrong with `value`. */
function violations(value: unknown, schema: JsonSchema, path = ''): string[] {
  const type = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  const expected = schema.type === 'integer' ? 'number' : schema.type;
  if (expected && type !== expected) return [`${path}: ${type} is not ${schema.type}`];
  const bad: string[] = [];
  const check = (ok: boolean, what: string) => ok || bad.push(`${path}: ${JSON.stringify(value)} ${what}`);
  if (Array.isArray(schema.enum)) check(schema.enum.includes(value), 'is not in enum');
  if (typeof value === 'number') {
    check(schema.type !== 'integer' || Number.isInteger(value), 'is not an integer');
    check(schema.minimum === undefined || value >= (schema.minimum as number), 'is below minimum');
    check(schema.maximum === undefined || value <= (schema.maximum as number), 'is above maximum');
  }
  if (typeof value === 'string') {
    check(value.length >= ((schema.minLength as number) ?? 0), 'is too short');
    check(value.length <= ((schema.maxLength as number) ?? Number.POSITIVE_INFINITY), 'is too long');
    check(!schema.pattern || new RegExp(schema.pattern as string).test(value), 'does not match the pattern');
  }
  if (Array.isArray(value)) {
    check(value.length >= ((schema.minItems as number) ?? 0), 'has too few items');
    for (const [i, item] of value.entries()) bad.push(...violations(item, schema.items as JsonSchema, `${path}[${i}]`));
  }
  if (isObject(value)) {
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    for (const key of (schema.required ?? []) as string[]) check(key in value, `lacks required ${key}`);
    for (const [key, item] of Object.entries(value)) {
      const child =
        properties[key] ?? (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
      if (child) bad.push(...violations(item, child, `${path}.${key}`));
      else check(schema['x-kubernetes-preserve-unknown-fields'] === true, `has unknown field ${key}`);
    }
  }
  return bad;
}

const crds = buildCrds();
const byKind = (kind: string): CustomResourceDefinition => crds.find((crd) => crd.spec.names.kind === kind)!;
const rootOf = (crd: CustomResourceDefinition): JsonSchema => crd.spec.versions[0]!.schema.openAPIV3Schema;

function nodeAt(crd: CustomResourceDefinition, path: string): JsonSchema {
  const found = [...schemaNodes(rootOf(crd))].find(([at]) => at === path);
  if (!found) throw new Error(`no schema node at ${path}`);
  return found[1];
}

describe('crds/ on disk', () => {
  const rendered = renderCrdFiles();

  it.each([...rendered.keys()])('%s matches what gen:crds renders', (name) => {
    // given the committed file; when compared with a fresh rendering; then they are equal
    let onDisk = '';
    try {
      onDisk = readFileSync(join(ROOT, CRD_DIR, name), 'utf8');
    } catch {
      expect.fail(`${CRD_DIR}/${name} is missing: ${FIX}`);
    }
    expect(onDisk === rendered.get(name), `${CRD_DIR}/${name} is out of date: ${FIX}`).toBe(true);
  });

  it('holds no files that gen:crds does not write', () => {
    const extra = readdirSync(join(ROOT, CRD_DIR)).filter((name) => !rendered.has(name));

    expect(extra, `stale files in ${CRD_DIR}/: delete them, then ${FIX}`).toEqual([]);
  });

  it('marks every file as generated and lists the CRDs in the kustomization', () => {
    for (const text of rendered.values()) expect(text.startsWith(HEADER)).toBe(true);
    const kustomization = fromYaml(rendered.get('kustomization.yaml')!) as { resources: string[] };

    expect(kustomization.resources).toEqual(['power.hecate.dev_powerevents.yaml', 'power.hecate.dev_powerplans.yaml']);
  });

  it.each([
    ['power.hecate.dev_powerplans.yaml', 'powerplans.power.hecate.dev', 'Cluster', 'pplan'],
    ['power.hecate.dev_powerevents.yaml', 'powerevents.power.hecate.dev', 'Namespaced', 'pev'],
  ])('%s reads back as a v1alpha1 CRD with the status subresource', (file, name, scope, shortName) => {
    const crd = fromYaml(readFileSync(join(ROOT, CRD_DIR, file), 'utf8')) as CustomResourceDefinition;

    expect(crd).toMatchObject({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' });
    expect(crd.metadata.name).toBe(name);
    expect(crd.spec.scope).toBe(scope);
    expect(crd.spec.names.shortNames).toEqual([shortName]);
    expect(crd.spec.names.categories).toContain('hecate');
    expect(crd.spec.versions).toHaveLength(1);
    expect(crd.spec.versions[0]).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
    expect(crd.spec.versions[0]?.subresources).toEqual({ status: {} });
  });
});

describe.each(crds.map((crd) => [crd.spec.names.kind, crd] as const))('the %s schema', (_kind, crd) => {
  const nodes = [...schemaNodes(rootOf(crd))];

  it('is structural: every node has a type or an x-kubernetes escape', () => {
    const untyped = nodes.filter(
      ([, node]) =>
        typeof node.type !== 'string' &&
        node['x-kubernetes-int-or-string'] !== true &&
        node['x-kubernetes-preserve-unknown-fields'] !== true,
    );

    expect(untyped.map(([path]) => path)).toEqual([]);
  });

  it.each([
    ['$ref', (node: JsonSchema) => '$ref' in node],
    ['$schema, $defs or definitions', (node: JsonSchema) => ['$schema', '$defs', 'definitions'].some((k) => k in node)],
    ['anyOf/oneOf', (node: JsonSchema) => 'anyOf' in node || 'oneOf' in node],
    ['uniqueItems', (node: JsonSchema) => 'uniqueItems' in node],
    [
      'additionalProperties beside properties',
      (node: JsonSchema) => 'additionalProperties' in node && 'properties' in node,
    ],
    ['additionalProperties: false', (node: JsonSchema) => node.additionalProperties === false],
    ['the ±2^53-1 noise bounds', (node: JsonSchema) => Math.abs(Number(node.maximum ?? node.minimum)) === 2 ** 53 - 1],
    ['a datetime regex', (node: JsonSchema) => node.format === 'date-time' && 'pattern' in node],
  ])('has no %s', (_what, bad) => {
    expect(nodes.filter(([, node]) => bad(node)).map(([path]) => path)).toEqual([]);
  });

  it('leaves metadata to the API server', () => {
    expect(nodeAt(crd, '.metadata')).toEqual({ type: 'object' });
  });

  it('requires spec', () => {
    expect(rootOf(crd).required).toEqual(['spec']);
  });

  it('has a default that validates wherever it has one', () => {
    const defaults = nodes.filter(([, node]) => 'default' in node);
    const bad = defaults.flatMap(([path, node]) => violations(node.default, node, path));

    expect(defaults.length).toBeGreaterThan(0);
    expect(bad).toEqual([]);
  });

  it('keeps the descriptions for kubectl explain', () => {
    expect(nodes.filter(([, node]) => typeof node.description === 'string').length).toBeGreaterThan(10);
  });

  it('keys lists whose items have unique names as maps', () => {
    const lists = nodes.filter(([, node]) => node['x-kubernetes-list-type'] === 'map');
    for (const [path, list] of lists) {
      const items = list.items as JsonSchema;
      const keys = list['x-kubernetes-list-map-keys'] as string[];
      expect(keys.length, path).toBeGreaterThan(0);
      for (const key of keys) expect(items.required, `${path}: map key ${key} must be required`).toContain(key);
    }
  });
});

describe('printer columns', () => {
  it.each([
    ['PowerEvent', ['Action', '.spec.action'], ['Execute', '.spec.execute'], ['Phase', '.status.phase']],
    ['PowerEvent', ['Stage', '.status.stage'], ['Age', '.metadata.creationTimestamp'], ['Plan', '.spec.planRef.name']],
    ['PowerPlan', ['Harbor', '.spec.harbor.node'], ['UPS', '.spec.ups.source'], ['Age', '.metadata.creationTimestamp']],
  ])('%s shows %j, %j and %j', (kind, ...columns) => {
    const shown = byKind(kind).spec.versions[0]!.additionalPrinterColumns.map((c) => [c.name, c.jsonPath]);

    for (const column of columns) expect(shown).toContainEqual(column);
  });

  it.each(['PowerPlan', 'PowerEvent'])('%s columns point at fields of its schema', (kind) => {
    const crd = byKind(kind);
    for (const column of crd.spec.versions[0]!.additionalPrinterColumns) {
      if (column.jsonPath.startsWith('.metadata.')) continue;
      expect(nodeAt(crd, column.jsonPath).type, column.name).toBe(column.type === 'date' ? 'string' : column.type);
    }
  });
});

describe('CEL rules and list-map keys', () => {
  const rulesAt = (kind: string, path: string) =>
    (nodeAt(byKind(kind), path)['x-kubernetes-validations'] ?? []) as CelRule[];

  it.each([
    ['PowerEvent', '.spec.action', 'self == oldSelf', 'spec.action is immutable: create a new PowerEvent'],
    ['PowerEvent', '.spec.planRef', 'self == oldSelf', 'spec.planRef is immutable: create a new PowerEvent'],
    ['PowerPlan', '.spec', 'self.nodes.exists(n, n.name == self.harbor.node)', 'spec.harbor.node must be'],
    ['PowerPlan', '.spec.ups', "self.source != 'nut' || has(self.nut)", 'spec.ups.nut is required'],
    ['PowerPlan', '.spec.ups', "self.source != 'command' || has(self.command)", 'spec.ups.command is required'],
    [
      'PowerPlan',
      '.spec.ups',
      "self.source != 'static' || has(self.staticCharge)",
      'spec.ups.staticCharge is required',
    ],
  ])('%s %s has the rule %s', (kind, path, rule, message) => {
    expect(rulesAt(kind, path)).toContainEqual(
      expect.objectContaining({ rule: expect.stringContaining(rule), message: expect.stringContaining(message) }),
    );
  });

  it.each([
    ['PowerPlan', '.spec.nodes', 'name'],
    ['PowerPlan', '.spec.bootstrapChain', 'name'],
    ['PowerPlan', '.status.conditions', 'type'],
    ['PowerEvent', '.status.conditions', 'type'],
  ])('%s %s is a list map keyed by %s', (kind, path, key) => {
    expect(nodeAt(byKind(kind), path)).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': [key],
    });
  });

  it('bounds the lists the CEL rules iterate, to stay within the cost budget', () => {
    expect(nodeAt(byKind('PowerPlan'), '.spec.nodes').maxItems).toEqual(expect.any(Number));
  });
});
