/**
 * What one real node is made of, as plain data: its slot on this machine (IP, bridge, pod subnet, cgroup root) and
 * the text of its containerd, CNI and kubelet configurations. Pure; ./node.ts writes and runs them.
 *
 * NOTE: the node runs in its own mount namespace where /run is a fresh tmpfs and the node's folders are bind-mounted
 * on the standard paths (./node.ts), so containerd, ctr, the kubelet and the CNI plugins all use their defaults.
 */
import { toYaml } from '../../core/api/yaml.js';

/** A node's share of the machine; `index` (1-254) is unique among the real nodes running on it. */
export interface NodeSlot {
  index: number;
  /** 10.77.0.<index>, on the loopback device: the kubelet refuses a 127/8 node IP, and there is no dummy device. */
  ip: string;
  /** ≤ 15 characters (a Linux interface name). */
  bridge: string;
  /** 10.88.<index>.0/24 */
  podSubnet: string;
  /** `/hecate-<index>`: in every cgroup v1 hierarchy; a shared root would make kubelets delete each other's pods. */
  cgroupRoot: string;
}

export const SLOT_PREFIX = 'hecate-';

export function nodeSlot(index: number): NodeSlot {
  if (!Number.isInteger(index) || index < 1 || index > 254) throw new RangeError(`slot ${index} is not in 1-254`);
  return {
    index,
    ip: `10.77.0.${index}`,
    bridge: `hbed${index}`,
    podSubnet: `10.88.${index}.0/24`,
    cgroupRoot: `/${SLOT_PREFIX}${index}`,
  };
}

/** The standard paths the node's own folders (relative to its directory) are bind-mounted on. */
export const NODE_MOUNTS = {
  '/var/lib/kubelet': 'kubelet',
  '/var/lib/containerd': 'containerd',
  '/var/log/pods': 'pod-logs',
  '/var/log/containers': 'container-logs',
  '/etc/cni/net.d': 'cni-net.d',
  '/var/lib/cni': 'cni-lib',
} as const;

export interface ContainerdInput {
  sandboxImage: string;
  /** `host:port` of registries served over plain HTTP (the bed's own registry). */
  plainHttpRegistries: readonly string[];
}

export function containerdToml(input: ContainerdInput): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    'version = 2',
    `[${cri}]`,
    `  sandbox_image = ${JSON.stringify(input.sandboxImage)}`,
    // NOTE: root lacks CAP_SYS_RESOURCE on this machine kind: without this every sandbox fails with
    // `runc create failed: … can't get final child's PID from pipe: EOF` (pause asks for oom_score_adj -998).
    '  restrict_oom_score_adj = true',
    `  [${cri}.containerd.runtimes.runc]`,
    '    runtime_type = "io.containerd.runc.v2"',
    `    [${cri}.containerd.runtimes.runc.options]`,
    '      SystemdCgroup = false',
    `  [${cri}.cni]`,
    '    bin_dir = "/usr/lib/cni"',
    '    conf_dir = "/etc/cni/net.d"',
    ...input.plainHttpRegistries.flatMap((host) => [
      `  [${cri}.registry.mirrors.${JSON.stringify(host)}]`,
      `    endpoint = [${JSON.stringify(`http://${host}`)}]`,
    ]),
    '',
  ].join('\n');
}

/** A bridge with the node's pod subnet; pods reach the host (and the API server on loopback) through it. */
export function cniConflist(slot: NodeSlot): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'hecate-bed',
      plugins: [
        {
          type: 'bridge',
          bridge: slot.bridge,
          isGateway: true,
          hairpinMode: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: slot.podSubnet }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

export interface KubeletInput {
  slot: NodeSlot;
  clientCaFile: string;
  /** How often the node posts its status (default 4 s): the node-lifecycle controller's heartbeat. */
  statusUpdateSeconds?: number;
}

export function kubeletConfig(input: KubeletInput): string {
  return toYaml({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: input.slot.ip,
    healthzBindAddress: input.slot.ip,
    readOnlyPort: 0,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: input.clientCaFile },
    },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
    cgroupDriver: 'cgroupfs',
    cgroupRoot: input.slot.cgroupRoot,
    failSwapOn: false,
    failCgroupV1: false,
    // NOTE: matches containerd's restrict_oom_score_adj (no CAP_SYS_RESOURCE)
    oomScoreAdj: 0,
    resolvConf: '/etc/resolv.conf',
    clusterDomain: 'cluster.local',
    nodeStatusUpdateFrequency: `${input.statusUpdateSeconds ?? 4}s`,
    nodeStatusReportFrequency: `${input.statusUpdateSeconds ?? 4}s`,
    nodeLeaseDurationSeconds: 10,
    serializeImagePulls: false,
    // every node sees the whole machine: thresholds low enough that a busy machine evicts nothing
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
  });
}
