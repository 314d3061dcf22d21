/**
 * YAML the way Kubernetes reads it. NOTE: always YAML 1.1: with 1.2, `yes`/`on`/`no` are written unquoted and
 * Kubernetes (go-yaml, YAML 1.1) reads them back as booleans.
 */
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';

const OPTIONS = { version: '1.1' } as const;

export function toYaml(value: unknown): string {
  return stringify(value, { ...OPTIONS, lineWidth: 0 });
}

export function fromYaml(text: string): unknown {
  return parseYaml(text, OPTIONS);
}

/** Every document of a multi-document stream; throws on the first document with a syntax error. */
export function fromYamlAll(text: string): unknown[] {
  return parseAllDocuments(text, OPTIONS).flatMap((doc) => {
    if (doc.errors.length > 0) throw doc.errors[0];
    const value = doc.toJS();
    return value === null || value === undefined ? [] : [value];
  });
}
