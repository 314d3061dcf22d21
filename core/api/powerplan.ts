import { z } from 'zod';
import { condition } from './conditions.js';
import { DEFAULT_REPO_SNAPSHOT } from './defaults.js';
import { API_VERSION, dnsLabel, dnsSubdomain, duration, objectMeta, objectRef, timestamp } from './meta.js';

/** The Flux installation Hecate suspends and resumes, and the source whose absence causes deadlock 1. */
export const fluxSpec = z.strictObject({
  namespace: dnsLabel.default('flux-system').describe('Namespace of the Flux controllers and the root objects'),
  rootKustomization: dnsSubdomain.default('flux-system').describe('The Kustomization that applies all others'),
  source: z
    .strictObject({
      kind: z.enum(['GitRepository', 'OCIRepository', 'Bucket']).default('GitRepository'),
      name: dnsSubdomain.default('flux-system'),
      url: z.string().min(1).optional().describe('Clone URL of the source (ssh://, git@host:path or https://)'),
      branch: z.string().min(1).optional(),
    })
    .prefault({})
    .describe('The Flux source that a cold boot cannot fetch until the in-cluster Git server runs'),
  convergeTimeout: duration.default('15m').describe('How long startup waits for Flux to report Ready everywhere'),
});

/** One stage of the local bootstrap chain, applied from the repo snapshot when the Flux source is not Ready. */
export const chainStage = z.strictObject({
  name: dnsLabel.describe('Stage name, unique in the chain'),
  path: z
    .string()
    .min(1)
    .regex(/^[^/]/, { message: 'expected a path relative to the repo snapshot' })
    .describe('Kustomize path inside the repo snapshot'),
  kustomization: z
    .strictObject({ name: dnsSubdomain, namespace: dnsLabel.optional() })
    .optional()
    .describe('The Flux Kustomization that owns this path (its postBuild substitutions and health checks apply)'),
  waitFor: z
    .array(objectRef)
    .default([])
    .describe('Objects that must be Ready before the next stage starts (Deployments, StatefulSets, HelmReleases...)'),
  timeout: duration.default('10m'),
});
export type ChainStage = z.infer<typeof chainStage>;

/** Harbor serves its own images (deadlock 2): its images are seeded from a bundle on the control host. */
export const harborSpec = z.strictObject({
  node: dnsSubdomain.describe('The node whose containerd receives the bundle'),
  namespace: dnsLabel.default('harbor'),
  helmRelease: dnsSubdomain.default('harbor').describe('The HelmRelease reconciled after seeding'),
  version: z.string().regex(/^v?[0-9]+\.[0-9]+\.[0-9]+.*$/, { message: 'expected a version such as "v2.14.1"' }),
  arch: z.enum(['amd64', 'arm64']).default('arm64'),
  bundlePath: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Bundle on the control host; default ~/.local/share/hecate/bundles/harbor-bootstrap-<version>-<arch>.tar.zst',
    ),
});

export const nodeRole = z.enum(['control-plane', 'worker']);
export type NodeRole = z.infer<typeof nodeRole>;

/** A node Hecate powers off and on. Workers go first, then the control plane; lower `order` first within a role. */
export const planNode = z.strictObject({
  name: dnsSubdomain,
  role: nodeRole,
  arch: z.enum(['amd64', 'arm64']).optional(),
  address: z.string().min(1).optional().describe('Host or IP for SSH power-off; defaults to the node name'),
  order: z.number().int().min(0).max(1000).default(100),
});
export type PlanNode = z.infer<typeof planNode>;

/**
 * How drains escalate. Eviction respects PodDisruptionBudgets; `force` also deletes pods with no controller (it
 * does NOT bypass a PDB); `disable-eviction` deletes pods directly and is the only level that bypasses a PDB.
 */
export const drainSpec = z.strictObject({
  timeout: duration.default('5m').describe('Time at each escalation level before moving to the next'),
  escalation: z
    .array(z.enum(['evict', 'force', 'disable-eviction']))
    .min(1)
    .default(['evict', 'force', 'disable-eviction'])
    .describe('Levels tried in order; drop "disable-eviction" to never bypass a PodDisruptionBudget'),
  gracePeriodSeconds: z.number().int().min(-1).max(3600).default(-1).describe("-1 uses each pod's own grace period"),
  deleteEmptyDirData: z.boolean().default(true).describe('Drain pods with emptyDir volumes (their data is lost)'),
  ignoreDaemonSets: z.boolean().default(true),
  parallelism: z.number().int().min(1).max(64).default(4).describe('Workers drained at the same time'),
  evictionRetryInterval: duration.default('5s').describe('Retry interval after a 429 from a PodDisruptionBudget'),
});
export type DrainSpec = z.infer<typeof drainSpec>;

