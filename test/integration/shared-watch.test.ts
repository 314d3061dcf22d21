/**
 * The waits on Nodes share one watch (adapters/kube/watch-feed.ts SharedWatch): a power-off of every worker holds
 * one connection, not one per node. Each wait is woken only by its own node; the watch stops with the last wait and
 * opens again with the next. When the API server restarts under waits in flight, they are woken and the watch opens
 * again by itself, so a node's change after the restart still wakes its wait at once. Against the real API server,
 * counted in its audit log.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeNodes } from '../../adapters/kube/nodes.js';
import { type ControlPlane, requireBed, startControlPlane } from '../../bed/index.js';
import { eventually } from '../../bed/simulators.js';

const bed = requireBed();
const USER = 'shared-watch-test';

describe.skipIf(!bed.ok)('the Node waits share one watch', () => {
  let plane: ControlPlane;
  let core: CoreV1Api;
  let nodes: KubeNodes;

  beforeAll(async () => {
    plane = await startControlPlane();
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    for (const name of ['node-a', 'node-b']) await core.createNode({ body: { metadata: { name } } });
    nodes = new KubeNodes(await plane.userKubeConfig(USER, ['system:masters']));
  });
  afterAll(async () => {
    await plane?.stop();
  });

  const label = (name: string, value: string) =>
    core.patchNode(
      { name, body: { metadata: { labels: { touched: value } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  const nodeWatches = async () =>
    (await plane.readAudit()).filter(
      (e) =>
        e.user === USER && e.verb === 'watch' && e.objectRef?.resource === 'nodes' && e.stage === 'ResponseStarted',
    ).length;

  it('three waits, one watch; each woken by its own node only; a new watch after the last closed', async () => {
    const a = await nodes.watch(['node-a']);
    const b = await nodes.watch(['node-b']);
    const all = await nodes.watch([]);
    // a watch opens with an ADDED event for each node there is: let those pass
    await eventually('the watch to list both nodes', () => all.version >= 2 && a.version >= 1 && b.version >= 1);
    const [va, vb, vall] = [a.version, b.version, all.version];
    await label('node-a', '1');
    await a.changedSince(va, 10_000);
    await all.changedSince(vall, 10_000);
    expect(a.version).toBeGreaterThan(va);
    expect(all.version).toBeGreaterThan(vall);
    expect(b.version).toBe(vb);
    await eventually('the watch in the audit log', async () => (await nodeWatches()) >= 1);
    expect(await nodeWatches()).toBe(1);

    for (const feed of [a, b, all]) feed.close();
    const again = await nodes.watch(['node-b']);
    const v = again.version;
    await label('node-b', '2');
    await again.changedSince(v, 10_000);
    expect(again.version).toBeGreaterThan(v);
    again.close();
    await eventually('the second watch in the audit log', async () => (await nodeWatches()) === 2);
  });

  it('the API server restarts under a wait: the wait is woken, the watch opens again by itself and sees changes', async () => {
    const before = await nodeWatches();
    const a = await nodes.watch(['node-a']);
    await eventually('the watch to list node-a', () => a.version >= 1);
    const listed = a.version;
    await plane.stopApiServer();
    // woken when its watch ended: events may be missed while the API is down, so the wait looks again
    await eventually('the wait to be woken by the end of its watch', () => a.version > listed);
    await plane.startApiServer();
    await eventually('a new watch in the audit log', async () => (await nodeWatches()) >= before + 2, {
      timeoutMs: 30_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 500)); // its ADDED events
    const v = a.version;
    await label('node-a', 'after-restart');
    await a.changedSince(v, 10_000);
    expect(a.version, 'a change after the restart wakes the wait').toBeGreaterThan(v);
    a.close();
  });
});
