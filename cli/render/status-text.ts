/**
 * `hecate status` as text: one screen, 80 columns, each section one or two lines plus the details that need
 * attention. Unknowns are printed as unknowns ("not seen"), never as healthy.
 */
import type { StatusReport } from '../status/model.js';

const LABEL = 12;

/** Words joined with `sep`, wrapped at `width`, continuation lines indented by `indent`. */
export function wrap(words: readonly string[], width: number, indent: number, sep = ', '): string[] {
  const lines: string[] = [];
  let line = '';
  for (const [i, word] of words.entries()) {
    const piece = i < words.length - 1 ? `${word}${sep.trimEnd()}` : word;
    const candidate = line ? `${line} ${piece}` : piece;
    if (line && indent + candidate.length > width) {
      lines.push(line);
      line = piece;
    } else line = candidate;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : `${' '.repeat(indent)}${l}`));
}

function row(label: string, text: string): string {
  return `${label.padEnd(LABEL)}${text}`;
}

const mark = (ok: boolean | undefined) => (ok === undefined ? '?' : ok ? '✓' : '✗');
const yes = (ok: boolean | undefined, good: string, bad: string) => (ok === undefined ? 'unknown' : ok ? good : bad);

function healthLines(r: StatusReport): string[] {
  const text = { healthy: 'HEALTHY', degraded: 'DEGRADED', unreachable: 'UNREACHABLE' }[r.health];
  const count = r.problems.length > 0 ? ` (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'})` : '';
  return [row('Health:', `${text}${count}`)];
}

function clusterLines(r: StatusReport): string[] {
  const cp = r.controlPlane;
  if (cp.api === 'reachable') return [row('API:', `reachable${cp.server ? ` at ${cp.server}` : ''}`)];
  if (cp.api === 'unknown') return [row('API:', 'not consulted (--offline or no kubeconfig)')];
  return [row('API:', `UNREACHABLE${cp.server ? ` at ${cp.server}` : ''}: ${cp.message ?? 'no answer'}`)];
}

function nodeLines(r: StatusReport): string[] {
  const seen = r.nodes.filter((n) => n.seen);
  const ready = seen.filter((n) => n.ready).length;
  const cordoned = seen.filter((n) => n.cordoned).length;
  const head =
    r.controlPlane.api === 'reachable'
      ? `${ready}/${r.nodes.length} Ready, ${cordoned} cordoned`
      : `${r.nodes.length} in the plan; state not seen`;
  const lines = [row('Nodes:', head)];
  for (const n of r.nodes) {
    const state = n.seen ? (n.ready ? 'Ready' : 'NotReady') : r.controlPlane.api === 'reachable' ? 'absent' : '-';
    const notes = [
      ...(n.cordoned ? [`cordoned${n.cordonedBy ? ` by ${n.cordonedBy}` : ''}`] : []),
      ...(n.cordonedByHecate && !n.cordoned ? ['recorded cordoned'] : []),
      ...(n.poweredOffByHecate ? ['powered off by Hecate'] : []),
      ...(n.inPlan ? [] : ['not in the plan']),
    ];
    const role = (n.role ?? '-').padEnd(13);
    lines.push(
      `  ${n.name.padEnd(14)} ${role} ${(n.arch ?? '-').padEnd(6)} ${state.padEnd(8)} ${notes.join(', ')}`.trimEnd(),
    );
  }
  return lines;
}

function fluxLines(r: StatusReport, width: number): string[] {
  const f = r.flux;
  const src = `${f.source.kind} ${f.source.namespace}/${f.source.name}`;
  const at = f.source.revision ? ` at ${f.source.revision}` : '';
  const srcState =
    f.source.ready === undefined
      ? 'not seen'
      : f.source.ready
        ? `Ready${at}`
        : `NOT Ready${at}${f.source.message ? `: ${f.source.message}` : ''}`;
  const lines = [row('Flux:', `${src} ${srcState}`)];
  if (!f.seen) {
    if (f.recordedSuspendedByHecate.length > 0) {
      lines.push(row('', `${f.recordedSuspendedByHecate.length} recorded as suspended by Hecate`));
    }
    return lines;
  }
  const mine = f.suspended.filter((s) => s.byHecate).length;
  lines.push(
    row(
      '',
      `${f.objects ?? 0} objects, ${f.suspended.length} suspended (${mine} by Hecate), ${f.notReady.length} not Ready`,
    ),
  );
  const name = (ref: string) => ref.split('/').slice(-1)[0] ?? ref;
  const byHecate = f.suspended.filter((s) => s.byHecate).map((s) => name(s.ref));
  const others = f.suspended.filter((s) => !s.byHecate).map((s) => s.ref);
  if (byHecate.length > 0)
    lines.push(...wrap(byHecate, width, LABEL).map((l, i) => (i === 0 ? row('  Hecate:', l) : l)));
  if (others.length > 0) lines.push(...wrap(others, width, LABEL).map((l, i) => (i === 0 ? row('  others:', l) : l)));
  if (f.notReady.length > 0) {
    lines.push(...wrap(f.notReady, width, LABEL).map((l, i) => (i === 0 ? row('  not Ready:', l) : l)));
  }
  return lines;
}

