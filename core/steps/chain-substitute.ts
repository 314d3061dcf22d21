/**
 * Flux post-build variable substitution (kustomize-controller's `postBuild`, fluxcd/pkg/envsubst), pure.
 *
 * Supported, as Flux does it:
 * - `${VAR}`: the value; an undefined VAR becomes "" (or an error in strict mode).
 * - `${VAR:=default}` / `${VAR:-default}`: the default when VAR is undefined or empty.
 * - `${VAR=default}` / `${VAR-default}`: the default when VAR is undefined.
 * - `$${VAR}` prints `${VAR}`; `$VAR` without braces is never substituted.
 * - Objects labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` are left alone.
 * - The substitution runs on each object's YAML, so `replicas: ${N}` with N=3 becomes the number 3, as in Flux.
 * Not supported (an error naming the expression, never a silent wrong value): bash string operators such as
 * `${VAR:1:2}`, `${VAR/a/b}`, `${VAR^^}`, `${#VAR}`.
 */

import { fromYaml, toYaml } from '../api/yaml.js';
import type {
  AppliedRef,
  FluxKustomizationPort,
  FluxKustomizationView,
  KubeObject,
  ManifestPort,
  Substitutions,
} from '../ports/chain.js';

/** Flux validates variable names with this expression. */
export const VARIABLE_NAME = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const DISABLE_KEY = 'kustomize.toolkit.fluxcd.io/substitute';

export class SubstitutionError extends Error {
  override readonly name = 'SubstitutionError';
}

/** Substitutes `${...}` expressions in `text`. Throws a SubstitutionError listing every problem at once. */
export function substituteText(text: string, substitutions: Substitutions): string {
  const problems: string[] = [];
  const out = text.replace(/\$(\$\{[^}]*\})|\$\{([^}]*)\}/g, (whole, escaped?: string, body?: string) => {
    if (escaped !== undefined) return escaped;
    const result = evaluate(body ?? '', substitutions);
    if (typeof result === 'string') return result;
    problems.push(result.problem);
    return whole;
  });
  if (problems.length > 0) throw new SubstitutionError([...new Set(problems)].join('; '));
  return out;
}

function evaluate(body: string, { vars, strict }: Substitutions): string | { problem: string } {
  const match = /^([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[=-])([\s\S]*))?$/.exec(body);
  if (!match) {
    return {
      problem: `\${${body}} is not supported (Hecate substitutes \${VAR}, \${VAR:=default} and \${VAR:-default})`,
    };
  }
  const [, name = '', operator, fallback = ''] = match;
  const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
  if (operator === undefined) {
    if (value !== undefined) return value;
    return strict ? { problem: `variable ${name} is not defined and has no default` } : '';
  }
  const useDefault = operator.startsWith(':') ? value === undefined || value === '' : value === undefined;
  return useDefault ? fallback : (value ?? '');
}

function disabled(object: KubeObject): boolean {
  const { labels, annotations } = object.metadata;
  return labels?.[DISABLE_KEY] === 'disabled' || annotations?.[DISABLE_KEY] === 'disabled';
}

/** Substitutes in every object but those that opt out; errors name the object. */
export function substituteObjects(objects: readonly KubeObject[], substitutions: Substitutions): KubeObject[] {
  return objects.map((object) => {
    if (disabled(object)) return object;
    const what = `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;
    let text: string;
    try {
      text = substituteText(toYaml(object), substitutions);
    } catch (error) {
      throw new SubstitutionError(`${what}: ${(error as Error).message}`, { cause: error });
    }
    try {
      return fromYaml(text) as KubeObject;
    } catch (error) {
      // NOTE: the parser's message quotes the offending line, which may hold a Secret's value: name the line only
      const line = (error as { linePos?: { line: number }[] }).linePos?.[0]?.line;
      throw new SubstitutionError(
        `${what}: the YAML after substitution does not parse${line ? ` (line ${line})` : ''}; a value may need quoting (Flux's \${quote} idiom)`,
      );
    }
  });
}

/**
 * The variables of a Kustomization: `substituteFrom` in order (later sources override earlier ones), then the
 * inline `substitute` over them. Undefined when the Kustomization declares neither (Flux then substitutes nothing).
 * A missing source fails unless it is `optional`. NOTE: never puts a value in an error; only names and keys.
 */
export async function resolveSubstitutions(
  ks: FluxKustomizationView,
  source: FluxKustomizationPort,
  strict = false,
): Promise<Substitutions | undefined> {
  const inline = ks.postBuild?.substitute ?? {};
  const from = ks.postBuild?.substituteFrom ?? [];
  if (Object.keys(inline).length === 0 && from.length === 0) return undefined;
  const vars: Record<string, string> = {};
  for (const ref of from) {
    const data = await source.substitutionData(ks.namespace, ref);
    if (data === undefined && !ref.optional) {
      throw new SubstitutionError(
        `${ref.kind} ${ks.namespace}/${ref.name} (postBuild.substituteFrom of Kustomization ${ks.namespace}/${ks.name}) not found`,
      );
    }
    Object.assign(vars, data ?? {});
  }
  Object.assign(vars, inline);
  const invalid = Object.keys(vars).filter((key) => !VARIABLE_NAME.test(key));
  if (invalid.length > 0) {
    throw new SubstitutionError(
      `Kustomization ${ks.namespace}/${ks.name}: invalid variable name(s) ${invalid.join(', ')} (expected ${VARIABLE_NAME.source})`,
    );
  }
  return { vars, strict };
}

/** What a chain stage does with its manifests: build them (with Flux's post-build substitution) and apply them. */
export interface ChainManifests {
  build(dir: string, substitutions?: Substitutions): Promise<KubeObject[]>;
  apply(objects: readonly KubeObject[], options: { dryRun: boolean; signal?: AbortSignal }): Promise<AppliedRef[]>;
}

/** The port builds and applies; the engine substitutes ({@link substituteObjects}). */
export function chainManifests(port: ManifestPort): ChainManifests {
  return {
    build: async (dir, substitutions) => {
      const objects = await port.build(dir);
      return substitutions ? substituteObjects(objects, substitutions) : objects;
    },
    apply: (objects, options) => port.apply(objects, options),
  };
}
