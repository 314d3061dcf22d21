/**
 * The informer's restart policy against a watch that cannot connect (nothing listens on 127.0.0.1:1): every
 * failure is logged with the delay before the next attempt; those delays grow until the cap, also after a list
 * has completed. (That a stopped informer stays quiet is checked on the bed: test/integration/kubelet.test.ts.)
 */
import { KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../core/ports/index.js';
import { Informer } from '../../operator/runtime/informer.js';

function unreachable(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'nowhere', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'nowhere', cluster: 'nowhere', user: 'nobody' }],
    currentContext: 'nowhere',
  });
  return kc;
}

/** A logger that keeps the restart delays it is told of, and resolves `seen(n)` once there are n. */
function delayLog() {
  const delays: number[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const note = (message: string, fields?: Record<string, unknown>) => {
    if (message !== 'Informer failed, restarting') return;
    delays.push(fields?.delayMs as number);
    for (const w of waiters.filter((w) => delays.length >= w.n)) w.resolve();
  };
  const logger: Logger = { info: note, warn: note, error: note, debug: () => {} };
  const seen = (n: number) =>
    new Promise<void>((resolve) => (delays.length >= n ? resolve() : waiters.push({ n, resolve })));
  return { delays, logger, seen };
}

describe('Informer restarts', () => {
  it.each<[string, () => Promise<KubernetesListObject<KubernetesObject>>]>([
    ['before any list completed (the list fails)', () => Promise.reject(new Error('connection refused'))],
    ['after a list completed (only the watch fails)', async () => ({ metadata: { resourceVersion: '7' }, items: [] })],
  ])('given failures %s, then the restart delays double up to the cap', async (_case, list) => {
    const log = delayLog();
    const informer = new Informer<KubernetesObject>(unreachable(), {
      name: 'things',
      path: '/api/v1/things',
      list,
      onChange: () => {},
      logger: log.logger,
      backoffMs: { min: 5, max: 40 },
      staleAfterMs: 0,
    });

    await informer.start();
    await log.seen(6);
    await informer.stop();

    expect(log.delays.slice(0, 6)).toEqual([5, 10, 20, 40, 40, 40]);
  });
});

describe('Informer cache', () => {
  it('keeps listed objects without metadata.managedFields, everything else as listed', async () => {
    const { logger } = delayLog();
    const managedFields = [{ manager: 'hecate-operator', operation: 'Apply', fieldsV1: { 'f:status': {} } }];
    const informer = new Informer(unreachable(), {
      name: 'powerplans',
      path: '/apis/power.hecate.dev/v1alpha1/powerplans',
      list: async () => ({
        metadata: { resourceVersion: '7' },
        items: [{ apiVersion: 'v1', kind: 'Thing', metadata: { name: 'a', uid: 'u', managedFields }, spec: { x: 1 } }],
      }),
      onChange: () => {},
      logger,
      backoffMs: { min: 60_000, max: 60_000 },
    });
    await informer.start();
    await informer.stop();
    expect(informer.get('a')).toEqual({
      apiVersion: 'v1',
      kind: 'Thing',
      metadata: { name: 'a', uid: 'u' },
      spec: { x: 1 },
    });
  });
});
