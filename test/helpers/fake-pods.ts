import type {
  MutationOptions,
  NodePort,
  NodeView,
  PodLike,
  PodPort,
  PodRef,
  PodRequestOutcome,
  StoragePort,
  VolumeView,
} from '../../core/ports/index.js';
import type { FakeClock } from './fakes.js';

/** One request that reached the fake API, with its answer and the fake time (ms since the cluster was made). */
export interface FakeRequest {
  readonly atMs: number;
  readonly verb: 'cordon' | 'uncordon' | 'evict' | 'delete';
  readonly target: string;
  readonly code: number;
  readonly dryRun: boolean;
}

export interface FakePodInit {
  readonly name: string;
  readonly node: string;
  readonly namespace?: string;
  /** Default a ReplicaSet `<app>-rs`; null for a pod with no controller. */
  readonly controller?: { kind: string; name: string } | null;
  /** What PodDisruptionBudgets select on (default: the name without a `-<n>` suffix). */
  readonly app?: string;
  readonly graceSeconds?: number;
  /** Seconds the pod stays after its grace period runs out (a finalizer, a kubelet that is slow to report). */
  readonly lingerSeconds?: number;
  readonly emptyDir?: boolean;
  readonly mirror?: boolean;
  readonly phase?: string;
  /** A StatefulSet pod's replacement lands on the same node (it tolerates the cordon); default elsewhere. */
  readonly replaceOnSameNode?: boolean;
  /**
   * A StatefulSet pod whose first replacement a scheduler with a stale view of the node binds to the same node despite
   * the cordon (it does not tolerate it); the replacement's own replacement goes elsewhere.
   */
  readonly staleScheduler?: boolean;
  /** Its controller's template names the node (`spec.nodeName`): every replacement lands there, cordon or not. */
  readonly pinnedToNode?: boolean;
  /** One of Hecate's helper pods (power-off): labelled as Hecate labels them. */
  readonly helper?: boolean;
}

interface Pod extends FakePodInit {
  readonly namespace: string;
  readonly uid: string;
  readonly app: string;
  readonly controller: { kind: string; name: string } | null;
  phase: string;
  deletedAtMs?: number;
  deletionGraceSeconds?: number;
}

interface Scheduled {
  readonly atMs: number;
  readonly node: string;
  readonly run: () => void;
}

/**
 * A small cluster that answers like the API server, in fake time: evictions are refused with 429 while a
 * PodDisruptionBudget allows no disruption; an accepted eviction or delete sets the deletion timestamp and the pod
 * disappears after its grace period (then GET is a 404); a ReplicaSet replaces its pod at once under a new name on
 * another node, a StatefulSet after removal under the same name with a new uid; a dry run answers the same and
 * changes nothing. `nextChange` moves the clock to the next scheduled change on the node, or by the timeout.
 */
export class FakeCluster {
  readonly requests: FakeRequest[] = [];
  readonly nodes: FakeNodes;
  readonly pods: FakePods;
  readonly startMs: number;
  readonly podMap = new Map<string, Pod>();
  readonly pdbs: { namespace: string; app: string; minAvailable: number }[] = [];
  readonly scheduled: Scheduled[] = [];
  /** Pods (`ns/name`) that vanish just before their eviction reaches the server: the eviction answers 404. */
  readonly vanishBeforeEvict = new Set<string>();
  /** Where replacements go. */
  elsewhere = 'worker-2';
  private counter = 0;

  constructor(readonly clock: FakeClock) {
    this.startMs = clock.now().getTime();
    this.nodes = new FakeNodes(this);
    this.pods = new FakePods(this);
  }

  addPod(init: FakePodInit): Pod {
    const namespace = init.namespace ?? 'apps';
    const app = init.app ?? init.name.replace(/-\d+$/, '');
    const pod: Pod = {
      ...init,
      namespace,
      app,
      uid: `${init.name}-uid-${++this.counter}`,
      controller: init.controller === undefined ? { kind: 'ReplicaSet', name: `${app}-rs` } : init.controller,
      phase: init.phase ?? 'Running',
    };
    this.podMap.set(`${namespace}/${init.name}`, pod);
    return pod;
  }

  addPdb(namespace: string, app: string, minAvailable: number): void {
    this.pdbs.push({ namespace, app, minAvailable });
  }

  /** Fake ms since the cluster was made. */
  elapsed(): number {
    return this.clock.now().getTime() - this.startMs;
  }

  log(verb: FakeRequest['verb'], target: string, code: number, dryRun = false): void {
    this.requests.push({ atMs: this.elapsed(), verb, target, code, dryRun });
  }

