/**
 * The storage a cluster runs, so that a drafted plan waits for that storage and not another: Longhorn, Rook-Ceph,
 * TopoLVM or local-path, each recognised by its Helm chart, its StorageClass provisioner or its custom resources.
 */
import type { Deployed, DeployIndex } from './deploy.js';
import { asString, dig } from './input.js';
import { objectLabel } from './model.js';

export type StorageKind = 'longhorn' | 'rook-ceph' | 'topolvm' | 'local-path';

export interface StorageUse {
  kind: StorageKind;
  /** The Kustomization that deploys it. */
  kustomization: string;
  /** The namespace its workloads run in, when the repo says. */
  namespace?: string;
  /** What showed it, such as `HelmRelease longhorn-system/longhorn (chart longhorn)`. */
  evidence: string[];
  /** What a chain stage should wait for: the release, or the Ceph cluster. */
  waitFor: { kind: string; namespace: string; name: string }[];
}

export const STORAGE_NAMES: Record<StorageKind, string> = {
  longhorn: 'Longhorn',
  'rook-ceph': 'Rook-Ceph',
  topolvm: 'TopoLVM',
  'local-path': 'local-path',
};

const CHARTS: Record<string, StorageKind> = {
  longhorn: 'longhorn',
  'rook-ceph': 'rook-ceph',
  'rook-ceph-cluster': 'rook-ceph',
  topolvm: 'topolvm',
  'local-path-provisioner': 'local-path',
};

const PROVISIONERS: [RegExp, StorageKind][] = [
  [/^driver\.longhorn\.io$/, 'longhorn'],
  [/\.csi\.ceph\.com$/, 'rook-ceph'],
  [/^topolvm\.(io|cybozu\.com)$/, 'topolvm'],
  [/^rancher\.io\/local-path$/, 'local-path'],
];

function kindOf(item: Deployed): { kind: StorageKind; why: string; wait: boolean } | undefined {
  const { id, doc } = item;
  if (id.kind === 'HelmRelease') {
    const chart =
      asString(dig(doc.value, 'spec', 'chart', 'spec', 'chart')) ??
      asString(dig(doc.value, 'spec', 'chartRef', 'name'));
    const kind = chart ? CHARTS[chart] : undefined;
    return kind ? { kind, why: `chart ${chart}`, wait: true } : undefined;
  }
  if (id.kind === 'StorageClass') {
    const provisioner = asString(dig(doc.value, 'provisioner')) ?? '';
    const kind = PROVISIONERS.find(([re]) => re.test(provisioner))?.[1];
    return kind ? { kind, why: `provisioner ${provisioner}`, wait: false } : undefined;
  }
  if (id.kind === 'CephCluster') return { kind: 'rook-ceph', why: 'a CephCluster', wait: true };
  if (id.kind === 'Deployment' && id.name === 'local-path-provisioner') {
    return { kind: 'local-path', why: 'the local-path-provisioner Deployment', wait: true };
  }
  return undefined;
}

/** Every storage system the cluster deploys, one entry per system and Kustomization. */
export function detectStorage(index: DeployIndex): StorageUse[] {
  const out = new Map<string, StorageUse>();
  for (const [owner, items] of index.byOwner) {
    for (const item of items) {
      const found = kindOf(item);
      if (!found) continue;
      const key = `${found.kind}\n${owner}`;
      const use = out.get(key) ?? { kind: found.kind, kustomization: owner, evidence: [], waitFor: [] };
      use.evidence.push(`${objectLabel(item.id)} (${found.why}, ${item.doc.file}:${item.doc.line})`);
      if (found.wait) use.waitFor.push({ kind: item.id.kind, namespace: item.id.namespace, name: item.id.name });
      if (found.wait && !use.namespace && item.id.namespace) use.namespace = item.id.namespace;
      out.set(key, use);
    }
  }
  return [...out.values()];
}
