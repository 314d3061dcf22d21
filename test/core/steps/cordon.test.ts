/**
 * cordon-nodes: every worker cordoned before the first eviction of a shutdown, each recorded before any cordon is
 * sent; a node someone else cordoned is neither recorded nor cordoned again; the drain steps after it send no second
 * cordon. Behaviour on the real API server: test/integration/shutdown-e2e.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { outageRecord } from '../../../core/api/index.js';
import { compilePlan, StepKind } from '../../../core/plan/index.js';
import { runPlan } from '../../../core/run/runner.js';
import { cordonNodes } from '../../../core/steps/cordon.js';
import { drainNode } from '../../../core/steps/drain.js';
import { uncordonNodes } from '../../../core/steps/nodes.js';
import { atlasInput } from '../../helpers/atlas.js';
import { FakeCluster } from '../../helpers/fake-pods.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';
import { options as drainOptions } from '../drain/fixtures.js';

const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];

function world() {
  const cluster = new FakeCluster(new FakeClock());
  for (const name of WORKERS) cluster.nodes.add(name);
  return cluster;
}

/** One ReplicaSet pod, apps/web-1, on titan-04. */
function withWebPod(cluster: FakeCluster): FakeCluster {
  cluster.addPod({
    namespace: 'apps',
    name: 'web-1',
    app: 'web',
    node: 'titan-04',
    controller: { kind: 'ReplicaSet', name: 'web' },
  });
  return cluster;
}

/** The Atlas shutdown's cordon and drain steps, run against the fake cluster. */
async function cordonAndDrain(cluster: FakeCluster, store = new MemoryStore(), options: { dryRun?: boolean } = {}) {
  const plan = compilePlan('shutdown', atlasInput());
  const steps = plan.steps.filter((s) => s.stage === 'drain');
  const reports: string[] = [];
  const savesAtCordon: Record<string, string[]> = {};
  const cordon = cluster.nodes.cordon.bind(cluster.nodes);
  cluster.nodes.cordon = async (name, owner, opts) => {
    savesAtCordon[name] = [...((await store.load())?.outage.cordonedByHecate ?? [])];
    return cordon(name, owner, opts);
  };
  await runPlan({
    plan: { ...plan, steps },
    action: 'shutdown',
    executors: {
      'cordon-nodes': cordonNodes(cluster.nodes, options),
      'drain-node': drainNode(cluster.nodes, cluster.pods, drainOptions({ levelTimeoutMs: 60_000 }), options),
    },
    store,
    clock: cluster.clock,
    logger: silentLogger,
    onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
  });
  return { steps, reports, savesAtCordon, store };
}

