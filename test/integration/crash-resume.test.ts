/**
 * Crash and resume: `hecate shutdown --execute` runs as a child process (`node --import tsx cli/main.ts`) and is
 * SIGKILLed mid-suspend, mid-drain and between two power-offs; each rerun resumes from the state file. The last run
 * completes, and the end state is the one an uninterrupted shutdown leaves: every Flux object suspended (the one
 * paused by someone else recorded as theirs, not Hecate's), the workers drained, every node off — with no node sent
 * a power-off twice (one helper pod per node) and no record written twice.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watchPowerOffHelpers } from '../../bed/chaos.js';
import {
  type E2e,
  HECATE_USER,
  spawnCli,
  startE2e,
  suspendedFlux,
  withPausedApps,
  workersTogether,
} from '../../bed/e2e.js';
import { type AuditEvent, requireBed } from '../../bed/index.js';

const bed = requireBed();
const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];
const ORDER = [...WORKERS, 'titan-03', 'titan-02', 'titan-01'];
const PRE_SUSPENDED = 'Kustomization/flux-system/apps';

const byHecate = (events: AuditEvent[]) =>
  events.filter((e) => e.user === HECATE_USER && e.stage === 'ResponseComplete');

describe.skipIf(!bed.ok)('shutdown killed with SIGKILL and rerun', () => {
  let e2e: E2e;
  /** Every power-off helper pod seen, by node. */
  let watch: ReturnType<typeof watchPowerOffHelpers> | undefined;

  beforeAll(async () => {
    e2e = await startE2e({ scenario: withPausedApps });
    watch = watchPowerOffHelpers(e2e.plane.kubeConfig);
  });
  afterAll(async () => {
    watch?.stop();
    await e2e?.stop();
  });

  /** Runs the CLI until `when` holds, then SIGKILLs it; returns the step ids the state file had done. */
  async function killWhen(what: string, when: () => Promise<boolean>): Promise<string[]> {
    const child = spawnCli(['shutdown', ...e2e.args('--execute')], e2e.env);
    let exited: number | string | undefined;
    void child.exited.then((code) => {
      exited = code;
    });
    const deadline = Date.now() + 90_000;
    while (exited === undefined && !(await when().catch(() => false))) {
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(exited, `the CLI ended before ${what}:\n${child.output().slice(-3000)}`).toBeUndefined();
    child.kill();
    expect(await child.exited).toBe('SIGKILL');
    const done = (await e2e.state())?.progress?.steps.filter((s) => s.state === 'done').map((s) => s.id) ?? [];
    console.info(`killed ${what}; done so far: ${done.join(', ') || '(nothing)'}`);
    return done;
  }

  it('mid-suspend, mid-drain and between power-offs: each rerun resumes, and the last one completes', async () => {
    const started = Date.now();
    await killWhen('mid-suspend', async () =>
      byHecate(await e2e.plane.readAudit()).some(
        (e) => e.verb === 'patch' && e.objectRef?.resource === 'kustomizations',
      ),
    );
    await killWhen('mid-drain', async () =>
      byHecate(await e2e.plane.readAudit()).some((e) => e.objectRef?.subresource === 'eviction'),
    );
    const done = await killWhen('between power-offs', async () => !e2e.sims.kubelet.isOn('titan-05'));
    expect(done).not.toContain('power-off/titan-07');
    const last = spawnCli(['shutdown', ...e2e.args('--execute')], e2e.env);
    expect(await last.exited, last.output().slice(-4000)).toBe(0);
    console.info(`shutdown with three crashes: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));

    const state = await e2e.state();
    const outage = state?.outage;
    const mine = [
      ...(outage?.suspendedByHecate.kustomizations ?? []),
      ...(outage?.suspendedByHecate.helmReleases ?? []),
    ];
    // no record written twice, and what a crashed run suspended is still Hecate's (startup resumes it)
    expect(new Set(mine).size).toBe(mine.length);
    expect(outage?.alreadySuspended).toEqual([PRE_SUSPENDED]);
    expect([...mine, PRE_SUSPENDED].sort()).toEqual(await suspendedFlux(e2e.plane));
    expect(outage?.suspendedByHecate.kustomizations[0]).toBe('Kustomization/flux-system/flux-system');
    expect([...(outage?.cordonedByHecate ?? [])].sort()).toEqual(WORKERS);
    // no drain escalation left to resume, even for the node whose drain the kill interrupted
    expect(outage?.drainLevels).toBeUndefined();
    expect(workersTogether(outage?.poweredOff ?? [], WORKERS)).toEqual(ORDER);
    expect(state?.progress?.finishedAt).toBeDefined();
    expect(state?.progress?.steps.every((s) => s.state === 'done')).toBe(true);

    // every node off, each sent exactly one power-off
    for (const node of ORDER) expect(e2e.sims.kubelet.isOn(node), node).toBe(false);
    expect(Object.fromEntries([...(watch?.helpers ?? [])].map(([node, pods]) => [node, pods.size]))).toEqual(
      Object.fromEntries(ORDER.map((node) => [node, 1])),
    );
    // the workers hold DaemonSet pods only
    const core = e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
    for (const worker of WORKERS) {
      const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${worker}` });
      const left = pods.items.filter(
        (p) => p.metadata?.ownerReferences?.[0]?.kind !== 'DaemonSet' && !p.metadata?.labels?.['hecate.dev/helper'],
      );
      expect(
        left.map((p) => p.metadata?.name),
        worker,
      ).toEqual([]);
    }
  });
});
