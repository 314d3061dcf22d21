/**
 * powerOff.method helper-pod with three or more control-plane nodes: a helper pod needs the API, which loses its
 * etcd quorum once the majority of the control plane is off. Every dry-run of a shutdown (RenderedPlan.notes) says
 * which nodes could not be reached and advises `powerOff.method: ssh`.
 */
import { describe, expect, it } from 'vitest';
import type { PowerPlanSpec } from '../../../core/api/index.js';
import { compilePlan } from '../../../core/plan/index.js';
import { atlasInput, atlasSpec } from '../../helpers/atlas.js';

const helperPod = (spec: PowerPlanSpec = atlasSpec()): PowerPlanSpec => ({
  ...spec,
  powerOff: { ...spec.powerOff, method: 'helper-pod' },
});
const quorum = (notes: string[]) => notes.filter((n) => n.includes('quorum'));

describe('the quorum note', () => {
  it('Atlas with helper pods: titan-01 cannot be reached once titan-03 and titan-02 are off', () => {
    const plan = compilePlan('shutdown', atlasInput({ spec: helperPod() }));
    expect(quorum(plan.notes)).toEqual([
      'WARNING: powerOff.method helper-pod needs the API for every power-off, and the API loses its etcd quorum once 2 of the 3 control-plane nodes are off (after titan-02): titan-01 could not be reached. Use `powerOff.method: ssh`, which does not need the API',
    ]);
  });

  it('follows the compiled order: with the operator on titan-03, titan-03 is the one out of reach', () => {
    const plan = compilePlan('shutdown', atlasInput({ spec: helperPod(), selfNode: 'titan-03' }));
    expect(quorum(plan.notes)).toHaveLength(1);
    expect(quorum(plan.notes)[0]).toContain('(after titan-01): titan-03 could not be reached');
  });

  it('the operator on a worker that goes last: that worker is out of reach too', () => {
    const plan = compilePlan('shutdown', atlasInput({ spec: helperPod(), selfNode: 'titan-05' }));
    expect(quorum(plan.notes)[0]).toContain('(after titan-02): titan-01 and titan-05 could not be reached');
  });

  it('five control-plane nodes: the quorum (3) goes with the third, two are out of reach', () => {
    const spec = helperPod({
      ...atlasSpec(),
      nodes: [
        ...atlasSpec().nodes,
        { name: 'titan-08', role: 'control-plane', order: 40 },
        { name: 'titan-09', role: 'control-plane', order: 50 },
      ],
    });
    const plan = compilePlan('shutdown', atlasInput({ spec }));
    expect(quorum(plan.notes)[0]).toContain(
      'once 3 of the 5 control-plane nodes are off (after titan-01): titan-08 and titan-09 could not be reached',
    );
  });

  it('the emergency shutdown says it too', () => {
    const plan = compilePlan('emergency-shutdown', atlasInput({ spec: helperPod() }));
    expect(quorum(plan.notes)).toHaveLength(1);
  });

  it('not with ssh (the Atlas plan as written), nor with fewer than three control-plane nodes, nor outside shutdown', () => {
    expect(quorum(compilePlan('shutdown', atlasInput()).notes)).toEqual([]);
    const two = helperPod({ ...atlasSpec(), nodes: atlasSpec().nodes.filter((n) => n.name !== 'titan-01') });
    expect(quorum(compilePlan('shutdown', atlasInput({ spec: two })).notes)).toEqual([]);
    expect(quorum(compilePlan('startup', atlasInput({ spec: helperPod() })).notes)).toEqual([]);
    expect(quorum(compilePlan('prepare', atlasInput({ spec: helperPod() })).notes)).toEqual([]);
  });
});
