#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { versionText } from '../adapters/build-info.js';
import { loadKubeConfig } from '../adapters/kube/config.js';
import { KubeFlux } from '../adapters/kube/flux.js';
import { observeCluster } from '../adapters/kube/observe.js';
import { KubePowerEvents, kubeStatusApply, PowerEventStatusStore } from '../adapters/kube/powerevents.js';
import { KubeRunLease } from '../adapters/kube/run-lease.js';
import { ConfigMapStopRecords } from '../adapters/kube/stop-records.js';
import { systemClock } from '../adapters/system.js';
import { upsSource } from '../adapters/ups/sources.js';
import type { Logger } from '../core/ports/index.js';
import { ConfigError, HELP, infoRequest, type OperatorConfig, parseConfig, USAGE } from './config.js';
import { operatorExecutors, operatorPaths } from './executors.js';
import { HecateOperator } from './hecate.js';
import { createWinston, toLogger } from './logger.js';
import { OperatorMetrics } from './metrics.js';
import type { ExecutorFactory } from './reconcile/deps.js';
import { KubeEventRecorder } from './runtime/events.js';
import { HealthServer, isLoopbackHost, type ServingOptions } from './runtime/http.js';
import { KubeLease } from './runtime/kube-lease.js';
import { LeaderElector } from './runtime/leader.js';
import { kubeReviews, MetricsAuthorizer } from './runtime/metrics-auth.js';
import { selfSignedCertificate } from './runtime/self-signed.js';
import { kubeUpsEvents, UpsWatcher } from './ups-watch.js';

/** This process may no longer write: it does not hold the leader Lease. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
}

export interface RunHooks {
  /** Resolves to stop the operator (SIGTERM/SIGINT at the entry point). */
  stopRequested: Promise<void>;
}

/** Runs the operator until `stopRequested` resolves or leadership is lost; returns the exit code. */
export async function runOperator(
  config: OperatorConfig,
  executorsFor: (kc: KubeConfig, logger: Logger) => ExecutorFactory,
  hooks: RunHooks,
): Promise<number> {
  const logger = toLogger(createWinston(config.logLevel), { identity: config.identity });
  if (config.nodeName)
    logger.info('Running on a node of the cluster: it is powered off last', { node: config.nodeName });
  const kc = loadKubeConfig({ kubeconfig: config.kubeconfig, context: config.context });
  const metrics = new OperatorMetrics();
  const runs = new AbortController();
  const elector = config.leaderElect
    ? new LeaderElector({
        identity: config.identity,
        lease: new KubeLease(kc, config.leaseNamespace, config.leaseName),
        clock: systemClock,
        logger,
        leaseDurationMs: config.leaseDurationMs,
        renewDeadlineMs: config.renewDeadlineMs,
        retryPeriodMs: config.retryPeriodMs,
      })
    : undefined;
  const fence = () => {
    if (elector && !elector.isLeader) throw new NotLeaderError(`${config.identity} does not hold the leader lease`);
  };
  const operator = buildOperator(config, kc, logger, metrics, executorsFor(kc, logger), runs.signal, fence);
  const flux = new KubeFlux(kc);
  metrics.observeCluster({
    events: () => operator.cachedEvents(),
    plans: () => operator.cachedPlans(),
    fluxRevision: async ({ flux: { source, namespace } }) =>
      (await flux.source(source.kind, namespace, source.name))?.revision,
    now: () => systemClock.now(),
  });
  const health = new HealthServer(
    {
      healthy: () => true,
      ready: () => (elector && !elector.isLeader ? true : operator.synced),
      metrics: async () => {
        metrics.queueDepth.set({ controller: 'powerevent' }, operator.queue.depth);
        metrics.leader.set(elector ? (elector.isLeader ? 1 : 0) : 1);
        return { contentType: metrics.contentType, body: await metrics.text() };
      },
    },
    servingOptions(config, kc, logger),
  );
  const address = await health.start(config.bindHost, config.bindPort);
  logger.info('Serving health and metrics', {
    address: address.address,
    port: address.port,
    metrics: health.secure ? 'HTTPS, for tokens allowed to get /metrics' : 'HTTP, open (loopback only)',
  });
  let code = 0;
  let started: Promise<void> | undefined;
  let failed: () => void = () => undefined;
  const startFailed = new Promise<void>((resolve) => {
    failed = resolve;
  });
  let watching: Promise<void> | undefined;
  const startOperator = () => {
    started = operator
      .start()
      .then(() => {
        if (config.upsWatch) watching = upsWatcher(config, kc, operator, logger, metrics).run(runs.signal);
      })
      .catch((error: unknown) => {
        logger.error('Could not start the operator', { error });
        code = 1;
        failed();
      });
    return started;
  };
  const stopOperator = async () => {
    runs.abort(new Error('the operator is stopping'));
    const stopping = (async () => {
      await started;
      await watching;
      await operator.stop();
    })();
    await withTimeout(stopping, config.shutdownGraceMs, () =>
      logger.warn('Reconciles still running after the grace period; stopping anyway', {
        graceMs: config.shutdownGraceMs,
      }),
    );
    // NOTE: past the grace and without the lease: the last status already says these power-offs were sent, and a
    // new leader only confirms them; leaving now would leave nodes up that the status calls powered off
    const announced = operator.reconciler.afterLastStatus();
    if (announced) {
      logger.info('The last status is written: delivering the power-offs it announced before stopping');
      await announced;
    }
  };
  if (!elector) {
    await startOperator();
    if (code === 0) await hooks.stopRequested;
    await stopOperator();
  } else {
    const lease = new AbortController();
    let lost = false;
    const election = elector.run(lease.signal, {
      onStartedLeading: () => void startOperator(),
      onStoppedLeading: () => {
        lost = true;
      },
    });
    await Promise.race([hooks.stopRequested, election, startFailed]);
    await stopOperator();
    lease.abort();
    await election;
    if (lost) code = 1;
  }
  await health.stop();
  logger.info('Stopped', { exitCode: code });
  return code;
}

