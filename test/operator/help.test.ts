/**
 * The operator binary answers `--help` and `--version` as the tools beside it do: exit 0 on stdout,
 * before any flag is checked or a cluster is looked for; a bad flag still exits 2 and points at --help.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { gitCommit } from '../../adapters/build-info.js';
import { infoRequest } from '../../operator/config.js';

const ROOT = resolve(import.meta.dirname, '../..');

async function operator(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'operator/main.ts'), ...args], {
    cwd: ROOT,
    // no kubeconfig anywhere: --help must not need one
    env: { PATH: process.env.PATH, HOME: '/nonexistent' },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
}

describe('hecate-operator --help and --version', () => {
  it.each([{ args: ['--help'] }, { args: ['-h'] }, { args: ['--bogus', '--help'] }])(
    'given $args, then exit 0 with the help on stdout',
    async ({ args }) => {
      const result = await operator(args);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toMatch(/^hecate-operator: reconciles PowerEvents/);
      for (const taught of [
        'Usage: hecate-operator [flags]',
        '--bind-address H:P',
        'Environment (manifests/deployment.yaml',
        'POD_NAME, POD_NAMESPACE, NODE_NAME',
        'Examples:',
        'node dist/operator/main.js --leader-elect=true --bind-address=:8443',
        'Signals and exit codes:',
      ]) {
        expect(result.stdout).toContain(taught);
      }
    },
    60_000,
  );

  it('given --version, then the version, the commit and the Node version', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await operator(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `hecate-operator ${version}\ncommit: ${gitCommit(ROOT)}\nnode: ${process.version} (${process.platform}/${process.arch})\n`,
    );
  }, 60_000);

  it('given a bad flag, then exit 2 naming it, with the usage and a pointer to --help', async () => {
    const result = await operator(['--bogus']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^hecate-operator: Unknown option '--bogus'/);
    expect(result.stderr).toContain('(hecate-operator --help says more)');
  }, 60_000);

  it.each([
    { argv: [], asked: undefined },
    { argv: ['--log-level', 'debug'], asked: undefined },
    { argv: ['--version'], asked: 'version' },
    { argv: ['--version', '-h'], asked: 'help' },
  ])('given $argv, then $asked', ({ argv, asked }) => {
    expect(infoRequest(argv)).toBe(asked);
  });
});
