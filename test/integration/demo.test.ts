/**
 * The README's first command, `npm run demo`, end to end as a newcomer runs it: it must finish (exit 0), show the
 * dry-runs before anything executes, and, as root, put one real node through the power event (drained, powered off
 * by its helper pod, booted again, its workload running there again). Without root it says so and runs on stand-ins.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, requireBed } from '../../bed/index.js';
import { realNodeAvailability } from '../../bed/real-node/index.js';
import { REAL_WORKER, REAL_WORKLOAD } from '../../bed/scenarios/real-worker.js';

const bed = requireBed();
const real = realNodeAvailability();

describe.skipIf(!bed.ok)('npm run demo', () => {
  it(
    'runs through: dry-runs first, the operator shutdown, the power cut, the cold boot handed back, exit 0',
    async () => {
      const demo = await execa('npx', ['tsx', 'hack/demo.ts'], {
        cwd: REPO_ROOT,
        all: true,
        reject: false,
        timeout: 8 * 60_000,
        env: { NO_COLOR: '1' },
      });
      const output = demo.all ?? '';
      expect(demo.exitCode, output.slice(-4000)).toBe(0);
      expect(output).toMatch(/Demo done in \d+ s\./);

      // the order an operator reads: a dry-run before each executing run
      const at = (text: string) => {
        const i = output.indexOf(text);
        expect(i, `"${text}" in the demo's output`).toBeGreaterThanOrEqual(0);
        return i;
      };
      const order = [
        '$ hecate shutdown --plan',
        '$ hecate prepare --plan',
        '$ kubectl apply -f shutdown.yaml',
        '$ hecate startup --plan',
        'The operator picks up the startup PowerEvent',
      ].map(at);
      expect(order).toEqual([...order].sort((a, b) => a - b));
      // the CLI's cold boot did every step; the operator had none left to run
      expect(output).toMatch(/the CLI's run: (\d+) of \1 steps done; steps the operator started: \(none\)/);

      if (!real.ok) {
        expect(output).toContain(`As root, ${REAL_WORKER} would be a real node too`);
        return;
      }
      expect(output).toContain(`${REAL_WORKER} is a real node: a real kubelet, containerd and runc`);
      // planned: its drain and its helper-pod power-off, like every worker's
      expect(output).toMatch(new RegExp(`Cordon and drain ${REAL_WORKER}`));
      expect(output).toMatch(new RegExp(`Power off ${REAL_WORKER} \\(worker\\): a privileged helper pod`));
      // after the shutdown: down for the node-lifecycle controller, and its PID 1 really ended
      const node = output.slice(at(`$ kubectl get node ${REAL_WORKER}`));
      expect(node).toMatch(new RegExp(`${REAL_WORKER}\\s+NotReady,SchedulingDisabled`));
      expect(node).toContain('its PID 1 has ended: the node is off');
      // after the cold boot: its workload runs on it again, and it is uncordoned
      const pods = output.slice(at(`$ kubectl get pods -n ${REAL_WORKLOAD.namespace} -o wide`));
      expect(pods).toMatch(
        new RegExp(`${REAL_WORKLOAD.name}-\\S+\\s+1/1\\s+Running\\s+\\d+\\s+\\S+\\s+\\S+\\s+${REAL_WORKER}`),
      );
      expect(output).toMatch(new RegExp(`uncordoned ${REAL_WORKER}`));
      expect(output.slice(output.lastIndexOf('Nodes:'))).toMatch(/Nodes:\s+8\/8 Ready, 0 cordoned/);
    },
    10 * 60_000,
  );
});
