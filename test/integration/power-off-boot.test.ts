/**
 * A power-off request is meant for one boot of its node, on the real control plane with the kubelet stand-in, whose
 * power-off helpers act as the script does on a host (its boot guard included):
 * - two deliverers of the same request (an operator that lost its lease still delivering what it announced, and the
 *   new leader) share one helper pod: the second follows the first's instead of deleting it and creating another;
 * - a helper left Pending on a node that went down before it ran (its kubelet starts it at the next boot, as a real
 *   kubelet starts the pods bound to its node) exits 0 without powering the node off again.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HelperPodAccess } from '../../adapters/node-access/helper-pod.js';
import { helperSelector } from '../../adapters/node-access/helper-pod-spec.js';
import { type ControlPlane, describeEvent, mutationsBy, requireBed, startControlPlane } from '../../bed/index.js';
import { eventually, type Simulators, startSimulators } from '../../bed/simulators.js';

const bed = requireBed();
const HECATE = 'hecate-operator';
const NAMESPACE = 'hecate-system';
const IMAGE = 'docker.io/library/busybox:1.37';

describe.skipIf(!bed.ok)('a power-off request meant for one boot', () => {
  let plane: ControlPlane;
  let sims: Simulators;
  let core: CoreV1Api;
  let deliverer: (n: number) => HelperPodAccess;

  beforeAll(async () => {
    plane = await startControlPlane({ nodeLifecycle: { nodeMonitorGracePeriod: '8s' } });
    sims = await startSimulators(
      plane.kubeConfig,
      ['n-1', 'n-2', 'n-3'].map((name) => ({ name, role: 'worker' as const, images: [IMAGE] })),
      { kubelet: { speed: 10, powerOffHelperMs: 500 }, flux: false, longhorn: false },
    );
    const kc = await plane.userKubeConfig(HECATE, ['system:masters']);
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    deliverer = () => new HelperPodAccess(kc, { helperImage: IMAGE, settleMs: 2_000, pollMs: 200 });
  });
  afterAll(async () => {
    await sims?.stop();
    await plane?.stop();
  });

  const bootOf = async (name: string) => (await core.readNode({ name })).status?.nodeInfo?.bootID ?? '';
  const helpers = async (node: string) =>
    (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: helperSelector('power-off', node) })).items;

  it('given two deliverers of one request for the same boot, then one helper pod is created and the node goes down once', async () => {
    const bootId = await bootOf('n-1');
    const first = deliverer(1).powerOff({ name: 'n-1', bootId }, ['systemctl', 'poweroff']);
    await eventually('the first helper created', async () => (await helpers('n-1')).length === 1, {
      timeoutMs: 10_000,
    });
    const second = deliverer(2).powerOff({ name: 'n-1', bootId }, ['systemctl', 'poweroff']);
    await Promise.all([first, second]);
    await eventually('n-1 off', async () => !sims.kubelet.isOn('n-1'), { timeoutMs: 10_000 });

    const creates = mutationsBy(await plane.readAudit(), HECATE)
      .map(describeEvent)
      .filter((e) => e.startsWith('create pods'));
    expect(creates).toHaveLength(1);
    const [pod] = await helpers('n-1');
    expect(pod?.metadata?.labels?.['hecate.dev/boot-id']).toBe(bootId);
    expect(pod?.metadata?.deletionTimestamp).toBeUndefined(); // followed, not replaced
  });

  it('given two deliverers of one request at the same instant, then one create is refused AlreadyExists, nothing is deleted, and both follow one pod', async () => {
    const bootId = await bootOf('n-3');
    const before = mutationsBy(await plane.readAudit(), HECATE).length;
    await Promise.all([3, 4].map((n) => deliverer(n).powerOff({ name: 'n-3', bootId }, ['systemctl', 'poweroff'])));
    await eventually('n-3 off', async () => !sims.kubelet.isOn('n-3'), { timeoutMs: 10_000 });

    const writes = mutationsBy(await plane.readAudit(), HECATE)
      .slice(before)
      .map(describeEvent);
    expect(writes.filter((e) => e.startsWith('delete pods'))).toEqual([]);
    expect(writes.filter((e) => e.startsWith('create pods')).sort()).toEqual(
      [
        `create pods ${NAMESPACE}/hecate-power-off-n-3-${bootId.slice(0, 8)} 201`,
        `create pods ${NAMESPACE}/hecate-power-off-n-3-${bootId.slice(0, 8)} 409`,
      ].sort(),
    );
    expect(await helpers('n-3')).toHaveLength(1);
  });

  it('given a helper left Pending on a node that went down before it ran, when the node boots, then the helper exits 0 and the node stays up', async () => {
    const bootId = await bootOf('n-2');
    await sims.kubelet.powerOff('n-2'); // the power went before the helper could start; the API still says Ready
    await deliverer(3).powerOff({ name: 'n-2', bootId }, ['systemctl', 'poweroff']); // returns once n-2 reads down
    const [pending] = await helpers('n-2');
    expect(pending?.status?.phase).toBe('Pending');

    await sims.kubelet.powerOn('n-2'); // a new boot: its kubelet starts the pods bound to it
    expect(await bootOf('n-2')).not.toBe(bootId);
    await eventually(
      'the leftover helper finished',
      async () => (await helpers('n-2'))[0]?.status?.phase === 'Succeeded',
      { timeoutMs: 15_000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the stand-in's power-off would come 50 ms after the start
    expect(sims.kubelet.isOn('n-2')).toBe(true);
  });
});
