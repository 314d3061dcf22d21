import { describe, expect, it } from 'vitest';
import { outageRecord, type PlanMode, progress } from '../../../core/api/index.js';
import { compilePlan } from '../../../core/plan/index.js';
import type { MutationOptions, NodeAddress, NodePort, NodeView, PowerControlPort } from '../../../core/ports/index.js';
import { runPlan } from '../../../core/run/runner.js';
import { powerOffNode } from '../../../core/steps/power.js';
import { atlasInput } from '../../helpers/atlas.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';

/**
 * Nodes as the API shows them: a powered-off node stays Ready for `lag` reads (the node-lifecycle controller's grace
 * period), then reads NotReady. `apiDown` makes every read fail (the last control-plane node took the API along).
 */
class FakeCluster implements NodePort, PowerControlPort {
  readonly sent: {
    node: string;
    at: number;
    recorded: boolean;
    dryRun: boolean;
    bootId?: string | undefined;
    recordedBoot?: string | undefined;
  }[] = [];
  readonly reads: string[] = [];
  /** `read <node>` and `send <node>` in order. */
  readonly log: string[] = [];
  private readonly off = new Map<string, number>();
  /** The Ready condition's last change per node, as the node-lifecycle controller stamps it. */
  private readonly transitions = new Map<string, { ready: boolean; at: string }>();
  /** Nodes up but read NotReady for this many more reads (the node-lifecycle controller after an API outage). */
  private readonly blinking = new Map<string, number>();
  private readonly boots = new Map<string, number>();
  apiDown = false;
  /** The API server restarting: this many more reads fail. */
  apiDownReads = 0;
  failSend?: (node: string) => Error | undefined;

  constructor(
    readonly names: string[],
    private readonly clock: FakeClock,
    private readonly store: MemoryStore,
    private readonly lag = 2,
  ) {}

  async list(): Promise<NodeView[]> {
    return Promise.all(this.names.map(async (n) => (await this.get(n)) as NodeView));
  }
  async get(name: string): Promise<NodeView | undefined> {
    if (this.apiDown) throw new Error('connect ECONNREFUSED');
    if (this.apiDownReads > 0) {
      this.apiDownReads--;
      throw new Error('connect ECONNREFUSED');
    }
    this.reads.push(name);
    this.log.push(`read ${name}`);
    const left = this.off.get(name);
    if (left !== undefined && left > 0) this.off.set(name, left - 1);
    const bootId = `boot-${name}-${this.boots.get(name) ?? 0}`;
    const blink = this.blinking.get(name) ?? 0;
    if (blink > 0) this.blinking.set(name, blink - 1);
    const ready = (left === undefined || left > 0) && blink === 0;
    const last = this.transitions.get(name);
    if (!last || last.ready !== ready) this.transitions.set(name, { ready, at: this.clock.now().toISOString() });
    const downSince = ready ? {} : { downSince: this.transitions.get(name)?.at ?? '' };
    return { name, ready, unschedulable: false, bootId, ...downSince };
  }
  /** The node is up, but reads NotReady for the next `reads` reads; a helper pod cannot start there meanwhile. */
  blink(name: string, reads: number): void {
    this.blinking.set(name, reads);
  }
  isBlinking(name: string): boolean {
    return (this.blinking.get(name) ?? 0) > 0;
  }
  /** The node went down and came back: Ready again, with a new boot ID. */
  bootAgain(name: string): void {
    this.off.delete(name);
    this.boots.set(name, (this.boots.get(name) ?? 0) + 1);
  }
  async cordon(): Promise<void> {}
  async uncordon(): Promise<void> {}
  /** A person (method none) or the host itself turns the node off. */
  turnOff(name: string): void {
    if (!this.off.has(name)) this.off.set(name, this.lag);
  }

  async powerOff(node: NodeAddress, _command: readonly string[], options: MutationOptions = {}): Promise<void> {
    const error = this.failSend?.(node.name);
    if (error) throw error;
    const outage = (await this.store.load())?.outage;
    const recorded = outage?.poweredOff.includes(node.name) ?? false;
    this.log.push(`send ${node.name}`);
    this.sent.push({
      node: node.name,
      at: this.clock.now().getTime(),
      recorded,
      dryRun: options.dryRun ?? false,
      bootId: node.bootId,
      recordedBoot: outage?.poweredOffBoots?.[node.name],
    });
    if (!options.dryRun) this.turnOff(node.name);
  }
  async ensureImage() {
    return { present: true };
  }
}

