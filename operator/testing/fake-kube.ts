import { type KubeApi, KubeApiError, type KubeList, type PatchType } from '../../core/kube/client.js';

/**
 * An in-memory Kubernetes API for unit tests of the reconcilers' decisions (as cert-manager
 * tests `ProcessItem` on a fake clientset). It keeps what the reconcilers rely on: objects by
 * path, resourceVersion on every write and 409 Conflict on a stale one, generation bumped by
 * spec changes only, the status subresource (a status write leaves the spec alone and the
 * other way round), AlreadyExists, generateName, label selectors, merge and apply patches.
 * It is not a kube-apiserver: no admission, no defaults, no garbage collection.
 */

type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: Record<string, unknown> & {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    generateName?: string;
  };
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
};

const PATH = /^(.*\/namespaces\/[^/]+\/[^/]+)(?:\/([^/]+))?(?:\/(status))?$/;

function split(path: string): { collection: string; name?: string; status: boolean } {
  const m = PATH.exec(path);
  if (!m) throw new Error(`fake kube: unsupported path ${path}`);
  return { collection: m[1] as string, name: m[2], status: m[3] === 'status' };
}

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> =
    target && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function matches(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const ne = /^([^!=]+)!=(.*)$/.exec(term);
    if (ne) return labels?.[ne[1] as string] !== ne[2];
    const eq = /^([^=]+)==?(.*)$/.exec(term);
    if (eq) return labels?.[eq[1] as string] === eq[2];
    return labels?.[term] !== undefined;
  });
}

export interface FakeCall {
  verb: 'create' | 'replace' | 'patch' | 'delete';
  path: string;
  body?: unknown;
}

export class FakeKube implements KubeApi {
  private readonly store = new Map<string, Map<string, Obj>>();
  private rv = 100;
  private uid = 0;
  /** Every write, in order: what a test asserts on ("wrote nothing", "never patched the spec"). */
  readonly calls: FakeCall[] = [];
  /** Paths whose next write fails with 409 Conflict, as if somebody wrote in between. */
  readonly conflictOnce = new Set<string>();
  /**
   * Objects the API server refuses as invalid (422), by path (a collection's for a create):
   * every write there fails with this message, as admission or validation would.
   */
  readonly invalid = new Map<string, string>();

  private checkValid(verb: string, path: string): void {
    const message = this.invalid.get(path);
    if (message !== undefined) this.fail(422, 'Invalid', verb, path, message);
  }

  private bucket(collection: string): Map<string, Obj> {
    let b = this.store.get(collection);
    if (!b) {
      b = new Map();
      this.store.set(collection, b);
    }
    return b;
  }

  private fail(status: number, reason: string, verb: string, path: string, message = reason): never {
    throw new KubeApiError(status, reason, message, verb, path);
  }

  private nextRv(): string {
    this.rv += 1;
    return String(this.rv);
  }

  private checkConflict(verb: string, path: string, current: Obj, given: string | undefined): void {
    if (this.conflictOnce.delete(path)) this.fail(409, 'Conflict', verb, path, 'injected conflict');
    if (given !== undefined && given !== current.metadata.resourceVersion) {
      this.fail(409, 'Conflict', verb, path, 'the object has been modified');
    }
  }

  /** Stores an object as-is (test setup), as if it had been created earlier. */
  seed<T>(collection: string, obj: T): T {
    const o = clone(obj) as unknown as Obj;
    const ns = /\/namespaces\/([^/]+)\//.exec(collection)?.[1];
    o.metadata = {
      ...o.metadata,
      namespace: ns,
      uid: (o.metadata.uid as string | undefined) ?? `uid-${++this.uid}`,
      resourceVersion: this.nextRv(),
      generation: o.metadata.generation ?? 1,
      creationTimestamp: (o.metadata.creationTimestamp as string | undefined) ?? '2026-01-01T00:00:00Z',
    };
    this.bucket(collection).set(o.metadata.name, o);
    return clone(o) as unknown as T;
  }

  /** Reads without recording (test assertions). */
  peek<T>(path: string): T | undefined {
    const { collection, name } = split(path);
    return clone(this.bucket(collection).get(name ?? '')) as T | undefined;
  }

  /** Lists without recording (test assertions). */
  peekAll<T>(collection: string): T[] {
    return [...this.bucket(collection).values()].map((o) => clone(o) as unknown as T);
  }

  /** Replaces an object's status as a controller of the cluster would (kubelet, Deployment controller). */
  setStatus(path: string, status: unknown): void {
    const { collection, name } = split(path);
    const o = this.bucket(collection).get(name ?? '');
    if (!o) throw new Error(`fake kube: no object at ${path}`);
    o.status = clone(status);
    o.metadata.resourceVersion = this.nextRv();
  }

