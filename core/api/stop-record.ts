/**
 * A stop record: what the operator keeps (as a ConfigMap in its namespace) of an executing PowerEvent deleted
 * mid-run, so that the outage record it held (what the shutdown suspended, cordoned and powered off) outlives the
 * object. Written by adapters/kube/stop-records.ts, read back by adapters/kube/outage-source.ts and `hecate status`.
 */
import type { OutageRecord, Progress } from './progress.js';

/** The label that finds stop records: `kubectl get cm -l power.hecate.dev/record=stopped-powerevent`. */
export const STOP_RECORD_LABEL = 'power.hecate.dev/record';
export const STOP_RECORD_VALUE = 'stopped-powerevent';

export interface StopRecord {
  powerEvent: { namespace: string; name: string; uid: string };
  action: string;
  planName: string;
  /** The first step not started, its title, when and why the run stopped. */
  stopped: { beforeStep: string; title: string; at: string; reason: string };
  /** Steps finished before the stop, in plan order. */
  done: string[];
  outage?: OutageRecord;
  progress?: Progress;
}