const ORDER = ['titan-04', 'titan-05', 'titan-06', 'titan-07', 'titan-03', 'titan-02', 'titan-01'];

function setup(method: 'ssh' | 'helper-pod' | 'none' = 'ssh', store = new MemoryStore()) {
  const input = atlasInput();
  input.spec.powerOff.method = method;
  const clock = new FakeClock();
  const cluster = new FakeCluster(ORDER, clock, store);
  return { input, clock, cluster, store };
}

async function run(
  env: ReturnType<typeof setup>,
  options: { mode?: PlanMode; dryRun?: boolean; onReport?: (m: string) => void } = {},
) {
  const mode = options.mode ?? 'shutdown';
  const plan = compilePlan(mode, env.input);
  const steps = plan.steps.filter((s) => s.kind === 'power-off-node');
  return runPlan({
    plan: { ...plan, steps },
    action: 'shutdown',
    executors: {
      'power-off-node': powerOffNode(env.cluster, env.cluster, env.input.spec, {
        dryRun: options.dryRun ?? false,
        intervalMs: 1_000,
      }),
    },
    store: env.store,
    clock: env.clock,
    logger: silentLogger,
    onEvent: (e) => (e.type === 'report' ? options.onReport?.(e.message) : undefined),
  });
}

/** The most nodes sent and not yet read down at once: a node reads down on the third read after its send (lag 2). */
function maxInFlight(log: readonly string[]): number {
  const reads = new Map<string, number>();
  let most = 0;
  for (const entry of log) {
    const [what, node = ''] = entry.split(' ');
    if (what === 'send') reads.set(node, 0);
    else if (reads.has(node)) {
      const n = (reads.get(node) ?? 0) + 1;
      if (n === 3) reads.delete(node);
      else reads.set(node, n);
    }
    most = Math.max(most, reads.size);
  }
  return most;
}

function readsAfterSend(cluster: FakeCluster, name: string): number {
  return cluster.log.slice(cluster.log.indexOf(`send ${name}`)).filter((e) => e === `read ${name}`).length;
}

/** Fails the save that follows the n-th save, like a SIGKILL between two writes of the state file. */
class CrashingStore extends MemoryStore {
  crashAfter = Number.POSITIVE_INFINITY;
  override async save(state: Parameters<MemoryStore['save']>[0]): Promise<void> {
    if (this.history.length >= this.crashAfter) throw new Error('killed');
    return super.save(state);
  }
}

