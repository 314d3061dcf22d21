/** The way back: every gap startup would meet after the power is cut, each with the command that closes it. */
import { describe, expect, it } from 'vitest';
import { type WayBackFacts, wayBackGaps } from '../../../core/plan/way-back.js';

const REV = 'main@sha1:1111111111111111111111111111111111111111';
const OLD = 'main@sha1:2222222222222222222222222222222222222222';
const ready: WayBackFacts = {
  snapshot: { dir: '/home/op/hecate-repo', present: true, revision: REV },
  fluxRevision: REV,
  chain: true,
  bundle: { path: '/b.tar.zst' },
  kubectl: { command: 'kubectl', found: true },
  ssh: [{ node: 'titan-01', target: 'root@titan-01' }],
};

describe('wayBackGaps', () => {
  it('finds none when startup has everything it needs', () => {
    expect(wayBackGaps(ready)).toEqual([]);
  });

  it.each<{ name: string; facts: Partial<WayBackFacts>; what: string; fix: string }>([
    {
      name: 'no repo snapshot',
      facts: { snapshot: { dir: '/home/op/hecate-repo', present: false } },
      what: 'no repo snapshot at /home/op/hecate-repo: the bootstrap chain has nothing to apply from',
      fix: 'hecate prepare --execute',
    },
    {
      name: 'a snapshot behind Flux',
      facts: { snapshot: { dir: '/r', present: true, revision: OLD } },
      what: `the repo snapshot /r is at ${OLD}, not at ${REV}, the revision Flux last applied`,
      fix: 'hecate prepare --execute (or git -C /r fetch && git -C /r checkout 1111111111111111111111111111111111111111)',
    },
    {
      name: 'a bundle that fails its checksum',
      facts: {
        bundle: {
          path: '/b.tar.zst',
          problem:
            'sha256 of /b.tar.zst is ab…, the manifest says cd… (bundle refused; rebuild it with: hecate bundle build --bundle /b.tar.zst --execute)',
        },
      },
      what: 'the Harbor bundle cannot be used: sha256 of /b.tar.zst is ab…, the manifest says cd…',
      fix: 'hecate bundle build --bundle /b.tar.zst --execute, then hecate prepare --execute',
    },
    {
      name: 'no kubectl',
      facts: { kubectl: { command: '/opt/kubectl', found: false } },
      what: '/opt/kubectl is not on PATH: the bootstrap chain renders its kustomizations with it',
      fix: 'install kubectl on this host, or set HECATE_KUBECTL to one',
    },
    {
      name: 'a node that does not answer ssh',
      facts: {
        ssh: [
          { node: 'titan-01', target: 'root@titan-01' },
          { node: 'titan-02', target: 'root@10.0.0.2', problem: 'Permission denied (publickey).' },
        ],
      },
      what: 'node titan-02 does not answer ssh -o BatchMode=yes root@10.0.0.2 true: Permission denied (publickey).',
      fix: 'ssh-copy-id root@10.0.0.2 (a key this host can use without a prompt), then hecate prepare --execute',
    },
  ])('names $name and the command that closes it', ({ facts, what, fix }) => {
    expect(wayBackGaps({ ...ready, ...facts })).toEqual([{ what, fix }]);
  });

  it('lists every gap at once, in a fixed order', () => {
    const gaps = wayBackGaps({
      ...ready,
      snapshot: { dir: '/r', present: false },
      bundle: { path: '/b', problem: 'Harbor bundle not found: /b; build it with: hecate bundle build --bundle /b' },
      kubectl: { command: 'kubectl', found: false },
    });
    expect(gaps.map((g) => g.what.split(':')[0])).toEqual([
      'no repo snapshot at /r',
      'the Harbor bundle cannot be used',
      'kubectl is not on PATH',
    ]);
    expect(gaps[1]?.fix).toBe('hecate bundle build --bundle /b, then hecate prepare --execute');
  });

  it('needs neither a snapshot nor kubectl for a plan without a bootstrap chain', () => {
    const facts = {
      ...ready,
      chain: false,
      snapshot: { dir: '/r', present: false },
      kubectl: { command: 'kubectl', found: false },
    };
    expect(wayBackGaps(facts)).toEqual([]);
  });

  it('does not call a snapshot stale when Flux was not asked (an offline dry-run)', () => {
    const { fluxRevision: _, ...offline } = ready;
    expect(wayBackGaps({ ...offline, snapshot: { dir: '/r', present: true, revision: OLD } })).toEqual([]);
  });
});
