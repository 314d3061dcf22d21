/**
 * Command lines of the four control-plane components, all bound to 127.0.0.1 only, and how to tell each is up.
 * Flags follow controller-runtime's envtest, plus what Hecate needs from a real cluster: RBAC with the Node
 * authorizer, ServiceAccount tokens, an audit log, and a node-lifecycle controller that reacts in seconds.
 */
import { request } from 'node:https';
import { join } from 'node:path';

export interface Layout {
  dir: string;
  ports: { etcd: number; etcdPeer: number; apiserver: number; controllerManager: number; scheduler: number };
  pki: { ca: string; caKey: string; servingCert: string; servingKey: string; saPrivate: string; saPublic: string };
  auditPolicyPath: string;
  auditLogPath: string;
  controllerManagerKubeconfig: string;
  schedulerKubeconfig: string;
}

export interface NodeLifecycleTimings {
  /** How long a node may go without a heartbeat before it is marked NotReady/Unknown (default "10s"). */
  nodeMonitorGracePeriod: string;
  /** How often the node-lifecycle controller checks (default "1s"). */
  nodeMonitorPeriod: string;
}

export function etcdArgs(l: Layout): string[] {
  const client = `http://127.0.0.1:${l.ports.etcd}`;
  const peer = `http://127.0.0.1:${l.ports.etcdPeer}`;
  return [
    '--name=bed',
    `--data-dir=${join(l.dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=bed=${peer}`,
    '--initial-cluster-state=new',
    '--unsafe-no-fsync=true',
    '--heartbeat-interval=10',
    '--election-timeout=100',
    '--log-level=warn',
  ];
}

export function apiserverArgs(l: Layout): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${l.ports.etcd}`,
    `--secure-port=${l.ports.apiserver}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--cert-dir=${join(l.dir, 'apiserver-certs')}`,
    `--tls-cert-file=${l.pki.servingCert}`,
    `--tls-private-key-file=${l.pki.servingKey}`,
    `--client-ca-file=${l.pki.ca}`,
    '--authorization-mode=Node,RBAC',
    '--anonymous-auth=false',
    '--allow-privileged=true',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${l.pki.saPublic}`,
    `--service-account-signing-key-file=${l.pki.saPrivate}`,
    `--audit-policy-file=${l.auditPolicyPath}`,
    `--audit-log-path=${l.auditLogPath}`,
    '--audit-log-mode=blocking',
    '--audit-log-format=json',
    // NOTE: the apiserver cannot publish a loopback address as the `kubernetes` Service's endpoint (and logs an
    // error every 10 s trying); nothing in the bed runs in-cluster clients.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
  ];
}

export function controllerManagerArgs(l: Layout, timings: NodeLifecycleTimings): string[] {
  return [
    `--kubeconfig=${l.controllerManagerKubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${l.ports.controllerManager}`,
    `--cert-dir=${join(l.dir, 'kcm-certs')}`,
    '--leader-elect=false',
    '--controllers=*',
    '--use-service-account-credentials=true',
    `--service-account-private-key-file=${l.pki.saPrivate}`,
    `--root-ca-file=${l.pki.ca}`,
    `--cluster-signing-cert-file=${l.pki.ca}`,
    `--cluster-signing-key-file=${l.pki.caKey}`,
    `--node-monitor-period=${timings.nodeMonitorPeriod}`,
    `--node-monitor-grace-period=${timings.nodeMonitorGracePeriod}`,
    // NOTE: each controller gets its own ServiceAccount token; at the default 20 QPS the controllers start
    // ~150 ms apart (about 5 s in all). The bed has no other load to protect.
    '--kube-api-qps=200',
    '--kube-api-burst=400',
    '--profiling=false',
  ];
}

export function schedulerArgs(l: Layout): string[] {
  return [
    `--kubeconfig=${l.schedulerKubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${l.ports.scheduler}`,
    `--cert-dir=${join(l.dir, 'scheduler-certs')}`,
    '--leader-elect=false',
    '--profiling=false',
  ];
}

export interface Tls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** The HTTP status of a GET, or undefined when nothing answers. Without `tls.ca` the server is not verified. */
export function probe(
  url: string,
  tls: Tls = {},
  timeoutMs = 2000,
): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { ...tls, rejectUnauthorized: tls.ca !== undefined, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