  /** Runs what is due by now, in time order. */
  tick(): void {
    const now = this.clock.now().getTime();
    for (;;) {
      this.scheduled.sort((a, b) => a.atMs - b.atMs);
      const next = this.scheduled[0];
      if (!next || next.atMs > now) return;
      this.scheduled.shift();
      next.run();
    }
  }

  /** Whether a PodDisruptionBudget forbids disrupting `pod` now (healthy pods would fall below minAvailable). */
  blockedByPdb(pod: Pod): boolean {
    return this.pdbs.some((pdb) => {
      if (pdb.namespace !== pod.namespace || pdb.app !== pod.app) return false;
      const healthy = [...this.podMap.values()].filter(
        (p) =>
          p.namespace === pod.namespace && p.app === pod.app && p.phase === 'Running' && p.deletedAtMs === undefined,
      );
      return healthy.length - pdb.minAvailable <= 0;
    });
  }

  /** Starts graceful deletion; the pod goes after `graceSeconds` (plus `lingerSeconds`) of fake time (at once for 0). */
  terminate(pod: Pod, graceSeconds: number | undefined): void {
    if (pod.deletedAtMs !== undefined) return;
    const grace = graceSeconds ?? pod.graceSeconds ?? 30;
    pod.deletedAtMs = this.clock.now().getTime();
    pod.deletionGraceSeconds = grace;
    if (pod.controller?.kind === 'ReplicaSet') this.addPod(this.replacement(pod, `${pod.app}-r${this.counter + 1}`));
    const remove = () => this.remove(pod);
    const goneAfterMs = (grace + (pod.lingerSeconds ?? 0)) * 1000;
    if (goneAfterMs === 0) remove();
    else this.scheduled.push({ atMs: pod.deletedAtMs + goneAfterMs, node: pod.node, run: remove });
  }

  private remove(pod: Pod): void {
    const key = `${pod.namespace}/${pod.name}`;
    if (this.podMap.get(key)?.uid !== pod.uid) return;
    this.podMap.delete(key);
    if (pod.controller?.kind === 'StatefulSet') this.addPod(this.replacement(pod, pod.name));
  }

  private replacement(pod: Pod, name: string): FakePodInit {
    const node = pod.replaceOnSameNode || pod.staleScheduler || pod.pinnedToNode ? pod.node : this.elsewhere;
    const { deletedAtMs: _d, deletionGraceSeconds: _g, uid: _u, staleScheduler: _s, ...init } = pod;
    return { ...init, name, node, phase: 'Running' };
  }

  /** The pod as the API returns it. */
  toJson(pod: Pod): PodLike {
    return {
      metadata: {
        namespace: pod.namespace,
        name: pod.name,
        uid: pod.uid,
        ...(pod.mirror ? { annotations: { 'kubernetes.io/config.mirror': 'hash' } } : {}),
        ...(pod.helper
          ? { labels: { 'app.kubernetes.io/managed-by': 'hecate', 'hecate.dev/helper': 'power-off' } }
          : {}),
        ...(pod.controller ? { ownerReferences: [{ ...pod.controller, controller: true }] } : {}),
        ...(pod.deletedAtMs === undefined ? {} : { deletionTimestamp: new Date(pod.deletedAtMs).toISOString() }),
      },
      spec: {
        nodeName: pod.node,
        terminationGracePeriodSeconds: pod.graceSeconds ?? 30,
        ...(pod.emptyDir ? { volumes: [{ emptyDir: {} }] } : {}),
        ...(pod.replaceOnSameNode
          ? { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists' }] }
          : {}),
      },
      status: { phase: pod.phase },
    };
  }
}

export class FakePods implements PodPort {
  /** Every `nextChange` call: from and to, in fake ms since the start. */
  readonly waits: { fromMs: number; toMs: number }[] = [];
  /** Lists that fail before answering (an API server going away). */
  failLists = 0;

  constructor(private readonly cluster: FakeCluster) {}

  async listOnNode(node: string): Promise<PodLike[]> {
    this.cluster.tick();
    if (this.failLists > 0) {
      this.failLists--;
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    }
    return [...this.cluster.podMap.values()].filter((p) => p.node === node).map((p) => this.cluster.toJson(p));
  }

  async get(namespace: string, name: string): Promise<PodLike | undefined> {
    this.cluster.tick();
    const pod = this.cluster.podMap.get(`${namespace}/${name}`);
    return pod && this.cluster.toJson(pod);
  }

