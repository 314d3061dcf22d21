/**
 * The operator's settings from flags and the environment (the Deployment sets POD_NAME, POD_NAMESPACE and NODE_NAME
 * through the downward API). Pure: argv and env are arguments.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { duration, parseDuration } from '../core/api/meta.js';
import type { LogLevel } from './logger.js';

export interface OperatorConfig {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  /** Watch PowerEvents in this namespace only; undefined watches every namespace. */
  watchNamespace?: string | undefined;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  bindHost: string;
  bindPort: number;
  logLevel: LogLevel;
  concurrency: number;
  resyncMs: number;
  waitRequeueMs: number;
  /** How long SIGTERM waits for running reconciles before giving up on them. */
  shutdownGraceMs: number;
  /** Watch the UPS of every PowerPlan with a UPS source while leading, and ask for a shutdown on an outage. */
  upsWatch: boolean;
  /** The node this operator runs on: shutdown plans power it off last, after the last status is written. */
  nodeName?: string | undefined;
}

export const USAGE = `Usage: hecate-operator [flags]
  --kubeconfig PATH        kubeconfig (default: $KUBECONFIG, ~/.kube/config, then in-cluster)
  --context NAME           kubeconfig context
  --namespace NS           watch PowerEvents in NS only (default: $WATCH_NAMESPACE, else all namespaces)
  --leader-elect BOOL      elect a leader on a Lease (default true)
  --lease-namespace NS     namespace of the Lease (default: $POD_NAMESPACE, else hecate-system)
  --lease-name NAME        name of the Lease (default hecate-operator)
  --identity ID            this replica's identity (default: $POD_NAME, else hostname plus a random suffix)
  --lease-duration D       e.g. 15s (default 15s); --renew-deadline D (10s); --retry-period D (2s)
  --bind-address H:P       /metrics, /healthz, /readyz (default 0.0.0.0:8080; port 0 picks one); off loopback
                           it is HTTPS and /metrics answers only tokens allowed to get /metrics (TokenReview,
                           SubjectAccessReview); on loopback (127.0.0.1:P) plain HTTP, for a proxy beside it
  --log-level L            error | warn | info | debug (default info)
  --concurrency N          PowerEvents reconciled at once (default 2)
  --resync D               re-enqueue every PowerEvent this often (default 10m; 0s disables)
  --wait-requeue D         how often a waiting PowerEvent looks again (default 30s)
  --shutdown-grace D       SIGTERM waits this long for running reconciles (default 20s)
  --ups-watch BOOL         poll each PowerPlan's UPS and create a dry-run shutdown PowerEvent on an outage (default true)
  --node-name NAME         the node this operator runs on, powered off last (default: $NODE_NAME, else none)`;

/** `hecate-operator --help`: what it does, how it runs, its flags, environment and exit codes. */
export const HELP = `hecate-operator: reconciles PowerEvents (power.hecate.dev/v1alpha1) against their PowerPlans.
A PowerEvent asks for prepare, shutdown, startup or harbor-seed; the operator renders its plan into status.plan
(a dry-run unless spec.execute is true), runs it step by step and records progress in the PowerEvent's status, so a
restarted or newly elected operator resumes where the last one stopped. Two replicas elect a leader on a Lease;
/healthz and /readyz answer on every replica, /metrics carries the UPS, way-back and PowerEvent gauges. The cold
boot, when no operator can run, is the hecate CLI's (hecate startup --execute hands back to the operator).

${USAGE}
  -h, --help               print this help;  --version  print the version, the commit and the Node version

Environment (manifests/deployment.yaml sets them through the downward API):
  POD_NAME, POD_NAMESPACE, NODE_NAME   the defaults of --identity, --lease-namespace and --node-name
  WATCH_NAMESPACE                      the default of --namespace
  KUBECONFIG                           the kubeconfig when --kubeconfig is not given (else ~/.kube/config, in-cluster)

Examples:
  # as the Deployment runs it (kubectl apply -k manifests/)
  node dist/operator/main.js --leader-elect=true --bind-address=:8443 --log-level=info --shutdown-grace=20s
  # from a workstation against the current context: one replica, metrics on loopback, debug logs
  node dist/operator/main.js --leader-elect=false --bind-address=127.0.0.1:8080 --log-level=debug

Signals and exit codes:
  SIGTERM or SIGINT stops taking work, lets running reconciles reach a step boundary (--shutdown-grace), writes
  the last status and releases the Lease.
  0  stopped on a signal    1  lost the Lease, or could not start    2  bad flags (the message names the flag)`;

