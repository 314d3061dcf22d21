/**
 * The one-file CLI: `hack/build-binaries.ts` (npm run build:binaries) builds linux-amd64 and
 * linux-arm64 executables and their SHA256SUMS. Each runs from a folder of its own with no Node and no node_modules
 * anywhere it could look (PATH is an empty folder, the working folder is outside the repository): --help, --version
 * (with the commit embedded at build time), an offline dry-run and `analyze` on a fixture, each printing exactly what
 * the TypeScript CLI prints. arm64 runs under
 * qemu-aarch64-static with Debian's arm64 glibc and libstdc++ (qemu-user-static, libc6-arm64-cross,
 * libstdc++6-arm64-cross) when they are installed, and the test says it did not run when not.
 * Reports the sizes and the start-up time of `--help` against `node -e 0`.
 */
import { accessSync, constants } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildInfo } from '../../adapters/build-info.js';
import { REPO_ROOT } from '../../bed/index.js';
import { buildBinaries, NODE_VERSION } from '../../hack/build-binaries.js';
import { currentBuild } from '../../hack/build-info.js';

const QEMU = '/usr/bin/qemu-aarch64-static';
/** arm64's glibc and libstdc++ for qemu's -L (Debian's libc6-arm64-cross, libstdc++6-arm64-cross). */
const ARM64_ROOT = '/usr/aarch64-linux-gnu';
const ARM64_PACKAGES = 'qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross';
const qemu = [QEMU, `${ARM64_ROOT}/lib/ld-linux-aarch64.so.1`, `${ARM64_ROOT}/lib/libstdc++.so.6`].every((f) => {
  try {
    accessSync(f, constants.R_OK);
    return true;
  } catch {
    return false;
  }
});
const onAmd64 = process.arch === 'x64';
const TSX = pathToFileURL(join(REPO_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

function outcome(result: { exitCode?: number | undefined; stdout: unknown; stderr: unknown }): Run {
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

interface Run {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

describe.skipIf(!onAmd64)('hecate as single executables (npm run build:binaries)', () => {
  let dir: string;
  let out: string;
  let home: string;
  let empty: string;
  let built: { file: string; bytes: number; sha256: string }[];
  /** The version and the commit the binaries were built from, read as the build reads them. */
  let build: BuildInfo;

  /** The command in `home` with nothing else: no Node on PATH, no node_modules above the working folder. */
  const inIsolation = async (file: string, args: string[], prefix: string[] = []): Promise<Run> =>
    outcome(
      await execa(prefix[0] ?? file, [...prefix.slice(1), ...(prefix.length ? [file] : []), ...args], {
        cwd: home,
        env: { HOME: home, PATH: empty, LANG: 'C.UTF-8' },
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        timeout: 120_000,
      }),
    );

  /** The same command through the TypeScript sources, for comparison (same HOME, same working folder). */
  const fromSources = async (args: string[]): Promise<Run> =>
    outcome(
      await execa(process.execPath, ['--import', TSX, join(REPO_ROOT, 'cli/main.ts'), ...args], {
        cwd: home,
        env: { HOME: home, PATH: empty, LANG: 'C.UTF-8' },
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
      }),
    );

  const DRY_RUN = ['shutdown', '--offline', '--plan', 'examples/atlas-powerplan.yaml'];
  const ANALYZE = ['analyze', '--repo', 'atlas-repo', '--plan', 'examples/atlas-powerplan.yaml'];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-binaries-'));
    out = join(dir, 'dist-bin');
    home = join(dir, 'home');
    empty = join(dir, 'empty-path');
    await mkdir(empty, { recursive: true });
    await mkdir(join(home, 'examples'), { recursive: true });
    await cp(join(REPO_ROOT, 'examples/atlas-powerplan.yaml'), join(home, 'examples/atlas-powerplan.yaml'));
    await cp(join(REPO_ROOT, 'test/fixtures/analyze/atlas'), join(home, 'atlas-repo'), { recursive: true });
    build = await currentBuild();
    built = await buildBinaries({ arches: ['amd64', 'arm64'], out });
  }, 600_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('builds both architectures and a SHA256SUMS that sha256sum -c accepts', async () => {
    expect(built.map((b) => b.file.split('/').pop())).toEqual(['hecate-linux-amd64', 'hecate-linux-arm64']);
    const sums = await readFile(join(out, 'SHA256SUMS'), 'utf8');
    expect(sums).toBe(built.map((b) => `${b.sha256}  ${b.file.split('/').pop()}\n`).join(''));
    const check = await execa('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out });
    expect(check.stdout).toBe('hecate-linux-amd64: OK\nhecate-linux-arm64: OK');
    const file = await execa('file', ['-b', ...built.map((b) => b.file)], { reject: false });
    if (file.exitCode === 0) {
      expect(file.stdout).toMatch(/ELF 64-bit LSB executable, x86-64[^\n]*\n.*ELF 64-bit LSB executable, ARM aarch64/);
    }
    console.info(
      `Single executables (Node ${NODE_VERSION}): ${built.map((b) => `${b.file.split('/').pop()} ${(b.bytes / 2 ** 20).toFixed(1)} MiB`).join(', ')}`,
    );
  });

  it('amd64: --help, --version, an offline dry-run and analyze, as the TypeScript CLI prints them, without Node', async () => {
    const binary = join(home, 'hecate');
    await cp(built[0]?.file ?? '', binary);
    const node = await execa('/bin/sh', ['-c', 'command -v node || echo none'], {
      env: { PATH: empty },
      extendEnv: false,
    });
    expect(node.stdout).toBe('none');
    const help = await inIsolation(binary, ['--help']);
    expect(help).toMatchObject({ exitCode: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: hecate \[options\] \[command\]/);
    // the commit was embedded at build time: no git and no checkout where it runs; its own Node, not the host's
    expect((await inIsolation(binary, ['--version'])).stdout).toBe(
      `hecate ${build.version}\ncommit: ${build.commit}\nnode: v${NODE_VERSION} (linux/x64)`, // execa drops the last newline
    );
    expect(build.commit).toMatch(/^[0-9a-f]{40}(-dirty)?$/);
    for (const args of [DRY_RUN, ANALYZE, ['no-such-command']]) {
      const [single, sources] = await Promise.all([inIsolation(binary, args), fromSources(args)]);
      expect(single, args.join(' ')).toEqual(sources);
    }
    const dryRun = await inIsolation(binary, DRY_RUN);
    expect(dryRun.exitCode).toBe(0);
    expect(dryRun.stdout).toContain('hecate shutdown: plan "atlas" from examples/atlas-powerplan.yaml');
    const analyze = await inIsolation(binary, ANALYZE);
    expect(analyze.exitCode).toBe(0);
    expect(analyze.stdout).toContain('Plan check of examples/atlas-powerplan.yaml');
    expect((await inIsolation(binary, ['no-such-command'])).exitCode).toBe(2);
  });

  it('amd64: start-up of --help against node -e 0 (median of 5)', async () => {
    const binary = join(home, 'hecate');
    const median = async (work: () => Promise<unknown>) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const start = performance.now();
        await work();
        times.push(performance.now() - start);
      }
      return times.sort((a, b) => a - b)[2] ?? 0;
    };
    const sea = await median(() => inIsolation(binary, ['--help']));
    const bare = await median(() => execa(process.execPath, ['-e', '0']));
    const tsx = await median(() => fromSources(['--help']));
    console.info(
      `Start-up: hecate-linux-amd64 --help ${sea.toFixed(0)} ms; node -e 0 ${bare.toFixed(0)} ms; node --import tsx cli/main.ts --help ${tsx.toFixed(0)} ms`,
    );
    expect(sea).toBeLessThan(5_000);
  });

  it.runIf(qemu)('arm64 under qemu-aarch64-static: --help, an offline dry-run and analyze', async () => {
    const binary = join(home, 'hecate-arm64');
    await cp(built[1]?.file ?? '', binary);
    const help = await inIsolation(binary, ['--help'], [QEMU, '-L', ARM64_ROOT]);
    expect(help.exitCode, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: hecate \[options\] \[command\]/);
    for (const args of [DRY_RUN, ANALYZE]) {
      const [single, sources] = await Promise.all([
        inIsolation(binary, args, [QEMU, '-L', ARM64_ROOT]),
        fromSources(args),
      ]);
      expect(single, args.join(' ')).toEqual(sources);
    }
  });

  it.runIf(!qemu)(
    `arm64: NOT RUN, qemu-aarch64-static or arm64's libraries missing (apt-get install ${ARM64_PACKAGES})`,
    () => {
      console.warn(`hecate-linux-arm64 was built but NOT RUN: apt-get install ${ARM64_PACKAGES}`);
    },
  );
});
