/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it: optimistic updates with
 * the resourceVersion, expiry judged on the local clock from when this process last SAW the record change (so
 * clocks need not agree), renewal every retry period, and leadership given up when renewal has failed for
 * `renewDeadlineMs`. On a clean stop the lease is released so that a follower takes over at once.
 */
import type { Clock, Logger } from '../../core/ports/index.js';

export interface LeaseRecord {
  holderIdentity?: string | undefined;
  leaseDurationSeconds?: number | undefined;
  acquireTime?: Date | undefined;
  renewTime?: Date | undefined;
  leaseTransitions?: number | undefined;
}

export interface LeaseState {
  record: LeaseRecord;
  resourceVersion: string;
}

/** The Lease as the elector needs it. `create` and `update` throw {@link LeaseConflictError} on 409. */
export interface LeasePort {
  get(): Promise<LeaseState | undefined>;
  create(record: LeaseRecord): Promise<LeaseState>;
  update(record: LeaseRecord, resourceVersion: string): Promise<LeaseState>;
}

/** Someone else wrote the Lease first. */
export class LeaseConflictError extends Error {
  override readonly name = 'LeaseConflictError';
}

export interface LeaderElectorOptions {
  identity: string;
  lease: LeasePort;
  clock: Clock;
  logger: Logger;
  /** How long a lease is valid after its last renewal (client-go default 15 s). */
  leaseDurationMs: number;
  /** The leader gives up when it could not renew for this long; must be < leaseDurationMs (default 10 s). */
  renewDeadlineMs: number;
  /** Between attempts, for followers and leader alike (default 2 s). */
  retryPeriodMs: number;
}

export class LeaderElector {
  private observed: { key: string; at: number } | undefined;
  private leading = false;

  constructor(private readonly options: LeaderElectorOptions) {
    if (options.renewDeadlineMs >= options.leaseDurationMs) {
      throw new Error('renewDeadlineMs must be shorter than leaseDurationMs');
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * One attempt to acquire or renew. True when this process holds the lease afterwards. Never throws for a
   * conflict (someone else wrote first); other API errors propagate.
   */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { clock, identity, lease } = this.options;
    const now = clock.now();
    const current = await lease.get();
    if (!current) return this.write(() => lease.create(this.fresh(now, 0)));
    const { record } = current;
    const key = `${record.holderIdentity ?? ''}|${toMs(record.renewTime) ?? ''}|${current.resourceVersion}`;
    if (this.observed?.key !== key) this.observed = { key, at: now.getTime() };
    const holder = record.holderIdentity ?? '';
    const durationMs = (record.leaseDurationSeconds ?? this.options.leaseDurationMs / 1000) * 1000;
    if (holder && holder !== identity && this.observed.at + durationMs > now.getTime()) return false;
    const next: LeaseRecord =
      holder === identity
        ? { ...record, renewTime: now, leaseDurationSeconds: this.durationSeconds() }
        : this.fresh(now, (record.leaseTransitions ?? 0) + 1);
    return this.write(() => lease.update(next, current.resourceVersion));
  }

  /**
   * Waits until this process leads, then calls `onStartedLeading`, renews until `signal` aborts (then releases
   * the lease) or renewal fails past the deadline (then calls `onStoppedLeading`). Resolves when done.
   */
  async run(
    signal: AbortSignal,
    callbacks: { onStartedLeading(): void | Promise<void>; onStoppedLeading(reason: string): void | Promise<void> },
  ): Promise<void> {
    const { clock, logger, identity, retryPeriodMs } = this.options;
    logger.info('Waiting for leadership', { identity });
    while (!signal.aborted && !(await this.attempt())) await this.pause(retryPeriodMs, signal);
    if (signal.aborted) return;
    this.leading = true;
    logger.info('Acquired leadership', { identity });
    await callbacks.onStartedLeading();
    let lastRenew = clock.now().getTime();
    while (!signal.aborted) {
      await this.pause(retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.attempt()) {
        lastRenew = clock.now().getTime();
        continue;
      }
      if (clock.now().getTime() - lastRenew > this.options.renewDeadlineMs) {
        this.leading = false;
        logger.error('Lost leadership: could not renew the lease in time', { identity });
        await callbacks.onStoppedLeading('renew deadline exceeded');
        return;
      }
    }
    await this.release();
    this.leading = false;
  }

  /** Gives the lease up (holder cleared, duration 1 s) when this process holds it. */
  async release(): Promise<void> {
    const { lease, identity, logger } = this.options;
    try {
      const current = await lease.get();
      if (!current || current.record.holderIdentity !== identity) return;
      await lease.update(
        { ...current.record, holderIdentity: '', leaseDurationSeconds: 1, renewTime: this.options.clock.now() },
        current.resourceVersion,
      );
      logger.info('Released leadership', { identity });
    } catch (error) {
      logger.warn('Could not release the lease', { identity, error: errorMessage(error) });
    }
  }

  private async attempt(): Promise<boolean> {
    try {
      return await this.tryAcquireOrRenew();
    } catch (error) {
      this.options.logger.warn('Lease request failed', { identity: this.options.identity, error: errorMessage(error) });
      return false;
    }
  }

  private async write(request: () => Promise<LeaseState>): Promise<boolean> {
    try {
      const written = await request();
      const renew = toMs(written.record.renewTime) ?? '';
      this.observed = {
        key: `${written.record.holderIdentity ?? ''}|${renew}|${written.resourceVersion}`,
        at: this.options.clock.now().getTime(),
      };
      return true;
    } catch (error) {
      if (error instanceof LeaseConflictError) return false;
      throw error;
    }
  }

  private fresh(now: Date, transitions: number): LeaseRecord {
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: this.durationSeconds(),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: transitions,
    };
  }

  private durationSeconds(): number {
    return Math.max(1, Math.ceil(this.options.leaseDurationMs / 1000));
  }

  private async pause(ms: number, signal: AbortSignal): Promise<void> {
    const jittered = ms * (1 + Math.random() * 0.2);
    await this.options.clock.sleep(jittered, signal).catch(() => undefined);
  }
}

function toMs(value: Date | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
