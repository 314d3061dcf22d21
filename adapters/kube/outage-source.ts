/**
 * The outage records the cluster keeps (core/ports/index.ts `OutageSourcePort`): a shutdown run by the operator keeps its
 * record in its PowerEvent's `status.outage`; one deleted mid-run leaves it in a stop record ConfigMap
 * (adapters/kube/stop-records.ts). Startup adopts the newest one still open, unless a later startup closed it.
 *
 * - Candidates: shutdown PowerEvents of the plan (every namespace) whose `status.outage` is open (inOutage, no
 *   endedAt), and stop records of the plan's shutdowns in the operator's namespace. Newest by the outage's
 *   `startedAt`, else the object's creationTimestamp; a PowerEvent wins a tie with a stop record (the live object).
 * - Closed by a later startup: a startup PowerEvent of the plan that Succeeded after the candidate began (its
 *   `finishedAt`, else its creationTimestamp), or whose own outage record was closed after it began. The CLI hands
 *   every cold boot back as such an event (cli/run/handoff.ts), so a second startup finds nothing open.
 * - A record that does not parse is skipped with a warning naming the object: a bad old record never blocks a
 *   startup. A 404 (no CRD, no namespace) means no records; a 403 is warned about and read as none.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import {
  GROUP,
  type OutageRecord,
  outageRecord,
  STOP_RECORD_LABEL,
  STOP_RECORD_VALUE,
  toIssues,
  VERSION,
} from '../../core/api/index.js';
import type { Logger, OutageSourcePort } from '../../core/ports/index.js';
import { isNotFound, statusOf } from './errors.js';

export const DEFAULT_RECORD_NAMESPACE = 'hecate-system';

export interface OpenOutage {
  /** Where it was found, for people: `PowerEvent ns/name`, `stop record ConfigMap ns/name (of PowerEvent ns/name)`. */
  source: string;
  outage: OutageRecord;
}

interface Candidate extends OpenOutage {
  /** Epoch ms the outage began (else the object was created). */
  at: number;
  /** PowerEvents first on a tie. */
  rank: number;
}

/** The fields read from a PowerEvent; everything else may be anything (another version's fields, say). */
const eventShape = z.object({
  metadata: z.object({
    namespace: z.string().optional(),
    name: z.string().optional(),
    creationTimestamp: z.string().optional(),
  }),
  spec: z.object({ action: z.string(), planRef: z.object({ name: z.string() }) }),
  status: z
    .object({ phase: z.string().optional(), finishedAt: z.string().optional(), outage: z.unknown().optional() })
    .optional(),
});

const configMapShape = z.object({
  metadata: z.object({
    namespace: z.string().optional(),
    name: z.string().optional(),
    creationTimestamp: z.union([z.string(), z.date()]).optional(),
  }),
  data: z.record(z.string(), z.string()).optional(),
});

const stopRecordShape = z.object({
  powerEvent: z.object({ namespace: z.string(), name: z.string() }).partial().optional(),
  action: z.string(),
  planName: z.string(),
  outage: z.unknown().optional(),
});

const epoch = (text: string | Date | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const ms = text instanceof Date ? text.getTime() : Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
};

const isOpen = (outage: OutageRecord) => outage.inOutage && !outage.endedAt;

function issuesOf(error: z.core.$ZodError): string {
  return toIssues(error)
    .map((i) => `${i.path || '(root)'}: ${i.message}`)
    .join('; ');
}

/** `field` of `what` parsed as an outage record; undefined (with a warning) when it is not one. */
function parseOutage(raw: unknown, what: string, field: string, warn: (m: string) => void): OutageRecord | undefined {
  if (raw === undefined) return undefined;
  const parsed = outageRecord.safeParse(raw);
  if (parsed.success) return parsed.data;
  warn(`${what}: ${field} is not an outage record (${issuesOf(parsed.error)}): not adopted`);
  return undefined;
}

