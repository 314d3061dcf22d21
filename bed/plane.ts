/** The handle tests get for a running bed: clients, users, audit log, CRDs, memory, stop. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { type AuditEvent, readAuditLog } from './audit.js';
import type { TestBinaries } from './binaries.js';
import type { Pki } from './certs.js';
import { installCrds } from './crds.js';
import { bedKubeConfig, writeKubeConfigFile } from './kubeconfig.js';
import { type Component, rssKiB } from './processes.js';
import { exists, ignoreConflict, sleep, waitUntil } from './wait.js';

export interface ComponentMemory {
  name: string;
  pid: number;
  rssKiB: number | undefined;
}

export interface ControlPlane {
  /** The bed's folder: pki/, kubeconfigs, logs/, audit.log, etcd/. Removed by stop() unless kept. */
  readonly dir: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** An admin kubeconfig file (user hecate-admin in system:masters) for kubectl and child processes. */
  readonly kubeconfigPath: string;
  /** The same admin user as a client-node KubeConfig. */
  readonly kubeConfig: KubeConfig;
  readonly auditLogPath: string;
  readonly binaries: TestBinaries;
  /** Wall time of startControlPlane(), CRDs included. */
  readonly startupMs: number;
  readonly components: readonly Component[];
  readAudit(): Promise<AuditEvent[]>;
  /** Polls the audit log until `predicate` holds (a line may land just after its response). */
  waitForAudit(predicate: (events: AuditEvent[]) => boolean, timeoutMs?: number): Promise<AuditEvent[]>;
  /** A KubeConfig for a certificate-authenticated user; `groups` become its groups (RBAC subjects). */
  userKubeConfig(user: string, groups?: readonly string[]): Promise<KubeConfig>;
  /** A TokenRequest token for the ServiceAccount, created first when missing (its namespace must exist). */
  tokenFor(namespace: string, serviceAccount: string, expirationSeconds?: number): Promise<string>;
  /** A KubeConfig authenticating as `system:serviceaccount:<namespace>:<name>` (see tokenFor). */
  serviceAccountKubeConfig(namespace: string, name: string): Promise<KubeConfig>;
  /** Writes any KubeConfig into the bed's folder and returns the path. */
  writeKubeConfig(kc: KubeConfig, fileName: string): Promise<string>;
  /** Creates a namespace (idempotent) and waits for its `default` ServiceAccount, which pods need. */
  createNamespace(name: string, labels?: Record<string, string>): Promise<void>;
  /** Creates or replaces CRDs from YAML files or folders and waits until Established; returns their names. */
  installCrds(paths: readonly string[]): Promise<string[]>;
  /** Resident memory of each component, from /proc. */
  memory(): Promise<ComponentMemory[]>;
  /** Stops kube-apiserver only (etcd, controllers and stand-ins keep running): clients get connection refused. */
  stopApiServer(): Promise<void>;
  /** Starts kube-apiserver again on the same port with the same flags; resolves when /readyz answers 200. */
  startApiServer(timeoutMs?: number): Promise<void>;
  /** Stops every component and removes the folder; safe to call twice. */
  stop(): Promise<void>;
}

export interface PlaneParts {
  dir: string;
  server: string;
  kubeConfig: KubeConfig;
  caPem: string;
  pki: Pki;
  auditLogPath: string;
  binaries: TestBinaries;
  components: readonly Component[];
  apiServer: { stop(): Promise<void>; start(timeoutMs?: number): Promise<void> };
  stop: () => Promise<void>;
}

export class BedControlPlane implements ControlPlane {
  readonly dir: string;
  readonly server: string;
  readonly kubeConfig: KubeConfig;
  readonly auditLogPath: string;
  readonly binaries: TestBinaries;
  readonly components: readonly Component[];
  readonly stop: () => Promise<void>;
  kubeconfigPath = '';
  startupMs = 0;

  constructor(private readonly parts: PlaneParts) {
    ({
      dir: this.dir,
      server: this.server,
      kubeConfig: this.kubeConfig,
      auditLogPath: this.auditLogPath,
      binaries: this.binaries,
      components: this.components,
      stop: this.stop,
    } = parts);
  }

  /** Writes admin.kubeconfig; call once before handing the plane out. */
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
    const pair = await this.parts.pki.clientCert(user, groups);
    const [certPem, keyPem] = await Promise.all([readFile(pair.certPath, 'utf8'), readFile(pair.keyPath, 'utf8')]);
    return bedKubeConfig(this.server, this.parts.caPem, { name: user, certPem, keyPem });
  }

  async tokenFor(namespace: string, serviceAccount: string, expirationSeconds = 3600): Promise<string> {
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    const body = { metadata: { name: serviceAccount } };
    await ignoreConflict(() => core.createNamespacedServiceAccount({ namespace, body }));
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
    const user = { name: `system:serviceaccount:${namespace}:${name}`, token };
    return bedKubeConfig(this.server, this.parts.caPem, user);
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

  stopApiServer(): Promise<void> {
    return this.parts.apiServer.stop();
  }

  startApiServer(timeoutMs?: number): Promise<void> {
    return this.parts.apiServer.start(timeoutMs);
  }

  installCrds(paths: readonly string[]): Promise<string[]> {
    return installCrds(this.kubeConfig, paths);
  }

  memory(): Promise<ComponentMemory[]> {
    return Promise.all(this.components.map(async (c) => ({ name: c.name, pid: c.pid, rssKiB: await rssKiB(c.pid) })));
  }
}
