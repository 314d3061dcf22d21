import { KubeConfig } from '@kubernetes/client-node';

export interface KubeTarget {
  /** Path of a kubeconfig file; default: $KUBECONFIG, ~/.kube/config, then in-cluster. */
  kubeconfig?: string;
  context?: string;
}

/** Loads a kubeconfig the way kubectl does, or throws with the file and context named. */
export function loadKubeConfig(target: KubeTarget): KubeConfig {
  const kc = new KubeConfig();
  if (target.kubeconfig) kc.loadFromFile(target.kubeconfig);
  else kc.loadFromDefault();
  if (target.context) {
    if (!kc.getContextObject(target.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new Error(`context "${target.context}" not found in the kubeconfig (known: ${known.join(', ') || 'none'})`);
    }
    kc.setCurrentContext(target.context);
  }
  return kc;
}

/** "context (server)" for messages. */
export function describeTarget(kc: KubeConfig): string {
  return `${kc.getCurrentContext() || '(no context)'} (${kc.getCurrentCluster()?.server ?? 'no server'})`;
}