/**
 * NOTE: bounded so that the CRD's CEL rules over these lists stay within the API server's cost budget (the
 * api-semantics bed test creates a plan of MAX_NODES nodes); 500 is well past a small on-prem cluster.
 */
export const MAX_NODES = 500;
export const MAX_CHAIN_STAGES = 64;

export const powerOffSpec = z.strictObject({
  method: z.enum(['ssh', 'helper-pod', 'none']).default('helper-pod'),
  command: z.array(z.string().min(1)).min(1).default(['systemctl', 'poweroff']),
  sshUser: z.string().min(1).default('root'),
  sshKeyFile: z.string().min(1).optional(),
  parallelism: z
    .number()
    .int()
    .min(1)
    .max(MAX_NODES)
    .optional()
    .describe('Workers powered off at the same time (default: all of them); the control plane goes one at a time'),
  delayBetweenNodes: duration
    .default('5s')
    .describe('Pause before each control-plane power-off after the first (workers go together)'),
});

export const upsSpec = z.strictObject({
  source: z.enum(['nut', 'command', 'static', 'none']).default('none'),
  nut: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(1).max(65535).default(3493),
      ups: z.string().min(1).describe('UPS name as upsd knows it'),
      credentialsFile: z.string().min(1).optional().describe('File holding "username password"; never logged'),
    })
    .optional(),
  command: z.array(z.string().min(1)).min(1).optional().describe('Command whose output is the charge in percent'),
  staticCharge: z.number().min(0).max(100).optional().describe('A fixed reading, for drills'),
  minStartupCharge: z.number().min(0).max(100).default(50).describe('Startup refuses below this charge (percent)'),
  minStartupRuntime: duration.default('0s').describe('Startup refuses below this runtime'),
  emergencyCharge: z.number().min(0).max(100).default(30).describe('On battery below this: emergency shutdown'),
  pollInterval: duration.default('15s'),
});

const powerPlanSpecFields = z.strictObject({
  flux: fluxSpec.prefault({}),
  repoSnapshot: z.string().min(1).default(DEFAULT_REPO_SNAPSHOT).describe('Local clone of the Flux source'),
  stateFile: z
    .string()
    .min(1)
    .optional()
    .describe('Outage state file; default $XDG_STATE_HOME/cluster_power_recovery.state or ~/.local/state/...'),
  helperImage: z.string().min(1).default('docker.io/library/busybox:1.37').describe('Multi-arch image for node work'),
  bootstrapChain: z
    .array(chainStage)
    .min(1)
    .max(MAX_CHAIN_STAGES)
    .describe('Stages applied in order when the Flux source is not Ready'),
  harbor: harborSpec.optional(),
  nodes: z.array(planNode).min(1).max(MAX_NODES).describe('Nodes Hecate powers off and on; names are unique'),
  drain: drainSpec.prefault({}),
  powerOff: powerOffSpec.prefault({}),
  storage: z
    .strictObject({
      longhorn: z.boolean().default(true).describe('Wait for Longhorn volumes to detach before power-off'),
      namespace: dnsLabel.default('longhorn-system'),
      detachTimeout: duration.default('5m'),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      wayBackMaxAge: duration
        .default('24h')
        .describe(
          'How old the way-back record (status.wayBack, written by hecate prepare --execute) may be when the operator starts an executing shutdown',
        ),
    })
    .prefault({}),
  startup: z
    .strictObject({
      apiTimeout: duration.default('15m'),
      nodeReadyQuorum: z.number().min(0).max(1).default(0.5).describe('Fraction of nodes Ready before uncordoning'),
      nodesReadyTimeout: duration.default('10m'),
    })
    .prefault({}),
  ups: upsSpec.prefault({}),
});

