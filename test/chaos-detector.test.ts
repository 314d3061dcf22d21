/**
 * The chaos runner's judges (bed/chaos.ts) catch what they are there for: a different end state, and a
 * destructive request sent more often than in the uninterrupted run (a broken executor that re-sends a power-off, a
 * startup that forgets an uncordon), while allowing the idempotent resends the code documents.
 */
import { describe, expect, it } from 'vitest';
import { diffEndStates, diffSends, type EndState, seededRandom, sendsOf } from '../bed/chaos.js';
import { HECATE_USER } from '../bed/e2e.js';
import type { AuditEvent } from '../bed/index.js';
import { SA_USER } from '../bed/operator/index.js';

const reference: EndState = {
  nodes: { 'titan-01': { cordoned: false, on: true }, 'titan-04': { cordoned: false, on: true } },
  suspended: ['Kustomization/flux-system/apps'],
  chain: { 'Deployment/gitea/gitea': true },
  outageOpen: false,
  runFinished: true,
  unsettled: [],
  events: { startup: { phase: 'Succeeded', unsettled: [] } },
};

let id = 0;
function request(
  verb: string,
  resource: string,
  name: string,
  at: number,
  namespace?: string,
  user = HECATE_USER,
): AuditEvent {
  return {
    auditID: `a${id++}`,
    stage: 'ResponseComplete',
    verb,
    user,
    groups: [],
    objectRef: { resource, name, ...(namespace ? { namespace } : {}) },
    requestURI: `/x?fieldManager=hecate`,
    dryRun: false,
    timestamp: new Date(at).toISOString(),
  };
}
const windows = { shutdown: { from: 0, to: 1_000 }, startup: { from: 2_000, to: 3_000 } };

describe('the chaos judges', () => {
  it('given the same end state, then no difference', () => {
    expect(diffEndStates(reference, structuredClone(reference))).toEqual([]);
  });

  it('given a worker left cordoned, a stale running step and an open outage, then each is named', () => {
    const actual: EndState = {
      ...structuredClone(reference),
      nodes: { ...reference.nodes, 'titan-04': { cordoned: true, on: true } },
      outageOpen: true,
      unsettled: ['chain/gitea:running'],
      events: { startup: { phase: 'Running', unsettled: ['uncordon/titan-04:running'] } },
    };
    expect(diffEndStates(reference, actual)).toEqual([
      'node titan-04: {"cordoned":false,"on":true} → {"cordoned":true,"on":true}',
      'outage open: false → true',
      'steps left running or failed: [] → [chain/gitea:running]',
      'startup PowerEvent: {"phase":"Succeeded","unsettled":[]} → {"phase":"Running","unsettled":["uncordon/titan-04:running"]}',
    ]);
  });

  it('given a Flux object a kill left suspended, then it is named', () => {
    const actual = {
      ...structuredClone(reference),
      suspended: [...reference.suspended, 'Kustomization/flux-system/vault'],
    };
    expect(diffEndStates(reference, actual)).toEqual([
      'suspended Flux objects: [Kustomization/flux-system/apps] → [Kustomization/flux-system/apps, Kustomization/flux-system/vault]',
    ]);
  });

  it('sorts requests into suspends and cordons during shutdown, resumes, uncordons and chain applies during startup', () => {
    const events = [
      request('patch', 'kustomizations', 'apps', 100, 'flux-system'),
      request('patch', 'nodes', 'titan-04', 200),
      request('create', 'pods', '', 300, 'hecate-system'), // a helper: counted from the pod watch, not here
      request('patch', 'deployments', 'gitea', 2_100, 'gitea'),
      request('patch', 'kustomizations', 'apps', 2_500, 'flux-system'),
      request('patch', 'nodes', 'titan-04', 2_600),
      request('patch', 'nodes', 'titan-04', 5_000), // outside both windows
    ];
    const helpers = new Map([['titan-04', new Set(['hecate-power-off-titan-04-abcde'])]]);
    expect(sendsOf(events, windows, helpers)).toEqual({
      'suspend kustomizations/flux-system/apps': 1,
      'cordon titan-04': 1,
      'apply-chain deployments/gitea/gitea': 1,
      'resume kustomizations/flux-system/apps': 1,
      'uncordon titan-04': 1,
      'power-off titan-04': 1,
    });
  });

  it("counts the operator's requests with the CLI's (a cordon re-sent by a new leader is seen); others' are not", () => {
    const events = [
      request('patch', 'nodes', 'titan-04', 100, undefined, SA_USER),
      request('patch', 'nodes', 'titan-04', 200, undefined, HECATE_USER),
      request('patch', 'nodes', 'titan-04', 300, undefined, 'system:serviceaccount:kube-system:node-controller'),
    ];
    expect(sendsOf(events, windows, new Map())).toEqual({ 'cordon titan-04': 2 });
    expect(diffSends({ 'cordon titan-04': 1 }, sendsOf(events, windows, new Map()))).toEqual([
      'cordon titan-04: sent 2×, 1× without a kill',
    ]);
  });

  it('given a power-off or an uncordon sent twice, then it is flagged; a re-sent chain apply or resume is not', () => {
    const ref = { 'power-off titan-04': 1, 'uncordon titan-04': 1, 'apply-chain deployments/gitea/gitea': 1 };
    const actual = {
      'power-off titan-04': 2,
      'uncordon titan-04': 2,
      'apply-chain deployments/gitea/gitea': 2,
      'resume kustomizations/flux-system/apps': 1,
    };
    expect(diffSends(ref, actual)).toEqual([
      'power-off titan-04: sent 2×, 1× without a kill',
      'uncordon titan-04: sent 2×, 1× without a kill',
    ]);
  });

  it('given a power-off or a resume a resumed run never sent, then it is flagged too', () => {
    const ref = { 'power-off titan-03': 1, 'resume kustomizations/flux-system/vault': 1, 'cordon titan-04': 1 };
    expect(diffSends(ref, { 'cordon titan-04': 1 })).toEqual([
      'power-off titan-03: sent 0×, 1× without a kill',
      'resume kustomizations/flux-system/vault: sent 0×, 1× without a kill',
    ]);
  });

  it('draws the same kill instants from the same seed, and others from another', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const draws = (r: () => number) => [r(), r(), r()];
    const fromA = draws(a);
    expect(draws(b)).toEqual(fromA);
    expect(draws(c)).not.toEqual(fromA);
    expect(fromA.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
