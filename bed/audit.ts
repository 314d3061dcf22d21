/**
 * The API server's audit log (JSON lines) as events tests can filter: who did which verb to what, and with what
 * result. The policy records every mutating request at Metadata level, reads by anyone but the control plane's own
 * components at Metadata level, and nothing else.
 */
import { readFile } from 'node:fs/promises';

export const MUTATING_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'] as const;

export interface AuditEvent {
  auditID: string;
  /** ResponseStarted (long-running requests such as watches), ResponseComplete or Panic. */
  stage: string;
  verb: string;
  user: string;
  groups: string[];
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  requestURI: string;
  /** The request had `dryRun=All`: the server validated it but persisted nothing. */
  dryRun: boolean;
  userAgent?: string;
  timestamp: string;
}

/** NOTE: the control plane's own users, whose reads are not recorded (their writes are). */
const QUIET_READERS = ['system:apiserver', 'system:kube-controller-manager', 'system:kube-scheduler'];

export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [${MUTATING_VERBS.join(', ')}]
  - level: None
    users: [${QUIET_READERS.map((u) => JSON.stringify(u)).join(', ')}]
  - level: None
    userGroups: ["system:serviceaccounts:kube-system"]
  - level: None
    nonResourceURLs: ["*"]
  - level: Metadata
`;

interface RawAuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  user?: { username?: string; groups?: string[] };
  objectRef?: AuditEvent['objectRef'];
  responseStatus?: { code?: number };
  requestURI?: string;
  userAgent?: string;
  stageTimestamp?: string;
}

export function parseAuditLog(text: string): AuditEvent[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => {
      try {
        return [toEvent(JSON.parse(line) as RawAuditEvent)];
      } catch {
        return []; // a line being written right now
      }
    });
}

function toEvent(raw: RawAuditEvent): AuditEvent {
  const requestURI = raw.requestURI ?? '';
  return {
    auditID: raw.auditID,
    stage: raw.stage,
    verb: raw.verb,
    user: raw.user?.username ?? '',
    groups: raw.user?.groups ?? [],
    objectRef: raw.objectRef,
    responseStatus: raw.responseStatus,
    requestURI,
    dryRun: /[?&]dryRun=All(&|$)/.test(requestURI),
    userAgent: raw.userAgent,
    timestamp: raw.stageTimestamp ?? '',
  };
}

export async function readAuditLog(path: string): Promise<AuditEvent[]> {
  try {
    return parseAuditLog(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Reviews are sent as `create` but persist nothing: the server answers a question (who am I, may I) and forgets
 * it. An executing run asks one (a SelfSubjectReview) before it acts.
 */
const REVIEWS = ['selfsubjectreviews', 'selfsubjectaccessreviews', 'subjectaccessreviews', 'tokenreviews'];

export function isMutation(event: AuditEvent): boolean {
  if (REVIEWS.includes(event.objectRef?.resource ?? '')) return false;
  return (MUTATING_VERBS as readonly string[]).includes(event.verb);
}

export interface MutationFilter {
  user?: string;
  /** Also count dry-run requests (default false: they persist nothing). */
  includeDryRun?: boolean;
  /** Also count requests the server refused (status >= 400; default true). */
  includeFailed?: boolean;
}

/** Completed mutating requests, in log order. */
export function mutations(events: readonly AuditEvent[], filter: MutationFilter = {}): AuditEvent[] {
  const { user, includeDryRun = false, includeFailed = true } = filter;
  return events.filter(
    (e) =>
      e.stage !== 'ResponseStarted' &&
      isMutation(e) &&
      (user === undefined || e.user === user) &&
      (includeDryRun || !e.dryRun) &&
      (includeFailed || (e.responseStatus?.code ?? 0) < 400),
  );
}

export function mutationsBy(events: readonly AuditEvent[], user: string): AuditEvent[] {
  return mutations(events, { user });
}

/** Every recorded request of one user (reads too), one event per request. */
export function requestsBy(events: readonly AuditEvent[], user: string): AuditEvent[] {
  const byId = new Map<string, AuditEvent>();
  for (const event of events) if (event.user === user) byId.set(event.auditID, event);
  return [...byId.values()];
}

/** `verb resource[/subresource] namespace/name code`, for readable assertions and failure messages. */
export function describeEvent(event: AuditEvent): string {
  const ref = event.objectRef ?? {};
  const resource = ref.subresource ? `${ref.resource}/${ref.subresource}` : (ref.resource ?? '?');
  const name = [ref.namespace, ref.name].filter(Boolean).join('/');
  return `${event.verb} ${resource} ${name} ${event.responseStatus?.code ?? '-'}`.replace(/\s+/g, ' ').trim();
}
