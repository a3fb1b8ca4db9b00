import { hostname } from 'node:os';
import { z } from 'zod';
import { defineCommand } from '../core/command.js';
import { fields, type SettingsValues, setting } from '../core/config.js';
import {
  databaseSettings,
  openDatabase,
  type Pool,
  poolTimeouts,
  poolTls,
  readPem,
} from '../core/db/index.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { KubeClient, loadKubeConfig } from '../core/kube/client.js';
import { createLogger } from '../core/log.js';
import { s3Settings } from '../core/object-store/index.js';
import { startHttp } from './http.js';
import { LeaderElector } from './leader.js';
import { OperatorManager } from './manager.js';
import { createOperatorMetrics } from './metrics.js';
import { perNamespaceCredentials } from './tenant-credentials.js';
import type { WorkloadConfig } from './workload-config.js';

export const operatorSettings = {
  kubeconfig: setting({
    flag: 'kubeconfig',
    env: 'MLCYCLE_KUBECONFIG',
    description:
      'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account)',
    schema: z.string().min(1).optional(),
  }),
  namespace: setting({
    flag: 'namespace',
    env: 'MLCYCLE_OPERATOR_NAMESPACE',
    description: 'namespace of the operator itself (holds the leader Lease)',
    schema: z.string().min(1).default('mlcycle-system'),
  }),
  watchNamespace: setting({
    flag: 'watch-namespace',
    env: 'MLCYCLE_WATCH_NAMESPACE',
    description: 'reconcile only this namespace (default: all namespaces)',
    schema: z.string().min(1).optional(),
  }),
  image: setting({
    flag: 'image',
    env: 'MLCYCLE_IMAGE',
    description: 'mlcycle image run by trainer Jobs, inference servers and drift CronJobs',
    schema: z.string().min(1).default('mlcycle:dev'),
  }),
  imagePullPolicy: setting({
    flag: 'image-pull-policy',
    env: 'MLCYCLE_IMAGE_PULL_POLICY',
    description: 'pull policy of that image: Always, IfNotPresent or Never',
    schema: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
  }),
  artifactRoot: setting({
    flag: 'artifact-root',
    env: 'MLCYCLE_ARTIFACT_ROOT',
    description: 'object-store prefix for artifacts and reports, e.g. s3://mlcycle',
    schema: z
      .string()
      .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]+(\/.*)?$/, 'an s3://bucket[/prefix] URI')
      .default('s3://mlcycle'),
  }),
  workloadSecret: setting({
    flag: 'workload-secret',
    env: 'MLCYCLE_WORKLOAD_SECRET',
    description: 'name of the per-namespace Secret with the workloads database and S3 settings',
    schema: z.string().min(1).default('mlcycle-workload'),
  }),
  driftServiceAccount: setting({
    flag: 'drift-service-account',
    env: 'MLCYCLE_DRIFT_SERVICE_ACCOUNT',
    description: 'per-namespace ServiceAccount of the drift Jobs',
    schema: z.string().min(1).default('mlcycle-drift'),
  }),
  driftReporterRole: setting({
    flag: 'drift-reporter-role',
    env: 'MLCYCLE_DRIFT_REPORTER_ROLE',
    description: 'ClusterRole bound to that ServiceAccount (get + patch driftmonitors/status)',
    schema: z.string().min(1).default('mlcycle-drift-reporter'),
  }),
  ...databaseSettings,
  ...s3Settings,
  tenantDatabase: setting({
    flag: 'tenant-database',
    env: 'MLCYCLE_TENANT_DATABASE',
    description:
      "role: each namespace's workloads get their own PostgreSQL role, limited to the namespace's rows (the operator's user needs CREATEROLE); shared: the operator's own URL",
    schema: z.enum(['role', 'shared']).default('role'),
  }),
  tenantS3: setting({
    flag: 'tenant-s3',
    env: 'MLCYCLE_TENANT_S3',
    description:
      "minio: each namespace's workloads get their own MinIO user, limited to <artifact-root>/namespaces/<ns>/ (the operator's keys must be MinIO admin keys); shared: the operator's own keys (any S3 backend)",
    schema: z.enum(['minio', 'shared']).default('minio'),
  }),
  metricsHost: setting({
    flag: 'metrics-host',
    env: 'MLCYCLE_METRICS_HOST',
    description: 'address of the /metrics, /healthz and /readyz endpoint',
    schema: z.string().min(1).default('0.0.0.0'),
  }),
  metricsPort: setting({
    flag: 'metrics-port',
    env: 'MLCYCLE_METRICS_PORT',
    description: 'port of that endpoint',
    schema: fields.port.default(8081),
  }),
  leaderElect: setting({
    flag: 'leader-elect',
    env: 'MLCYCLE_LEADER_ELECT',
    description: 'take a Lease before reconciling (needed with more than one replica)',
    schema: z.boolean().default(true),
    boolean: true,
  }),
  leaseName: setting({
    flag: 'lease-name',
    env: 'MLCYCLE_LEASE_NAME',
    description: 'name of the leader Lease',
    schema: z.string().min(1).default('mlcycle-operator'),
  }),
  identity: setting({
    flag: 'identity',
    env: 'MLCYCLE_POD_NAME',
    description: 'this replica in the Lease (default: host name)',
    schema: z.string().min(1).optional(),
  }),
  servingNetworkPolicy: setting({
    flag: 'serving-network-policy',
    env: 'MLCYCLE_SERVING_NETWORK_POLICY',
    description:
      'give every ModelDeployment a NetworkPolicy: ingress to its inference Pods only on the serving port, from --serving-from',
    schema: z.boolean().default(false),
    boolean: true,
  }),
  servingFrom: setting({
    flag: 'serving-from',
    env: 'MLCYCLE_SERVING_FROM',
    description:
      'JSON array of NetworkPolicyPeer objects allowed to reach the inference Pods (default: any Pod of the cluster)',
    schema: z
      .string()
      .transform((text, c) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          c.addIssue({ code: 'custom', message: 'expected JSON' });
          return z.NEVER;
        }
      })
      .pipe(
        z.array(
          z.record(z.string(), z.unknown(), {
            message: 'expected a JSON array of NetworkPolicyPeer objects',
          }),
          {
            message: 'expected a JSON array of NetworkPolicyPeer objects',
          },
        ),
      )
      .default([]),
  }),
  workers: setting({
    flag: 'workers',
    env: 'MLCYCLE_WORKERS',
    description: 'concurrent reconciles per kind',
    schema: fields.positiveInt.default(2),
  }),
};

