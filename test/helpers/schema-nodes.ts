/** Walking a JSON schema in tests (the CRD schemas of core/api/crd.ts and core/api/crd-schema.ts). */
import type { JsonSchema } from '../../core/api/crd-schema.js';

/** Every schema node below `schema`, with a JSON path (`[]` = array items, `{}` = map values). */
export function* schemaNodes(schema: JsonSchema, path = ''): Generator<[string, JsonSchema]> {
  yield [path || '.', schema];
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const [name, child] of Object.entries(properties)) yield* schemaNodes(child, `${path}.${name}`);
  if (isObject(schema.items)) yield* schemaNodes(schema.items, `${path}[]`);
  if (isObject(schema.additionalProperties)) yield* schemaNodes(schema.additionalProperties, `${path}{}`);
}

export function isObject(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
