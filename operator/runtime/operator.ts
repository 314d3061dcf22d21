/**
 * A small controller runtime with the programming model of `@dot-i/k8s-operator` (`init`, `watchResource`,
 * `handleResourceFinalizer`, `patchResourceStatus`) and what that package lacks: list+watch informers with a cache
 * that restart on errors instead of exiting the process, server-side apply of status, finalizers edited with a
 * precondition instead of replacing the whole list. Work queues, leader election and metrics are composed by the
 * subclass and main.ts.
 *
 * Why not the package itself: its last release (1.3.9) pins client-node 0.20 (the deprecated `request` and known
 * advisories), breaks against client-node 1.x, calls process.exit on any watch error (and on stop() under 1.x), and
 * has no list/resync, retry or leader election. A release that supports client-node 1.x would make us reconsider.
 */
import {
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { Logger } from '../../core/ports/index.js';
import { Informer } from './informer.js';

export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  /** Watch one namespace; undefined for all namespaces (or a cluster-scoped resource). */
  namespace?: string | undefined;
}

const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const JSON_PATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

export abstract class Operator {
  private readonly informers: Informer<KubernetesObject>[] = [];
  protected readonly customObjects: CustomObjectsApi;

  constructor(
    protected readonly kubeConfig: KubeConfig,
    protected readonly logger: Logger,
    protected readonly fieldManager: string,
  ) {
    this.customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** Registers watches (`watchResource`) and anything else the operator needs before its caches fill. */
  protected abstract init(): Promise<void>;

  /** Called once every cache has synced. */
  protected onSynced(): void | Promise<void> {}

  /** Runs `init`, starts every watch and resolves once their first lists are in the caches. */
  async start(syncTimeoutMs = 60_000): Promise<void> {
    await this.init();
    await Promise.all(this.informers.map((informer) => informer.start()));
    await Promise.all(this.informers.map((informer) => informer.waitForSync(syncTimeoutMs)));
    await this.onSynced();
  }

  /** Stops every watch; safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all(this.informers.map((informer) => informer.stop()));
  }

  get synced(): boolean {
    return this.informers.every((informer) => informer.hasSynced);
  }

  get informerRestarts(): Record<string, number> {
    return Object.fromEntries(this.informers.map((i) => [i.name, i.restarts]));
  }

  /**
   * Lists and watches a custom resource into a cache; `onChange` sees every add, update and delete (level-based
   * consumers only enqueue a key). Returns the cache.
   */
  protected watchResource<T extends KubernetesObject>(resource: ResourceRef, onChange: (obj: T) => void): Informer<T> {
    const { group, version, plural, namespace } = resource;
    const path = `/apis/${group}/${version}${namespace ? `/namespaces/${namespace}` : ''}/${plural}`;
    const list = async () =>
      (namespace
        ? await this.customObjects.listNamespacedCustomObject({ group, version, plural, namespace })
        : await this.customObjects.listClusterCustomObject({ group, version, plural })) as KubernetesListObject<T>;
    const informer = new Informer<T>(this.kubeConfig, { name: plural, path, list, onChange, logger: this.logger });
    this.informers.push(informer as unknown as Informer<KubernetesObject>);
    return informer;
  }

  /** Server-side apply of `status` on the /status subresource, as this operator's field manager (force). */
  protected async patchResourceStatus(
    resource: ResourceRef,
    meta: { name: string; namespace?: string | undefined },
    apiVersionKind: { apiVersion: string; kind: string },
    status: object,
  ): Promise<void> {
    const { group, version, plural } = resource;
    const body = { ...apiVersionKind, metadata: meta, status };
    const common = { group, version, plural, name: meta.name, body, fieldManager: this.fieldManager, force: true };
    if (meta.namespace) {
      await this.customObjects.patchNamespacedCustomObjectStatus({ ...common, namespace: meta.namespace }, APPLY);
    } else {
      await this.customObjects.patchClusterCustomObjectStatus(common, APPLY);
    }
  }

  /**
   * Adds `finalizer` to a live object, or, once it is being deleted, runs `onDelete` and removes it. Returns true
   * when the object is being deleted (the caller stops there). Both edits are JSON patches with a `test` op, so
   * they never overwrite another owner's finalizers (a 409/422 means the object changed: reconcile again).
   */
  protected async handleResourceFinalizer(
    resource: ResourceRef,
    obj: KubernetesObject,
    finalizer: string,
    onDelete: (obj: KubernetesObject) => Promise<void>,
  ): Promise<boolean> {
    const finalizers = obj.metadata?.finalizers ?? [];
    const index = finalizers.indexOf(finalizer);
    if (!obj.metadata?.deletionTimestamp) {
      if (index >= 0) return false;
      const body = finalizers.length
        ? [
            { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata?.resourceVersion },
            { op: 'add', path: '/metadata/finalizers/-', value: finalizer },
          ]
        : [{ op: 'add', path: '/metadata/finalizers', value: [finalizer] }];
      await this.patchObject(resource, obj, body);
      return false;
    }
    if (index < 0) return true;
    await onDelete(obj);
    await this.patchObject(resource, obj, [
      { op: 'test', path: `/metadata/finalizers/${index}`, value: finalizer },
      { op: 'remove', path: `/metadata/finalizers/${index}` },
    ]);
    return true;
  }

  /** Removes `finalizer` from a live object (a JSON patch with a `test` op, as above); nothing when it is absent. */
  protected async removeResourceFinalizer(
    resource: ResourceRef,
    obj: KubernetesObject,
    finalizer: string,
  ): Promise<void> {
    const index = (obj.metadata?.finalizers ?? []).indexOf(finalizer);
    if (index < 0) return;
    await this.patchObject(resource, obj, [
      { op: 'test', path: `/metadata/finalizers/${index}`, value: finalizer },
      { op: 'remove', path: `/metadata/finalizers/${index}` },
    ]);
  }

  /** The object as the API holds it now (finalizers are edited on the live object, not on a cache entry). */
  protected async getResource<T extends KubernetesObject>(resource: ResourceRef, obj: KubernetesObject): Promise<T> {
    const { group, version, plural } = resource;
    const name = obj.metadata?.name ?? '';
    const namespace = obj.metadata?.namespace;
    return (
      namespace
        ? await this.customObjects.getNamespacedCustomObject({ group, version, plural, namespace, name })
        : await this.customObjects.getClusterCustomObject({ group, version, plural, name })
    ) as T;
  }

  private async patchObject(resource: ResourceRef, obj: KubernetesObject, body: object[]): Promise<void> {
    const { group, version, plural } = resource;
    const name = obj.metadata?.name ?? '';
    const namespace = obj.metadata?.namespace;
    if (namespace) {
      await this.customObjects.patchNamespacedCustomObject(
        { group, version, plural, namespace, name, body, fieldManager: this.fieldManager },
        JSON_PATCH,
      );
    } else {
      await this.customObjects.patchClusterCustomObject(
        { group, version, plural, name, body, fieldManager: this.fieldManager },
        JSON_PATCH,
      );
    }
  }
}
