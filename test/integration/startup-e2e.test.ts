/**
 * `hecate startup` end to end, through the CLI, on the Atlas scenario after a shutdown (the outage record, Flux
 * suspended, the workers cordoned, every node power-cycled). Gitea is down (its Deployment and the chain's other
 * workloads are gone), so the Flux source is not Ready and the local bootstrap chain must bring them back from the
 * repo snapshot, stage by stage. The audit log is the witness of what Hecate applied and when; a poller records
 * when each stage's objects turned Ready. The API server is stopped and restarted in the middle of the chain.
 *
 * NOTE: the plan has no harbor section while this build has no seed-harbor executor (the harbor-seed issue).
 */

import { readFile } from 'node:fs/promises';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeFlux } from '../../adapters/kube/flux.js';
import { StateFile } from '../../adapters/state-file.js';
import {
  chainApplies,
  type E2e,
  HECATE_USER,
  listFlux,
  startE2e,
  suspendedFlux,
  waitForReady,
  withPausedApps,
} from '../../bed/e2e.js';
import { describeEvent, requireBed } from '../../bed/index.js';
import { eventually } from '../../bed/simulators.js';
import { snapshotFiles } from '../../bed/snapshot.js';
import { type PowerPlanSpec, parseOrThrow, powerPlan } from '../../core/api/index.js';
import { fromYaml } from '../../core/api/yaml.js';
import { fluxKey } from '../../core/flux/objects.js';

const bed = requireBed();
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];
const PRE_SUSPENDED = 'Kustomization/flux-system/apps';
/** The stages whose workloads are gone after the cold boot (Gitea among them: the Flux source is down). */
const GONE_STAGES = ['metallb', 'traefik', 'vault-csi', 'vault-injector', 'vault', 'postgres', 'gitea'];

