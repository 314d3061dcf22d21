/**
 * A draft PowerPlan from the analysis. It never holds an invented value: a field the repo (or, for nodes, the live
 * cluster) does not decide is written empty with a `# TODO:` comment, so that the draft does not validate until a
 * person fills it. What is derived but worth a look goes into `review`.
 */

import { DRAFTED_WAIT_KINDS } from '../api/kinds.js';
import { API_VERSION } from '../api/meta.js';
import { powerPlan } from '../api/powerplan.js';
import { parseOrThrow } from '../api/validate.js';
import { harborSpec, LABEL, labelValuesIn, SUBDOMAIN } from './draft-harbor.js';
import type { Draft, DraftInput, DraftPlan } from './draft-model.js';
import { isTemplate } from './hosts.js';
import type { FluxKustomization } from './model.js';
import { ksKey } from './model.js';
import { STORAGE_NAMES } from './storage.js';

const DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const MAX_WAIT = 6;

function toLabel(name: string, taken: Set<string>): string {
  const base =
    name
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 56) || 'stage';
  let label = base;
  for (let i = 2; taken.has(label); i++) label = `${base}-${i}`;
  taken.add(label);
  return label;
}

type Ref = { kind: string; namespace?: string; name: string };

/** Flux's own health checks when the Kustomization has them, else the storage it runs, then its workloads. */
function waitFor(draft: Draft, ks: FluxKustomization | undefined, key: string, stage: string): Ref[] {
  const deployed = draft.input.index.byOwner.get(key) ?? [];
  const storage = draft.input.storage.filter((s) => s.kustomization === key).flatMap((s) => s.waitFor);
  const refs: Ref[] =
    ks && ks.healthChecks.length > 0
      ? ks.healthChecks
      : [...storage, ...deployed.map((d) => d.id).filter((id) => DRAFTED_WAIT_KINDS.has(id.kind))];
  const seen = new Set<string>();
  const valid = refs.filter((r) => {
    const k = `${r.kind}/${r.namespace}/${r.name}`;
    const ok = !seen.has(k) && SUBDOMAIN.test(r.name) && (!r.namespace || LABEL.test(r.namespace));
    seen.add(k);
    return ok;
  });
  if (valid.length > MAX_WAIT) {
    draft.review.push(
      `bootstrapChain ${stage}: waits for the first ${MAX_WAIT} of ${valid.length} workloads; check which matter`,
    );
  }
  return valid
    .slice(0, MAX_WAIT)
    .map((r) => ({ kind: r.kind, ...(r.namespace ? { namespace: r.namespace } : {}), name: r.name }));
}

function chainStages(draft: Draft): unknown {
  const { input } = draft;
  const byKey = new Map(input.kustomizations.map((k) => [ksKey(k), k]));
  const taken = new Set<string>();
  if (input.chain.stages.length === 0) {
    draft.todos.push({
      path: ['spec', 'bootstrapChain'],
      what: `no self-hosted Flux source was found in cluster ${input.cluster}: list the stages (name, path, kustomization) that bring the Flux source back, in order`,
    });
    return null;
  }
  return input.chain.stages.map((stage) => {
    const ks = byKey.get(stage.key);
    const name = toLabel(stage.name, taken);
    const wait = waitFor(draft, ks, stage.key, name);
    return {
      name,
      path: stage.path || '.',
      kustomization: { name: stage.name, ...(LABEL.test(stage.namespace) ? { namespace: stage.namespace } : {}) },
      ...(wait.length > 0 ? { waitFor: wait } : {}),
      ...(ks?.timeout && DURATION.test(ks.timeout) ? { timeout: ks.timeout } : {}),
    };
  });
}

