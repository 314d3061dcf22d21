import { describe, expect, it } from 'vitest';
import {
  defaultBundlePath,
  defaultRepoSnapshot,
  defaultStateFile,
  expandHome,
  type PathEnv,
} from '../../adapters/paths.js';

/** A made-up home: these tests never read the real environment. */
const HOME = '/home/ops';

describe('expandHome', () => {
  it.each([
    { given: '~', env: { HOME }, expected: HOME },
    { given: '~/', env: { HOME }, expected: `${HOME}/` },
    { given: '~/hecate-repo', env: { HOME }, expected: `${HOME}/hecate-repo` },
    { given: '~/a/b', env: { HOME: `${HOME}/` }, expected: `${HOME}/a/b` },
    { given: '/etc/hecate', env: { HOME }, expected: '/etc/hecate' },
    { given: 'relative/~/x', env: { HOME }, expected: 'relative/~/x' },
    { given: '~other/x', env: { HOME }, expected: '~other/x' },
    { given: '/abs', env: {}, expected: '/abs' },
  ])('given $given with HOME=$env.HOME, when expanded, then $expected', ({ given, env, expected }) => {
    expect(expandHome(given, env)).toBe(expected);
  });

  it.each([
    { env: {}, expected: /HOME is not set/ },
    { env: { HOME: '' }, expected: /HOME is not set/ },
    { env: { HOME: 'ops' }, expected: /HOME is not absolute/ },
  ])('given HOME=$env.HOME, when ~/x is expanded, then it throws $expected', ({ env, expected }) => {
    expect(() => expandHome('~/x', env)).toThrow(expected);
  });
});

describe('defaultStateFile', () => {
  it.each<{ case: string; env: PathEnv; expected: string }>([
    { case: 'XDG_STATE_HOME set', env: { HOME, XDG_STATE_HOME: '/xdg/state' }, expected: '/xdg/state' },
    { case: 'XDG_STATE_HOME unset', env: { HOME }, expected: `${HOME}/.local/state` },
    { case: 'XDG_STATE_HOME empty', env: { HOME, XDG_STATE_HOME: '' }, expected: `${HOME}/.local/state` },
    { case: 'XDG_STATE_HOME relative', env: { HOME, XDG_STATE_HOME: 'state' }, expected: `${HOME}/.local/state` },
    { case: 'XDG_STATE_HOME set, HOME unset', env: { XDG_STATE_HOME: '/s' }, expected: '/s' },
  ])('given $case, when the default is asked, then it is in $expected', ({ env, expected }) => {
    expect(defaultStateFile(env)).toBe(`${expected}/cluster_power_recovery.state`);
  });
});

describe('defaultBundlePath', () => {
  const bundle = 'hecate/bundles/harbor-bootstrap-v2.14.1-arm64.tar.zst';
  it.each<{ case: string; env: PathEnv; expected: string }>([
    { case: 'XDG_DATA_HOME unset', env: { HOME }, expected: `${HOME}/.local/share/${bundle}` },
    { case: 'XDG_DATA_HOME set', env: { HOME, XDG_DATA_HOME: '/data' }, expected: `/data/${bundle}` },
    {
      case: 'XDG_DATA_HOME relative',
      env: { HOME, XDG_DATA_HOME: 'data' },
      expected: `${HOME}/.local/share/${bundle}`,
    },
  ])('given $case, when the default for v2.14.1 arm64 is asked, then it is $expected', ({ env, expected }) => {
    expect(defaultBundlePath('v2.14.1', 'arm64', env)).toBe(expected);
  });

  it('given another version and arch, when the default is asked, then both are in the name', () => {
    expect(defaultBundlePath('v2.15.0', 'amd64', { HOME })).toBe(
      `${HOME}/.local/share/hecate/bundles/harbor-bootstrap-v2.15.0-amd64.tar.zst`,
    );
  });
});

describe('defaultRepoSnapshot', () => {
  it('given HOME, when the default is asked, then it is ~/hecate-repo', () => {
    expect(defaultRepoSnapshot({ HOME })).toBe(`${HOME}/hecate-repo`);
  });
});
