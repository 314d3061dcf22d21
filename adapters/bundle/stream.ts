/**
 * Streams a file into a child process's stdin with backpressure (stream/promises pipeline), counting and hashing the
 * bytes on the way. Memory stays at a few read buffers whatever the file's size: the read stream pauses while the
 * child (ssh, kubectl exec) has not taken the previous chunk.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CommandNotFoundError, isCommandNotFound } from '../system.js';

export interface StreamResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  sent: number;
  sha256: string;
  /** Last 64 KiB of stdout and stderr. */
  stdout: string;
  stderr: string;
  /** The pipe's error when the child stopped reading early (EPIPE), else undefined. */
  pipeError?: Error;
}

const KEEP = 64 * 1024;
/** Read size: big enough for throughput, small enough to keep memory flat. */
export const CHUNK = 1024 * 1024;

function tail(into: { text: string }) {
  return (chunk: Buffer) => {
    into.text = (into.text + chunk.toString('utf8')).slice(-KEEP);
  };
}

export interface StreamOptions {
  env?: NodeJS.ProcessEnv;
  onProgress?(sent: number): void;
  signal?: AbortSignal;
}

/**
 * Runs `command args` with `file` on its stdin; resolves when the child exited (never rejects on a failed child).
 * Rejects with {@link CommandNotFoundError} when `command` is not installed, and with the spawn error when it cannot
 * be started for another reason.
 */
export async function streamFileInto(
  command: string,
  args: readonly string[],
  file: string,
  options: StreamOptions = {},
): Promise<StreamResult> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
  const out = { text: '' };
  const err = { text: '' };
  child.stdout.on('data', tail(out));
  child.stderr.on('data', tail(err));
  // NOTE: never rejects: a spawn error arrives while the pipeline is awaited, and a rejection nobody awaits yet
  // would end the process with a stack.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const abort = () => child.kill('SIGTERM');
  options.signal?.addEventListener('abort', abort, { once: true });
  const hash = createHash('sha256');
  let sent = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      sent += chunk.length;
      options.onProgress?.(sent);
      callback(null, chunk);
    },
  });
  try {
    const piped = await pipeline(createReadStream(file, { highWaterMark: CHUNK }), meter, child.stdin).then(
      () => undefined,
      (error: Error) => error,
    );
    // NOTE: a child that died early leaves the pipe broken; the reader is destroyed by pipeline, the child is awaited.
    const { code, signal, error } = await exited;
    if (isCommandNotFound(error)) throw new CommandNotFoundError([command], { cause: error });
    if (error) throw error;
    return {
      exitCode: code,
      signal,
      sent,
      sha256: hash.digest('hex'),
      stdout: out.text,
      stderr: err.text,
      ...(piped ? { pipeError: piped } : {}),
    };
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}
