/**
 * `selfNode`: the node Hecate runs on is powered off last, whatever its role, in the graceful and the emergency
 * shutdown; everything else keeps its order, and without `selfNode` (or with a name the plan does not know) the
 * plan is exactly what it was.
 */
import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../../core/plan/index.js';
import { batches } from '../../../core/run/runner.js';
import { atlasInput } from '../../helpers/atlas.js';

const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];
const DEFAULT_ORDER = [...WORKERS, 'titan-03', 'titan-02', 'titan-01'];
const MODES = ['shutdown', 'emergency-shutdown'] as const;

const powerOffs = (mode: (typeof MODES)[number], selfNode?: string) =>
  compilePlan(mode, atlasInput(selfNode === undefined ? {} : { selfNode })).steps.filter(
    (s) => s.kind === 'power-off-node',
  );

describe('compile with selfNode', () => {
  it.each(
    MODES.flatMap((mode) => [
      // given the node Hecate runs on, then it moves to the end and the rest keep their order
      [mode, 'titan-03', [...WORKERS, 'titan-02', 'titan-01', 'titan-03']],
      [mode, 'titan-02', [...WORKERS, 'titan-03', 'titan-01', 'titan-02']],
      [mode, 'titan-01', DEFAULT_ORDER],
      [mode, 'titan-05', ['titan-04', 'titan-06', 'titan-07', 'titan-03', 'titan-02', 'titan-01', 'titan-05']],
      // given no selfNode, or one that is not in the plan, then the order is unchanged
      [mode, undefined, DEFAULT_ORDER],
      [mode, 'laptop', DEFAULT_ORDER],
    ]),
  )('%s with selfNode %s powers off in the order %j', (mode, self, order) => {
    expect(powerOffs(mode, self).map((s) => s.params.node)).toEqual(order);
  });

  it.each(MODES)('%s: the last step says why it is last; no other step claims to be last', (mode) => {
    const steps = powerOffs(mode, 'titan-03');
    expect(steps.at(-1)?.why).toBe(
      'Hecate runs on titan-03: it is powered off last, after every other node and after the final status is written',
    );
    const controlPlane = steps.filter((s) => s.params.role === 'control-plane' && s.params.node !== 'titan-03');
    expect(controlPlane.map((s) => s.why)).toEqual([
      'Control-plane nodes go after the workers, in order; titan-03, where Hecate runs, stays up to the end',
      'Control-plane nodes go after the workers, in order; titan-03, where Hecate runs, stays up to the end',
    ]);
    expect(steps.filter((s) => s.why.includes('the API goes away with it'))).toEqual([]);
  });

  it.each(MODES)('%s: without selfNode the plan is byte-for-byte what it was (an unknown name too)', (mode) => {
    const plain = compilePlan(mode, atlasInput());
    expect(compilePlan(mode, atlasInput({ selfNode: 'laptop' }))).toEqual(plain);
    expect(plain.steps.filter((s) => s.kind === 'power-off-node').at(-1)?.why).toBe(
      'The last control-plane node: the API goes away with it',
    );
  });

  it('emergency: a worker that runs Hecate is not powered off with the other workers, but alone and last', () => {
    const plan = compilePlan('emergency-shutdown', atlasInput({ selfNode: 'titan-05' }));
    const groups = batches(plan.steps.filter((s) => s.kind === 'power-off-node')).map((b) =>
      b.map((s) => s.params.node),
    );
    expect(groups).toEqual([
      ['titan-04', 'titan-06', 'titan-07'],
      ['titan-03'],
      ['titan-02'],
      ['titan-01'],
      ['titan-05'],
    ]);
    const workers = plan.steps.filter((s) => s.params.group === 'power-off-workers');
    expect(workers.map((s) => s.params.parallelism)).toEqual(['3', '3', '3']);
  });

  it('changes nothing but the power-off steps', () => {
    const plain = compilePlan('shutdown', atlasInput()).steps.filter((s) => s.kind !== 'power-off-node');
    const self = compilePlan('shutdown', atlasInput({ selfNode: 'titan-03' })).steps.filter(
      (s) => s.kind !== 'power-off-node',
    );
    expect(self).toEqual(plain);
  });
});
