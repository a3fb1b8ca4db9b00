import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { createLogger } from '../../core/log.js';
import { KubeClient, loadKubeConfig } from '../../operator/kube/client.js';
import { kubeconfig } from './kube.js';

/** Shared setup of the operator's cluster tests: a client, the CRDs, throwaway namespaces. */

export const log = createLogger('operator-test', process.env.MLCYCLE_LOG_LEVEL ?? 'warn');

export function client(): KubeClient {
  return new KubeClient(loadKubeConfig(kubeconfig));
}

/** Waits for the API server (the cluster helper may be restarting it). */
export async function waitForApi(c: KubeClient, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await c.get('/version');
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`API server unreachable (kubeconfig ${kubeconfig}): ${String(err)}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/** Server-side applies crds/*.yaml and waits until the three CRDs are Established. */
export async function installCrds(c: KubeClient): Promise<void> {
  const dir = join(process.cwd(), 'crds');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
    const crd = yaml.load(readFileSync(join(dir, f), 'utf8')) as { metadata: { name: string } };
    await c.patch(
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
      crd,
      'apply',
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      const got = await c.get<{ status?: { conditions?: { type: string; status: string }[] } }>(
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
      );
      if (got.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} not Established`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

export async function createNamespace(c: KubeClient, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await c.create('/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'mlcycle.dev/test': 'operator' } },
  });
  return name;
}

export async function deleteNamespace(c: KubeClient, name: string): Promise<void> {
  await c.delete(`/api/v1/namespaces/${name}`);
}

export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms: ${what}${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
