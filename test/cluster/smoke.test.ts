import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyAsync,
  getJsonAsync,
  kubeconfig,
  kubectlAsync,
  kubectlPath,
  portForward,
  waitFor,
} from './kube.js';

/**
 * Smoke test of the local Kubernetes (hack/cluster-up): the API machinery the operator
 * relies on, the mlcycle image, Services, DNS, CronJobs, and the host's PostgreSQL and
 * MinIO (hack/services-up with MLCYCLE_SERVICES_LISTEN_ALL=1) seen from a pod.
 * Run: npm run test:cluster (vitest run --config test/cluster/vitest.config.ts).
 */

const NS = 'mlcycle-smoke';
const IMAGE = process.env.MLCYCLE_IMAGE ?? 'mlcycle:dev';
const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
const CRD = 'widgets.smoke.mlcycle.dev';

const podSecurity = {
  runAsNonRoot: true,
  runAsUser: 10001,
  runAsGroup: 10001,
  seccompProfile: { type: 'RuntimeDefault' },
};
const containerSecurity = {
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
};

function container(
  name: string,
  args: { command?: string[]; args?: string[]; env?: object[]; ports?: object[] },
) {
  return { name, image: IMAGE, imagePullPolicy: 'Never', securityContext: containerSecurity, ...args };
}

function job(name: string, c: ReturnType<typeof container>) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: NS },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: 600,
      template: { spec: { restartPolicy: 'Never', securityContext: podSecurity, containers: [c] } },
    },
  };
}

