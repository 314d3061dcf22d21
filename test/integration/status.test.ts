/**
 * `hecate status` against the test bed (the Atlas scenario), in each situation an operator meets: healthy, UPS low,
 * mid-shutdown (Flux suspended, a worker cordoned by Hecate), mid-startup with the chain at vault, and after the
 * shutdown with the API down. Each text output is compared with a golden file (ports, paths, ages, times and commits
 * normalised; UPDATE_GOLDEN=1 rewrites them) and each `-o json` is validated against the checked-in JSON Schema.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppsV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { KubeFlux } from '../../adapters/kube/flux.js';
import { KubeNodes } from '../../adapters/kube/nodes.js';
import { StateFile } from '../../adapters/state-file.js';
import { type E2e, HECATE_USER, startE2e } from '../../bed/e2e.js';
import { REPO_ROOT, requireBed } from '../../bed/index.js';
import { eventually } from '../../bed/simulators.js';
import { watchStatus } from '../../cli/commands/status.js';
import type { StatusReport } from '../../cli/status/model.js';
import { GROUP, type OutageRecord, type Progress, type StepRecord, VERSION } from '../../core/api/index.js';
import { fromYaml, toYaml } from '../../core/api/yaml.js';
import { fluxKey } from '../../core/flux/objects.js';
import { NutServer, requireNut } from '../helpers/nut.js';

const bed = requireBed();
const nut = requireNut();
const GOLDEN = join(REPO_ROOT, 'test/golden/status');
const SCHEMA = z.fromJSONSchema(
  JSON.parse(await readFile(join(REPO_ROOT, 'cli/status/status.schema.json'), 'utf8')) as never,
);

/** Stable text: the bed's folder, ports, ages, times and commits replaced by placeholders. */
function normalise(text: string, dir: string): string {
  return text
    .split(dir)
    .join('<dir>')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
    .replace(/@sha1:[0-9a-f]{7,40}/g, '@sha1:<commit>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/read \d+s ago/g, 'read <age>s ago');
}

async function golden(name: string, actual: string): Promise<void> {
  const file = join(GOLDEN, `${name}.txt`);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    await mkdir(GOLDEN, { recursive: true });
    await writeFile(file, actual);
  }
  expect(actual).toBe(await readFile(file, 'utf8'));
}

const done = (id: string): StepRecord => ({ id, state: 'done', startedAt: '2026-11-25T01:00:00Z' });

