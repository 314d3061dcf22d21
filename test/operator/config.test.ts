import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../operator/config.js';

describe('operator config: the node it runs on', () => {
  it.each([
    { given: 'nothing', argv: [], env: {}, node: undefined },
    { given: 'NODE_NAME (the downward API)', argv: [], env: { NODE_NAME: 'titan-01' }, node: 'titan-01' },
    { given: 'an empty NODE_NAME', argv: [], env: { NODE_NAME: '' }, node: undefined },
    {
      given: '--node-name over NODE_NAME',
      argv: ['--node-name', 'titan-03'],
      env: { NODE_NAME: 'x' },
      node: 'titan-03',
    },
  ])('given $given, then nodeName is $node', ({ argv, env, node }) => {
    expect(parseConfig(argv, env).nodeName).toBe(node);
  });

  it('rejects a name that is not a node name, naming the flag and what was expected', () => {
    expect(() => parseConfig(['--node-name', 'Titan 01'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--node-name', 'Titan 01'], {})).toThrow(
      '--node-name (or NODE_NAME): expected a node name such as titan-01, got "Titan 01"',
    );
  });
});