interface Closer {
  /** Epoch ms after which an outage that began earlier is closed by this startup. */
  closedAt: number;
}

function fromEvents(planName: string, events: readonly unknown[], warn: (m: string) => void) {
  const candidates: Candidate[] = [];
  const closers: Closer[] = [];
  for (const raw of events) {
    const parsed = eventShape.safeParse(raw);
    if (!parsed.success || parsed.data.spec.planRef.name !== planName) continue;
    const { metadata, spec, status } = parsed.data;
    const what = `PowerEvent ${metadata.namespace ?? ''}/${metadata.name ?? ''}`;
    const created = epoch(metadata.creationTimestamp);
    if (spec.action === 'startup') {
      const done = status?.phase === 'Succeeded' ? (epoch(status.finishedAt) ?? created) : undefined;
      if (done !== undefined) closers.push({ closedAt: done });
      // NOTE: a startup's own record is never adopted, so a bad one is not worth a warning
      const outage = parseOutage(status?.outage, what, 'status.outage', () => undefined);
      const ended = outage && !outage.inOutage ? epoch(outage.endedAt) : undefined;
      if (ended !== undefined) closers.push({ closedAt: ended });
      continue;
    }
    if (spec.action !== 'shutdown') continue;
    const outage = parseOutage(status?.outage, what, 'status.outage', warn);
    const at = epoch(outage?.startedAt) ?? created;
    if (outage && isOpen(outage) && at !== undefined) candidates.push({ source: what, outage, at, rank: 0 });
  }
  return { candidates, closers };
}

function fromStopRecords(planName: string, configMaps: readonly unknown[], warn: (m: string) => void): Candidate[] {
  const candidates: Candidate[] = [];
  for (const raw of configMaps) {
    const cm = configMapShape.safeParse(raw);
    if (!cm.success) continue;
    const { metadata, data } = cm.data;
    if (data?.plan !== undefined && data.plan !== planName) continue;
    const what = `stop record ConfigMap ${metadata.namespace ?? ''}/${metadata.name ?? ''}`;
    const text = data?.['record.json'];
    if (text === undefined) {
      warn(`${what}: no record.json: not adopted`);
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      warn(`${what}: record.json is not JSON (${(error as Error).message}): not adopted`);
      continue;
    }
    const record = stopRecordShape.safeParse(json);
    if (!record.success) {
      warn(`${what}: record.json is not a stop record (${issuesOf(record.error)}): not adopted`);
      continue;
    }
    if (record.data.planName !== planName || record.data.action !== 'shutdown') continue;
    const outage = parseOutage(record.data.outage, what, 'record.json outage', warn);
    const at = epoch(outage?.startedAt) ?? epoch(metadata.creationTimestamp);
    if (!outage || !isOpen(outage) || at === undefined) continue;
    const event = record.data.powerEvent;
    const of = event?.name ? ` (of PowerEvent ${event.namespace ?? ''}/${event.name}, deleted)` : '';
    candidates.push({ source: `${what}${of}`, outage, at, rank: 1 });
  }
  return candidates;
}

/**
 * The newest open outage of `planName` among PowerEvents and stop record ConfigMaps (as the API returns them), unless
 * a later startup closed it. Pure.
 */
export function selectOpenOutage(
  planName: string,
  sources: { events: readonly unknown[]; stopRecords: readonly unknown[] },
  warn: (message: string) => void,
): OpenOutage | undefined {
  const { candidates, closers } = fromEvents(planName, sources.events, warn);
  candidates.push(...fromStopRecords(planName, sources.stopRecords, warn));
  const newest = candidates.sort((a, b) => b.at - a.at || a.rank - b.rank)[0];
  if (!newest || closers.some((c) => c.closedAt > newest.at)) return undefined;
  return { source: newest.source, outage: newest.outage };
}

