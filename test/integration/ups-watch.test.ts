/**
 * The operator's UPS watcher with a real NUT `upsd` and `dummy-ups` on loopback: the UPS goes on
 * battery and stays there → exactly ONE shutdown PowerEvent (dry-run), however many polls follow, the charge
 * dropping under the emergency threshold, or the operator being killed and restarted mid-outage. Power back, then a
 * second outage with LB → one more event, at once (no delay for a critical UPS).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCrdPaths, type ControlPlane, REPO_ROOT, requireBed, startControlPlane } from '../../bed/index.js';
import { OperatorProcess, sleep } from '../../bed/operator/process.js';
import { eventually } from '../../bed/simulators.js';
import { GROUP, type PowerEvent, VERSION } from '../../core/api/index.js';
import { fromYaml, toYaml } from '../../core/api/yaml.js';
import { OUTAGE_ANNOTATION } from '../../operator/ups-watch.js';
import { NutServer, requireNut } from '../helpers/nut.js';

const bed = requireBed();
const nut = requireNut();
const run = promisify(execFile);
const NS = 'hecate-system';
const FAST = ['--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '500ms'];
const ON_LINE = { 'ups.status': 'OL', 'battery.charge': 100, 'battery.runtime': 3600 };

describe.skipIf(!bed.ok || !nut.ok)('operator UPS watcher with a real NUT dummy UPS', () => {
  let plane: ControlPlane;
  let ups: NutServer;
  let api: CustomObjectsApi;
  let saKubeconfig: string;
  const operators: OperatorProcess[] = [];

  const startOperator = (identity: string) => {
    const op = new OperatorProcess({
      kubeconfig: saKubeconfig,
      identity,
      args: ['--namespace', NS, '--lease-namespace', NS, ...FAST],
    });
    operators.push(op);
    return op;
  };
  const upsEvents = async () => {
    const list = (await api.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'powerevents',
      namespace: NS,
    })) as { items: PowerEvent[] };
    return list.items.filter((e) => e.metadata.labels?.['power.hecate.dev/trigger'] === 'ups');
  };

  beforeAll(async () => {
    [plane, ups] = await Promise.all([
      startControlPlane({ crds: allCrdPaths() }),
      NutServer.start({ dev: ON_LINE, ups: 'atlas-ups' }),
    ]);
    api = plane.kubeConfig.makeApiClient(CustomObjectsApi);
    const kubectl = (...args: string[]) =>
      run(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfigPath, ...args], { cwd: REPO_ROOT });
    await kubectl('apply', '-f', 'manifests/namespace.yaml', '-f', 'manifests/rbac.yaml');
    const plan = fromYaml(await readFile(join(REPO_ROOT, 'examples/atlas-powerplan.yaml'), 'utf8')) as {
      spec: Record<string, unknown>;
    };
    plan.spec.ups = {
      source: 'nut',
      nut: { host: ups.host, port: ups.port, ups: ups.ups },
      minStartupCharge: 50,
      emergencyCharge: 30,
      pollInterval: '1s',
    };
    const file = join(plane.dir, 'atlas-powerplan.yaml');
    await writeFile(file, toYaml(plan));
    await kubectl('apply', '-f', file);
    saKubeconfig = await plane.writeKubeConfig(
      await plane.serviceAccountKubeConfig(NS, 'hecate-operator'),
      'hecate-operator.kubeconfig',
    );
  });

  afterAll(async () => {
    await Promise.all(operators.map((op) => op.stop('SIGKILL')));
    await Promise.all([plane?.stop(), ups?.stop()]);
  });

  it('one dry-run shutdown PowerEvent per outage, not one per poll', async () => {
    const first = startOperator('ups-a');
    await first.waitForLog((l) => l.message === 'Watching the UPS' && l.powerPlan === 'atlas');
    await sleep(2_000);
    expect(await upsEvents()).toEqual([]);

    // on battery, not low: the event comes after the delay (4 × pollInterval), not before
    const onBattery = Date.now();
    await ups.setDev({ 'ups.status': 'OB DISCHRG', 'battery.charge': 90, 'battery.runtime': 1800 });
    await first.waitForLog((l) => l.message === 'UPS on battery', 10_000);
    const [event] = await eventually('a shutdown PowerEvent', async () => {
      const events = await upsEvents();
      return events.length > 0 && events;
    });
    const reactionMs = Date.now() - onBattery;
    console.info(`UPS on battery → shutdown PowerEvent in ${reactionMs} ms (delay 4 s)`);
    expect(reactionMs).toBeGreaterThanOrEqual(4_000);
    expect(event?.spec).toMatchObject({ action: 'shutdown', planRef: { name: 'atlas' }, execute: false });
    expect(event?.spec.reason).toContain('on battery');
    expect(event?.metadata.annotations?.[OUTAGE_ANNOTATION]).toBe('open');

    // more polls, the charge under the emergency threshold, and a new operator mid-outage: still one
    await ups.setDev({ 'ups.status': 'OB DISCHRG', 'battery.charge': 20, 'battery.runtime': 300 });
    await sleep(3_000);
    await first.stop('SIGKILL');
    const second = startOperator('ups-b');
    await second.waitForLog((l) => l.message === 'Watching the UPS', 15_000);
    await sleep(3_000);
    expect((await upsEvents()).map((e) => e.metadata.name)).toEqual([event?.metadata.name]);
    await second.waitForLog((l) => l.message === 'Shutdown already requested for this outage');

    // the power comes back: the outage is closed; a second outage with LB asks again at once
    await ups.setDev(ON_LINE);
    await eventually('the outage to be closed', async () => {
      const [only] = await upsEvents();
      return only?.metadata.annotations?.[OUTAGE_ANNOTATION] === 'closed';
    });
    await sleep(1_100); // a new outage start second, so a new name
    const critical = Date.now();
    await ups.setDev({ 'ups.status': 'OB LB', 'battery.charge': 10, 'battery.runtime': 60 });
    const events = await eventually('a second shutdown PowerEvent', async () => {
      const all = await upsEvents();
      return all.length === 2 && all;
    });
    console.info(`second outage, UPS OB LB → shutdown PowerEvent in ${Date.now() - critical} ms`);
    const newest = events.find((e) => e.metadata.name !== event?.metadata.name);
    expect(newest?.spec.reason).toContain('critical');
    await sleep(2_000);
    expect(await upsEvents()).toHaveLength(2);

    // the operator renders each as a dry-run: the plan in status, nothing changed
    await eventually('the dry-run to be rendered', async () => {
      const all = await upsEvents();
      return all.every((e) => e.status?.conditions?.some((c) => c.type === 'Ready' && c.reason === 'DryRun'));
    });
  });
});
