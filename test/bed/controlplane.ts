/**
 * A real Kubernetes control plane on loopback (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)
 * in a fresh temporary folder. Only the kubelet is missing; the kubelet stand-in in this folder fills in.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { AUDIT_POLICY, type AuditEvent, readAuditLog } from './audit.js';
import { bedAvailability } from './availability.js';
import type { TestBinaries } from './binaries.js';
import { createPki, type Pki } from './certs.js';
import {
  apiserverArgs,
  controllerManagerArgs,
  etcdArgs,
  type Layout,
  type NodeLifecycleTimings,
  probe,
  schedulerArgs,
} from './components.js';
import { installCrds } from './crds.js';
import { bedKubeConfig, componentKubeConfigYaml, writeKubeConfigFile } from './kubeconfig.js';
import { freePorts } from './ports.js';
import { type Component, logTail, rssKiB, spawnComponent } from './processes.js';
import { forgetBed, registerBed, sweepStaleBeds } from './reaper.js';

export const BED_DIR_PREFIX = 'hecate-bed-';
export const ADMIN_USER = 'hecate-admin';

export interface ControlPlaneOptions {
  /** Default: found like `bedAvailability()` does ($KUBEBUILDER_ASSETS, then the build cache). */
  binaries?: TestBinaries;
  /** Node-lifecycle controller timings; defaults `{ nodeMonitorGracePeriod: '10s', nodeMonitorPeriod: '1s' }`. */
  nodeLifecycle?: Partial<NodeLifecycleTimings>;
  /** CRD files or folders to install once the control plane is up (see `allCrdPaths()`). */
  crds?: readonly string[];
  /** Give up starting after this long (default 120 s). */
  startTimeoutMs?: number;
  /** Keep the folder (logs, audit, etcd) after stop(); default when HECATE_BED_KEEP=1. */
  keepDir?: boolean;
  /** Progress messages, e.g. `console.error`. */
  log?: (message: string) => void;
}

export interface ComponentMemory {
  name: string;
  pid: number;
  rssKiB: number | undefined;
}

export interface ControlPlane {
  /** The bed's folder: certificates, kubeconfigs, logs/, audit.log, etcd/. Removed by stop(). */
  readonly dir: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** An admin kubeconfig (user hecate-admin in system:masters) for kubectl and child processes. */
  readonly kubeconfigPath: string;
  /** The same admin user as a client-node KubeConfig. */
  readonly kubeConfig: KubeConfig;
  readonly auditLogPath: string;
  readonly binaries: TestBinaries;
  /** Wall time of startControlPlane(), CRDs included. */
  readonly startupMs: number;
  readonly components: readonly Component[];
  readAudit(): Promise<AuditEvent[]>;
  /** Polls the audit log until `predicate` holds (the log line may land just after the response). */
  waitForAudit(predicate: (events: AuditEvent[]) => boolean, timeoutMs?: number): Promise<AuditEvent[]>;
  /** A KubeConfig for a certificate-authenticated user; `groups` become its groups (RBAC subjects). */
  userKubeConfig(user: string, groups?: readonly string[]): Promise<KubeConfig>;
  /** A TokenRequest token for the ServiceAccount, which is created first when missing (its namespace must exist). */
  tokenFor(namespace: string, serviceAccount: string, expirationSeconds?: number): Promise<string>;
  /** A KubeConfig authenticating as `system:serviceaccount:<namespace>:<name>` (see tokenFor). */
  serviceAccountKubeConfig(namespace: string, name: string): Promise<KubeConfig>;
  /** Writes any KubeConfig into the bed's folder and returns the path. */
  writeKubeConfig(kc: KubeConfig, fileName: string): Promise<string>;
  /** Creates a namespace (idempotent) and waits for its `default` ServiceAccount, which pods need. */
  createNamespace(name: string, labels?: Record<string, string>): Promise<void>;
  /** Creates or replaces CRDs from YAML files or folders and waits until Established; returns their names. */
  installCrds(paths: readonly string[]): Promise<string[]>;
  /** Resident memory of each running component, from /proc. */
  memory(): Promise<ComponentMemory[]>;
  /** Stops every component and removes the folder; safe to call twice. */
  stop(): Promise<void>;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const started = Date.now();
  const availability = bedAvailability();
  if (!availability.ok)
    throw new Error(`Cannot start the control plane: ${availability.reason}. Fix: ${availability.fix}`);
  await sweepStaleBeds(tmpdir(), BED_DIR_PREFIX);
  const binaries = options.binaries ?? availability.binaries;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binaries, availability, options, started);
    } catch (error) {
      if (!(error instanceof PortClashError) || attempt >= 3) throw error;
      options.log?.(`Port taken while starting, retrying (attempt ${attempt + 1})`);
    }
  }
}

class PortClashError extends Error {}