function buildOperator(
  config: OperatorConfig,
  kc: KubeConfig,
  logger: Logger,
  metrics: OperatorMetrics,
  executors: ExecutorFactory,
  signal: AbortSignal,
  fence: () => void,
): HecateOperator {
  const apply = kubeStatusApply(kc);
  return new HecateOperator({
    kubeConfig: kc,
    logger,
    namespace: config.watchNamespace,
    concurrency: config.concurrency,
    resyncMs: config.resyncMs,
    onOutcome: (key, outcome, ms) => {
      metrics.reconciled('powerevent', outcome, ms);
      logger.debug('Reconciled', { powerEvent: key, outcome: outcome.kind, durationMs: ms });
    },
    reconciler: {
      observe: (spec) => observeCluster(kc, spec),
      executors,
      openStatus: (ref, current) => new PowerEventStatusStore(ref, current, apply, fence),
      recorder: new KubeEventRecorder(kc, config.identity, logger),
      clock: systemClock,
      logger,
      signal,
      metrics,
      waitRequeueMs: config.waitRequeueMs,
      paths: (spec) => operatorPaths(spec, process.env),
      selfNode: config.nodeName,
      // NOTE: in the operator's own namespace, whatever namespace the deleted PowerEvent was in
      stopRecords: new ConfigMapStopRecords(kc, config.leaseNamespace),
      runLease: (key) =>
        new KubeRunLease(kc, `operator/${config.identity}: PowerEvent ${key}`, {
          namespace: config.leaseNamespace,
          takeOverFrom: (holder) => holder.startsWith('operator/'),
        }),
    },
  });
}

/**
 * How /metrics is served. On a loopback address: HTTP, open (only this pod's network namespace reaches it: a
 * kube-rbac-proxy sidecar, or a person on the host). On any other address: HTTPS with a self-signed certificate made
 * at start, and /metrics only for a bearer token that a TokenReview authenticates and a SubjectAccessReview allows to
 * `get` the non-resource URL /metrics (controller-runtime's secure metrics; the ClusterRole hecate-metrics-reader).
 */
function servingOptions(config: OperatorConfig, kc: KubeConfig, logger: Logger): ServingOptions {
  if (isLoopbackHost(config.bindHost)) return {};
  const service = `hecate-operator-metrics.${config.leaseNamespace}.svc`;
  const tls = selfSignedCertificate({
    commonName: 'hecate-operator-metrics',
    altNames: [service, `${service}.cluster.local`, 'localhost'],
    now: systemClock.now(),
  });
  return { tls, metricsAccess: new MetricsAuthorizer(kubeReviews(kc)), logger };
}

/** The UPS watcher on the operator's caches; it creates PowerEvents where the operator keeps its Lease. */
function upsWatcher(
  config: OperatorConfig,
  kc: KubeConfig,
  operator: HecateOperator,
  logger: Logger,
  metrics: OperatorMetrics,
): UpsWatcher {
  const namespace = config.watchNamespace ?? config.leaseNamespace;
  return new UpsWatcher({
    namespace,
    plans: () => operator.cachedPlans(),
    events: kubeUpsEvents(new KubePowerEvents(kc, namespace), () => operator.cachedEvents()),
    source: (ups) => {
      const port = upsSource(ups, { clock: systemClock, logger });
      return port && metrics.watchUps(port);
    },
    clock: systemClock,
    logger,
  });
}

async function withTimeout(work: Promise<void>, ms: number, onTimeout: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      onTimeout();
      resolve();
    }, ms);
  });
  await Promise.race([work, timeout]);
  clearTimeout(timer);
}

/** SIGTERM and SIGINT, once. */
export function stopSignals(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}

/** `--version`: the package's version, the commit and the Node version (adapters/build-info.ts reads them). */
export function operatorVersionText(): string {
  return versionText('hecate-operator');
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  return script !== undefined && import.meta.url === pathToFileURL(realpathSync(script)).href;
}

if (isEntryPoint()) {
  const info = infoRequest(process.argv.slice(2));
  if (info) {
    process.stdout.write(info === 'help' ? `${HELP}\n` : operatorVersionText());
    process.exit(0);
  }
  let config: OperatorConfig;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (error) {
    const usage = error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(
      `hecate-operator: ${(error as Error).message}\n${usage ? `${USAGE}\n(hecate-operator --help says more)\n` : ''}`,
    );
    process.exit(2);
  }
  const code = await runOperator(config, (kc, logger) => operatorExecutors(kc, process.env, logger), {
    stopRequested: stopSignals(),
  }).catch((error: unknown) => {
    process.stderr.write(
      `hecate-operator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 1;
  });
  process.exit(code);
}
