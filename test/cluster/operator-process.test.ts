import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../core/kube/client.js';
import { testDatabaseUrl } from '../services.js';
import { kubeconfig } from './kube.js';
import {
  client,
  createNamespace,
  deleteNamespace,
  eventually,
  installCrds,
  loadServicesEnv,
  waitForApi,
} from './operator-kit.js';

/**
 * `mlcycle operator` as a process (bin/mlcycle, from dist/: run `npm run build` first): serves
 * /healthz, /readyz and /metrics, takes the Lease, and on SIGTERM stops, releases the Lease and
 * exits 0.
 */

let c: KubeClient;
let ns: string;
let proc: ChildProcess | undefined;
const PORT = 18_081 + Math.floor(Math.random() * 1000);

beforeAll(async () => {
  loadServicesEnv();
  c = client();
  await waitForApi(c);
  await installCrds(c);
  ns = await createNamespace(c, 'mlcycle-op-proc');
});

afterAll(async () => {
  proc?.kill('SIGKILL');
  if (ns) await deleteNamespace(c, ns);
});

describe('mlcycle operator (process)', () => {
  it('serves health and metrics, leads, and shuts down cleanly on SIGTERM', async () => {
    let stderr = '';
    proc = spawn('bin/mlcycle', ['operator'], {
      env: {
        ...process.env,
        MLCYCLE_KUBECONFIG: kubeconfig,
        MLCYCLE_OPERATOR_NAMESPACE: ns,
        MLCYCLE_WATCH_NAMESPACE: ns,
        MLCYCLE_DATABASE_URL: testDatabaseUrl(),
        MLCYCLE_METRICS_HOST: '127.0.0.1',
        MLCYCLE_METRICS_PORT: String(PORT),
        MLCYCLE_POD_NAME: 'proc-test',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((r) => proc?.on('exit', (code) => r(code)));
    const url = (p: string) => `http://127.0.0.1:${PORT}${p}`;
    await eventually('ready', async () => (await fetch(url('/readyz'))).ok, 30_000, 200);
    expect((await fetch(url('/healthz'))).status).toBe(200);
    const lease = await eventually(
      'lease taken',
      async () => {
        const l = await c.getOrUndefined<{ spec?: { holderIdentity?: string } }>(
          `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/mlcycle-operator`,
        );
        return l?.spec?.holderIdentity === 'proc-test' ? l : undefined;
      },
      30_000,
      200,
    );
    expect(lease.spec?.holderIdentity).toBe('proc-test');
    const metrics = await (await fetch(url('/metrics'))).text();
    expect(metrics).toContain('mlcycle_operator_leader 1');
    expect(metrics).toContain('mlcycle_operator_reconcile_total');

    proc.kill('SIGTERM');
    expect(await exited, stderr.slice(-2000)).toBe(0);
    const after = await c.get<{ spec?: { holderIdentity?: string | null } }>(
      `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/mlcycle-operator`,
    );
    expect(after.spec?.holderIdentity ?? null).toBeNull();
    expect(stderr).toContain('released leadership');
  });
});
