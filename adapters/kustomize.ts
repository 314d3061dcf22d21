/**
 * Building a chain stage from the repo snapshot: `kustomize build` (or `kubectl kustomize`), Flux post-build
 * substitution, and the Flux Kustomizations and substitution sources declared in the snapshot.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { delimiter, join, relative } from 'node:path';
import { execa } from 'execa';
import { fromYamlAll } from '../core/api/yaml.js';
import type {
  FluxKustomizationPort,
  FluxKustomizationView,
  KubeObject,
  ManifestPort,
  SubstituteFrom,
} from '../core/ports/chain.js';
import { isFluxKustomization, toKustomizationView } from './flux-kustomization.js';

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SKIP_DIRS = new Set(['.git', 'node_modules', '.github']);
/** Larger files are not manifests a person wrote (and would slow the scan). */
const MAX_MANIFEST_BYTES = 2 * 1024 * 1024;

export interface KustomizeOptions {
  /** A `kustomize` binary; default: the first on PATH. Preferred over kubectl when present. */
  kustomize?: string | false;
  /** kubectl for `kubectl kustomize` when there is no kustomize binary; default "kubectl". */
  kubectl?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

function onPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** YAML files under `dir`, sorted, skipping .git and the like. */
export async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string) => {
    const entries = await readdir(at, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(at, entry.name);
      if (entry.isDirectory() && !SKIP_DIRS.has(entry.name)) await walk(path);
      else if (entry.isFile() && /\.ya?ml$/.test(entry.name) && statSync(path).size <= MAX_MANIFEST_BYTES)
        out.push(path);
    }
  };
  await walk(dir);
  return out;
}

function isObject(doc: unknown): doc is KubeObject {
  const o = doc as KubeObject | null;
  return typeof o?.apiVersion === 'string' && typeof o.kind === 'string' && typeof o.metadata?.name === 'string';
}

/** The build half of ManifestPort; `apply` comes from the cluster adapter (adapters/kube/apply.ts). */
export class KustomizeBuilder {
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly options: KustomizeOptions = {}) {
    this.env = options.env ?? process.env;
  }

  /** The command line used for `dir`, for messages and tests. */
  command(dir: string): [string, string[]] {
    const kustomize =
      this.options.kustomize === false ? undefined : (this.options.kustomize ?? onPath('kustomize', this.env));
    return kustomize ? [kustomize, ['build', dir]] : [this.options.kubectl ?? 'kubectl', ['kustomize', dir]];
  }

  async build(dir: string): Promise<KubeObject[]> {
    if (!existsSync(dir)) throw new Error(`${dir} does not exist (is the repo snapshot there and current?)`);
    return KUSTOMIZATION_FILES.some((f) => existsSync(join(dir, f)))
      ? await this.kustomize(dir)
      : await this.plainManifests(dir);
  }

  private async kustomize(dir: string): Promise<KubeObject[]> {
    const [file, args] = this.command(dir);
    const result = await execa(file, args, {
      env: this.env,
      timeout: this.options.timeoutMs ?? 120_000,
      reject: false,
      stripFinalNewline: false,
    });
    if (result.failed) {
      const why = String(result.stderr ?? '').trim() || result.shortMessage;
      throw new Error(`${file} ${args.join(' ')} failed: ${why}`);
    }
    return fromYamlAll(String(result.stdout)).filter(isObject);
  }

  /** A folder without a kustomization file: every manifest in it, as Flux generates a kustomization for it. */
  private async plainManifests(dir: string): Promise<KubeObject[]> {
    const out: KubeObject[] = [];
    for (const file of await yamlFiles(dir)) out.push(...fromYamlAll(await readFile(file, 'utf8')).filter(isObject));
    return out;
  }
}

/** ManifestPort from a builder and an applier. */
export function manifestPort(builder: Pick<ManifestPort, 'build'>, applier: Pick<ManifestPort, 'apply'>): ManifestPort {
  return {
    build: (dir) => builder.build(dir),
    apply: (objects, options) => applier.apply(objects, options),
  };
}

interface SnapshotIndex {
  kustomizations: FluxKustomizationView[];
  data: Map<string, Record<string, string>>;
}

function decode(value: unknown): string {
  return Buffer.from(String(value), 'base64').toString('utf8');
}

/** ConfigMap/Secret data as substitution variables; undefined for a SOPS-encrypted Secret (unreadable here). */
function dataOf(doc: KubeObject): Record<string, string> | undefined {
  if (doc.sops !== undefined) return undefined;
  const data = (doc.data ?? {}) as Record<string, unknown>;
  const strings = (doc.stringData ?? {}) as Record<string, unknown>;
  const entries = Object.entries(data).map(([k, v]) => [k, doc.kind === 'Secret' ? decode(v) : String(v)]);
  return {
    ...Object.fromEntries(entries),
    ...Object.fromEntries(Object.entries(strings).map(([k, v]) => [k, String(v)])),
  };
}

/**
 * FluxKustomizationPort over the repo snapshot, with the cluster as a second source: the Kustomization is read from
 * the snapshot first (the revision the chain applies; it works as soon as the API is back), the substitution data
 * from the cluster first (it is often generated there, and Secrets in Git are usually encrypted).
 * NOTE: values are never logged; only names.
 */
export class SnapshotKustomizations implements FluxKustomizationPort {
  private index: Promise<SnapshotIndex> | undefined;

  constructor(
    private readonly repoDir: string,
    private readonly cluster?: FluxKustomizationPort,
    private readonly defaultNamespace = 'flux-system',
  ) {}

  async kustomization(namespace: string, name: string): Promise<FluxKustomizationView | undefined> {
    const all = (await this.load()).kustomizations.filter((k) => k.name === name);
    const found = all.find((k) => k.namespace === namespace) ?? (all.length === 1 ? all[0] : undefined);
    return found ?? (await this.cluster?.kustomization(namespace, name));
  }

  async substitutionData(namespace: string, from: SubstituteFrom): Promise<Record<string, string> | undefined> {
    const live = await this.cluster?.substitutionData(namespace, from);
    if (live) return live;
    return (await this.load()).data.get(`${from.kind}/${namespace}/${from.name}`);
  }

  private load(): Promise<SnapshotIndex> {
    this.index ??= this.scan();
    return this.index;
  }

  private async scan(): Promise<SnapshotIndex> {
    const index: SnapshotIndex = { kustomizations: [], data: new Map() };
    for (const file of await yamlFiles(this.repoDir)) {
      let docs: unknown[];
      try {
        docs = fromYamlAll(await readFile(file, 'utf8'));
      } catch {
        continue; // not YAML we can read (a template): not a manifest of ours
      }
      const from = relative(this.repoDir, file);
      for (const doc of docs) {
        if (isFluxKustomization(doc)) index.kustomizations.push(toKustomizationView(doc, from, this.defaultNamespace));
        else if (isObject(doc) && (doc.kind === 'ConfigMap' || doc.kind === 'Secret') && doc.metadata.namespace) {
          const data = dataOf(doc);
          if (data) index.data.set(`${doc.kind}/${doc.metadata.namespace}/${doc.metadata.name}`, data);
        }
      }
    }
    return index;
  }
}
