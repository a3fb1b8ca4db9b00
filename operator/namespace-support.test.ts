import { describe, expect, it } from 'vitest';
import { kubePaths } from '../core/kube/paths.js';
import { NamespaceSupport } from './context.js';
import type { TenantCredentials } from './tenant-credentials.js';
import { type FakeWorld, fakeWorld, NS, seedMd, seedMv } from './testing/fake-context.js';

/** Credentials as the operator computes them per namespace (a role and a user each). */
const perNamespace: TenantCredentials = {
  env: async (ns) => ({ MLCYCLE_DATABASE_URL: `postgres://mlcycle-ns-${ns}@db/mlcycle` }),
};

const secret = (w: FakeWorld) =>
  w.kube.peek<{
    metadata: { ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[] };
    stringData?: Record<string, string>;
  }>(kubePaths.secret(NS, w.ctx.config.workloadSecret));

describe('NamespaceSupport', () => {
  it('writes the namespace’s own credentials, owned by every resource that needs them', async () => {
    const w = fakeWorld();
    const support = new NamespaceSupport(perNamespace);
    const mv = seedMv(w, 'v1');
    const md = seedMd(w, { modelVersion: 'v1' });
    await support.ensure(w.ctx, NS, mv);
    await support.ensure(w.ctx, NS, md);
    expect(secret(w)?.stringData).toEqual({ MLCYCLE_DATABASE_URL: `postgres://mlcycle-ns-${NS}@db/mlcycle` });
    // Not a controller reference: the Secret goes with the last mlcycle resource of the namespace.
    expect(secret(w)?.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.controller])).toEqual([
      ['ModelVersion', 'v1', undefined],
      ['ModelDeployment', 'md', undefined],
    ]);
    const sa = w.kube.peek<{ metadata: { ownerReferences?: unknown[] } }>(
      kubePaths.serviceAccount(NS, w.ctx.config.driftServiceAccount),
    );
    expect(sa?.metadata.ownerReferences).toHaveLength(2);
  });
});
