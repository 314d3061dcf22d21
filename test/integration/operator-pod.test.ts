/**
 * The operator as a pod on a real node, as it is deployed: its image built from images/operator/Dockerfile (by
 * buildah, on a base of the npm registry's Node: hack/setup-operator-image.sh), its Deployment from
 * manifests/deployment.yaml, running on a real control-plane node (a real kubelet, containerd and runc) under its
 * ServiceAccount, with its projected token. An executing shutdown PowerEvent: the operator drains and powers off
 * every other node, writes its last status, then powers off its own node last: the helper pod's `systemctl
 * poweroff` ends the node's PID 1, and the operator with it.
 *
 * What the bed changes in the Deployment, and why: one replica, the image it built (imagePullPolicy Never),
 * hostNetwork with KUBERNETES_SERVICE_HOST/PORT set to the API server (no kube-proxy here: the `kubernetes`
 * Service's ClusterIP leads nowhere), a free port instead of 8443 (the host's network), and a node selector and
 * toleration that put it on the real node (the stand-in control-plane nodes would only pretend to run it).
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, type V1Deployment } from '@kubernetes/client-node';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, REPO_ROOT, requireRealNodes } from '../../bed/index.js';
import { NS, type OperatorBed, SA_USER, startOperatorBed } from '../../bed/operator/index.js';
import { freePorts } from '../../bed/ports.js';
import { BED_IMAGES } from '../../bed/real-node/index.js';
import type { Scenario } from '../../bed/scenario.js';
import { REAL_NODE_TAINT, realScenarioNode } from '../../bed/scenarios/real-worker.js';
import { GROUP, type PowerEvent, VERSION } from '../../core/api/index.js';
import { fromYaml } from '../../core/api/yaml.js';

const real = requireRealNodes();
const OWN = 'titan-00';

/** Atlas with one more control-plane node, real, tainted so that only the operator lands there. */
function withOperatorNode(atlas: Scenario): Scenario {
  return { ...atlas, nodes: [...atlas.nodes, realScenarioNode(OWN, 'control-plane')] };
}

/** manifests/deployment.yaml with the bed's changes (see the header). */
async function bedDeployment(server: string, port: number): Promise<V1Deployment> {
  const deployment = fromYaml(await readFile(`${REPO_ROOT}/manifests/deployment.yaml`, 'utf8')) as V1Deployment;
  const spec = deployment.spec;
  const pod = spec?.template.spec;
  const container = pod?.containers[0];
  if (!spec || !pod || !container) throw new Error('manifests/deployment.yaml has no pod template');
  spec.replicas = 1;
  pod.hostNetwork = true;
  pod.dnsPolicy = 'ClusterFirstWithHostNet';
  pod.nodeSelector = { ...pod.nodeSelector, 'kubernetes.io/hostname': OWN };
  pod.tolerations = [
    ...(pod.tolerations ?? []),
    { key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect },
  ];
  container.image = 'localhost/hecate/operator:bed';
  container.imagePullPolicy = 'Never';
  container.args = (container.args ?? []).map((a) => (a.startsWith('--bind-address=') ? `--bind-address=:${port}` : a));
  container.ports = [{ name: 'https', containerPort: port, protocol: 'TCP' }];
  const url = new URL(server);
  container.env = [
    ...(container.env ?? []),
    { name: 'KUBERNETES_SERVICE_HOST', value: url.hostname },
    { name: 'KUBERNETES_SERVICE_PORT', value: url.port },
  ];
  return deployment;
}

