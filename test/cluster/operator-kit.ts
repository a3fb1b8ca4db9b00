import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import yaml from 'js-yaml';
import type { Pool } from '../../core/db/index.js';
import { KubeClient, loadKubeConfig } from '../../core/kube/client.js';
import { createLogger } from '../../core/log.js';
import { OperatorManager } from '../../operator/manager.js';
import type { WorkloadConfig } from '../../operator/workload-config.js';
import { testDatabaseUrl, testS3 } from '../services.js';
import { cacheDir, kubeconfig } from './kube.js';

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

/** Loads hack/services-up's env file (the cluster vitest config has no global setup). */
export function loadServicesEnv(): void {
  const file = `${process.env.MLCYCLE_STATE ?? '/tmp/mlcycle-services'}/services.env`;
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m && process.env[m[1] as string] === undefined) process.env[m[1] as string] = m[2] as string;
  }
}

export const TEST_REPORTER_ROLE = 'mlcycle-drift-reporter-test';

/** The ClusterRole the drift Jobs are bound to (the chart installs it; tests bring their own). */
export async function installReporterRole(c: KubeClient): Promise<void> {
  await c.patch(
    `/apis/rbac.authorization.k8s.io/v1/clusterroles/${TEST_REPORTER_ROLE}`,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: TEST_REPORTER_ROLE },
      rules: [{ apiGroups: ['mlcycle.dev'], resources: ['driftmonitors/status'], verbs: ['get', 'patch'] }],
    },
    'apply',
  );
}

export function workloadConfig(overrides: Partial<WorkloadConfig> = {}): WorkloadConfig {
  return {
    image: process.env.MLCYCLE_IMAGE ?? 'mlcycle:dev',
    imagePullPolicy: 'Never',
    artifactRoot: 's3://mlcycle-optest',
    workloadSecret: 'mlcycle-workload',
    workloadEnv: {},
    driftServiceAccount: 'mlcycle-drift',
    driftReporterClusterRole: TEST_REPORTER_ROLE,
    ...overrides,
  };
}

/** An operator running in this process against the real API server (informers, queues, reconcilers). */
export async function startOperator(opts: {
  client: KubeClient;
  namespace: string;
  pool: Pool;
  config?: Partial<WorkloadConfig>;
  start?: boolean;
}): Promise<OperatorManager> {
  const manager = new OperatorManager({
    client: opts.client,
    config: workloadConfig(opts.config),
    log,
    registry: async () => opts.pool,
    namespace: opts.namespace,
    identity: `test-${randomBytes(2).toString('hex')}`,
    workers: 2,
  });
  if (opts.start !== false) {
    await manager.startInformers();
    manager.startControllers();
  }
  return manager;
}

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the worker (vitest's RPC needs the event loop). */
export function runTool(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, {
      env: { ...process.env, KUBECONFIG: kubeconfig, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    proc.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    proc.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
    proc.stdin.end(opts.input ?? '');
  });
}

export const kubectlBin = process.env.KUBECTL ?? join(cacheDir, 'bin', 'kubectl');
export const helmBin = process.env.HELM ?? join(cacheDir, 'bin', 'helm');
export const kubectlRun = (args: string[], input?: string, timeoutMs?: number) =>
  runTool(kubectlBin, args, { input, timeoutMs });
export const helmRun = (args: string[], timeoutMs?: number) => runTool(helmBin, args, { timeoutMs });

/**
 * Makes the test's PostgreSQL and MinIO (running on this host) reachable from Pods in `ns`
 * through selector-less Services with EndpointSlices at the host's address, and returns the
 * settings Pods should use. The services must listen on a non-loopback address
 * (hack/services-up with MLCYCLE_SERVICES_LISTEN_ALL=1, as hack/cluster-test starts them).
 * The host is the API server's address (single-node local cluster); MLCYCLE_TEST_HOST_IP
 * overrides it (e.g. kind: the docker bridge gateway).
 */
export async function exposeTestServices(c: KubeClient, ns: string): Promise<Record<string, string>> {
  const cluster = c.kc.getCurrentCluster();
  const hostIp = process.env.MLCYCLE_TEST_HOST_IP ?? new URL(cluster?.server ?? 'https://127.0.0.1').hostname;
  const db = new URL(testDatabaseUrl());
  const s3 = testS3();
  const s3Url = new URL(s3.s3Endpoint);
  const targets = { 'test-postgres': Number(db.port || 5432), 'test-minio': Number(s3Url.port || 80) };
  for (const [name, port] of Object.entries(targets)) {
    const reachable = await new Promise<boolean>((resolve) => {
      const sock = connect({ host: hostIp, port, timeout: 3000 }, () => {
        sock.destroy();
        resolve(true);
      });
      sock.on('error', () => resolve(false));
      sock.on('timeout', () => {
        sock.destroy();
        resolve(false);
      });
    });
    if (!reachable) {
      throw new Error(
        `nothing listens on ${hostIp}:${port} (${name}): Pods cannot reach the test services. Start them on all interfaces, as hack/cluster-test does: MLCYCLE_SERVICES_LISTEN_ALL=1 MLCYCLE_STATE=/tmp/mlcycle-services-cluster MLCYCLE_PG_PORT=55433 MLCYCLE_S3_PORT=59010 MLCYCLE_S3_CONSOLE_PORT=59011 hack/services-up, and run the tests with that MLCYCLE_STATE`,
      );
    }
    await c.patch(
      `/api/v1/namespaces/${ns}/services/${name}`,
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace: ns },
        spec: { ports: [{ name: 'tcp', port, targetPort: port, protocol: 'TCP' }] },
      },
      'apply',
    );
    await c.patch(
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${name}-host`,
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${name}-host`,
          namespace: ns,
          labels: {
            'kubernetes.io/service-name': name,
            'endpointslice.kubernetes.io/managed-by': 'mlcycle-tests',
          },
        },
        addressType: 'IPv4',
        endpoints: [{ addresses: [hostIp], conditions: { ready: true } }],
        ports: [{ name: 'tcp', port, protocol: 'TCP' }],
      },
      'apply',
    );
  }
  const inDb = new URL(db.toString());
  inDb.hostname = `test-postgres.${ns}.svc`;
  return {
    MLCYCLE_DATABASE_URL: inDb.toString(),
    MLCYCLE_S3_ENDPOINT: `http://test-minio.${ns}.svc:${targets['test-minio']}`,
    MLCYCLE_S3_ACCESS_KEY: s3.s3AccessKey,
    MLCYCLE_S3_SECRET_KEY: s3.s3SecretKey,
    MLCYCLE_S3_REGION: s3.s3Region,
  };
}
