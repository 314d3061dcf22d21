/**
 * The status model printed by `hecate status` (text, `-o json`, `-o yaml`) and drawn by `hecate console`.
 *
 * NOTE: no second model of a run: the outage section holds the state file's own `outageRecord` and `progress`, and
 * the PowerEvent section the operator's own `phase`, `stage` and `conditions` (core/api). What is added here is what
 * only an observer knows: what the cluster looks like now, and what could not be seen.
 */
import { z } from 'zod';
import {
  action,
  condition,
  nodeRole,
  outageRecord,
  phase,
  planMode,
  progress,
  stepRecord,
  timestamp,
  upsSpec,
} from '../../core/api/index.js';

export const STATUS_API_VERSION = 'hecate.dev/v1alpha1';
export const STATUS_KIND = 'Status';

export const health = z.enum(['healthy', 'degraded', 'unreachable']);
export type Health = z.infer<typeof health>;

const controlPlane = z.object({
  api: z.enum(['reachable', 'unreachable', 'unknown']).describe('unknown: not consulted (--offline or no kubeconfig)'),
  server: z.string().optional(),
  message: z.string().optional().describe('Why the API could not be reached'),
});

const nodeStatus = z.object({
  name: z.string(),
  role: nodeRole.optional().describe('From the PowerPlan'),
  arch: z.string().optional().describe('The kubernetes.io/arch label, else the PowerPlan'),
  inPlan: z.boolean(),
  seen: z.boolean().describe('Reported by the API now'),
  ready: z.boolean().optional(),
  cordoned: z.boolean().optional(),
  cordonedBy: z.string().optional().describe('The power.hecate.dev/cordoned-by annotation'),
  cordonedByHecate: z.boolean().describe('Listed in the outage record'),
  poweredOffByHecate: z.boolean().describe('Listed in the outage record'),
});
export type NodeStatus = z.infer<typeof nodeStatus>;

const fluxObjectStatus = z.object({
  ref: z.string().describe('Kind/namespace/name'),
  suspended: z.boolean(),
  byHecate: z.boolean().describe('Hecate suspended it (outage record); startup resumes only these'),
  ready: z.boolean().optional(),
});

const fluxStatus = z.object({
  seen: z.boolean(),
  source: z.object({
    kind: z.string(),
    namespace: z.string(),
    name: z.string(),
    ready: z.boolean().optional(),
    revision: z.string().optional(),
    message: z.string().optional(),
  }),
  objects: z.number().int().min(0).optional().describe('Kustomizations and HelmReleases seen'),
  notReady: z.array(z.string()).default([]).describe('Kind/namespace/name of objects not Ready and not suspended'),
  suspended: z.array(fluxObjectStatus).default([]),
  recordedSuspendedByHecate: z.array(z.string()).default([]).describe('From the outage record'),
});

const objectReadiness = z.object({
  ref: z.string().describe('Kind namespace/name'),
  ready: z.boolean().optional(),
  message: z.string(),
});

const chainStageStatus = z.object({
  name: z.string(),
  path: z.string(),
  ready: z.boolean().optional().describe('Every waitFor object Ready; unset when not seen'),
  waitFor: z.array(objectReadiness).default([]),
});
export type ChainStageStatus = z.infer<typeof chainStageStatus>;

const harborStatus = z.object({
  node: z.string(),
  namespace: z.string(),
  helmRelease: z.string(),
  seen: z.boolean(),
  nodeReady: z.boolean().optional(),
  helmReleaseReady: z.boolean().optional(),
  pods: z.object({ ready: z.number().int(), total: z.number().int() }).optional(),
  images: z
    .object({
      expected: z.array(z.string()).describe("Images of the Harbor namespace's pods and workloads"),
      missing: z.array(z.string()).describe("Not in the node's status.images"),
    })
    .optional(),
});

