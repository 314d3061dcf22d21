import { describe, expect, it } from 'vitest';
import { helperPodSpec, helperSelector, powerOffHelperCommand } from '../../../adapters/node-access/helper-pod-spec.js';
import { POWER_OFF_SCRIPT_NAME } from '../../../adapters/node-access/power-off-script.js';

const base = {
  purpose: 'power-off',
  node: 'titan-04',
  namespace: 'hecate-system',
  image: 'docker.io/library/busybox:1.37',
  command: ['sh', '-c', 'true'],
  activeDeadlineSeconds: 600,
};

describe('helperPodSpec', () => {
  it('given a privileged helper, then the pod is pinned, tolerates every taint, has hostPID, the host root at /host and a deadline', () => {
    const pod = helperPodSpec({ ...base, privileged: true });
    expect(pod.metadata).toEqual({
      generateName: 'hecate-power-off-titan-04-',
      namespace: 'hecate-system',
      labels: {
        'app.kubernetes.io/managed-by': 'hecate',
        'hecate.dev/helper': 'power-off',
        'hecate.dev/node': 'titan-04',
      },
    });
    expect(pod.spec).toMatchObject({
      nodeName: 'titan-04',
      hostPID: true,
      restartPolicy: 'Never',
      activeDeadlineSeconds: 600,
      tolerations: [{ operator: 'Exists' }],
      automountServiceAccountToken: false,
      volumes: [{ name: 'host', hostPath: { path: '/', type: 'Directory' } }],
    });
    expect(pod.spec?.containers).toEqual([
      expect.objectContaining({
        image: 'docker.io/library/busybox:1.37',
        imagePullPolicy: 'IfNotPresent',
        command: ['sh', '-c', 'true'],
        securityContext: { privileged: true },
        volumeMounts: [{ name: 'host', mountPath: '/host' }],
      }),
    ]);
  });

  it('given the boot the power-off is meant for, then it names the pod and labels it; a value no label can hold is left out', () => {
    const boot = '3F1C2A9E-8b7d-4c6e-9a1b-2c3d4e5f6a7b';
    const pod = helperPodSpec({ ...base, privileged: true, bootId: boot });
    expect(pod.metadata?.labels).toMatchObject({ 'hecate.dev/boot-id': boot });
    // named after the node and the boot: a second run making the same request meets AlreadyExists
    expect(pod.metadata?.name).toBe('hecate-power-off-titan-04-3f1c2a9e');
    expect(pod.metadata?.generateName).toBeUndefined();
    expect(helperPodSpec({ ...base, privileged: true, bootId: 'not/a label' }).metadata?.labels).not.toHaveProperty(
      'hecate.dev/boot-id',
    );
  });

  it('given an unprivileged helper (the pre-pull), then it has no hostPID, no host mount and drops every capability', () => {
    const pod = helperPodSpec({ ...base, purpose: 'prepull', privileged: false, command: ['true'] });
    expect(pod.spec?.hostPID).toBeUndefined();
    expect(pod.spec?.volumes).toBeUndefined();
    expect(pod.spec?.containers?.[0]?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.spec?.tolerations).toEqual([{ operator: 'Exists' }]);
  });

  it.each([
    [undefined, undefined, 'app.kubernetes.io/managed-by=hecate,hecate.dev/helper'],
    ['prepull', undefined, 'app.kubernetes.io/managed-by=hecate,hecate.dev/helper=prepull'],
    [
      'power-off',
      'titan-04',
      'app.kubernetes.io/managed-by=hecate,hecate.dev/helper=power-off,hecate.dev/node=titan-04',
    ],
  ])('selects helpers of purpose %s on node %s', (purpose, node, selector) => {
    expect(helperSelector(purpose, node)).toBe(selector);
  });

  it('given a power-off command, then the helper enters PID 1 namespaces and passes the command as arguments of the script', () => {
    const argv = powerOffHelperCommand(['systemctl', 'poweroff']);
    expect(argv.slice(0, 10)).toEqual(['nsenter', '-t', '1', '-m', '-u', '-i', '-n', '-p', '--', 'sh']);
    expect(argv[10]).toBe('-c');
    expect(argv.slice(12)).toEqual([POWER_OFF_SCRIPT_NAME, 'systemctl', 'poweroff']);
  });
});
