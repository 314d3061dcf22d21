/**
 * Observes the way back (core/plan/way-back.ts) from the control host: the repo snapshot against the revision Flux
 * last applied, the Harbor bundle against its manifest, the kubectl the chain needs, and, for SSH power-off, each
 * node's answer to a key-only `ssh ... true`. Only reads; an offline dry-run does not ask the cluster or the nodes.
 */
import { localBundleFiles } from '../../adapters/bundle-files.js';
import { whichCommand } from '../../adapters/system.js';
import { type WayBackFacts, type WayBackGap, wayBackGaps } from '../../core/plan/way-back.js';
import { bundleExpectation, readBundle } from '../../core/steps/prepare.js';
import type { CliDeps } from '../deps.js';
import type { CommonOptions } from '../options.js';
import type { CommandContext } from './context.js';

export async function observeWayBack(
  ctx: CommandContext,
  options: CommonOptions,
  deps: CliDeps,
): Promise<WayBackFacts> {
  const { spec } = ctx.plan;
  const kubectl = deps.env.HECATE_KUBECTL || 'kubectl';
  const [bundle, ssh, kubectlPath] = await Promise.all([
    bundleFacts(ctx, deps),
    options.offline ? undefined : sshFacts(ctx),
    whichCommand(kubectl, deps.env.PATH ?? ''),
  ]);
  const snapshot = ctx.observed.snapshot;
  const fluxRevision = ctx.observed.flux?.sourceRevision;
  return {
    snapshot: {
      dir: ctx.paths.repoSnapshot,
      present: snapshot?.present ?? false,
      ...(snapshot?.revision ? { revision: snapshot.revision } : {}),
    },
    ...(fluxRevision ? { fluxRevision } : {}),
    chain: spec.bootstrapChain.length > 0,
    ...(bundle ? { bundle } : {}),
    kubectl: { command: kubectl, found: kubectlPath !== undefined },
    ...(ssh ? { ssh } : {}),
  };
}

export async function wayBack(ctx: CommandContext, options: CommonOptions, deps: CliDeps): Promise<WayBackGap[]> {
  return wayBackGaps(await observeWayBack(ctx, options, deps));
}

async function bundleFacts(ctx: CommandContext, deps: CliDeps): Promise<WayBackFacts['bundle']> {
  const path = ctx.paths.harborBundle;
  if (!ctx.plan.spec.harbor || !path) return undefined;
  try {
    await readBundle(localBundleFiles(deps.env), path, bundleExpectation(ctx.plan.spec));
    return { path };
  } catch (error) {
    return { path, problem: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Each node's answer to `ssh -o BatchMode=yes user@node true`, asked in parallel with a 5 s connect timeout.
 * NOTE: execa is imported here, not above: an offline dry-run asks no node and loads none of it.
 */
async function sshFacts(ctx: CommandContext): Promise<WayBackFacts['ssh']> {
  const { powerOff, nodes } = ctx.plan.spec;
  if (powerOff.method !== 'ssh') return undefined;
  const [{ execa }, { sshArgs }] = await Promise.all([import('execa'), import('../../adapters/node-access/ssh.js')]);
  const options = {
    user: powerOff.sshUser,
    connectTimeoutSeconds: 5,
    ...(powerOff.sshKeyFile ? { keyFile: powerOff.sshKeyFile } : {}),
  };
  return Promise.all(
    nodes.map(async (node) => {
      const target = `${powerOff.sshUser}@${node.address ?? node.name}`;
      const address = { name: node.name, ...(node.address ? { address: node.address } : {}) };
      const result = await execa('ssh', sshArgs(address, 'true', options), { reject: false, timeout: 15_000 });
      if (result.exitCode === 0) return { node: node.name, target };
      const said = result.stderr.trim().split('\n').at(-1) || (result.timedOut ? 'no answer in 15 s' : '');
      const problem =
        (result as { code?: string }).code === 'ENOENT' ? 'ssh is not installed' : said || `exit ${result.exitCode}`;
      return { node: node.name, target, problem };
    }),
  );
}

/** The gaps as lines for a person: one per gap, its fix below it. */
export function renderGaps(gaps: readonly WayBackGap[]): string[] {
  return gaps.flatMap((gap) => [`  - ${gap.what}`, `    fix: ${gap.fix}`]);
}
