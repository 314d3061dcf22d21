import { Listr, type ListrTask } from 'listr2';
import type { PlanStep, RenderedPlan } from '../../core/api/index.js';
import type { RunEvent } from '../../core/run/runner.js';

type Outcome = { kind: 'done' | 'skip'; note?: string };

interface Pending {
  promise: Promise<Outcome>;
  resolve(outcome: Outcome): void;
  reject(error: Error): void;
  output?: (message: string) => void;
}

function deferred(): Pending {
  let resolve!: (o: Outcome) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<Outcome>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Consecutive steps of the same stage, in plan order. */
function stages(plan: RenderedPlan): { stage: string; steps: PlanStep[] }[] {
  const out: { stage: string; steps: PlanStep[] }[] = [];
  for (const step of plan.steps) {
    const last = out[out.length - 1];
    if (last?.stage === step.stage) last.steps.push(step);
    else out.push({ stage: step.stage, steps: [step] });
  }
  return out;
}

/**
 * Stage-by-stage progress on a terminal with listr2. The runner drives the work; each listr task only waits for
 * its step's outcome, so the display can never run or reorder a step.
 */
export class ListrProgress {
  private readonly pending = new Map<string, Pending>();
  private readonly listr: Listr;

  constructor(plan: RenderedPlan) {
    for (const step of plan.steps) this.pending.set(step.id, deferred());
    const tasks: ListrTask[] = stages(plan).map(({ stage, steps }) => ({
      title: stage,
      task: (_ctx, task) =>
        task.newListr(
          steps.map((step) => this.stepTask(step)),
          { concurrent: steps.some((s) => s.params.group), exitOnError: true },
        ),
    }));
    this.listr = new Listr(tasks, { exitOnError: true, rendererOptions: { collapseSubtasks: false } });
  }

  /** Runs the display; resolves when every task has settled. */
  run(): Promise<unknown> {
    return this.listr.run().catch(() => undefined);
  }

  onEvent(event: RunEvent): void {
    if (event.type === 'resume') return;
    const pending = this.pending.get(event.step.id);
    if (!pending) return;
    if (event.type === 'report') pending.output?.(event.message);
    else if (event.type === 'done') pending.resolve({ kind: 'done' });
    else if (event.type === 'already-done') pending.resolve({ kind: 'done', note: 'already done' });
    else if (event.type === 'previously-done') pending.resolve({ kind: 'skip', note: 'done in an earlier run' });
    else if (event.type === 'skipped') pending.resolve({ kind: 'skip', note: 'condition does not hold' });
    else if (event.type === 'failed') pending.reject(event.error);
    else if (event.type === 'stopped') pending.resolve({ kind: 'skip', note: `stopped here: ${event.reason}` });
  }

  /** Settles every step still waiting, so the display ends even when the run stopped early. */
  close(error?: Error): void {
    for (const pending of this.pending.values()) pending.reject(error ?? new Error('not run'));
  }

  private stepTask(step: PlanStep): ListrTask {
    return {
      title: step.title,
      task: async (_ctx, task) => {
        const pending = this.pending.get(step.id);
        if (!pending) return;
        pending.output = (message) => {
          task.output = message;
        };
        const outcome = await pending.promise;
        if (outcome.kind === 'skip') task.skip(`${step.title} (${outcome.note})`);
        else if (outcome.note) task.title = `${step.title} (${outcome.note})`;
      },
    };
  }
}
