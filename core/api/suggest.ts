/**
 * "Did you mean" for unknown fields: the keys a zod schema knows at a path of the input, and the one closest to a
 * misspelled key. Used by ./validate.ts to name every unknown field of a strict object with a suggestion.
 */
import type { z } from 'zod';

/** The largest edit distance still suggested (a transposition counts as one edit). */
export const MAX_SUGGESTION_DISTANCE = 2;

/**
 * Damerau-Levenshtein distance (optimal string alignment): insertions, deletions, substitutions and transpositions
 * of two adjacent characters each cost one.
 */
export function editDistance(a: string, b: string): number {
  const width = b.length + 1;
  const d = new Array<number>((a.length + 1) * width).fill(0);
  const at = (i: number, j: number) => d[i * width + j] ?? 0;
  for (let i = 0; i <= a.length; i++) d[i * width] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      const swapped = i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1];
      if (swapped) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * width + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The known key `unknown` was most likely meant to be: a case-insensitive match first, else the closest key within
 * {@link MAX_SUGGESTION_DISTANCE} edits and fewer edits than `unknown` has characters (so that "ab" is not taken
 * for "arch"). Ties go to the key listed first. Undefined when nothing is close.
 */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  const lower = unknown.toLowerCase();
  const caseless = known.find((key) => key.toLowerCase() === lower);
  if (caseless !== undefined) return caseless;
  let best: string | undefined;
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const key of known) {
    const distance = editDistance(lower, key.toLowerCase());
    if (distance < bestDistance && distance < unknown.length) {
      best = key;
      bestDistance = distance;
    }
  }
  return best;
}

type AnySchema = z.core.$ZodType;
type Def = { type: string } & Record<string, unknown>;

const defOf = (schema: AnySchema): Def => schema._zod.def as unknown as Def;

/** Wrappers whose input is their inner schema's input. */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);
/** Guards against a lazy schema that only returns itself. */
const MAX_UNWRAP = 64;

/** The schemas `schema` reads its input with, past wrappers, pipes, lazies, unions and intersections. */
function unwrap(schema: AnySchema, depth = 0): AnySchema[] {
  if (depth > MAX_UNWRAP) return [];
  const def = defOf(schema);
  const inner = (next: unknown) => unwrap(next as AnySchema, depth + 1);
  if (WRAPPERS.has(def.type)) return inner(def.innerType);
  if (def.type === 'pipe') return inner(def.in);
  if (def.type === 'lazy') return inner((def.getter as () => AnySchema)());
  if (def.type === 'union') return (def.options as AnySchema[]).flatMap(inner);
  if (def.type === 'intersection') return [...inner(def.left), ...inner(def.right)];
  return [schema];
}

/** The schemas of the value at `key` of a value read by `schema` (an object field, array item or record value). */
function child(schema: AnySchema, key: PropertyKey): AnySchema[] {
  const def = defOf(schema);
  if (def.type === 'object' && typeof key === 'string') {
    const field = (def.shape as Record<string, AnySchema>)[key];
    if (field) return [field];
    return def.catchall ? [def.catchall as AnySchema] : [];
  }
  if (def.type === 'array' && typeof key === 'number') return [def.element as AnySchema];
  if (def.type === 'record' && typeof key === 'string') return [def.valueType as AnySchema];
  if (def.type === 'tuple' && typeof key === 'number') {
    const item = (def.items as AnySchema[])[key] ?? (def.rest as AnySchema | null);
    return item ? [item] : [];
  }
  return [];
}

/**
 * The field names `schema` knows for the object at `path` of its input (a zod issue path), in schema order; empty
 * when the path leads to no object. Every branch of a union is searched.
 */
export function knownKeysAt(schema: AnySchema, path: readonly PropertyKey[]): string[] {
  let nodes = unwrap(schema);
  for (const key of path) nodes = nodes.flatMap((node) => child(node, key)).flatMap((node) => unwrap(node));
  const keys = nodes.flatMap((node) => {
    const def = defOf(node);
    return def.type === 'object' ? Object.keys(def.shape as Record<string, unknown>) : [];
  });
  return [...new Set(keys)];
}