async function startOnce(
  binaries: TestBinaries,
  tools: { setpriv: string; openssl: string },
  options: ControlPlaneOptions,
  started: number,
): Promise<ControlPlane> {
  const log = (message: string) => options.log?.(`${message} (+${Date.now() - started} ms)`);
  const deadline = started + (options.startTimeoutMs ?? 120_000);
  const dir = await mkdtemp(join(tmpdir(), BED_DIR_PREFIX));
  const components: Component[] = [];
  registerBed(dir, components);
  const keepDir = options.keepDir ?? process.env.HECATE_BED_KEEP === '1';
  const stop = once(async () => {
    await Promise.all(components.filter((c) => !/etcd|apiserver/.test(c.name)).map((c) => c.stop()));
    for (const name of ['kube-apiserver', 'etcd']) await components.find((c) => c.name === name)?.stop();
    forgetBed(dir);
    if (!keepDir) await rm(dir, { recursive: true, force: true });
  });
  try {
    const { layout, pki } = await prepare(dir, tools.openssl);
    const spawn = (name: string, binary: string, args: string[]) => {
      const component = spawnComponent(name, binary, args, {
        setpriv: tools.setpriv,
        logPath: join(dir, 'logs', `${name}.log`),
      });
      components.push(component);
      return component;
    };
    log(`Starting etcd and kube-apiserver in ${dir}`);
    spawn('etcd', binaries.etcd, etcdArgs(layout));
    spawn('kube-apiserver', binaries['kube-apiserver'], apiserverArgs(layout));
    const server = `https://127.0.0.1:${layout.ports.apiserver}`;
    const admin = await pki.clientCert(ADMIN_USER, ['system:masters']);
    const adminTls = {
      ca: await readFile(pki.ca.certPath, 'utf8'),
      cert: await readFile(admin.certPath, 'utf8'),
      key: await readFile(admin.keyPath, 'utf8'),
    };
    await waitUntil(
      'kube-apiserver /readyz',
      deadline,
      components,
      async () => (await probe(`${server}/readyz`, adminTls))?.status === 200,
    );
    log('Starting kube-controller-manager and kube-scheduler');
    const timings = { nodeMonitorGracePeriod: '10s', nodeMonitorPeriod: '1s', ...options.nodeLifecycle };
    const kcm = spawn(
      'kube-controller-manager',
      binaries['kube-controller-manager'],
      controllerManagerArgs(layout, timings),
    );
    const scheduler = spawn('kube-scheduler', binaries['kube-scheduler'], schedulerArgs(layout));
    const healthy = (port: number) => async () => (await probe(`https://127.0.0.1:${port}/healthz`))?.status === 200;
    const kubeConfig = bedKubeConfig(server, adminTls.ca, {
      name: ADMIN_USER,
      certPem: adminTls.cert,
      keyPem: adminTls.key,
    });
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await Promise.all([
      waitUntil(`${kcm.name} /healthz`, deadline, components, healthy(layout.ports.controllerManager)),
      waitUntil(`${scheduler.name} /healthz`, deadline, components, healthy(layout.ports.scheduler)),
      waitUntil('the default ServiceAccount', deadline, components, () =>
        exists(() => core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })),
      ),
    ]);
    const plane = new BedControlPlane(dir, server, kubeConfig, layout, pki, adminTls.ca, binaries, components, stop);
    await plane.init();
    if (options.crds && options.crds.length > 0) {
      log(`Installing CRDs from ${options.crds.length} path(s)`);
      await plane.installCrds(options.crds);
    }
    plane.startupMs = Date.now() - started;
    log(`Control plane ready at ${server}; kubeconfig ${plane.kubeconfigPath}`);
    return plane;
  } catch (error) {
    if (error instanceof ApiException) {
      await stop();
      throw error; // the API answered: component logs would not explain it
    }
    const logs = await Promise.all(
      components.map(
        async (c) => `--- ${c.name} (${c.hasExited() ? 'exited' : 'running'}) ---\n${await logTail(c.logPath, 15)}`,
      ),
    );
    await stop();
    const detail = logs.join('\n');
    if (/address already in use/.test(detail)) throw new PortClashError(`Port clash: ${detail}`);
    throw new Error(`${(error as Error).message}\n${detail}`, { cause: error });
  }
}

