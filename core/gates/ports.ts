import type { UpsReading } from './ups.js';

/**
 * Reads the UPS (NUT, a command, a static value). NOTE: to be moved into core/ports.ts.
 * `read` does not reject for what it observes: an unreachable upsd, stale data, a hostile reply or refused
 * credentials come back as a reading with `error` set, within the adapter's own timeout. It rejects only when
 * `signal` aborts.
 */
export interface UpsPort {
  read(signal?: AbortSignal): Promise<UpsReading>;
}
