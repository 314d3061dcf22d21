import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type CelRule, CrdSchemaError, extendAt, type JsonSchema, toCrdSchema } from '../../../core/api/crd-schema.js';
import { schemaNodes } from '../../helpers/schema-nodes.js';

describe('toCrdSchema', () => {
  it.each<[string, z.ZodType, JsonSchema]>([
    [
      'a plain object',
      z.object({ a: z.string() }),
      { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
    ],
    [
      'a strict object',
      z.strictObject({ a: z.string().optional() }),
      { type: 'object', properties: { a: { type: 'string' } } },
    ],
    [
      'a loose object',
      z.looseObject({ a: z.string().optional() }),
      { type: 'object', properties: { a: { type: 'string' } }, 'x-kubernetes-preserve-unknown-fields': true },
    ],
    [
      'a record of unknown',
      z.record(z.string(), z.unknown()),
      { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    ],
    [
      'a record of strings',
      z.record(z.string(), z.string()),
      { type: 'object', additionalProperties: { type: 'string' } },
    ],
    ['an unbounded int', z.number().int(), { type: 'integer', format: 'int64' }],
    ['a bounded int', z.number().int().min(1).max(9), { type: 'integer', format: 'int64', minimum: 1, maximum: 9 }],
    ['a datetime', z.iso.datetime({ offset: true }), { type: 'string', format: 'date-time' }],
    ['string | number', z.union([z.string(), z.number()]), { 'x-kubernetes-int-or-string': true }],
    ['a description', z.string().describe('Why'), { description: 'Why', type: 'string' }],
    ['a default', z.string().default('x'), { type: 'string', default: 'x' }],
    ['a nullable string', z.string().nullable(), { type: 'string', nullable: true }],
  ])('maps %s', (_case, schema, expected) => {
    expect(toCrdSchema(schema)).toEqual(expected);
  });

  it.each<[string, () => z.ZodType, RegExp]>([
    ['a union of unrelated types', () => z.union([z.string(), z.boolean()]), /anyOf with types is not structural/],
    [
      'a union of objects',
      () => z.object({ a: z.union([z.object({ b: z.string() }), z.object({ c: z.number() })]) }),
      /^\.a: anyOf/,
    ],
    ['an untyped value', () => z.object({ a: z.unknown() }), /^\.a: every node .* needs a type/],
  ])('refuses %s', (_case, schema, expected) => {
    expect(() => toCrdSchema(schema())).toThrow(CrdSchemaError);
    expect(() => toCrdSchema(schema())).toThrow(expected);
  });

  it('refuses a recursive schema', () => {
    const tree: z.ZodType = z.object({
      get children() {
        return z.array(tree);
      },
    });

    expect(() => toCrdSchema(tree)).toThrow();
  });
});

describe('extendAt', () => {
  it('appends CEL rules to those already present', () => {
    const schema = toCrdSchema(z.object({ a: z.array(z.object({ b: z.string() })) }));
    extendAt(schema, ['a', '[]', 'b'], { 'x-kubernetes-validations': [{ rule: 'r1', message: 'm1' }] });
    extendAt(schema, ['a', '[]', 'b'], { 'x-kubernetes-validations': [{ rule: 'r2', message: 'm2' }] });

    const [, b] = [...schemaNodes(schema)].find(([path]) => path === '.a[].b')!;
    expect((b['x-kubernetes-validations'] as CelRule[]).map((r) => r.rule)).toEqual(['r1', 'r2']);
  });

  it('throws on a path that does not exist, so that a renamed field cannot lose its rule', () => {
    const schema = toCrdSchema(z.object({ a: z.string() }));

    expect(() => extendAt(schema, ['b'], { maxLength: 3 })).toThrow(/\.b: no such field/);
  });
});
