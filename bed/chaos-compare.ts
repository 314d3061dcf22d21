/**
 * What a chaos cycle left behind and what it sent, and how both compare with its door's reference cycle: the end state
 * (nodes, Flux, the chain, the state file, the PowerEvents) and the destructive requests (from the audit log, and
 * the power-off helper pods, whose names the audit log cannot tell apart by node). Used by ./chaos.ts.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { PowerPlanSpec } from '../core/api/index.js';
import { HECATE_USER, isRunLease, suspendedFlux, waitForReady } from './e2e.js';
import { type AuditEvent, MUTATING_VERBS } from './index.js';
import { type OperatorBed, SA_USER } from './operator/index.js';

export type ChaosMode = 'shutdown' | 'startup';

/** What a cycle leaves behind, in terms an operator checks after an outage. */
export interface EndState {
  /** Per node: cordoned, and powered on (the kubelet stand-in's power switch). */
  nodes: Record<string, { cordoned: boolean; on: boolean }>;
  /** Flux objects suspended (those suspended before Hecate ran must stay so). */
  suspended: string[];
  /** Per waited-for chain object: Ready. */
  chain: Record<string, boolean>;
  /** The state file: the outage closed, the last run finished, no step left running or failed. */
  outageOpen: boolean;
  runFinished: boolean;
  unsettled: string[];
  /** The cycle's PowerEvents by role (`shutdown`, `startup`): phase, and steps left running or failed. */
  events: Record<string, { phase: string; unsettled: string[] }>;
}

/** One line per difference, `what: reference → actual`; empty when the end states match. */
export function diffEndStates(reference: EndState, actual: EndState): string[] {
  const out: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  for (const node of new Set([...Object.keys(reference.nodes), ...Object.keys(actual.nodes)])) {
    const [r, a] = [reference.nodes[node], actual.nodes[node]];
    if (!same(r, a)) out.push(`node ${node}: ${JSON.stringify(r)} → ${JSON.stringify(a)}`);
  }
  if (!same(reference.suspended, actual.suspended)) {
    out.push(`suspended Flux objects: [${reference.suspended.join(', ')}] → [${actual.suspended.join(', ')}]`);
  }
  for (const key of new Set([...Object.keys(reference.chain), ...Object.keys(actual.chain)])) {
    if (reference.chain[key] !== actual.chain[key]) {
      out.push(`chain ${key} Ready: ${reference.chain[key]} → ${actual.chain[key]}`);
    }
  }
  if (reference.outageOpen !== actual.outageOpen)
    out.push(`outage open: ${reference.outageOpen} → ${actual.outageOpen}`);
  if (reference.runFinished !== actual.runFinished) {
    out.push(`last run finished: ${reference.runFinished} → ${actual.runFinished}`);
  }
  if (!same(reference.unsettled, actual.unsettled)) {
    out.push(`steps left running or failed: [${reference.unsettled.join(', ')}] → [${actual.unsettled.join(', ')}]`);
  }
  for (const role of new Set([...Object.keys(reference.events), ...Object.keys(actual.events)])) {
    const [r, a] = [reference.events[role], actual.events[role]];
    if (!same(r, a)) out.push(`${role} PowerEvent: ${JSON.stringify(r)} → ${JSON.stringify(a)}`);
  }
  return out;
}

/** How many times each destructive request went out in a cycle, by `what target` (e.g. `power-off titan-04`). */
export type Sends = Record<string, number>;

/**
 * Requests a rerun may send again after a kill between sending them and recording them, and why that is harmless.
 * Everything else must go out no more often than in the uninterrupted run.
 */
export const IDEMPOTENT_RESENDS: readonly { prefix: string; why: string }[] = [
  {
    prefix: 'apply-chain ',
    why: 'a server-side apply of the same object by the same field manager: sent again, it changes nothing (core/steps/chain.ts re-applies a stage recorded running)',
  },
  {
    prefix: 'resume ',
    why: 'spec.suspend=false on an object that is already resumed is a no-op; the record of it is written after the patch',
  },
];

/**
 * The sends of `actual` that differ from the reference's counts, other than the idempotent resends; empty when none.
 * More is a destructive request sent twice; fewer is one a resumed run never sent (a node left for the power cut to
 * take down uncleanly, a Flux object never resumed).
 */
export function diffSends(reference: Sends, actual: Sends): string[] {
  const keys = [...new Set([...Object.keys(reference), ...Object.keys(actual)])];
  return keys
    .filter((key) => (actual[key] ?? 0) !== (reference[key] ?? 0))
    .filter(
      (key) => (actual[key] ?? 0) < (reference[key] ?? 0) || !IDEMPOTENT_RESENDS.some((r) => key.startsWith(r.prefix)),
    )
    .map((key) => `${key}: sent ${actual[key] ?? 0}×, ${reference[key] ?? 0}× without a kill`);
}

/** Hecate's two users: the CLI's and the operator's ServiceAccount. */
export const HECATE_USERS: readonly string[] = [HECATE_USER, SA_USER];