/**
 * The workloads' settings, with the operator's own (admin) credentials: what each namespace's
 * Secret starts from. TLS settings go as they are, the CAs as PEM text: the Pods of every
 * namespace read them from their Secret, with no file of the operator's namespace mounted.
 */
export function workloadEnvFrom(
  v: SettingsValues<typeof operatorSettings> & { databaseUrl: string },
): Record<string, string> {
  const env: Record<string, string> = { MLCYCLE_DATABASE_URL: v.databaseUrl };
  if (v.s3Endpoint) env.MLCYCLE_S3_ENDPOINT = v.s3Endpoint;
  if (v.s3AccessKey) env.MLCYCLE_S3_ACCESS_KEY = v.s3AccessKey;
  if (v.s3SecretKey) env.MLCYCLE_S3_SECRET_KEY = v.s3SecretKey;
  if (v.s3Region) env.MLCYCLE_S3_REGION = v.s3Region;
  if (v.s3Ca) env.MLCYCLE_S3_CA = readPem(v.s3Ca, 'the S3 CA file');
  if (v.dbSslMode) env.MLCYCLE_DB_SSLMODE = v.dbSslMode;
  if (v.dbSslCa) env.MLCYCLE_DB_SSL_CA = readPem(v.dbSslCa, 'the PostgreSQL CA file');
  return env;
}

