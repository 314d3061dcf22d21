/**
 * The chaos bed's operator, kept as a Deployment of replicas keeps it (./chaos.ts): a killed replica is replaced by a
 * new one with a new identity, one of them holds the Lease and acts, and every replica's log stays readable.
 */
import { CoordinationV1Api } from '@kubernetes/client-node';
import { NS, type OperatorBed } from './operator/index.js';
import type { OperatorProcess } from './operator/process.js';
import { eventually } from './simulators.js';

/**
 * The operator as a Deployment of `count` replicas keeps it: a replica that dies is replaced by a new one with a new
 * identity (a new pod). One of them holds the Lease and acts.
 */
export class OperatorReplicas {
  private started = 0;
  private readonly live: OperatorProcess[] = [];
  /** Every replica ever started, the killed ones too: their logs explain a cycle that differed. */
  private readonly all: OperatorProcess[] = [];

  constructor(
    private readonly bed: OperatorBed,
    private readonly count = 2,
  ) {}

  /** Starts replicas until `count` are alive. */
  topUp(): void {
    for (let i = this.live.length - 1; i >= 0; i--) if (this.live[i]?.hasExited()) this.live.splice(i, 1);
    while (this.live.length < this.count) {
      const op = this.bed.startOperator(`chaos-${++this.started}`);
      this.live.push(op);
      this.all.push(op);
    }
  }

  /** Every replica's log lines stamped from `sinceMs` on, as JSON lines tagged with the replica, in time order. */
  logsSince(sinceMs: number): string[] {
    return this.all
      .flatMap((op) =>
        op.logs
          .filter((l) => Date.parse(String(l.timestamp ?? '')) >= sinceMs)
          .map((l) => ({ replica: op.options.identity, ...l })),
      )
      .sort((a, b) => String(a.timestamp).localeCompare(String(b.timestamp)))
      .map((l) => JSON.stringify(l));
  }

  /** The replica holding the Lease, if one does. */
  async leader(): Promise<OperatorProcess | undefined> {
    const coordination = this.bed.e2e.plane.kubeConfig.makeApiClient(CoordinationV1Api);
    const lease = await coordination
      .readNamespacedLease({ name: 'hecate-operator', namespace: NS })
      .catch(() => undefined);
    const holder = lease?.spec?.holderIdentity;
    return this.live.find((op) => op.options.identity === holder && !op.hasExited());
  }

  /** Starts the replicas and waits until one leads. */
  async ready(timeoutMs = 60_000): Promise<void> {
    this.topUp();
    await eventually('an operator replica to lead', async () => (await this.leader()) !== undefined, { timeoutMs });
  }

  /** SIGKILLs the leader (none: the first live replica) and starts a replacement; the killed identity. */
  async killLeader(): Promise<string> {
    const victim = (await this.leader()) ?? this.live[0];
    await victim?.stop('SIGKILL');
    this.topUp();
    return victim?.options.identity ?? 'none';
  }

  tails(lines = 15): string {
    return this.live.map((op) => `${op.options.identity}:\n${op.tail(lines)}`).join('\n');
  }
}
