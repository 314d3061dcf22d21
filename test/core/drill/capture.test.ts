/**
 * Shaping a drill capture: the server's bookkeeping left out, the Secrets and ConfigMaps the pods name (names only),
 * and `--redact` renaming every name the same way everywhere while keeping kinds, versions and Kubernetes' own names.
 */
import { describe, expect, it } from 'vitest';
import { drillCapture } from '../../../core/api/index.js';
import { toYaml } from '../../../core/api/yaml.js';
import { captureOf, isCapturedCrd, redact, trimObject } from '../../../core/drill/capture.js';

const AT = new Date('2026-12-07T02:00:00Z');

const node = trimObject('Node', 'v1', {
  metadata: { name: 'titan-04', uid: 'u1', resourceVersion: '7', managedFields: [{}], labels: { role: 'worker' } },
  spec: { taints: [] },
  status: {
    capacity: { cpu: '4' },
    conditions: [{ type: 'Ready', status: 'True' }],
    images: [{ names: ['docker.io/library/busybox:1.37'] }],
    nodeInfo: { architecture: 'arm64', kubeletVersion: 'v1.34.1+k3s1', machineID: 'abc' },
  },
});
const deployment = trimObject('Deployment', 'apps/v1', {
  metadata: {
    name: 'gitea',
    namespace: 'gitea',
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', note: 'served at gitea.lab' },
  },
  spec: { replicas: 1, template: { spec: { containers: [{ name: 'gitea', image: 'gitea/gitea:1.22' }] } } },
});
const pod = trimObject('Pod', 'v1', {
  metadata: {
    name: 'gitea-7d9f-abcde',
    namespace: 'gitea',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'gitea-7d9f', controller: true, uid: 'x' }],
  },
  spec: {
    nodeName: 'titan-04',
    volumes: [
      { name: 'cfg', secret: { secretName: 'gitea-admin' } },
      { name: 'ini', configMap: { name: 'gitea-ini' } },
    ],
    containers: [
      {
        name: 'gitea',
        env: [{ name: 'DB', valueFrom: { secretKeyRef: { name: 'gitea-db', key: 'url' } } }],
        envFrom: [{ configMapRef: { name: 'gitea-env' } }],
      },
    ],
    imagePullSecrets: [{ name: 'harbor-pull' }],
  },
});
const namespace = trimObject('Namespace', 'v1', { metadata: { name: 'gitea' } });
const kubeSystem = trimObject('Namespace', 'v1', { metadata: { name: 'kube-system' } });

describe('trimObject', () => {
  it('keeps identity, labels, owners, spec and status; drops uid, resourceVersion, managedFields, last-applied', () => {
    expect(node.metadata).toEqual({ name: 'titan-04', labels: { role: 'worker' } });
    expect(deployment.metadata.annotations).toEqual({ note: 'served at gitea.lab' });
    expect(pod.metadata.ownerReferences).toEqual([
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'gitea-7d9f', controller: true },
    ]);
  });

  it("keeps a node's capacity, conditions and arch, not its image list", () => {
    expect(node.status).toEqual({
      capacity: { cpu: '4' },
      allocatable: undefined,
      conditions: [{ type: 'Ready', status: 'True' }],
      nodeInfo: { architecture: 'arm64', kubeletVersion: 'v1.34.1+k3s1', osImage: undefined },
    });
  });

  it('keeps the CRDs of the Flux, Longhorn and Hecate kinds only', () => {
    expect(isCapturedCrd({ spec: { group: 'kustomize.toolkit.fluxcd.io' } })).toBe(true);
    expect(isCapturedCrd({ spec: { group: 'longhorn.io' } })).toBe(true);
    expect(isCapturedCrd({ spec: { group: 'cert-manager.io' } })).toBe(false);
  });
});

describe('captureOf', () => {
  it('names the Secrets and ConfigMaps the pods refer to, never their data, and validates', () => {
    const capture = captureOf([namespace, node, deployment, pod], 'https://10.0.0.1:6443', AT);
    expect(capture.referenced).toEqual({
      secrets: ['gitea/gitea-admin', 'gitea/gitea-db', 'gitea/harbor-pull'],
      configMaps: ['gitea/gitea-env', 'gitea/gitea-ini'],
    });
    expect(drillCapture.parse(capture)).toEqual(capture);
  });

  it('refuses an unknown field or kind, naming it', () => {
    const capture = captureOf([node], 's', AT);
    expect(() => drillCapture.parse({ ...capture, extra: 1 })).toThrow(/extra/);
    expect(() => drillCapture.parse({ ...capture, objects: [{ ...node, kind: 'Secret' }] })).toThrow(/kind/);
  });
});

describe('redact', () => {
  const plain = captureOf([kubeSystem, namespace, node, deployment, pod], 'https://10.0.0.1:6443', AT);
  const redacted = redact(plain);
  const text = toYaml(redacted);

  it('leaves no original name anywhere: objects, references, images, hosts, the server', () => {
    for (const name of ['titan-04', 'gitea', 'gitea-7d9f', 'gitea-admin', 'gitea-db', 'harbor-pull', 'gitea-ini']) {
      expect(text, name).not.toMatch(new RegExp(`(?<![a-z0-9])${name}(?![a-z0-9])`));
    }
    expect(text).not.toContain('10.0.0.1');
    expect(redacted.metadata).toMatchObject({ server: 'redacted', redacted: true });
  });

  it('renames consistently: a pod still runs on its node and belongs to its owner; kinds and versions stay', () => {
    const [, ns, n, d, p] = redacted.objects;
    expect(p?.metadata.namespace).toBe(ns?.metadata.name);
    expect(d?.metadata.namespace).toBe(ns?.metadata.name);
    expect((p?.spec as { nodeName?: string } | undefined)?.nodeName).toBe(n?.metadata.name);
    expect(p?.metadata.ownerReferences?.[0]).toMatchObject({ apiVersion: 'apps/v1', kind: 'ReplicaSet' });
    expect(redacted.objects.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual(
      plain.objects.map((o) => `${o.apiVersion} ${o.kind}`),
    );
    expect(n?.metadata.name).toMatch(/^node-\d+$/);
    expect(ns?.metadata.name).toMatch(/^ns-\d+$/);
  });

  it('keeps a CRD as its public identity only: group, names, scope, versions, no schema', () => {
    const crd = trimObject('CustomResourceDefinition', 'apiextensions.k8s.io/v1', {
      metadata: { name: 'volumes.longhorn.io', uid: 'u' },
      spec: {
        group: 'longhorn.io',
        names: { kind: 'Volume', plural: 'volumes' },
        scope: 'Namespaced',
        versions: [
          { name: 'v1beta2', served: true, storage: true, schema: { openAPIV3Schema: { description: 'gitea' } } },
        ],
      },
    });
    const [kept] = redact(captureOf([crd], 's', AT)).objects;
    expect(kept).toEqual({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'volumes.longhorn.io' },
      spec: {
        group: 'longhorn.io',
        names: { kind: 'Volume', plural: 'volumes' },
        scope: 'Namespaced',
        versions: [{ name: 'v1beta2', served: true, storage: true }],
      },
    });
  });

  it('keeps the names Kubernetes defines (kube-system) and still validates', () => {
    expect(redacted.objects[0]?.metadata.name).toBe('kube-system');
    expect(drillCapture.parse(redacted)).toEqual(redacted);
  });
});
