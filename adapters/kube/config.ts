import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeTarget {
  /** Path of a kubeconfig file; default: $KUBECONFIG, ~/.kube/config, then in-cluster. */
  kubeconfig?: string;
  context?: string;
}

/** The service account token a pod has; its presence means "in-cluster" (client-go's rule). */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * No kubeconfig anywhere kubectl looks. NOTE: client-node would fall back to http://localhost:8080 here, a server
 * nobody runs; kubectl's clientcmd calls the same case "no configuration has been provided".
 */
export class NoKubeConfigError extends Error {
  override readonly name = 'NoKubeConfigError';
}

/**
 * Loads a kubeconfig the way kubectl does: `target.kubeconfig`, else every file in $KUBECONFIG (merged, first
 * wins), else ~/.kube/config, else the pod's service account. Throws {@link NoKubeConfigError} when there is none,
 * and an error naming the file or context when one is unusable. `env` supplies KUBECONFIG and HOME.
 */
export function loadKubeConfig(
  target: KubeTarget,
  env: Readonly<Record<string, string | undefined>> = process.env,
): KubeConfig {
  const kc = new KubeConfig();
  const files = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = env.HOME ? join(env.HOME, '.kube', 'config') : undefined;
  if (target.kubeconfig) kc.loadFromFile(target.kubeconfig);
  else if (files.length > 0) loadMerged(kc, files);
  else if (home && existsSync(home)) kc.loadFromFile(home);
  else if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) kc.loadFromCluster();
  else {
    throw new NoKubeConfigError(
      `no kubeconfig: $KUBECONFIG is not set, ${home ?? '~/.kube/config'} does not exist and this is not a pod with a service account`,
    );
  }
  if (target.context) {
    if (!kc.getContextObject(target.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new Error(`context "${target.context}" not found in the kubeconfig (known: ${known.join(', ') || 'none'})`);
    }
    kc.setCurrentContext(target.context);
  }
  return kc;
}

/** $KUBECONFIG's files, merged as kubectl merges them: the first file to set a name wins. */
function loadMerged(kc: KubeConfig, files: readonly string[]): void {
  const [first, ...rest] = files;
  kc.loadFromFile(first as string);
  for (const file of rest) {
    if (!existsSync(file)) continue; // kubectl skips missing files in the list
    const more = new KubeConfig();
    more.loadFromFile(file);
    kc.mergeConfig(more);
  }
}

/** "context (server)" for messages. */
export function describeTarget(kc: KubeConfig): string {
  return `${kc.getCurrentContext() || '(no context)'} (${kc.getCurrentCluster()?.server ?? 'no server'})`;
}
