/**
 * Real nodes in the bed: start a set of them against a running control plane, or a scenario whose nodes mix real
 * ones (`real: true`, for fidelity) with kubelet stand-ins (for scale). Stopping powers every node off and undoes
 * what it changed on the machine; so does the reaper when the test process exits or loses its parent first.
 */
import type { ControlPlane } from '../plane.js';
import { onBedKill } from '../reaper.js';
import { applyScenario, type Scenario } from '../scenario.js';
import { type SimulatorOptions, type Simulators, startSimulators } from '../simulators.js';
import { type BootTimings, RealNode, type RealNodeSpec } from './node.js';
import type { RealNodeTools } from './tools.js';

export * from './config.js';
export { hostFingerprint, TOUCHED_SYSCTLS } from './host.js';
export * from './node.js';
export * from './tools.js';

export interface RealNodes {
  readonly nodes: readonly RealNode[];
  node(name: string): RealNode;
  /** Boot timings of the first power-on, per node. */
  readonly boots: ReadonlyMap<string, BootTimings>;
  /** Powers every node off and gives the machine back; safe to call twice. */
  stop(): Promise<void>;
}

export interface RealNodeOptions {
  log?: (message: string) => void;
  /** Registries (`host:port`) every node's containerd reaches over plain HTTP. */
  plainHttpRegistries?: readonly string[];
}

/** Creates and boots the nodes (one after the other: 2 cores) and waits until each is Ready. */
export async function startRealNodes(
  plane: ControlPlane,
  specs: readonly RealNodeSpec[],
  tools: RealNodeTools,
  options: RealNodeOptions = {},
): Promise<RealNodes> {
  const nodes: RealNode[] = [];
  const forget = onBedKill(() => {
    for (const node of nodes) node.killSync();
  });
  const boots = new Map<string, BootTimings>();
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= Promise.all(nodes.map((n) => n.stop())).then(() => {
      forget();
    });
    return stopping;
  };
  try {
    for (const spec of specs) {
      const plainHttpRegistries = [...(spec.plainHttpRegistries ?? []), ...(options.plainHttpRegistries ?? [])];
      const node = await RealNode.create({ ...spec, plainHttpRegistries }, plane, tools, options.log);
      nodes.push(node);
      boots.set(spec.name, await node.boot());
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes,
    boots,
    node: (name) => {
      const found = nodes.find((n) => n.name === name);
      if (!found) throw new Error(`No real node ${name}`);
      return found;
    },
    stop,
  };
}

export interface MixedScenario {
  real: RealNodes;
  simulators: Simulators;
  stop(): Promise<void>;
}

/**
 * The scenario's `real: true` nodes as real nodes, the others as stand-ins, then its objects applied. Workloads meant
 * for real nodes need an image the nodes hold (`BED_IMAGES.busybox`) or one the bed's registry serves.
 */
export async function startMixedScenario(
  plane: ControlPlane,
  scenario: Scenario,
  tools: RealNodeTools,
  options: RealNodeOptions & { simulators?: SimulatorOptions } = {},
): Promise<MixedScenario> {
  const realSpecs = scenario.nodes
    .filter((n) => n.real)
    .map((n) => ({
      name: n.name,
      role: n.role,
      labels: n.labels,
      taints: n.taints,
    }));
  const real = await startRealNodes(plane, realSpecs, tools, options);
  let simulators: Simulators | undefined;
  try {
    simulators = await startSimulators(
      plane.kubeConfig,
      scenario.nodes.filter((n) => !n.real),
      options.simulators,
    );
    await applyScenario(plane.kubeConfig, scenario);
  } catch (error) {
    await simulators?.stop();
    await real.stop();
    throw error;
  }
  const sims = simulators;
  return {
    real,
    simulators: sims,
    stop: async () => {
      await sims.stop();
      await real.stop();
    },
  };
}
