import type { PlanStep, RenderedPlan } from '../../core/api/index.js';

const GUARD_TEXT: Record<string, string> = {
  'flux-source-not-ready': 'only if the Flux source is not Ready',
};

const MODE_SUMMARY: Record<RenderedPlan['mode'], string> = {
  prepare: 'gets everything a cold boot needs ready while the cluster is healthy',
  shutdown: 'takes the cluster down in order, recording every change so that startup can undo it',
  'emergency-shutdown': 'takes the cluster down fast on a second outage: no drains',
  startup: 'brings the cluster back after a cold boot, breaking the Flux/Gitea and Harbor deadlocks',
  'harbor-seed': "puts Harbor's own images on its node so that Harbor can start",
};

/** The number of the first step of the run of consecutive steps with these same blockers, if not this one. */
function sameBlockersAs(steps: readonly PlanStep[], index: number): number | undefined {
  const key = JSON.stringify(steps[index]?.blockers);
  let first = index;
  while (first > 0 && JSON.stringify(steps[first - 1]?.blockers) === key) first -= 1;
  return first < index && (steps[index]?.blockers.length ?? 0) > 1 ? first + 1 : undefined;
}

function renderStep(step: PlanStep, index: number, width: number, sameAs?: number): string[] {
  const number = `${index + 1}.`.padStart(width + 1);
  const flags = [step.destructive ? 'changes the cluster' : '', GUARD_TEXT[step.when] ?? ''].filter(Boolean);
  const pad = ' '.repeat(width + 3);
  const lines = [`${number} [${step.stage}] ${step.title}${flags.length ? `  (${flags.join('; ')})` : ''}`];
  lines.push(`${pad}targets: ${step.targets.join(', ')}`);
  lines.push(`${pad}why:     ${step.why}`);
  if (sameAs) lines.push(`${pad}watch:   as step ${sameAs} above`);
  else for (const blocker of step.blockers) lines.push(`${pad}watch:   ${blocker}`);
  return lines;
}

/** The dry-run as people read it: a header, numbered steps with targets, reasons and blockers, then notes. */
export function renderPlanText(plan: RenderedPlan, source: string): string {
  const mode = plan.execute ? 'EXECUTE' : 'DRY-RUN: nothing will be changed; add --execute to act';
  const width = String(plan.steps.length).length;
  const lines = [
    `hecate ${plan.mode}: plan "${plan.planName}" from ${source}`,
    `${mode}`,
    `${plan.mode} ${MODE_SUMMARY[plan.mode]}. ${plan.steps.length} steps:`,
    '',
    ...plan.steps.flatMap((step, i) => renderStep(step, i, width, sameBlockersAs(plan.steps, i))),
  ];
  if (plan.notes.length > 0) lines.push('', 'Notes:', ...plan.notes.map((n) => `  - ${n}`));
  return `${lines.join('\n')}\n`;
}
