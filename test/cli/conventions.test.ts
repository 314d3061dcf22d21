/**
 * The conventions a kubectl or flux user expects: `completion bash|zsh|fish` loaded by the real
 * shells, `-v`/`-vv`, kubectl's `--request-timeout` reaching the Kubernetes client, `-o yaml` wherever `-o json` is,
 * and `--version` with the commit (from git, from a build's record, or "unknown"). Ctrl-C is interrupt.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitCommit, readBuildInfo } from '../../adapters/build-info.js';
import { RequestTimeoutError, withRequestTimeout } from '../../adapters/kube/request-timeout.js';
import { freePorts } from '../../bed/ports.js';
import { parseRequestTimeout, verbosityEnv } from '../../cli/options.js';
import { loadContext } from '../../cli/run/context.js';
import { fromYaml } from '../../core/api/yaml.js';
import { currentBuild } from '../../hack/build-info.js';
import { hecate, withHome } from '../helpers/cli.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const PLAN = 'examples/atlas-powerplan.yaml';
/** The CLI as a user's shell runs it, from the sources. */
const HECATE = `node --import tsx ${join(ROOT, 'cli/main.ts')}`;

/** Whether `shell` is on PATH (`command -v`). */
async function installed(shell: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${shell}`]).then(
    () => true,
    () => false,
  );
}
const HAS = { zsh: await installed('zsh'), fish: await installed('fish') };

describe('hecate completion bash, in a real bash', () => {
  /** Each case: the words on the line (the last one is being completed) and what bash offers. */
  const cases: { words: string[]; offers: string[] }[] = [
    { words: ['hecate', 'sh'], offers: ['shutdown'] },
    { words: ['hecate', 'st'], offers: ['startup', 'status'] },
    { words: ['hecate', 'co'], offers: ['console', 'completion'] },
    { words: ['hecate', 'bundle', ''], offers: ['build'] },
    { words: ['hecate', 'shutdown', '--ign'], offers: ['--ignore-way-back'] },
    { words: ['hecate', 'startup', '--ign'], offers: ['--ignore-ups'] },
    { words: ['hecate', 'shutdown', '-o', ''], offers: ['text', 'json', 'yaml'] },
    { words: ['hecate', 'analyze', '--output', 'y'], offers: ['yaml'] },
    { words: ['hecate', 'shutdown', '--dry-run', '=', 's'], offers: ['server'] },
    { words: ['hecate', '-v', '--request-timeout', '5s', 'bundle', 'build', '--arch', ''], offers: ['arm64', 'amd64'] },
    { words: ['hecate', 'status', '--request-t'], offers: ['--request-timeout'] },
    { words: ['hecate', 'shutdown', '--plan', 'examples/atlas-power'], offers: ['examples/atlas-powerplan.yaml'] },
    { words: ['hecate', 'completion', ''], offers: ['bash', 'zsh', 'fish'] },
    { words: ['hecate', 'completion', 'bash', ''], offers: [] },
    { words: ['hecate', 'shutdown', '--reason', ''], offers: [] },
  ];

  let out: string[];
  beforeAll(async () => {
    const script = [
      `source <(${HECATE} completion bash)`,
      'complete -p hecate',
      ...cases.map(({ words }) => {
        const line = words.map((w) => `'${w}'`).join(' ');
        return `COMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _hecate; echo "offers:\${COMPREPLY[*]}"`;
      }),
    ].join('\n');
    const { stdout } = await run('bash', ['--norc', '--noprofile', '-c', script], { cwd: ROOT });
    out = stdout.trimEnd().split('\n');
  }, 60_000);

  it('registers the function for hecate', () => {
    expect(out[0]).toBe('complete -F _hecate hecate');
  });

  it.each(cases.map((c, i) => ({ ...c, i, line: c.words.join(' ') })))(
    'given "$line<TAB>", then bash offers $offers',
    ({ offers, i }) => {
      expect(
        out[i + 1]
          ?.replace(/^offers:/, '')
          .split(' ')
          .filter(Boolean),
      ).toEqual(offers);
    },
  );
});

describe('hecate completion zsh and fish', () => {
  it.runIf(!HAS.zsh || !HAS.fish)('zsh or fish: NOT RUN where missing (apt-get install zsh fish)', () => {
    const missing = (['zsh', 'fish'] as const).filter((s) => !HAS[s]);
    console.warn(
      `Completion scripts NOT checked in ${missing.join(', ')}: not installed (apt-get install ${missing.join(' ')})`,
    );
  });

  it.each([
    { shell: 'zsh', check: ['zsh', '-n'] },
    { shell: 'fish', check: ['fish', '--no-execute'] },
  ])('given $shell, then the script parses (when $shell is installed)', async ({ shell, check }) => {
    const script = await withHome((home) => hecate(['completion', shell], home));
    expect(script.code).toBe(0);
    expect(script.stdout).toContain('prepare');
    if (!HAS[shell as 'zsh' | 'fish']) return; // said by the NOT RUN test above
    const dir = await mkdtemp(join(tmpdir(), 'hecate-completion-'));
    try {
      const file = join(dir, `hecate.${shell}`);
      await writeFile(file, script.stdout);
      const [cmd = shell, ...args] = check;
      await expect(run(cmd, [...args, file])).resolves.toBeDefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.runIf(HAS.zsh)('given zsh, then compinit binds _hecate to hecate when the script is sourced', async () => {
    const script = `autoload -U compinit && compinit -u -D; source <(${HECATE} completion zsh); print -r -- $_comps[hecate]`;
    const { stdout } = await run('zsh', ['-f', '-c', script], { cwd: ROOT, env: { ...process.env, HOME: tmpdir() } });
    expect(stdout.trim()).toBe('_hecate');
  });

  /** zsh's own completion system needs a terminal; its builtins are stubbed to print what _hecate offers. */
  it.runIf(HAS.zsh).each([
    {
      words: ['hecate', ''],
      offers: 'prepare shutdown startup harbor-seed status console analyze bundle drill completion',
    },
    { words: ['hecate', 'bundle', ''], offers: 'build' },
    { words: ['hecate', 'completion', ''], offers: 'bash zsh fish' },
    { words: ['hecate', 'shutdown', '-o', ''], offers: 'text json yaml' },
    { words: ['hecate', 'shutdown', '--dry-run=s'], offers: 'client server' },
    { words: ['hecate', 'startup', '--plan', ''], offers: '<files>' },
  ])('given zsh and "$words<TAB>", then _hecate offers $offers', async ({ words, offers }) => {
    const script = [
      `source <(${HECATE} completion zsh) 2>/dev/null || true`,
      `compadd() { shift $(( \${@[(i)--]} )); print -l -- "$@"; }`,
      `_describe() { local -a a; a=("\${(@P)\${@[-1]}}"); print -l -- "\${a[@]%%:*}"; }`,
      "_files() { print -- '<files>'; }",
      'compset() { :; }',
      `words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}`,
      'print -- $(_hecate)',
    ].join('\n');
    const { stdout } = await run('zsh', ['-f', '-c', script], { cwd: ROOT });
    expect(stdout.trim()).toBe(offers);
  });

  it.runIf(HAS.fish).each([
    { line: 'hecate sh', offers: ['shutdown'] },
    { line: 'hecate bundle ', offers: ['build'] },
    { line: 'hecate shutdown -o ', offers: ['json', 'text', 'yaml'] },
    { line: 'hecate shutdown --dry', offers: ['--dry-run'] },
    { line: 'hecate completion ', offers: ['bash', 'fish', 'zsh'] },
  ])('given fish and "$line<TAB>", then fish offers $offers', async ({ line, offers }) => {
    const script = `${HECATE} completion fish | source; complete -C '${line}'`;
    const { stdout } = await run('fish', ['--no-config', '-c', script], { cwd: ROOT });
    expect(
      stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.split('\t')[0]),
    ).toEqual(offers);
  });

  it('given an unknown shell, then exit 2 naming the choices', async () => {
    const result = await withHome((home) => hecate(['completion', 'tcsh'], home));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "value 'tcsh' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish.",
    );
  });
});

describe('-v and -vv', () => {
  /** startup --execute with the plan's upsd on a closed port: the UPS gate refuses at once (exit 3). */
  async function refusedStartup(home: string, flags: string[]) {
    const [port] = await freePorts(1);
    const plan = (await readFile(join(ROOT, PLAN), 'utf8')).replace('port: 3493', `port: ${port}`);
    await writeFile(join(home, 'plan.yaml'), plan);
    await writeFile(join(home, 'kubeconfig'), kubeconfigText(`https://127.0.0.1:${port}`));
    const argv = ['startup', '--execute', '--plan', join(home, 'plan.yaml'), '--kubeconfig', join(home, 'kubeconfig')];
    return hecate([...argv, '--state-file', join(home, 'state'), ...flags], home);
  }

  it.each([
    { flags: [], debug: false },
    { flags: ['-v'], debug: false },
    { flags: ['-vv'], debug: true },
    { flags: ['--verbose', '--verbose'], debug: true },
  ])('given $flags, then debug lines on stderr: $debug', async ({ flags, debug }) => {
    const result = await withHome((home) => refusedStartup(home, flags));
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('Startup refused by the UPS gate');
    const lines = result.stderr.split('\n').filter((l) => l.startsWith('debug: '));
    if (debug) expect(lines).toContainEqual(expect.stringMatching(/^debug: Connecting to upsd \{"server":"upsd at/));
    else expect(lines).toEqual([]);
  });

  it.each([
    { level: 0, env: {} },
    { level: 1, env: { HECATE_VERBOSE: '1' } },
    { level: 2, env: { HECATE_VERBOSE: '1', HECATE_DEBUG: '1' } },
  ])('given level $level, then the adapters read $env', ({ level, env }) => {
    expect(verbosityEnv({ HOME: '/h' }, level)).toEqual({ HOME: '/h', ...env });
  });
});

function kubeconfigText(server: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{ name: c, cluster: { server: "${server}", insecure-skip-tls-verify: true } }]`,
    'users: [{ name: u, user: { token: t } }]',
    'contexts: [{ name: x, context: { cluster: c, user: u } }]',
    'current-context: x',
  ].join('\n');
}

describe('--request-timeout', () => {
  it.each([
    { value: '0', ms: 0 },
    { value: '5', ms: 5000 },
    { value: '1s', ms: 1000 },
    { value: '2m', ms: 120_000 },
    { value: '3h', ms: 10_800_000 },
    { value: '1m30s', ms: 90_000 },
    { value: '500ms', ms: 500 },
    { value: '1.5s', ms: 1500 },
  ])('given $value, then $ms ms (kubectl reads it so)', ({ value, ms }) => {
    expect(parseRequestTimeout(value)).toBe(ms);
  });

  it.each(['abc', '5x', '-1s', '1 s', ''])(
    'given "%s", then exit 2 naming the flag and the form kubectl takes',
    async (value) => {
      const result = await withHome((home) =>
        hecate(['shutdown', '--offline', '--plan', PLAN, '--request-timeout', value], home),
      );
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`option '--request-timeout <duration>' argument '${value}' is invalid`);
      expect(result.stderr).toContain('(e.g. 1s, 2m, 3h; 0 for no timeout)');
    },
  );

  describe('against an API server that never answers', () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      server = createServer(() => undefined); // accepts, reads, never answers
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    });

    it('given withRequestTimeout, then a request fails after the timeout naming the flag and the request', async () => {
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfigText(url));
      const started = Date.now();
      const error = await withRequestTimeout(kc, 300)
        .makeApiClient(CoreV1Api)
        .listNode()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RequestTimeoutError);
      expect((error as Error).message).toBe(
        'no answer from the API server within --request-timeout=300ms (GET /api/v1/nodes)',
      );
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('given --request-timeout on a command, then the clients of its kubeconfig carry it', async () => {
      await withHome(async (home) => {
        await writeFile(join(home, 'kubeconfig'), kubeconfigText(url));
        const options = {
          execute: false,
          offline: false,
          output: 'text' as const,
          plan: join(ROOT, PLAN),
          kubeconfig: join(home, 'kubeconfig'),
          stateFile: join(home, 'state'),
          requestTimeout: 1000,
        };
        const deps = {
          stdout: () => undefined,
          stderr: () => undefined,
          env: { HOME: home },
          cwd: ROOT,
          now: () => new Date(),
        };
        const ctx = await loadContext(options, deps);
        const error = await ctx.kubeConfig
          ?.makeApiClient(CoreV1Api)
          .readNamespace({ name: 'flux-system' })
          .catch((e: unknown) => e);
        expect((error as Error).message).toBe(
          'no answer from the API server within --request-timeout=1s (GET /api/v1/namespaces/flux-system)',
        );
      });
    }, 30_000);
  });
});

describe('-o yaml prints the object -o json prints', () => {
  it.each([
    { name: 'shutdown dry-run', argv: ['shutdown', '--offline', '--plan', PLAN] },
    { name: 'startup dry-run', argv: ['startup', '--offline', '--plan', PLAN] },
    { name: 'status', argv: ['status', '--offline', '--plan', PLAN] },
    { name: 'analyze', argv: ['analyze', '--repo', 'test/fixtures/analyze/atlas', '--plan', PLAN] },
    {
      name: 'bundle build dry-run',
      argv: ['bundle', 'build', '--harbor-version', 'v2.14.1', '--arch', 'amd64', '--bundle', '/tmp/b.tar.zst'],
    },
  ])('given $name, then the YAML parses to the JSON object', async ({ argv }) => {
    await withHome(async (home) => {
      const json = await hecate([...argv, '-o', 'json'], home);
      const yaml = await hecate([...argv, '-o', 'yaml'], home);
      expect(yaml.code).toBe(json.code);
      expect(json.stdout).not.toBe('');
      expect(fromYaml(yaml.stdout)).toEqual(JSON.parse(json.stdout));
    });
  });
});

describe('--version', () => {
  it('given the sources in a git checkout, then the version, the commit git reports and this Node', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await withHome((home) => hecate(['--version'], home));
    expect(result.code).toBe(0);
    const commit = gitCommit(ROOT);
    expect(commit).toMatch(/^[0-9a-f]{40}(-dirty)?$/);
    expect(result.stdout).toBe(
      `hecate ${version}\ncommit: ${commit}\nnode: ${process.version} (${process.platform}/${process.arch})\n`,
    );
  });

  describe('given a package laid out as npm installs it', () => {
    let root: string;
    const module = () => join(root, 'dist', 'adapters', 'build-info.js');
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'hecate-package-'));
      await mkdir(join(root, 'dist', 'adapters'), { recursive: true });
      await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'hecate', version: '9.8.7' }));
    });
    afterAll(() => rm(root, { recursive: true, force: true }));

    it('with the build record, then the commit it holds', async () => {
      await writeFile(join(root, 'dist', 'build-info.json'), JSON.stringify({ version: '9.8.7', commit: 'abc123' }));
      expect(readBuildInfo(module())).toEqual({ version: '9.8.7', commit: 'abc123' });
      await rm(join(root, 'dist', 'build-info.json'));
    });

    it('without it, then "unknown", never a guess', () => {
      expect(readBuildInfo(module())).toEqual({ version: '9.8.7', commit: 'unknown' });
    });

    it('as sources outside a git checkout, then "unknown"', () => {
      expect(readBuildInfo(join(root, 'adapters', 'build-info.ts'))).toEqual({ version: '9.8.7', commit: 'unknown' });
    });

    it.each([
      { env: {}, commit: 'unknown' },
      { env: { HECATE_BUILD_COMMIT: '0123abcd' }, commit: '0123abcd' },
    ])('built outside a git checkout with $env, then the build records $commit', async ({ env, commit }) => {
      expect(await currentBuild(root, env)).toEqual({ version: '9.8.7', commit });
    });
  });
});
