import { fluxKey } from '../../core/flux/objects.js';
import type { FluxObject, FluxObjectRef, FluxPort, MutationOptions } from '../../core/ports/index.js';

/**
 * A FluxPort that behaves like the API: patches change state (unless dryRun), a missing object is a 404, and every
 * mutation is logged in order.
 */
export class FakeFlux implements FluxPort {
  readonly mutations: string[] = [];
  readonly objects = new Map<string, FluxObject>();
  sourceReady = false;
  failOnSuspendOf?: string;

  constructor(objects: FluxObject[]) {
    for (const o of objects) this.objects.set(fluxKey(o), structuredClone(o));
  }

  async list(kind: FluxObjectRef['kind']): Promise<FluxObject[]> {
    return [...this.objects.values()].filter((o) => o.kind === kind).map((o) => structuredClone(o));
  }

  async setSuspended(ref: FluxObjectRef, suspended: boolean, options: MutationOptions = {}): Promise<void> {
    const object = this.objects.get(fluxKey(ref));
    if (!object) throw Object.assign(new Error(`${fluxKey(ref)} not found`), { code: 404 });
    if (suspended && this.failOnSuspendOf === fluxKey(ref)) throw new Error(`crash while suspending ${fluxKey(ref)}`);
    if (options.dryRun) return;
    this.mutations.push(`${suspended ? 'suspend' : 'resume'} ${fluxKey(ref)}`);
    object.suspended = suspended;
  }

  async requestReconcile(ref: FluxObjectRef): Promise<void> {
    this.mutations.push(`reconcile ${fluxKey(ref)}`);
  }

  async source() {
    return { ready: this.sourceReady, revision: 'main@sha1:abc' };
  }
}
