/**
 * The control host's routine: deploy/systemd's units pass `systemd-analyze verify` (systemd's own
 * loader: unknown keys, bad values, missing executables), the timers fire weekly and every 10 minutes, both services
 * run `hecate prepare --execute`, and the revision check decides as the way back does, run for real against the bed's
 * API server (a GitRepository with an artifact revision) and a real git snapshot.
 *
 * NOTE: systemd is not PID 1 on this machine, so the units are verified and their commands run, not started by systemd.
 */
import { accessSync, constants } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCrdPaths, type ControlPlane, REPO_ROOT, requireBed, startControlPlane } from '../../bed/index.js';

const bed = requireBed();
const SYSTEMD = join(REPO_ROOT, 'deploy/systemd');
const CHECK = join(SYSTEMD, 'hecate-snapshot-behind-flux');
const UNITS = ['hecate-prepare@', 'hecate-prepare-on-revision@'];
const analyze = requireSystemdAnalyze();

function requireSystemdAnalyze(env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    accessSync('/usr/bin/systemd-analyze', constants.X_OK);
    return true;
  } catch {
    const message = 'systemd-analyze is missing. Fix: apt-get install systemd';
    if (env.CI === 'true') throw new Error(`${message} (CI=true: integration tests may not skip)`);
    console.warn(`SKIP ${message}`);
    return false;
  }
}

/** `[Section] Key=value` pairs of a unit file, in order. */
function settings(text: string): [string, string][] {
  return text
    .split('\n')
    .filter((line) => /^[A-Za-z]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
}

describe.skipIf(!analyze)('deploy/systemd units', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-systemd-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('pass systemd-analyze verify as instances, with the installed paths pointing at real executables', async () => {
    const hecate = join(dir, 'hecate');
    await writeFile(hecate, '#!/bin/sh\nexit 0\n');
    await chmod(hecate, 0o755);
    const instances: string[] = [];
    for (const unit of UNITS) {
      for (const type of ['service', 'timer']) {
        const text = await readFile(join(SYSTEMD, `${unit}.${type}`), 'utf8');
        const local = text
          .replaceAll('/usr/local/bin/hecate', hecate)
          .replaceAll('/usr/local/lib/hecate/hecate-snapshot-behind-flux', CHECK);
        await writeFile(join(dir, `${unit}.${type}`), local);
        await symlink(join(dir, `${unit}.${type}`), join(dir, `${unit}ops.${type}`));
        instances.push(join(dir, `${unit}ops.${type}`));
      }
    }
    const result = await execa('systemd-analyze', ['verify', ...instances], { reject: false, stdin: 'ignore' });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
  });

  it('the verification fails on a typo (it is not a rubber stamp)', async () => {
    const text = (await readFile(join(SYSTEMD, 'hecate-prepare@.timer'), 'utf8')).replace('OnCalendar', 'OnCalender');
    await writeFile(join(dir, 'typo@.timer'), text);
    await symlink(join(dir, 'typo@.timer'), join(dir, 'typo@ops.timer'));
    const result = await execa('systemd-analyze', ['verify', join(dir, 'typo@ops.timer')], { reject: false });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain("Unknown key 'OnCalender'");
  });

  it('run hecate prepare --execute as the instance user: weekly (caught up after downtime) and when the check says so', async () => {
    const read = async (name: string) => settings(await readFile(join(SYSTEMD, name), 'utf8'));
    const weekly = new Map(await read('hecate-prepare@.timer'));
    expect(weekly.get('OnCalendar')).toBe('weekly');
    expect(weekly.get('Persistent')).toBe('true');
    const { stdout } = await execa('systemd-analyze', ['calendar', 'weekly']);
    expect(stdout).toMatch(/Normalized form: Mon \*-\*-\* 00:00:00/);
    const often = new Map(await read('hecate-prepare-on-revision@.timer'));
    expect(often.get('OnUnitActiveSec')).toBe('10min');
    for (const unit of UNITS) {
      const service = new Map(await read(`${unit}.service`));
      expect(service.get('ExecStart')).toBe('/usr/local/bin/hecate prepare --execute');
      expect(service.get('User')).toBe('%i');
      expect(service.get('Type')).toBe('oneshot');
      expect(service.get('SyslogIdentifier')).toBe('hecate-prepare'); // one name in the journal for both
    }
    const onRevision = new Map(await read('hecate-prepare-on-revision@.service'));
    expect(onRevision.get('ExecCondition')).toBe('/usr/local/lib/hecate/hecate-snapshot-behind-flux');
  });
});