describe('cordon-nodes', () => {
  it('comes first in the drain stage of a shutdown and of an emergency shutdown, naming every worker', () => {
    for (const mode of ['shutdown', 'emergency-shutdown'] as const) {
      const drain = compilePlan(mode, atlasInput()).steps.filter((s) => s.stage === 'drain');
      expect(drain.map((s) => s.id)).toEqual(['cordon/workers', ...WORKERS.map((w) => `drain/${w}`)]);
      expect(drain[0]?.targets).toEqual(WORKERS);
      expect(drain[0]?.destructive).toBe(true);
    }
  });

  it('records every worker in one save before the first cordon, cordons all before any eviction, and the drains send no second cordon', async () => {
    const cluster = withWebPod(world());
    const { savesAtCordon, store } = await cordonAndDrain(cluster);
    for (const worker of WORKERS) expect(savesAtCordon[worker], worker).toEqual(WORKERS);
    const verbs = cluster.requests.map((r) => `${r.verb} ${r.target}`);
    expect(verbs.slice(0, 4).sort()).toEqual(WORKERS.map((w) => `cordon ${w}`));
    expect(verbs.filter((v) => v.startsWith('cordon'))).toHaveLength(4);
    expect(verbs.indexOf('evict apps/web-1')).toBeGreaterThan(3);
    expect(store.latest?.outage.cordonedByHecate).toEqual(WORKERS);
    for (const w of WORKERS)
      expect(cluster.nodes.views.get(w)).toMatchObject({ unschedulable: true, cordonedBy: 'hecate' });
  });

  it("lists a cordoned worker's pods once before its first eviction (the drain uses its check's list)", async () => {
    const cluster = withWebPod(world());
    const lists: string[] = [];
    const listOnNode = cluster.pods.listOnNode.bind(cluster.pods);
    cluster.pods.listOnNode = async (node) => {
      lists.push(`list ${node}`);
      return listOnNode(node);
    };
    const evict = cluster.pods.evict.bind(cluster.pods);
    cluster.pods.evict = async (...args) => {
      lists.push(`evict ${args[0].name}`);
      return evict(...args);
    };
    await cordonAndDrain(cluster);
    const beforeEviction = lists.slice(0, lists.indexOf('evict web-1'));
    expect(beforeEviction.filter((l) => l === 'list titan-04')).toEqual(['list titan-04']);
  });

  it('leaves a worker someone else cordoned out of the record, says so once, and does not cordon it again', async () => {
    const cluster = world();
    cluster.nodes.add('titan-05', { unschedulable: true, cordonedBy: 'ops' });
    const { reports, store } = await cordonAndDrain(cluster);
    expect(store.latest?.outage.cordonedByHecate).toEqual(['titan-04', 'titan-06', 'titan-07']);
    expect(cluster.requests.filter((r) => r.verb === 'cordon').map((r) => r.target)).not.toContain('titan-05');
    expect(cluster.nodes.views.get('titan-05')?.cordonedBy).toBe('ops');
    const said = 'titan-05 was already cordoned by someone else (by ops): not recorded, so startup leaves it cordoned';
    expect(reports.filter((r) => r === said)).toHaveLength(1);
  });

  it('on a rerun after a crash between the record and the cordons, cordons what is left without recording twice', async () => {
    const cluster = world();
    const store = new MemoryStore({ outage: outageRecord.parse({ cordonedByHecate: WORKERS }) });
    await cluster.nodes.cordon('titan-04', 'hecate');
    await cordonAndDrain(cluster, store);
    expect(store.latest?.outage.cordonedByHecate).toEqual(WORKERS);
    expect(cluster.requests.filter((r) => r.verb === 'cordon').map((r) => r.target)).toEqual([
      'titan-04', // the one before the crash
      'titan-05',
      'titan-06',
      'titan-07',
    ]);
  });

  it('in a server dry run sends every cordon with dryRun and records nothing', async () => {
    const cluster = world();
    const store = new MemoryStore();
    await cordonAndDrain(cluster, store, { dryRun: true });
    const cordons = cluster.requests.filter((r) => r.verb === 'cordon');
    expect(cordons.length).toBeGreaterThanOrEqual(4);
    expect(cordons.every((r) => r.dryRun)).toBe(true);
    expect((store.latest?.outage.cordonedByHecate ?? []).length).toBe(0);
    for (const w of WORKERS) expect(cluster.nodes.views.get(w)?.unschedulable).toBe(false);
  });
});

describe('uncordon-nodes', () => {
  /** The startup's uncordon step alone, against the fake cluster, with `store`'s outage record. */
  async function uncordon(cluster: FakeCluster, store: MemoryStore) {
    const plan = compilePlan('startup', atlasInput());
    const steps = plan.steps.filter((s) => s.kind === StepKind.Uncordon);
    expect(steps).toHaveLength(1);
    const reports: string[] = [];
    await runPlan({
      plan: { ...plan, steps },
      action: 'startup',
      executors: { [StepKind.Uncordon]: uncordonNodes(cluster.nodes) },
      store,
      clock: cluster.clock,
      logger: silentLogger,
      onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
    });
    return reports;
  }

  it('uncordons each node Hecate recorded and empties the record', async () => {
    const cluster = world();
    for (const w of WORKERS) await cluster.nodes.cordon(w, 'hecate');
    const store = new MemoryStore({ outage: outageRecord.parse({ cordonedByHecate: WORKERS }) });
    await uncordon(cluster, store);
    expect(cluster.requests.filter((r) => r.verb === 'uncordon').map((r) => r.target)).toEqual(WORKERS);
    for (const w of WORKERS) expect(cluster.nodes.views.get(w)?.unschedulable).toBe(false);
    expect(store.latest?.outage.cordonedByHecate).toEqual([]);
  });

  it('on a rerun after a crash between an uncordon and its record, sends that node no second uncordon', async () => {
    const cluster = world();
    for (const w of WORKERS.slice(1)) await cluster.nodes.cordon(w, 'hecate'); // titan-04 was uncordoned
    const store = new MemoryStore({ outage: outageRecord.parse({ cordonedByHecate: WORKERS }) });
    const reports = await uncordon(cluster, store);
    expect(cluster.requests.filter((r) => r.verb === 'uncordon').map((r) => r.target)).toEqual(WORKERS.slice(1));
    expect(reports).toContain('titan-04 was already uncordoned');
    expect(store.latest?.outage.cordonedByHecate).toEqual([]);
  });
});
