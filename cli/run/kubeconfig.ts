/**
 * The kubeconfig a command's own `--kubeconfig`/`--context` name (as kubectl finds it when neither is given), with
 * `--request-timeout` on its clients. One that cannot be used is bad input (exit 2) naming why.
 * NOTE: client-node is loaded here, on use: --help and offline work never load it.
 */
import { resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { expandHome } from '../../adapters/paths.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  requestTimeout?: number;
}

export async function kubeConfigFromFlags(flags: KubeFlags, deps: CliDeps): Promise<KubeConfig> {
  const { loadKubeConfig } = await import('../../adapters/kube/config.js');
  let kc: KubeConfig;
  try {
    const kubeconfig = flags.kubeconfig
      ? { kubeconfig: resolve(deps.cwd, expandHome(flags.kubeconfig, deps.env)) }
      : {};
    kc = loadKubeConfig({ ...kubeconfig, ...(flags.context ? { context: flags.context } : {}) }, deps.env);
  } catch (cause) {
    throw new ExitError(ExitCode.Usage, `cannot use the kubeconfig: ${(cause as Error).message}`, { cause });
  }
  if (flags.requestTimeout) {
    const { withRequestTimeout } = await import('../../adapters/kube/request-timeout.js');
    withRequestTimeout(kc, flags.requestTimeout);
  }
  return kc;
}
