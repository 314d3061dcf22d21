/**
 * A closed output pipe (`hecate --help | head -1`) ends the real process quietly: no stack, no message, exit 0 or
 * the conventional 141; a closed stderr never crashes it either. Real child processes, as a shell runs them.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const CLI = ['--import', 'tsx', 'cli/main.ts'];
const STACK = /\n\s+at /;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `hecate args`; `close` says which of its pipes this side closes before the child writes anything. */
function runClosing(args: string[], close: 'stdout' | 'stderr'): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    const other = close === 'stdout' ? 'stderr' : 'stdout';
    child[close].destroy();
    child[other].on('data', (chunk: Buffer) => {
      out[other] += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, ...out }));
  });
}

/** Runs a shell pipeline with the real CLI on its left. */
function shell(script: string): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE: process.execPath },
    });
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (c: Buffer) => {
      out.stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out.stderr += c.toString();
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, ...out }));
  });
}

describe('hecate with a closed output pipe', () => {
  it('given stdout closed before --help is written, then it exits 141 with nothing on stderr', async () => {
    const run = await runClosing(['--help'], 'stdout');
    expect(run.stderr).toBe('');
    expect(run.stderr).not.toMatch(STACK);
    expect(run.code).toBe(141);
  });

  it.each([
    { case: '--help | head -1', pipe: 'head -1', first: 'Usage: hecate [options] [command]\n' },
    { case: '--help | true', pipe: 'true', first: '' },
    {
      case: 'analyze -o json | head -c 1',
      pipe: 'head -c 1',
      args: 'analyze --repo test/fixtures/analyze/atlas -o json',
      first: '{',
    },
  ])('given `hecate $case` in bash, then the pipeline ends quietly (exit 0 or 141)', async (c) => {
    const script = `set -o pipefail; "$NODE" ${CLI.join(' ')} ${c.args ?? '--help'} | ${c.pipe}; echo "exit=$?" >&2`;
    const run = await shell(script);
    expect(run.stdout).toBe(c.first);
    expect(run.stderr).toMatch(/^exit=(0|141)\n$/);
    expect(run.stderr).not.toMatch(STACK);
  });

  it('given stderr closed before a usage error is written, then it still exits 2 without crashing', async () => {
    const run = await runClosing(['no-such-command'], 'stderr');
    expect(run.code).toBe(2);
    expect(run.signal).toBeNull();
    expect(run.stdout).toBe('');
  });
});
