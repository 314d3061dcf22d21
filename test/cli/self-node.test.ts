/**
 * The CLI's side of "the node Hecate runs on is powered off last": which of the plan's nodes this host is.
 */
import { describe, expect, it } from 'vitest';
import { ExitError } from '../../cli/exit.js';
import { resolveSelfNode } from '../../cli/run/context.js';
import { atlasSpec } from '../helpers/atlas.js';
import { hecate, withHome } from '../helpers/cli.js';

const plan = { name: 'atlas', spec: atlasSpec(), source: 'examples/atlas-powerplan.yaml' };

describe('resolveSelfNode', () => {
  it.each([
    { given: 'a laptop', flag: undefined, env: {}, host: 'laptop', node: undefined },
    { given: 'the host is a node', flag: undefined, env: {}, host: 'titan-02', node: 'titan-02' },
    { given: 'a fully qualified host name', flag: undefined, env: {}, host: 'titan-02.lan', node: 'titan-02' },
    { given: 'HECATE_SELF_NODE', flag: undefined, env: { HECATE_SELF_NODE: 'titan-03' }, host: 'x', node: 'titan-03' },
    {
      given: '--self-node over the rest',
      flag: 'titan-01',
      env: { HECATE_SELF_NODE: 'titan-03' },
      host: 'titan-02',
      node: 'titan-01',
    },
    {
      given: 'HECATE_SELF_NODE of another cluster',
      flag: undefined,
      env: { HECATE_SELF_NODE: 'rpi-9' },
      host: 'titan-02',
      node: 'titan-02',
    },
  ])('given $given, then $node', ({ flag, env, host, node }) => {
    expect(resolveSelfNode(plan, flag === undefined ? {} : { selfNode: flag }, env, host)).toBe(node);
  });

  it('refuses a --self-node that is not a node of the plan, naming the flag and the nodes (exit 2)', () => {
    const call = () => resolveSelfNode(plan, { selfNode: 'titan-99' }, {}, 'laptop');
    expect(call).toThrow(ExitError);
    expect(call).toThrow('--self-node: "titan-99" is not a node of PowerPlan atlas; expected one of titan-01');
    try {
      call();
    } catch (error) {
      expect((error as ExitError).code).toBe(2);
    }
  });
});

describe('hecate shutdown --self-node', () => {
  const ids = (stdout: string) => (JSON.parse(stdout) as { steps: { id: string }[] }).steps.map((s) => s.id);

  it('given the CLI runs on titan-04 (a worker), then the dry-run powers titan-04 off last, after every other node', async () => {
    const base = ['shutdown', '--plan', 'examples/atlas-powerplan.yaml', '--offline', '-o', 'json'];
    const plain = await withHome((home) => hecate(base, home, { HECATE_SELF_NODE: 'elsewhere' }));
    const self = await withHome((home) => hecate([...base, '--self-node', 'titan-04'], home));
    expect(self.code).toBe(0);
    const powerOffs = ids(self.stdout).filter((id) => id.startsWith('power-off/'));
    expect(powerOffs.at(-1)).toBe('power-off/titan-04');
    expect(
      ids(plain.stdout)
        .filter((id) => id.startsWith('power-off/'))
        .at(-1),
    ).not.toBe('power-off/titan-04');
    expect(new Set(powerOffs)).toEqual(new Set(ids(plain.stdout).filter((id) => id.startsWith('power-off/'))));
  });
});
