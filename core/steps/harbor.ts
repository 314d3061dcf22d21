/**
 * The Harbor stage's executors: seed-harbor streams the control-host bundle into containerd on the Harbor node and
 * verifies every image by digest; reconcile-harbor resumes Harbor's HelmRelease (when Hecate suspended it), asks
 * Flux to reconcile it and waits until it is Ready.
 */

import { manifestPathOf, parseBundleManifest } from '../api/bundle-manifest.js';
import type { OutageRecord, PlanStep, PowerPlanSpec } from '../api/index.js';
import { missingImages } from '../bundle/images.js';
import { transferReporter } from '../bundle/progress.js';
import { fluxKey } from '../flux/objects.js';
import type { FluxObjectRef, FluxPort, NodeAddress } from '../ports/index.js';
import type { BundleFilesPort } from '../ports/prepare.js';
import type { ImagePresencePort, ImageSeedPort } from '../ports/seed.js';
import type { StepContext, StepExecutor } from '../run/executor.js';
import { bundleExpectation, readBundle } from './prepare.js';
import { waitUntil } from './wait.js';

/** The seed failed on the node side, or left images missing; the message says which and how to retry. */
export class SeedError extends Error {
  override readonly name = 'SeedError';
}

export interface SeedOptions {
  /** Verify the bundle on the control host only: no connection to the node, no change to containerd. */
  dryRun?: boolean;
  /** How often the stream's progress is reported (default 2 s). */
  progressIntervalMs?: number;
}

function nodeOf(step: PlanStep, spec: PowerPlanSpec): NodeAddress {
  const name = step.params.node ?? spec.harbor?.node ?? step.targets[0] ?? '';
  const address = spec.nodes.find((n) => n.name === name)?.address;
  return { name, ...(address ? { address } : {}) };
}

function bundleOf(step: PlanStep): string {
  return step.params.path ?? step.targets[1] ?? '';
}

const list = (images: readonly { reference: string; digest: string }[]) =>
  images.map((i) => `${i.reference} (${i.digest.slice(0, 19)}…)`).join(', ');

/**
 * seed-harbor. `check`: every image of the bundle's manifest is already on the node with its digest (read through
 * `presence`, never in a dry run). `apply`: verifies the bundle (checksum, platform, Harbor version) BEFORE any
 * byte leaves the control host, streams it with the platform given explicitly, then lists the node's images and
 * fails unless every digest is there. A failed stream leaves nothing to undo: a rerun streams again.
 */
export function seedHarbor(
  seed: ImageSeedPort,
  presence: ImagePresencePort,
  files: BundleFilesPort,
  spec: PowerPlanSpec,
  options: SeedOptions = {},
): StepExecutor {
  const expected = bundleExpectation(spec);
  return {
    check: async (step, ctx) => {
      if (options.dryRun) return false;
      const text = await files.readText(manifestPathOf(bundleOf(step)));
      const parsed = text === undefined ? undefined : parseBundleManifest(text);
      if (parsed?.kind !== 'full') return false;
      const images = await presence.imagesOn(nodeOf(step, spec), ctx.signal).catch(() => undefined);
      return images !== undefined && missingImages(parsed.manifest.images, images).length === 0;
    },
    apply: async (step, ctx) => {
      const node = nodeOf(step, spec);
      const bundle = await readBundle(files, bundleOf(step), expected);
      const manifest = bundle.manifest;
      if (!manifest) {
        throw new SeedError(
          `${bundle.path} has a checksum-only manifest: its images cannot be verified on ${node.name}; rebuild it with hecate bundle build`,
        );
      }
      const size = bundle.size ?? manifest.size;
      const what = `${(size / 1024 / 1024).toFixed(1)} MiB, ${manifest.images.length} images ${manifest.platform}`;
      ctx.report(`${bundle.path} verified (sha256 ${bundle.sha256.slice(0, 12)}…, ${what})`);
      if (options.dryRun) {
        ctx.report(
          `dry run: would stream it to ${node.name} and import it into containerd (k8s.io) for ${manifest.platform}`,
        );
        return;
      }
      const before = missingImages(manifest.images, await seed.listImages(node, ctx.signal));
      if (before.length === 0) {
        ctx.report(`every image is already on ${node.name} with its digest: nothing imported`);
        return;
      }
      ctx.report(`${before.length} of ${manifest.images.length} images missing on ${node.name}: streaming the bundle`);
      const { sent, output } = await stream(
        seed,
        node,
        bundle.path,
        { ...bundle, size },
        manifest.platform,
        ctx,
        options,
      );
      const after = missingImages(manifest.images, await seed.listImages(node, ctx.signal));
      if (after.length > 0) {
        const said = output.trim() ? ` (the importer said: ${output.trim().split('\n').slice(-3).join(' / ')})` : '';
        throw new SeedError(
          `after the import, ${node.name} still lacks ${after.length} of ${manifest.images.length} images: ${list(after)}${said}`,
        );
      }
      ctx.report(
        `imported ${(sent / 1024 / 1024).toFixed(1)} MiB; all ${manifest.images.length} digests verified on ${node.name}`,
      );
    },
  };
}

