/**
 * NodeAccessPort over SSH (OpenSSH's client through execa), for clusters where privileged pods are not allowed.
 * Key-only and non-interactive: BatchMode, a connect timeout, keep-alives so that a host that went down ends the
 * session instead of hanging it.
 */
import { execa } from 'execa';
import type { MutationOptions, NodeAccessPort, NodeAddress, PowerControlPort } from '../../core/ports/index.js';
import {
  isBootId,
  POWER_OFF_MARKER,
  type PowerOffScriptOptions,
  powerOffArgv,
  shellQuote,
} from './power-off-script.js';

export interface SshOptions {
  /** The PowerPlan's powerOff.sshUser. */
  user: string;
  /** The PowerPlan's powerOff.sshKeyFile; default: the ssh client's own identities. */
  keyFile?: string;
  /** Default 22. */
  port?: number;
  /** Default 10 s. */
  connectTimeoutSeconds?: number;
  /** Overall limit of one remote command (default 120 s; a pull: 600 s). */
  commandTimeoutMs?: number;
  /** known_hosts file (default: the client's). New host keys are accepted and remembered (accept-new). */
  knownHostsFile?: string;
  /** Run the remote side through `sudo -n` (a non-root user with passwordless sudo). */
  sudo?: boolean;
  script?: PowerOffScriptOptions;
  /** The CRI client on the host (default: `crictl`, else `k3s crictl`). */
  crictl?: readonly string[];
  /** The ssh binary (default `ssh` on PATH). */
  ssh?: string;
}

