import type { z } from 'zod';
import { knownKeysAt, suggestKey } from './suggest.js';

/** One problem in some input: where it is and what was expected there. */
export interface ValidationIssue {
  /** Dotted path into the document, such as `spec.nodes[2].role`. */
  path: string;
  message: string;
}

/**
 * Bad input, reported all at once. `source` names what was read: a file, an object or a flag.
 */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly source: string,
    readonly issues: readonly ValidationIssue[],
  ) {
    super(`${source} is invalid:\n${issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
  }
}

/** Renders a zod path the way kubectl does: `spec.nodes[2].role`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, '');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) return `required: expected ${issue.expected}`;
  return issue.message;
}

/**
 * One issue per unknown key, at the key's own path: `unknown field "methd" (did you mean "method"?)`. The suggestion
 * is the closest field `schema` knows at that place that the input does not already set.
 */
function unknownKeyIssues(issue: z.core.$ZodIssueUnrecognizedKeys, schema?: z.core.$ZodType): ValidationIssue[] {
  const input = issue.input;
  const present = typeof input === 'object' && input !== null ? new Set(Object.keys(input)) : new Set<string>();
  const known = schema ? knownKeysAt(schema, issue.path).filter((key) => !present.has(key)) : [];
  return issue.keys.map((key) => {
    const suggestion = suggestKey(key, known);
    return {
      path: formatPath([...issue.path, key]),
      message: `unknown field "${key}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`,
    };
  });
}

/**
 * Flattens zod issues (including those of union branches) into path + message pairs. An unknown-keys issue becomes
 * one issue per key; given the `schema` that was parsed, each names the known field it is closest to, if any.
 * NOTE: "required" relies on `issue.input`, which zod 4 fills only when parsing with `reportInput: true`.
 */
export function toIssues(error: z.core.$ZodError, schema?: z.core.$ZodType): ValidationIssue[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? unknownKeyIssues(issue, schema)
      : [{ path: formatPath(issue.path), message: describeIssue(issue) }],
  );
}

/** Parses `input` with `schema`, or throws a {@link ValidationError} listing every bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, source: string): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (!result.success) throw new ValidationError(source, toIssues(result.error, schema));
  return result.data;
}