export const operatorCommand = defineCommand({
  name: 'operator',
  summary: 'run the Kubernetes operator for ModelVersion, ModelDeployment and DriftMonitor',
  description: [
    'Reconciles the mlcycle.dev custom resources: ModelVersion → trainer Job → Registered/Rejected/Failed;',
    'ModelDeployment → inference Deployment + Service; DriftMonitor → drift CronJob, rollback and retraining.',
    'Serves /healthz, /readyz and /metrics. SIGTERM: finish running reconciles, release the Lease, exit.',
    'Keeps the admin database and S3 credentials; each namespace gets its own (a PostgreSQL role, a MinIO user) in a Secret.',
  ].join('\n'),
  settings: operatorSettings,
  run: async (v) => {
    const log = createLogger('operator');
    if (!v.databaseUrl) {
      throw new ConfigError(
        'the operator needs --database-url (MLCYCLE_DATABASE_URL): workloads in Pods share the registry through PostgreSQL',
      );
    }
    const workloadEnv = workloadEnvFrom({ ...v, databaseUrl: v.databaseUrl });
    const config: WorkloadConfig = {
      image: v.image,
      imagePullPolicy: v.imagePullPolicy,
      artifactRoot: v.artifactRoot,
      workloadSecret: v.workloadSecret,
      workloadEnv,
      driftServiceAccount: v.driftServiceAccount,
      driftReporterClusterRole: v.driftReporterRole,
      servingNetworkPolicy: v.servingNetworkPolicy ? { from: v.servingFrom } : undefined,
    };
    let client: KubeClient;
    try {
      client = new KubeClient(loadKubeConfig(v.kubeconfig));
    } catch (err) {
      throw new ConfigError(`cannot load a kubeconfig: ${errorMessage(err)}`);
    }
    let db: Awaited<ReturnType<typeof openDatabase>> | undefined;
    let opening: Promise<Pool> | undefined;
    const registry = () => {
      opening ??= openDatabase({
        databaseUrl: v.databaseUrl,
        dataDir: v.dataDir,
        timeouts: poolTimeouts(v),
        tls: poolTls(v),
      }).then((d) => {
        db = d;
        return d.pool;
      });
      opening.catch(() => {
        opening = undefined; // retried by the next reconcile that needs it
      });
      return opening;
    };
    const credentials = perNamespaceCredentials({
      adminEnv: workloadEnv,
      pool: registry,
      artifactRoot: v.artifactRoot,
      databaseRoles: v.tenantDatabase === 'role',
      minioUsers: v.tenantS3 === 'minio',
    });
    const metrics = createOperatorMetrics();
    const identity = v.identity ?? hostname();
    const manager = new OperatorManager({
      client,
      config,
      log,
      registry,
      credentials,
      namespace: v.watchNamespace,
      identity,
      workers: v.workers,
      metrics,
    });
    let synced = false;
    const http = await startHttp({
      host: v.metricsHost,
      port: v.metricsPort,
      registry: metrics.registry,
      ready: () => synced,
    });
    const stop = new AbortController();
    const onSignal = (sig: string) => {
      log.info({ signal: sig }, 'shutting down');
      stop.abort();
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));

    const lead = async (lost: AbortSignal) => {
      metrics.leader.set(1);
      manager.startControllers();
      await new Promise<void>((resolve) => lost.addEventListener('abort', () => resolve(), { once: true }));
      metrics.leader.set(0);
    };
    let exitCode = 0;
    try {
      await manager.startInformers();
      synced = true;
      log.info({ identity, watchNamespace: v.watchNamespace ?? '(all)' }, 'caches synced');
      if (v.leaderElect) {
        const elector = new LeaderElector(client, {
          namespace: v.namespace,
          name: v.leaseName,
          identity,
          log,
        });
        await elector.run(lead, stop.signal);
        if (!stop.signal.aborted) {
          // Leadership lost without being asked to stop: exit so a fresh process campaigns again.
          log.error('leadership lost; exiting');
          exitCode = 1;
        }
      } else {
        await lead(stop.signal);
      }
    } finally {
      await manager.stop();
      await new Promise<void>((r) => http.close(() => r()));
      await db?.close();
    }
    return exitCode;
  },
});