/** The plan's facts and policies; cross-field rules in {@link checkPlanSpec}. */
export const powerPlanSpec = powerPlanSpecFields.superRefine(checkPlanSpec, { when: () => true });
export type PowerPlanSpec = z.infer<typeof powerPlanSpec>;
export type PowerPlanSpecInput = z.input<typeof powerPlanSpec>;

/**
 * Cross-field rules, mirrored in the CRD by list-map keys and CEL rules (core/api/crd.ts) so that the API server
 * and the CLI refuse the same plans. NOTE: runs even when other fields are invalid, so that every problem is
 * reported at once; it therefore reads the input defensively.
 */
function checkPlanSpec(spec: unknown, ctx: z.RefinementCtx<unknown>): void {
  if (!isRecord(spec)) return;
  checkUniqueNames(spec.nodes, 'nodes', ctx);
  checkUniqueNames(spec.bootstrapChain, 'bootstrapChain', ctx);
  checkHarborNode(spec, ctx);
  checkUpsSource(spec.ups, ctx);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function namesOf(list: unknown): (string | undefined)[] {
  if (!Array.isArray(list)) return [];
  return list.map((item) => (isRecord(item) && typeof item.name === 'string' ? item.name : undefined));
}

/** Reports each repeated `name` at its own index, naming the index that has it first. */
function checkUniqueNames(list: unknown, field: string, ctx: z.RefinementCtx<unknown>): void {
  const first = new Map<string, number>();
  namesOf(list).forEach((name, index) => {
    if (name === undefined) return;
    const seen = first.get(name);
    if (seen === undefined) first.set(name, index);
    else
      ctx.addIssue({
        code: 'custom',
        path: [field, index, 'name'],
        message: `duplicate name "${name}" (also ${field}[${seen}])`,
      });
  });
}

function checkHarborNode(spec: Record<string, unknown>, ctx: z.RefinementCtx<unknown>): void {
  const node = isRecord(spec.harbor) ? spec.harbor.node : undefined;
  if (typeof node !== 'string' || !Array.isArray(spec.nodes) || namesOf(spec.nodes).includes(node)) return;
  ctx.addIssue({
    code: 'custom',
    path: ['harbor', 'node'],
    message: `expected the name of one of spec.nodes, got "${node}"`,
  });
}

const UPS_SOURCE_FIELD = { nut: 'nut', command: 'command', static: 'staticCharge' } as const;

/** `ups.source` names where the reading comes from; that field must then be set. */
function checkUpsSource(ups: unknown, ctx: z.RefinementCtx<unknown>): void {
  if (!isRecord(ups) || typeof ups.source !== 'string' || !(ups.source in UPS_SOURCE_FIELD)) return;
  const field = UPS_SOURCE_FIELD[ups.source as keyof typeof UPS_SOURCE_FIELD];
  if (ups[field] !== undefined) return;
  ctx.addIssue({ code: 'custom', path: ['ups', field], message: `required when ups.source is "${ups.source}"` });
}

/**
 * The way back as `hecate prepare --execute` last found it on the control host (core/plan/way-back.ts): the operator
 * cannot see that host, so an executing shutdown PowerEvent reads this before it cuts the power.
 */
export const wayBackRecord = z.strictObject({
  verified: z.boolean().describe('true when startup had everything it needs after the power is cut'),
  checkedAt: timestamp,
  checkedBy: z.string().min(1).optional().describe('Who checked: cli/<host>'),
  fluxRevision: z.string().optional().describe('The revision Flux had applied when the way back was checked'),
  gaps: z
    .array(z.strictObject({ what: z.string().min(1), fix: z.string().min(1) }))
    .default([])
    .describe('What was missing, each with the command that closes it'),
});
export type WayBackRecord = z.infer<typeof wayBackRecord>;

/**
 * What the operator reports about a plan (the CRD's status subresource). Read with the plan (a plan listed from the
 * cluster carries it) but never used to run one.
 */
export const powerPlanStatus = z.strictObject({
  observedGeneration: z.number().int().min(0).optional(),
  conditions: z.array(condition).default([]),
  wayBack: wayBackRecord.optional(),
});
export type PowerPlanStatus = z.infer<typeof powerPlanStatus>;

export const powerPlan = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('PowerPlan'),
  metadata: objectMeta,
  spec: powerPlanSpec,
  status: powerPlanStatus.optional(),
});
export type PowerPlan = z.infer<typeof powerPlan>;
