import { type PlanStep, type PlanStepInput, planStep } from '../api/plan.js';
import type { PlanNode } from '../api/powerplan.js';

/** Builds a step with the schema's defaults applied. */
export function step(input: PlanStepInput): PlanStep {
  return planStep.parse(input);
}

/** Seconds from a millisecond duration, rounded up. */
export function seconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/** Nodes of one role in power-off order: lower `order` first, then by name. */
export function nodesInOrder(nodes: readonly PlanNode[], role: PlanNode['role']): PlanNode[] {
  return nodes.filter((n) => n.role === role).sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

/** Human list: "a, b and c". */
export function humanList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
