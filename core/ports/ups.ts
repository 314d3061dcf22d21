/** The UPS: what a source read, and the port that reads it. The gate (core/gates/ups.ts) judges the reading. */

/**
 * Why a reading has no trustworthy data. `unreachable`: no answer (refused, reset, timed out); `stale`: upsd says the
 * driver's data is stale or missing (DATA-STALE, DRIVER-NOT-CONNECTED, status WAIT) or the reading is too old;
 * `protocol`: a reply that is not NUT; `refused`: upsd refused the request (wrong credentials, unknown UPS), a
 * configuration error.
 */
export type UpsFault = 'unreachable' | 'stale' | 'protocol' | 'refused';

export interface UpsReading {
  /** Where it came from: `ups@host:port`, `command`, `static`. */
  source: string;
  /** `battery.charge`, percent. */
  charge?: number;
  /** `battery.runtime`, seconds. */
  runtimeSeconds?: number;
  /** `ups.status` tokens, upper case (`OB`, `LB`...); empty when the source cannot tell (a command source). */
  status: readonly string[];
  /** Set when the reading holds no trustworthy data; the message never contains a credential. */
  error?: { fault: UpsFault; message: string };
  readAt: Date;
}

/**
 * Reads the UPS (NUT, a command, a static value).
 * `read` does not reject for what it observes: an unreachable upsd, stale data, a hostile reply or refused
 * credentials come back as a reading with `error` set, within the adapter's own timeout. It rejects only when
 * `signal` aborts.
 */
export interface UpsPort {
  read(signal?: AbortSignal): Promise<UpsReading>;
}
