/** The draft PowerPlan as a file: YAML 1.1, a header listing its TODOs, each TODO field empty with its comment. */
import { Document } from 'yaml';
import { formatPath } from '../api/validate.js';
import type { DraftPlan, DraftTodo } from './draft-model.js';

export const todoField = (todo: DraftTodo) => formatPath(todo.path);

/** The draft as YAML 1.1: a header listing the TODOs and review points, each TODO field empty with its comment. */
export function draftPlanYaml(draft: DraftPlan, repo: string, cluster: string): string {
  const doc = new Document(draft.plan, { version: '1.1' });
  for (const todo of draft.todos) {
    const node = doc.getIn(todo.path, true) as { comment?: string } | undefined;
    if (node) node.comment = ` TODO: ${todo.what}`;
  }
  const header = [`# Draft PowerPlan from \`hecate analyze --repo ${repo} --cluster ${cluster}\`.`];
  if (draft.todos.length > 0) {
    header.push(
      `# It does not validate until ${draft.todos.length === 1 ? 'this TODO is' : `these ${draft.todos.length} TODOs are`} filled (each is marked below):`,
      ...draft.todos.map((t) => `#   - ${todoField(t)}: ${t.what}`),
    );
  }
  if (draft.review.length > 0) header.push('# Review before use:', ...draft.review.map((line) => `#   - ${line}`));
  return `${header.join('\n')}\n${doc.toString({ lineWidth: 0, nullStr: '' })}`;
}
