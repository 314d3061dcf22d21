/**
 * Starts and stops every stand-in together: the kubelet (one per scenario node), Flux and Longhorn. The
 * control plane must already run with the Flux and Longhorn CRDs installed (`startControlPlane({ crds })`).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { FluxStandIn, type FluxStandInOptions } from './flux.js';
import { type KubeletNodeSpec, type KubeletOptions, KubeletStandIn } from './kubelet/index.js';
import { LonghornStandIn, type LonghornStandInOptions } from './longhorn.js';
import { type ApplyResult, applyScenario, type Scenario } from './scenario.js';

export interface SimulatorOptions {
  kubelet?: KubeletOptions;
  /** false: no Flux stand-in (e.g. the Flux CRDs are not installed). */
  flux?: FluxStandInOptions | false;
  /** false: no Longhorn stand-in. */
  longhorn?: LonghornStandInOptions | false;
}

export interface Simulators {
  readonly kubelet: KubeletStandIn;
  readonly flux: FluxStandIn | undefined;
  readonly longhorn: LonghornStandIn | undefined;
  /** Stops every stand-in (the objects they wrote stay); safe to call twice. */
  stop(): Promise<void>;
}

export async function startSimulators(
  kubeConfig: KubeConfig,
  nodes: readonly KubeletNodeSpec[],
  options: SimulatorOptions = {},
): Promise<Simulators> {
  const started: { stop(): Promise<void> }[] = [];
  try {
    const kubelet = await KubeletStandIn.start(kubeConfig, nodes, options.kubelet);
    started.push(kubelet);
    const flux = options.flux === false ? undefined : await FluxStandIn.start(kubeConfig, options.flux);
    if (flux) started.push(flux);
    const longhorn = options.longhorn === false ? undefined : await LonghornStandIn.start(kubeConfig, options.longhorn);
    if (longhorn) started.push(longhorn);
    let stopping: Promise<void> | undefined;
    return {
      kubelet,
      flux,
      longhorn,
      stop: () => {
        stopping ??= Promise.all(started.map((s) => s.stop())).then(() => undefined);
        return stopping;
      },
    };
  } catch (error) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw error;
  }
}

/** The stand-ins for the scenario's nodes, then the scenario applied. */
export async function startScenario(
  kubeConfig: KubeConfig,
  scenario: Scenario,
  options: SimulatorOptions = {},
): Promise<Simulators & { applied: ApplyResult['applied'] }> {
  const real = scenario.nodes.filter((n) => n.real).map((n) => n.name);
  if (real.length > 0) {
    // NOTE: a stand-in in place of a node the scenario asks to be real would test less than it says
    throw new Error(
      `nodes ${real.join(', ')} are real: start this scenario with startMixedScenario (bed/real-node/), which boots them`,
    );
  }
  const simulators = await startSimulators(kubeConfig, scenario.nodes, options);
  try {
    const { applied } = await applyScenario(kubeConfig, scenario);
    return Object.assign(simulators, { applied });
  } catch (error) {
    await simulators.stop();
    throw error;
  }
}

/**
 * Polls `probe` until it returns a value other than undefined/false, or throws with `what` and the last
 * observation after `timeoutMs`.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 200 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