export class SshError extends Error {
  override readonly name = 'SshError';
  constructor(
    message: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/** ssh's own exit status for a connection or protocol error (and a session the remote end dropped). */
export const SSH_CONNECTION_ERROR = 255;

/** `ssh <options> -p <port> user@address -- <remote>`. Pure. */
export function sshArgs(node: NodeAddress, remote: string, options: SshOptions): string[] {
  const o = (option: string) => ['-o', option];
  return [
    ...o('BatchMode=yes'),
    ...o('StrictHostKeyChecking=accept-new'),
    ...o(`ConnectTimeout=${options.connectTimeoutSeconds ?? 10}`),
    ...o('ServerAliveInterval=5'),
    ...o('ServerAliveCountMax=3'),
    ...(options.knownHostsFile ? o(`UserKnownHostsFile=${options.knownHostsFile}`) : []),
    ...(options.keyFile ? ['-i', options.keyFile, ...o('IdentitiesOnly=yes')] : []),
    '-p',
    String(options.port ?? 22),
    `${options.user}@${node.address ?? node.name}`,
    '--',
    remote,
  ];
}

/** The remote command line: argv quoted once for the remote shell, behind `sudo -n` when asked. */
export function remoteCommand(argv: readonly string[], sudo = false): string {
  return shellQuote(sudo ? ['sudo', '-n', ...argv] : argv);
}

/** Pulls `$1` with the CRI client unless it is already there (`crictl inspecti`); a dry run only looks. */
export function pullScript(crictl?: readonly string[], dryRun = false): string {
  const find = crictl
    ? [`c=${shellQuote([crictl.join(' ')])}`]
    : [
        'if command -v crictl >/dev/null 2>&1; then c=crictl',
        'elif command -v k3s >/dev/null 2>&1; then c="k3s crictl"',
        'else echo "neither crictl nor k3s is on PATH" >&2; exit 127; fi',
      ];
  const act = dryRun
    ? ['exec $c inspecti "$1" >/dev/null']
    : ['$c inspecti "$1" >/dev/null 2>&1 && { echo present; exit 0; }', 'exec $c pull "$1"'];
  return [...find, ...act].join('\n');
}

/**
 * How a power-off session ended. Pure.
 *
 * The rule: the script prints {@link POWER_OFF_MARKER} right before it runs the command. A session that ends with
 * ssh's 255, a timeout or a signal AFTER the marker was seen is a delivered power-off (the host went down under
 * the session). Without the marker, 255 is a connection or authentication failure and the command was not sent.
 * Any other non-zero exit is a failure of the script or the command.
 */
export function powerOffOutcome(result: {
  exitCode?: number | undefined;
  stdout: string;
  timedOut?: boolean;
  signal?: string | undefined;
}): 'delivered' | 'not-sent' | 'failed' {
  if (result.exitCode === 0) return 'delivered';
  const sent = result.stdout.split('\n').some((line) => line.trim() === POWER_OFF_MARKER);
  const dropped = result.exitCode === SSH_CONNECTION_ERROR || result.timedOut === true || result.signal !== undefined;
  if (dropped) return sent ? 'delivered' : 'not-sent';
  return 'failed';
}

/** NodeAccessPort over SSH. */
export class SshNodeAccess implements PowerControlPort, NodeAccessPort {
  constructor(private readonly options: SshOptions) {}

  /** Runs the power-off script over SSH; see {@link powerOffOutcome} for when it counts as delivered. */
  async powerOff(node: NodeAddress, command: readonly string[], options: MutationOptions = {}): Promise<void> {
    if (options.dryRun) {
      await this.expectOk(node, ['true'], options.signal, 'reach');
      return;
    }
    const script = { ...this.options.script, ...(isBootId(node.bootId) ? { bootId: node.bootId } : {}) };
    const result = await this.run(node, powerOffArgv(command, script), options.signal);
    const outcome = powerOffOutcome(result);
    if (outcome === 'delivered') return;
    const where = `${this.options.user}@${node.address ?? node.name}:${this.options.port ?? 22}`;
    const stderr = tail(result.stderr);
    throw new SshError(
      outcome === 'not-sent'
        ? `could not reach ${where} (${describeExit(result)}): the power-off command was not sent: ${stderr}`
        : `power-off on ${where} failed (${describeExit(result)}): ${stderr}`,
      result.exitCode,
      result.stderr,
    );
  }

  /** `crictl pull` unless present; in a dry run only `crictl inspecti`. */
  async ensureImage(
    node: NodeAddress,
    image: string,
    options: MutationOptions = {},
  ): Promise<{ present: boolean; message?: string }> {
    const script = pullScript(this.options.crictl, options.dryRun);
    const result = await this.run(node, ['sh', '-c', script, 'hecate-pull', image], options.signal, 600_000);
    if (result.exitCode === 0) {
      return { present: true, message: result.stdout.trim() === 'present' ? 'already on the node' : 'pulled' };
    }
    return { present: false, message: `${describeExit(result)}: ${tail(result.stderr || result.stdout)}` };
  }

  private async expectOk(node: NodeAddress, argv: string[], signal: AbortSignal | undefined, what: string) {
    const result = await this.run(node, argv, signal);
    if (result.exitCode !== 0) {
      throw new SshError(
        `could not ${what} ${node.address ?? node.name} over SSH (${describeExit(result)}): ${tail(result.stderr)}`,
        result.exitCode,
        result.stderr,
      );
    }
  }

  private async run(node: NodeAddress, argv: readonly string[], signal?: AbortSignal, timeoutMs?: number) {
    const args = sshArgs(node, remoteCommand(argv, this.options.sudo), this.options);
    const result = await execa(this.options.ssh ?? 'ssh', args, {
      reject: false,
      stdin: 'ignore',
      timeout: timeoutMs ?? this.options.commandTimeoutMs ?? 120_000,
      ...(signal ? { cancelSignal: signal } : {}),
      env: { LC_ALL: 'C' },
    });
    if (result.isCanceled) throw signal?.reason ?? new Error('cancelled');
    return result;
  }
}

function describeExit(result: { exitCode?: number | undefined; timedOut?: boolean; signal?: string | undefined }) {
  if (result.timedOut) return 'timed out';
  if (result.signal) return `killed by ${result.signal}`;
  return `exit ${result.exitCode}`;
}

function tail(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines.slice(-3).join(' / ') || 'no output';
}
