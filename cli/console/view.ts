/**
 * The console's status panel: the status model in at most {@link PANEL_ROWS} lines of `width` columns, so that an
 * 80×24 terminal keeps room for the log pane. Pure; the full view is `hecate status`.
 */
import type { StatusReport } from '../status/model.js';

export const PANEL_ROWS = 9;

const mark = (ok: boolean | undefined) => (ok === undefined ? '?' : ok ? '✓' : '✗');

/** Cuts a line to `width` columns, marking the cut. */
export function clip(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

function nodesLine(r: StatusReport): string {
  if (r.controlPlane.api !== 'reachable') {
    const off = r.nodes.filter((n) => n.poweredOffByHecate).length;
    return `Nodes  ${r.nodes.length} in the plan, not seen${off > 0 ? `; ${off} powered off by Hecate` : ''}`;
  }
  const ready = r.nodes.filter((n) => n.ready).length;
  const cordoned = r.nodes.filter((n) => n.cordoned).map((n) => `${n.name}${n.cordonedBy ? `(${n.cordonedBy})` : ''}`);
  const down = r.nodes.filter((n) => n.seen && !n.ready).map((n) => n.name);
  return `Nodes  ${ready}/${r.nodes.length} Ready${down.length ? `; NotReady ${down.join(' ')}` : ''}${
    cordoned.length ? `; cordoned ${cordoned.join(' ')}` : ''
  }`;
}

function fluxLine(r: StatusReport): string {
  const f = r.flux;
  const src = f.source.ready === undefined ? 'not seen' : f.source.ready ? 'Ready' : 'NOT Ready';
  const rev = f.source.revision ? ` ${f.source.revision.replace(/@sha1:([0-9a-f]{7})[0-9a-f]*/, '@$1')}` : '';
  if (!f.seen) return `Flux   source ${src}; ${f.recordedSuspendedByHecate.length} recorded suspended by Hecate`;
  const mine = f.suspended.filter((s) => s.byHecate).length;
  return `Flux   source ${src}${rev}; ${f.objects ?? 0} objects, ${f.suspended.length} suspended (${mine} by Hecate), ${f.notReady.length} not Ready`;
}

function chainLine(r: StatusReport): string {
  if (r.controlPlane.api !== 'reachable') return `Chain  ${r.chain.map((s) => s.name).join(' ')} (not seen)`;
  return `Chain  ${r.chain.map((s) => `${s.name}${mark(s.ready)}`).join(' ')}`;
}

function harborLine(r: StatusReport): string {
  const h = r.harbor;
  if (!h) return 'Harbor not in the plan';
  if (!h.seen) return `Harbor ${h.node}: not seen`;
  const images = h.images ? `${h.images.expected.length - h.images.missing.length}/${h.images.expected.length}` : '?';
  return `Harbor ${h.node}: pods ${h.pods?.ready ?? '?'}/${h.pods?.total ?? '?'} ready, images ${images} on the node, HelmRelease ${mark(h.helmReleaseReady)}`;
}

function upsLine(r: StatusReport): string {
  const u = r.ups;
  if (!u.reading) return `UPS    ${u.summary}`;
  const reading = u.reading.error
    ? `${u.reading.error.fault}: ${u.reading.error.message}`
    : `${u.reading.charge ?? '?'}% ${u.reading.status.join(' ')}${u.reading.runtimeSeconds !== undefined ? ` ${u.reading.runtimeSeconds}s` : ''}`;
  const verdict = u.verdict?.startupAllowed
    ? 'startup allowed'
    : `startup BLOCKED (${u.verdict?.reasons.map((x) => x.code).join(', ')})`;
  return `UPS    ${reading}, ${u.ageSeconds ?? '?'}s old; ${verdict}`;
}

function outageLine(r: StatusReport): string {
  const o = r.outage;
  const head = !o.present ? 'no state file' : o.inOutage ? 'IN AN OUTAGE' : 'no outage';
  const run = o.run;
  if (!run) return `Outage ${head}`;
  const state = run.finished
    ? 'finished'
    : run.failed
      ? `FAILED at ${run.failed.id}`
      : `last done ${run.lastDone?.id ?? 'none'}, next ${run.next?.id ?? '?'}`;
  return `Outage ${head}; ${run.mode} ${state}`;
}

function eventLine(r: StatusReport): string {
  const e = r.powerEvent.current;
  if (!e) return `Event  ${r.powerEvent.message ?? 'none'}`;
  return `Event  ${e.namespace}/${e.name} ${e.action}${e.execute ? '' : ' (dry-run)'} ${e.phase ?? 'Pending'}${e.stage ? ` at ${e.stage}` : ''}${e.active ? '' : ' (latest)'}`;
}

/** The panel: a header with the health, then one line per part of the cluster. */
export function statusPanel(r: StatusReport | undefined, width: number, clock: string): string[] {
  if (!r) return [clip(`Hecate console · reading the status… ${clock}`, width)];
  const health = { healthy: 'HEALTHY', degraded: 'DEGRADED', unreachable: 'UNREACHABLE' }[r.health];
  const api =
    r.controlPlane.api === 'reachable'
      ? 'API reachable'
      : r.controlPlane.api === 'unknown'
        ? 'API not consulted'
        : 'API UNREACHABLE';
  const title = `Hecate · ${r.plan.name} · ${health} · ${api}`;
  const header = `${title}${' '.repeat(Math.max(1, width - title.length - clock.length))}${clock}`;
  return [header, nodesLine(r), fluxLine(r), chainLine(r), harborLine(r), upsLine(r), outageLine(r), eventLine(r)].map(
    (line) => clip(line, width),
  );
}

export const KEYS_HELP = '[p]repare [s]hutdown [h]arbor-seed start[u]p  ↑↓ PgUp PgDn scroll  [q]uit';
