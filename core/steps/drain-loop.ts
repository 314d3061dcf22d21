import { controllerKey, strayArrivals } from '../drain/arrivals.js';
import {
  type AttemptResult,
  currentLevel,
  type Decision,
  decide,
  type EscalationState,
  graceMsOf,
  isGone,
  type PodAction,
  type PodObservation,
  type RemainingPod,
  startEscalation,
  TERMINATION_SLACK_MS,
} from '../drain/escalation.js';
import { selectPodsForDrain, summarize } from '../drain/filters.js';
import type { DrainOptions } from '../drain/options.js';
import { type DrainPod, podKey, toDrainPod } from '../drain/pod.js';
import { levelRecord, resumeEscalation } from '../drain/resume.js';
import type { PodPort } from '../ports/index.js';
import { DeadlineExceededError } from '../run/errors.js';
import type { StepContext } from '../run/executor.js';

/** Timing knobs of the drain loop; the defaults suit a real cluster. */
export interface DrainLoopSettings {
  /** The longest single wait for a pod change before looking again (default 30 s). */
  readonly maxWaitMs?: number;
  /** Progress is reported on every change of pods left or level, and at least this often (default 10 s). */
  readonly reportEveryMs?: number;
  /** The shortest wait round, even when the pods change or the watch fails at once (default 250 ms). */
  readonly minWaitMs?: number;
  /** After a failed look at the node's pods (API unreachable), wait this long before the next (default 2 s). */
  readonly retryListMs?: number;
}

/** The drain of a node gave up: no level may delete some pods, or every level ran out. Lists each pod and why. */
export class DrainFailedError extends Error {
  override readonly name = 'DrainFailedError';
  constructor(
    readonly node: string,
    readonly remaining: readonly RemainingPod[],
    reason: string,
  ) {
    super(`drain of ${node} failed: ${reason}`);
  }
}

/** Sends one decided action and turns the answer into the escalation's {@link AttemptResult}. Never throws. */
export type Perform = (action: PodAction) => Promise<AttemptResult>;

/** The node's pods as the drain sees them; pods without a name or uid (never sent by an API server) are left out. */
export async function drainPodsOn(pods: PodPort, node: string): Promise<DrainPod[]> {
  return (await pods.listOnNode(node)).flatMap((pod) => {
    try {
      return [toDrainPod(pod)];
    } catch {
      return [];
    }
  });
}

