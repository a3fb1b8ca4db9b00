/**
 * How fast the operator turns a ModelVersion into its trainer Job, on the real cluster:
 * one at a time (latency from the create call to the Job being seen by a watch), then a
 * burst of N at once (throughput). The operator runs in this process; the Jobs use an image
 * that is never pulled, so nothing trains. Needs hack/cluster-up; reads KUBECONFIG, else the
 * kubeconfig in the cluster's state directory (MLCYCLE_STATE_CLUSTER, hack/cluster-up's default).
 *
 *   npm run build && node dist/bench/operator-apply-to-job.js [N]
 */
import { randomBytes } from 'node:crypto';
import { KubeClient, loadKubeConfig } from '../core/kube/client.js';
import { createLogger } from '../core/log.js';
import { API_VERSION, ModelVersionKind, resourcePath } from '../core/resources/index.js';
import { OperatorManager } from '../operator/manager.js';

const N = Number(process.argv[2] ?? 30);
const kubeconfig =
  process.env.KUBECONFIG ?? `${process.env.MLCYCLE_STATE_CLUSTER ?? '/tmp/mlcycle-cluster'}/kubeconfig`;
const log = createLogger('bench', 'warn');

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const c = new KubeClient(loadKubeConfig(kubeconfig));
  const ns = `mlcycle-bench-${randomBytes(3).toString('hex')}`;
  await c.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const manager = new OperatorManager({
    client: c,
    config: {
      image: 'mlcycle:never-pulled',
      imagePullPolicy: 'Never',
      artifactRoot: 's3://bench',
      workloadSecret: 'mlcycle-workload',
      workloadEnv: { MLCYCLE_DATABASE_URL: 'postgres://unused@localhost/unused' },
      driftServiceAccount: 'mlcycle-drift',
      driftReporterClusterRole: 'mlcycle-drift-reporter-bench',
    },
    log,
    registry: () => Promise.reject(new Error('not used')),
    namespace: ns,
    identity: 'bench',
    workers: 2,
  });
  const seen = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  manager.informers.jobs.onChange((type, job) => {
    const mv = job.metadata?.labels?.['mlcycle.dev/model-version'];
    if (type === 'added' && mv && !seen.has(mv)) {
      seen.set(mv, performance.now());
      waiters.get(mv)?.();
    }
  });
  await manager.startInformers();
  manager.startControllers();
  const create = (name: string) =>
    c.create(resourcePath(ModelVersionKind, ns), {
      apiVersion: API_VERSION,
      kind: 'ModelVersion',
      metadata: { name },
      spec: { model: 'bench', version: name, dataset: { uri: 'builtin:flights' } },
    });
  const jobSeen = (name: string) =>
    new Promise<void>((resolve) => {
      if (seen.has(name)) resolve();
      else waiters.set(name, resolve);
    });
  try {
    const latencies: number[] = [];
    for (let i = 0; i < N; i++) {
      const name = `one-${i}`;
      const t0 = performance.now();
      const done = jobSeen(name);
      await create(name);
      await done;
      latencies.push((seen.get(name) ?? Number.NaN) - t0);
    }
    const t0 = performance.now();
    const names = Array.from({ length: N }, (_, i) => `burst-${i}`);
    const all = Promise.all(names.map(jobSeen));
    await Promise.all(names.map(create));
    await all;
    const burstMs = performance.now() - t0;
    const rss = process.memoryUsage().rss / 1024 / 1024;
    process.stdout.write(
      [
        `ModelVersion create → trainer Job seen by a watch, one at a time (n=${N}):`,
        `  p50 ${pct(latencies, 50).toFixed(0)} ms, p95 ${pct(latencies, 95).toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms`,
        `burst of ${N} created at once: all Jobs in ${burstMs.toFixed(0)} ms (${((N / burstMs) * 1000).toFixed(1)} versions/s)`,
        `operator process RSS after ${2 * N} versions: ${rss.toFixed(0)} MiB`,
        '',
      ].join('\n'),
    );
  } finally {
    await manager.stop();
    await c.delete(`/api/v1/namespaces/${ns}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
