/**
 * The PowerEvent reconciler's world for unit tests: in-memory caches, a status store that behaves like the /status
 * subresource (and can be made unreachable, as an API server without its etcd quorum), a finalizer that behaves
 * like the API's (an object with a finalizer and a deletionTimestamp goes once the last finalizer is removed), and
 * one timeline of everything that happened.
 */
import { PowerEventGoneError, PowerEventStatusStore } from '../../adapters/kube/powerevents.js';
import { API_VERSION, type PowerEventStatus, type PowerPlanSpec, type StopRecord } from '../../core/api/index.js';
import { StepKind } from '../../core/plan/index.js';
import type { Executors, StepExecutor } from '../../core/run/executor.js';
import { checkKstatusInvariants, getCondition } from '../../core/status/conditions.js';
import type { ExecutorFactory, PowerEventReconcilerDeps, StopFinalizer } from '../../operator/reconcile/deps.js';
import { PowerEventReconciler } from '../../operator/reconcile/powerevent.js';
import { STOP_FINALIZER } from '../../operator/reconcile/stop.js';
import type { EventRecorder } from '../../operator/runtime/events.js';
import { atlasSpec, VERIFIED_WAY_BACK } from '../helpers/atlas.js';
import { FakeClock, silentLogger } from '../helpers/fakes.js';

export const KEY = 'hecate-system/ev';
export const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];

/** The Atlas PowerPlan: three control-plane nodes (titan-03, titan-02, titan-01 in power-off order), four workers. */
export const atlas = planObject(atlasSpec());

/** The Atlas PowerPlan with one control-plane node, titan-03: titan-01 and titan-02 are not in it. */
export const singleControlPlane = planObject({
  ...atlasSpec(),
  nodes: atlasSpec().nodes.filter((n) => n.name !== 'titan-01' && n.name !== 'titan-02'),
});

/** A PowerPlan whose way back `hecate prepare --execute` verified (its status), as a shutdown needs. */
export function planObject(spec: PowerPlanSpec) {
  return {
    apiVersion: API_VERSION,
    kind: 'PowerPlan',
    metadata: { name: 'atlas' },
    spec,
    status: { conditions: [], wayBack: VERIFIED_WAY_BACK },
  };
}

export type Obj = {
  metadata: { generation: number; finalizers?: string[]; deletionTimestamp?: string; uid: string };
  status?: PowerEventStatus;
};

export function shutdownEvent(status?: PowerEventStatus): Obj {
  return {
    apiVersion: API_VERSION,
    kind: 'PowerEvent',
    metadata: { name: 'ev', namespace: 'hecate-system', uid: 'uid-ev', generation: 1 },
    spec: { action: 'shutdown', planRef: { name: 'atlas' }, execute: true },
    ...(status ? { status } : {}),
  } as Obj;
}

export type World = ReturnType<typeof api>;

/** The API as the reconciler sees it, shared by every operator process started on it. */
export function api(initial: Obj) {
  const objects: Record<string, Obj> = { [KEY]: initial };
  const timeline: string[] = [];
  const violations: string[] = [];
  const records: StopRecord[] = [];
  /** Status writes attempted while `down`: refused, as by an API server that lost its quorum. */
  const refused: PowerEventStatus[] = [];
  const state = { down: false };
  const finalizer: StopFinalizer = {
    add: async () => {
      const obj = objects[KEY];
      if (!obj || obj.metadata.finalizers?.includes(STOP_FINALIZER)) return;
      obj.metadata.finalizers = [...(obj.metadata.finalizers ?? []), STOP_FINALIZER];
      timeline.push('finalizer added');
    },
    release: async (_raw, onDelete) => {
      if (state.down) throw new Error('connect ECONNREFUSED (the API is down)');
      const obj = objects[KEY];
      if (!obj?.metadata.finalizers?.includes(STOP_FINALIZER)) return;
      if (obj.metadata.deletionTimestamp) await onDelete?.();
      obj.metadata.finalizers = obj.metadata.finalizers.filter((f) => f !== STOP_FINALIZER);
      timeline.push('finalizer removed');
      if (obj.metadata.deletionTimestamp && obj.metadata.finalizers.length === 0) delete objects[KEY];
    },
  };
  return { objects, timeline, violations, records, refused, state, finalizer };
}

