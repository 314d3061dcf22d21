/**
 * zod → a structural openAPIV3Schema, the JSON-schema post-processing behind the CRDs (./crd.ts): zod's openapi-3.0
 * output made structural (types everywhere, no $ref, no typed unions, Kubernetes' escapes for loose objects and
 * int-or-string), in a stable key order, plus {@link extendAt} for what zod cannot say (CEL rules, list-map keys).
 */
import { z } from 'zod';

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