/** A stop record as `hecate status` lists it: which deleted PowerEvent stopped where, and why. */
export interface StopRecordSummary {
  /** `namespace/name` of the ConfigMap. */
  configMap: string;
  /** `namespace/name` of the deleted PowerEvent. */
  powerEvent?: string;
  action?: string;
  plan?: string;
  /** The first step not started: a rerun would resume there. */
  stoppedBeforeStep?: string;
  stoppedAt?: string;
  reason?: string;
  /** The outage record it keeps is still open: a startup adopts it when it is the newest. */
  outageOpen: boolean;
}

/** The stop records of `planName` (all when undefined), newest stop first; never throws for a bad one. Pure. */
export function summarizeStopRecords(configMaps: readonly unknown[], planName?: string): StopRecordSummary[] {
  const out: StopRecordSummary[] = [];
  for (const raw of configMaps) {
    const cm = configMapShape.safeParse(raw);
    if (!cm.success) continue;
    const { metadata, data = {} } = cm.data;
    if (planName !== undefined && data.plan !== undefined && data.plan !== planName) continue;
    let outage: unknown;
    try {
      outage = (JSON.parse(data['record.json'] ?? '{}') as { outage?: unknown }).outage;
    } catch {
      outage = undefined;
    }
    const parsed = outageRecord.safeParse(outage);
    const fields = ['powerEvent', 'action', 'plan', 'stoppedBeforeStep', 'stoppedAt', 'reason'] as const;
    out.push({
      configMap: `${metadata.namespace ?? ''}/${metadata.name ?? ''}`,
      ...Object.fromEntries(fields.flatMap((f) => (data[f] ? [[f, data[f]]] : []))),
      outageOpen: outage !== undefined && parsed.success && isOpen(parsed.data),
    });
  }
  return out.sort((a, b) => (b.stoppedAt ?? '').localeCompare(a.stoppedAt ?? ''));
}

/** Lists PowerEvents (every namespace) and the stop records of `namespace` with client-node. */
export class KubeOutageSource implements OutageSourcePort {
  constructor(
    private readonly kc: KubeConfig,
    private readonly logger: Logger,
    private readonly namespace = DEFAULT_RECORD_NAMESPACE,
  ) {}

  async latestOpenOutage(planName: string): Promise<OpenOutage | undefined> {
    const warn = (message: string) => this.logger.warn(message, { plan: planName });
    const [events, stopRecords] = await Promise.all([
      this.list('PowerEvents power.hecate.dev/v1alpha1 in every namespace', warn, async () => {
        const api = this.kc.makeApiClient(CustomObjectsApi);
        const list = await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'powerevents' });
        return (list as { items?: unknown[] }).items ?? [];
      }),
      this.list(`stop record ConfigMaps in ${this.namespace}`, warn, () => this.listStopRecords()),
    ]);
    return selectOpenOutage(planName, { events, stopRecords }, warn);
  }

  /** The stop records of `planName` for `hecate status`; none when the namespace does not exist. */
  async stopRecords(planName?: string): Promise<StopRecordSummary[]> {
    try {
      return summarizeStopRecords(await this.listStopRecords(), planName);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }

  private async listStopRecords(): Promise<unknown[]> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const labelSelector = `${STOP_RECORD_LABEL}=${STOP_RECORD_VALUE}`;
    return (await core.listNamespacedConfigMap({ namespace: this.namespace, labelSelector })).items;
  }

  /** 404 → none (no CRD, no namespace); 403 → none, with a warning; anything else fails the step, naming what. */
  private async list(what: string, warn: (m: string) => void, read: () => Promise<unknown[]>): Promise<unknown[]> {
    try {
      return await read();
    } catch (error) {
      if (isNotFound(error)) return [];
      const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
      if (statusOf(error) === 403) {
        warn(`Listing ${what} is forbidden (${message}): an outage recorded there is not adopted`);
        return [];
      }
      throw new Error(`could not list ${what} to find the cluster's outage record: ${message}`, { cause: error });
    }
  }
}