/** `1m05s`, `42s`, for countdowns in progress messages. */
export function formatMs(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

interface Tracked {
  readonly target: DrainPod;
  last?: AttemptResult;
}

/**
 * One node's drain: observe the pods the drain started with, `decide`, perform, wait for a change or the next
 * retry/escalation time, until done, failed or past `ctx.deadline`.
 *
 * Observation is one list of the node's pods per round: `spec.nodeName` is immutable, so a target is present exactly
 * when a pod of its namespace/name is in that list, and {@link isGone} compares the uid (a replacement is gone).
 * Pods that arrive after the start are not drained, as with kubectl, with one exception: before the node counts as
 * drained, pods that a scheduler placed there after the cordon (a stale view of the node) are taken on too, once per
 * controller (core/drain/arrivals.ts), or they would hold their volumes through the storage quiesce.
 *
 * The escalation survives a crash: the level and when it was entered are saved in the outage record's
 * `drainLevels[node]` BEFORE the first action at that level, a rerun resumes there (see `resumeEscalation`), and the
 * entry is removed once the node is drained.
 */
export class NodeDrain {
  private state: EscalationState;
  /** The state as saved in the outage record (undefined: nothing saved for this node yet). */
  private saved: EscalationState | undefined;
  private readonly tracked = new Map<string, Tracked>();
  /** Controllers that had an arrival on the node drained (core/drain/arrivals.ts `controllerKey`). */
  private readonly takenFrom = new Set<string>();
  /** Returning arrivals already reported as left alone. */
  private readonly leftAlone = new Set<string>();
  private lastReport = { text: '', atMs: -Infinity };

  constructor(
    private readonly node: string,
    private readonly pods: PodPort,
    private readonly options: DrainOptions,
    private readonly ctx: StepContext,
    private readonly settings: DrainLoopSettings,
    private readonly perform: Perform,
  ) {
    this.state = startEscalation(this.now());
  }

  /**
   * Drains the node. `listed`: the node's pods as listed just before, while it was already cordoned (the step's
   * check), so that they are not listed twice before the first eviction.
   */
  async run(listed?: DrainPod[]): Promise<void> {
    const targets = await this.firstLook(listed);
    for (const target of targets) this.tracked.set(keyOf(target), { target });
    this.resume();
    // the first decision is made on the first look: the pods are listed once before the first eviction
    let fresh: DrainPod[] | undefined = targets;
    for (;;) {
      this.ctx.signal.throwIfAborted();
      const pods: DrainPod[] | undefined = fresh ?? (await this.list());
      fresh = undefined;
      if (pods === undefined) continue;
      const observations = this.observationsOf(pods);
      const decision = decide(this.state, observations, this.now(), this.options);
      if (decision.kind === 'done') {
        if (!this.adoptArrivals(pods)) return this.finish(decision.terminating);
        fresh = pods; // the arrivals are decided on the same list
        continue;
      }
      this.checkDeadline(observations);
      await this.follow(decision);
    }
  }

  /**
   * Before the node counts as drained: takes on the pods that arrived on it after the cordon without tolerating it
   * (a scheduler's stale view), once per controller, and says so; returns true when there are any (see
   * core/drain/arrivals.ts).
   */
  private adoptArrivals(pods: readonly DrainPod[]): boolean {
    const known = (pod: DrainPod) => this.tracked.has(keyOf(pod));
    const { take, returning } = strayArrivals(pods, known, this.takenFrom, this.options, this.now());
    for (const pod of returning.filter((p) => !this.leftAlone.has(keyOf(p)))) {
      this.leftAlone.add(keyOf(pod));
      this.ctx.report(
        `${this.node}: ${podKey(pod)} arrived again after its ${pod.controller?.kind} had one drained from here: it places its pods on this node itself (spec.nodeName in its template?), left alone as kubectl does`,
      );
    }
    if (take.length === 0) return false;
    for (const target of take) {
      this.tracked.set(keyOf(target), { target });
      this.takenFrom.add(controllerKey(target));
    }
    this.ctx.report(
      `${this.node}: ${take.length} pod(s) arrived on it after the cordon, not tolerating it (${take.map(podKey).join(', ')}): draining them too`,
    );
    return true;
  }

  /** Adopts the level a crashed run had reached (or the first level), and says where the drain resumes. */
  private resume(): void {
    const now = this.now();
    const entry = this.ctx.outage().drainLevels?.[this.node];
    const resumed = resumeEscalation(entry, this.options, now);
    this.state = resumed.state;
    this.saved = resumed.record ? undefined : resumed.state;
    if (resumed.message) this.ctx.report(`${this.node}: ${resumed.message}${this.nextStep(now)}`);
  }

  /** Saves the current level in the outage record unless it is saved already: called before every action. */
  private async persistLevel(): Promise<void> {
    const { state } = this;
    if (this.saved === state) return;
    const entry = levelRecord(state, this.options);
    await this.ctx.record((outage) => {
      outage.drainLevels = { ...outage.drainLevels, [this.node]: entry };
    });
    this.saved = state;
  }

  /** Removes the node's escalation entry (the drain is over, a rerun must not resume it), then reports. */
  private async finish(terminating: readonly RemainingPod[] = []): Promise<void> {
    if (this.ctx.outage().drainLevels?.[this.node] !== undefined) {
      await this.ctx.record((outage) => {
        const { [this.node]: _, ...others } = outage.drainLevels ?? {};
        if (Object.keys(others).length > 0) outage.drainLevels = others;
        else delete outage.drainLevels;
      });
    }
    if (terminating.length === 0) return this.ctx.report(`${this.node} drained`);
    const pods = terminating.map((p) => `${p.namespace}/${p.name}`).join(', ');
    this.ctx.report(
      `${this.node} drained except ${terminating.length} pod(s) still terminating after the last level (${pods}): going on, the power-off stops them`,
    );
  }

  private async follow(decision: Exclude<Decision, { kind: 'done' }>): Promise<void> {
    switch (decision.kind) {
      case 'fail':
        throw new DrainFailedError(this.node, decision.remaining, decision.reason);
      case 'escalate':
        this.state = decision.next;
        this.ctx.report(`${this.node}: escalating to ${decision.to}: ${decision.reason}`);
        return;
      case 'act':
        return this.act(decision.actions);
      case 'wait':
        this.progress(decision.waiting);
        return this.waitFor(decision.untilMs);
    }
  }

  /** The first list, retried like every other; reports how many pods the drain waits on and kubectl's warnings. */
  private async firstLook(listed?: DrainPod[]): Promise<DrainPod[]> {
    for (let given = listed; ; given = undefined) {
      const pods = given ?? (await this.list());
      if (pods === undefined) continue;
      const last = this.options.escalation[this.options.escalation.length - 1] ?? 'evict';
      const selection = selectPodsForDrain(pods, this.options, last, this.now());
      const notes = summarize(selection.warnings.filter((v) => !v.delete));
      this.ctx.report(
        `${this.node}: draining ${selection.toDelete.length} pod(s)${notes.map((n) => `; ${n}`).join('')}`,
      );
      return pods;
    }
  }

  /** A list of the node's pods as observations of the targets. */
  private observationsOf(pods: readonly DrainPod[]): PodObservation[] {
    const byName = new Map(pods.map((pod) => [`${pod.namespace}/${pod.name}`, pod]));
    return [...this.tracked.values()].map(({ target, last }) => ({
      target,
      current: byName.get(podKey(target)) ?? null,
      ...(last ? { last } : {}),
    }));
  }

  private async list(): Promise<DrainPod[] | undefined> {
    try {
      return await drainPodsOn(this.pods, this.node);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.ctx.report(`${this.node}: could not list its pods (${message}); looking again`);
      this.checkDeadline([...this.tracked.values()].map((t) => ({ target: t.target, current: t.target })));
      await this.ctx.clock.sleep(this.settings.retryListMs ?? 2_000, this.ctx.signal);
      return undefined;
    }
  }

  private async act(actions: readonly PodAction[]): Promise<void> {
    await this.persistLevel();
    const results = await Promise.all(actions.map((action) => this.perform(action)));
    actions.forEach((action, i) => {
      const tracked = this.tracked.get(keyOf(action));
      if (tracked) tracked.last = results[i];
    });
  }

  /**
   * Until `untilMs` (bounded by the deadline and `maxWaitMs`) or the next change of the node's pods, whichever is
   * first. A round lasts at least `minWaitMs`, so a watch that fails at once cannot spin the loop.
   * NOTE: the clock sleeps only for that remainder: a fake PodPort that moves a fake clock keeps unit tests instant.
   */
  private async waitFor(untilMs: number): Promise<void> {
    const start = this.now();
    const limit = Math.min(untilMs, this.deadline() ?? Infinity, start + (this.settings.maxWaitMs ?? 30_000));
    await this.pods.nextChange(this.node, Math.max(0, limit - start), this.ctx.signal);
    const floor = Math.min(limit, start + (this.settings.minWaitMs ?? 250));
    const now = this.now();
    if (now < floor) await this.ctx.clock.sleep(floor - now, this.ctx.signal);
  }

  /**
   * The step's deadline, moved out to what the escalation itself is owed: every level left gets its full timeout
   * from when the current one started, and the last one the longest grace period of the pods it deletes. NOTE: the
   * step's deadline counts levels from the step's start, but the level clock starts later (status writes, a resume),
   * so alone it cut healthy drains short at the last level while a deleted pod was ending within its grace.
   */
  private deadline(): number | undefined {
    const { deadline } = this.ctx;
    const { escalation, levelTimeoutMs } = this.options;
    if (deadline === undefined || levelTimeoutMs <= 0) return deadline;
    const levelsLeft = escalation.length - this.state.levelIndex;
    const grace = Math.max(0, ...[...this.tracked.values()].map((t) => graceMsOf(t.target, this.options)));
    const owed = this.state.levelStartedAtMs + levelsLeft * levelTimeoutMs + grace + TERMINATION_SLACK_MS;
    return Math.max(deadline, owed);
  }

  private checkDeadline(observations: readonly PodObservation[]): void {
    const deadline = this.deadline();
    if (deadline === undefined || this.now() < deadline) return;
    const left = observations.filter((o) => !isGone(o));
    const list = left.map((o) => `${podKey(o.target)} (${lastWhy(o.last)})`).join(', ');
    throw new DeadlineExceededError(
      `drain of ${this.node} ran out of time at ${currentLevel(this.state, this.options)} with ${left.length} pod(s) left: ${list}`,
    );
  }

  /** Pods left, the level, and the time to the next escalation; on change, and at least every `reportEveryMs`. */
  private progress(waiting: readonly RemainingPod[]): void {
    const now = this.now();
    const level = currentLevel(this.state, this.options);
    const text = `${this.node}: ${waiting.length} pod(s) left at ${level}`;
    const every = this.settings.reportEveryMs ?? 10_000;
    if (text === this.lastReport.text && now - this.lastReport.atMs < every) return;
    this.lastReport = { text, atMs: now };
    this.ctx.report(`${text}${this.nextStep(now)}`);
  }

  private nextStep(now: number): string {
    if (this.options.levelTimeoutMs <= 0) return '; no level timeout';
    const at = this.state.levelStartedAtMs + this.options.levelTimeoutMs;
    const next = this.options.escalation[this.state.levelIndex + 1];
    return next ? `; ${next} in ${formatMs(at - now)}` : `; gives up in ${formatMs(at - now)}`;
  }

  private now(): number {
    return this.ctx.clock.now().getTime();
  }
}

function keyOf(pod: { namespace: string; name: string; uid: string }): string {
  return `${pod.namespace}/${pod.name}/${pod.uid}`;
}

function lastWhy(last: AttemptResult | undefined): string {
  if (last === undefined) return 'not acted on yet';
  if (last.kind === 'error') return `${last.level}: error ${last.status}: ${last.message}`;
  if (last.kind === 'too-many-requests') return `${last.level}: 429, a PodDisruptionBudget forbids the eviction`;
  return `${last.level}: ${last.kind === 'accepted' ? 'accepted, still terminating' : last.kind}`;
}
