import type { PlanStep, RenderedPlan } from '../../core/api/index.js';
import type { RunEvent } from '../../core/run/runner.js';

const OUTCOME = {
  done: 'done',
  'already-done': 'already done',
  'previously-done': 'done in an earlier run',
  skipped: 'skipped',
  failed: 'FAILED',
  stopped: 'not started (stopped here)',
} as const;

/** One line per event, for logs, CI and pipes: stage headers, step outcomes, progress reports and a summary. */
export class LineProgress {
  private stage = '';
  private readonly started = new Map<string, number>();
  private readonly outcomes: { step: PlanStep; outcome: string; ms?: number }[] = [];

  constructor(
    private readonly plan: RenderedPlan,
    private readonly write: (text: string) => void,
    private readonly now: () => number,
  ) {}

  onEvent(event: RunEvent): void {
    if (event.type === 'resume') {
      this.write(`Resuming: ${event.done} step(s) already done in an earlier run\n`);
      return;
    }
    this.header(event.step);
    if (event.type === 'report') {
      this.write(`       ${event.message}\n`);
      return;
    }
    if (event.type === 'start') this.started.set(event.step.id, this.now());
    const [mark, text] = this.describe(event);
    if (event.type !== 'start') this.finish(event.step, OUTCOME[event.type]);
    this.write(`  ${mark} ${this.plan.steps.indexOf(event.step) + 1}. ${text}\n`);
  }

  private describe(event: Exclude<RunEvent, { type: 'resume' | 'report' }>): [string, string] {
    const { title } = event.step;
    switch (event.type) {
      case 'start':
        return ['→', title];
      case 'done':
        return ['✓', `${title} (${this.seconds(event.step)})`];
      case 'already-done':
        return ['✓', `${title} (already done)`];
      case 'previously-done':
        return ['✓', `${title} (done in an earlier run)`];
      case 'skipped':
        return ['-', `${title} (skipped: its condition does not hold)`];
      case 'failed':
        return ['✗', `${title}: ${event.error.message}`];
      case 'stopped':
        return ['■', `stopped before ${title}: ${event.reason}`];
    }
  }

  /** The final table: every step reached, its outcome and duration. */
  summary(): string {
    const rows = this.outcomes.map(({ step, outcome, ms }) => {
      const time = ms === undefined ? '' : ` in ${(ms / 1000).toFixed(1)} s`;
      return `  ${step.id.padEnd(28)} ${outcome}${time}`;
    });
    const reached = new Set(this.outcomes.map((o) => o.step.id));
    const notRun = this.plan.steps.filter((s) => !reached.has(s.id)).map((s) => `  ${s.id.padEnd(28)} not run`);
    return `Summary (${this.plan.mode}):\n${[...rows, ...notRun].join('\n')}\n`;
  }

  private header(step: PlanStep): void {
    if (step.stage === this.stage) return;
    this.stage = step.stage;
    this.write(`[${step.stage}]\n`);
  }

  private finish(step: PlanStep, outcome: string): void {
    const start = this.started.get(step.id);
    this.outcomes.push({ step, outcome, ...(start === undefined ? {} : { ms: this.now() - start }) });
  }

  private seconds(step: PlanStep): string {
    const start = this.started.get(step.id);
    return start === undefined ? '' : `${((this.now() - start) / 1000).toFixed(1)} s`;
  }
}
