/**
 * The UPS watch during `hecate startup --execute`, on the real parts: the Atlas scenario on the
 * bed after a shutdown with the chain's workloads gone (the Flux source is not Ready, so the bootstrap chain runs),
 * and a real NUT upsd + dummy-ups on loopback as the plan's UPS. Once the chain's first apply shows in the audit
 * log, the test writes "on battery, 20 %" into the .dev file; once the emergency shutdown is under way, power comes
 * back ("OL"). Witnesses: the audit log (what Hecate applied, and when), the kubelet stand-in (which nodes are off),
 * the Flux objects and the state file.
 *
 * Reports the time from the .dev change to the watch's decision, to the first emergency step and to the first
 * emergency mutation. NOTE: the chain stage in flight finishes before the startup stops (a safe point), so that
 * time includes what is left of it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeFlux } from '../../adapters/kube/flux.js';
import { StateFile } from '../../adapters/state-file.js';
import type { CliResult } from '../../bed/e2e.js';
import { chainApplies, type E2e, HECATE_USER, listFlux, startE2e } from '../../bed/e2e.js';
import { type AuditEvent, describeEvent, requireBed } from '../../bed/index.js';
import { eventually } from '../../bed/simulators.js';
import { snapshotFiles } from '../../bed/snapshot.js';
import { type PowerPlanSpec, parseOrThrow, powerPlan } from '../../core/api/index.js';
import { fromYaml, toYaml } from '../../core/api/yaml.js';
import { fluxKey } from '../../core/flux/objects.js';
import { NutServer, requireNut } from '../helpers/nut.js';

const bed = requireBed();
const nut = requireNut();
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];
/** The stages whose workloads are gone after the cold boot (Gitea among them: the Flux source is down). */
const GONE_STAGES = ['metallb', 'traefik', 'vault-csi', 'vault-injector', 'vault', 'postgres', 'gitea'];
const ON_LINE = { 'ups.status': 'OL', 'battery.charge': 100, 'battery.runtime': 3600 };
const ON_BATTERY_LOW = { 'ups.status': 'OB DISCHRG', 'battery.charge': 20, 'battery.runtime': 300 };