const upsStatus = z.object({
  source: upsSpec.shape.source,
  reading: z
    .object({
      source: z.string(),
      charge: z.number().optional(),
      runtimeSeconds: z.number().optional(),
      status: z.array(z.string()),
      error: z
        .object({ fault: z.enum(['unreachable', 'stale', 'protocol', 'refused']), message: z.string() })
        .optional(),
      readAt: timestamp,
    })
    .optional(),
  ageSeconds: z.number().min(0).optional(),
  verdict: z
    .object({
      startupAllowed: z.boolean(),
      onBattery: z.boolean(),
      low: z.boolean(),
      emergency: z.boolean(),
      reasons: z.array(
        z.object({
          code: z.string(),
          message: z.string(),
          reading: z.string().optional(),
          threshold: z.string().optional(),
          override: z.string().optional(),
        }),
      ),
    })
    .optional(),
  summary: z.string().describe('The reading, its age and the verdict on one line'),
});
export type UpsStatus = z.infer<typeof upsStatus>;

const stepRef = z.object({ id: z.string(), stage: z.string(), title: z.string() });

const outageStatus = z.object({
  stateFile: z.string(),
  present: z.boolean(),
  inOutage: z.boolean(),
  record: outageRecord.optional(),
  run: z
    .object({
      action,
      mode: planMode.or(z.string()),
      finished: z.boolean(),
      stage: z.string().optional().describe('Stage of the running, failed or last done step'),
      condition: z.string().optional().describe('The PowerEvent condition that stage owns'),
      lastDone: stepRecord.optional(),
      running: stepRecord.optional(),
      failed: stepRecord.optional(),
      next: stepRef.optional().describe('The first step a rerun would run'),
      progress,
    })
    .optional(),
});

const powerEventRef = z.object({
  namespace: z.string(),
  name: z.string(),
  action,
  execute: z.boolean(),
  active: z.boolean(),
  phase: phase.optional(),
  stage: z.string().optional(),
  conditions: z.array(condition).default([]),
  startedAt: timestamp.optional(),
  finishedAt: timestamp.optional(),
});
export type PowerEventRef = z.infer<typeof powerEventRef>;

/** A deleted PowerEvent that stopped mid-run, kept as a stop record ConfigMap (adapters/kube/stop-records.ts). */
const stopRecordStatus = z.object({
  configMap: z.string().describe('namespace/name of the ConfigMap that keeps the record'),
  powerEvent: z.string().optional().describe('namespace/name of the deleted PowerEvent'),
  action: z.string().optional(),
  plan: z.string().optional(),
  stoppedBeforeStep: z.string().optional().describe('The first step not started'),
  stoppedAt: timestamp.optional(),
  reason: z.string().optional(),
  outageOpen: z.boolean().describe('The outage record it keeps is still open: startup adopts it when it is the newest'),
});
export type StopRecordStatus = z.infer<typeof stopRecordStatus>;

export const statusReport = z.object({
  apiVersion: z.literal(STATUS_API_VERSION),
  kind: z.literal(STATUS_KIND),
  observedAt: timestamp,
  health: health.describe('healthy (exit 0), degraded (exit 1), unreachable (exit 4)'),
  problems: z.array(z.string()).default([]).describe('Why it is not healthy'),
  unseen: z.array(z.string()).default([]).describe('What could not be seen, and why'),
  plan: z.object({ name: z.string(), source: z.string() }),
  controlPlane,
  nodes: z.array(nodeStatus),
  flux: fluxStatus,
  chain: z.array(chainStageStatus),
  harbor: harborStatus.optional(),
  ups: upsStatus,
  outage: outageStatus,
  snapshot: z.object({ path: z.string(), present: z.boolean().optional(), revision: z.string().optional() }),
  powerEvent: z.object({
    seen: z.boolean(),
    current: powerEventRef.optional().describe('The active PowerEvent, else the latest one'),
    message: z.string().optional(),
    stopRecords: z
      .array(stopRecordStatus)
      .optional()
      .describe("Stop records of this plan's deleted PowerEvents (newest first): where each stopped and why"),
  }),
});
export type StatusReport = z.infer<typeof statusReport>;

/** The JSON Schema of `hecate status -o json` (draft 2020-12), checked in as cli/status/status.schema.json. */
export function statusJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://hecate.dev/schemas/status.schema.json',
    title: 'hecate status -o json',
    ...z.toJSONSchema(statusReport, { io: 'output', target: 'draft-2020-12' }),
  };
}
