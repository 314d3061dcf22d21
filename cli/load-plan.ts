import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { type PowerPlanSpec, parseOrThrow, powerPlan } from '../core/api/index.js';
import { fromYamlAll } from '../core/api/yaml.js';
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

/** A PowerPlan file larger than this is refused before it is parsed. */
export const MAX_PLAN_BYTES = 1024 * 1024;

/** Up to `limit` bytes from the start of the file, and the file's size. */
async function readHead(path: string, limit: number): Promise<{ bytes: Buffer; size: number }> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const bytes = Buffer.alloc(Math.min(size, limit));
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, 0);
    return { bytes: bytes.subarray(0, bytesRead), size };
  } finally {
    await handle.close();
  }
}

/**
 * The offset of the first byte that no text file holds (a NUL, or a byte that is not valid UTF-8), or undefined.
 * `cut` says the bytes stop before the file does, so a character cut off at the end is not an error.
 */
export function binaryOffset(bytes: Uint8Array, cut = false): number | undefined {
  const nul = bytes.indexOf(0);
  const end = nul >= 0 ? nul : bytes.length;
  // NOTE: in stream mode a prefix fails only on a byte that no continuation can fix, and a failing prefix keeps
  // failing as it grows, so the first such byte is found by halving.
  if (!decodes(bytes, end, true)) {
    let low = 0;
    let high = end;
    while (high - low > 1) {
      const mid = (low + high) >> 1;
      if (decodes(bytes, mid, true)) low = mid;
      else high = mid;
    }
    return charStart(bytes, high - 1);
  }
  if (nul >= 0) return charStart(bytes, nul);
  const start = cut ? end : charStart(bytes, end);
  return start === end ? undefined : start;
}

/** Where the character that `offset` cuts starts (the bad sequence a bad byte ends), or `offset` when none is cut. */
function charStart(bytes: Uint8Array, offset: number): number {
  if (decodes(bytes, offset, false)) return offset;
  let lead = offset - 1;
  while (lead > 0 && offset - lead < 4 && ((bytes[lead] ?? 0) & 0xc0) === 0x80) lead--;
  return lead;
}

function decodes(bytes: Uint8Array, end: number, stream: boolean): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end), { stream });
    return true;
  } catch {
    return false;
  }
}

/**
 * The text of a PowerPlan file, refused before it is parsed when it is over {@link MAX_PLAN_BYTES} or is not text
 * (a NUL byte, or bytes that are not UTF-8); the message names the file and never echoes its bytes.
 */
async function readPlanText(path: string): Promise<string> {
  const { bytes, size } = await readHead(path, MAX_PLAN_BYTES + 1).catch((cause: NodeJS.ErrnoException) => {
    throw new ExitError(ExitCode.Usage, `cannot read --plan ${path}: ${cause.code ?? cause.message}`, { cause });
  });
  const length = Math.max(size, bytes.length);
  if (length > MAX_PLAN_BYTES) {
    throw new ExitError(
      ExitCode.Usage,
      `${path} is too large for a PowerPlan file: ${length} bytes, over the limit of ${MAX_PLAN_BYTES} bytes (1 MiB)`,
    );
  }
  const offset = binaryOffset(bytes);
  if (offset !== undefined) {
    throw new ExitError(ExitCode.Usage, `${path} is not a text file (binary data at byte offset ${offset})`);
  }
  return new TextDecoder('utf-8').decode(bytes);
}

/** Reads the one PowerPlan in a YAML file; other documents are ignored. */
export async function loadPlanFile(path: string): Promise<LoadedPlan> {
  const text = await readPlanText(path);
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

/**
 * Whether a YAML file of the snapshot declares `kind: PowerPlan`. Reads at most {@link MAX_PLAN_BYTES} + 1 bytes:
 * a binary file is skipped; a larger one counts when its head declares a PowerPlan, and {@link loadPlanFile} then
 * refuses it by its size. An unreadable file is skipped.
 */
async function declaresPlan(path: string): Promise<boolean> {
  const head = await readHead(path, MAX_PLAN_BYTES + 1).catch(() => undefined);
  if (!head || binaryOffset(head.bytes, head.size > head.bytes.length) !== undefined) return false;
  return /^kind:\s*PowerPlan\s*$/m.test(new TextDecoder('utf-8').decode(head.bytes));
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
      if (await declaresPlan(path)) found.push(path);
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
  // NOTE: loaded here, not at the top: --help and an offline dry-run never load the Kubernetes client
  const { listPowerPlans } = await import('../adapters/kube/powerplans.js');
  const items = await listPowerPlans(kc);
  if (items.length > 1) throw new ExitError(ExitCode.Usage, 'the cluster holds several PowerPlans: pass --plan FILE');
  return items[0] ? toLoaded(items[0], 'cluster') : undefined;
}
