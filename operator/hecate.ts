/**
 * Hecate's operator: PowerPlans and PowerEvents watched into caches, PowerEvent keys through one work queue into
 * the PowerEvent reconciler. A PowerPlan change re-enqueues the events that refer to it (a PowerEvent stalled on a
 * missing plan recovers when the plan appears); a periodic resync re-enqueues everything.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { isNotFound } from '../adapters/kube/errors.js';
import { GROUP, VERSION } from '../core/api/index.js';
import type { Logger } from '../core/ports/index.js';
import type { PowerEventReconcilerDeps, StopFinalizer } from './reconcile/deps.js';
import { keyOf, PowerEventReconciler } from './reconcile/powerevent.js';
import { STOP_FINALIZER } from './reconcile/stop.js';
import type { Informer } from './runtime/informer.js';
import { Operator, type ResourceRef } from './runtime/operator.js';
import type { Outcome } from './runtime/outcome.js';
import { WorkQueue } from './runtime/workqueue.js';

export const POWEREVENTS: ResourceRef = { group: GROUP, version: VERSION, plural: 'powerevents' };
export const POWERPLANS: ResourceRef = { group: GROUP, version: VERSION, plural: 'powerplans' };
export const FIELD_MANAGER = 'hecate-operator';

export interface HecateOperatorOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Watch PowerEvents in this namespace only; undefined for all namespaces. */
  namespace?: string | undefined;
  concurrency?: number;
  /** Re-enqueue every PowerEvent this often (default 10 min; 0 disables). */
  resyncMs?: number;
  /** Everything the reconciler needs besides the caches. */
  reconciler: Omit<PowerEventReconcilerDeps, 'events' | 'plans' | 'onActiveReleased' | 'finalizer'>;
  onOutcome?: (key: string, outcome: Outcome, ms: number) => void;
}

type Named = KubernetesObject & { spec?: { planRef?: { name?: string } } };

export class HecateOperator extends Operator {
  private events: Informer<Named> | undefined;
  private plans: Informer<KubernetesObject> | undefined;
  private resync: NodeJS.Timeout | undefined;
  readonly queue: WorkQueue;
  readonly reconciler: PowerEventReconciler;

  constructor(private readonly options: HecateOperatorOptions) {
    super(options.kubeConfig, options.logger, FIELD_MANAGER);
    this.reconciler = new PowerEventReconciler({
      ...options.reconciler,
      events: {
        get: (namespace, name) => this.events?.get(name, namespace),
        list: () => this.events?.list() ?? [],
      },
      plans: { get: (name) => this.plans?.get(name) },
      onActiveReleased: (others) => {
        for (const key of others) this.queue.add(key);
      },
      finalizer: this.stopFinalizer(),
    });
    this.queue = new WorkQueue((key) => this.reconcileLogged(key), {
      concurrency: options.concurrency ?? 2,
      backoff: { baseMs: 500, maxMs: 300_000 },
      ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
    });
  }

  protected async init(): Promise<void> {
    this.plans = this.watchResource<KubernetesObject>(POWERPLANS, (plan) => this.enqueueReferring(plan));
    this.events = this.watchResource<Named>({ ...POWEREVENTS, namespace: this.options.namespace }, (event) => {
      const key = keyOf({ metadata: event.metadata ?? {} });
      this.queue.add(key);
      this.reconciler.noticeDeletion(key);
    });
  }

  /**
   * {@link STOP_FINALIZER} through the runtime's finalizer handling, on the object as the API holds it now (the
   * cache may not show a finalizer added a moment ago). A PowerEvent already gone needs nothing.
   */
  private stopFinalizer(): StopFinalizer {
    const live = async (raw: unknown) => {
      try {
        return await this.getResource<KubernetesObject>(POWEREVENTS, raw as KubernetesObject);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    };
    return {
      add: async (raw) => {
        const obj = await live(raw);
        if (!obj || obj.metadata?.deletionTimestamp) return; // being deleted: the run is stopped instead
        await this.handleResourceFinalizer(POWEREVENTS, obj, STOP_FINALIZER, async () => undefined);
      },
      release: async (raw, onDelete) => {
        const obj = await live(raw);
        if (!obj) return;
        if (!obj.metadata?.deletionTimestamp) return this.removeResourceFinalizer(POWEREVENTS, obj, STOP_FINALIZER);
        await this.handleResourceFinalizer(POWEREVENTS, obj, STOP_FINALIZER, async () => onDelete?.());
      },
    };
  }

  protected override onSynced(): void {
    this.queue.start();
    this.enqueueAll();
    const every = this.options.resyncMs ?? 600_000;
    if (every > 0) {
      this.resync = setInterval(() => this.enqueueAll(), every);
      this.resync.unref();
    }
    this.logger.info('Caches synced, reconciling', { powerEvents: this.events?.list().length ?? 0 });
  }

  override async stop(): Promise<void> {
    clearInterval(this.resync);
    await this.queue.shutdown();
    await super.stop();
  }

  /** PowerPlans in the cache (the UPS watcher reads them). */
  cachedPlans(): readonly KubernetesObject[] {
    return this.plans?.list() ?? [];
  }

  /** PowerEvents in the cache. */
  cachedEvents(): readonly KubernetesObject[] {
    return this.events?.list() ?? [];
  }

  private async reconcileLogged(key: string): Promise<Outcome> {
    try {
      return await this.reconciler.reconcile(key);
    } catch (error) {
      this.logger.error('Reconcile failed, retrying with backoff', { powerEvent: key, error });
      throw error;
    }
  }

  private enqueueAll(): void {
    for (const event of this.events?.list() ?? []) this.queue.add(keyOf({ metadata: event.metadata ?? {} }));
  }

  private enqueueReferring(plan: KubernetesObject): void {
    const name = plan.metadata?.name;
    for (const event of this.events?.list() ?? []) {
      if (event.spec?.planRef?.name === name) this.queue.add(keyOf({ metadata: event.metadata ?? {} }));
    }
  }
}