function run(action: Progress['action'], steps: StepRecord[], finished = false): Progress {
  return {
    action,
    mode: action,
    planName: 'atlas',
    startedAt: '2026-11-25T01:00:00Z',
    updatedAt: '2026-11-25T01:05:00Z',
    ...(finished ? { finishedAt: '2026-11-25T01:10:00Z' } : {}),
    steps,
  };
}

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe.skipIf(!bed.ok)('hecate status on the Atlas bed', () => {
  let e2e: E2e;
  let record: OutageRecord;

  async function status(...extra: string[]): Promise<{ code: number; text: string; report: StatusReport }> {
    const text = await e2e.hecate(['status', ...e2e.args(...extra)]);
    const json = await e2e.hecate(['status', ...e2e.args(...extra), '-o', 'json']);
    const parsed = SCHEMA.safeParse(JSON.parse(json.stdout));
    expect(parsed.success, JSON.stringify(parsed.error?.issues.slice(0, 3))).toBe(true);
    expect(json.code).toBe(text.code);
    return { code: text.code, text: normalise(text.stdout, e2e.dir), report: JSON.parse(json.stdout) };
  }

  /** Waits until the status says what `ok` wants (the stand-ins converge in the background), then returns it. */
  async function settled(ok: (r: StatusReport) => boolean, ...extra: string[]) {
    await eventually('the status to settle', async () => {
      const out = await e2e.hecate(['status', ...e2e.args(...extra), '-o', 'json']);
      return ok(JSON.parse(out.stdout) as StatusReport);
    });
    return status(...extra);
  }

  /** The hand-over the CLI makes after the chain: a startup PowerEvent the operator runs (its status written here). */
  async function activePowerEvent(): Promise<void> {
    const api = e2e.plane.kubeConfig.makeApiClient(CustomObjectsApi);
    const ref = { group: GROUP, version: VERSION, plural: 'powerevents', namespace: 'default' };
    await api.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'PowerEvent',
        metadata: { name: 'startup-after-outage' },
        spec: { action: 'startup', planRef: { name: 'atlas' }, execute: true },
      },
    });
    const at = '2026-11-25T01:31:00Z';
    const status = {
      phase: 'Running',
      stage: 'chain',
      startedAt: at,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'Progressing',
          message: 'Running chain',
          lastTransitionTime: at,
          observedGeneration: 1,
        },
        {
          type: 'Reconciling',
          status: 'True',
          reason: 'Progressing',
          message: 'Running chain/vault',
          lastTransitionTime: at,
          observedGeneration: 1,
        },
      ],
    };
    await api.patchNamespacedCustomObjectStatus({ ...ref, name: 'startup-after-outage', body: { status } }, MERGE);
  }

  beforeAll(async () => {
    e2e = await startE2e({ harbor: true });
  });
  afterAll(async () => {
    await e2e?.stop();
  });

  it('healthy: exit 0, every node Ready, the chain Ready, Harbor images on its node', async () => {
    const out = await settled((r) => r.health === 'healthy');
    expect(out.code).toBe(0);
    expect(out.report.harbor?.images?.missing).toEqual([]);
    expect(out.report.chain.every((s) => s.ready !== false)).toBe(true);
    await golden('healthy', out.text);
  });

  it('UPS low (a static reading of 20%): exit 1 and the gate says why', async () => {
    const plan = fromYaml(await readFile(e2e.planPath, 'utf8')) as { spec: { ups: Record<string, unknown> } };
    plan.spec.ups = { ...plan.spec.ups, source: 'static', staticCharge: 20 };
    const low = join(e2e.dir, 'low-ups-plan.yaml');
    await writeFile(low, toYaml(plan));
    const text = await e2e.hecate(['status', '--plan', low, '--kubeconfig', e2e.kubeconfig]);
    expect(text.code).toBe(1);
    const flat = text.stdout.replace(/\s+/g, ' ');
    expect(flat).toContain('charge 20% is below the startup minimum 50% (minStartupCharge)');
    expect(flat).toContain('UPS blocks a startup: charge-below-minimum');
    await golden('ups-low', normalise(text.stdout, e2e.dir));
  });

  it.skipIf(!nut.ok)(
    'UPS low (a real upsd, dummy-ups on battery at 18%): the reading, its age and the verdict',
    async () => {
      const server = await NutServer.start({
        dev: { 'battery.charge': 18, 'battery.runtime': 240, 'ups.status': 'OB DISCHRG' },
      });
      try {
        const plan = fromYaml(await readFile(e2e.planPath, 'utf8')) as { spec: { ups: Record<string, unknown> } };
        plan.spec.ups = { source: 'nut', nut: { host: server.host, port: server.port, ups: server.ups } };
        const file = join(e2e.dir, 'nut-plan.yaml');
        await writeFile(file, toYaml(plan));
        const json = await e2e.hecate(['status', '--plan', file, '--kubeconfig', e2e.kubeconfig, '-o', 'json']);
        const report = JSON.parse(json.stdout) as StatusReport;
        expect(json.code).toBe(1);
        expect(report.ups.reading).toMatchObject({ charge: 18, runtimeSeconds: 240, status: ['OB', 'DISCHRG'] });
        expect(report.ups.verdict).toMatchObject({
          startupAllowed: false,
          onBattery: true,
          low: true,
          emergency: true,
        });
        expect(report.ups.ageSeconds).toBeLessThan(5);
        expect(report.ups.summary).toMatch(
          /charge 18%, runtime 240s, ups.status OB DISCHRG, read \ds ago; on battery and low/,
        );
      } finally {
        await server.stop();
      }
    },
  );

  it('--watch: a cordon shows up from the node watch within seconds, with no polling in between', async () => {
    let out = '';
    const stop = new AbortController();
    const deps = {
      stdout: (t: string) => {
        out += t;
      },
      stderr: () => undefined,
      env: e2e.env,
      cwd: REPO_ROOT,
      now: () => new Date(),
    };
    const options = {
      execute: false,
      offline: false,
      output: 'json' as const,
      plan: e2e.planPath,
      kubeconfig: e2e.kubeconfig,
      watch: true,
    };
    const watching = watchStatus(options, deps, stop.signal);
    await eventually('the first report', () => out.includes('\n'));
    const reads = async () =>
      (await e2e.plane.readAudit()).filter((e) => e.user === HECATE_USER && e.verb === 'list').length;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const idleLists = await reads();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await reads(), 'no list requests while nothing changes').toBe(idleLists);
    const started = Date.now();
    await new KubeNodes(e2e.plane.kubeConfig).cordon('titan-07', 'someone');
    await eventually('the cordon in a watch update', () =>
      out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as StatusReport)
        .some((r) => r.nodes.some((n) => n.name === 'titan-07' && n.cordonedBy === 'someone')),
    );
    console.info(`status --watch saw the cordon after ${Date.now() - started} ms`);
    stop.abort();
    await watching;
    await new KubeNodes(e2e.plane.kubeConfig).uncordon('titan-07');
  });

  it('mid-shutdown: Flux suspended by Hecate, titan-04 cordoned by hecate, the run at drain/titan-04', async () => {
    const flux = new KubeFlux(e2e.plane.kubeConfig);
    const objects = [...(await flux.list('Kustomization')), ...(await flux.list('HelmRelease'))];
    for (const o of objects) await flux.setSuspended(o, true);
    await new KubeNodes(e2e.plane.kubeConfig).cordon('titan-04', 'hecate');
    record = {
      inOutage: true,
      startedAt: '2026-11-25T01:00:00Z',
      reason: 'utility maintenance',
      suspendedByHecate: {
        kustomizations: objects.filter((o) => o.kind === 'Kustomization').map(fluxKey),
        helmReleases: objects.filter((o) => o.kind === 'HelmRelease').map(fluxKey),
      },
      alreadySuspended: [],
      cordonedByHecate: ['titan-04'],
      poweredOff: [],
      fluxRevision: e2e.revision,
      ignoredUps: false,
    };
    const steps = [
      done('outage/record'),
      done('flux-suspend/root'),
      done('flux-suspend/kustomizations'),
      done('flux-suspend/helmreleases'),
      done('cordon/workers'),
      { id: 'drain/titan-04', state: 'running' as const, startedAt: '2026-11-25T01:04:00Z' },
    ];
    await new StateFile(e2e.statePath).save({ outage: record, progress: run('shutdown', steps) });
    const out = await settled((r) => r.flux.suspended.length === objects.length && r.nodes.some((n) => n.cordoned));
    expect(out.code).toBe(1);
    expect(out.report.outage.run).toMatchObject({
      mode: 'shutdown',
      stage: 'drain',
      condition: 'NodesDrained',
      lastDone: { id: 'cordon/workers' },
      running: { id: 'drain/titan-04' },
      next: { id: 'drain/titan-04' },
    });
    expect(out.report.nodes.find((n) => n.name === 'titan-04')).toMatchObject({
      cordoned: true,
      cordonedBy: 'hecate',
      cordonedByHecate: true,
    });
    expect(out.report.flux.suspended.every((s) => s.byHecate)).toBe(true);
    await golden('mid-shutdown', out.text);
  });

  it('mid-startup: the chain at vault (vault, postgres and gitea gone, the Flux source down)', async () => {
    await new KubeNodes(e2e.plane.kubeConfig).uncordon('titan-04');
    const apps = e2e.plane.kubeConfig.makeApiClient(AppsV1Api);
    await apps.deleteNamespacedStatefulSet({ namespace: 'vault', name: 'vault' });
    await apps.deleteNamespacedStatefulSet({ namespace: 'postgres', name: 'postgres' });
    await apps.deleteNamespacedDeployment({ namespace: 'gitea', name: 'gitea' });
    const before = ['core', 'helm', 'longhorn', 'metallb', 'traefik', 'vault-csi', 'vault-injector'];
    const steps: StepRecord[] = [
      ...['power-gate/ups', 'api/wait', 'outage/adopt', 'nodes/quorum', 'nodes/uncordon', 'flux-source/check'].map(
        done,
      ),
      ...before.map((s) => done(`chain/${s}`)),
      { id: 'chain/vault', state: 'running', startedAt: '2026-11-25T01:30:00Z' },
    ];
    await new StateFile(e2e.statePath).save({
      outage: { ...record, cordonedByHecate: [] },
      progress: run('startup', steps),
    });
    await activePowerEvent();
    const out = await settled(
      (r) =>
        r.flux.source.ready === false &&
        r.chain.find((s) => s.name === 'vault')?.ready === false &&
        r.nodes.every((n) => !n.cordoned),
    );
    expect(out.code).toBe(1);
    expect(out.report.outage.run).toMatchObject({
      mode: 'startup',
      stage: 'chain',
      condition: 'ChainReady',
      lastDone: { id: 'chain/vault-injector' },
      running: { id: 'chain/vault' },
      next: { id: 'chain/vault' },
    });
    expect(out.report.powerEvent.current).toMatchObject({
      name: 'startup-after-outage',
      action: 'startup',
      active: true,
      phase: 'Running',
      stage: 'chain',
    });
    const ready = Object.fromEntries(out.report.chain.map((s) => [s.name, s.ready]));
    expect(ready).toMatchObject({ traefik: true, 'vault-injector': true, vault: false, postgres: false, gitea: false });
    await golden('mid-startup-chain-at-vault', out.text);
  });

  it('after the shutdown, the API down: exit 4; the state file, UPS and snapshot shown, the rest said unseen', async () => {
    await new StateFile(e2e.statePath).save({
      outage: { ...record, poweredOff: e2e.sims.kubelet.nodeNames },
      progress: run('shutdown', [done('outage/record'), done('power-off/titan-01')], true),
    });
    await e2e.plane.stopApiServer();
    const out = await status();
    expect(out.code).toBe(4);
    expect(out.report.health).toBe('unreachable');
    expect(out.report.outage).toMatchObject({ present: true, inOutage: true, run: { finished: true } });
    expect(out.report.ups.verdict?.startupAllowed).toBe(true);
    expect(out.report.snapshot.present).toBe(true);
    expect(out.report.unseen[0]).toContain('the API is unreachable');
    await golden('after-shutdown-api-down', out.text);
  });
});