async function prepare(dir: string, openssl: string): Promise<{ layout: Layout; pki: Pki }> {
  await Promise.all(['logs', 'pki', 'etcd'].map((d) => mkdir(join(dir, d), { recursive: true, mode: 0o700 })));
  const pki = await createPki(join(dir, 'pki'), openssl);
  const [etcd, etcdPeer, apiserver, controllerManager, scheduler] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const layout: Layout = {
    dir,
    ports: { etcd, etcdPeer, apiserver, controllerManager, scheduler },
    pki: {
      ca: pki.ca.certPath,
      caKey: pki.ca.keyPath,
      servingCert: pki.serving.certPath,
      servingKey: pki.serving.keyPath,
      saPrivate: pki.serviceAccountKey.privatePath,
      saPublic: pki.serviceAccountKey.publicPath,
    },
    auditPolicyPath: join(dir, 'audit-policy.yaml'),
    auditLogPath: join(dir, 'audit.log'),
    controllerManagerKubeconfig: join(dir, 'kube-controller-manager.kubeconfig'),
    schedulerKubeconfig: join(dir, 'kube-scheduler.kubeconfig'),
  };
  const server = `https://127.0.0.1:${apiserver}`;
  const kcm = await pki.clientCert('system:kube-controller-manager');
  const sched = await pki.clientCert('system:kube-scheduler');
  await Promise.all([
    writeFile(layout.auditPolicyPath, AUDIT_POLICY),
    writeFile(
      layout.controllerManagerKubeconfig,
      componentKubeConfigYaml(server, pki.ca.certPath, kcm.certPath, kcm.keyPath),
    ),
    writeFile(
      layout.schedulerKubeconfig,
      componentKubeConfigYaml(server, pki.ca.certPath, sched.certPath, sched.keyPath),
    ),
  ]);
  return { layout, pki };
}

class BedControlPlane implements ControlPlane {
  kubeconfigPath = '';
  startupMs = 0;
  readonly auditLogPath: string;

  constructor(
    readonly dir: string,
    readonly server: string,
    readonly kubeConfig: KubeConfig,
    layout: Layout,
    private readonly pki: Pki,
    private readonly caPem: string,
    readonly binaries: TestBinaries,
    readonly components: readonly Component[],
    readonly stop: () => Promise<void>,
  ) {
    this.auditLogPath = layout.auditLogPath;
  }

  async init(): Promise<void> {
    this.kubeconfigPath = await this.writeKubeConfig(this.kubeConfig, 'admin.kubeconfig');
  }

  readAudit(): Promise<AuditEvent[]> {
    return readAuditLog(this.auditLogPath);
  }

  async waitForAudit(predicate: (events: AuditEvent[]) => boolean, timeoutMs = 5000): Promise<AuditEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const events = await this.readAudit();
      if (predicate(events)) return events;
      if (Date.now() > deadline) throw new Error(`Audit log did not show the expected events within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async userKubeConfig(user: string, groups: readonly string[] = []): Promise<KubeConfig> {
    const pair = await this.pki.clientCert(user, groups);
    const [certPem, keyPem] = await Promise.all([readFile(pair.certPath, 'utf8'), readFile(pair.keyPath, 'utf8')]);
    return bedKubeConfig(this.server, this.caPem, { name: user, certPem, keyPem });
  }

  async tokenFor(namespace: string, serviceAccount: string, expirationSeconds = 3600): Promise<string> {
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    await ignoreConflict(() =>
      core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } }),
    );
    const request = await core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace,
      body: { spec: { audiences: [], expirationSeconds } },
    });
    const token = request.status?.token;
    if (!token) throw new Error(`No token issued for ServiceAccount ${namespace}/${serviceAccount}`);
    return token;
  }

  async serviceAccountKubeConfig(namespace: string, name: string): Promise<KubeConfig> {
    const token = await this.tokenFor(namespace, name);
    return bedKubeConfig(this.server, this.caPem, { name: `system:serviceaccount:${namespace}:${name}`, token });
  }

  writeKubeConfig(kc: KubeConfig, fileName: string): Promise<string> {
    return writeKubeConfigFile(kc, join(this.dir, fileName));
  }

  async createNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    await ignoreConflict(() => core.createNamespace({ body: { metadata: { name, labels } } }));
    await waitUntil(`ServiceAccount ${name}/default`, Date.now() + 30_000, this.components, () =>
      exists(() => core.readNamespacedServiceAccount({ name: 'default', namespace: name })),
    );
  }

  installCrds(paths: readonly string[]): Promise<string[]> {
    return installCrds(this.kubeConfig, paths);
  }

  memory(): Promise<ComponentMemory[]> {
    return Promise.all(this.components.map(async (c) => ({ name: c.name, pid: c.pid, rssKiB: await rssKiB(c.pid) })));
  }
}

/** Polls `ready` until it holds; fails early, naming the component, when one of them exits. */
async function waitUntil(
  what: string,
  deadline: number,
  components: readonly Component[],
  ready: () => Promise<boolean>,
): Promise<void> {
  for (;;) {
    const dead = components.find((c) => c.hasExited());
    if (dead) throw new Error(`${dead.name} exited (${await dead.exited}) while waiting for ${what}`);
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function exists(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return false;
    throw error;
  }
}

async function ignoreConflict(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (!(error instanceof ApiException) || error.code !== 409) throw error;
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
