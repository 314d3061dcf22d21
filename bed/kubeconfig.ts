/** KubeConfigs for the bed: one cluster, one user each (client certificate or bearer token). */
import { writeFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { toYaml } from '../core/api/yaml.js';

export type BedUser = { name: string; certPem: string; keyPem: string } | { name: string; token: string };

export function bedKubeConfig(server: string, caPem: string, user: BedUser): KubeConfig {
  const kc = new KubeConfig();
  const credentials =
    'token' in user ? { token: user.token } : { certData: base64(user.certPem), keyData: base64(user.keyPem) };
  kc.loadFromOptions({
    clusters: [{ name: 'hecate-bed', server, caData: base64(caPem), skipTLSVerify: false }],
    users: [{ name: user.name, ...credentials }],
    contexts: [{ name: 'hecate-bed', cluster: 'hecate-bed', user: user.name }],
    currentContext: 'hecate-bed',
  });
  return kc;
}

/** Writes `kc` as a kubeconfig file that kubectl and other programs can use. */
export async function writeKubeConfigFile(kc: KubeConfig, path: string): Promise<string> {
  await writeFile(path, toYaml(JSON.parse(kc.exportConfig())), { mode: 0o600 });
  return path;
}

/** A kubeconfig file for a component that reads its credentials from files (controller-manager, scheduler). */
export function componentKubeConfigYaml(server: string, caPath: string, certPath: string, keyPath: string): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'hecate-bed', cluster: { server, 'certificate-authority': caPath } }],
    users: [{ name: 'component', user: { 'client-certificate': certPath, 'client-key': keyPath } }],
    contexts: [{ name: 'hecate-bed', context: { cluster: 'hecate-bed', user: 'component' } }],
    'current-context': 'hecate-bed',
  });
}

function base64(text: string): string {
  return Buffer.from(text).toString('base64');
}
