import type { DryRunRequest } from '../../adapters/kube/dry-run.js';
import type { RenderedPlan } from '../../core/api/index.js';

// The report `--dry-run=server` prints (cli/run/server-dry-run.ts builds it); `-o json` prints it as is.

/**
 * What the server said about one step. `allowed`: every request it sent was allowed (or held by a
 * PodDisruptionBudget, or found the object gone); `refused`: the server refused at least one; `failed`: the step
 * failed before or without a refused request (e.g. a drain the emptyDir rule forbids, a chain stage that does not
 * build); `already-done`: its check says so, nothing to send; `skipped`: its guard does not hold; `not-probed`: it
 * only reads, waits, or acts outside the API server.
 */
export type ProbeVerdict = 'allowed' | 'refused' | 'failed' | 'already-done' | 'skipped' | 'not-probed';

export interface StepProbe {
  id: string;
  stage: string;
  kind: string;
  title: string;
  verdict: ProbeVerdict;
  /** Every mutating request the step sent, in order, each with dryRun=All. */
  requests: DryRunRequest[];
  /** What the executor reported while it ran (e.g. which pods a drain would still hold). */
  notes: string[];
  /** Why it was not probed, skipped, or failed. */
  reason?: string;
}

export interface ServerDryRunReport {
  steps: StepProbe[];
  summary: Record<ProbeVerdict, number> & { requests: number; refusedRequests: number };
}

const VERDICT_TEXT: Record<ProbeVerdict, string> = {
  allowed: 'allowed',
  refused: 'REFUSED',
  failed: 'WOULD FAIL',
  'already-done': 'already done: nothing to send',
  skipped: 'skipped',
  'not-probed': 'not probed',
};

function renderStep(probe: StepProbe, index: number, width: number): string[] {
  const number = `${index + 1}.`.padStart(width + 1);
  const pad = ' '.repeat(width + 3);
  const reason = probe.reason ? `: ${probe.reason}` : '';
  const lines = [`${number} [${probe.stage}] ${probe.title}`, `${pad}→ ${VERDICT_TEXT[probe.verdict]}${reason}`];
  for (const r of probe.requests) {
    lines.push(`${pad}${r.outcome.padEnd(8)} ${r.verb} ${r.target}${r.message ? `: ${r.message}` : ''}`);
  }
  if ((probe.verdict === 'allowed' || probe.verdict === 'failed') && probe.requests.length === 0) {
    lines.push(`${pad}(no request needed)`);
  }
  for (const note of probe.notes) lines.push(`${pad}note:    ${note}`);
  return lines;
}

/**
 * The server's answers, step by step with the plan's numbers: each mutating request with `allowed`, `held` (a
 * PodDisruptionBudget, retried by a real drain), `gone` or `refused` and the server's message, then a summary.
 */
export function renderServerDryRunText(plan: RenderedPlan, report: ServerDryRunReport): string {
  const width = String(plan.steps.length).length;
  const { summary } = report;
  const bad = summary.refused + summary.failed;
  const lines = [
    'SERVER DRY-RUN: every change below was sent with dryRun=All; the API server checked authentication, RBAC,',
    'admission and validation, and stored nothing. No state file was written.',
    '',
    ...report.steps.flatMap((probe, i) => renderStep(probe, i, width)),
    '',
    `Summary: ${summary.requests} request(s) sent, ${summary.refusedRequests} refused; steps: ${summary.allowed} allowed, ` +
      `${summary.refused} refused, ${summary.failed} would fail, ${summary['already-done']} already done, ` +
      `${summary.skipped} skipped, ${summary['not-probed']} not probed (no change to send).`,
    bad > 0 ? '--execute would fail: fix what is refused above first.' : '--execute would be allowed by the server.',
  ];
  return `${lines.join('\n')}\n`;
}