describe.skipIf(!real.ok)('the operator as a pod on a real node', () => {
  let bed: OperatorBed;
  let image: string;

  beforeAll(async () => {
    if (!real.ok) return;
    // NOTE: built once per change of the operator's sources (cached by their hash): about 30 s
    const built = await execa(`${REPO_ROOT}/hack/setup-operator-image.sh`, [], { reject: false, all: true });
    if (built.exitCode !== 0) throw new Error(`hack/setup-operator-image.sh failed:\n${built.all}`);
    image = built.stdout.trim().split('\n').at(-1) ?? '';
    bed = await startOperatorBed({
      drainTimeout: '4s',
      delayBetweenNodes: '1s',
      scenario: withOperatorNode,
      realNodeTools: real,
      extraNodes: [{ name: OWN, role: 'control-plane', arch: 'amd64' }],
      helperImage: BED_IMAGES.helper,
    });
  }, 600_000);

  afterAll(async () => {
    await bed?.stop();
  }, 120_000);

  it('runs an executed shutdown from its pod, under its ServiceAccount, and powers its own node off last', async () => {
    const { plane } = bed.e2e;
    const node = bed.e2e.real?.node(OWN);
    if (!node) throw new Error(`${OWN} is not a real node`);
    const imported = await node.ctr(['images', 'import', image]);
    expect(imported.exitCode, imported.stderr).toBe(0);

    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    const apps = plane.kubeConfig.makeApiClient(AppsV1Api);
    const [port = 0] = await freePorts(1);
    const deployment = await bedDeployment(plane.server, port);
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment });
    const podName = await eventually(
      'the operator pod Ready on the real node',
      async () => {
        const pods = await core.listNamespacedPod({
          namespace: NS,
          labelSelector: 'app.kubernetes.io/component=operator',
        });
        const pod = pods.items.find((p) =>
          p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        return pod?.spec?.nodeName === OWN ? pod.metadata?.name : undefined;
      },
      { timeoutMs: 120_000 },
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await node.logs(30)}`);
    });
    // it leads: the Lease names the pod (POD_NAME from the downward API)
    const coordination = plane.kubeConfig.makeApiClient(CoordinationV1Api);
    await eventually(
      'the operator pod to hold the Lease',
      async () =>
        (await coordination.readNamespacedLease({ name: 'hecate-operator', namespace: NS })).spec?.holderIdentity ===
        podName,
      { timeoutMs: 60_000 },
    );

    const events = plane.kubeConfig.makeApiClient(CustomObjectsApi);
    const name = `own-node-${randomUUID().slice(0, 6)}`;
    const started = new Date().toISOString();
    await events.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: 'powerevents',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'PowerEvent',
        metadata: { name, namespace: NS },
        spec: { action: 'shutdown', planRef: { name: 'atlas' }, execute: true, reason: 'operator pod test' },
      },
    });

    // the operator's node goes off: its PID 1 ends, the helper pod having run systemctl poweroff
    await eventually('the real node powered off', async () => !node.isOn(), { timeoutMs: 240_000 }).catch(
      async (error: Error) => {
        const event = await bed.getEvent(name).catch(() => undefined);
        throw new Error(`${error.message}\n${JSON.stringify(event?.status?.conditions)}\n${await node.logs(30)}`);
      },
    );
    const event = (await bed.getEvent(name)) as PowerEvent;
    // the last status, written from the pod before its own node's power-off
    expect(event.status?.phase).toBe('Succeeded');
    const order = event.status?.outage?.poweredOff ?? [];
    expect(order.at(-1)).toBe(OWN);
    expect(order).toEqual(expect.arrayContaining(['titan-01', 'titan-02', 'titan-03', 'titan-04', 'titan-07']));
    const plan = event.status?.plan?.steps.filter((s) => s.kind === 'power-off-node').map((s) => s.targets[0]);
    expect(plan?.at(-1)).toBe(OWN);

    // the real node-lifecycle controller marks it down
    await eventually(
      `${OWN} NotReady`,
      async () =>
        (await core.readNode({ name: OWN })).status?.conditions?.some(
          (c) => c.type === 'Ready' && c.status !== 'True',
        ) === true,
      { timeoutMs: 60_000 },
    );

    // from the audit log: the operator acted under its ServiceAccount; its last status went out before the helper pod
    // that powered its own node off, the last power-off helper it created
    const audit = (await plane.readAudit()).filter(
      (e) => e.user === SA_USER && e.stage === 'ResponseComplete' && e.timestamp >= started,
    );
    const statusWrites = audit.filter(
      (e) => e.objectRef?.resource === 'powerevents' && e.objectRef.subresource === 'status' && e.verb === 'patch',
    );
    const helperCreates = audit.filter((e) => e.objectRef?.resource === 'pods' && e.verb === 'create');
    expect(statusWrites.length).toBeGreaterThan(0);
    const lastStatus = statusWrites.at(-1)?.timestamp ?? '';
    const ownHelpers = (
      await core.listNamespacedPod({
        namespace: NS,
        labelSelector: `hecate.dev/helper=power-off,hecate.dev/node=${OWN}`,
      })
    ).items;
    expect(ownHelpers).toHaveLength(1);
    expect((helperCreates.at(-1)?.timestamp ?? '') > lastStatus).toBe(true);
    // nothing by this user after its own node's power-off request: it went down with its node
    expect(audit.filter((e) => e.timestamp > (helperCreates.at(-1)?.timestamp ?? '')).map((e) => e.verb)).not.toContain(
      'patch',
    );
  }, 600_000);
});