/** `--help`/`-h` or `--version` anywhere in argv: answered before the flags are checked, as most tools do. */
export function infoRequest(argv: readonly string[]): 'help' | 'version' | undefined {
  if (argv.includes('--help') || argv.includes('-h')) return 'help';
  if (argv.includes('--version')) return 'version';
  return undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const STRING = { type: 'string' } as const;

export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): OperatorConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      kubeconfig: STRING,
      context: STRING,
      namespace: STRING,
      'leader-elect': STRING,
      'lease-namespace': STRING,
      'lease-name': STRING,
      identity: STRING,
      'lease-duration': STRING,
      'renew-deadline': STRING,
      'retry-period': STRING,
      'bind-address': STRING,
      'log-level': STRING,
      concurrency: STRING,
      resync: STRING,
      'wait-requeue': STRING,
      'shutdown-grace': STRING,
      'ups-watch': STRING,
      'node-name': STRING,
    },
    strict: true,
    allowPositionals: false,
  });
  const [bindHost, bindPort] = hostPort(values['bind-address'] ?? '0.0.0.0:8080');
  const config: OperatorConfig = {
    kubeconfig: values.kubeconfig,
    context: values.context,
    watchNamespace: values.namespace ?? (env.WATCH_NAMESPACE || undefined),
    leaderElect: bool('--leader-elect', values['leader-elect'] ?? 'true'),
    leaseNamespace: values['lease-namespace'] ?? (env.POD_NAMESPACE || 'hecate-system'),
    leaseName: values['lease-name'] ?? 'hecate-operator',
    identity: values.identity ?? (env.POD_NAME || `${hostname()}-${randomBytes(3).toString('hex')}`),
    leaseDurationMs: ms('--lease-duration', values['lease-duration'] ?? '15s'),
    renewDeadlineMs: ms('--renew-deadline', values['renew-deadline'] ?? '10s'),
    retryPeriodMs: ms('--retry-period', values['retry-period'] ?? '2s'),
    bindHost,
    bindPort,
    logLevel: logLevel(values['log-level'] ?? 'info'),
    concurrency: positiveInt('--concurrency', values.concurrency ?? '2'),
    resyncMs: ms('--resync', values.resync ?? '10m'),
    waitRequeueMs: ms('--wait-requeue', values['wait-requeue'] ?? '30s'),
    shutdownGraceMs: ms('--shutdown-grace', values['shutdown-grace'] ?? '20s'),
    upsWatch: bool('--ups-watch', values['ups-watch'] ?? 'true'),
    nodeName: nodeName(values['node-name'] ?? (env.NODE_NAME || undefined)),
  };
  if (config.leaderElect && config.renewDeadlineMs >= config.leaseDurationMs) {
    throw new ConfigError('--renew-deadline must be shorter than --lease-duration');
  }
  return config;
}

function nodeName(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(value)) return value;
  throw new ConfigError(`--node-name (or NODE_NAME): expected a node name such as titan-01, got "${value}"`);
}

function ms(flag: string, value: string): number {
  if (!duration.safeParse(value).success) throw new ConfigError(`${flag}: expected a duration such as 15s or 2m`);
  return parseDuration(value);
}

function bool(flag: string, value: string): boolean {
  if (value === 'true' || value === 'false') return value === 'true';
  throw new ConfigError(`${flag}: expected true or false`);
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${flag}: expected a positive integer`);
  return n;
}

function logLevel(value: string): LogLevel {
  if (['error', 'warn', 'info', 'debug'].includes(value)) return value as LogLevel;
  throw new ConfigError('--log-level: expected error, warn, info or debug');
}

function hostPort(value: string): [string, number] {
  const match = /^(.*):([0-9]+)$/.exec(value);
  if (!match) throw new ConfigError('--bind-address: expected HOST:PORT');
  return [match[1] || '0.0.0.0', Number(match[2])];
}