const strip = (path: string) => path.replace(/^\.\//, '');
const ms = (from: number, to: number) => `${((to - from) / 1000).toFixed(2)} s`;

describe.skipIf(!bed.ok || !nut.ok)('hecate startup --execute while the UPS fails again (real NUT)', () => {
  let e2e: E2e;
  let ups: NutServer;
  let spec: PowerPlanSpec;
  /** `namespace/name` → chain stage, from the snapshot. */
  const stageOf = new Map<string, string>();

  beforeAll(async () => {
    ups = await NutServer.start({ dev: ON_LINE });
    e2e = await startE2e();
    // the bed's plan, with the real UPS instead of the static reading
    const plan = fromYaml(await readFile(e2e.planPath, 'utf8')) as { spec: Record<string, unknown> };
    plan.spec.ups = {
      source: 'nut',
      nut: { host: ups.host, port: ups.port, ups: ups.ups },
      minStartupCharge: 50,
      emergencyCharge: 30,
      pollInterval: '1s',
    };
    await writeFile(e2e.planPath, toYaml(plan));
    spec = parseOrThrow(powerPlan, plan, e2e.planPath).spec;
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
    await Promise.all([e2e?.stop(), ups?.stop()]);
  });

  /** What a shutdown leaves behind, and the cold boot: Flux suspended, workers cordoned, the chain's workloads gone. */
  async function afterShutdownAndColdBoot(): Promise<void> {
    const flux = new KubeFlux(e2e.plane.kubeConfig);
    const objects = [...(await flux.list('Kustomization')), ...(await flux.list('HelmRelease'))];
    for (const o of objects) await flux.setSuspended(o, true);
    const core = e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
    for (const name of WORKERS) await core.patchNode({ name, body: { spec: { unschedulable: true } } }, MERGE);
    await new StateFile(e2e.statePath).save({
      outage: {
        inOutage: true,
        startedAt: new Date().toISOString(),
        reason: 'planned shutdown (made by the test)',
        suspendedByHecate: {
          kustomizations: objects.filter((o) => o.kind === 'Kustomization').map(fluxKey),
          helmReleases: objects.filter((o) => o.kind === 'HelmRelease').map(fluxKey),
        },
        alreadySuspended: [],
        cordonedByHecate: WORKERS,
        poweredOff: [],
        fluxRevision: e2e.revision,
        ignoredUps: false,
      },
    });
    const apps = e2e.plane.kubeConfig.makeApiClient(AppsV1Api);
    for (const [path, manifests] of snapshotFiles(e2e.scenario)) {
      const stage = spec.bootstrapChain.find((s) => strip(s.path) === strip(path))?.name ?? '';
      if (!GONE_STAGES.includes(stage)) continue;
      for (const o of manifests) {
        const args = o.metadata as { namespace: string; name: string };
        if (o.kind === 'Deployment') await apps.deleteNamespacedDeployment(args);
        if (o.kind === 'StatefulSet') await apps.deleteNamespacedStatefulSet(args);
        if (o.kind === 'DaemonSet') await apps.deleteNamespacedDaemonSet(args);
      }
    }
    await eventually(
      'the Flux source to go down with Gitea',
      async () => (await flux.source('GitRepository', 'flux-system', 'flux-system'))?.ready === false,
    );
  }

  it('the UPS goes on battery under the threshold mid-chain: the chain stops, the emergency shutdown completes though power returns, exit 3', async () => {
    await afterShutdownAndColdBoot();
    let result: (CliResult & { ms: number }) | undefined;
    const running = e2e.hecate(['startup', ...e2e.args('--execute')]).then((r) => {
      result = r;
      return r;
    });
    /** Waits for `probe` while the CLI runs; fails at once, with the CLI's output, when the CLI ended first. */
    const during = async <T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> => {
      const deadline = Date.now() + 240_000;
      for (;;) {
        const value = await probe().catch(() => undefined);
        if (value !== undefined && value !== false) return value;
        if (result)
          throw new Error(`the CLI ended (exit ${result.code}) before ${what}:\n${result.stderr.slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };

    // power fails again once the chain is under way
    const firstApply = await during('the first chain apply', async () => chainApplies(await e2e.plane.readAudit())[0]);
    await ups.setDev(ON_BATTERY_LOW);
    const changedAt = Date.now();
    // power comes back once the emergency shutdown runs
    await during('the emergency shutdown to start', async () => {
      const progress = (await e2e.state())?.progress;
      return progress?.mode === 'emergency-shutdown' && progress.steps.length > 0;
    });
    await ups.setDev(ON_LINE);
    const powerBackAt = Date.now();
    const { code, stderr } = await running;

    // exit 3 and a message that says what happened and what to do
    const reason = `UPS ups@127.0.0.1:${ups.port} on battery at 20% (emergency below 30%)`;
    expect(code, stderr.slice(-4000)).toBe(3);
    expect(stderr).toContain(`Power failed again during the startup: ${reason}.`);
    expect(stderr).toContain('Running the emergency shutdown now; power returning will not interrupt it.');
    expect(stderr).toContain(
      `hecate: startup stopped by the UPS (${reason}); the emergency shutdown ran to completion. Rerun hecate startup --execute when power is stable.`,
    );

    // the outage record says where and why the startup stopped
    const state = await e2e.state();
    const outage = state?.outage;
    const stopped =
      /startup stopped by the UPS watch (before|while waiting on) step chain\/([\w-]+) at (\S+): (.*)$/.exec(
        outage?.reason ?? '',
      );
    expect(stopped, outage?.reason).not.toBeNull();
    const [, how = '', stoppedBefore = '', decidedIso = '', why] = stopped ?? [];
    // 'while waiting on': the stage had been applied and the stop cut its wait (it is checked again by a rerun)
    const waitCut = how === 'while waiting on';
    expect(why).toBe(reason);
    expect(stderr).toMatch(new RegExp(`stopped at a safe point ${how} step \\d+ \\(chain/${stoppedBefore}: `));

    // the chain stopped: nothing from the stage it stopped before, or any later one, was applied
    const chain = spec.bootstrapChain.map((s) => s.name);
    const events = await e2e.plane.readAudit();
    const progress = state?.progress;
    const emergencyStart = Date.parse(progress?.startedAt ?? '');
    // what the startup wrote with its field manager (HelmReleases too) before the emergency shutdown began;
    // namespaces are left out: several stages declare the same one
    const written = events.filter(
      (e) =>
        e.user === HECATE_USER &&
        e.verb === 'patch' &&
        e.stage === 'ResponseComplete' &&
        /fieldManager=hecate(&|$)/.test(e.requestURI) &&
        !['nodes', 'namespaces'].includes(e.objectRef?.resource ?? '') &&
        Date.parse(e.timestamp) < emergencyStart,
    );
    const stages = [
      ...new Set(written.map((e) => stageOf.get(`${e.objectRef?.namespace ?? ''}/${e.objectRef?.name}`))),
    ];
    const applied = chainApplies(events);
    const firstStage = stageOf.get(`${firstApply.objectRef?.namespace ?? ''}/${firstApply.objectRef?.name}`) ?? '?';
    const cut = chain.indexOf(stoppedBefore) + (waitCut ? 1 : 0);
    expect(chain.indexOf(stoppedBefore), `stopped ${how} ${stoppedBefore}`).toBeGreaterThanOrEqual(
      chain.indexOf(firstStage) + (waitCut ? 0 : 1),
    );
    expect(
      stages.filter((s) => chain.indexOf(s ?? '') >= cut),
      written.map(describeEvent).join('\n'),
    ).toEqual([]);
    expect(stages).not.toContain('gitea');

    // the emergency shutdown ran to completion, every step done, after the startup's last mutation
    expect(progress?.mode).toBe('emergency-shutdown');
    expect(progress?.finishedAt).toBeDefined();
    expect(progress?.steps.filter((s) => s.state !== 'done').map((s) => `${s.id} ${s.state}`)).toEqual([]);
    expect(Date.parse(applied.at(-1)?.timestamp ?? '')).toBeLessThan(emergencyStart);
    const mine = events.filter((e) => e.user === HECATE_USER && e.stage === 'ResponseComplete');
    const mutating = mine.filter((e) => /^(create|update|patch|delete|deletecollection)$/.test(e.verb));
    const firstMutation = mutating.find((e) => Date.parse(e.timestamp) >= emergencyStart);
    expect(firstMutation).toBeDefined();
    // every node powered off (workers first), Flux suspended again, the outage still open for the next startup
    const nodes = e2e.sims.kubelet.nodeNames;
    await eventually('every node to be off', () => nodes.every((n) => !e2e.sims.kubelet.isOn(n)), {
      timeoutMs: 10_000,
    });
    expect([...(outage?.poweredOff ?? [])].sort()).toEqual([...nodes].sort());
    expect(outage?.poweredOff.slice(0, WORKERS.length).sort()).toEqual(WORKERS);
    const flux = [...(await listFlux(e2e.plane, 'Kustomization')), ...(await listFlux(e2e.plane, 'HelmRelease'))];
    expect(flux.filter((o) => o.spec?.suspend !== true).map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual([]);
    expect(outage?.inOutage).toBe(true);
    // power came back while it ran, and it went on to the end anyway
    const lastStep = Math.max(...(progress?.steps ?? []).map((s) => Date.parse(s.finishedAt ?? '')));
    expect(powerBackAt).toBeLessThan(lastStep);

    const firstRun = progress?.steps
      .filter((s) => s.message !== 'already done')
      .map((s) => Date.parse(s.startedAt ?? ''))
      .sort((a, b) => a - b)[0];
    const decided = Date.parse(decidedIso);
    console.info(
      `UPS watch during startup (poll 1s, dummy-ups pollinterval 1s): .dev change (OB 20%) while chain/${firstStage} ran → ` +
        `watch decided after ${ms(changedAt, decided)}, ` +
        `emergency run started after ${ms(changedAt, emergencyStart)}, ` +
        `first emergency step after ${ms(changedAt, firstRun ?? Number.NaN)}, ` +
        `first emergency mutation (${describeEvent(firstMutation as AuditEvent)}) after ${ms(changedAt, Date.parse(firstMutation?.timestamp ?? ''))}; ` +
        `stopped ${how} chain/${stoppedBefore}; emergency shutdown took ${ms(emergencyStart, Date.parse(progress?.finishedAt ?? ''))}`,
    );
  }, 600_000);
});
