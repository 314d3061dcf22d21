/** Progress of a bundle stream for people: bytes sent, throughput, time left. Pure. */

const MB = 1_000_000;
const MiB = 1024 * 1024;

export interface TransferSample {
  sent: number;
  /** Bytes of the whole bundle; unknown when 0 or undefined. */
  total?: number;
  elapsedMs: number;
}

function seconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const r = Math.ceil(s);
  return r >= 60 ? `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s` : `${r}s`;
}

/** Throughput in MB/s (10^6 bytes), 0 before any time passed. */
export function throughput(sample: TransferSample): number {
  return sample.elapsedMs > 0 ? sample.sent / MB / (sample.elapsedMs / 1000) : 0;
}

/** `sent 120.0 of 512.0 MiB (23%), 85.3 MB/s, about 5s left`. */
export function formatTransfer(sample: TransferSample): string {
  const rate = throughput(sample);
  const sent = `${(sample.sent / MiB).toFixed(1)}`;
  if (!sample.total) return `sent ${sent} MiB, ${rate.toFixed(1)} MB/s`;
  const pct = Math.floor((100 * sample.sent) / sample.total);
  const left = rate > 0 ? seconds((sample.total - sample.sent) / MB / rate) : '?';
  return `sent ${sent} of ${(sample.total / MiB).toFixed(1)} MiB (${pct}%), ${rate.toFixed(1)} MB/s, about ${left} left`;
}

/**
 * Decides when to report: at most every `intervalMs`, and always at the end. Returns the line to report or
 * undefined. Keeps its own state; one per transfer.
 */
export function transferReporter(intervalMs: number) {
  let last = Number.NEGATIVE_INFINITY;
  return (sample: TransferSample): string | undefined => {
    const done = sample.total !== undefined && sample.total > 0 && sample.sent >= sample.total;
    if (!done && sample.elapsedMs - last < intervalMs) return undefined;
    last = sample.elapsedMs;
    return formatTransfer(sample);
  };
}