function fluxSpec(draft: Draft): Record<string, unknown> {
  const { input } = draft;
  const deadlock = input.git[0]?.source;
  const source = deadlock ?? input.repoSource;
  const flux: Record<string, unknown> = {};
  if (input.rootKustomization && SUBDOMAIN.test(input.rootKustomization.name)) {
    flux.rootKustomization = input.rootKustomization.name;
  } else {
    draft.review.push(
      'flux.rootKustomization: the root Kustomization is not in the repo; the default flux-system applies (check with: flux get kustomizations -A)',
    );
  }
  if (!source || source.kind === 'HelmRepository') {
    draft.review.push(
      "flux.source: the repo does not define the cluster's Flux source; the defaults (GitRepository flux-system) apply",
    );
    return flux;
  }
  if (LABEL.test(source.namespace)) flux.namespace = source.namespace;
  const url = deadlock ? deadlock.url : source.url ? input.vars.resolve(source.url, undefined).value : undefined;
  const src: Record<string, unknown> = { kind: source.kind, name: source.name };
  if (url && (isTemplate(url) || url.includes('${'))) {
    src.url = null;
    draft.todos.push({
      path: ['spec', 'flux', 'source', 'url'],
      what: `the clone URL of ${source.kind} ${source.namespace}/${source.name}: the repo writes "${source.url ?? url}" and does not resolve its variables`,
    });
  } else if (url) src.url = url;
  else draft.review.push(`flux.source.url: ${source.kind} ${source.namespace}/${source.name} has no URL in the repo`);
  if (source.branch) src.branch = source.branch;
  flux.source = src;
  return flux;
}

function nodesSpec(draft: Draft): unknown {
  const { input } = draft;
  if (input.nodes && input.nodes.nodes.length > 0) {
    draft.review.push(
      `nodes: read from ${input.nodes.from}; set each node's order and address if power-off needs them`,
    );
    return input.nodes.nodes.map((n) => ({ name: n.name, role: n.role, ...(n.arch ? { arch: n.arch } : {}) }));
  }
  const seen = new Set<string>();
  for (const items of input.index.byOwner.values())
    for (const d of items) labelValuesIn(d.doc.value, 'kubernetes.io/hostname', seen);
  const hint = seen.size > 0 ? ` (the repo pins workloads to ${[...seen].sort().join(', ')})` : '';
  draft.todos.push({
    path: ['spec', 'nodes'],
    what: `every node with its name, role (control-plane or worker) and arch${hint}; or rerun with --kubeconfig to read them from the cluster`,
  });
  return null;
}

function storageSpec(draft: Draft): Record<string, unknown> {
  const uses = draft.input.storage;
  const longhorn = uses.find((u) => u.kind === 'longhorn');
  if (longhorn) {
    const namespace = longhorn.namespace && LABEL.test(longhorn.namespace) ? { namespace: longhorn.namespace } : {};
    return { longhorn: true, ...namespace };
  }
  if (uses.length === 0) {
    draft.todos.push({
      path: ['spec', 'storage', 'longhorn'],
      what: `true when cluster ${draft.input.cluster} runs Longhorn (shutdown then waits for its volumes to detach), else false: the repo shows no Longhorn, Rook-Ceph, TopoLVM or local-path`,
    });
    return { longhorn: null };
  }
  const names = [...new Set(uses.map((u) => STORAGE_NAMES[u.kind]))].join(', ');
  draft.review.push(
    `storage: the cluster runs ${names} (${uses.flatMap((u) => u.evidence).join('; ')}), not Longhorn: no Longhorn wait; the chain waits for the storage's own objects`,
  );
  return { longhorn: false };
}

/** Drafts a PowerPlan from the derived chain and the registry seed; TODOs where the repo does not decide. */
export function draftPlan(input: DraftInput): DraftPlan {
  const draft: Draft = { input, todos: [], review: [] };
  const spec: Record<string, unknown> = { flux: fluxSpec(draft), bootstrapChain: chainStages(draft) };
  const harbor = harborSpec(draft);
  if (harbor) spec.harbor = harbor;
  spec.nodes = nodesSpec(draft);
  spec.storage = storageSpec(draft);
  const plan = { apiVersion: API_VERSION, kind: 'PowerPlan' as const, metadata: { name: input.name }, spec };
  // NOTE: a draft without TODOs must validate; one with TODOs must not (a null never passes the schema).
  if (draft.todos.length === 0) parseOrThrow(powerPlan, plan, 'the drafted PowerPlan');
  return { plan, todos: draft.todos, review: draft.review };
}

export { draftPlanYaml, todoField } from './draft-yaml.js';