describe('powerOffNode', () => {
  it('given a shutdown, when every node is powered off, then each is recorded before the request is sent, workers first', async () => {
    const env = setup();
    await run(env);
    expect(env.cluster.sent.map((s) => s.node)).toEqual(ORDER);
    expect(env.cluster.sent.every((s) => s.recorded)).toBe(true);
    expect(env.store.latest?.outage.poweredOff).toEqual(ORDER);
  });

  it('given the node-lifecycle grace period, then each node but the last is waited until NotReady; the last is not read after its request', async () => {
    const env = setup();
    const reports: string[] = [];
    await run(env, { onReport: (m) => reports.push(m) });
    // One read before sending, then reads until NotReady (the lag is 2 reads).
    for (const name of ORDER.slice(0, -1)) expect(readsAfterSend(env.cluster, name)).toBe(3);
    expect(readsAfterSend(env.cluster, 'titan-01')).toBe(0);
    expect(reports).toContain('not waiting for titan-01: last node, the API goes with it');
  });

  it('given delayBetweenNodes 5s, then the workers go together without a pause, the control-plane nodes at least 5 s apart after them', async () => {
    const env = setup();
    const started = env.clock.now().getTime();
    await run(env);
    const at = new Map(env.cluster.sent.map((s) => [s.node, s.at]));
    const workers = ORDER.slice(0, 4);
    for (const worker of workers) expect(at.get(worker) ?? 0).toBeLessThan(started + 5_000);
    expect(maxInFlight(env.cluster.log)).toBe(4);
    const controlPlane = ORDER.slice(4).map((n) => at.get(n) ?? 0);
    expect(controlPlane[0]).toBeGreaterThan(Math.max(...workers.map((w) => at.get(w) ?? 0)));
    for (let i = 1; i < controlPlane.length; i++) {
      expect((controlPlane[i] ?? 0) - (controlPlane[i - 1] ?? 0)).toBeGreaterThanOrEqual(5_000);
    }
  });

  it('given powerOff.parallelism 2, then at most two workers are in flight at once', async () => {
    const env = setup();
    env.input.spec.powerOff.parallelism = 2;
    await run(env);
    expect(
      env.cluster.sent
        .slice(0, 4)
        .map((s) => s.node)
        .sort(),
    ).toEqual(ORDER.slice(0, 4));
    expect(maxInFlight(env.cluster.log)).toBe(2);
  });

  it('given a crash just after titan-06 was delivered, when rerun, then no power-off is sent twice', async () => {
    const store = new CrashingStore();
    const env = setup('ssh', store);
    // Crash on the first save after titan-06 was sent (when its step would be marked done).
    env.cluster.failSend = (node) => {
      if (node === 'titan-06') store.crashAfter = store.history.length;
      return undefined;
    };
    await expect(run(env)).rejects.toThrow(/killed/); // (every worker in flight fails its next save)
    store.crashAfter = Number.POSITIVE_INFINITY;
    env.cluster.failSend = undefined;
    await run(env);
    const sent = env.cluster.sent.map((s) => s.node);
    expect(sent).toEqual(ORDER);
    expect(store.latest?.outage.poweredOff).toEqual(ORDER);
  });

  it('given a crash between the record and the request, when rerun, then the request is sent (once) and the record not duplicated', async () => {
    // Crash right after the save that records titan-04, before its request goes out.
    const store2 = new CrashingStore();
    const env2 = setup('ssh', store2);
    let crashed = false;
    const save = store2.save.bind(store2);
    store2.save = async (state) => {
      await save(state);
      if (!crashed && state.outage.poweredOff.includes('titan-04')) {
        crashed = true;
        throw new Error('killed');
      }
    };
    await expect(run(env2)).rejects.toThrow(/killed/);
    const before = env2.cluster.sent.map((s) => s.node);
    expect(before).not.toContain('titan-04');
    expect(before.filter((n) => !ORDER.slice(0, 4).includes(n))).toEqual([]); // the control plane waits for all
    await run(env2);
    const sent = env2.cluster.sent.map((s) => s.node);
    expect([...sent].sort()).toEqual([...ORDER].sort()); // each once
    expect(sent.slice(-3)).toEqual(ORDER.slice(-3));
    expect([...(store2.latest?.outage.poweredOff ?? [])].sort()).toEqual([...ORDER].sort());
  });

  it('given a node recorded and still Ready whose host is going down, then the request is not repeated: the executor waits for NotReady', async () => {
    const env = setup();
    await env.store.save({ outage: outageRecord.parse({ poweredOff: ['titan-04'] }) });
    env.cluster.turnOff('titan-04'); // delivered earlier: the host is going down, the API still says Ready
    env.cluster.failSend = (node) => (node === 'titan-04' ? new Error('ssh: connect: Connection refused') : undefined);
    const reports: string[] = [];
    await run(env, { onReport: (m) => reports.push(m) });
    expect(env.cluster.sent.map((s) => s.node)).toEqual(ORDER.slice(1));
    expect(reports).toContain('titan-04 went down: the earlier request was delivered, not sending it again');
    expect(env.store.latest?.outage.poweredOff).toEqual(ORDER);
  });

  it('given a delivery that failed after the node went down and booted again, then sending again (the operator does) sends nothing: the new boot ID says it was delivered', async () => {
    const env = setup();
    env.cluster.failSend = (node) => {
      if (node !== 'titan-04' || env.cluster.log.includes('booted titan-04')) return undefined;
      env.cluster.log.push('booted titan-04');
      env.cluster.bootAgain('titan-04'); // the helper powered the host off, and it is back before the helper's report
      return new Error('helper pod exited 255');
    };
    const reports: string[] = [];
    const executor = powerOffNode(env.cluster, env.cluster, env.input.spec, { intervalMs: 1_000 });
    const plan = compilePlan('shutdown', env.input);
    const steps = plan.steps.filter(
      (s) => s.kind === 'power-off-node' && (s.params.node ?? s.targets[0]) === 'titan-04',
    );
    await runPlan({
      plan: { ...plan, steps },
      action: 'shutdown',
      executors: {
        'power-off-node': {
          ...executor,
          // the operator's redelivery after its last status: a failed delivery is sent again
          apply: async (s, ctx) => executor.apply(s, ctx).catch(() => executor.apply(s, ctx)),
        },
      },
      store: env.store,
      clock: env.clock,
      logger: silentLogger,
      onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
    });
    expect(env.cluster.sent.map((s) => s.node)).toEqual([]);
    expect(reports).toContain('titan-04 went down: the earlier request was delivered, not sending it again');
    expect(env.store.latest?.outage.poweredOff).toEqual(['titan-04']);
  });

  it('given a shutdown, then each request carries the boot it is meant for, recorded with the node before the request', async () => {
    const env = setup();
    await run(env);
    expect(env.cluster.sent.map((s) => [s.node, s.bootId, s.recordedBoot])).toEqual(
      ORDER.map((n) => [n, `boot-${n}-0`, `boot-${n}-0`]),
    );
    expect(env.store.latest?.outage.poweredOffBoots).toEqual(Object.fromEntries(ORDER.map((n) => [n, `boot-${n}-0`])));
  });

  it('given a crashed run whose record holds the boot titan-04 was sent on, when rerun after titan-04 went down and came back, then it is not sent again', async () => {
    const env = setup();
    const recorded = { poweredOff: ['titan-04'], poweredOffBoots: { 'titan-04': 'boot-titan-04-0' } };
    const at = env.clock.now().toISOString();
    const cut = { id: 'power-off/titan-04', state: 'running', startedAt: at }; // killed after the record
    const run0 = {
      action: 'shutdown',
      mode: 'shutdown',
      planName: 'atlas',
      startedAt: at,
      updatedAt: at,
      steps: [cut],
    };
    await env.store.save({ outage: outageRecord.parse(recorded), progress: progress.parse(run0) });
    env.cluster.bootAgain('titan-04'); // the request was delivered; the power came back before the rerun
    const reports: string[] = [];
    await run(env, { onReport: (m) => reports.push(m) });
    expect(env.cluster.sent.map((s) => s.node)).toEqual(ORDER.slice(1));
    expect(reports.filter((m) => m.includes('titan-04'))).toEqual([]); // found done: nothing waited for, nothing sent
    expect(env.store.latest?.outage.poweredOffBoots?.['titan-04']).toBe('boot-titan-04-0');
  });

  it('given a finished shutdown whose nodes came back, when a new run (the emergency shutdown during the startup) runs on the open record, then every node is sent the request again, for its new boot', async () => {
    const env = setup();
    await run(env);
    for (const node of ORDER) env.cluster.bootAgain(node); // the power came back; the startup is under way
    const before = env.cluster.sent.length;
    await run(env, { mode: 'emergency-shutdown' });
    const again = env.cluster.sent.slice(before);
    expect(again.map((s) => s.node).sort()).toEqual([...ORDER].sort());
    expect(again.every((s) => s.bootId === `boot-${s.node}-1` && s.recordedBoot === s.bootId)).toBe(true);
  });

  it('given a node already down before its first request, then a failed send is reported and the shutdown goes on', async () => {
    const env = setup();
    env.cluster.turnOff('titan-05');
    env.cluster.failSend = (node) => (node === 'titan-05' ? new Error('titan-05 is not Ready') : undefined);
    const reports: string[] = [];
    // titan-05 reads Ready twice more (lag), so make it read down from the start:
    for (let i = 0; i < 2; i++) await env.cluster.get('titan-05');
    const started = env.clock.now().getTime();
    await run(env, { onReport: (m) => reports.push(m) });
    // down without a break for the node-monitor grace period: off, not a node blinking after an API outage
    expect(reports).toContain('titan-05 has been NotReady for 40s: it was already off');
    expect(env.clock.now().getTime() - started).toBeGreaterThanOrEqual(40_000);
    expect(reports).toContain(
      'sending to titan-05 failed (titan-05 is not Ready); the node was already down: waiting for the node to stop',
    );
    expect(env.cluster.sent.map((s) => s.node)).not.toContain('titan-05');
    expect(env.store.latest?.outage.poweredOff).toEqual(ORDER);
  });

  it('given nodes read NotReady only for a while after an API outage, then each refused request is sent again once the node reads Ready, the last node too', async () => {
    const env = setup('helper-pod');
    env.cluster.blink('titan-03', 4);
    env.cluster.blink('titan-01', 4);
    env.cluster.failSend = (node) =>
      env.cluster.isBlinking(node) ? new Error(`${node} is not Ready: a helper pod cannot run there`) : undefined;
    const reports: string[] = [];
    await run(env, { onReport: (m) => reports.push(m) });
    // each node sent once, in the plan's order: none taken for "already off"
    expect(env.cluster.sent.map((s) => s.node)).toEqual(ORDER);
    for (const node of ['titan-03', 'titan-01']) {
      expect(reports).toContain(
        `sending to ${node} failed (${node} is not Ready: a helper pod cannot run there); NotReady only since moments ago: sending again if it reads Ready within 40s`,
      );
      expect(reports).toContain(`${node} reads Ready: power-off sent`);
    }
    expect(reports.some((r) => r.includes('already off'))).toBe(false);
    expect(env.store.latest?.outage.poweredOff).toEqual(ORDER);
  });

  it('given a node NotReady for ten minutes before its first request, then a refused send counts it off at once', async () => {
    const env = setup();
    env.cluster.turnOff('titan-05');
    env.cluster.failSend = (node) => (node === 'titan-05' ? new Error('titan-05 is not Ready') : undefined);
    for (let i = 0; i < 3; i++) await env.cluster.get('titan-05');
    env.clock.advance(600_000);
    const reports: string[] = [];
    const started = env.clock.now().getTime();
    await run(env, { onReport: (m) => reports.push(m) });
    expect(reports).toContain(
      'sending to titan-05 failed (titan-05 is not Ready); the node was already down: waiting for the node to stop',
    );
    expect(reports.some((r) => r.includes('NotReady only since moments ago'))).toBe(false);
    expect(env.clock.now().getTime() - started).toBeLessThan(40_000);
    expect(env.store.latest?.outage.poweredOff).toEqual(ORDER);
  });

  it('given a crash between the record and the request and nodes NotReady for a moment after the API came back, when rerun, then the recorded node is sent the request once it reads Ready, not taken for off', async () => {
    const store = new CrashingStore();
    const env = setup('helper-pod', store);
    // killed right after titan-03 was recorded, before its request: titan-03 is recorded, never sent
    env.cluster.failSend = (node) => (node === 'titan-03' ? new Error('killed') : undefined);
    await expect(run(env)).rejects.toThrow(/killed/);
    expect(env.store.latest?.outage.poweredOff).toContain('titan-03');
    expect(env.cluster.sent.map((s) => s.node)).not.toContain('titan-03');

    // the rerun, just after an API server outage: titan-03 reads NotReady for a few reads, then Ready again
    env.cluster.blink('titan-03', 3);
    env.cluster.failSend = (node) =>
      env.cluster.isBlinking(node) ? new Error(`${node} is not Ready: a helper pod cannot run there`) : undefined;
    const reports: string[] = [];
    await run(env, { onReport: (m) => reports.push(m) });
    expect(env.cluster.sent.filter((s) => s.node === 'titan-03')).toHaveLength(1);
    expect(reports.some((r) => r.includes('titan-03 went down: the earlier request was delivered'))).toBe(false);
  });

  it('given a first send that fails, then the step fails (the record stays: a superset of the truth)', async () => {
    const env = setup();
    env.cluster.failSend = (node) => (node === 'titan-04' ? new Error('Permission denied (publickey)') : undefined);
    await expect(run(env)).rejects.toThrow(/Permission denied/);
    // the other workers went together with it; no control-plane node is touched after a failed worker
    expect(env.store.latest?.outage.poweredOff).toEqual(ORDER.slice(0, 4));
    expect(env.cluster.sent.map((s) => s.node)).toEqual(ORDER.slice(1, 4));
  });

  it('given the API gone after a control-plane node, then a recorded control-plane node counts as done', async () => {
    const env = setup();
    env.cluster.failSend = (node) => {
      if (node === 'titan-02') env.cluster.apiDown = true; // quorum lost with titan-02's request
      return undefined;
    };
    await run(env);
    expect(env.cluster.sent.map((s) => s.node)).toEqual(ORDER);
  });

  it('given the API gone before the last control-plane request and that request failing, then the step ends without waiting for the node', async () => {
    const env = setup('helper-pod');
    env.cluster.failSend = (node) => {
      if (node === 'titan-02') env.cluster.apiDown = true; // quorum lost with titan-02's request
      return node === 'titan-01' ? new Error('connect ECONNREFUSED 127.0.0.1:6443') : undefined;
    };
    const reports: string[] = [];
    const started = env.clock.now().getTime();
    await run(env, { onReport: (m) => reports.push(m) });
    expect(env.store.latest?.outage.poweredOff).toEqual(ORDER);
    // watched for 40 s (an API server restarting answers again), then left as it is, saying so; not failed
    expect(reports).toContain(
      'the API server has not answered for 40s: titan-01 was not sent the power-off (power it off by hand if it is still on)',
    );
    expect(env.clock.now().getTime() - started).toBeLessThan(120_000);
  });

  it('given the API server restarting when the last control-plane request is refused, then the request is sent again once it answers', async () => {
    const env = setup('helper-pod');
    env.cluster.failSend = (node) => {
      if (node === 'titan-02') env.cluster.apiDownReads = 4; // restarting just after titan-02's request: 4 reads fail
      if (node === 'titan-01' && env.cluster.apiDownReads > 0) return new Error('connect ECONNREFUSED 127.0.0.1:6443');
      return undefined;
    };
    const reports: string[] = [];
    await run(env, { onReport: (m) => reports.push(m) });
    expect(env.cluster.sent.map((s) => s.node)).toEqual(ORDER);
    expect(reports).toContain('titan-01 reads Ready: power-off sent');
  });

  it('given a node that reads Ready again after a refusal but keeps refusing, then the step fails at its deadline instead of retrying forever', async () => {
    const env = setup('helper-pod');
    env.cluster.blink('titan-03', 1);
    env.cluster.failSend = (node) => (node === 'titan-03' ? new Error('ErrImagePull: the helper image') : undefined);
    await expect(run(env)).rejects.toThrow(/ErrImagePull/);
    expect(env.cluster.sent.map((s) => s.node)).not.toContain('titan-03');
  });

  it('given method none, then nothing is sent, a person is asked, and the executor waits for the node to go down', async () => {
    const env = setup('none');
    const reports: string[] = [];
    await run(env, {
      onReport: (m) => {
        reports.push(m);
        const asked = /^Power off (\S+) by hand/.exec(m)?.[1];
        if (asked) env.cluster.turnOff(asked);
      },
    });
    expect(env.cluster.sent).toEqual([]);
    expect(reports.filter((r) => r.includes('by hand'))).toHaveLength(ORDER.length);
    expect(env.store.latest?.outage.poweredOff).toEqual(ORDER);
  });

  it('given an emergency shutdown, then no node is waited for', async () => {
    const env = setup();
    await run(env, { mode: 'emergency-shutdown' });
    expect(env.cluster.sent.map((s) => s.node)).toEqual(ORDER);
    for (const name of ORDER) expect(readsAfterSend(env.cluster, name)).toBe(0);
  });

  it('given a dry run, then every request is sent with dryRun, nothing is recorded and nothing waited for', async () => {
    const env = setup();
    await run(env, { dryRun: true });
    expect(env.cluster.sent.every((s) => s.dryRun && !s.recorded)).toBe(true);
    expect(env.store.latest?.outage.poweredOff).toEqual([]);
  });
});