/** The destructive sends of one cycle: Hecate's mutations in each mode's window, and the power-off helpers. */
export function sendsOf(
  events: readonly AuditEvent[],
  windows: Record<ChaosMode, { from: number; to: number }>,
  powerOffHelpers: ReadonlyMap<string, ReadonlySet<string>>,
): Sends {
  const sends: Sends = {};
  const count = (key: string) => {
    sends[key] = (sends[key] ?? 0) + 1;
  };
  const seen = new Set<string>();
  for (const e of events) {
    if (!HECATE_USERS.includes(e.user) || e.stage !== 'ResponseComplete' || e.dryRun || isRunLease(e)) continue;
    if (!(MUTATING_VERBS as readonly string[]).includes(e.verb) || seen.has(e.auditID)) continue;
    seen.add(e.auditID);
    const at = Date.parse(e.timestamp);
    const mode = (['shutdown', 'startup'] as const).find((m) => at >= windows[m].from && at <= windows[m].to);
    const ref = e.objectRef ?? {};
    const target = `${ref.namespace ? `${ref.namespace}/` : ''}${ref.name ?? ''}`;
    const flux = ref.resource === 'kustomizations' || ref.resource === 'helmreleases';
    if (mode === 'shutdown' && flux && e.verb === 'patch') count(`suspend ${ref.resource}/${target}`);
    else if (mode === 'shutdown' && ref.resource === 'nodes' && e.verb === 'patch') count(`cordon ${target}`);
    // NOTE: the chain applies no Flux object in Atlas; a patch of one during startup resumes it (or asks a reconcile)
    else if (mode === 'startup' && flux && e.verb === 'patch') count(`resume ${ref.resource}/${target}`);
    else if (mode === 'startup' && ref.resource === 'nodes' && e.verb === 'patch') count(`uncordon ${target}`);
    else if (mode === 'startup' && e.verb === 'patch' && /fieldManager=hecate(&|$)/.test(e.requestURI)) {
      count(`apply-chain ${ref.resource}/${target}`);
    }
  }
  for (const [node, pods] of powerOffHelpers) sends[`power-off ${node}`] = pods.size;
  return sends;
}

/**
 * Watches the power-off helper pods created from now on (their names are generated, so the audit log cannot tell
 * them apart by node). NOTE: a helper stays on its powered-off node after a cycle: older ones are not counted.
 */
export function watchPowerOffHelpers(kc: KubeConfig): { helpers: Map<string, Set<string>>; stop(): void } {
  const core = kc.makeApiClient(CoreV1Api);
  const helpers = new Map<string, Set<string>>();
  const since = Math.floor(Date.now() / 1000) * 1000; // creationTimestamp has whole seconds
  const timer = setInterval(() => {
    core
      .listNamespacedPod({ namespace: 'hecate-system', labelSelector: 'hecate.dev/helper=power-off' })
      .then((list) => {
        for (const pod of list.items) {
          if ((pod.metadata?.creationTimestamp?.getTime() ?? 0) < since) continue;
          const node = pod.metadata?.labels?.['hecate.dev/node'] ?? '?';
          const seen = helpers.get(node) ?? new Set<string>();
          seen.add(pod.metadata?.name ?? '');
          helpers.set(node, seen);
        }
      })
      .catch(() => {});
  }, 100);
  return { helpers, stop: () => clearInterval(timer) };
}

/** The end state of the bed, the state file and the cycle's PowerEvents (by role) now. */
export async function endState(
  bed: OperatorBed,
  spec: PowerPlanSpec,
  events: Record<string, string>,
): Promise<EndState> {
  const { e2e } = bed;
  const core = e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
  const nodes = Object.fromEntries(
    (await core.listNode()).items.map((n) => {
      const name = n.metadata?.name ?? '';
      return [name, { cordoned: n.spec?.unschedulable === true, on: e2e.sims.kubelet.isOn(name) }];
    }),
  );
  const chain: Record<string, boolean> = {};
  for (const w of spec.bootstrapChain.flatMap((s) => s.waitFor)) {
    chain[`${w.kind}/${w.namespace ?? ''}/${w.name}`] = await waitForReady(e2e.plane.kubeConfig, w).catch(() => false);
  }
  const state = await e2e.state();
  return {
    nodes,
    suspended: await suspendedFlux(e2e.plane),
    chain,
    outageOpen: state?.outage.inOutage ?? false,
    runFinished: state?.progress?.finishedAt !== undefined,
    unsettled: (state?.progress?.steps ?? [])
      .filter((s) => s.state === 'running' || s.state === 'failed')
      .map((s) => `${s.id}:${s.state}`),
    events: Object.fromEntries(
      await Promise.all(
        Object.entries(events).map(async ([role, name]) => {
          const event = await bed.getEvent(name);
          const steps = event.status?.progress?.steps ?? [];
          // the operator's last status (operator/reconcile/last-status.ts) is Succeeded with the power-offs it
          // announces recorded running: it writes nothing after them; a new leader confirms them done
          const announced = (s: { id: string; state: string }) =>
            event.status?.phase === 'Succeeded' && s.state === 'running' && s.id.startsWith('power-off/');
          const unsettled = steps.filter((s) => (s.state === 'running' && !announced(s)) || s.state === 'failed');
          return [role, { phase: event.status?.phase ?? '', unsettled: unsettled.map((s) => `${s.id}:${s.state}`) }];
        }),
      ),
    ),
  };
}