  async get<T>(path: string): Promise<T> {
    const { collection, name } = split(path);
    const o = this.bucket(collection).get(name ?? '');
    if (!o) this.fail(404, 'NotFound', 'GET', path);
    return clone(o) as unknown as T;
  }

  async getOrUndefined<T>(path: string): Promise<T | undefined> {
    return this.peek<T>(path);
  }

  async list<T>(path: string, labelSelector?: string): Promise<KubeList<T>> {
    const items = [...this.bucket(path).values()].filter((o) => matches(o.metadata.labels, labelSelector));
    return { metadata: { resourceVersion: String(this.rv) }, items: items.map((o) => clone(o) as T) };
  }

  async create<T>(collectionPath: string, body: unknown): Promise<T> {
    this.calls.push({ verb: 'create', path: collectionPath, body: clone(body) });
    this.checkValid('POST', collectionPath);
    const o = clone(body) as Obj;
    const name = o.metadata.name ?? `${o.metadata.generateName ?? 'obj-'}${(++this.uid).toString(36)}`;
    const b = this.bucket(collectionPath);
    if (b.has(name)) this.fail(409, 'AlreadyExists', 'POST', collectionPath);
    const ns = /\/namespaces\/([^/]+)\//.exec(`${collectionPath}/`)?.[1];
    o.metadata = {
      ...o.metadata,
      name,
      namespace: ns,
      uid: `uid-${++this.uid}`,
      resourceVersion: this.nextRv(),
      generation: 1,
      creationTimestamp: '2026-01-01T00:00:00Z',
    };
    delete o.status; // a create through the main resource ignores the status
    b.set(name, o);
    return clone(o) as unknown as T;
  }

  async replace<T>(path: string, body: unknown): Promise<T> {
    this.calls.push({ verb: 'replace', path, body: clone(body) });
    this.checkValid('PUT', path);
    const { collection, name, status } = split(path);
    const current = this.bucket(collection).get(name ?? '');
    if (!current) this.fail(404, 'NotFound', 'PUT', path);
    const next = clone(body) as Obj;
    this.checkConflict('PUT', path, current, next.metadata?.resourceVersion);
    const updated: Obj = status
      ? { ...current, status: next.status }
      : { ...next, status: current.status, metadata: { ...current.metadata, ...next.metadata } };
    return this.commit(collection, current, updated);
  }

  async patch<T>(path: string, body: unknown, type: PatchType = 'merge'): Promise<T> {
    this.calls.push({ verb: 'patch', path, body: clone(body) });
    this.checkValid('PATCH', path);
    if (type !== 'merge' && type !== 'apply') throw new Error(`fake kube: ${type} patches are not supported`);
    const { collection, name, status } = split(path);
    const current = this.bucket(collection).get(name ?? '');
    const p = clone(body) as Partial<Obj>;
    if (!current) {
      if (type !== 'apply') this.fail(404, 'NotFound', 'PATCH', path);
      return this.create<T>(collection, p);
    }
    this.checkConflict('PATCH', path, current, p.metadata?.resourceVersion as string | undefined);
    if (p.metadata) delete p.metadata.resourceVersion;
    let updated: Obj;
    if (status) {
      updated = { ...current, status: mergePatch(current.status, (p as { status?: unknown }).status) };
    } else if (type === 'apply') {
      // Server-side apply with force, as the operator uses it: the applied fields are ours.
      const { status: _ignored, ...rest } = p as Obj;
      updated = {
        ...current,
        ...rest,
        metadata: mergePatch(current.metadata, rest.metadata ?? {}) as Obj['metadata'],
      };
    } else {
      const { status: _ignored, ...rest } = p as Obj;
      updated = mergePatch(current, rest) as Obj;
      updated.status = current.status;
    }
    return this.commit(collection, current, updated);
  }

  async delete(path: string): Promise<void> {
    this.calls.push({ verb: 'delete', path });
    const { collection, name } = split(path);
    this.bucket(collection).delete(name ?? '');
  }

  private commit<T>(collection: string, current: Obj, updated: Obj): T {
    const specChanged = JSON.stringify(current.spec) !== JSON.stringify(updated.spec);
    updated.metadata = {
      ...updated.metadata,
      name: current.metadata.name,
      namespace: current.metadata.namespace,
      uid: current.metadata.uid,
      generation: (current.metadata.generation ?? 1) + (specChanged ? 1 : 0),
    };
    const unchanged = JSON.stringify(current) === JSON.stringify({ ...updated, metadata: current.metadata });
    updated.metadata.resourceVersion = unchanged ? current.metadata.resourceVersion : this.nextRv();
    this.bucket(collection).set(current.metadata.name, updated);
    return clone(updated) as unknown as T;
  }

  /** Writes other than Events: what a "changes nothing" assertion looks at. */
  writes(): FakeCall[] {
    return this.calls.filter((c) => !c.path.endsWith('/events'));
  }
}
