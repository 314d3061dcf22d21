import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApi } from '../../adapters/kube/api.js';
import { KubeFlux } from '../../adapters/kube/flux.js';
import { KubeNodes } from '../../adapters/kube/nodes.js';
import { KubePods } from '../../adapters/kube/pods.js';
import { KubeStorage } from '../../adapters/kube/storage.js';
import type { PowerPlanSpec } from '../../core/api/index.js';
import { toDrainOptions } from '../../core/drain/options.js';
import { StepKind } from '../../core/plan/index.js';
import type { Executors, GuardEvaluator } from '../../core/run/executor.js';
import { drainNode } from '../../core/steps/drain.js';
import { checkFluxSource, fluxSourceNotReadyGuard, resumeFlux, suspendFlux, waitFlux } from '../../core/steps/flux.js';
import { coreExecutors } from '../../core/steps/index.js';
import { uncordonNodes, waitApi, waitNodes } from '../../core/steps/nodes.js';
import { quiesceStorage } from '../../core/steps/storage.js';

export interface ClusterWiring {
  executors: Executors;
  guard: GuardEvaluator;
}

/** Builds every executor this build has, on real adapters. The one place the CLI turns ports into adapters. */
export function clusterExecutors(kc: KubeConfig, spec: PowerPlanSpec): ClusterWiring {
  const flux = new KubeFlux(kc);
  const nodes = new KubeNodes(kc);
  const sourceNotReady = fluxSourceNotReadyGuard(flux, spec);
  return {
    executors: {
      ...coreExecutors(),
      [StepKind.SuspendFlux]: suspendFlux(flux, spec),
      [StepKind.ResumeFlux]: resumeFlux(flux, spec),
      [StepKind.WaitFlux]: waitFlux(flux, spec),
      [StepKind.CheckFluxSource]: checkFluxSource(flux, spec),
      [StepKind.WaitApi]: waitApi(new KubeApi(kc)),
      [StepKind.WaitNodes]: waitNodes(nodes),
      [StepKind.Uncordon]: uncordonNodes(nodes),
      [StepKind.DrainNode]: drainNode(nodes, new KubePods(kc), toDrainOptions(spec.drain)),
      [StepKind.QuiesceStorage]: quiesceStorage(new KubeStorage(kc), { nodes }),
    },
    guard: async (guard) => (guard === 'flux-source-not-ready' ? sourceNotReady() : true),
  };
}