describe.skipIf(!bed.ok)('hecate-snapshot-behind-flux against the bed and a real snapshot', () => {
  let plane: ControlPlane;
  let home: string;
  let commits: string[];
  const git = (...args: string[]) => execa('git', args, { env: { LC_ALL: 'C' } });

  /** Runs the check as systemd would (ExecCondition): 0 = run prepare, 1 = skip. */
  const check = (env: Record<string, string> = {}) =>
    execa(CHECK, [], {
      reject: false,
      stdin: 'ignore',
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        KUBECONFIG: plane.kubeconfigPath,
        HECATE_KUBECTL: plane.binaries.kubectl,
        ...env,
      },
      extendEnv: false,
    });

  const fluxApplied = async (revision: string | undefined) => {
    const status = revision
      ? {
          artifact: {
            revision,
            digest: 'sha256:0000000000000000000000000000000000000000000000000000000000000000',
            lastUpdateTime: new Date().toISOString(),
            path: 'gitrepository/flux-system/flux-system/x.tar.gz',
            url: 'http://source-controller.flux-system.svc/x.tar.gz',
          },
        }
      : { artifact: null };
    await execa(plane.binaries.kubectl, [
      '--kubeconfig',
      plane.kubeconfigPath,
      'patch',
      'gitrepository',
      'flux-system',
      '-n',
      'flux-system',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status }),
    ]);
  };

  beforeAll(async () => {
    plane = await startControlPlane({ crds: allCrdPaths() });
    home = await mkdtemp(join(tmpdir(), 'hecate-home-'));
    const snapshot = join(home, 'hecate-repo');
    await git('init', '--quiet', '-b', 'main', snapshot);
    commits = [];
    for (const n of [1, 2]) {
      await writeFile(join(snapshot, 'kustomization.yaml'), `# ${n}\n`);
      await git('-C', snapshot, 'add', '.');
      await git('-C', snapshot, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '--quiet', '-m', `c${n}`);
      commits.push((await git('-C', snapshot, 'rev-parse', 'HEAD')).stdout.trim());
    }
    await git('-C', snapshot, 'checkout', '--quiet', commits[0] as string);
    await plane.createNamespace('flux-system');
    const source = {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'flux-system', namespace: 'flux-system' },
      spec: { interval: '1m', url: 'ssh://git@scm.lab.test/ops/fleet.git', ref: { branch: 'main' } },
    };
    const file = join(home, 'source.json');
    await writeFile(file, JSON.stringify(source));
    await execa(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfigPath, 'apply', '-f', file]);
  });

  afterAll(async () => {
    await plane?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('skips (1) while the snapshot is at the revision Flux has applied', async () => {
    await fluxApplied(`main@sha1:${commits[0]}`);
    const result = await check();
    expect(result.stdout).toBe(
      `The repo snapshot ${home}/hecate-repo is at main@sha1:${commits[0]}, the revision Flux has applied`,
    );
    expect(result.exitCode).toBe(1);
  });

  it('runs prepare (0) once Flux has applied a newer revision', async () => {
    await fluxApplied(`main@sha1:${commits[1]}`);
    const result = await check();
    expect(result.stdout).toBe(
      `The repo snapshot ${home}/hecate-repo is at ${commits[0]}, Flux has applied main@sha1:${commits[1]}: preparing`,
    );
    expect(result.exitCode).toBe(0);
  });

  it('runs prepare (0) when there is no snapshot yet; HECATE_SNAPSHOT moves it', async () => {
    const result = await check({ HECATE_SNAPSHOT: join(home, 'elsewhere') });
    expect(result.stdout).toMatch(/^No repo snapshot at .*elsewhere: prepare makes it/);
    expect(result.exitCode).toBe(0);
  });

  it('skips (1) when the source has no artifact yet, or names another source', async () => {
    await fluxApplied(undefined);
    expect(await check()).toMatchObject({
      exitCode: 1,
      stdout: 'GitRepository flux-system/flux-system has no artifact revision yet',
    });
    const other = await check({ HECATE_FLUX_SOURCE: 'missing' });
    expect(other.exitCode).toBe(1);
    expect(other.stdout).toMatch(/^Cannot read GitRepository flux-system\/missing: .*NotFound|not found/);
  });

  it('skips (1) within seconds when the API server is gone', async () => {
    await plane.stopApiServer();
    const started = Date.now();
    const result = await check();
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^Cannot read GitRepository flux-system\/flux-system: /);
    expect(Date.now() - started).toBeLessThan(25_000);
  });
});