  async evict(ref: PodRef, grace: number | undefined, options: MutationOptions = {}): Promise<PodRequestOutcome> {
    this.cluster.tick();
    const key = `${ref.namespace}/${ref.name}`;
    if (this.cluster.vanishBeforeEvict.delete(key)) this.cluster.podMap.delete(key);
    const pod = this.found('evict', ref, options);
    if (pod === undefined) return 'not-found';
    if (pod.deletedAtMs === undefined && this.cluster.blockedByPdb(pod)) {
      this.cluster.log('evict', key, 429, options.dryRun);
      return 'too-many-requests';
    }
    this.cluster.log('evict', key, 201, options.dryRun);
    if (!options.dryRun) this.cluster.terminate(pod, grace);
    return 'accepted';
  }

  async delete(ref: PodRef, grace: number | undefined, options: MutationOptions = {}): Promise<PodRequestOutcome> {
    this.cluster.tick();
    const pod = this.found('delete', ref, options);
    if (pod === undefined) return 'not-found';
    this.cluster.log('delete', `${ref.namespace}/${ref.name}`, 200, options.dryRun);
    if (!options.dryRun) this.cluster.terminate(pod, grace);
    return 'accepted';
  }

  /** Moves the clock to the next scheduled change of a pod on `node` within `timeoutMs`, or by `timeoutMs`. */
  async nextChange(node: string, timeoutMs: number): Promise<void> {
    this.cluster.tick();
    const now = this.cluster.clock.now().getTime();
    const due = this.cluster.scheduled
      .filter((s) => s.node === node && s.atMs <= now + timeoutMs)
      .sort((a, b) => a.atMs - b.atMs)[0];
    this.cluster.clock.advance(due ? due.atMs - now : timeoutMs);
    this.cluster.tick();
    this.waits.push({ fromMs: now - this.cluster.startMs, toMs: this.cluster.elapsed() });
  }

  /** The pod the request names, or undefined after logging a 404; a uid precondition failure throws a 409. */
  private found(verb: 'evict' | 'delete', ref: PodRef, options: MutationOptions): Pod | undefined {
    const key = `${ref.namespace}/${ref.name}`;
    const pod = this.cluster.podMap.get(key);
    if (pod === undefined) {
      this.cluster.log(verb, key, 404, options.dryRun);
      return undefined;
    }
    if (pod.uid !== ref.uid) {
      this.cluster.log(verb, key, 409, options.dryRun);
      throw Object.assign(new Error(`Precondition failed: UID in precondition: ${ref.uid}`), { code: 409 });
    }
    return pod;
  }
}

export class FakeNodes implements NodePort {
  readonly views = new Map<string, NodeView>();

  constructor(private readonly cluster: FakeCluster) {}

  add(name: string, extra: Partial<NodeView> = {}): void {
    this.views.set(name, { name, ready: true, unschedulable: false, ...extra });
  }

  async list(): Promise<NodeView[]> {
    return [...this.views.values()].map((v) => ({ ...v }));
  }

  async get(name: string): Promise<NodeView | undefined> {
    const view = this.views.get(name);
    return view && { ...view };
  }

  async cordon(name: string, owner: string, options: MutationOptions = {}): Promise<void> {
    const view = this.views.get(name);
    this.cluster.log('cordon', name, view ? 200 : 404, options.dryRun);
    if (!view) throw Object.assign(new Error(`nodes "${name}" not found`), { code: 404 });
    if (!options.dryRun) this.views.set(name, { ...view, unschedulable: true, cordonedBy: owner });
  }

  async uncordon(name: string, options: MutationOptions = {}): Promise<void> {
    const view = this.views.get(name);
    this.cluster.log('uncordon', name, view ? 200 : 404, options.dryRun);
    if (!view || options.dryRun) return;
    const { cordonedBy: _c, ...rest } = view;
    this.views.set(name, { ...rest, unschedulable: false });
  }
}

/** Longhorn volumes whose state a test scripts over fake time. */
export class FakeStorage implements StoragePort {
  constructor(
    private readonly clock: FakeClock,
    /** Each volume, and when (fake epoch ms) it detaches; undefined: never. */
    readonly volumes_: { volume: VolumeView; detachAtMs?: number; namespace?: string }[],
  ) {}

  async volumes(namespace: string): Promise<VolumeView[]> {
    const now = this.clock.now().getTime();
    return this.volumes_
      .filter((v) => (v.namespace ?? 'longhorn-system') === namespace)
      .map(({ volume, detachAtMs }) =>
        detachAtMs !== undefined && now >= detachAtMs ? { name: volume.name, state: 'detached' } : { ...volume },
      );
  }
}