function chainLines(r: StatusReport, width: number): string[] {
  if (r.controlPlane.api !== 'reachable')
    return [row('Chain:', `${r.chain.map((s) => s.name).join(' → ')} (not seen)`)];
  const words = r.chain.map((s) => `${s.name} ${mark(s.ready)}`);
  const lines = wrap(words, width, LABEL, '  ').map((l, i) => (i === 0 ? row('Chain:', l) : l));
  for (const stage of r.chain.filter((s) => s.ready !== true)) {
    for (const w of stage.waitFor.filter((w) => w.ready !== true)) lines.push(`  ${stage.name}: ${w.message}`);
  }
  return lines;
}

function harborLines(r: StatusReport): string[] {
  const h = r.harbor;
  if (!h) return [];
  if (!h.seen) return [row('Harbor:', `${h.namespace} on ${h.node}: not seen`)];
  const parts = [
    h.pods ? `${h.pods.ready}/${h.pods.total} pods ready` : 'pods unknown',
    h.images
      ? `${h.images.expected.length - h.images.missing.length}/${h.images.expected.length} images on the node`
      : 'images unknown',
    `HelmRelease ${yes(h.helmReleaseReady, 'Ready', 'NOT Ready')}`,
  ];
  const lines = [row('Harbor:', `${h.node}: ${parts.join(', ')}`)];
  for (const image of h.images?.missing ?? []) lines.push(`  missing: ${image}`);
  return lines;
}

function outageLines(r: StatusReport): string[] {
  const o = r.outage;
  const head = !o.present
    ? `no state file (${o.stateFile})`
    : o.inOutage
      ? `IN AN OUTAGE since ${o.record?.startedAt ?? '?'}${o.record?.reason ? ` (${o.record.reason})` : ''}`
      : 'no outage recorded';
  const lines = [row('Outage:', head)];
  if (o.present) lines.push(row('', `state file ${o.stateFile}`));
  const run = o.run;
  if (!run) return lines;
  const state = run.finished
    ? 'finished'
    : run.failed
      ? `FAILED at ${run.failed.id}`
      : run.running
        ? `running ${run.running.id}`
        : 'stopped';
  lines.push(row('Run:', `${run.mode}, ${state}${run.stage ? `, stage ${run.stage} (${run.condition ?? '-'})` : ''}`));
  lines.push(row('', `last step done: ${run.lastDone ? run.lastDone.id : 'none'}`));
  if (!run.finished) lines.push(row('', `next step: ${run.next ? `${run.next.id}: ${run.next.title}` : 'unknown'}`));
  if (run.failed?.message) lines.push(row('', `error: ${run.failed.message}`));
  return lines;
}

function powerEventLines(r: StatusReport): string[] {
  const p = r.powerEvent;
  if (!p.current) return [row('PowerEvent:', p.message ?? 'none')];
  const e = p.current;
  const ready = e.conditions.find((c) => c.type === 'Ready');
  return [
    row(
      'PowerEvent:',
      `${e.namespace}/${e.name} ${e.action}${e.execute ? ' --execute' : ' (dry-run)'}: ${e.phase ?? 'Pending'}${e.stage ? `, stage ${e.stage}` : ''}${e.active ? '' : ' (latest, not active)'}`,
    ),
    ...(ready ? [row('', `Ready=${ready.status} ${ready.reason}: ${ready.message}`)] : []),
  ];
}

/** Deleted PowerEvents that stopped mid-run: where, why, and whether startup would adopt their outage record. */
function stopRecordLines(r: StatusReport): string[] {
  return (r.powerEvent.stopRecords ?? []).map((s) =>
    row(
      'Stopped:',
      `${s.powerEvent ?? 'a PowerEvent'} (${s.action ?? 'unknown action'}, deleted) stopped before ${s.stoppedBeforeStep ?? 'an unrecorded step'} at ${s.stoppedAt ?? 'an unrecorded time'}: ${s.reason ?? 'no reason recorded'}; outage record ${s.outageOpen ? 'open (startup adopts it)' : 'closed'} in ConfigMap ${s.configMap}`,
    ),
  );
}

/** Breaks a line longer than `width` at spaces; continuation lines are indented under the value. */
export function fold(line: string, width: number): string[] {
  if (line.length <= width) return [line];
  const bullet = /^ *- /.exec(line)?.[0].length;
  const indent = bullet ?? LABEL;
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(' ', width);
    if (cut <= indent) break; // one long word (a URL, a path): leave it whole
    out.push(rest.slice(0, cut));
    rest = `${' '.repeat(indent)}${rest.slice(cut + 1)}`;
  }
  out.push(rest);
  return out;
}

/** The status as text, folded at `width` columns (a single long word is not cut). */
export function renderStatusText(r: StatusReport, width = 80): string {
  const lines = [
    row('Plan:', `${r.plan.name} (${r.plan.source})`),
    ...healthLines(r),
    ...clusterLines(r),
    ...nodeLines(r),
    ...fluxLines(r, width),
    ...chainLines(r, width),
    ...harborLines(r),
    row('UPS:', r.ups.summary),
    ...outageLines(r),
    ...powerEventLines(r),
    ...stopRecordLines(r),
    row(
      'Snapshot:',
      `${r.snapshot.path}${r.snapshot.present === false ? ' MISSING' : r.snapshot.revision ? ` at ${r.snapshot.revision}` : ''}`,
    ),
  ];
  for (const what of r.unseen) lines.push(row('Not seen:', what));
  if (r.problems.length > 0) {
    lines.push('Problems:');
    for (const p of r.problems) lines.push(`  - ${p}`);
  }
  return `${lines.flatMap((l) => fold(l, width)).join('\n')}\n`;
}
