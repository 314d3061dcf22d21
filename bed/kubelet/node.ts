/**
 * What a k3s kubelet registers and reports for its node, as plain objects (pure builders).
 */
import { createHash, randomUUID } from 'node:crypto';

export interface KubeletNodeSpec {
  name: string;
  role: 'control-plane' | 'worker';
  arch?: 'amd64' | 'arm64';
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[];
  capacity?: { cpu?: string; memory?: string; pods?: number };
  /** Images in the node's containerd at boot. */
  images?: string[];
}

export const KUBELET_VERSION = 'v1.34.4+k3s1';
export const LEASE_NAMESPACE = 'kube-node-lease';
export const LEASE_DURATION_SECONDS = 40;

/** `busybox:1.37` → `docker.io/library/busybox:1.37`, as containerd names it; no tag means `:latest`. */
export function normalizeImage(image: string): string {
  const [name, digest] = image.split('@') as [string, string | undefined];
  const first = name.split('/')[0] ?? '';
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  let full = hasRegistry ? name : name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
  const last = full.split('/').pop() ?? '';
  if (!digest && !last.includes(':')) full = `${full}:latest`;
  return digest ? `${full}@${digest}` : full;
}

export function imageDigest(image: string): string {
  return `sha256:${createHash('sha256').update(normalizeImage(image)).digest('hex')}`;
}

export function nodeLabels(spec: KubeletNodeSpec): Record<string, string> {
  const arch = spec.arch ?? 'amd64';
  const role: Record<string, string> =
    spec.role === 'control-plane'
      ? {
          'node-role.kubernetes.io/control-plane': 'true',
          'node-role.kubernetes.io/master': 'true',
          'node-role.kubernetes.io/etcd': 'true',
        }
      : { 'node-role.kubernetes.io/worker': 'true' };
  return {
    'beta.kubernetes.io/arch': arch,
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': arch,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/hostname': spec.name,
    'node.kubernetes.io/instance-type': 'k3s',
    ...role,
    ...(spec.labels ?? {}),
  };
}

export function hostIP(index: number): string {
  return `192.168.22.${11 + index}`;
}

export interface NodeState {
  spec: KubeletNodeSpec;
  index: number;
  bootID: string;
  /** When Ready last changed (power on). */
  readySince: string;
  images: Set<string>;
}

export function newNodeState(
  spec: KubeletNodeSpec,
  index: number,
  now: Date,
  bootID: string = randomUUID(),
): NodeState {
  return {
    spec,
    index,
    bootID,
    readySince: rfc3339(now),
    images: new Set((spec.images ?? []).map(normalizeImage)),
  };
}

export function nodeObject(state: NodeState, now: Date) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: state.spec.name,
      labels: nodeLabels(state.spec),
      annotations: {
        'k3s.io/hostname': state.spec.name,
        'k3s.io/internal-ip': hostIP(state.index),
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: {
      providerID: `k3s://${state.spec.name}`,
      ...(state.spec.taints && state.spec.taints.length > 0 ? { taints: state.spec.taints } : {}),
    },
    status: nodeStatus(state, now),
  };
}

/** The full status a kubelet posts: conditions with a fresh heartbeat, capacity, addresses, info, images. */
export function nodeStatus(state: NodeState, now: Date) {
  const heartbeat = rfc3339(now);
  const condition = (type: string, status: string, reason: string, message: string, since: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: heartbeat,
    lastTransitionTime: since,
  });
  const capacity = {
    cpu: state.spec.capacity?.cpu ?? '4',
    memory: state.spec.capacity?.memory ?? '16Gi',
    pods: String(state.spec.capacity?.pods ?? 110),
    'ephemeral-storage': '100Gi',
  };
  return {
    capacity,
    allocatable: capacity,
    conditions: [
      condition(
        'MemoryPressure',
        'False',
        'KubeletHasSufficientMemory',
        'kubelet has sufficient memory available',
        state.readySince,
      ),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure', state.readySince),
      condition(
        'PIDPressure',
        'False',
        'KubeletHasSufficientPID',
        'kubelet has sufficient PID available',
        state.readySince,
      ),
      condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status', state.readySince),
    ],
    addresses: [
      { type: 'InternalIP', address: hostIP(state.index) },
      { type: 'Hostname', address: state.spec.name },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    nodeInfo: {
      machineID: createHash('md5').update(state.spec.name).digest('hex'),
      systemUUID: createHash('md5').update(`uuid-${state.spec.name}`).digest('hex'),
      bootID: state.bootID,
      kernelVersion: '6.12.0-bed',
      osImage: 'Debian GNU/Linux 13 (trixie)',
      containerRuntimeVersion: 'containerd://2.1.4-k3s1',
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: KUBELET_VERSION,
      operatingSystem: 'linux',
      architecture: state.spec.arch ?? 'amd64',
    },
    images: [...state.images].sort().map((image) => ({
      names: [`${image.split(':')[0]?.split('@')[0]}@${imageDigest(image)}`, image],
      sizeBytes: 10_000_000 + (Number.parseInt(imageDigest(image).slice(7, 13), 16) % 90_000_000),
    })),
  };
}

/** The node's Lease in kube-node-lease, renewed at `now` (MicroTime needs exactly six fraction digits). */
export function leaseObject(name: string, nodeUid: string | undefined, now: Date) {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace: LEASE_NAMESPACE,
      ...(nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: nodeUid }] } : {}),
    },
    spec: { holderIdentity: name, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime(now) },
  };
}

export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d+)Z$/, (_, ms: string) => `.${ms.padEnd(6, '0')}Z`);
}