async function stream(
  seed: ImageSeedPort,
  node: NodeAddress,
  path: string,
  bundle: { sha256: string; size: number },
  platform: string,
  ctx: StepContext,
  options: SeedOptions,
) {
  const started = ctx.clock.now().getTime();
  const progress = transferReporter(options.progressIntervalMs ?? 2_000);
  try {
    return await seed.importBundle(node, path, {
      platform,
      totalBytes: bundle.size,
      sha256: bundle.sha256,
      signal: ctx.signal,
      onProgress: (sent) => {
        const line = progress({ sent, total: bundle.size, elapsedMs: ctx.clock.now().getTime() - started });
        if (line) ctx.report(line);
      },
    });
  } catch (cause) {
    throw new SeedError(
      `streaming ${path} into containerd on ${node.name} failed: ${(cause as Error).message}. Images imported before the failure stay; rerun harbor-seed to import the rest`,
      { cause },
    );
  }
}

/** The HelmRelease could not be found or resumed; the message names it. */
export class ReconcileHarborError extends Error {
  override readonly name = 'ReconcileHarborError';
}

function releaseOf(step: PlanStep, spec: PowerPlanSpec): FluxObjectRef {
  return {
    kind: 'HelmRelease',
    namespace: step.params.namespace ?? spec.harbor?.namespace ?? 'harbor',
    name: step.params.name ?? spec.harbor?.helmRelease ?? 'harbor',
  };
}

const suspendedByUs = (outage: OutageRecord, key: string) => outage.suspendedByHecate.helmReleases.includes(key);

/**
 * reconcile-harbor. Resumes the HelmRelease when the outage record says Hecate suspended it (and then drops it from
 * the record), requests a reconcile and waits until it is Ready for its current generation, within the step's
 * deadline. A release suspended by someone else before the outage is left suspended and not waited for.
 */
export function reconcileHarbor(
  flux: FluxPort,
  spec: PowerPlanSpec,
  options: { dryRun?: boolean; intervalMs?: number } = {},
): StepExecutor {
  const find = async (ref: FluxObjectRef) =>
    (await flux.list('HelmRelease')).find((o) => o.namespace === ref.namespace && o.name === ref.name);
  const leftAlone = async (step: PlanStep, ctx: StepContext) => {
    const object = await find(releaseOf(step, spec));
    return object?.suspended === true && !suspendedByUs(ctx.outage(), fluxKey(releaseOf(step, spec)));
  };
  return {
    check: async (step, ctx) => {
      const ref = releaseOf(step, spec);
      const object = await find(ref);
      return object?.ready === true && !object.suspended && !suspendedByUs(ctx.outage(), fluxKey(ref));
    },
    apply: async (step, ctx) => {
      const ref = releaseOf(step, spec);
      const key = fluxKey(ref);
      const object = await find(ref);
      if (!object) throw new ReconcileHarborError(`${key} not found: check spec.harbor.namespace and helmRelease`);
      const dryRun = options.dryRun ?? false;
      if (suspendedByUs(ctx.outage(), key)) {
        await flux.setSuspended(ref, false, { dryRun });
        if (!dryRun) {
          await ctx.record((outage) => {
            outage.suspendedByHecate.helmReleases = outage.suspendedByHecate.helmReleases.filter((k) => k !== key);
          });
        }
        ctx.report(`${dryRun ? 'would resume' : 'resumed'} ${key}`);
      } else if (object.suspended) {
        ctx.report(`${key} was suspended before the outage, not by Hecate: left suspended and not waited for`);
        return;
      }
      await flux.requestReconcile(ref, ctx.clock.now(), { dryRun });
      ctx.report(`${dryRun ? 'would request' : 'requested'} a reconcile of ${key}`);
    },
    wait: async (step, ctx) => {
      if (options.dryRun || (await leftAlone(step, ctx))) return;
      const ref = releaseOf(step, spec);
      await waitUntil(
        ctx,
        async () => {
          const object = await find(ref);
          return { done: object?.ready === true, status: `${fluxKey(ref)} is ${object ? 'not Ready' : 'missing'}` };
        },
        options.intervalMs ?? 2_000,
      );
    },
  };
}
