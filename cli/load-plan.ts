import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, type PowerPlanSpec, parseOrThrow, powerPlan, VERSION } from '../core/api/index.js';
import { fromYamlAll } from '../core/yaml.js';
import { ExitCode, ExitError } from './exit.js';

export interface LoadedPlan {
  name: string;
  spec: PowerPlanSpec;
  /** Where it came from, for messages: a file path or "cluster". */
  source: string;
}

function isPowerPlan(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'PowerPlan';
}

function toLoaded(doc: unknown, source: string): LoadedPlan {
  const plan = parseOrThrow(powerPlan, doc, source);
  return { name: plan.metadata.name ?? 'unnamed', spec: plan.spec, source };
}

/** Reads the one PowerPlan in a YAML file; other documents are ignored. */
export async function loadPlanFile(path: string): Promise<LoadedPlan> {
  const text = await readFile(path, 'utf8').catch((cause: NodeJS.ErrnoException) => {
    throw new ExitError(ExitCode.Usage, `cannot read --plan ${path}: ${cause.code ?? cause.message}`, { cause });
  });
  let docs: unknown[];
  try {
    docs = fromYamlAll(text);
  } catch (cause) {
    throw new ExitError(ExitCode.Usage, `${path} is not valid YAML: ${(cause as Error).message}`, { cause });
  }
  const plans = docs.filter(isPowerPlan);
  if (plans.length !== 1) {
    throw new ExitError(ExitCode.Usage, `${path} holds ${plans.length} PowerPlan documents; expected exactly one`);
  }
  return toLoaded(plans[0], path);
}

/** YAML files under `dir` whose text declares `kind: PowerPlan` (skips .git and node_modules). */
async function findPlanFiles(dir: string, depth = 6): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && depth > 0 && !['.git', 'node_modules'].includes(entry.name)) {
      found.push(...(await findPlanFiles(path, depth - 1)));
    } else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) {
      if (/^kind:\s*PowerPlan\s*$/m.test(await readFile(path, 'utf8'))) found.push(path);
    }
  }
  return found.sort();
}

/** The PowerPlan in the repo snapshot, when there is exactly one. */
export async function findPlanInSnapshot(snapshot: string): Promise<LoadedPlan | undefined> {
  const files = await findPlanFiles(snapshot);
  if (files.length === 0) return undefined;
  if (files.length > 1) {
    throw new ExitError(ExitCode.Usage, `${snapshot} holds several PowerPlans (${files.join(', ')}): pass --plan FILE`);
  }
  return loadPlanFile(files[0] as string);
}

/** The PowerPlan in the cluster, when there is exactly one. */
export async function findPlanInCluster(kc: KubeConfig): Promise<LoadedPlan | undefined> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const list = (await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'powerplans' })) as {
    items?: unknown[];
  };
  const items = list.items ?? [];
  if (items.length > 1) throw new ExitError(ExitCode.Usage, 'the cluster holds several PowerPlans: pass --plan FILE');
  return items[0] ? toLoaded(items[0], 'cluster') : undefined;
}
