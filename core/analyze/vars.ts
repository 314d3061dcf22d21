import type { RepoDocument } from '../ports/index.js';
import { asString, dig, isRecord, type Location } from './input.js';
import { type FluxKustomization, ksKey, type ObjectId } from './model.js';

/** A `${VAR}` whose value the repo does not tell, and why. */
export interface UnknownVariable {
  name: string;
  reason: string;
}

/** A string after Flux's postBuild substitution, as far as the repo allows. */
export interface Resolved {
  /** The text with every known variable substituted; unknown ones stay as `${NAME}`. */
  value: string;
  /** Variables that were substituted, with where their value came from. */
  via: string[];
  unknown: UnknownVariable[];
}

type VarValue = { value: string; from: string } | { unknown: string };

interface VarScope {
  vars: Map<string, VarValue>;
  /** Why a variable absent from `vars` may still be defined (a referenced Secret not in the repo...). */
  gaps: string[];
}

/**
 * Resolves `${VAR}` for the objects each Flux Kustomization applies, from postBuild and the ConfigMaps and Secrets
 * the cluster applies (`configs`: each with the namespace it gets when applied).
 */
export class Variables {
  private readonly scopes = new Map<string, VarScope>();
  private readonly configs = new Map<string, { value: unknown } & Location>();
  private readonly byKey: Map<string, FluxKustomization>;

  constructor(kustomizations: readonly FluxKustomization[], configs: Iterable<{ id: ObjectId; doc: RepoDocument }>) {
    this.byKey = new Map(kustomizations.map((k) => [ksKey(k), k]));
    for (const { id, doc } of configs) {
      const key = `${id.kind}/${id.namespace}/${id.name}`;
      if ((id.kind === 'ConfigMap' || id.kind === 'Secret') && !this.configs.has(key)) this.configs.set(key, doc);
    }
  }

  /** Substitutes `${VAR}`, `${VAR:=default}` and `${VAR:-default}` as the owner Kustomization's postBuild would. */
  resolve(text: string, owner: string | undefined): Resolved {
    if (!text.includes('${')) return { value: text, via: [], unknown: [] };
    const scope = owner ? this.scopeOf(owner) : { vars: new Map(), gaps: [] };
    const via: string[] = [];
    const unknown: UnknownVariable[] = [];
    const value = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[=-]([^}]*))?\}/g, (match, name: string, fallback) => {
      const found = scope.vars.get(name);
      if (found && 'value' in found) {
        via.push(`\${${name}} = "${found.value}" from ${found.from}`);
        return found.value;
      }
      if (found) unknown.push({ name, reason: found.unknown });
      else if (fallback !== undefined && scope.gaps.length === 0) {
        via.push(`\${${name}} not defined: default "${fallback}"`);
        return String(fallback);
      } else unknown.push({ name, reason: undefinedReason(owner, scope.gaps) });
      return match;
    });
    return { value, via, unknown };
  }

  private scopeOf(owner: string): VarScope {
    const cached = this.scopes.get(owner);
    if (cached) return cached;
    const ks = this.byKey.get(owner);
    const scope: VarScope = { vars: new Map(), gaps: [] };
    if (ks) this.fill(scope, ks);
    this.scopes.set(owner, scope);
    return scope;
  }

  /** NOTE: Flux applies substituteFrom in order (later wins), then postBuild.substitute over all of them. */
  private fill(scope: VarScope, ks: FluxKustomization): void {
    for (const ref of ks.substituteFrom) {
      const label = `${ref.kind} ${ks.namespace}/${ref.name}`;
      const doc = this.configs.get(`${ref.kind}/${ks.namespace}/${ref.name}`);
      if (!doc) {
        if (!ref.optional)
          scope.gaps.push(`${label} (postBuild.substituteFrom of Kustomization ${ks.name}) is not in the repo`);
        continue;
      }
      const where = `${label} (${doc.file}:${doc.line})`;
      for (const [name, value] of dataOf(doc.value, ref.kind)) {
        scope.vars.set(
          name,
          value === undefined ? { unknown: `its value is encrypted in ${where} (SOPS)` } : { value, from: where },
        );
      }
    }
    for (const [name, value] of Object.entries(ks.substitute)) {
      scope.vars.set(name, { value, from: `postBuild.substitute of Kustomization ${ks.namespace}/${ks.name}` });
    }
  }
}

function undefinedReason(owner: string | undefined, gaps: string[]): string {
  if (!owner) return 'no Flux Kustomization applies this object, so nothing substitutes it';
  if (gaps.length > 0) return `not defined in the repo; it may come from ${gaps.join('; ')}`;
  return `not defined by Kustomization ${owner} (postBuild) nor its ConfigMaps`;
}

const SOPS_VALUE = /^ENC\[/;

/** Key → value of a ConfigMap or Secret; undefined values are encrypted (SOPS) or undecodable. */
function dataOf(value: unknown, kind: string): [string, string | undefined][] {
  const encrypted = isRecord(dig(value, 'sops'));
  const out: [string, string | undefined][] = [];
  for (const field of ['data', 'stringData']) {
    const data = dig(value, field);
    if (!isRecord(data)) continue;
    for (const [key, raw] of Object.entries(data)) {
      const text = asString(raw) ?? (raw === null || raw === undefined ? undefined : String(raw));
      if (text === undefined || encrypted || SOPS_VALUE.test(text)) out.push([key, undefined]);
      else if (kind === 'Secret' && field === 'data') out.push([key, decodeBase64(text)]);
      else out.push([key, text]);
    }
  }
  return out;
}

function decodeBase64(text: string): string | undefined {
  try {
    return atob(text.replace(/\s/g, ''));
  } catch {
    return undefined;
  }
}