const strip = (path: string) => path.replace(/^\.\//, '');

describe.skipIf(!bed.ok)('hecate startup on the Atlas scenario after a shutdown', () => {
  let e2e: E2e;
  let spec: PowerPlanSpec;
  /** `namespace/name` → chain stage, from the snapshot. */
  const stageOf = new Map<string, string>();

  /** What a shutdown leaves behind, made directly: Flux suspended, workers cordoned, the outage recorded. */
  async function shutDownByHand(fluxRevision: string): Promise<string[]> {
    const flux = new KubeFlux(e2e.plane.kubeConfig);
    const objects = [...(await flux.list('Kustomization')), ...(await flux.list('HelmRelease'))];
    const root = objects.filter((o) => o.kind === 'Kustomization' && o.name === 'flux-system');
    const ordered = [...root, ...objects.filter((o) => !root.includes(o))];
    const mine = ordered.filter((o) => !o.suspended);
    for (const o of mine) await flux.setSuspended(o, true);
    const core = e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
    for (const name of WORKERS) await core.patchNode({ name, body: { spec: { unschedulable: true } } }, MERGE);
    await new StateFile(e2e.statePath).save({
      outage: {
        inOutage: true,
        startedAt: new Date().toISOString(),
        reason: 'planned shutdown (made by the test)',
        suspendedByHecate: {
          kustomizations: mine.filter((o) => o.kind === 'Kustomization').map(fluxKey),
          helmReleases: mine.filter((o) => o.kind === 'HelmRelease').map(fluxKey),
        },
        alreadySuspended: ordered.filter((o) => o.suspended).map(fluxKey),
        cordonedByHecate: WORKERS,
        poweredOff: e2e.sims.kubelet.nodeNames,
        fluxRevision,
        ignoredUps: false,
      },
    });
    return mine.map(fluxKey);
  }

  beforeAll(async () => {
    e2e = await startE2e({ scenario: withPausedApps });
    spec = parseOrThrow(powerPlan, fromYaml(await readFile(e2e.planPath, 'utf8')), e2e.planPath).spec;
    const pathToStage = new Map(spec.bootstrapChain.map((s) => [strip(s.path), s.name]));
    for (const [path, objects] of snapshotFiles(e2e.scenario)) {
      const stage = pathToStage.get(strip(path));
      for (const o of objects) {
        const meta = o.metadata as { namespace?: string; name?: string };
        if (stage) stageOf.set(`${meta.namespace ?? ''}/${meta.name}`, stage);
      }
    }
  });
  afterAll(async () => {
    await e2e?.stop();
  });

  it('Flux source not Ready: applies the chain in order, each stage Ready before the next, survives an API restart, resumes Flux in dependsOn order', async () => {
    const resumed = await shutDownByHand(e2e.revision);
    // the cold boot: the chain's workloads (Gitea among them) are gone, every node goes down and comes back
    const apps = e2e.plane.kubeConfig.makeApiClient(AppsV1Api);
    const gone = new Map<string, { kind: string; namespace: string; name: string }>();
    for (const [path, objects] of snapshotFiles(e2e.scenario)) {
      const stage = spec.bootstrapChain.find((s) => strip(s.path) === strip(path))?.name ?? '';
      if (!GONE_STAGES.includes(stage)) continue;
      for (const o of objects) {
        const meta = o.metadata as { namespace: string; name: string };
        if (['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind ?? '')) {
          gone.set(`${meta.namespace}/${meta.name}`, { kind: o.kind ?? '', ...meta });
        }
      }
    }
    for (const w of gone.values()) {
      const args = { name: w.name, namespace: w.namespace };
      if (w.kind === 'Deployment') await apps.deleteNamespacedDeployment(args);
      if (w.kind === 'StatefulSet') await apps.deleteNamespacedStatefulSet(args);
      if (w.kind === 'DaemonSet') await apps.deleteNamespacedDaemonSet(args);
    }
    const flux = new KubeFlux(e2e.plane.kubeConfig);
    await eventually(
      'the Flux source to go down with Gitea',
      async () => (await flux.source('GitRepository', 'flux-system', 'flux-system'))?.ready === false,
    );
    for (const node of e2e.sims.kubelet.nodeNames) await e2e.sims.kubelet.powerOff(node);
    for (const node of e2e.sims.kubelet.nodeNames) await e2e.sims.kubelet.powerOn(node);

    // when each stage's waitFor objects turned Ready (start of the current Ready streak)
    const readySince = new Map<string, number>();
    const stop = pollReadiness(e2e, spec, readySince);
    // stop the API server for 4 s once the chain has applied traefik
    let restart: Promise<void> | undefined;
    let restartedAt = 0;
    const watcher = setInterval(async () => {
      if (restart) return;
      const events = await e2e.plane.readAudit();
      if (!chainApplies(events).some((e) => e.objectRef?.namespace === 'traefik')) return;
      restart = (async () => {
        await e2e.plane.stopApiServer();
        await new Promise((resolve) => setTimeout(resolve, 4_000));
        await e2e.plane.startApiServer();
        restartedAt = Date.now();
      })();
    }, 150);
    const startup = () => e2e.hecate(['startup', ...e2e.args('--execute')]);
    let result = await startup();
    // NOTE: a wait for a stage rides an API outage out, an apply or a check does not: a run that meets the API server
    // down there exits 1 and is run again, as the README tells a CLI user (which one meets it is timing: under load
    // the restart came after traefik was Ready, during vault-csi's apply)
    if (result.code === 1 && /ECONNREFUSED/.test(result.stderr)) {
      await restart;
      console.info('the API restart met an apply or a check: exit 1, run again');
      result = await startup();
    }
    clearInterval(watcher);
    stop();
    await restart;
    console.info(`startup with the fallback chain: ${(result.ms / 1000).toFixed(1)} s`);
    expect(result.code, result.stderr.slice(-4000)).toBe(0);
    // wait-flux let go only once Flux had reconciled what was resumed: Ready at the current generation
    const stale = [...(await listFlux(e2e.plane, 'Kustomization')), ...(await listFlux(e2e.plane, 'HelmRelease'))]
      .filter((o) => !o.spec?.suspend)
      .filter((o) => {
        const ready = o.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
        return ready?.status !== 'True' || o.status?.observedGeneration !== o.metadata?.generation;
      });
    expect(stale.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`)).toEqual([]);
    expect(restartedAt).toBeGreaterThan(0);

    // the chain, in the plan's order, each stage after the previous one was Ready
    const events = await e2e.plane.readAudit();
    const applied = chainApplies(events);
    const stages = applied.map((e) => stageOf.get(`${e.objectRef?.namespace ?? ''}/${e.objectRef?.name}`) ?? '?');
    const order = stages.filter((s, i) => s !== stages[i - 1]);
    const chain = spec.bootstrapChain.map((s) => s.name);
    expect(order, applied.map(describeEvent).join('\n')).toEqual(chain.filter((s) => order.includes(s)));
    for (const stage of GONE_STAGES) expect(order).toContain(stage);
    for (const [i, stage] of spec.bootstrapChain.entries()) {
      const next = spec.bootstrapChain[i + 1];
      const firstNext = applied.find((_, j) => stages[j] === next?.name);
      if (!next || !firstNext) continue;
      for (const w of stage.waitFor) {
        const key = `${w.kind}/${w.namespace}/${w.name}`;
        const since = readySince.get(key);
        expect(since, `${key} was never seen Ready`).toBeDefined();
        // the poller looks every 100 ms: Hecate may see it Ready a poll earlier
        expect(Date.parse(firstNext.timestamp), `${next.name} applied before ${key} was Ready`).toBeGreaterThan(
          (since ?? 0) - 300,
        );
      }
    }
    // requests made after the restart: the chain went on
    expect(applied.some((e) => Date.parse(e.timestamp) > restartedAt)).toBe(true);

    // Flux: what Hecate suspended is resumed, root first and each Kustomization after what it depends on
    const mine = events.filter((e) => e.user === HECATE_USER && e.verb === 'patch' && e.stage === 'ResponseComplete');
    const lastApply = Date.parse(applied.at(-1)?.timestamp ?? '');
    const resumes = mine.filter(
      (e) => Date.parse(e.timestamp) >= lastApply && e.objectRef?.resource === 'kustomizations',
    );
    const firstResume = (name: string) => resumes.findIndex((e) => e.objectRef?.name === name);
    expect(firstResume('flux-system')).toBe(0);
    for (const k of e2e.scenario.flux?.kustomizations ?? []) {
      if (!resumed.includes(`Kustomization/flux-system/${k.name}`)) continue;
      for (const dep of k.dependsOn) {
        expect(firstResume(dep), `${dep} before ${k.name}`).toBeLessThan(firstResume(k.name));
      }
    }
    expect(await suspendedFlux(e2e.plane)).toEqual([PRE_SUSPENDED]);
    const nodes = await e2e.plane.kubeConfig.makeApiClient(CoreV1Api).listNode();
    expect(nodes.items.filter((n) => n.spec?.unschedulable).map((n) => n.metadata?.name)).toEqual([]);
    expect((await e2e.state())?.outage.inOutage).toBe(false);
  });

  it('dry-run on a stopped API server returns at once with the plan; on the live bed it makes no change', async () => {
    await shutDownByHand(e2e.revision);
    const before = (await e2e.plane.readAudit()).length;
    const stateBefore = await readFile(e2e.statePath, 'utf8');
    const live = await e2e.hecate(['startup', ...e2e.args()]);
    expect(live.code, live.stderr).toBe(0);
    expect(live.stdout).toMatch(/Check whether GitRepository flux-system\/flux-system is Ready/);
    const after = (await e2e.plane.readAudit()).slice(before);
    const changes = after.filter(
      (e) => e.user === HECATE_USER && e.stage === 'ResponseComplete' && /^(create|update|patch|delete)/.test(e.verb),
    );
    expect(changes.filter((e) => !e.dryRun).map(describeEvent)).toEqual([]);

    await e2e.plane.stopApiServer();
    try {
      const offline = await e2e.hecate(['startup', ...e2e.args()]);
      console.info(`startup dry-run with the API server stopped: ${offline.ms} ms`);
      expect(offline.code, offline.stderr).toBe(0);
      expect(offline.stdout).toMatch(/Wait for the Kubernetes API/);
      expect(offline.ms).toBeLessThan(6_000);
    } finally {
      await e2e.plane.startApiServer();
    }
    expect(await readFile(e2e.statePath, 'utf8')).toBe(stateBefore);
  });

  it('Flux source Ready: no fallback apply at all, Flux resumed', async () => {
    // the state from the previous test: Flux suspended by hand, Gitea up
    const flux = new KubeFlux(e2e.plane.kubeConfig);
    await eventually(
      'the Flux source to be Ready',
      async () => (await flux.source('GitRepository', 'flux-system', 'flux-system'))?.ready,
      { timeoutMs: 30_000 },
    );
    const before = (await e2e.plane.readAudit()).length;
    const result = await e2e.hecate(['startup', ...e2e.args('--execute')]);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stderr).toMatch(/is Ready at .*no fallback needed/);
    const after = (await e2e.plane.readAudit()).slice(before);
    expect(chainApplies(after).map(describeEvent)).toEqual([]);
    expect(await suspendedFlux(e2e.plane)).toEqual([PRE_SUSPENDED]);
    const resumed = after.filter((e) => e.user === HECATE_USER && e.objectRef?.resource === 'kustomizations');
    expect(resumed.length).toBeGreaterThan(0);
    expect((await e2e.state())?.outage.inOutage).toBe(false);
  });

  it('a snapshot at another revision than prepare recorded: a clear warning; --execute would proceed', async () => {
    await shutDownByHand(e2e.revision);
    const git = (...args: string[]) =>
      execa('git', ['-C', e2e.snapshot, ...args], {
        env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
      });
    await git('commit', '-q', '--allow-empty', '-m', 'a later commit');
    const head = (await git('rev-parse', 'HEAD')).stdout.trim();
    const result = await e2e.hecate(['startup', ...e2e.args()]);
    expect(result.code).toBe(0);
    const recorded = e2e.revision.split(':').pop();
    expect(result.stdout).toContain(
      `WARNING: the repo snapshot ${e2e.snapshot} is at main@sha1:${head}, but prepare recorded ${e2e.revision}`,
    );
    expect(result.stdout).toContain(`git -C ${e2e.snapshot} checkout ${recorded}`);
  });
});

/** Polls every stage's waitFor objects every 100 ms; `readySince` holds when each one was first seen Ready. */
function pollReadiness(e2e: E2e, spec: PowerPlanSpec, readySince: Map<string, number>): () => void {
  const targets = spec.bootstrapChain.flatMap((s) => s.waitFor);
  const isReady = (w: (typeof targets)[number]): Promise<boolean> =>
    waitForReady(e2e.plane.kubeConfig, w).catch((error: { code?: number }) =>
      error.code === 404 ? false : Promise.reject(error),
    );
  const timer = setInterval(() => {
    for (const w of targets) {
      const key = `${w.kind}/${w.namespace}/${w.name}`;
      void isReady(w).then(
        // NOTE: the first time each object is seen Ready. Tracking the current streak flaked: the Flux resume at
        // the end bumps a HelmRelease's generation, its Ready restarts, and the streak then began after the apply.
        (ready) => {
          if (ready && !readySince.has(key)) readySince.set(key, Date.now());
        },
        () => {}, // the API server is down: no news
      );
    }
  }, 100);
  return () => clearInterval(timer);
}
