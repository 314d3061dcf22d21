import type { PlanStep, RenderedPlan } from '../../core/api/index.js';
import type { RunEvent } from '../../core/run/runner.js';

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
    if (event.type === 'resume') return this.write(`Resuming: ${event.done} step(s) already done in an earlier run\n`);
    this.header(event.step);
    const n = this.plan.steps.indexOf(event.step) + 1;
    const line = (mark: string, text: string) => this.write(`  ${mark} ${n}. ${text}\n`);
    switch (event.type) {
      case 'start':
        this.started.set(event.step.id, this.now());
        return line('→', event.step.title);
      case 'report':
        return this.write(`       ${event.message}\n`);
      case 'done':
        this.finish(event.step, 'done');
        return line('✓', `${event.step.title} (${this.seconds(event.step)})`);
      case 'already-done':
        this.finish(event.step, 'already done');
        return line('✓', `${event.step.title} (already done)`);
      case 'previously-done':
        this.finish(event.step, 'done in an earlier run');
        return line('✓', `${event.step.title} (done in an earlier run)`);
      case 'skipped':
        this.finish(event.step, 'skipped');
        return line('-', `${event.step.title} (skipped: its condition does not hold)`);
      case 'failed':
        this.finish(event.step, 'FAILED');
        return line('✗', `${event.step.title}: ${event.error.message}`);
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