/** One operator process on `world`: its own reconciler, executors and node. */
export function operator(
  world: World,
  executors: ExecutorFactory,
  options: {
    selfNode?: string;
    signal?: AbortSignal;
    plan?: Record<string, unknown>;
    observe?: PowerEventReconcilerDeps['observe'];
    clock?: FakeClock;
  } = {},
) {
  const recorded: string[] = [];
  const recorder: EventRecorder = {
    record: (_obj, type, reason, message) => {
      recorded.push(`${type} ${reason}: ${message}`);
      world.timeline.push(`event ${reason}`);
    },
    flush: async () => {},
  };
  const plan = options.plan ?? atlas;
  const reconciler = new PowerEventReconciler({
    events: { get: (ns, name) => world.objects[`${ns}/${name}`], list: () => Object.values(world.objects) },
    plans: { get: (name) => (name === 'atlas' ? plan : undefined) },
    observe: options.observe ?? (async () => ({ api: 'reachable', nodes: [] })),
    executors,
    openStatus: (ref, current) =>
      new PowerEventStatusStore(ref, current, async (r, status) => {
        if (world.state.down) {
          world.refused.push(structuredClone(status));
          throw new Error('connect ECONNREFUSED (the API is down)');
        }
        const obj = world.objects[`${r.namespace}/${r.name}`];
        if (!obj) throw new PowerEventGoneError(KEY);
        world.violations.push(...checkKstatusInvariants(status, obj.metadata.generation));
        obj.status = structuredClone(status);
        const ready = getCondition(status.conditions, 'Ready');
        world.timeline.push(`status ${status.phase} ${ready?.reason}`);
      }),
    recorder,
    clock: options.clock ?? new FakeClock(),
    logger: silentLogger,
    signal: options.signal ?? new AbortController().signal,
    selfNode: options.selfNode,
    finalizer: world.finalizer,
    stopRecords: {
      save: async (record) => {
        world.records.push(record);
        world.timeline.push(`stop record ${record.stopped.beforeStep}`);
        return 'ConfigMap hecate-system/hecate-stopped-ev';
      },
    },
  });
  return { reconciler, recorded };
}

export interface Behaviour {
  /** Called by the power-off executor between its record and its delivery. */
  beforeDelivery?(node: string): Promise<void>;
  /** Called by the power-off executor once it delivered. */
  afterDelivery?(node: string): void;
  /** Called when a step starts (before it acts). */
  onStart?(id: string): Promise<void>;
  failDelivery?: string;
  /** This node's first delivery fails (the API blinked); the next one lands. */
  failFirstDelivery?: string;
}

/**
 * Executors that act like the real ones where it matters here: the power-off records the node in
 * `outage.poweredOff` before it delivers (core/steps/power.ts) and is done once recorded; a stopping process
 * (ctx.signal) stops them before they act; every step is logged.
 */
export function executors(world: World, behaviour: Behaviour = {}): ExecutorFactory {
  const generic: StepExecutor = {
    check: async () => false,
    apply: async (step, ctx) => {
      await behaviour.onStart?.(step.id);
      if (ctx.signal.aborted) throw ctx.signal.reason; // the process is stopping, as a real executor sees it
      world.timeline.push(`ran ${step.id}`);
    },
  };
  const powerOff: StepExecutor = {
    check: async (step, ctx) => ctx.outage().poweredOff.includes(step.params.node ?? ''),
    apply: async (step, ctx) => {
      const node = step.params.node ?? '';
      if (ctx.signal.aborted) throw ctx.signal.reason; // as the delay between nodes sees it
      if (!ctx.outage().poweredOff.includes(node)) await ctx.record((o) => void o.poweredOff.push(node));
      await behaviour.beforeDelivery?.(node);
      if (behaviour.failDelivery === node) throw new Error(`the helper pod on ${node} failed`);
      if (behaviour.failFirstDelivery === node && !world.timeline.includes(`failed to deliver ${node}`)) {
        world.timeline.push(`failed to deliver ${node}`);
        throw new Error(`connect ECONNREFUSED: the API server is electing a leader`);
      }
      world.timeline.push(`deliver ${node}`);
      behaviour.afterDelivery?.(node);
    },
  };
  const all: Executors = Object.fromEntries(
    Object.values(StepKind).map((kind) => [kind, kind === StepKind.PowerOffNode ? powerOff : generic]),
  );
  return () => ({ executors: all });
}

export const lastStatusAt = (timeline: string[]) => timeline.findLastIndex((t) => t.startsWith('status '));

export const delivered = (timeline: string[]) =>
  timeline.filter((t) => t.startsWith('deliver ')).map((t) => t.slice('deliver '.length));
