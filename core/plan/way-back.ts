/**
 * The way back: what startup needs after the power is cut, checked before a graceful shutdown cuts it. Pure: the
 * caller observes the control host and the cluster ({@link WayBackFacts}); this names every gap at once, each with
 * the command that closes it. A shutdown that finds gaps refuses unless told to go on (`--ignore-way-back`); an
 * emergency shutdown only warns, since a UPS running out does not wait.
 */
import { parseDuration } from '../api/meta.js';
import type { WayBackRecord } from '../api/powerplan.js';

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

/** The verdict `prepare --execute` records in the PowerPlan's status, for the operator (it cannot see this host). */
export function wayBackRecordOf(
  gaps: readonly WayBackGap[],
  seen: { now: Date; checkedBy: string; fluxRevision?: string | undefined },
): WayBackRecord {
  return {
    verified: gaps.length === 0,
    checkedAt: seen.now.toISOString(),
    checkedBy: seen.checkedBy,
    ...(seen.fluxRevision ? { fluxRevision: seen.fluxRevision } : {}),
    gaps: gaps.map(({ what, fix }) => ({ what, fix })),
  };
}

/** What an executing shutdown PowerEvent knows when it reads its plan's way-back record. */
export interface RecordedWayBack {
  plan: string;
  record: WayBackRecord | undefined;
  now: Date;
  /** `spec.shutdown.wayBackMaxAge`. */
  maxAge: string;
  /** The revision Flux has applied now, when the cluster says. */
  fluxRevision?: string | undefined;
}

/**
 * Why the operator may not start a shutdown on the plan's recorded way back (each reason names its fix), or
 * undefined when the record is verified, fresh and for the revision Flux has applied now.
 */
export function recordedWayBackGap({ plan, record, now, maxAge, fluxRevision }: RecordedWayBack): string | undefined {
  const prepare = 'run hecate prepare --execute on the control host';
  if (!record) {
    return `PowerPlan "${plan}" has no way-back record (status.wayBack): nothing says startup can bring the cluster back after the power cut; ${prepare} (it checks the repo snapshot, the Harbor bundle, kubectl and SSH, and records the verdict), or set spec.ignoreWayBack: true`;
  }
  const when = `checked at ${record.checkedAt}${record.checkedBy ? ` by ${record.checkedBy}` : ''}`;
  if (!record.verified) {
    const gaps = record.gaps.map((g) => `${g.what} (fix: ${g.fix})`).join('; ') || 'no gap named';
    return `the way back of PowerPlan "${plan}" is not verified (${when}): ${gaps}; close the gaps, then ${prepare}`;
  }
  const age = now.getTime() - Date.parse(record.checkedAt);
  if (age > parseDuration(maxAge)) {
    return `the way back of PowerPlan "${plan}" was ${when}, longer ago than spec.shutdown.wayBackMaxAge (${maxAge}); ${prepare} again`;
  }
  if (record.fluxRevision && fluxRevision && commitOf(record.fluxRevision) !== commitOf(fluxRevision)) {
    return `the way back of PowerPlan "${plan}" was verified for Flux revision ${record.fluxRevision}, but Flux has applied ${fluxRevision} since (the repo snapshot is behind); ${prepare} again`;
  }
  return undefined;
}
