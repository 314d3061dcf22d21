/**
 * The way back: what startup needs after the power is cut, checked before a graceful shutdown cuts it. Pure: the
 * caller observes the control host and the cluster ({@link WayBackFacts}); this names every gap at once, each with
 * the command that closes it. A shutdown that finds gaps refuses unless told to go on (`--ignore-way-back`); an
 * emergency shutdown only warns, since a UPS running out does not wait.
 */

/** What was observed; a part left undefined was not looked at (an offline dry-run does not ask the cluster). */
export interface WayBackFacts {
  /** The repo snapshot the bootstrap chain applies from. */
  snapshot: { dir: string; present: boolean; revision?: string };
  /** The revision Flux last applied (its source's `status.artifact.revision`), when the cluster was asked. */
  fluxRevision?: string;
  /** Whether the plan has a bootstrap chain: without one the snapshot and kubectl are not needed. */
  chain: boolean;
  /** The Harbor bundle, when the plan has a Harbor stage: `problem` says why it cannot be used. */
  bundle?: { path: string; problem?: string };
  /** The kubectl that renders the chain's kustomizations. */
  kubectl: { command: string; found: boolean };
  /** For `powerOff.method: ssh`: each node's answer to `ssh -o BatchMode=yes NODE true`. */
  ssh?: { node: string; target: string; problem?: string }[];
}

export interface WayBackGap {
  /** What is missing, in words, naming the path, node or revision. */
  what: string;
  /** The command (or the action) that closes the gap. */
  fix: string;
}

/** The commit of a Flux revision: `main@sha1:abc` → `abc`; a bare commit stays as it is. */
export function commitOf(revision: string): string {
  return revision.slice(revision.lastIndexOf(':') + 1);
}

export function wayBackGaps(facts: WayBackFacts): WayBackGap[] {
  return [...snapshotGaps(facts), ...bundleGaps(facts), ...kubectlGaps(facts), ...sshGaps(facts)];
}

function snapshotGaps({ snapshot, fluxRevision, chain }: WayBackFacts): WayBackGap[] {
  if (!chain) return [];
  if (!snapshot.present) {
    return [
      {
        what: `no repo snapshot at ${snapshot.dir}: the bootstrap chain has nothing to apply from`,
        fix: 'hecate prepare --execute',
      },
    ];
  }
  if (!fluxRevision || !snapshot.revision || commitOf(snapshot.revision) === commitOf(fluxRevision)) return [];
  return [
    {
      what: `the repo snapshot ${snapshot.dir} is at ${snapshot.revision}, not at ${fluxRevision}, the revision Flux last applied`,
      fix: `hecate prepare --execute (or git -C ${snapshot.dir} fetch && git -C ${snapshot.dir} checkout ${commitOf(fluxRevision)})`,
    },
  ];
}

/** The bundle check ends its message with the command that (re)builds it: that command becomes the fix. */
function bundleGaps({ bundle }: WayBackFacts): WayBackGap[] {
  if (!bundle?.problem) return [];
  const hint = /(?:; | \()(?:[a-z ]+; )?(?:re)?build it with: (.*?)\)?$/.exec(bundle.problem);
  const problem = hint ? bundle.problem.slice(0, hint.index) : bundle.problem;
  const build = hint?.[1] ?? 'hecate bundle build';
  return [{ what: `the Harbor bundle cannot be used: ${problem}`, fix: `${build}, then hecate prepare --execute` }];
}

function kubectlGaps({ kubectl, chain }: WayBackFacts): WayBackGap[] {
  if (!chain || kubectl.found) return [];
  return [
    {
      what: `${kubectl.command} is not on PATH: the bootstrap chain renders its kustomizations with it`,
      fix: 'install kubectl on this host, or set HECATE_KUBECTL to one',
    },
  ];
}

function sshGaps({ ssh }: WayBackFacts): WayBackGap[] {
  return (ssh ?? [])
    .filter((answer) => answer.problem)
    .map((answer) => ({
      what: `node ${answer.node} does not answer ssh -o BatchMode=yes ${answer.target} true: ${answer.problem}`,
      fix: `ssh-copy-id ${answer.target} (a key this host can use without a prompt), then hecate prepare --execute`,
    }));
}
