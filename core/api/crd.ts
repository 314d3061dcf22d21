/**
 * zod → CustomResourceDefinition. The CRDs in `crds/` are rendered from these objects by `npm run gen:crds`
 * (hack/gen-crds.ts); a test fails when the files drift (STYLE.md point 22).
 */
import { z } from 'zod';
import { API_VERSION, GROUP, VERSION } from './meta.js';
import { powerEventSpec, powerEventStatus } from './powerevent.js';
import { powerPlanSpec, powerPlanStatus } from './powerplan.js';

/** One node of an OpenAPI v3 schema, as plain JSON. */
export type JsonSchema = { [keyword: string]: unknown };

/** A zod schema that cannot become a structural CRD schema; `path` is a JSON path such as `.spec.nodes[]`. */
export class CrdSchemaError extends Error {
  override readonly name = 'CrdSchemaError';
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path || '.'}: ${problem}`);
  }
}

const SAFE_INT = Number.MAX_SAFE_INTEGER;
const DROPPED = new Set(['$schema', '$defs', 'definitions', '$id']);
const BRANCHES = ['anyOf', 'oneOf', 'allOf', 'not'];
/** Keywords first, in this order; the rest keep zod's order before `properties`. */
const KEY_ORDER = ['description', 'type', 'format', 'nullable', 'default', 'enum'];
const KEY_ORDER_LAST = ['properties', 'additionalProperties', 'items', 'required'];

/**
 * A structural openAPIV3Schema for `schema`: every node has a `type` (or an x-kubernetes escape), no `$ref`, no
 * typed `anyOf`/`oneOf`, no `additionalProperties` beside `properties`. `z.looseObject` (and records of unknown)
 * become `x-kubernetes-preserve-unknown-fields`; `string | number` becomes `x-kubernetes-int-or-string`.
 * Descriptions are kept (`kubectl explain`); zod refinements are not represented (add CEL rules for those).
 * @throws CrdSchemaError when the schema has no structural form (recursion, unions of types, ...).
 */
export function toCrdSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    cycles: 'throw',
    reused: 'inline',
    override: ({ zodSchema, jsonSchema }) => markIntOrString(zodSchema, jsonSchema as JsonSchema),
  });
  return structural(json as JsonSchema, '');
}

function markIntOrString(zodSchema: z.core.$ZodTypes, json: JsonSchema): void {
  if (zodSchema._zod.def.type !== 'union') return;
  const types = zodSchema._zod.def.options.map((option) => option._zod.def.type).sort();
  if (types.join() !== 'number,string') return;
  delete json.anyOf;
  json['x-kubernetes-int-or-string'] = true;
}

function structural(node: JsonSchema, path: string): JsonSchema {
  if ('$ref' in node) throw new CrdSchemaError(path, 'a $ref (reused or recursive schema) is not allowed in a CRD');
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key)) continue;
    out[key] = childSchemas(key, value, path);
  }
  cleanObject(out, path);
  cleanNumbers(out);
  if (out.format === 'date-time') delete out.pattern;
  if (!hasType(out)) throw new CrdSchemaError(path, 'every node of a structural schema needs a type');
  return ordered(out);
}

/** Recurses into the keywords that hold schemas; other values (`default`, `enum`, ...) are data. */
function childSchemas(key: string, value: unknown, path: string): unknown {
  if (key === 'properties') {
    const entries = Object.entries(value as Record<string, JsonSchema>);
    return Object.fromEntries(entries.map(([name, child]) => [name, structural(child, `${path}.${name}`)]));
  }
  if (key === 'items') return structural(value as JsonSchema, `${path}[]`);
  if (key === 'additionalProperties' && isSchema(value) && Object.keys(value).length > 0)
    return structural(value, `${path}{}`);
  if (BRANCHES.includes(key) && declaresType(value)) {
    throw new CrdSchemaError(path, `${key} with types is not structural: use one type, or string | number`);
  }
  return value;
}

/** Structural schemas allow value checks in anyOf/oneOf/allOf/not, but no types anywhere below them. */
function declaresType(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(declaresType);
  return isSchema(value) && (typeof value.type === 'string' || Object.values(value).some(declaresType));
}

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `additionalProperties`: false is dropped (the API server prunes), {} means "keep unknown fields". */
function cleanObject(out: JsonSchema, path: string): void {
  const extra = out.additionalProperties;
  if (extra === false) delete out.additionalProperties;
  else if (extra === true || (isSchema(extra) && Object.keys(extra).length === 0)) {
    delete out.additionalProperties;
    out['x-kubernetes-preserve-unknown-fields'] = true;
  } else if (extra !== undefined && out.properties !== undefined) {
    throw new CrdSchemaError(path, 'additionalProperties beside properties is rejected by the API server');
  }
}

/** Drops the ±2^53-1 bounds zod puts on unbounded integers; integers are int64 on the wire. */
function cleanNumbers(out: JsonSchema): void {
  if (out.type !== 'integer') return;
  if (out.minimum === -SAFE_INT) delete out.minimum;
  if (out.maximum === SAFE_INT) delete out.maximum;
  out.format ??= 'int64';
}

function hasType(out: JsonSchema): boolean {
  return typeof out.type === 'string' || out['x-kubernetes-int-or-string'] === true;
}

function ordered(out: JsonSchema): JsonSchema {
  const rank = (key: string) => {
    const first = KEY_ORDER.indexOf(key);
    if (first >= 0) return first;
    const last = KEY_ORDER_LAST.indexOf(key);
    return last >= 0 ? 100 + last : 50;
  };
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => rank(a) - rank(b)));
}

/** One CEL rule (`x-kubernetes-validations` entry). `fieldPath` is relative to the node carrying the rule. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
}

/**
 * Adds `extension` to the node at `path` (property names; `[]` steps into array items) and returns `schema`.
 * CEL rules are appended to the node's list. @throws CrdSchemaError when the path does not exist, so that a renamed
 * field cannot silently lose its rule.
 */
export function extendAt(schema: JsonSchema, path: readonly string[], extension: JsonSchema): JsonSchema {
  let node = schema;
  path.forEach((step, index) => {
    const next = step === '[]' ? node.items : (node.properties as Record<string, JsonSchema> | undefined)?.[step];
    if (!isSchema(next)) throw new CrdSchemaError(`.${path.slice(0, index + 1).join('.')}`, 'no such field');
    node = next;
  });
  const { 'x-kubernetes-validations': rules, ...rest } = extension;
  Object.assign(node, rest);
  if (Array.isArray(rules))
    node['x-kubernetes-validations'] = [...((node['x-kubernetes-validations'] ?? []) as CelRule[]), ...rules];
  return schema;
}

/** The apiextensions.k8s.io/v1 CustomResourceDefinition fields Hecate writes. */
export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: 'Cluster' | 'Namespaced';
    versions: CrdVersion[];
  };
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  subresources: { status: Record<string, never> };
  additionalPrinterColumns: PrinterColumn[];
  schema: { openAPIV3Schema: JsonSchema };
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'boolean' | 'integer' | 'number' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

interface Kind {
  kind: string;
  plural: string;
  shortName: string;
  scope: 'Cluster' | 'Namespaced';
  description: string;
  spec: JsonSchema;
  status: JsonSchema;
  columns: PrinterColumn[];
}

export const CATEGORY = 'hecate';

const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/** The two CRDs, PowerPlan then PowerEvent. Pure: same objects on every call. */
export function buildCrds(): CustomResourceDefinition[] {
  return [crd(powerPlanKind()), crd(powerEventKind())];
}

function powerPlanKind(): Kind {
  const spec = toCrdSchema(powerPlanSpec);
  extendAt(spec, ['nodes'], listMap('name'));
  extendAt(spec, ['bootstrapChain'], listMap('name'));
  extendAt(spec, [], { 'x-kubernetes-validations': [HARBOR_NODE_LISTED] });
  extendAt(spec, ['ups'], { 'x-kubernetes-validations': UPS_SOURCE_RULES });
  const status = toCrdSchema(powerPlanStatus);
  extendAt(status, ['conditions'], listMap('type'));
  return {
    kind: 'PowerPlan',
    plural: 'powerplans',
    shortName: 'pplan',
    scope: 'Cluster',
    description: 'The facts and policies of one cluster: Flux, the bootstrap chain, Harbor, nodes, drain, UPS',
    spec,
    status,
    columns: [
      { name: 'Harbor', type: 'string', jsonPath: '.spec.harbor.node', description: 'The Harbor node' },
      { name: 'UPS', type: 'string', jsonPath: '.spec.ups.source', description: 'Where the UPS reading comes from' },
      AGE,
    ],
  };
}

function powerEventKind(): Kind {
  const spec = toCrdSchema(powerEventSpec);
  extendAt(spec, ['action'], { 'x-kubernetes-validations': [immutable('spec.action')] });
  extendAt(spec, ['planRef'], { 'x-kubernetes-validations': [immutable('spec.planRef')] });
  const status = toCrdSchema(powerEventStatus);
  extendAt(status, ['conditions'], listMap('type'));
  return {
    kind: 'PowerEvent',
    plural: 'powerevents',
    shortName: 'pev',
    scope: 'Namespaced',
    description: 'One planned power action (prepare, shutdown, startup, harbor-seed) against a PowerPlan',
    spec,
    status,
    columns: [
      { name: 'Action', type: 'string', jsonPath: '.spec.action' },
      { name: 'Execute', type: 'boolean', jsonPath: '.spec.execute', description: 'false: dry-run' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Stage', type: 'string', jsonPath: '.status.stage' },
      { name: 'Plan', type: 'string', jsonPath: '.spec.planRef.name', priority: 1 },
      AGE,
    ],
  };
}

/** NOTE: the key must be required (or defaulted) in every item; the API server then refuses duplicate keys. */
function listMap(key: string): JsonSchema {
  return { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [key] };
}

function immutable(field: string): CelRule {
  return { rule: 'self == oldSelf', message: `${field} is immutable: create a new PowerEvent` };
}

/** Mirrors checkPlanSpec in powerplan.ts; MAX_NODES there keeps the rule's cost within the API server's budget. */
const HARBOR_NODE_LISTED: CelRule = {
  rule: '!has(self.harbor) || self.nodes.exists(n, n.name == self.harbor.node)',
  message: 'spec.harbor.node must be the name of one of spec.nodes',
  fieldPath: '.harbor.node',
};

/** NOTE: `has(self.source)` guards the defaults (`ups: {}`), which the API server also checks against these rules. */
const UPS_SOURCE_RULES: CelRule[] = [
  ['nut', 'nut'],
  ['command', 'command'],
  ['static', 'staticCharge'],
].map(([source, field]) => ({
  rule: `!has(self.source) || self.source != '${source}' || has(self.${field})`,
  message: `spec.ups.${field} is required when spec.ups.source is ${source}`,
  fieldPath: `.${field}`,
}));

function crd(kind: Kind): CustomResourceDefinition {
  const singular = kind.kind.toLowerCase();
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${kind.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'hecate' } },
    spec: {
      group: GROUP,
      names: {
        kind: kind.kind,
        listKind: `${kind.kind}List`,
        plural: kind.plural,
        singular,
        shortNames: [kind.shortName],
        categories: [CATEGORY],
      },
      scope: kind.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: kind.columns,
          schema: { openAPIV3Schema: rootSchema(kind) },
        },
      ],
    },
  };
}

/** NOTE: metadata is only `type: object`: the API server owns its schema and rejects anything more. */
function rootSchema(kind: Kind): JsonSchema {
  return {
    description: kind.description,
    type: 'object',
    properties: {
      apiVersion: { description: `The versioned schema of this object, here ${API_VERSION}`, type: 'string' },
      kind: { description: `The REST resource this object represents, here ${kind.kind}`, type: 'string' },
      metadata: { type: 'object' },
      spec: { description: kind.spec.description ?? `The desired state of the ${kind.kind}`, ...kind.spec },
      status: { description: 'What the operator observed; written through the status subresource', ...kind.status },
    },
    required: ['spec'],
  };
}
