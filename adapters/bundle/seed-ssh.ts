/**
 * ImageSeedPort over SSH: the bundle goes through ssh's stdin, is decompressed on the node (`zstd -dc`) and
 * imported with `ctr images import --platform <p> -` into the `k8s.io` namespace.
 */
import { execa } from 'execa';
import type { NodeAddress } from '../../core/ports/index.js';
import {
  type ImagePresencePort,
  type ImageSeedPort,
  type ImportOptions,
  type ImportResult,
  type NodeImage,
  SeedTransportError,
} from '../../core/ports/seed.js';
import { remoteCommand, type SshOptions, sshArgs } from '../node-access/ssh.js';
import { CommandNotFoundError, isCommandNotFound } from '../system.js';
import { type CtrOptions, importScript, listScript, parseImageList } from './node-script.js';
import { type StreamOptions, type StreamResult, streamFileInto } from './stream.js';

export type SshSeedOptions = Pick<
  SshOptions,
  'user' | 'keyFile' | 'port' | 'connectTimeoutSeconds' | 'knownHostsFile' | 'sudo' | 'ssh'
> &
  CtrOptions;

/** Why a stream failed, from what the transport saw. Pure. */
export function describeStreamFailure(result: StreamResult, where: string, total?: number): string | undefined {
  const ok = result.exitCode === 0 && !result.pipeError;
  if (ok) return undefined;
  const sent = total ? `${result.sent} of ${total} bytes` : `${result.sent} bytes`;
  const exit = result.signal ? `killed by ${result.signal}` : `exit ${result.exitCode}`;
  const said = lastLines(result.stderr) || lastLines(result.stdout) || 'no output';
  const broke =
    result.pipeError && result.exitCode === 0 ? ` (the node stopped reading: ${result.pipeError.message})` : '';
  return `the import on ${where} failed after ${sent} (${exit})${broke}: ${said}`;
}

/** {@link streamFileInto} for a seed: a transport program that is not installed is a {@link SeedTransportError}. */
export async function streamForSeed(
  command: string,
  args: readonly string[],
  file: string,
  options: StreamOptions,
): Promise<StreamResult> {
  try {
    return await streamFileInto(command, args, file, options);
  } catch (error) {
    if (error instanceof CommandNotFoundError) throw new SeedTransportError(error.message, 0, { cause: error });
    throw error;
  }
}

/** A transport command that could not start because it is not installed, as a {@link SeedTransportError}. */
export function notInstalledFailure(command: string, result: unknown): SeedTransportError | undefined {
  if (!isCommandNotFound(result)) return undefined;
  const error = new CommandNotFoundError([command], { cause: result });
  return new SeedTransportError(error.message, 0, { cause: error });
}

export function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').filter(Boolean).slice(-n).join(' / ');
}

/** The seed transport over SSH; also tells which images a node has (ctr images ls). */
export class SshImageSeed implements ImageSeedPort, ImagePresencePort {
  constructor(private readonly options: SshSeedOptions) {}

  async importBundle(node: NodeAddress, bundlePath: string, options: ImportOptions): Promise<ImportResult> {
    const remote = remoteCommand(
      ['sh', '-c', importScript(this.options), 'hecate-seed', options.platform],
      this.options.sudo,
    );
    const result = await streamForSeed(
      this.options.ssh ?? 'ssh',
      sshArgs(node, remote, this.sshOptions()),
      bundlePath,
      {
        env: { ...process.env, LC_ALL: 'C' },
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
    if (options.signal?.aborted) throw options.signal.reason;
    const failure = describeStreamFailure(result, this.where(node), options.totalBytes);
    if (failure) throw new SeedTransportError(failure, result.sent, { cause: result.pipeError });
    if (options.sha256 && result.sha256 !== options.sha256) {
      throw new SeedTransportError(
        `${bundlePath} changed while it was streamed: sent sha256 ${result.sha256}, verified ${options.sha256}`,
        result.sent,
      );
    }
    return { sent: result.sent, output: `${result.stdout}${result.stderr}` };
  }

  async listImages(node: NodeAddress, signal?: AbortSignal): Promise<NodeImage[]> {
    const remote = remoteCommand(['sh', '-c', listScript(this.options), 'hecate-ls'], this.options.sudo);
    const ssh = this.options.ssh ?? 'ssh';
    const result = await execa(ssh, sshArgs(node, remote, this.sshOptions()), {
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
      ...(signal ? { cancelSignal: signal } : {}),
      env: { LC_ALL: 'C' },
    });
    const missing = notInstalledFailure(ssh, result);
    if (missing) throw missing;
    if (result.exitCode !== 0) {
      const why = result.timedOut ? 'timed out' : `exit ${result.exitCode}`;
      throw new SeedTransportError(
        `cannot list containerd's images on ${this.where(node)} (${why}): ${lastLines(result.stderr) || 'no output'}`,
        0,
      );
    }
    return parseImageList(result.stdout);
  }

  async imagesOn(node: NodeAddress, signal?: AbortSignal): Promise<NodeImage[] | undefined> {
    return this.listImages(node, signal).catch(() => undefined);
  }

  private sshOptions(): SshOptions {
    return { ...this.options };
  }

  private where(node: NodeAddress): string {
    return `${node.name} (${this.options.user}@${node.address ?? node.name}:${this.options.port ?? 22})`;
  }
}