/** Waits for a Job to finish; returns its pod's logs, or throws with them if it failed. */
async function jobLogs(name: string, timeoutMs = 120_000): Promise<string> {
  const outcome = await waitFor(
    `job ${name}`,
    async () => {
      const j = await getJsonAsync<{ status?: { conditions?: { type: string; status: string }[] } }>([
        '-n',
        NS,
        'job',
        name,
      ]);
      const c = j.status?.conditions?.find(
        (x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True',
      );
      return c?.type;
    },
    timeoutMs,
  );
  const logs = await kubectlAsync(['-n', NS, 'logs', `job/${name}`], { allowFail: true });
  if (outcome !== 'Complete') {
    const pods = (
      await kubectlAsync(['-n', NS, 'describe', 'pods', '-l', `job-name=${name}`], {
        allowFail: true,
      })
    ).stdout;
    throw new Error(`job ${name} failed:\n${logs.stdout}${logs.stderr}\n${pods}`);
  }
  return logs.stdout;
}

function servicesEnv(): Record<string, string> {
  const file = `${process.env.MLCYCLE_STATE ?? '/tmp/mlcycle-services'}/services.env`;
  const env: Record<string, string> = {};
  if (!existsSync(file)) return env;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return env;
}

describe('local Kubernetes cluster', () => {
  beforeAll(async () => {
    const ready = await kubectlAsync(['get', '--raw', '/readyz'], { allowFail: true });
    if (ready.status !== 0) {
      throw new Error(
        `no cluster at ${kubeconfig} (kubectl ${kubectlPath}): run hack/cluster-up first\n${ready.stderr}`,
      );
    }
    await kubectlAsync(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true'], {
      timeoutMs: 180_000,
    });
    await kubectlAsync(['delete', 'crd', CRD, '--ignore-not-found']);
    await applyAsync({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await waitFor(
      'default service account',
      async () => (await kubectlAsync(['-n', NS, 'get', 'sa', 'default'], { allowFail: true })).status === 0,
      60_000,
    );
    // Started first: the CronJob controller fires at the next full minute.
    await applyAsync({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'tick', namespace: NS },
      spec: {
        schedule: '* * * * *',
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 3,
        jobTemplate: {
          spec: {
            backoffLimit: 0,
            template: {
              spec: {
                restartPolicy: 'Never',
                securityContext: podSecurity,
                containers: [container('tick', { args: ['--version'] })],
              },
            },
          },
        },
      },
    });
  });

  afterAll(async () => {
    if (process.env.MLCYCLE_CLUSTER_SMOKE_KEEP) return;
    await kubectlAsync(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false'], {
      allowFail: true,
    });
    await kubectlAsync(['delete', 'crd', CRD, '--ignore-not-found', '--wait=false'], { allowFail: true });
  });

  it('serves a CustomResourceDefinition with a status subresource and validation', async () => {
    await applyAsync({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: CRD },
      spec: {
        group: 'smoke.mlcycle.dev',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [
          {
            name: 'v1alpha1',
            served: true,
            storage: true,
            subresources: { status: {} },
            additionalPrinterColumns: [{ name: 'Phase', type: 'string', jsonPath: '.status.phase' }],
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: {
                    type: 'object',
                    required: ['size'],
                    properties: { size: { type: 'integer', minimum: 1 } },
                    'x-kubernetes-validations': [
                      { rule: 'self.size <= 10', message: 'size must be at most 10' },
                    ],
                  },
                  status: {
                    type: 'object',
                    properties: { phase: { type: 'string' }, observedGeneration: { type: 'integer' } },
                  },
                },
              },
            },
          },
        ],
      },
    });
    await kubectlAsync(['wait', '--for=condition=Established', `crd/${CRD}`, '--timeout=60s']);
    await waitFor(
      'widgets discoverable',
      async () => (await kubectlAsync(['-n', NS, 'get', 'widgets'], { allowFail: true })).status === 0,
      30_000,
    );

    await applyAsync({
      apiVersion: 'smoke.mlcycle.dev/v1alpha1',
      kind: 'Widget',
      metadata: { name: 'w', namespace: NS },
      spec: { size: 2 },
    });
    await kubectlAsync([
      '-n',
      NS,
      'patch',
      'widget',
      'w',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { phase: 'Ready', observedGeneration: 1 } }),
    ]);
    // A write to the main resource ignores status; a write to /status ignores spec.
    await kubectlAsync([
      '-n',
      NS,
      'patch',
      'widget',
      'w',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { size: 3 }, status: { phase: 'Hacked' } }),
    ]);
    const w = await getJsonAsync<{
      metadata: { generation: number };
      spec: { size: number };
      status: { phase: string };
    }>(['-n', NS, 'widget', 'w']);
    expect(w.status.phase).toBe('Ready');
    expect(w.spec.size).toBe(3);
    expect(w.metadata.generation).toBe(2);
    expect((await kubectlAsync(['-n', NS, 'get', 'widget', 'w'])).stdout).toMatch(/w\s+Ready/);

    const bad = await kubectlAsync(['apply', '-f', '-'], {
      allowFail: true,
      input: JSON.stringify({
        apiVersion: 'smoke.mlcycle.dev/v1alpha1',
        kind: 'Widget',
        metadata: { name: 'big', namespace: NS },
        spec: { size: 11 },
      }),
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('size must be at most 10');
  });

  it('runs the mlcycle image as a Job to completion (read-only root, non-root)', async () => {
    await applyAsync(job('version', container('mlcycle', { args: ['--version'] })));
    expect((await jobLogs('version')).trim()).toBe(VERSION);
  });

  it('serves a Deployment through a Service: port-forward, cluster DNS and ClusterIP', async () => {
    const server =
      "require('node:http').createServer((q, s) => s.end('hello from ' + require('node:os').hostname())).listen(8080)";
    await applyAsync(
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: NS },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              securityContext: podSecurity,
              containers: [
                {
                  ...container('web', { command: ['node', '-e', server], ports: [{ containerPort: 8080 }] }),
                  readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: NS },
        spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
      },
    );
    await kubectlAsync(['-n', NS, 'rollout', 'status', 'deployment/web', '--timeout=120s'], {
      timeoutMs: 130_000,
    });

    const { port, proc } = await portForward(NS, 'service/web', 80);
    try {
      const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      expect(body).toMatch(/^hello from web-/);
    } finally {
      proc.kill();
    }

    // From another pod: the Service name through CoreDNS, the ClusterIP through kube-proxy.
    // kube-proxy programs the ClusterIP a moment after the endpoints turn ready (eventually
    // consistent by design; seconds on a loaded machine), so the client retries for up to 60 s
    // as any in-cluster client would, and prints each failed attempt.
    const client = `
      const url = 'http://web.${NS}.svc.cluster.local/';
      const deadline = Date.now() + 60000;
      const attempt = () => fetch(url).then(r => r.text()).then(t => console.log(t), err => {
        console.error('attempt failed: ' + (err.cause?.code ?? err.message));
        if (Date.now() > deadline) process.exit(1);
        setTimeout(attempt, 1000);
      });
      attempt();`;
    await applyAsync(job('dns', container('client', { command: ['node', '-e', client] })));
    expect(await jobLogs('dns')).toMatch(/^hello from web-/m);
  });

  it('reaches PostgreSQL and MinIO on the host through their Services', async () => {
    const env = servicesEnv();
    const dbUrl = env.MLCYCLE_TEST_DATABASE_URL;
    if (!dbUrl || !env.MLCYCLE_TEST_S3_ACCESS_KEY) {
      throw new Error(
        'no services env file: run MLCYCLE_SERVICES_LISTEN_ALL=1 hack/services-up before this test',
      );
    }
    // Same credentials, in-cluster addresses.
    const url = new URL(dbUrl);
    url.host = 'postgres.mlcycle-system.svc:5432';
    const script = `
      const pg = require('pg');
      const Minio = require('minio');
      (async () => {
        const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
        await c.connect();
        const r = await c.query('select current_user as u, version() as v');
        await c.end();
        const s3 = new Minio.Client({ endPoint: 'minio.mlcycle-system.svc', port: 9000, useSSL: false,
          accessKey: process.env.S3_ACCESS_KEY, secretKey: process.env.S3_SECRET_KEY, region: process.env.S3_REGION || 'us-east-1' });
        const bucket = 'mlcycle-cluster-smoke';
        if (!(await s3.bucketExists(bucket))) await s3.makeBucket(bucket);
        await s3.putObject(bucket, 'hello.txt', Buffer.from('hi from a pod'));
        const obj = await s3.getObject(bucket, 'hello.txt');
        let text = ''; for await (const ch of obj) text += ch;
        await s3.removeObject(bucket, 'hello.txt');
        console.log(JSON.stringify({ pgUser: r.rows[0].u, pgVersion: r.rows[0].v, s3: text }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    await applyAsync(
      job(
        'services',
        container('client', {
          command: ['node', '-e', script],
          env: [
            { name: 'DATABASE_URL', value: url.toString() },
            { name: 'S3_ACCESS_KEY', value: env.MLCYCLE_TEST_S3_ACCESS_KEY },
            { name: 'S3_SECRET_KEY', value: env.MLCYCLE_TEST_S3_SECRET_KEY ?? '' },
            { name: 'S3_REGION', value: env.MLCYCLE_TEST_S3_REGION ?? 'us-east-1' },
          ],
        }),
      ),
    );
    const out = JSON.parse((await jobLogs('services')).trim()) as {
      pgUser: string;
      pgVersion: string;
      s3: string;
    };
    expect(out.pgUser).toBe(url.username);
    expect(out.pgVersion).toMatch(/^PostgreSQL /);
    expect(out.s3).toBe('hi from a pod');
  });

  it('runs a CronJob that produces a completed Job', async () => {
    const name = await waitFor(
      'a Job owned by CronJob tick',
      async () => {
        const jobs = await getJsonAsync<{
          items: { metadata: { name: string; ownerReferences?: { kind: string; name: string }[] } }[];
        }>(['-n', NS, 'jobs']);
        return jobs.items.find((j) =>
          j.metadata.ownerReferences?.some((o) => o.kind === 'CronJob' && o.name === 'tick'),
        )?.metadata.name;
      },
      100_000,
      2000,
    );
    expect((await jobLogs(name)).trim()).toBe(VERSION);
  });
});
