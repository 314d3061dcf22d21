/**
 * What the chaos bed's stand-ins said and hold, for a cycle that did not complete: their log lines (pods started and
 * killed, volumes attached and detached, failed heartbeats and passes) and, for each volume the Longhorn stand-in
 * holds attached, the pod its cache says holds it beside that pod as the API has it now. A cache that missed a
 * deletion, or a pod the kubelet never killed, shows here.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import type { StandInLog } from './e2e.js';
import type { OperatorBed } from './operator/index.js';

/** The most lines kept: a long run's stand-ins say a few thousand per cycle. */
const KEPT = 50_000;

export class StandInLines {
  private readonly lines: { at: number; line: string }[] = [];

  readonly log: StandInLog = (standIn, message, fields) => {
    const at = Date.now();
    this.lines.push({
      at,
      line: `${new Date(at).toISOString()} ${standIn}: ${message} ${JSON.stringify(fields ?? {})}`,
    });
    if (this.lines.length > KEPT) this.lines.splice(0, this.lines.length - KEPT);
  };

  since(sinceMs: number): string[] {
    return this.lines.filter((l) => l.at >= sinceMs).map((l) => l.line);
  }
}

/** Each volume the Longhorn stand-in's cache holds attached, and its holder as the API reads it now. */
export async function volumeHolders(bed: OperatorBed): Promise<string[]> {
  const held = bed.e2e.sims.longhorn?.holders() ?? [];
  if (held.length === 0) return ['no volume held attached in the Longhorn stand-in’s cache'];
  const core = bed.e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
  const live = await core.listPodForAllNamespaces().then(
    (list) => new Map(list.items.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p])),
    (error: unknown) => error,
  );
  return held.map((h) => {
    const cached = `${h.claim} held by ${h.pod} (uid ${h.uid}) on ${h.node}${h.deleting ? ', terminating' : ''}`;
    if (!(live instanceof Map)) return `${cached}; the API: ${String(live)}`;
    const pod = live.get(h.pod);
    const now = pod
      ? `uid ${pod.metadata?.uid}, ${pod.status?.phase} on ${pod.spec?.nodeName ?? 'no node'}${pod.metadata?.deletionTimestamp ? ', terminating' : ''}`
      : 'gone';
    return `${cached}; the API: ${now}`;
  });
}
